"""Two people in view, on real footage: the Pose2Sim demo's front video gets a second person (the
subject's own pixels, 15 % larger, pasted to their right, as a bystander only the front camera
sees). The bigger bystander would win a "largest person" rule in the front view alone; matched
across views with the calibration, the subject is followed, and the result matches the clip
without the bystander."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from worker.pipeline import PipelineRequest, run_pipeline
from worker.pipeline.stages.decode import decode_video
from worker.pipeline.stages.detect import detect_view

pytestmark = pytest.mark.slow

SHIFT_PX = 460.0  # to the right, full-resolution px
ZOOM = 1.15


@pytest.fixture(scope="module")
def front_source(shared_data):
    """The demo's front video decoded at full resolution, with the subject's masks (decoded and
    segmented once for the module: ~6 s)."""
    video = decode_video(shared_data / "video" / "pose2sim-demo-single" / "cam01.mp4", max_side=None)
    return video, detect_view(video).masks


def _with_bystander(source, dest, lag: int = 0) -> None:
    """``source`` (video, masks) written to ``dest`` with the subject's pixels ``lag`` frames later
    (wrapping round) pasted beside them."""
    video, masks = source
    n = len(video.frames)
    with av.open(str(dest), "w") as c:
        s = c.add_stream("libx264", rate=60)
        s.width, s.height, s.pix_fmt = video.info.width, video.info.height, "yuv420p"
        s.options = {"crf": "18", "preset": "veryfast"}
        for i, frame in enumerate(video.frames):
            source_frame, mask = video.frames[(i + lag) % n], masks[(i + lag) % n]
            ys, xs = np.nonzero(mask > 127)
            cx, bottom = (xs.min() + xs.max()) / 2, ys.max()
            m = np.array([[ZOOM, 0, (1 - ZOOM) * cx + SHIFT_PX], [0, ZOOM, (1 - ZOOM) * bottom]])
            size = (frame.shape[1], frame.shape[0])
            moved = cv2.warpAffine(source_frame, m, size)
            moved_mask = cv2.warpAffine(mask, m, size) > 127
            out = np.where(moved_mask[..., None], moved, frame)
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(out), format="rgb24")))
        c.mux(s.encode(None))


@pytest.fixture(scope="module")
def front_with_bystander(front_source, tmp_path_factory):
    """The front video with an in-step bystander (written once for the module's tests)."""
    path = tmp_path_factory.mktemp("bystander") / "front.mp4"
    _with_bystander(front_source, path)
    return path


def _angles(path):
    lines = path.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip() == "endheader")
    return lines[i + 1].split("\t"), np.loadtxt(lines[i + 2:])


def test_the_subject_is_followed_when_a_bystander_is_in_the_front_view(shared_data, front_with_bystander, tmp_path):
    demo = shared_data / "video" / "pose2sim-demo-single"
    common = {"calibration": demo / "calibration.toml", "front_camera": "cam01", "side_camera": "cam04",
              "overlay": False}
    two = run_pipeline(PipelineRequest(front_with_bystander, demo / "cam04.mp4", tmp_path / "two", **common))
    one = run_pipeline(PipelineRequest(demo / "cam01.mp4", demo / "cam04.mp4", tmp_path / "one", **common))
    subject = two.summary["subject"]
    assert subject["people"] == {"front": 2, "side": 1}, subject
    assert subject["matched_by"] == "calibration" and subject["chosen"]["side"] == 0
    assert any("2 people in the front view" in w for w in two.summary["warnings"])
    assert one.summary["subject"]["people"] == {"front": 1, "side": 1}
    # the same person: the same body size and the same joint angles as without the bystander
    assert abs(two.summary["model_height_m"] - one.summary["model_height_m"]) < 0.03
    names, a = _angles(tmp_path / "two" / "kinematics.mot")
    _, b = _angles(tmp_path / "one" / "kinematics.mot")
    knees = [names.index(n) for n in ("knee_angle_r", "knee_angle_l", "hip_flexion_r", "hip_flexion_l")]
    assert np.abs(a[:, knees] - b[:, knees]).mean() < 3.0


def test_a_point_on_the_bystander_is_refused_when_it_matches_nobody_in_the_side_view(shared_data, front_with_bystander,
                                                                                     tmp_path):
    from worker.pipeline.contract import PipelineError

    demo = shared_data / "video" / "pose2sim-demo-single"
    with pytest.raises(PipelineError) as err:
        run_pipeline(PipelineRequest(front_with_bystander, demo / "cam04.mp4", tmp_path / "out",
                                     demo / "calibration.toml", "cam01", "cam04", overlay=False,
                                     subject=f"{404 + SHIFT_PX:.0f},900"))
    assert err.value.code == "subject_ambiguous"


def test_without_a_calibration_the_person_moving_like_the_side_view_is_followed(shared_data, front_source, tmp_path):
    """No calibration: the front view gets a bystander moving out of step with the subject (their pixels
    50 frames, 0.83 s, later, pasted to the right); the side view shows the subject alone. Both
    detection children survey their people's motion, and the subject is matched across the views by
    it (the bystander, half cut off by the frame's edge, is followed in about half the samples: not
    comparable, so no evidence either way)."""
    from worker.pipeline.people.subject import choose_subject
    from worker.pipeline.stages.decode import open_video
    from worker.pipeline.stages.detect import track_views

    demo = shared_data / "video" / "pose2sim-demo-single"
    _with_bystander(front_source, tmp_path / "front.mp4", lag=50)
    videos = (open_video(tmp_path / "front.mp4"), open_video(demo / "cam04.mp4"))
    seen = {}

    def choose(surveys):
        seen["surveys"] = surveys
        return choose_subject(surveys, None)

    _, choice = track_views(videos, 64, processes=2, choose=choose, motion_survey=True)
    front = seen["surveys"][0].people
    assert len(front) == 2 and all(p.motion is not None for p in front)  # both children surveyed motion
    centres = [(p.box[0] + p.box[2]) / 2 for p in front]
    subject = int(np.argmin(centres))  # the bystander was pasted to the subject's right
    assert choice.summary["matched_by"] == "motion", choice.summary
    assert choice.summary["motion_similarity"][subject][0] > 0.5
    assert np.array_equal(choice.boxes[0], front[subject].box) and choice.boxes[1] is not None
    print("motion similarity (front people × side person):", choice.summary["motion_similarity"])

"""The streamed decode → detect path: same frames, same detections and the same network inputs as
decoding everything first, with memory per frame independent of the frame size."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.geometry.cameras import load_calibration_toml
from model_store.keypoints.crops import crop_box, crop_image, network_crop, to_crop
from model_store.keypoints.detections import load_clip_detections
from model_store.network.model import prepare_masks
from tests.service.videos import write_video
from worker.pipeline.detectors.tracking import TrackSink
from worker.pipeline.stages.decode import decode_video, nearest_frames, open_video
from worker.pipeline.stages.detect import detect_view, track_from_detections, track_views
from worker.pipeline.stages.infer import build_inputs
from worker.pipeline.stages.synchronise import synchronise


def _reference_picks(times: np.ndarray, fps: float) -> np.ndarray:
    """Nearest source frame per target instant, whole-array version (ties to the earlier frame)."""
    src = times - times[0]
    targets = np.arange(int(np.floor(src[-1] * fps + 1e-6)) + 1) / fps
    pick = np.clip(np.searchsorted(src, targets), 0, len(src) - 1)
    left = np.clip(pick - 1, 0, len(src) - 1)
    return np.where(np.abs(src[left] - targets) <= np.abs(src[pick] - targets), left, pick)


@pytest.mark.parametrize("seed", range(5))
def test_streamed_resampling_picks_the_nearest_frame_like_the_whole_array_rule(seed):
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(0.004, 0.08, 200)) + rng.uniform(0, 3)  # variable rate, late start
    streamed = list(nearest_frames(((t, i) for i, t in enumerate(times)), 60.0))
    assert [k for k, _, _ in streamed] == list(range(len(streamed)))
    assert np.array_equal([src for _, src, _ in streamed], _reference_picks(times, 60.0))
    assert all(src == item for _, src, item in streamed)


def test_open_video_counts_frames_from_packets_and_streams_them(tmp_path):
    path = write_video(tmp_path / "a.mp4", seconds=1.0, fps=30, size=(160, 96))
    video = open_video(path, max_side=80)
    assert video.n_frames == 59 and video.size == (80, 48) and video.scale == pytest.approx(2.0)
    frames = list(video.frames())
    assert [k for k, _ in frames] == list(range(59)) and frames[0][1].shape == (48, 80, 3)
    whole = decode_video(path, max_side=80)
    assert np.array_equal(whole.frames, np.stack([f for _, f in frames]))


def test_network_crop_matches_the_training_resize():
    rng = np.random.default_rng(0)
    mask = np.zeros((480, 270), np.uint8)
    mask[60:400, 100:180] = rng.integers(1, 255, (340, 80))
    box, crop = network_crop(mask, 64)
    import torch

    ref = prepare_masks(torch.from_numpy(crop_image(mask, crop_box(mask))), 64).numpy()
    assert np.array_equal(box, crop_box(mask)) and crop.dtype == np.float32
    np.testing.assert_allclose(crop, ref, atol=1e-6)
    assert network_crop(np.zeros((10, 10), np.uint8), 64) == (None, None)


def test_track_keeps_crops_not_frames():
    sink = TrackSink(64, 60.0, (1920, 1080))
    mask = np.zeros((1080, 1920), np.uint8)
    mask[200:900, 800:1100] = 255
    for i in range(10):
        sink.add(mask if i % 3 else None, np.ones((33, 3), np.float32) if i % 3 else None)
    track = sink.result()
    per_frame = sum(a.nbytes for a in (track.keypoints, track.person_found, track.boxes, track.crop_masks)) / 10
    assert per_frame < 20_000  # a 1080p mask alone would be 2 MB
    assert np.array_equal(track.has_crop, np.arange(10) % 3 != 0)
    assert np.isnan(track.boxes[0]).all() and not track.crop_masks[0].any()


def test_vectorised_inputs_equal_per_frame_crops(synthetic_clip):
    cams = load_calibration_toml(synthetic_clip / "calibration.toml")
    front, side = load_clip_detections(synthetic_clip / "detections")
    tracks = [track_from_detections(d, 64) for d in (front, side)]
    inputs = build_inputs((tracks[0], tracks[1]), (cams["front"], cams["side"]))
    for v, (det, cam) in enumerate(((front, cams["front"]), (side, cams["side"]))):
        for i in (0, det.n_frames // 2, det.n_frames - 1):
            box = crop_box(det.masks[i])
            np.testing.assert_allclose(inputs.crops[i, v], box, rtol=1e-6)
            expect = to_crop(cam.undistort_points(det.keypoints[i, :, :2]), box)
            np.testing.assert_allclose(inputs.keypoints[i, v, :, :2], expect, rtol=1e-5, atol=1e-3)
            _, crop = network_crop(det.masks[i], 64)
            assert np.array_equal(inputs.masks(np.array([i]))[0, v], crop)


@pytest.mark.slow
def test_streamed_two_process_detection_equals_decoding_everything_first(shared_data):
    """The real demo pair: the streamed path (both views at once in two processes) gives exactly
    the frames, keypoints, crop boxes and crop masks of decode-all-then-detect, and the same sync."""
    demo = shared_data / "video" / "pose2sim-demo-single"
    paths = (demo / "cam01.mp4", demo / "cam04.mp4")
    streamed, choice = track_views((open_video(paths[0]), open_video(paths[1])), 64, processes=2)
    assert choice.boxes == (None, None)  # one person: the detector's own choice, as before
    reference = [track_from_detections(detect_view(decode_video(p)), 64) for p in paths]
    for got, ref in zip(streamed, reference, strict=True):
        track = got.track
        assert track.n_frames == ref.n_frames == 100 and track.person_found.all()
        assert np.array_equal(track.keypoints, ref.keypoints)
        assert np.array_equal(track.boxes, ref.boxes)
        assert np.array_equal(track.crop_masks, ref.crop_masks)
        assert 0 < got.decode_s < got.wall_s
    cams = load_calibration_toml(demo / "calibration.toml")
    pair = (cams["cam01"], cams["cam04"])
    assert synchronise(streamed[0].track, streamed[1].track, None, pair) == synchronise(*reference, None, pair)


def _track_in_daemon(path: str, out) -> None:  # runs in a daemonic process, as in Celery's pool
    video = open_video(path)
    tracked, _ = track_views((video, video), 32, processes=2)
    out.put([t.track.n_frames for t in tracked])


def test_two_process_detection_works_inside_a_daemonic_process(tmp_path):
    """Celery's prefork pool runs tasks in daemonic processes, which may not start multiprocessing
    children: the detection subprocesses must start there all the same."""
    import multiprocessing as mp

    path = write_video(tmp_path / "a.mp4", seconds=0.5, fps=30, size=(96, 64))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_track_in_daemon, args=(str(path), out), daemon=True)
    proc.start()
    counts = out.get(timeout=120)
    proc.join(timeout=30)
    assert counts == [29, 29] and proc.exitcode == 0


def test_a_detection_subprocess_input_error_is_the_pipelines_error(tmp_path):
    from worker.pipeline.contract import PipelineError

    path = write_video(tmp_path / "a.mp4", seconds=0.5, fps=30, size=(96, 64))
    video = open_video(path)
    path.write_bytes(b"gone")  # the file changes under the worker: the child reports it, no hang
    with pytest.raises(PipelineError) as err:
        track_views((video, video), 32, processes=2)
    assert err.value.code in ("video_undecodable", "video_empty")


@pytest.mark.slow
def test_the_motion_survey_follows_the_person_and_both_views_move_alike(shared_data):
    """The motion survey (asked for on uncalibrated clips with several people in view) follows the
    demo's one person through every sample of the 1.7 s clip, and their signals in cam01 and cam04
    correlate as one body's should (worker.pipeline.people.motion_match); one person in each view needs no
    motion survey, so track_views asks for none."""
    from worker.pipeline.detectors.survey import survey_motion, survey_view
    from worker.pipeline.detectors.tracking import make_detector
    from worker.pipeline.people import motion_match
    from worker.pipeline.people.subject import SubjectChoice

    demo = shared_data / "video" / "pose2sim-demo-single"
    detector = make_detector()
    try:
        surveys = []
        for name in ("cam01.mp4", "cam04.mp4"):
            video = open_video(demo / name)
            surveys.append(survey_motion(video, detector, survey_view(video, detector)))
    finally:
        detector.close()
    series = [s.people[0].motion for s in surveys]
    assert all(s is not None and s.shape == (31, 33, 3) for s in series)
    # 100 frames at 60 fps: samples 0..24 exist, and the person is found in all of them
    assert all(np.isfinite(s[:25, 0, 0]).all() and np.isnan(s[25:, 0, 0]).all() for s in series)
    sig = [motion_match.signals(s) for s in series]
    assert motion_match.similarity(sig[0], sig[1], motion_match.lag_range(surveys[0].frame, surveys[1].frame, 0)) > 0.7
    seen = {}

    def choose(pair):
        seen["surveys"] = pair
        return SubjectChoice((None, None))

    track_views((open_video(demo / "cam01.mp4"), open_video(demo / "cam04.mp4")), 64, processes=2, choose=choose,
                motion_survey=True)
    assert all(p.motion is None for s in seen["surveys"] for p in s.people)

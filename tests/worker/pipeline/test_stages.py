"""Pipeline stages on small generated inputs."""

from __future__ import annotations

import av
import numpy as np
import pytest

from model_store.geometry.cameras import load_calibration_toml
from model_store.keypoints.detections import ViewDetections, load_clip_detections
from tests.service.videos import write_video
from worker.pipeline.contract import PipelineError
from worker.pipeline.geometry.rig import select_cameras
from worker.pipeline.run import apply_offset
from worker.pipeline.stages.assemble import clip_to_ranges, fill_gaps, model_height
from worker.pipeline.stages.decode import decode_video
from worker.pipeline.stages.infer import window_starts
from worker.pipeline.stages.probe import probe_video
from worker.pipeline.stages.synchronise import synchronise


def _vfr_video(path, times_s):
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=1000)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.codec_context.time_base = __import__("fractions").Fraction(1, 1000)
        for i, t in enumerate(times_s):
            img = np.full((32, 32, 3), (i * 20) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = int(round(t * 1000))
            frame.time_base = __import__("fractions").Fraction(1, 1000)
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


def test_decode_resamples_constant_rate_to_60fps(tmp_path):
    v = decode_video(write_video(tmp_path / "a.mp4", seconds=1.0, fps=30))
    assert v.info.fps == pytest.approx(30.0) and v.info.n_frames == 30
    assert v.frames.shape[0] == 59  # 0 … 0.9667 s at 60 fps
    assert np.all(np.diff(v.source_index) >= 0) and v.source_index[-1] == 29


def test_decode_handles_variable_frame_rate(tmp_path):
    times = [0.0, 0.02, 0.1, 0.11, 0.3, 0.5]
    v = decode_video(_vfr_video(tmp_path / "vfr.mp4", times))
    assert v.frames.shape[0] == 31  # 0.5 s at 60 fps
    # the frame shown at 0.2 s is the one captured at 0.1–0.11 s or 0.3 s (nearest in time)
    assert v.source_index[12] in (3, 4)


@pytest.mark.parametrize(("content", "code"), [(b"", "video_empty"), (b"hello" * 100, "video_undecodable")])
def test_probe_refuses_bad_files(tmp_path, content, code):
    p = tmp_path / "x.mp4"
    p.write_bytes(content)
    with pytest.raises(PipelineError) as err:
        probe_video(p)
    assert err.value.code == code


def test_probe_refuses_long_videos(tmp_path):
    with pytest.raises(PipelineError) as err:
        probe_video(write_video(tmp_path / "long.mp4", seconds=3.0), max_seconds=2.0)
    assert err.value.code == "video_too_long"


def test_geometric_sync_recovers_a_shift(synthetic_clip):
    front, side = load_clip_detections(synthetic_clip / "detections")
    cams = load_calibration_toml(synthetic_clip / "calibration.toml")
    k = 7  # side starts 7 frames later: front f ↔ side f − 7
    shifted = ViewDetections(side.masks[k:], side.keypoints[k:], side.person_found[k:], side.fps, side.image_size)
    res = synchronise(front, shifted, cams=(cams["front"], cams["side"]))
    assert res.offset_frames == -k and res.confidence > 0.5
    assert synchronise(front, shifted, offset_frames=3).offset_frames == 3
    f, s, f0 = apply_offset(front, shifted, -k)
    assert f.n_frames == s.n_frames and f0 == k


def test_camera_selection_errors(synthetic_clip):
    calib = synthetic_clip / "calibration.toml"
    cams = load_calibration_toml(calib)
    fs, ss = cams["front"].image_size, cams["side"].image_size
    rig = select_cameras(calib, None, None, fs, ss)
    assert rig.source == "calibration" and rig.front.name == "front"
    with pytest.raises(PipelineError) as err:
        select_cameras(calib, "front", "side", (fs[0] * 2, fs[1] * 2), ss)
    assert err.value.code == "calibration_invalid"
    with pytest.raises(PipelineError) as err:
        select_cameras(calib, "front", "nope", fs, ss)
    assert err.value.code == "camera_not_found" and "front, side" in err.value.message
    default = select_cameras(None, None, None, (1920, 1080), (1920, 1080))
    assert default.source == "default" and default.warnings


def test_windows_cover_every_frame_with_overlap():
    for n, w in ((10, 32), (32, 32), (100, 32), (33, 32)):
        starts = window_starts(n, w)
        covered = np.zeros(n, int)
        for s in starts:
            covered[s : s + w] += 1
        assert covered.min() >= 1 and starts[-1] + min(w, n) == n


def test_fill_gaps_interpolates_short_and_holds_long():
    x = np.linspace(0, 1, 100)[:, None].repeat(2, 1)
    x[10:15] = np.nan
    x[40:90] = np.nan
    y, interp, held = fill_gaps(x, max_gap=10)
    assert interp == 5 and held == 50
    np.testing.assert_allclose(y[12], x[9] + 3 * (x[15] - x[9]) / 6)
    np.testing.assert_allclose(y[60], x[39])
    clipped, n = clip_to_ranges(np.full((2, 36), 3.0))
    assert n > 0 and clipped[0, 0] == 3.0  # the pelvis's global orientation stays free
    assert 1.6 < model_height(np.ones((22, 3))) < 1.85


def test_frames_without_the_person_do_not_poison_their_window(synthetic_clip, use_tiny_checkpoint):
    """A window mixing frames with and without the person: every frame with the person still gets a
    finite answer (empty crops used to give non-finite geometry that the temporal layers spread)."""
    from model_store.network.predictor import Predictor
    from worker.pipeline.stages.detect import track_from_detections
    from worker.pipeline.stages.infer import build_inputs, run_windows

    cams = load_calibration_toml(synthetic_clip / "calibration.toml")
    front, side = load_clip_detections(synthetic_clip / "detections")
    gone = np.zeros(front.n_frames, bool)
    gone[5:12] = True  # the person leaves the side view for a moment
    side = ViewDetections(np.where(gone[:, None, None], 0, side.masks).astype(np.uint8), side.keypoints,
                          side.person_found & ~gone, side.fps, side.image_size)
    predictor = Predictor(use_tiny_checkpoint)
    size = predictor.config.input_size
    inputs = build_inputs((track_from_detections(front, size), track_from_detections(side, size)),
                          (cams["front"], cams["side"]))
    assert np.array_equal(inputs.valid, ~gone)
    result = run_windows(inputs, predictor)
    assert np.isfinite(result.angles[~gone]).all() and np.isnan(result.angles[gone]).all()
    assert np.isfinite(result.scales).all()


def test_probe_refuses_a_video_mostly_made_of_gaps(tmp_path):
    """30 fps for 2 s, 10 s with no frame, 30 fps for 2 s: more than half the timeline is empty."""
    times = [i / 30 for i in range(60)] + [12 + i / 30 for i in range(60)]
    with pytest.raises(PipelineError) as err:
        probe_video(_vfr_video(tmp_path / "gap.mp4", times))
    assert err.value.code == "video_sparse"
    assert "30 per second" in err.value.message and "10.0 s" in err.value.message


def test_probe_accepts_a_variable_frame_rate_and_short_gaps(tmp_path):
    """Phone-style timing (intervals of 1/60 and 1/30 s, and a dropped second) is not sparse."""
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.choice([1 / 60, 1 / 30], size=300))
    times[150:] += 1.0  # one second without frames
    info = probe_video(_vfr_video(tmp_path / "vfr.mp4", list(times)))
    assert info.fill_ratio > 0.5 and info.n_frames == 300  # above 1 when many intervals are shorter than the median


def test_motion_sync_of_clips_shorter_than_the_lag_range_is_no_shape_error(synthetic_clip):
    """Issue 42 item 4: 100 frames re-timed to 1000 fps are 6 frames at the pipeline rate; every lag
    of ±30 frames then runs past a clip's end, which used to raise a broadcast error (``internal``)."""
    from worker.pipeline.stages.synchronise import estimate_offset

    front, side = load_clip_detections(synthetic_clip / "detections")
    for n_front, n_side in ((6, 6), (6, 40), (40, 3), (1, 1), (0, 5)):
        res = estimate_offset(front.take(slice(0, n_front)), side.take(slice(0, n_side)))
        assert res.estimated and -30 <= res.offset_frames <= 30


def test_a_numerical_failure_in_a_stage_is_a_stable_code(synthetic_clip):
    """Issue 42 item 3: a LinAlgError (SVD did not converge) in triangulation ends the job with
    ``geometry_degenerate``, not ``internal``."""
    from dataclasses import replace

    from worker.pipeline.run import _Stages

    front, side = load_clip_detections(synthetic_clip / "detections")
    cams = load_calibration_toml(synthetic_clip / "calibration.toml")
    broken = replace(cams["front"], R=np.full((3, 3), np.nan))  # what a Rodrigues vector of 1e200 gave
    with pytest.raises(PipelineError) as err, _Stages(None).stage("synchronise"):
        synchronise(front, side, cams=(broken, cams["side"]))
    assert err.value.code == "geometry_degenerate" and "synchronise" in err.value.message


@pytest.mark.parametrize(
    ("times", "code"),
    [
        ([i / 1000 for i in range(100)], "video_frame_rate_too_high"),  # issue 42 item 4: 100 frames in 0.1 s
        ([i / 300 for i in range(300)], "video_frame_rate_too_high"),  # 300 fps for 1 s: over MAX_VIDEO_FPS
        ([i / 120 for i in range(48)], "video_too_short"),  # 48 frames at 120 fps: 0.4 s
    ],
)
def test_probe_refuses_too_fast_and_too_brief_videos(tmp_path, times, code):
    with pytest.raises(PipelineError) as err:
        probe_video(_vfr_video(tmp_path / "v.mp4", times))
    assert err.value.code == code
    assert probe_video(_vfr_video(tmp_path / "ok.mp4", [i / 240 for i in range(240)])).n_frames == 240


def test_probe_refuses_a_resolution_over_the_limit_from_the_header(tmp_path):
    """Issue 42 item 6: the size comes from the stream's header, before a frame is decoded."""
    path = write_video(tmp_path / "wide.mp4", 1.0, size=(160, 64))
    with pytest.raises(PipelineError) as err:
        probe_video(path, max_side=128)
    assert err.value.code == "video_resolution" and "160×64" in err.value.message
    assert probe_video(path, max_side=160).width == 160
    assert probe_video(path, max_side=None).width == 160


def test_a_job_on_a_clip_too_short_at_the_pipeline_rate_is_video_too_short(tmp_path):
    """The pipeline's own check (the CLI has no upload check): 0.1 s is 6 frames at 60 fps."""
    from worker.pipeline.contract import PipelineRequest
    from worker.pipeline.run import run_pipeline

    clip = _vfr_video(tmp_path / "fast.mp4", [i / 1000 for i in range(100)])
    with pytest.raises(PipelineError) as err:
        run_pipeline(PipelineRequest(front_video=clip, side_video=clip, out_dir=tmp_path / "out"))
    assert err.value.code == "video_too_short" and "0.10 s" in err.value.message

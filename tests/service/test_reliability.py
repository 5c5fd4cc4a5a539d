"""The reliability suite: every hostile case of :mod:`tests.service.reliability` against the real stack
(uvicorn with the request-head deadline, Celery worker, watchdog, a private Redis; free ports; the
stand-in pipeline), checking for each: the status and error code, the final job state of an accepted
upload, nothing left on disk or in Redis, and ``/healthz``; then that the worker still serves. The
reliability table in docs/testing.md is generated from the same cases (tests/service/test_reliability_table.py)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, assume, event, given, settings

from tests.generated.calibrations import calibration_text
from tests.generated.videos import video_spec
from tests.service import reliability
from tests.service.conftest import KEY_A, KEY_B, STAND_IN_WORKER, make_stack
from tests.service.videos import write_video
from worker.jobs import PREFIX

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def suite_stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("reliability") / "data"  # its parent shows files written beside it
    data_dir.mkdir()
    with make_stack(data_dir, dict(reliability.SUITE_ENV), worker_app=STAND_IN_WORKER) as s:
        yield s


def _write_timed(path: Path, rate: int, pts: list[int]) -> Path:
    """A 64 × 64 MPEG-4 video with frames at the given presentation times (units of 1/rate s)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=rate)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for i, t in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), (37 * i) % 256, np.uint8), format="rgb24")
            frame.pts = t
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


def _write_big(path: Path, side: int) -> Path:
    """Two black H.264 frames of side × side px (an 8192 × 8192 file is about 16 KB)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = side, side, "yuv420p"
        frame = av.VideoFrame(side, side, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for _ in range(2):
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


def _write_audio(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=44100)
        samples = (np.sin(np.arange(44100) / 20.0) * 0.2).astype(np.float32)[None, :]
        for start in range(0, 44100, 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate = 44100
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    import cv2

    d = tmp_path_factory.mktemp("media")
    png = d / "picture.png"
    cv2.imwrite(str(png), np.full((64, 64, 3), 128, np.uint8))
    return {
        "a": write_video(d / "a.mp4", 1.0), "b": write_video(d / "b.mp4", 1.0),
        "long": write_video(d / "long.mp4", 4.0), "short": write_video(d / "short.mp4", 0.5),
        "toolong": write_video(d / "toolong.mp4", 21.0, fps=10),
        "wide": write_video(d / "wide.mp4", 1.0, size=(128, 64)),
        "stills": _write_timed(d / "stills.mp4", 1, [0, 4, 8]),
        "gap": _write_timed(d / "gap.mp4", 30, [*range(60), *range(360, 420)]),
        "audio": _write_audio(d / "audio.mp4"), "png": png,
        "huge": _write_big(d / "huge.mp4", 8192),
        "retimed": _write_timed(d / "retimed.mp4", 1000, list(range(100))),  # 100 frames in 0.1 s
        "fast": _write_timed(d / "fast.mp4", 300, list(range(300))),  # 300 fps for 1 s
        "brief": _write_timed(d / "brief.mp4", 120, list(range(48))),  # 0.4 s at 120 fps
        "fps240": _write_timed(d / "fps240.mp4", 240, list(range(240))),  # 240 fps for 1 s: at the limit
    }


@pytest.fixture(scope="module")
def ctx(suite_stack, media) -> reliability.Ctx:
    return reliability.Ctx(base_url=suite_stack.base_url, port=suite_stack.port, key=KEY_A, other_key=KEY_B,
                           media=media, stack=suite_stack)


def _snapshot(stack) -> tuple[set[str], set[str]]:
    """Job folders on disk, and job records + owner-list members in Redis."""
    jobs = stack.data_dir / "jobs"
    folders = {p.name for p in jobs.iterdir()} if jobs.is_dir() else set()
    r = redis.Redis(port=stack.redis_port, db=13)
    records = {k.decode() for k in r.keys(f"{PREFIX}:job:*")}
    for owner in r.keys(f"{PREFIX}:owner:*"):
        records |= {f"{owner.decode()}/{m.decode()}" for m in r.zrange(owner, 0, -1)}
    return folders, records


def _outside_data_dir(stack) -> set[str]:
    return {p.name for p in stack.data_dir.parent.iterdir()}


@pytest.mark.parametrize("case", reliability.CASES, ids=[c.id for c in reliability.CASES])
def test_case(case: reliability.Case, ctx: reliability.Ctx, suite_stack):
    before, outside = _snapshot(suite_stack), _outside_data_dir(suite_stack)
    got = case.act(ctx)
    assert (got.status, got.code) == (case.status, case.code), got
    if got.job_id is not None:
        if case.job is not None and got.job_status is None:
            job = ctx.wait(got.job_id)
            got.job_status, got.job_code = job["status"], (job.get("error") or {}).get("code")
        assert (got.job_status, got.job_code) == (case.job, case.job_code), got
        r = ctx.http.delete(f"/jobs/{got.job_id}")  # a finished job is deleted with its files
        assert r.status_code == 204, r.text
    assert _snapshot(suite_stack) == before, f"left behind after {case.id} ({got.note})"
    assert _outside_data_dir(suite_stack) == outside  # nothing written beside DATA_DIR (file names with ../)
    assert ctx.http.get("/healthz").status_code == 200


def test_the_worker_still_serves_after_the_suite(ctx, suite_stack):
    assert ctx.http.get("/readyz").json()["status"] == "ready"
    job_id = ctx.finished_job()
    assert ctx.http.get(f"/jobs/{job_id}").json()["status"] == "succeeded"
    ctx.http.delete(f"/jobs/{job_id}")
    log = (suite_stack.data_dir / "api.log").read_text()
    assert "Traceback" not in log and "unhandled error" not in log  # no case reached the 500 handler




# ---- generated inputs through the API (issue 42): never 500, never `internal`, nothing left behind ----------------

def _generated_upload(ctx: reliability.Ctx, stack, files: dict[str, tuple[str, bytes]], data: dict[str, str]) -> str:
    before, outside = _snapshot(stack), _outside_data_dir(stack)
    r = ctx.post(files, data)
    body = r.json()
    assert r.status_code < 500 and (body.get("error") or {}).get("code") != "internal", (r.status_code, body)
    outcome = f"{r.status_code} {(body.get('error') or {}).get('code')}"
    if r.status_code == 202:
        job = ctx.wait(body["id"])
        assert (job.get("error") or {}).get("code") != "internal", job
        outcome = f"202 {job['status']}"
        assert ctx.http.delete(f"/jobs/{body['id']}").status_code == 204
    assert _snapshot(stack) == before and _outside_data_dir(stack) == outside
    return outcome


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(text=calibration_text())
def test_generated_calibrations_through_the_api(ctx, suite_stack, text):
    files = {**ctx.videos(), "calibration": ("calibration.toml", text.encode())}
    event(_generated_upload(ctx, suite_stack, files, {}))


@settings(max_examples=20, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(spec=video_spec())
def test_generated_videos_through_the_api(ctx, suite_stack, tmp_path, spec):
    path = spec.write(tmp_path / "generated")
    assume(path is not None)
    assert path is not None
    files = {"front": (path.name, path.read_bytes()), "side": (path.name, path.read_bytes())}
    event(_generated_upload(ctx, suite_stack, files, {}))

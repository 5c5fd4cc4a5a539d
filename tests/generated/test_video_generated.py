"""Generated small videos through the upload probe and the decode stage, in-process (issue 42): the
probe answers a :class:`VideoInfo` with sane numbers or a :class:`PipelineError` with an upload code,
never anything else; what it accepts the decode stage reads. 200 videos, derandomized. The API
counterpart is in ``tests/service/test_reliability.py``."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings

from tests.generated.videos import VideoSpec, video_spec
from worker.errors import UPLOAD, error_code
from worker.pipeline.contract import PipelineError
from worker.pipeline.stages.decode import decode_video
from worker.pipeline.stages.probe import VideoInfo, probe_video

pytestmark = pytest.mark.slow

N_EXAMPLES = 200


def check(path: Path) -> VideoInfo | None:
    try:
        info = probe_video(path, max_seconds=20.0)
    except PipelineError as exc:
        assert UPLOAD in error_code(exc.code).where, exc
        event(f"refused {exc.code}")
        return None
    event("accepted")
    assert info.n_frames >= 30 and 0.5 <= info.duration_s <= 20.0 and math.isfinite(info.fps)
    assert 5.0 <= info.fps <= 240 * 1.01 and info.width > 0 and info.height > 0
    try:
        video = decode_video(path, max_side=None, max_seconds=20.0)
    except PipelineError as exc:  # a file the probe passed may still fail to decode later on: with a code
        assert exc.code in ("video_undecodable", "video_empty"), exc
        return info
    assert video.frames.shape[1:3] == (info.height, info.width) and len(video.frames) >= 1
    return info


@settings(max_examples=N_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(video_spec())
def test_generated_videos_are_probed_or_refused_with_a_code(spec: VideoSpec):
    with tempfile.TemporaryDirectory() as d:
        path = spec.write(Path(d) / "v")
        assume(path is not None)
        assert path is not None
        check(path)

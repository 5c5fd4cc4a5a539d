"""The job's typed parameters: what the API stores, the task reads back as a pipeline request."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from worker.params import JobForm, JobParams


def test_a_stored_record_becomes_the_pipeline_request(tmp_path: Path):
    form = JobForm(front_camera="cam01", side_camera="cam04", offset_frames="null", height_m="1.8", mass_kg="",
                   refine="none", overlay="false", subject="540,900")
    stored = {"front_file": "front.mp4", "side_file": "side.mov", "calibration": True, **form.model_dump()}
    req = JobParams.model_validate(stored).request(tmp_path)
    assert req.front_video == tmp_path / "input" / "front.mp4" and req.side_video == tmp_path / "input" / "side.mov"
    assert req.calibration == tmp_path / "input" / "calibration.toml" and req.out_dir == tmp_path / "output"
    assert (req.front_camera, req.side_camera, req.offset_frames, req.height_m, req.mass_kg) == \
        ("cam01", "cam04", None, 1.8, None)
    assert (req.refine, req.overlay, req.subject) == ("none", False, "540,900")
    # an older record without the newer fields still reads, with the defaults
    old = JobParams.model_validate({"front_file": "a.mp4", "side_file": "b.mp4"}).request(tmp_path)
    assert old.calibration is None and old.refine == "fit" and old.overlay and old.subject is None


@pytest.mark.parametrize("bad", [{"height_m": 3.0}, {"refine": "magic"}, {"subject": "x,y"}, {"offset_frames": 601},
                                 {"mass_kg": float("inf")}, {"colour": "red"}])
def test_the_form_refuses_what_the_api_refuses(bad):
    with pytest.raises(ValidationError):
        JobForm(**bad)

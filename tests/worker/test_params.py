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


@pytest.mark.parametrize("bad", [{"offset_frames": "5_0"}, {"offset_frames": "0x10"}, {"offset_frames": "٣"},
                                 {"height_m": "1_8"}, {"mass_kg": "7_0"}, {"height_m": "nan"},
                                 {"subject": "1e308,1e308"}, {"subject": "5_0,30"}, {"subject": "16385,3"},
                                 {"subject": "1e2,3"}])
def test_numbers_sent_as_text_must_be_plain_numbers(bad):
    """Issue 42 item 7: Python's int()/float() accept underscores, hex-looking and other-script digits
    are refused by the plain-number rule too; a subject point is plain decimals within 0–16384."""
    with pytest.raises(ValidationError):
        JobForm(**bad)


def test_plain_numbers_as_text_are_read():
    form = JobForm(offset_frames=" -12 ", height_m="1.75", mass_kg="7e1", subject="540.5, 900")
    assert (form.offset_frames, form.height_m, form.mass_kg) == (-12, 1.75, 70.0)


def test_a_subject_point_off_the_front_video_is_refused():
    from worker.pipeline.contract import PipelineError
    from worker.pipeline.people.subject_hint import check_point_in_frame, parse_subject

    check_point_in_frame(parse_subject("64,64"), 64, 64)
    check_point_in_frame(parse_subject("center"), 64, 64)
    with pytest.raises(PipelineError, match="outside the front video's 64×48 px frame") as err:
        check_point_in_frame(parse_subject("10,50"), 64, 48)
    assert err.value.code == "invalid_request"


def test_metrics_needs_the_metrics_key_only_when_one_is_set():
    """Issue 42 item 7, decided: /metrics is open (aggregates only) unless METRICS_KEY is set."""
    from fastapi.testclient import TestClient

    from app.api.deps import store_dep
    from app.main import app
    from worker.jobs import JobStore
    from worker.settings import Settings, get_settings

    nowhere = Settings(redis_url="redis://127.0.0.1:1/0")  # no Redis: the metrics say kinematics_redis_up 0
    for key, headers, status in [("", {}, 200), ("s3cret", {}, 401), ("s3cret", {"Authorization": "Bearer nope"}, 401),
                                 ("s3cret", {"Authorization": "Bearer s3cret"}, 200)]:
        app.dependency_overrides[get_settings] = lambda key=key: Settings(metrics_key=key,
                                                                          redis_url="redis://127.0.0.1:1/0")
        app.dependency_overrides[store_dep] = lambda: JobStore(nowhere)
        try:
            r = TestClient(app).get("/metrics", headers=headers)
        finally:
            app.dependency_overrides.clear()
        assert r.status_code == status, (key, headers, r.text)
        if status == 401:
            assert r.json()["error"]["code"] == "unauthorized"

"""Configuration values outside their fixed sets are refused with a message naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.settings import Settings


@pytest.mark.parametrize(("env", "field"), [
    ({"ENVIRONMENT": "prod"}, "environment"),
    ({"JOB_QUEUE": "tpu"}, "job_queue"),
    ({"ENVIRONMENT": "production", "OPEN_MODE": "true"}, "OPEN_MODE"),
    ({"DETECT_PROCESSES": "3"}, "detect_processes"),
    ({"UPLOAD_DEADLINE_S": "3000"}, "UPLOAD_GRACE_S must exceed UPLOAD_DEADLINE_S"),  # cleanup could meet an upload
    ({"UPLOAD_IDLE_TIMEOUT_S": "60", "UPLOAD_DEADLINE_S": "30"}, "UPLOAD_DEADLINE_S"),
    ({"HEADER_TIMEOUT_S": "0"}, "header_timeout_s"),
])
def test_bad_values_are_refused(monkeypatch, env, field):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_production_without_open_mode_is_fine(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert Settings().environment == "production" and not Settings().open_mode


def test_pipeline_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KINEMATICS_CHECKPOINT", str(tmp_path / "ck.json"))
    monkeypatch.setenv("KINEMATICS_YOLO_WEIGHTS", "")  # docker-compose passes unset names as ""
    monkeypatch.setenv("DETECT_PROCESSES", "1")
    s = Settings()
    assert s.kinematics_checkpoint == tmp_path / "ck.json"
    assert s.kinematics_yolo_weights is None and s.detect_processes == 1


def test_no_pipeline_entrypoint_setting():
    """The Celery task always runs ``worker.pipeline.run_pipeline``; tests substitute it in their own worker
    module (tests/service/worker_app.py), never through production configuration."""
    assert "pipeline_entrypoint" not in Settings.model_fields

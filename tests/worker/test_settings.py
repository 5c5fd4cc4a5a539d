"""Configuration values outside their fixed sets are refused with a message naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.settings import Settings


@pytest.mark.parametrize(("env", "field"), [
    ({"ENVIRONMENT": "prod"}, "environment"),
    ({"JOB_QUEUE": "tpu"}, "job_queue"),
    ({"ENVIRONMENT": "production", "OPEN_MODE": "true"}, "OPEN_MODE"),
])
def test_bad_values_are_refused(monkeypatch, env, field):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_production_without_open_mode_is_fine(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert Settings().environment == "production" and not Settings().open_mode

"""Generated calibrations against the checker, in-process (issue 42): whatever the text,
:func:`~model_store.geometry.calibration_file.parse_calibration` raises :class:`CalibrationError` or gives
cameras whose geometry numpy and OpenCV can use (finite, invertible K, a rotation matrix, a projection).
5,000 examples, derandomized (the same every run); the API counterpart is in
``tests/service/test_reliability.py``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings

from model_store.geometry.calibration_file import CalibrationError, parse_calibration
from model_store.geometry.cameras import Camera
from tests.generated.calibrations import calibration_text

pytestmark = pytest.mark.slow

N_EXAMPLES = 5000


def check(text: str) -> None:
    try:
        cams = parse_calibration(text, "gen.toml")
    except CalibrationError as exc:
        event("refused: " + str(exc).split(": ", 1)[-1].split(" ", 3)[0:3].__str__())
        return
    event(f"accepted: {len(cams)} camera(s)")
    for c in cams.values():
        cam = Camera.from_calibration(c)
        assert np.isfinite(cam.K).all() and abs(np.linalg.det(cam.K)) > 0
        np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-6)
        assert np.linalg.det(cam.R) > 0 and np.isfinite(cam.projection_matrix).all()
        assert np.isfinite(np.linalg.inv(cam.K)).all()
        w, h = c.image_size
        assert 0 <= c.matrix[0][2] <= w and 0 <= c.matrix[1][2] <= h


@settings(max_examples=N_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(calibration_text())
def test_generated_calibrations_are_checked_or_refused(text):
    check(text)

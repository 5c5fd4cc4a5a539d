"""The Python client/CLI against the real service."""

from __future__ import annotations

import pytest

from app.client import main as client_main
from tests.ports import free_port
from tests.service.conftest import KEY_A

pytestmark = pytest.mark.service


def test_client_submit_waits_and_unpacks(stack, videos, tmp_path, capsys):
    rc = client_main(["--url", stack.base_url, "--api-key", KEY_A, "submit", "--front", str(videos["a"]),
                      "--side", str(videos["b"]), "--out", str(tmp_path / "res")])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "res" / "kinematics.mot").is_file() and (tmp_path / "res" / "model_scaled.osim").is_file()


def test_client_reports_server_errors_on_one_line(stack, videos, tmp_path, capsys):
    rc = client_main(["--url", stack.base_url, "--api-key", "nope", "submit", "--front", str(videos["a"]),
                      "--side", str(videos["b"]), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: unauthorized") and err.count("\n") == 1
    rc = client_main(["--url", f"http://127.0.0.1:{free_port()}", "status", "x"])  # nothing listens there
    assert rc == 2 and "cannot reach" in capsys.readouterr().err

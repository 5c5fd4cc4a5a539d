"""End to end through HTTP with the real pipeline and the bundled checkpoint (real processes)."""

from __future__ import annotations

import pytest

from tests.service.conftest import KEY_A, Client, make_stack
from tests.service.videos import write_video

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def real_stack(tmp_path_factory):
    with make_stack(tmp_path_factory.mktemp("real")) as s:
        yield s


def test_demo_pair_through_http(real_stack, shared_data, tmp_path, opensim_module):
    d = shared_data / "video" / "pose2sim-demo-single"
    c = Client(real_stack.base_url, KEY_A)
    r = c.submit(d / "cam01.mp4", d / "cam04.mp4", calibration=(d / "calibration.toml").read_text(),
                 front_camera="cam01", side_camera="cam04", mass_kg=70)
    assert r.status_code == 202, r.text
    job = c.wait(r.json()["id"], timeout=300)
    assert job["status"] == "succeeded", job
    (tmp_path / "k.mot").write_bytes(c.http.get(f"/jobs/{job['id']}/results/kinematics.mot").content)
    (tmp_path / "m.osim").write_bytes(c.http.get(f"/jobs/{job['id']}/results/model_scaled.osim").content)
    opensim_module.Model(str(tmp_path / "m.osim")).initSystem()
    assert opensim_module.Storage(str(tmp_path / "k.mot")).getSize() > 60
    summary = c.http.get(f"/jobs/{job['id']}/results/summary.json").json()
    assert summary["fit"]["refine"] == "fit" and "fit" in summary["stage_seconds"]
    # the fit explains the real keypoints to within a few percent of the person's height
    assert all(v["median_pct_of_height"] < 3.0 for v in summary["fit"]["residuals"].values()), summary["fit"]
    residuals = c.http.get(f"/jobs/{job['id']}/results/fit_residuals.csv")
    assert residuals.status_code == 200 and residuals.text.startswith("frame,time_s,front_median_px")
    sd = tmp_path / "sd.sto"
    sd.write_bytes(c.http.get(f"/jobs/{job['id']}/results/kinematics_sd.sto").content)
    assert opensim_module.Storage(str(sd)).getSize() == summary["frames"]
    # the overlay is listed and downloadable with its media type
    listed = {f["name"] for f in job["results"]}
    assert {"overlay.mp4", "overlay.png"} <= listed, listed
    video = c.http.get(f"/jobs/{job['id']}/results/overlay.mp4")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and len(video.content) > 1000
    assert c.http.get(f"/jobs/{job['id']}/results/overlay.png").headers["content-type"] == "image/png"


def test_video_without_a_person_fails_cleanly(real_stack, tmp_path):
    v = write_video(tmp_path / "nobody.mp4", seconds=1.0, size=(128, 128))
    c = Client(real_stack.base_url, KEY_A)
    job = c.wait(c.submit(v, v).json()["id"], timeout=120)
    assert job["status"] == "failed" and job["error"]["code"] == "no_person", job
    assert c.http.get("/readyz").status_code == 200

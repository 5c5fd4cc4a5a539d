"""Submit → poll → download, concurrency, cancel, worker SIGKILL and Redis restart, on real processes."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
import redis

from tests.service.conftest import KEY_B, Client

pytestmark = pytest.mark.slow


def test_submit_poll_download(client, videos, opensim_module, tmp_path):
    r = client.submit(videos["a"], videos["b"], height_m=1.8)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/jobs/{r.json()['id']}"
    assert r.json()["status"] in ("queued", "running")  # a free worker may have started it already
    seen_progress = set()
    deadline = time.time() + 60
    while time.time() < deadline:
        job = client.http.get(r.headers["location"]).json()
        seen_progress.add((job["status"], job["stage"]))
        if job["status"] == "succeeded":
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    assert any(s == "running" and st is not None for s, st in seen_progress)
    names = {f["name"]: f for f in job["results"]}
    assert {"kinematics.mot", "model_scaled.osim", "joint_centers.trc", "summary.json"} <= set(names)
    mot = client.http.get(names["kinematics.mot"]["url"])
    assert mot.status_code == 200 and mot.headers["content-type"].startswith("text/plain")
    assert len(mot.content) == names["kinematics.mot"]["size"]
    (tmp_path / "k.mot").write_bytes(mot.content)
    osim = client.http.get(names["model_scaled.osim"]["url"])
    assert osim.headers["content-type"] == "application/xml"
    (tmp_path / "m.osim").write_bytes(osim.content)
    model = opensim_module.Model(str(tmp_path / "m.osim"))
    model.initSystem()
    assert opensim_module.TimeSeriesTable(str(tmp_path / "k.mot")).getNumColumns() == 39
    z = client.http.get(job["results_zip"])
    assert z.headers["content-type"] == "application/zip"
    assert f"{job['id']}/kinematics.mot" in zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    listing = client.http.get("/jobs", params={"limit": 5}).json()
    assert job["id"] in [j["id"] for j in listing["items"]] and listing["total"] >= 1


def test_concurrent_jobs_all_finish(client, videos):
    ids = [client.submit(videos["a"], videos["b"]).json()["id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert [client.wait(i)["status"] for i in ids] == ["succeeded"] * 3


def test_cancel_running_job(client, videos, stack):
    job_id = client.submit(videos["a"], videos["b"], offset_frames=30).json()["id"]  # 3 s per stage
    client.wait(job_id, until=("running",))
    r = client.http.delete(f"/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    time.sleep(2.0)
    assert client.http.get(f"/jobs/{job_id}").json()["status"] == "canceled"
    assert not (stack.data_dir / "jobs" / job_id).exists()
    # the worker is still healthy
    assert client.wait(client.submit(videos["a"], videos["b"]).json()["id"])["status"] == "succeeded"
    # and the canceled run, which has ended by now, did not overwrite the cancel (was: failed/internal)
    assert client.http.get(f"/jobs/{job_id}").json()["status"] == "canceled"


def test_finished_job_delete_removes_it(client, videos, stack):
    job_id = client.submit(videos["a"], videos["b"]).json()["id"]
    client.wait(job_id)
    assert client.http.delete(f"/jobs/{job_id}").status_code == 204
    assert client.http.get(f"/jobs/{job_id}").status_code == 404
    assert not (stack.data_dir / "jobs" / job_id).exists()


def test_other_key_sees_404(client, videos, stack):
    job_id = client.submit(videos["a"], videos["b"]).json()["id"]
    other = Client(stack.base_url, KEY_B)
    r = other.http.get(f"/jobs/{job_id}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert job_id not in [j["id"] for j in other.http.get("/jobs").json()["items"]]
    assert other.http.delete(f"/jobs/{job_id}").status_code == 404


def test_worker_sigkill_mid_job_is_recovered_without_anyone_polling(client, videos, stack):
    """The watchdog re-queues the dead worker's job on its own (nobody calls GET /jobs/{id}, which
    would also reap it); the job then runs to the end on the new worker."""
    job_id = client.submit(videos["a"], videos["b"], offset_frames=15).json()["id"]  # 1.5 s per stage
    client.wait(job_id, until=("running",))
    time.sleep(1.0)
    stack.kill("worker0")
    killed = time.time()
    stack.start_worker("worker_b")
    r = redis.Redis.from_url(stack.redis_url)
    resumed = None
    while time.time() - killed < 90 and resumed is None:
        fields = {k.decode(): json.loads(v) for k, v in r.hgetall(f"kin:job:{job_id}").items()}
        if fields.get("attempts") == 2 or fields.get("status") == "succeeded":
            resumed = time.time() - killed
        time.sleep(0.2)
    assert resumed is not None, "the job was not picked up again without a poll"
    print(f"kill → job running again: {resumed:.1f} s (STALE_JOB_S={stack.env['STALE_JOB_S']})")
    job = client.wait(job_id, timeout=120)
    assert job["status"] == "succeeded" and job["id"] == job_id, job


def test_redis_restart_loses_nothing(client, videos, stack):
    done = client.submit(videos["a"], videos["b"]).json()["id"]
    client.wait(done)
    stack.stop_redis_server()
    r = client.http.get(f"/jobs/{done}")
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    assert client.http.get("/readyz").status_code == 503
    assert client.http.get("/healthz").status_code == 200
    stack.start_redis_server()
    assert client.http.get(f"/jobs/{done}").json()["status"] == "succeeded"
    stack.wait_http("/readyz", timeout=60)
    again = client.submit(videos["a"], videos["b"]).json()["id"]
    assert client.wait(again, timeout=120)["status"] == "succeeded"


def test_metrics_and_readiness(client, stack):
    assert client.http.get("/readyz").json()["status"] == "ready"
    text = client.http.get("/metrics").text
    assert 'kinematics_jobs{status="succeeded"}' in text
    assert "kinematics_queue_length" in text and "kinematics_stage_seconds_sum" in text

"""Submit → poll → download, concurrency, cancel, worker SIGKILL and Redis restart, on real processes."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
import redis

from tests.polling import wait_until
from tests.service.conftest import KEY_B, Client

pytestmark = pytest.mark.service


def test_submit_poll_download(client, videos, opensim_module, tmp_path):
    r = client.submit(videos["a"], videos["b"], height_m=1.8)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/jobs/{r.json()['id']}"
    assert r.json()["status"] in ("queued", "running")  # a free worker may have started it already
    seen_progress = set()

    def succeeded() -> dict | None:
        job = client.http.get(r.headers["location"]).json()
        seen_progress.add((job["status"], job["stage"]))
        return job if job["status"] == "succeeded" else None

    job = wait_until(succeeded, timeout=60, interval=0.1, message=lambda: f"not succeeded: {sorted(seen_progress)}")
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
    assert client.http.get(f"/jobs/{job_id}").json()["status"] == "canceled"
    # the worker is still healthy; it has one process, so the canceled run has ended once the next job has run
    assert client.wait(client.submit(videos["a"], videos["b"]).json()["id"])["status"] == "succeeded"
    # and the canceled run did not overwrite the cancel (was: failed/internal), nor leave its folder behind
    assert client.http.get(f"/jobs/{job_id}").json()["status"] == "canceled"
    assert not (stack.data_dir / "jobs" / job_id).exists()


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
    # mid-job: the pipeline has reported progress (and so a heartbeat) before its worker dies
    wait_until(lambda: client.http.get(f"/jobs/{job_id}").json()["progress"] > 0, timeout=60,
               message="the job reported no progress")
    stack.kill("worker0")
    killed = time.monotonic()
    stack.start_worker("worker_b")
    r = redis.Redis.from_url(stack.redis_url)

    def picked_up_again() -> bool:
        fields = {k.decode(): json.loads(v) for k, v in r.hgetall(f"kin:job:{job_id}").items()}
        return fields.get("attempts") == 2 or fields.get("status") == "succeeded"

    wait_until(picked_up_again, timeout=90, interval=0.2, message="the job was not picked up again without a poll")
    print(f"kill → job running again: {time.monotonic() - killed:.1f} s (STALE_JOB_S={stack.env['STALE_JOB_S']})")
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

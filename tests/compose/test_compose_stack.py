"""``docker-compose.yml`` for real: the images are built, the whole stack (redis, nginx, api, a CPU
worker, the watchdog) comes up healthy, the real demo pair goes through nginx with an API key and its
results open in OpenSim on the host, a job survives its worker being killed, and the finished job and its
files survive ``down`` (without ``-v``) and ``up``. ``make compose-test`` runs this (podman, podman-compose,
debootstrap; ``.ci/run`` installs them); figures go to ``$CI_ARTIFACTS/compose.json``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import uuid
import zipfile

import httpx
import pytest

from tests.compose.engine import REPO, SERVICES, ComposeStack, podman_env, prepare_build_inputs
from tests.polling import wait_until
from tests.ports import free_port
from worker.settings import hash_key

# building the images on a fresh machine takes most of this; a bound, not a speed requirement
pytestmark = [pytest.mark.compose, pytest.mark.timeout(3000)]

KEY = "compose-test-key"
DEMO = REPO / "data" / "video" / "pose2sim-demo-single"
HEAVY = ("torch", "opensim", "mediapipe", "cv2")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = podman_env()
    port = free_port()
    env.update(HTTP_PORT=str(port), JOB_QUEUE="cpu", API_KEYS=f"sha256:{hash_key(KEY)}")
    s = ComposeStack(project=f"kinematics-ci-{uuid.uuid4().hex[:8]}", env=env,
                     log=tmp_path_factory.mktemp("compose") / "compose.log")
    s.env["BASE_URL"] = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        subprocess.run(["bash", str(REPO / "docker" / "build-local-bases.sh"), "podman"], cwd=REPO, env=env,
                       check=True, capture_output=True, text=True)
        s.timings["local_bases_s"] = time.monotonic() - t0
        prepare_build_inputs()
        t0 = time.monotonic()
        s.compose("build", "api", "worker-cpu")  # the watchdog runs the worker-cpu image
        s.timings["build_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        s.compose("up", "-d")
        s.timings["up_s"] = time.monotonic() - t0
        s.timings["up_to_healthy_s"] = s.timings["up_s"] + s.wait_healthy()
        yield s
    finally:
        s.remove()
        artifacts = os.environ.get("CI_ARTIFACTS")
        if artifacts:
            os.makedirs(artifacts, exist_ok=True)
            (REPO / artifacts / "compose.json").write_text(json.dumps(s.timings, indent=1))
            (REPO / artifacts / "compose.log").write_text(s.log.read_text() if s.log.exists() else "")
        print("compose figures:", json.dumps({k: round(v, 1) for k, v in s.timings.items()}))


def _client(stack: ComposeStack) -> httpx.Client:
    return httpx.Client(base_url=stack.env["BASE_URL"], timeout=60.0, headers={"X-API-Key": KEY})


def _submit(stack: ComposeStack) -> str:
    files = {"front": ("cam01.mp4", (DEMO / "cam01.mp4").read_bytes(), "video/mp4"),
             "side": ("cam04.mp4", (DEMO / "cam04.mp4").read_bytes(), "video/mp4"),
             "calibration": ("calibration.toml", (DEMO / "calibration.toml").read_bytes(), "application/toml")}
    with _client(stack) as c:
        r = c.post("/jobs", files=files, data={"front_camera": "cam01", "side_camera": "cam04", "mass_kg": "70"})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _job(stack: ComposeStack, job_id: str) -> dict:
    with _client(stack) as c:
        r = c.get(f"/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _wait(stack: ComposeStack, job_id: str, until: tuple[str, ...], timeout: float = 600) -> dict:
    return wait_until(lambda: (j := _job(stack, job_id))["status"] in until and j, timeout=timeout, interval=1.0,
                      message=lambda: f"job {job_id} not in {until}: {_job(stack, job_id)}\n"
                                      f"worker:\n{stack.logs('worker-cpu')}")


def test_every_service_runs_and_the_api_image_is_slim(stack):
    assert set(stack.containers()) == set(SERVICES)
    stack.timings["api_image_mb"] = stack.image_size_mb("localhost/kinematics-api:latest")
    stack.timings["worker_cpu_image_mb"] = stack.image_size_mb("localhost/kinematics-worker-cpu:latest")
    found = stack.podman("run", "--rm", "--entrypoint", "python", "localhost/kinematics-api:latest", "-c",
                         "import importlib.util as u, sys; print(','.join(m for m in sys.argv[1:] if u.find_spec(m)))",
                         *HEAVY).stdout.strip()
    assert found == "", f"the API image installs {found}"
    assert stack.timings["api_image_mb"] <= 350, stack.timings
    cuda = stack.podman("run", "--rm", "--entrypoint", "python", "localhost/kinematics-worker-cpu:latest", "-c",
                        "import torch; print(torch.version.cuda)").stdout.strip()
    assert cuda == "None"  # the CPU worker never pulls a CUDA build


def test_the_demo_pair_through_nginx_opens_in_opensim(stack, tmp_path, opensim_module):
    with httpx.Client(base_url=stack.env["BASE_URL"], timeout=30.0) as anonymous:
        assert anonymous.get("/jobs").status_code == 401  # nginx passes the API's refusal through
        assert anonymous.get("/healthz").status_code == 200
    t0 = time.monotonic()
    job_id = _submit(stack)
    stack.timings["upload_s"] = time.monotonic() - t0
    job = _wait(stack, job_id, ("succeeded", "failed", "canceled"))
    stack.timings["demo_job_s"] = time.monotonic() - t0
    assert job["status"] == "succeeded", job
    with _client(stack) as c:
        r = c.get(f"/jobs/{job_id}/results.zip")
        summary = c.get(f"/jobs/{job_id}/results/summary.json").json()
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    stack.timings.update({f"stage_{k}_s": v for k, v in summary["stage_seconds"].items()})
    assert summary["network"]["runs_on"] in ("onnxruntime CPUExecutionProvider", "torch cpu"), summary["network"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:  # the files sit in a folder named for the job
        names = {n.removeprefix(f"{job_id}/") for n in z.namelist()}
        assert {"kinematics.mot", "model_scaled.osim", "joint_centers.trc", "summary.json"} <= names, names
        z.extractall(tmp_path)
    model = opensim_module.Model(str(tmp_path / job_id / "model_scaled.osim"))
    state = model.initSystem()
    assert abs(model.getTotalMass(state) - 70.0) < 1e-6
    motion = opensim_module.TimeSeriesTable(str(tmp_path / job_id / "kinematics.mot"))
    assert motion.getNumRows() == summary["frames"] > 60 and motion.getNumColumns() == 39
    pytest.compose_demo_job = job_id  # for the restart test


def test_a_job_survives_its_worker_being_killed(stack):
    job_id = _submit(stack)
    _wait(stack, job_id, ("running",), timeout=300)
    t0 = time.monotonic()
    worker = stack.containers()["worker-cpu"]
    stack.podman("kill", worker)
    wait_until(lambda: "worker-cpu" not in stack.containers(), timeout=60, interval=0.5)
    assert _job(stack, job_id)["status"] == "running"  # killed mid-job: nobody finished it
    stack.podman("start", worker)  # the worker starts again, as a restart policy or process manager does
    job = _wait(stack, job_id, ("succeeded", "failed", "canceled"))
    stack.timings["killed_job_recovery_s"] = time.monotonic() - t0
    assert job["status"] == "succeeded", job


def test_nothing_is_left_but_the_named_volumes(stack):
    """No anonymous volumes: every volume of the project is one docker-compose.yml names."""
    named = set(stack.podman("volume", "ls", "-q", "--filter",
                             f"label=com.docker.compose.project={stack.project}").stdout.split())
    assert {v.removeprefix(f"{stack.project}_") for v in named} == {"redis-data", "job-data", "models"}
    used = set()
    for name in stack.containers().values():
        mounts = json.loads(stack.podman("inspect", name, "--format", "{{json .Mounts}}").stdout)
        used |= {m["Name"] for m in mounts if m.get("Type") == "volume"}
    assert used <= named, used - named


def test_the_finished_job_survives_down_and_up(stack):
    job_id = getattr(pytest, "compose_demo_job", None)
    assert job_id, "the demo job test did not run first"
    stack.compose("down", "-t", "5")  # without -v: the named volumes stay
    assert stack.containers() == {}
    t0 = time.monotonic()
    stack.compose("up", "-d")
    stack.wait_healthy()
    stack.timings["restart_to_healthy_s"] = time.monotonic() - t0
    job = _job(stack, job_id)
    assert job["status"] == "succeeded", job
    with _client(stack) as c:
        r = c.get(f"/jobs/{job_id}/results/kinematics.mot")
    assert r.status_code == 200 and b"pelvis_tilt" in r.content

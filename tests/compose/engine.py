"""The compose stack users run (``docker-compose.yml``), built and started for real with podman on this
machine (``docker/compose.local.yml`` swaps in the local base images and leaves the GPU worker out).

Everything lives under the clone: podman's image store in ``var/containers`` (vfs), the build inputs
that are never committed (the host's CA bundle in ``docker/certs``, the CPU torch wheel in
``docker/wheels``). :class:`ComposeStack` builds, starts, inspects and always removes what it started
(containers, the network and the named volumes); the images stay in the clone's store for the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.polling import wait_until

REPO = Path(__file__).resolve().parents[2]
STORE = REPO / "var" / "containers"
PROJECT_FILES = ("docker-compose.yml", "docker/compose.local.yml")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
#: The services this machine runs (no GPU: the CPU worker serves the queue) and those with a healthcheck.
SERVICES = ("redis", "nginx", "api", "watchdog", "worker-cpu")
HEALTHCHECKED = ("redis", "nginx", "api", "worker-cpu")


def podman_env() -> dict[str, str]:
    """The environment podman and podman-compose run in: the machine's engine settings
    (``docker/local/containers.conf``) and an image store inside the clone."""
    STORE.mkdir(parents=True, exist_ok=True)
    storage = STORE / "storage.conf"
    storage.write_text(f'[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\n'
                       f'graphroot = "{STORE / "storage"}"\n')
    env = dict(os.environ)
    # BUILDAH_LAYERS=false: one commit per image, not a full vfs copy of the file tree per build step;
    # BUILDAH_FORMAT=docker: the OCI format drops HEALTHCHECK
    env.update(CONTAINERS_CONF=str(REPO / "docker" / "local" / "containers.conf"),
               CONTAINERS_STORAGE_CONF=str(storage), BUILDAH_LAYERS="false", BUILDAH_FORMAT="docker")
    return env


def prepare_build_inputs() -> None:
    """The build inputs that are never committed: the host's CA bundle (these machines reach package
    registries through a TLS-inspecting proxy) and the CPU torch wheel (the machine's wheel directory;
    the worker image pins ``torch==2.13.0+cpu``)."""
    if HOST_CA.is_file():
        shutil.copyfile(HOST_CA, REPO / "docker" / "certs" / "host.crt")
    wheels = REPO / "docker" / "wheels"
    if not list(wheels.glob("torch-2.13.0+cpu-*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "torch==2.13.0+cpu", "-d", str(wheels)], check=True)


@dataclass
class ComposeStack:
    project: str
    env: dict[str, str]
    log: Path
    timings: dict[str, float] = field(default_factory=dict)

    def compose(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "podman_compose", "-p", self.project,
               *(a for f in PROJECT_FILES for a in ("-f", str(REPO / f))), "--profile", "cpu", *args]
        return self._run(cmd, check, timeout)

    def podman(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return self._run(["podman", *args], check, timeout)

    def _run(self, cmd: Sequence[str], check: bool, timeout: float) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        res = subprocess.run(cmd, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        with self.log.open("a") as f:
            f.write(f"$ {' '.join(cmd)}  ({time.monotonic() - t0:.1f} s, exit {res.returncode})\n"
                    f"{res.stdout[-4000:]}{res.stderr[-4000:]}\n")
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(cmd[:6])}... exit {res.returncode}:\n{res.stdout[-2000:]}\n"
                                 f"{res.stderr[-3000:]}")
        return res

    def containers(self) -> dict[str, str]:
        """Running containers of this project: service name → container name."""
        out = self.podman("ps", "--filter", f"label=com.docker.compose.project={self.project}",
                          "--format", "json").stdout
        return {c["Labels"]["com.docker.compose.service"]: c["Names"][0] for c in json.loads(out or "[]")}

    def healthy(self, service: str) -> bool:
        """Runs the container's healthcheck once (podman without systemd schedules none)."""
        name = self.containers().get(service)
        return bool(name) and self.podman("healthcheck", "run", name, check=False, timeout=60).returncode == 0

    def wait_healthy(self, services: Sequence[str] = HEALTHCHECKED, timeout: float = 300) -> float:
        t0 = time.monotonic()
        for s in services:
            wait_until(lambda s=s: self.healthy(s), timeout=max(timeout - (time.monotonic() - t0), 1),
                       interval=1.0, message=lambda s=s: f"{s} not healthy; logs:\n{self.logs(s)}")
        return time.monotonic() - t0

    def logs(self, service: str) -> str:
        name = self.containers().get(service)
        if not name:
            return f"({service} is not running)"
        res = self.podman("logs", "--tail", "60", name, check=False)
        return res.stdout + res.stderr

    def image_size_mb(self, image: str) -> float:
        out = self.podman("image", "inspect", image, "--format", "{{.Size}}").stdout
        return int(out.strip()) / 1e6

    def remove(self) -> None:
        """Stop and remove everything this project started: containers, its network, its named volumes."""
        self.compose("down", "-v", "-t", "5", check=False, timeout=300)
        left = self.podman("ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
                           check=False).stdout.split()
        if left:
            self.podman("rm", "-f", "-v", *left, check=False)
        vols = self.podman("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
                           check=False).stdout.split()
        if vols:
            self.podman("volume", "rm", "-f", *vols, check=False)

"""Static validation of the deployment files (no Docker engine here) and launcher/compose parity."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.stack import HTTP_PROTOCOL, KEEP_ALIVE_S, Stack
from tests.conftest import REPO_ROOT
from worker.settings import Settings

DOCKERFILES = sorted((REPO_ROOT / "docker").glob("Dockerfile.*"))
NGINX_TEMPLATE = REPO_ROOT / "docker" / "nginx" / "api.conf.template"
NGINX_ENVSH = REPO_ROOT / "docker" / "nginx" / "15-upload-limits.envsh"


def _hadolint() -> str:
    exe = Path(sys.executable).parent / "hadolint"
    return str(exe) if exe.exists() else (shutil.which("hadolint") or "")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[d.name for d in DOCKERFILES])
def test_dockerfiles_pass_hadolint_and_run_as_non_root(dockerfile):
    tool = _hadolint()
    assert tool, "hadolint not found (it is in the dev extra: pip install -e '.[dev]')"
    res = subprocess.run([tool, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    text = dockerfile.read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text


@pytest.fixture(scope="module")
def compose_config():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose (Debian package) not installed; .ci/run installs it")
    env = {**os.environ, "API_KEYS": "sha256:" + "0" * 64}
    res = subprocess.run([exe, "--profile", "cpu", "config"], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    return yaml.safe_load(res.stdout)


def test_compose_services_volumes_and_gpu(compose_config):
    services = compose_config["services"]
    assert set(services) == {"nginx", "redis", "api", "worker", "worker-cpu", "watchdog"}
    assert "--appendonly" in services["redis"]["command"]
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    for name in ("api", "worker", "worker-cpu", "watchdog"):
        assert any(str(v).endswith(":/data") or "/data" in str(v) for v in services[name]["volumes"])


def test_exactly_one_scheduler(compose_config):
    """Periodic sweeps run in one ``watchdog`` service, never inside (possibly many) workers, and
    not through the job queues (a GPU-only worker never reads the ``cpu`` queue)."""
    services = compose_config["services"]
    sweepers = [n for n, svc in services.items() if "worker.watchdog" in (svc.get("command") or [])]
    assert sweepers == ["watchdog"]
    assert not any("beat" in (svc.get("command") or []) for svc in services.values())
    for df in ("Dockerfile.worker", "Dockerfile.worker-cpu"):
        cmd = [line for line in (REPO_ROOT / "docker" / df).read_text().splitlines() if line.startswith("CMD")]
        assert cmd and "-B" not in cmd[-1] and "beat" not in cmd[-1], df


def test_launcher_sets_the_environment_compose_sets(compose_config, tmp_path):
    compose_env = set(compose_config["services"]["api"]["environment"])
    launcher_env = Stack(data_dir=tmp_path).environment()
    for name in ("REDIS_URL", "DATA_DIR", "JOB_QUEUE"):
        assert name in compose_env and name in launcher_env
    assert set(compose_config["services"]["worker"]["environment"]) == compose_env


def test_compose_requires_api_keys():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose not installed")
    env = {k: v for k, v in os.environ.items() if k != "API_KEYS"}
    res = subprocess.run([exe, "config", "-q"], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert res.returncode != 0 and "API_KEYS" in res.stderr


def test_only_nginx_is_published_and_it_gets_its_config(compose_config):
    services = compose_config["services"]
    assert [name for name, svc in services.items() if svc.get("ports")] == ["nginx"]
    nginx = services["nginx"]
    assert nginx["image"].startswith("nginx:") and "api" in nginx["depends_on"]
    assert [p["target"] for p in nginx["ports"]] == [80]
    assert services["api"].get("expose") == ["8000"]
    mounts = {v.split(":")[1]: v for v in nginx["volumes"]}
    template = mounts["/etc/nginx/templates/default.conf.template"]
    envsh = mounts["/docker-entrypoint.d/15-upload-limits.envsh"]
    assert template.startswith(str(NGINX_TEMPLATE)) and template.endswith(":ro")
    assert envsh.startswith(str(NGINX_ENVSH)) and envsh.endswith(":ro")
    assert nginx["environment"]["MAX_UPLOAD_MB"] == services["api"]["environment"]["MAX_UPLOAD_MB"]


def _nginx_body_mb(max_upload_mb: str) -> subprocess.CompletedProcess:
    """What the nginx image's entrypoint does with the envsh: source it, read NGINX_MAX_BODY_MB."""
    env = {"PATH": os.environ["PATH"], "MAX_UPLOAD_MB": max_upload_mb}
    return subprocess.run(["sh", "-c", '. "$1" && printf %s "$NGINX_MAX_BODY_MB"', "sh", str(NGINX_ENVSH)],
                          capture_output=True, text=True, env=env)


def test_nginx_body_cap_follows_the_api_limit():
    assert os.access(NGINX_ENVSH, os.X_OK), "the nginx entrypoint ignores a .envsh that is not executable"
    for mb in (5, 500, 2000):
        res = _nginx_body_mb(str(mb))
        assert res.returncode == 0, res.stderr
        body_limit = Settings(max_upload_mb=mb).max_body_bytes
        assert body_limit < int(res.stdout) * 1024 * 1024 <= body_limit + 2 * 1024 * 1024  # the API answers first
    assert _nginx_body_mb("5x").returncode != 0


def _render_nginx_template(env: dict[str, str]) -> str:
    """As the image's 20-envsubst-on-templates.sh: substitute ${NAME}/$NAME for the defined variables only."""
    text = NGINX_TEMPLATE.read_text()
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def _nginx_setting(conf: str, name: str) -> str:
    found = re.findall(rf"^\s*{name}\s+([^;]+);", conf, re.M)
    assert len(found) == 1, (name, found)
    return found[0]


def test_nginx_config_sets_limits_timeouts_and_streaming():
    env = {"NGINX_MAX_BODY_MB": _nginx_body_mb("500").stdout, "MAX_UPLOAD_MB": "500", "HOSTNAME": "x", "PATH": "/bin"}
    conf = _render_nginx_template(env)
    assert "${" not in conf and "$host" in conf and "$remote_addr" in conf
    assert _nginx_setting(conf, "client_max_body_size") == "1002m"
    assert _nginx_setting(conf, "proxy_request_buffering") == "off"
    assert _nginx_setting(conf, "proxy_http_version") == "1.1"
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout", "proxy_read_timeout"):
        assert re.fullmatch(r"\d+s", _nginx_setting(conf, name)), name
    # the API's JSON 408 comes before nginx gives up on a stalled body
    assert int(_nginx_setting(conf, "client_body_timeout")[:-1]) > Settings().upload_idle_timeout_s
    # nginx closes idle upstream connections before uvicorn does (no 502 on a reused, just-closed connection)
    upstream_idle = int(re.search(r"upstream[^}]*keepalive_timeout\s+(\d+)s;", conf).group(1))
    cmd = [ln for ln in (REPO_ROOT / "docker" / "Dockerfile.api").read_text().splitlines() if ln.startswith("CMD")]
    assert f'"--timeout-keep-alive", "{KEEP_ALIVE_S}"' in cmd[-1] and upstream_idle < KEEP_ALIVE_S
    # the image's uvicorn has the request-head deadline too (as app.stack's)
    assert f'"--http", "{HTTP_PROTOCOL}"' in (REPO_ROOT / "docker" / "Dockerfile.api").read_text()


def _nginx() -> str:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), "")


def test_nginx_config_parses(tmp_path):
    """``nginx -t`` on the rendered template inside a minimal main config, as the image's http block
    includes it. The upstream host ``api`` only resolves inside compose, so it is pointed at loopback."""
    exe = _nginx()
    if not exe:
        pytest.skip("nginx (Debian package) not installed; .ci/run installs it")
    conf = _render_nginx_template({"NGINX_MAX_BODY_MB": _nginx_body_mb("500").stdout})
    assert "server api:8000;" in conf
    (tmp_path / "default.conf").write_text(conf.replace("server api:8000;", "server 127.0.0.1:8000;"))
    temp_paths = "\n".join(f"    {kind}_temp_path {tmp_path}/{kind};" for kind in
                           ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp_paths}\n    include {tmp_path}/default.conf;\n}}\n")
    res = subprocess.run([exe, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                          "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "syntax is ok" in res.stderr

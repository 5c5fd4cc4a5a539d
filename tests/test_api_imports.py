"""The API process stays light, and pyproject's ``api`` extra is exactly what it imports.

The API (``uvicorn app.main:app --http app.core.http_protocol:HeadTimeoutProtocol``) checks uploads and
queues jobs; it never runs the network. So importing it, and the modules the API and the workers share
(job records, settings, form parameters, error codes, the upload probe, the calibration reader), loads
none of torch, OpenCV (cv2), MediaPipe, OpenSim or numpy: the probe reads videos with PyAV alone and the
calibration reader uses the standard library. Each import runs in a fresh interpreter (this one has
loaded everything); a failure names the heavy module and the chain of imports that loaded it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("app", "worker", "model_store", "training")
#: What the API process must not load (the workers' libraries).
HEAVY = ("torch", "torchvision", "cv2", "mediapipe", "opensim", "numpy", "scipy", "matplotlib", "onnx",
         "onnxruntime", "safetensors", "ultralytics")
#: The API process: the ASGI app and uvicorn's HTTP protocol class (docker/Dockerfile.api, app.stack).
API_MODULES = ("app.main", "app.core.http_protocol")
#: Modules the API and the workers share: each loads nothing heavy.
SHARED_MODULES = ("worker.params", "worker.settings", "worker.jobs", "worker.errors", "worker.tasks",
                  "worker.celery_app", "worker.pipeline.contract", "worker.pipeline.stages.probe",
                  "worker.pipeline.people.subject_hint", "worker.pipeline.geometry.named_cameras",
                  "model_store.geometry.calibration_file", "model_store.conventions", "model_store.results",
                  "model_store.biomech.definition")
#: Of those, the ones that need nothing but the standard library.
STDLIB_ONLY = ("worker.errors", "worker.pipeline.contract", "worker.pipeline.people.subject_hint",
               "worker.pipeline.geometry.named_cameras", "model_store.geometry.calibration_file",
               "model_store.conventions", "model_store.results", "model_store.biomech.definition")

#: Run in a fresh interpreter (cwd: the repository): import ``MODULES``, with the top-level modules in
#: ``BLOCKED`` made unimportable; print what was loaded, as JSON, and for each heavy module the stack
#: that first imported it.
_PROBE = textwrap.dedent("""
    import asyncio, json, sys, traceback
    MODULES, BLOCKED, HEAVY, REQUESTS = {modules!r}, set({blocked!r}), set({heavy!r}), {requests!r}
    before = set(sys.modules)
    chains = {{}}

    class Watch:
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: not in the api extra)", name=name)
            if top in HEAVY and top not in chains:
                chains[top] = [f"{{f.filename}}:{{f.lineno}}" for f in traceback.extract_stack()[:-1]
                               if "/importlib/" not in f.filename and "<frozen" not in f.filename]
            return None

    sys.meta_path.insert(0, Watch())
    for m in MODULES:
        __import__(m)

    async def get(app, path):
        sent, done, asked = [], asyncio.Event(), []
        scope = {{"type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "GET",
                  "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                  "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": ""}}

        async def receive():  # the (empty) body once, then the client goes once the answer is sent
            if not asked:
                asked.append(True)
                return {{"type": "http.request", "body": b"", "more_body": False}}
            await done.wait()
            return {{"type": "http.disconnect"}}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                done.set()

        await asyncio.wait_for(app(scope, receive, send), 30)
        return sent[0]["status"]

    statuses = {{p: asyncio.run(get(sys.modules["app.main"].app, p)) for p in REQUESTS}}
    loaded = {{n: getattr(m, "__file__", None) for n, m in list(sys.modules.items()) if n not in before}}
    print(json.dumps({{"loaded": loaded, "chains": chains, "statuses": statuses}}))
""")


def _run(modules: tuple[str, ...], blocked: set[str] = frozenset(), requests: tuple[str, ...] = ()) -> dict:
    """Import ``modules`` in a fresh interpreter (this checkout's code: cwd first on sys.path)."""
    code = _PROBE.format(modules=modules, blocked=sorted(blocked), heavy=HEAVY, requests=requests)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"importing {', '.join(modules)} failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.splitlines()[-1])


def _heavy_report(result: dict) -> str:
    lines = []
    for name, stack in sorted(result["chains"].items()):
        ours = [f for f in stack if str(ROOT) in f and "/.venv/" not in f] or stack
        lines.append(f"{name}, imported by:\n    " + "\n    ".join(ours))
    return "\n".join(lines)


def test_the_api_process_loads_nothing_heavy():
    result = _run(API_MODULES)
    heavy = sorted(m for m in HEAVY if m in result["loaded"])
    assert not heavy, f"the API process loads {', '.join(heavy)}:\n{_heavy_report(result)}"


def test_the_shared_modules_stay_light():
    """One interpreter for all: a module's imports are part of the union's, so none of them loads a heavy one."""
    result = _run(SHARED_MODULES)
    heavy = sorted(m for m in HEAVY if m in result["loaded"])
    assert not heavy, f"the shared modules load {', '.join(heavy)}:\n{_heavy_report(result)}"


def test_the_plain_modules_need_only_the_standard_library():
    loaded = _run(STDLIB_ONLY)["loaded"]
    third = sorted({n.partition(".")[0] for n in loaded} & set(_dists_of_modules()))
    assert not third, f"{', '.join(STDLIB_ONLY)} should import the standard library only, but load {third}"


# --- the api extra ------------------------------------------------------------------------------------------

def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _api_requirements() -> list[Requirement]:
    return [Requirement(r) for r in _project()["optional-dependencies"]["api"]]


def _dists_of_modules() -> dict[str, set[str]]:
    """Top-level module → the installed distributions (canonical names) that provide it, project and
    standard library left out."""
    out: dict[str, set[str]] = {}
    for top, dists in metadata.packages_distributions().items():
        ours = {canonicalize_name(d) for d in dists} - {canonicalize_name(_project()["name"])}
        if top in PROJECT or top in sys.stdlib_module_names or not ours:
            continue
        out[top] = ours
    return out


def _closure(requirements: list[Requirement]) -> set[str]:
    """The distributions ``requirements`` install (transitively, extras and markers evaluated here)."""
    done: dict[str, set[str]] = {}
    todo = list(requirements)
    while todo:
        req = todo.pop()
        name, extras = canonicalize_name(req.name), set(req.extras)
        if name in done and extras <= done[name]:
            continue
        done.setdefault(name, set()).update(extras)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed: nothing of it can be imported here either
        for text in requires:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in {"", *done[name]}):
                todo.append(dep)
    return set(done)


def _imported_tops(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a file (in functions too: a lazy import is still needed)."""
    tops = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            tops.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.partition(".")[0])
    return tops


def test_the_api_runs_with_the_api_extra_alone():
    """Every distribution outside the ``api`` extra (and what it requires) is made unimportable: the API
    still imports, answers requests that touch no Redis, and loads third-party code only from the extra.
    Optional imports of what happens to be installed here (OpenTelemetry, greenlet, …) fail over as they
    would in the API image."""
    allowed = _closure(_api_requirements())
    dists = _dists_of_modules()
    blocked = {top for top, ds in dists.items() if not ds & allowed}
    result = _run(API_MODULES, blocked, requests=("/healthz", "/model", "/openapi.json", "/"))
    assert result["statuses"] == {"/healthz": 200, "/model": 200, "/openapi.json": 200, "/": 200}
    outside = sorted({n.partition(".")[0] for n in result["loaded"]} & blocked)
    assert not outside, f"loaded from outside the api extra: {outside}"


def test_the_api_extra_is_exactly_what_the_api_imports():
    """Each distribution app/ and worker/ code imports in the API process is named in the ``api`` extra
    (not left to come along with another), and each entry of the extra is imported by it; each entry has
    the version range it has in the full ``dependencies``."""
    loaded = _run(API_MODULES)["loaded"]
    files = [Path(f) for n, f in loaded.items() if f and n.partition(".")[0] in PROJECT]
    dists = _dists_of_modules()
    imported: dict[str, set[str]] = {}  # distribution → the project files that import it
    for f in files:
        for top in _imported_tops(f):
            for d in dists.get(top, ()):
                imported.setdefault(d, set()).add(str(f.relative_to(ROOT)))
    api = {canonicalize_name(r.name): r for r in _api_requirements()}
    unnamed = {d: sorted(fs) for d, fs in imported.items() if d not in api}
    assert not unnamed, f"imported by the API process but not in the api extra: {unnamed}"
    unused = sorted(set(api) - set(imported))
    assert not unused, f"in the api extra but not imported by the API process: {unused}"
    full = {canonicalize_name(Requirement(r).name): Requirement(r) for r in _project()["dependencies"]}
    for name, req in api.items():
        if name in full:
            assert str(req.specifier) == str(full[name].specifier) and req.extras == full[name].extras, (
                f"api extra {req} differs from dependencies' {full[name]}")
        else:
            assert name in _closure(list(full.values())), f"{name} is not installed by the full dependencies"

"""The reliability suite's harness: the stack as the cases see it (:class:`Ctx`), what a case is
(:class:`Case`) and what it got back (:class:`Outcome`), and the request builders the cases share.

The cases are in :mod:`tests.service.reliability_requests` (what a client sends) and
:mod:`tests.service.reliability_jobs` (jobs, routes, lifecycle and outages); :mod:`tests.service.reliability`
puts them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.stack import Stack
from tests.polling import wait_until
from tests.service import raw_http

#: The suite stack's settings (the table's figures come from them).
SUITE_ENV = {
    "MAX_UPLOAD_MB": "2", "MAX_VIDEO_SECONDS": "20", "MAX_DURATION_MISMATCH_S": "1.0",
    "UPLOAD_IDLE_TIMEOUT_S": "2", "UPLOAD_DEADLINE_S": "20", "UPLOAD_GRACE_S": "22", "HEADER_TIMEOUT_S": "3",
}
BOUNDARY = "reliability-boundary"

CALIBRATION = """[cam_a]
name = "cam_a"
size = [ 64.0, 64.0]
matrix = [ [ 60.0, 0.0, 32.0], [ 0.0, 60.0, 32.0], [ 0.0, 0.0, 1.0]]
distortions = [ 0.0, 0.0, 0.0, 0.0]
rotation = [ 0.0, 0.0, 0.0]
translation = [ 0.0, 0.0, 3.0]
fisheye = false

[cam_b]
name = "cam_b"
size = [ 64.0, 64.0]
matrix = [ [ 60.0, 0.0, 32.0], [ 0.0, 60.0, 32.0], [ 0.0, 0.0, 1.0]]
distortions = [ 0.0, 0.0, 0.0, 0.0]
rotation = [ 0.0, 1.5, 0.0]
translation = [ 0.0, 0.0, 3.0]
fisheye = false
"""


@dataclass
class Outcome:
    """What a case got back: the HTTP status (0: no answer, the connection was closed) and error code;
    for an accepted upload, the job id and the job's final status and error code."""

    status: int
    code: str | None = None
    job_id: str | None = None
    job_status: str | None = None
    job_code: str | None = None
    note: str = ""


@dataclass
class Ctx:
    """The running stack as the cases see it (one worker with one process: see :meth:`drain`)."""

    base_url: str
    port: int
    key: str
    other_key: str
    media: dict[str, Path]
    stack: Stack  # workers and Redis can be stopped and started
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=60.0, headers={"X-API-Key": self.key})

    def post(self, files: dict[str, tuple[str, bytes]], data: dict[str, str] | None = None,
             key: str | None = "default") -> httpx.Response:
        headers = {} if key == "default" else ({"X-API-Key": key} if key else {"X-API-Key": ""})
        parts = {name: (fname, content, "application/octet-stream") for name, (fname, content) in files.items()}
        return self.http.post("/jobs", files=parts, data=data or {}, headers=headers)

    def videos(self, front: str = "a", side: str = "b") -> dict[str, tuple[str, bytes]]:
        return {"front": (self.media[front].name, self.media[front].read_bytes()),
                "side": (self.media[side].name, self.media[side].read_bytes())}

    def wait(self, job_id: str, until: tuple[str, ...] = ("succeeded", "failed", "canceled"),
             timeout: float = 90.0) -> dict:
        def reached() -> dict | None:
            job = self.http.get(f"/jobs/{job_id}").json()
            return job if job["status"] in until else None

        return wait_until(reached, timeout=timeout, interval=0.2, message=f"job {job_id} not in {until}")

    def finished_job(self) -> str:
        r = self.post(self.videos())
        assert r.status_code == 202, r.text
        return str(self.wait(r.json()["id"])["id"])

    def drain(self) -> None:
        """Run one more job to its end, then delete it. The suite's stack has one worker with one
        process, which takes jobs in order: every job queued or running before this one has ended
        (run, stopped or skipped) once it has."""
        job_id = self.finished_job()
        r = self.http.delete(f"/jobs/{job_id}")
        assert r.status_code == 204, r.text

    def job_folders(self) -> set[str]:
        jobs = self.stack.data_dir / "jobs"
        return {p.name for p in jobs.iterdir()} if jobs.is_dir() else set()


@dataclass(frozen=True)
class Case:
    """One hostile request or event. ``status``/``code``: the answer it must get (``code`` None: not
    an error); ``job``: the final job status an accepted upload must reach (with ``job_code``)."""

    group: str
    what: str
    act: Callable[[Ctx], Outcome]
    status: int
    code: str | None = None
    job: str | None = None
    job_code: str | None = None

    @property
    def id(self) -> str:
        return f"{self.group}: {self.what}"


def answer(r: httpx.Response) -> Outcome:
    """An HTTP answer as an outcome; an accepted upload is followed to its end."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code == 202 and isinstance(body, dict):
        return Outcome(202, job_id=body["id"])
    code = body["error"]["code"] if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    return Outcome(r.status_code, code)


def raw(ans: raw_http.RawAnswer) -> Outcome:
    code = ans.body["error"]["code"] if ans.body and isinstance(ans.body.get("error"), dict) else None
    job_id = ans.body.get("id") if ans.body and ans.status == 202 else None
    return Outcome(ans.status, code, job_id=job_id, note=f"answered after {ans.seconds:.1f} s")


def upload(**overrides: tuple[str, bytes] | str | None) -> Callable[[Ctx], Outcome]:
    """Submit the two good videos with some parts replaced (``None``: left out); text fields as str."""
    def act(ctx: Ctx) -> Outcome:
        files: dict[str, tuple[str, bytes]] = dict(ctx.videos())
        data: dict[str, str] = {}
        for name, value in overrides.items():
            if value is None:
                files.pop(name, None)
            elif isinstance(value, str):
                data[name] = value
            else:
                files[name] = value
        return answer(ctx.post(files, data))
    return act


def media(front: str, side: str = "b", **data: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        return answer(ctx.post(ctx.videos(front, side), data))
    return act


def front_bytes(name: str, content: bytes) -> Callable[[Ctx], Outcome]:
    """The front video replaced by a file ``name`` holding ``content``."""
    def act(ctx: Ctx) -> Outcome:
        files = ctx.videos()
        files["front"] = (name, content)
        return answer(ctx.post(files))
    return act


def front_file_as(name: str, media_name: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        return front_bytes(name, ctx.media[media_name].read_bytes())(ctx)
    return act


def calibration(text: str | bytes, **names: str) -> Callable[[Ctx], Outcome]:
    data = {"front_camera": "cam_a", "side_camera": "cam_b", **names}
    content = text.encode() if isinstance(text, str) else text

    def act(ctx: Ctx) -> Outcome:
        files = {**ctx.videos(), "calibration": ("calibration.toml", content)}
        return answer(ctx.post(files, {k: v for k, v in data.items() if v}))
    return act


def calibration_edit(old: str, new: str) -> Callable[[Ctx], Outcome]:
    assert old in CALIBRATION, old
    return calibration(CALIBRATION.replace(old, new, 1))


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = BOUNDARY, close: bool = True) -> bytes:
    """A multipart body from (name, filename or None, content) parts."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


def post_head(ctx: Ctx, headers: dict[str, str]) -> bytes:
    """The head of a multipart ``POST /jobs`` with the suite's key and boundary."""
    hdrs = {"X-API-Key": ctx.key, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **headers}
    return raw_http.head("POST", "/jobs", ctx.port, hdrs)


def raw_post(ctx: Ctx, body: bytes | Iterator[bytes], headers: dict[str, str] | None = None,
             pause_s: float = 0.0, length: int | None = None) -> raw_http.RawAnswer:
    """``POST /jobs`` from a raw socket: ``body`` whole, or as pieces (chunked unless ``length`` is given)."""
    pieces = [body] if isinstance(body, bytes) else body
    hdrs = dict(headers or {})
    if length is not None:
        hdrs["Content-Length"] = str(length)
    elif isinstance(body, bytes):
        hdrs["Content-Length"] = str(len(body))
    else:
        hdrs["Transfer-Encoding"] = "chunked"
    return raw_http.exchange(ctx.port, [post_head(ctx, hdrs), *pieces], pause_s=pause_s)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"

"""The reliability suite's cases: hostile requests and events, each with the answer it must get.

Every case acts on the running stack (:class:`Ctx`) and returns what came back (:class:`Outcome`);
``tests/service/test_reliability.py`` runs each one and checks the answer's status and error code, the
final job state for accepted uploads, that nothing was left on disk or in Redis, and that the API
stays healthy. The README's reliability table is :func:`markdown_table` of :data:`CASES` (a test keeps
the two identical): ``python -m tests.service.reliability`` prints it.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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
    """The running stack as the cases see it."""

    base_url: str
    port: int
    key: str
    other_key: str
    media: dict[str, Path]
    stack: object  # app.stack.Stack (workers and Redis can be stopped and started)
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
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.http.get(f"/jobs/{job_id}").json()
            if job["status"] in until:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} not in {until} after {timeout} s")

    def finished_job(self) -> str:
        r = self.post(self.videos())
        assert r.status_code == 202, r.text
        return str(self.wait(r.json()["id"])["id"])


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


def _answer(r: httpx.Response) -> Outcome:
    """An HTTP answer as an outcome; an accepted upload is followed to its end."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code == 202 and isinstance(body, dict):
        return Outcome(202, job_id=body["id"])
    code = body["error"]["code"] if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    return Outcome(r.status_code, code)


def _raw(ans: raw_http.RawAnswer) -> Outcome:
    code = ans.body["error"]["code"] if ans.body and isinstance(ans.body.get("error"), dict) else None
    job_id = ans.body.get("id") if ans.body and ans.status == 202 else None
    return Outcome(ans.status, code, job_id=job_id, note=f"answered after {ans.seconds:.1f} s")


def _upload(**overrides: tuple[str, bytes] | None) -> Callable[[Ctx], Outcome]:
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
        return _answer(ctx.post(files, data))
    return act


def _media(front: str, side: str = "b", **data: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        return _answer(ctx.post(ctx.videos(front, side), data))
    return act


def _bytes(name: str, content: bytes) -> Callable[[Ctx], Outcome]:
    """The front video replaced by a file ``name`` holding ``content``."""
    def act(ctx: Ctx) -> Outcome:
        files = ctx.videos()
        files["front"] = (name, content)
        return _answer(ctx.post(files))
    return act


def _file_as(name: str, media: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        return _bytes(name, ctx.media[media].read_bytes())(ctx)
    return act


def _calibration(text: str | bytes, **names: str) -> Callable[[Ctx], Outcome]:
    data = {"front_camera": "cam_a", "side_camera": "cam_b", **names}
    content = text.encode() if isinstance(text, str) else text

    def act(ctx: Ctx) -> Outcome:
        files = {**ctx.videos(), "calibration": ("calibration.toml", content)}
        return _answer(ctx.post(files, {k: v for k, v in data.items() if v}))
    return act


def _calibration_edit(old: str, new: str) -> Callable[[Ctx], Outcome]:
    assert old in CALIBRATION, old
    return _calibration(CALIBRATION.replace(old, new, 1))


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = BOUNDARY, close: bool = True) -> bytes:
    """A multipart body from (name, filename or None, content) parts."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


def _raw_post(ctx: Ctx, body: bytes | Iterator[bytes], headers: dict[str, str] | None = None,
              pause_s: float = 0.0, length: int | None = None) -> raw_http.RawAnswer:
    pieces = [body] if isinstance(body, bytes) else body
    hdrs = {"X-API-Key": ctx.key, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **(headers or {})}
    if length is not None:
        hdrs["Content-Length"] = str(length)
    elif isinstance(body, bytes):
        hdrs["Content-Length"] = str(len(body))
    else:
        hdrs["Transfer-Encoding"] = "chunked"
    return raw_http.exchange(ctx.port, [raw_http.head("POST", "/jobs", ctx.port, hdrs), *pieces], pause_s=pause_s)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# ---- the body and the connection -------------------------------------------------------------------------------

def _declared_too_long(ctx: Ctx) -> Outcome:
    return _raw(_raw_post(ctx, b"--x\r\n", length=2 * 1024**3))


def _chunked_over_limit(ctx: Ctx) -> Outcome:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="front"; filename="a.mp4"\r\n\r\n'.encode()
    zeros = (_chunk(b"\0" * 65536) for _ in range(800))  # 50 MiB for a 2 MB limit
    return _raw(_raw_post(ctx, iter([_chunk(head), *zeros])))


def _stalled(ctx: Ctx) -> Outcome:
    body = _multipart([("front", "a.mp4", ctx.media["a"].read_bytes())], close=False)
    return _raw(_raw_post(ctx, iter([body[:5000]]), length=len(body) + 100_000))


def _trickle(ctx: Ctx) -> Outcome:
    """1 KB a second: never idle for UPLOAD_IDLE_TIMEOUT_S (2 s), still arriving at UPLOAD_DEADLINE_S (20 s)."""
    head = _multipart([("front", "a.mp4", b"")], close=False)[:-2]
    return _raw(_raw_post(ctx, iter([_chunk(head), *(_chunk(b"\0" * 1024) for _ in range(40))]), pause_s=1.0))


def _slow_head(ctx: Ctx) -> Outcome:
    """A request head sent one header line a second: HEADER_TIMEOUT_S (3 s) ends it."""
    lines = [b"POST /jobs HTTP/1.1\r\n", *(f"X-Pad-{i}: x\r\n".encode() for i in range(20))]
    return _raw(raw_http.exchange(ctx.port, lines, pause_s=1.0))


def _silent_connection(ctx: Ctx) -> Outcome:
    return _raw(raw_http.exchange(ctx.port, [], wait_s=20.0))


def _disconnect_mid_upload(ctx: Ctx) -> Outcome:
    """The client goes away half-way through the front video."""
    import socket

    body = _multipart([("front", "a.mp4", ctx.media["a"].read_bytes())], close=False)
    hdrs = {"X-API-Key": ctx.key, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(body) + 50_000)}
    with socket.create_connection(("127.0.0.1", ctx.port)) as sock:
        sock.sendall(raw_http.head("POST", "/jobs", ctx.port, hdrs) + body[: len(body) // 2])
        time.sleep(0.5)
    time.sleep(1.0)  # the API notices the disconnect and removes the folder
    return Outcome(0, note="client closed the connection")


def _huge_header(ctx: Ctx) -> Outcome:
    return _raw(raw_http.exchange(ctx.port, [raw_http.head("GET", "/jobs", ctx.port, {
        "X-API-Key": ctx.key, "X-Junk": "x" * 200_000})]))


# ---- jobs and their lifecycle ----------------------------------------------------------------------------------

def _other_owner(method: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        job_id = ctx.finished_job()
        r = ctx.http.request(method, f"/jobs/{job_id}", headers={"X-API-Key": ctx.other_key})
        ctx.http.delete(f"/jobs/{job_id}")
        return _answer(r)
    return act


def _get_path(path: str, key: str | None = "default", method: str = "GET") -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        headers = {} if key == "default" else {"X-API-Key": key or ""}
        return _answer(ctx.http.request(method, path, headers=headers))
    return act


def _on_finished_job(path: str, method: str = "GET") -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        job_id = ctx.finished_job()
        r = ctx.http.request(method, f"/jobs/{job_id}{path}")
        ctx.http.delete(f"/jobs/{job_id}")
        return _answer(r)
    return act


def _result_of_running_job(ctx: Ctx) -> Outcome:
    r = ctx.post(ctx.videos(), {"offset_frames": "20"})  # 2 s a stage in the stand-in pipeline
    job_id = r.json()["id"]
    ctx.wait(job_id, until=("running",))
    got = ctx.http.get(f"/jobs/{job_id}/results/kinematics.mot")
    ctx.http.delete(f"/jobs/{job_id}")  # cancel
    ctx.http.delete(f"/jobs/{job_id}")  # and delete the record
    return _answer(got)


def _delete_twice(ctx: Ctx) -> Outcome:
    job_id = ctx.finished_job()
    first = ctx.http.delete(f"/jobs/{job_id}")
    assert first.status_code == 204, first.text
    return _answer(ctx.http.delete(f"/jobs/{job_id}"))


def _cancel_running(ctx: Ctx) -> Outcome:
    """Cancel while the task runs; the task ends later and must not overwrite the cancel."""
    job_id = ctx.post(ctx.videos(), {"offset_frames": "10"}).json()["id"]  # 1 s a stage
    ctx.wait(job_id, until=("running",))
    r = ctx.http.delete(f"/jobs/{job_id}")
    time.sleep(2.5)  # the task notices at its next progress report and stops
    job = ctx.http.get(f"/jobs/{job_id}").json()
    return Outcome(r.status_code, job_id=job_id, job_status=job["status"],
                   job_code=(job.get("error") or {}).get("code"))


def _cancel_queued(ctx: Ctx) -> Outcome:
    """The one worker is busy; the second job is canceled before it starts, and never runs."""
    busy = ctx.post(ctx.videos(), {"offset_frames": "10"}).json()["id"]
    ctx.wait(busy, until=("running",))
    job_id = ctx.post(ctx.videos()).json()["id"]
    r = ctx.http.delete(f"/jobs/{job_id}")
    ctx.wait(busy)
    ctx.http.delete(f"/jobs/{busy}")
    time.sleep(0.5)
    job = ctx.http.get(f"/jobs/{job_id}").json()
    assert job["started_at"] is None, f"the canceled job ran: {job}"
    return Outcome(r.status_code, job_id=job_id, job_status=job["status"],
                   job_code=(job.get("error") or {}).get("code"))


def _worker_starts_during_upload(ctx: Ctx) -> Outcome:
    """A new worker starts (its start-up cleanup removes job folders without a record) while an upload
    is still arriving; the upload must survive and run."""
    body = _multipart([("front", "a.mp4", ctx.media["a"].read_bytes()), ("side", "b.mp4", ctx.media["b"].read_bytes())])
    stack = ctx.stack
    log = Path(stack.data_dir) / "worker_extra.log"  # type: ignore[attr-defined]
    ready = threading.Event()

    def pieces() -> Iterator[bytes]:
        pos = len(body) // 2
        yield body[:pos]
        stack.start_worker("worker_extra")  # type: ignore[attr-defined]
        deadline = time.time() + 15.0  # a busy CI machine starts a worker in a few seconds
        while time.time() < deadline and pos < len(body) - 50:
            if b"ready" in (log.read_bytes() if log.exists() else b""):
                ready.set()
                time.sleep(1.0)  # its start-up sweep has run by now
                break
            yield body[pos:pos + 50]  # a trickle (the videos are ~2.4 KB): the upload stays alive meanwhile
            pos += 50
            time.sleep(0.5)
        yield body[pos:]

    head = raw_http.head("POST", "/jobs", ctx.port, {
        "X-API-Key": ctx.key, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(len(body))})
    ans = raw_http.exchange(ctx.port, itertools.chain([head], pieces()))
    stack.stop("worker_extra")  # type: ignore[attr-defined]
    assert ready.is_set(), "the new worker was not ready before the upload ended: the case tested nothing"
    return _raw(ans)


def _redis_down(method: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        stack = ctx.stack
        stack.stop_redis_server()  # type: ignore[attr-defined]
        try:
            r = ctx.post(ctx.videos()) if method == "POST" else ctx.http.get("/jobs")
            health = ctx.http.get("/healthz").status_code
        finally:
            stack.start_redis_server()  # type: ignore[attr-defined]
            stack.wait_http("/readyz", timeout=60.0)  # type: ignore[attr-defined]
        out = _answer(r)
        out.note = f"/healthz {health} while Redis was down"
        return out
    return act


# ---- the cases -------------------------------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CASES: list[Case] = [
    # video files
    Case("video", "empty front file (0 bytes)", _bytes("a.mp4", b""), 400, "video_empty"),
    Case("video", "truncated MP4 (first third)", lambda c: _bytes("a.mp4", c.media["a"].read_bytes()[
        :c.media["a"].stat().st_size // 3])(c),
         400, "video_undecodable"),
    Case("video", "text file named .mp4", _bytes("a.mp4", b"not a video\n" * 100), 400, "video_undecodable"),
    Case("video", "PNG picture named .mp4", _file_as("a.mp4", "png"), 400, "video_too_short"),
    Case("video", "PNG picture named .png", _file_as("a.png", "png"), 415, "unsupported_media_type"),
    Case("video", "video named .txt", _file_as("notes.txt", "a"), 415, "unsupported_media_type"),
    Case("video", "file name without a suffix", _file_as("front", "a"), 415, "unsupported_media_type"),
    Case("video", "audio-only MP4", _file_as("a.mp4", "audio"), 400, "video_undecodable"),
    Case("video", "3 MB file over MAX_UPLOAD_MB=2", _bytes("a.mp4", b"\0" * (3 * 1024 * 1024)), 413,
         "payload_too_large"),
    Case("video", "21 s video over MAX_VIDEO_SECONDS=20", _media("toolong", "toolong"), 413, "video_too_long"),
    Case("video", "3 stills over 12 s", _media("stills"), 400, "video_frame_rate"),
    Case("video", "30 fps video with a 10 s hole", _media("gap", "gap"), 400, "video_sparse"),
    Case("video", "15 frames (0.5 s)", _media("short", "short"), 400, "video_too_short"),
    Case("video", "1 s and 4 s videos", _media("a", "long"), 400, "duration_mismatch"),
    Case("video", "file name with ../ (path traversal)", _file_as("../../../evil.mp4", "a"), 202, job="succeeded"),
    Case("video", "non-ASCII file name", _file_as("läufer 🏃 ü.mp4", "a"), 202, job="succeeded"),
    Case("video", "the same video as front and side", _media("a", "a"), 202, job="succeeded"),
    # form fields
    Case("form", "side missing", _upload(side=None), 422, "invalid_request"),
    Case("form", "front missing", _upload(front=None), 422, "invalid_request"),
    Case("form", "no parts at all", lambda c: _raw(_raw_post(c, _multipart([]))), 422, "invalid_request"),
    Case("form", "front sent twice", lambda c: _raw(_raw_post(c, _multipart([
        ("front", "a.mp4", c.media["a"].read_bytes()), ("front", "b.mp4", c.media["b"].read_bytes())]))),
        422, "invalid_request"),
    Case("form", "unknown field", _upload(evil="1"), 422, "invalid_request"),
    Case("form", "front as a text field", lambda c: _raw(_raw_post(c, _multipart([
        ("front", None, b"hello"), ("side", "b.mp4", c.media["b"].read_bytes())]))), 422, "invalid_request"),
    Case("form", "height_m as a file", _upload(height_m=("h.txt", b"1.8")), 422, "invalid_request"),
    Case("form", "height_m = 7", _upload(height_m="7"), 422, "invalid_request"),
    Case("form", "height_m = abc", _upload(height_m="abc"), 422, "invalid_request"),
    Case("form", "height_m = nan", _upload(height_m="nan"), 422, "invalid_request"),
    Case("form", "height_m = inf", _upload(height_m="inf"), 422, "invalid_request"),
    Case("form", "mass_kg = -5", _upload(mass_kg="-5"), 422, "invalid_request"),
    Case("form", "offset_frames = 1.5", _upload(offset_frames="1.5"), 422, "invalid_request"),
    Case("form", "offset_frames = 10^30", _upload(offset_frames="1" + "0" * 30), 422, "invalid_request"),
    Case("form", "refine = magic", _upload(refine="magic"), 422, "invalid_request"),
    Case("form", "overlay = maybe", _upload(overlay="maybe"), 422, "invalid_request"),
    Case("form", "subject = biggest", _upload(subject="biggest"), 422, "invalid_request"),
    Case("form", "subject = -1,5", _upload(subject="-1,5"), 422, "invalid_request"),
    Case("form", "2 KB text field", _upload(front_camera="x" * 2048), 413, "payload_too_large"),
    Case("form", "text field not UTF-8", lambda c: _raw(_raw_post(c, _multipart([
        ("front", "a.mp4", c.media["a"].read_bytes()), ("side", "b.mp4", c.media["b"].read_bytes()),
        ("refine", None, b"\xff\xfe\xfa")]))), 422, "invalid_request"),
    Case("form", "camera names without a calibration", _upload(front_camera="cam_a", side_camera="cam_b"), 422,
         "invalid_request"),
    Case("form", "literal null in optional fields", _upload(height_m="null", mass_kg="", offset_frames="null"),
         202, job="succeeded"),
    # the body and the connection
    Case("body", "JSON body", lambda c: _answer(c.http.post("/jobs", json={"front": "a.mp4"})), 422,
         "invalid_request"),
    Case("body", "urlencoded form", lambda c: _answer(c.http.post("/jobs", data={"front": "a.mp4"})), 422,
         "invalid_request"),
    Case("body", "multipart without a boundary", lambda c: _answer(c.http.post(
        "/jobs", content=b"x", headers={"Content-Type": "multipart/form-data"})), 422, "invalid_request"),
    Case("body", "garbage after the boundary", lambda c: _raw(_raw_post(
        c, f"--{BOUNDARY}\r\n".encode() + b"\x00\x01garbage" + b"\r\n" * 3)), 400, "bad_request"),
    Case("body", "body ends before the closing boundary", lambda c: _raw(_raw_post(c, _multipart([
        ("front", "a.mp4", c.media["a"].read_bytes())], close=False))), 400, "bad_request"),
    Case("body", "part without Content-Disposition", lambda c: _raw(_raw_post(
        c, f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode())), 400, "bad_request"),
    Case("body", "declared Content-Length of 2 GB, small body", _declared_too_long, 413, "payload_too_large"),
    Case("body", "50 MiB chunked body, no Content-Length", _chunked_over_limit, 413, "payload_too_large"),
    Case("body", "body stalls half-way (idle 2 s)", _stalled, 408, "request_timeout"),
    Case("body", "1 KB a second (deadline 20 s)", _trickle, 408, "request_timeout"),
    Case("body", "request head one line a second (header timeout 3 s)", _slow_head, 408, "request_timeout"),
    Case("body", "connection opened, nothing sent", _silent_connection, 408, "request_timeout"),
    Case("body", "client disconnects half-way", _disconnect_mid_upload, 0),
    Case("body", "200 KB request header", _huge_header, 431, "request_header_too_large"),
    Case("body", "not HTTP at all", lambda c: _raw(raw_http.exchange(c.port, [b"\x16\x03\x01 hello TLS?\r\n\r\n"])),
         400, "bad_request"),
    # calibration
    Case("calibration", "malformed TOML", _calibration("[cam_a\nmatrix = ("), 400, "calibration_invalid"),
    Case("calibration", "distortions is a string",
         _calibration_edit("distortions = [ 0.0, 0.0, 0.0, 0.0]", 'distortions = "abc"'), 400, "calibration_invalid"),
    Case("calibration", "size = [0, 0]", _calibration_edit("size = [ 64.0, 64.0]", "size = [ 0.0, 0.0]"), 400,
         "calibration_invalid"),
    Case("calibration", "3000-deep nested arrays", _calibration_edit(
        "[cam_a]", "deep = " + "[" * 3000 + "]" * 3000 + "\n[cam_a]"), 400, "calibration_invalid"),
    Case("calibration", "NaN in the matrix", _calibration_edit("[ 60.0, 0.0, 32.0]", "[ nan, 0.0, 32.0]"), 400,
         "calibration_invalid"),
    Case("calibration", "rotation missing", _calibration_edit("rotation = [ 0.0, 0.0, 0.0]\n", ""), 400,
         "calibration_invalid"),
    Case("calibration", "rotation of two numbers", _calibration_edit("rotation = [ 0.0, 0.0, 0.0]",
                                                                     "rotation = [ 0.0, 0.0]"), 400,
         "calibration_invalid"),
    Case("calibration", "empty file", _calibration(""), 400, "calibration_invalid"),
    Case("calibration", "binary garbage", _calibration(bytes(range(256)) * 4), 400, "calibration_invalid"),
    Case("calibration", "1.5 MiB file", _calibration("#" * (1536 * 1024)), 413, "payload_too_large"),
    Case("calibration", "unknown camera name", _calibration(CALIBRATION, side_camera="cam_z"), 400,
         "camera_not_found"),
    Case("calibration", "the same camera for both views", _calibration(CALIBRATION, side_camera="cam_a"), 400,
         "camera_not_found"),
    Case("calibration", "one camera named, not the other", _calibration(CALIBRATION, side_camera=""), 400,
         "camera_not_found"),
    Case("calibration", "videos 128×64, calibration 64×64", lambda c: _answer(c.post(
        {**c.videos("wide", "wide"), "calibration": ("c.toml", CALIBRATION.encode())},
        {"front_camera": "cam_a", "side_camera": "cam_b"})), 400, "calibration_invalid"),
    Case("calibration", "good calibration (control)", _calibration(CALIBRATION), 202, job="succeeded"),
    # keys, jobs, routes
    Case("access", "no API key", lambda c: _answer(c.post(c.videos(), key=None)), 401, "unauthorized"),
    Case("access", "wrong API key", _get_path("/jobs", key="wrong-key"), 401, "unauthorized"),
    Case("access", "another key's job: GET", _other_owner("GET"), 404, "not_found"),
    Case("access", "another key's job: DELETE", _other_owner("DELETE"), 404, "not_found"),
    Case("access", "unknown job id", _get_path("/jobs/0123456789abcdef"), 404, "not_found"),
    Case("access", "job id with ../", _get_path("/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "not_found"),
    Case("access", "result name with ../", _on_finished_job("/results/..%2F..%2Finput%2Ffront.mp4"), 404,
         "not_found"),
    Case("access", "unknown result name", _on_finished_job("/results/kinematics.sto"), 404, "not_found"),
    Case("access", "result of a running job", _result_of_running_job, 404, "not_found"),
    Case("access", "delete a deleted job", _delete_twice, 404, "not_found"),
    Case("routes", "GET /jobs?limit=1000", _get_path("/jobs?limit=1000"), 422, "invalid_request"),
    Case("routes", "GET /jobs?offset=10^20", _get_path("/jobs?offset=100000000000000000000"), 422, "invalid_request"),
    Case("routes", "GET /jobs?offset=-1", _get_path("/jobs?offset=-1"), 422, "invalid_request"),
    Case("routes", "GET /jobs?limit=abc", _get_path("/jobs?limit=abc"), 422, "invalid_request"),
    Case("routes", "PUT /jobs", _get_path("/jobs", method="PUT"), 405, "method_not_allowed"),
    Case("routes", "PATCH /jobs/{id}", _on_finished_job("", method="PATCH"), 405, "method_not_allowed"),
    Case("routes", "unknown route", _get_path("/admin"), 404, "not_found"),
    # lifecycle and outages
    Case("lifecycle", "cancel a running job", _cancel_running, 200, job="canceled"),
    Case("lifecycle", "cancel a queued job", _cancel_queued, 200, job="canceled"),
    Case("lifecycle", "a worker starts while an upload arrives", _worker_starts_during_upload, 202, job="succeeded"),
    Case("lifecycle", "Redis down: POST /jobs", _redis_down("POST"), 503, "unavailable"),
    Case("lifecycle", "Redis down: GET /jobs", _redis_down("GET"), 503, "unavailable"),
]


def markdown_table() -> str:
    """The README's reliability table: one row per case."""
    rows = ["| # | case | answer | job ends | leftovers |", "| --- | --- | --- | --- | --- |"]
    for i, c in enumerate(CASES, 1):
        answer = "connection closed by the client" if c.status == 0 else f"{c.status} `{c.code}`" if c.code \
            else str(c.status)
        job = f"`{c.job}`" + (f" `{c.job_code}`" if c.job_code else "") if c.job else "—"
        rows.append(f"| {i} | {c.group}: {c.what} | {answer} | {job} | none |")
    return "\n".join(rows)


def main() -> None:
    print(markdown_table())


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()

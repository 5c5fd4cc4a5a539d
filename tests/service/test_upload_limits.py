"""Upload limits enforced as the bytes arrive, and slow clients timed out, against the real stack
(uvicorn + Celery + a private Redis, on free ports) with MAX_UPLOAD_MB=5 and a 2 s idle timeout.

Over-limit bodies are sent from a raw socket that counts what it has sent when the answer arrives;
the API logs how many body bytes it had read when it refused."""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Iterator

import pytest
import redis

from tests.service import raw_http
from tests.service.conftest import KEY_A, STAND_IN_WORKER, Client, make_stack
from worker.jobs import PREFIX

pytestmark = pytest.mark.service

MAX_MB = 5
MIB = 1 << 20
IDLE_S = 2.0
BOUNDARY = "limits-test-boundary"


@pytest.fixture(scope="module")
def limits_stack(tmp_path_factory):
    with make_stack(tmp_path_factory.mktemp("limits"), {"MAX_UPLOAD_MB": str(MAX_MB),
                   "UPLOAD_IDLE_TIMEOUT_S": str(IDLE_S)}, worker_app=STAND_IN_WORKER) as s:
        yield s


@pytest.fixture()
def limits_client(limits_stack):
    return Client(limits_stack.base_url, KEY_A)


def _records(stack) -> set[bytes]:
    return set(redis.Redis(port=stack.redis_port, db=13).keys(f"{PREFIX}:job:*"))


def _orphan_folders(stack) -> list[str]:
    """Job folders without a job record: what a refused upload would leave on disk."""
    jobs = stack.data_dir / "jobs"
    folders = sorted(p.name for p in jobs.iterdir()) if jobs.is_dir() else []
    records = _records(stack)
    return [f for f in folders if f"{PREFIX}:job:{f}".encode() not in records]


@pytest.fixture()
def nothing_left(limits_stack):
    """After the test: no job folder without a record, and no new record."""
    before = _records(limits_stack)
    yield
    assert _orphan_folders(limits_stack) == [] and _records(limits_stack) == before


def _refused_after(stack) -> int:
    """Body bytes the API had read when it last refused an upload (from its log)."""
    found = re.findall(rb"refused \(\d+ \w+\) after (\d+) body bytes", (stack.data_dir / "api.log").read_bytes())
    assert found, "the API logged no refusal"
    return int(found[-1])


def _part_head(name: str, filename: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()


def _head(port: int, headers: dict[str, str]) -> bytes:
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    return raw_http.head("POST", "/jobs", port, {"X-API-Key": KEY_A, "Content-Type": multipart, **headers})


def _chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


class RawPost:
    """POST /jobs from a raw socket (small send buffer): sends until the answer arrives, counting bytes."""

    def __init__(self, stack, headers: dict[str, str]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        self.sock.sendall(_head(stack.port, headers))
        self.t0 = time.monotonic()
        self.sent = 0

    def send_until_answer(self, body: Iterator[bytes], wait_s: float = 30.0) -> None:
        pending = b""
        while True:
            readable, writable, _ = select.select([self.sock], [self.sock], [], wait_s)
            if readable or not writable:
                return  # the answer (or a close) is here, or nothing moves
            if not pending:
                pending = next(body, b"")
                if not pending:
                    return
            try:
                n = self.sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                return
            self.sent += n
            pending = pending[n:]

    def answer(self) -> tuple[int, dict, float]:
        """Status, JSON body and seconds since the head was sent."""
        got = raw_http.read_answer(self.sock, self.t0)
        self.sock.close()
        assert got.status, "connection closed without an answer"
        self.headers = got.headers
        return got.status, got.body, got.seconds


def _zeros(total: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    block = b"\0" * piece
    for _ in range(total // piece):
        yield block


def test_chunked_over_limit_upload_is_refused_as_bytes_arrive(limits_stack, nothing_left):
    """400 MB chunked (no Content-Length) for a 5 MB limit: 413 after at most limit + 1 MiB read."""
    post = RawPost(limits_stack, {"Transfer-Encoding": "chunked"})
    post.send_until_answer(_chunked(iter([_part_head("front", "big.mp4"), *_zeros(400 * MIB)])))
    status, body, elapsed = post.answer()
    assert status == 413 and body["error"]["code"] == "payload_too_large", body
    assert "front" in body["error"]["message"] and f"{MAX_MB} MB" in body["error"]["message"]
    assert "connection: close" in post.headers  # the server stops reading the rest
    read = _refused_after(limits_stack)
    print(f"413 after {read} body bytes read by the API, {post.sent} sent by the client, {elapsed:.2f} s")
    assert MAX_MB * MIB < read <= MAX_MB * MIB + MIB
    assert post.sent <= MAX_MB * MIB + 8 * MIB  # what was read + the socket buffers: far from 400 MB


def test_total_limit_is_enforced_while_receiving(limits_stack, nothing_left):
    """Each file under its limit, but the body (with an epilogue after the closing boundary) over the total."""
    pieces = [_part_head("front", "a.mp4"), *_zeros(4 * MIB), b"\r\n", _part_head("side", "b.mp4"), *_zeros(4 * MIB),
              f"\r\n--{BOUNDARY}--\r\n".encode(), *_zeros(8 * MIB)]
    post = RawPost(limits_stack, {"Transfer-Encoding": "chunked"})
    post.send_until_answer(_chunked(iter(pieces)))
    status, body, _ = post.answer()
    assert status == 413 and "request body is over" in body["error"]["message"], body
    limit = 2 * MAX_MB * MIB + MIB + 64 * 1024
    assert limit < _refused_after(limits_stack) <= limit + MIB


def test_declared_length_over_limit_is_refused_before_reading(limits_stack, nothing_left):
    post = RawPost(limits_stack, {"Content-Length": str(2 << 30)})
    post.send_until_answer(iter([_part_head("front", "big.mp4"), b"\0" * 1024]))
    status, body, _ = post.answer()
    assert status == 413 and body["error"]["code"] == "payload_too_large", body
    # refused on the declared length (the head check names it), not after reading or waiting for the body
    assert "the request body (2048.0 MB)" in body["error"]["message"], body
    assert post.sent < 2048


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_stalled_upload_is_answered_408_and_dropped(limits_stack, framing, nothing_left):
    """Headers and part of the body, then nothing: 408 after the idle timeout, nothing left on disk."""
    part = [_part_head("front", "a.mp4"), b"\0" * (200 * 1024)]
    if framing == "chunked":
        post = RawPost(limits_stack, {"Transfer-Encoding": "chunked"})
        pieces = iter([f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in part])
    else:
        post = RawPost(limits_stack, {"Content-Length": str(MIB)})
        pieces = iter(part)
    post.send_until_answer(pieces, wait_s=IDLE_S + 5)
    status, body, elapsed = post.answer()
    print(f"408 ({framing}) {elapsed:.2f} s after the head (idle timeout {IDLE_S} s)")
    assert status == 408 and body["error"]["code"] == "request_timeout", body
    # the idle timeout answered (not the upload deadline), and not before it ran out: a busy machine can
    # only make the answer later, so this cannot flake (no upper bound on the time: that is a benchmark's job)
    assert f"no upload data arrived for {IDLE_S:g} s" in body["error"]["message"], body
    assert elapsed >= IDLE_S * 0.9


def test_normal_upload_still_runs(limits_client, videos):
    r = limits_client.submit(videos["a"], videos["b"], height_m="1.75", overlay="false", offset_frames="")
    assert r.status_code == 202, r.text
    job = limits_client.wait(r.json()["id"])
    assert job["status"] == "succeeded", job


def test_python_client_gets_the_413_for_a_big_file(limits_client, videos, tmp_path, nothing_left):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (MAX_MB * MIB + 3 * MIB))
    r = limits_client.submit(big, videos["b"])
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", r.text


@pytest.mark.parametrize(("files", "data", "words"), [
    ([("front", "a"), ("front", "a"), ("side", "b")], {}, ["front", "twice"]),
    ([("front", "a"), ("side", "b")], {"colour": "red"}, ["unknown field", "colour"]),
    ([("front", "a"), ("side", "b")], {"height_m": "1.8", "mass_kg": "abc"}, ["mass_kg"]),
    ([("front", "a"), ("side", "b")], {"offset_frames": "601"}, ["offset_frames"]),
    ([("front", "a")], {"side": "not a file"}, ["side", "must be a file"]),
    ([("front", "a"), ("side", "b"), ("height_m", "a")], {}, ["height_m", "text field"]),
])
def test_bad_fields_are_422(limits_client, videos, files, data, words, nothing_left):
    parts = [(name, (videos[v].name, videos[v].read_bytes(), "video/mp4")) for name, v in files]
    r = limits_client.http.post("/jobs", files=parts, data=data)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", r.text
    assert all(w in r.json()["error"]["message"] for w in words), r.text


@pytest.mark.parametrize(("content_type", "body"), [
    (f"multipart/form-data; boundary={BOUNDARY}", b"no boundary here at all"),
    (f"multipart/form-data; boundary={BOUNDARY}", _part_head("front", "a.mp4") + b"cut short"),
    ("multipart/form-data; boundary=" + "b" * 300, b"--" + b"b" * 300 + b"\r\n"),
    (f"multipart/form-data; boundary={BOUNDARY}",
     f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--{BOUNDARY}--\r\n".encode()),
])
def test_malformed_multipart_is_400(limits_client, content_type, body, nothing_left):
    r = limits_client.http.post("/jobs", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text


def test_non_multipart_body_is_422(limits_client, nothing_left):
    r = limits_client.http.post("/jobs", json={"front": "x"})
    assert r.status_code == 422 and "multipart/form-data" in r.json()["error"]["message"], r.text


def test_openapi_describes_the_multipart_body(limits_client):
    body = limits_client.http.get("/openapi.json").json()["paths"]["/jobs"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["front", "side"]
    for name in ("front", "side", "calibration"):
        assert schema["properties"][name] == {**schema["properties"][name], "type": "string", "format": "binary"}
    assert {"front_camera", "side_camera", "offset_frames", "height_m", "mass_kg", "refine", "overlay"} \
        <= set(schema["properties"])
    assert "408" in limits_client.http.get("/openapi.json").json()["paths"]["/jobs"]["post"]["responses"]


def test_api_still_healthy_afterwards(limits_client, limits_stack):
    assert limits_client.http.get("/healthz").status_code == 200
    assert limits_stack.procs["api"].poll() is None
    log = (limits_stack.data_dir / "api.log").read_text()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]

"""HTTP/1.1 from a raw socket, for requests no HTTP client will send: wrong lengths, slow heads, bodies
that stall, trickle or stop half-way. Only what the tests read is parsed (status line and a JSON body)."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class RawAnswer:
    status: int  # 0: the server closed the connection without an answer
    body: dict | None  # the JSON body, when there is one
    seconds: float  # from the first byte sent to the answer's head
    headers: str = ""  # the answer's head, lower case


def head(method: str, path: str, port: int, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def pace(seconds: float) -> None:
    """Hold a deliberately slow client back between two pieces it sends (a trickle, a head sent line by
    line, a stall): this paces the hostile client, it does not wait for the server."""
    time.sleep(seconds)


def exchange(port: int, pieces: Iterable[bytes], pause_s: float = 0.0, wait_s: float = 30.0) -> RawAnswer:
    """Send ``pieces`` one after another (paced ``pause_s`` apart, and stopping early if the server
    answers or closes), then read the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait_s)
    t0 = time.monotonic()
    try:
        for i, piece in enumerate(pieces):
            if i and pause_s:
                pace(pause_s)
            if _answered(sock):
                break
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        return read_answer(sock, t0)
    finally:
        sock.close()


def _answered(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    except (ConnectionResetError, OSError):
        return True
    finally:
        sock.setblocking(True)


def read_answer(sock: socket.socket, t0: float) -> RawAnswer:
    """Read one answer from ``sock`` (``t0``: ``time.monotonic()`` when the request started)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                return RawAnswer(0, None, time.monotonic() - t0)
            data += piece
    except (ConnectionResetError, TimeoutError):
        return RawAnswer(0, None, time.monotonic() - t0)
    seconds = time.monotonic() - t0
    top, _, rest = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)content-length: *(\d+)", top)
    length = int(found.group(1)) if found else 0
    try:
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
    except (ConnectionResetError, TimeoutError):
        pass
    try:
        body = json.loads(rest[:length]) if length else None
    except ValueError:
        body = None
    return RawAnswer(int(top.split()[1]), body, seconds, top.decode().lower())

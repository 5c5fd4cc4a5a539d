"""uvicorn's httptools protocol with a deadline on each request head (``HEADER_TIMEOUT_S``).

Why hand-written: uvicorn has no timeout for a request head that arrives slowly (a client can hold a
connection open forever by sending one header byte at a time: "slowloris"); its keep-alive timeout
only covers the wait *between* requests, and the body is covered by the API's own idle timeout and
deadline (``app.upload_stream``). In the compose deployment nginx's ``client_header_timeout`` does
this job; this class gives a bare ``uvicorn`` (``python -m app.stack``, a plain container) the same
protection. Start uvicorn with ``--http app.core.http_protocol:HeadTimeoutProtocol``.

The timer starts when a connection opens and when the next request on a kept-alive connection begins,
and stops once the head is complete. When it fires, the client gets a 408 in the API's JSON shape and
the connection is closed. A head larger than :data:`MAX_HEAD_BYTES` (uvicorn's httptools parser has no
limit, and keeps what it has received in memory) is answered 431; a request the HTTP parser refuses
gets its 400 in the same JSON shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.errors import error_body
from worker.settings import get_settings

log = logging.getLogger(__name__)

#: Largest request head (request line and headers, bytes), as nginx's ``large_client_header_buffers 4 16k``.
MAX_HEAD_BYTES = 64 * 1024


def _answer(status: str, code: str, message: str) -> bytes:
    """A whole HTTP response in the API's JSON error shape, for answers given before the app sees the request."""
    body = json.dumps(error_body(code, message)).encode()
    head = (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode()
    return head + body


class HeadTimeoutProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that answers 408 and closes a connection whose request head takes
    longer than ``HEADER_TIMEOUT_S`` seconds to arrive (from the connection's start, or from the first
    byte of a later request on the same connection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout_s = get_settings().header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is None or self.transport.is_closing():
            return
        self._head_bytes += len(data)  # the head is still incomplete, so all of this was head
        if self._head_bytes > MAX_HEAD_BYTES:
            self._disarm_head_timer()
            log.warning("request head from %s over %d bytes: closing", self.client, MAX_HEAD_BYTES)
            self.transport.write(_answer("431 Request Header Fields Too Large", "request_header_too_large",
                                         f"the request head is over {MAX_HEAD_BYTES // 1024} KiB"))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        log.warning("request head from %s not complete after %g s: closing", self.client, self.head_timeout_s)
        self.transport.write(_answer("408 Request Timeout", "request_timeout", f"the request head did not arrive "
                                     f"within {self.head_timeout_s:g} s; the connection was closed"))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request the HTTP parser refuses (malformed, or a head over its size limit): uvicorn's 400 in
        the API's JSON shape instead of plain text."""
        self.transport.write(_answer("400 Bad Request", "bad_request", f"{msg} (malformed HTTP, or a request head "
                                     "too large)"))
        self.transport.close()

"""An answer sent before the request body was read ends the connection, gently.

Without this, uvicorn keeps the connection alive and reads to its end (to discard it) a body the app has
already refused: all 400 MB of an over-limit upload. With ``Connection: close`` alone, uvicorn closes the
socket while the peer is still sending, the kernel answers with a reset, and a peer such as nginx, which
is still writing the body when the reset comes, reports 502 instead of passing the refusal on. So this
middleware does what nginx's ``lingering_close`` does: it sends the whole answer, then reads and drops
what is still in flight (at most ``LINGER_BYTES`` for ``LINGER_S``; the peer stops once it has the
answer) before the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Longest wait (s) and most body bytes dropped after an early answer, before the connection closes.
LINGER_S = 2.0
LINGER_BYTES = 16 << 20


def _has_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    length = headers.get(b"content-length", b"")
    return b"chunked" in headers.get(b"transfer-encoding", b"").lower() or (length.isdigit() and int(length) > 0)


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of the body until it ends, the peer goes, or the linger bounds are reached."""
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_S):
            while dropped <= LINGER_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                dropped += len(message.get("body", b""))


class LingeringClose:
    """ASGI middleware: a response that starts before the request body was fully received gets
    ``Connection: close``, and the connection lingers (draining the body) before it closes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        body_done = closing = False

        async def receive_tracked() -> Message:
            nonlocal body_done
            message = await receive()
            body_done = body_done or message["type"] == "http.disconnect" or not message.get("more_body", False)
            return message

        async def send_lingering(message: Message) -> None:
            nonlocal closing
            if message["type"] == "http.response.start" and not body_done:
                closing = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            elif closing and message["type"] == "http.response.body" and not message.get("more_body", False):
                await send({**message, "more_body": True})  # the whole answer goes out now ...
                await _drain(receive)  # ... and what the peer still sends is dropped before the close
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive_tracked, send_lingering)

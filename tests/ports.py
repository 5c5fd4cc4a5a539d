"""Free TCP ports on loopback for the servers tests start (uvicorn, redis-server), so that no two
runs, and no two pytest-xdist workers, ask for the same port."""

from __future__ import annotations

import contextlib
import socket


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that were free on 127.0.0.1 a moment ago (each bound to port 0, read, released).
    The sockets are held open together, so the ports are distinct from each other."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def free_port() -> int:
    return free_ports(1)[0]

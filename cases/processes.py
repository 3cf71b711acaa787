"""Several API processes on one port, each accepting on a socket of its own.

uvicorn's `--workers` shares one listening socket, and whichever process wakes
first accepts: keep-alive clients that connect together (users behind one
proxy, a load test) pile onto one process while the others idle. Here every
process listens on its own socket bound with SO_REUSEPORT, and the kernel
spreads new connections over them by address, as a load balancer would.

The sockets are bound before the processes are forked, so a port already in use
is one clear error, not a process that dies later.
"""

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence

import uvicorn
from starlette.types import ASGIApp

logger = logging.getLogger(__name__)

POLL_S = 0.2


def uvicorn_config(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 8000
) -> uvicorn.Config:
    """How every API process runs uvicorn (host and port unused with sockets)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # Logging is configured once, at process start; uvicorn would replace it.
        log_config=None,
        # Access lines would carry GET query strings, and with them whatever
        # a client put in GraphQL variables.
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets bound to host:port that share its connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def fork_api_processes(
    build_app: Callable[[], ASGIApp],
    sockets: Sequence[socket.socket],
    config: Callable[[ASGIApp], uvicorn.Config],
) -> list[int]:
    """One process per socket, each building its own app (its own database pool:
    connections must not cross a fork) and serving it until signalled.

    The parent's copies of the sockets are closed, so a process that dies takes
    its socket out of the port's group and the kernel stops sending to it.
    """
    pids = []
    for mine in sockets:
        pid = os.fork()
        if pid == 0:
            for other in sockets:
                if other is not mine:
                    other.close()
            os._exit(_serve(build_app, mine, config))
        pids.append(pid)
    for sock in sockets:
        sock.close()
    return pids


def _serve(
    build_app: Callable[[], ASGIApp],
    sock: socket.socket,
    config: Callable[[ASGIApp], uvicorn.Config],
) -> int:
    server: uvicorn.Server | None = None
    try:
        server = uvicorn.Server(config(build_app()))
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn raises the stop signal again once it has shut down
    except BaseException:
        logger.exception("API process %d failed", os.getpid())
        return 1
    return 0 if server is not None and server.started else 1


def first_exit(pids: Sequence[int]) -> int | None:
    """The pid of a process that has ended, without waiting; None if all run."""
    for pid in pids:
        if _reaped(pid):
            return pid
    return None


def wait_first_exit(pids: Sequence[int]) -> int:
    while (ended := first_exit(pids)) is None:
        time.sleep(POLL_S)
    return ended


def stop_processes(pids: Sequence[int], timeout_s: float = 15.0) -> None:
    """SIGTERM to each process still running, SIGKILL to any left after timeout_s.

    uvicorn finishes the requests in flight on SIGTERM, within its own
    graceful-shutdown timeout, which should be shorter than `timeout_s`.
    """
    running = set(pids)
    for pid in running:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while running and time.monotonic() < deadline:
        running -= {pid for pid in running if _reaped(pid)}
        time.sleep(POLL_S / 4)
    for pid in running:
        logger.warning(
            "API process %d did not stop in %.0f s; killing it", pid, timeout_s
        )
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _reaped(pid: int) -> bool:
    try:
        ended, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return ended != 0


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)

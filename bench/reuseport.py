"""Several uvicorn processes on one port, each with its own SO_REUSEPORT socket.

`uvicorn --workers N` shares one listening socket, and whichever worker wakes
first accepts: the load generator's 32 keep-alive connections, opened at once,
landed almost all on one worker (the API used 0.97 of 2 cores at 1,570
requests/s, fewer than one worker alone served under the profiler). With a
socket per process the kernel spreads new connections over them by address,
as a load balancer in front of several API processes would.

    python -m bench.reuseport --port 8000 --workers 2
"""

import argparse
import os
import signal
import socket
import sys
import time
from types import FrameType

import uvicorn


def serve(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        "bench.app_factory:create",
        factory=True,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reuseport")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            serve(args.port)
            os._exit(0)
        children.append(pid)

    def stop(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = 0
    for child in children:
        while True:
            try:
                _, status = os.waitpid(child, 0)
                failed += status != 0
                break
            except ChildProcessError:
                break
            except InterruptedError:
                time.sleep(0.01)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The API processes of `cases serve --processes N`, serving the bench's app.

The same code as `cases serve` forks and serves the same way (cases.processes:
one SO_REUSEPORT socket per process, the same uvicorn settings); the only
difference is the app, which bench.app_factory wraps to count the statements
of each request. uvicorn's own `--workers` shares one socket, and the load
generator's 32 keep-alive connections, opened at once, landed almost all on
one worker.

    python -m bench.reuseport --port 8000 --workers 2
"""

import argparse
import signal
import sys

from bench.app_factory import create
from cases.logs import configure_logging
from cases.processes import (
    bind_sockets,
    fork_api_processes,
    stop_processes,
    uvicorn_config,
    wait_first_exit,
)
from cases.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reuseport")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    configure_logging(Settings().log_level)
    # The bench stops the service with SIGTERM: stop the API processes too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sockets = bind_sockets("127.0.0.1", args.port, args.workers)
    pids = fork_api_processes(create, sockets, uvicorn_config)
    try:
        wait_first_exit(pids)
        return 1  # an API process ended without being asked to
    except KeyboardInterrupt:
        return 0
    finally:
        stop_processes(pids)


if __name__ == "__main__":
    sys.exit(main())

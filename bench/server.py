"""Starting and stopping the service under test, as its own process group."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import cpu

BENCH_SECRET = "bench-only-secret-key-not-for-production-0123456789"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# Nothing listens here: with --no-worker the API never sends mail itself.
SMTP_URL = "smtp://127.0.0.1:2525"
STARTUP_TIMEOUT_S = 30.0
LOG = Path("/tmp/cases-bench-server.log")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(database_url: str, count_statements: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        SMTP_URL=SMTP_URL,
        SECRET_KEY=BENCH_SECRET,
        ENVIRONMENT="production",
        LOG_LEVEL="INFO",
        # A per-user limit would measure the limiter: one bench user sends
        # thousands of requests a minute.
        RATE_LIMIT_PER_MINUTE="100000000",
        BENCH_COUNT_STATEMENTS="1" if count_statements else "0",
    )
    return env


@dataclass(slots=True)
class Service:
    kind: str  # "uvicorn" or "cases serve"
    workers: int
    port: int
    process: subprocess.Popen

    def pids(self) -> list[int]:
        """The serving processes: uvicorn's workers, or the single process."""
        found = cpu.children(self.process.pid)
        workers = [pid for pid in found if _is_python(pid)]
        return [self.process.pid, *workers]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _is_python(pid: int) -> bool:
    try:
        return "python" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(
            errors="replace"
        )
    except OSError:
        return False


def start_uvicorn(
    database_url: str, workers: int, log: Path = LOG, count_statements: bool = True
) -> Service:
    """One uvicorn process, or several with a socket each (bench/reuseport.py)."""
    port = free_port()
    if workers > 1:
        command = [
            sys.executable,
            "-m",
            "bench.reuseport",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.app_factory:create",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--lifespan",
            "on",
            "--timeout-graceful-shutdown",
            "10",
        ]
    return _start(
        "uvicorn",
        workers,
        port,
        command,
        service_env(database_url, count_statements),
        log,
    )


def start_cases_serve(database_url: str, processes: int, log: Path = LOG) -> Service:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "cases.cli",
        "serve",
        "--no-worker",
        "--processes",
        str(processes),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return _start(
        "cases serve", processes, port, command, service_env(database_url, False), log
    )


def _start(
    kind: str,
    workers: int,
    port: int,
    command: list[str],
    env: dict[str, str],
    log: Path,
) -> Service:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
    service = Service(kind, workers, port, process)
    _wait_ready(service, log)
    return service


def _wait_ready(service: Service, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    url = f"http://127.0.0.1:{service.port}/healthz"
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.kind} exited at start; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                workers = len(service.pids()) - 1 or 1
                if answer.status == 200 and workers >= service.workers:
                    # Other workers may still be importing; give them a moment.
                    time.sleep(1.0 if service.workers > 1 else 0)
                    return
        except OSError:
            pass
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"{service.kind} did not answer /healthz; see {log}")

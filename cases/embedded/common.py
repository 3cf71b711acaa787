"""What the embedded servers share: their error, a lock, a list of users."""

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started."""


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prune_dead(pids_file: Path) -> list[int]:
    """Drop processes that died without leaving; return those still alive.

    A `cases serve` killed with SIGKILL stays listed forever otherwise, and
    the server it used would never be stopped again. Call with the lock held.
    """
    try:
        pids = json.loads(pids_file.read_text() or "[]")
    except FileNotFoundError:
        return []
    living = [pid for pid in pids if is_alive(pid)]
    if living != pids:
        write_pids(pids_file, living)
    return living


def write_pids(pids_file: Path, pids: list[int]) -> None:
    pids_file.write_text(json.dumps(pids))


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # An exited server waits as a zombie until its parent reaps it, and an
    # orphan's parent (PID 1 in a container) may take seconds to.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which may contain spaces and ")".
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"

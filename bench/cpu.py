"""Where the machine's CPU went during a phase: load generator, API processes,
PostgreSQL backends of the bench database, and everything else (other users of
this shared machine included), in cores (1.0 = one core busy all the time).

PostgreSQL's own background processes (WAL writer, checkpointer, autovacuum)
are shared with every database on the server and cannot be attributed, so they
count as "other": the PostgreSQL figure of write operations is a lower bound."""

import contextlib
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> tuple[float, float]:
    """(busy seconds over all cores, wall seconds) since boot."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    busy = sum(fields[:8]) - idle
    return busy * _TICK_S, time.monotonic()


def process_cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


_AUTOGROUP = Path("/proc/self/autogroup")


def prioritise(pids: list[int], niceness: int) -> None:
    """Set the niceness of the given processes (0: leave them alone).

    Only ever the bench's own processes: on a machine shared with other work it
    keeps their CPU share from swinging with the neighbours' load.
    """
    if niceness == 0:
        return
    for pid in pids:
        try:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
        except (ProcessLookupError, PermissionError):
            continue


@contextlib.contextmanager
def session_priority(niceness: int) -> Iterator[None]:
    """With the kernel's autogroup scheduling CPU is first shared between
    sessions and niceness only counts inside one, so for the run the nice of
    this process's own session group is set too (the load generator and the
    API it starts; nothing of anyone else's), and restored afterwards."""
    if niceness == 0 or not _AUTOGROUP.exists():
        yield
        return
    before = _AUTOGROUP.read_text().split("nice")[-1].strip()
    try:
        _AUTOGROUP.write_text(str(niceness))
    except OSError:
        yield
        return
    try:
        yield
    finally:
        _AUTOGROUP.write_text(before)


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(slots=True)
class CpuShare:
    wall_s: float
    client: float
    api: float
    postgres: float
    other: float

    def row(self) -> str:
        return (
            f"client {self.client:.2f} / api {self.api:.2f} / "
            f"pg {self.postgres:.2f} / other {self.other:.2f}"
        )


class CpuMeter:
    """Started before a phase and read after it; pids are re-listed at the end,
    so pool connections opened during the phase are counted from zero."""

    def __init__(self, api_pids: list[int], pg_pids: list[int]) -> None:
        self._start_api = {pid: process_cpu_s(pid) for pid in api_pids}
        self._start_pg = {pid: process_cpu_s(pid) for pid in pg_pids}
        self._start_self = _self_cpu_s()
        self._start_busy, self._start_wall = _machine_busy_s()

    def stop(self, api_pids: list[int], pg_pids: list[int]) -> CpuShare:
        busy, wall = _machine_busy_s()
        wall_s = wall - self._start_wall
        client = _self_cpu_s() - self._start_self
        api = sum(process_cpu_s(p) - self._start_api.get(p, 0.0) for p in api_pids)
        pg = sum(process_cpu_s(p) - self._start_pg.get(p, 0.0) for p in pg_pids)
        other = max(0.0, busy - self._start_busy - client - api - pg)
        return CpuShare(
            wall_s=wall_s,
            client=client / wall_s,
            api=api / wall_s,
            postgres=pg / wall_s,
            other=other / wall_s,
        )

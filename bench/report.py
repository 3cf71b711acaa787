"""Phase results, the printed table, and the results block of docs/benchmarks.md."""

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import median

from bench.cpu import CpuShare
from bench.loadgen import Tally

ROOT = Path(__file__).resolve().parent.parent
# Where results and the doc go: the checkout itself, unless the run measures an
# exported copy of a commit (see docs/benchmarks.md) and writes back here.
OUT = Path(os.environ.get("BENCH_OUT", ROOT))
DOC = OUT / "docs" / "benchmarks.md"
RESULTS = OUT / "bench" / "results"
BEGIN = "<!-- bench:results:begin (written by python -m bench.run) -->"
END = "<!-- bench:results:end -->"


@dataclass(slots=True)
class Phase:
    op: str
    title: str
    side: str  # "service", "limit", or a comparison label
    concurrency: int
    workers: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statements: float | None
    statements_range: tuple[int, int] | None
    checkouts: float | None
    sessions: int
    errors: int
    first_error: str
    cpu: CpuShare

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def cpu_ms(self, cores: float) -> float:
        """CPU milliseconds per request of a process group that used `cores`."""
        if not self.requests:
            return 0.0
        return cores * self.cpu.wall_s / self.requests * 1000

    @property
    def api_ms(self) -> float:
        return self.cpu_ms(self.cpu.api)

    @property
    def pg_ms(self) -> float:
        return self.cpu_ms(self.cpu.postgres)

    @property
    def cpu_bound_rps(self) -> float:
        """What 2 otherwise idle cores could serve if CPU were the only limit:
        2 s of CPU per second over the CPU one request costs (load generator
        included). Robust to other load on a shared machine, optimistic about
        scheduling; read it as an upper bound."""
        per_request_ms = self.cpu_ms(self.cpu.client + self.cpu.api + self.cpu.postgres)
        return 2000 / per_request_ms if per_request_ms else 0.0

    @property
    def client_us(self) -> float:
        """Load generator CPU per request, microseconds."""
        if not self.requests:
            return 0.0
        return self.cpu.client * self.cpu.wall_s / self.requests * 1e6


def phase_from(
    op: str,
    title: str,
    side: str,
    concurrency: int,
    workers: int,
    seconds: float,
    tally: Tally,
    cpu: CpuShare,
) -> Phase:
    latencies = sorted(tally.latencies_ns)
    statements = tally.statements
    return Phase(
        op=op,
        title=title,
        side=side,
        concurrency=concurrency,
        workers=workers,
        requests=len(latencies),
        seconds=seconds,
        p50_ms=_percentile(latencies, 0.50) / 1e6,
        p99_ms=_percentile(latencies, 0.99) / 1e6,
        statements=sum(statements) / len(statements) if statements else None,
        statements_range=(min(statements), max(statements)) if statements else None,
        checkouts=sum(tally.checkouts) / len(tally.checkouts)
        if tally.checkouts
        else None,
        sessions=tally.sessions,
        errors=tally.errors,
        first_error=tally.first_error,
        cpu=cpu,
    )


def _percentile(values: list[int], q: float) -> float:
    if not values:
        return 0.0
    return float(values[min(len(values) - 1, int(q * len(values)))])


@dataclass(slots=True)
class BulkRun:
    side: str
    first_day: str
    last_day: str
    updated: int
    seconds: float


@dataclass(slots=True)
class Results:
    command: str
    started: str
    scale: str
    workers: int
    machine: dict[str, str]
    code: dict[str, str]
    dataset: dict[str, object]
    label: str = ""
    same_json: dict[str, str] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    bulk: list[BulkRun] = field(default_factory=list)


def progress(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def code_state() -> dict[str, str]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout

    if "BENCH_CODE" in os.environ:
        return {
            "commit": os.environ["BENCH_CODE"],
            "uncommitted outside bench/": "none",
        }
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()]
    shared = [p for p in dirty if not p.startswith(("bench/", "docs/benchmarks"))]
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted outside bench/": ", ".join(shared) or "none",
    }


def ratio(service: Phase | None, limit: Phase | None) -> str:
    if service is None or limit is None or not limit.rps:
        return "-"
    return f"{service.rps / limit.rps:.3f}"


def cpu_ratio(service: Phase | None, limit: Phase | None) -> str:
    if service is None or limit is None or not limit.cpu_bound_rps:
        return "-"
    return f"{service.cpu_bound_rps / limit.cpu_bound_rps:.3f}"


def table(results: Results) -> str:
    lines = [
        "| op | operation | c | rps | p50 ms | p99 ms | SQL stmts / checkouts per req "
        "| API / PG CPU ms per req | limit rps | limit p50 ms "
        "| limit PG CPU ms per req | ratio rps | ratio CPU-bound "
        "| cores client/api/pg/other | client µs/req | new PG sessions |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    service = [p for p in results.phases if p.side == "service"]
    for phase in service:
        limit = _find(results, phase.op, "limit", phase.concurrency)
        lines.append(
            f"| {phase.op} | {phase.title} | {phase.concurrency} | {phase.rps:,.0f} "
            f"| {phase.p50_ms:.2f} | {phase.p99_ms:.2f} | {_statements(phase)} "
            f"| {phase.api_ms:.2f} / {phase.pg_ms:.2f} "
            f"| {limit.rps if limit else 0:,.0f} | {limit.p50_ms if limit else 0:.2f} "
            f"| {limit.pg_ms if limit else 0:.2f} "
            f"| {ratio(phase, limit)} | {cpu_ratio(phase, limit)} | {_cores(phase)} "
            f"| {phase.client_us:.0f} | {phase.sessions:,} |"
        )
    return "\n".join(lines)


def comparison_table(results: Results) -> str:
    rows = [p for p in results.phases if p.side not in ("service", "limit")]
    if not rows:
        return ""
    lines = [
        "| op | c | server | rps | p50 ms | p99 ms | API CPU ms per req "
        "| ratio rps | ratio CPU-bound | cores client/api/pg/other | new PG sessions |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in rows:
        limit = _find(results, phase.op, "limit", phase.concurrency)
        lines.append(
            f"| {phase.op} | {phase.concurrency} | {phase.side} | {phase.rps:,.0f} "
            f"| {phase.p50_ms:.2f} | {phase.p99_ms:.2f} | {phase.api_ms:.2f} "
            f"| {ratio(phase, limit)} | {cpu_ratio(phase, limit)} | {_cores(phase)} "
            f"| {phase.sessions:,} |"
        )
    return "\n".join(lines)


def bulk_table(results: Results) -> str:
    if not results.bulk:
        return ""
    lines = [
        "| run | days | incidents updated | seconds | µs per incident |",
        "|---|---|---|---|---|",
    ]
    for run in results.bulk:
        per = run.seconds / run.updated * 1e6 if run.updated else 0
        lines.append(
            f"| {run.side} | {run.first_day} .. {run.last_day} "
            f"| {run.updated:,} | {run.seconds:.2f} | {per:.1f} |"
        )
    service = [
        r.seconds / max(r.updated, 1) for r in results.bulk if r.side == "service"
    ]
    limit = [r.seconds / max(r.updated, 1) for r in results.bulk if r.side == "limit"]
    if service and limit:
        lines.append(
            f"\nbulkClose time per incident, service / bare UPDATE + INSERT: "
            f"**{median(service) / median(limit):.2f}** (target ≤ 2)"
        )
    return "\n".join(lines)


def _find(results: Results, op: str, side: str, concurrency: int) -> Phase | None:
    for phase in results.phases:
        if (phase.op, phase.side, phase.concurrency) == (op, side, concurrency):
            return phase
    return None


def _statements(phase: Phase) -> str:
    if phase.statements is None or phase.statements_range is None:
        return "-"
    low, high = phase.statements_range
    spread = "" if low == high else f" ({low}-{high})"
    return f"{phase.statements:.1f}{spread} / {phase.checkouts or 0:.1f}"


def _cores(phase: Phase) -> str:
    c = phase.cpu
    return f"{c.client:.2f} / {c.api:.2f} / {c.postgres:.2f} / {c.other:.2f}"


def errors(results: Results) -> list[str]:
    return [
        f"op {p.op} {p.side} c={p.concurrency}: {p.errors} errors, "
        f"first: {p.first_error}"
        for p in results.phases
        if p.errors
    ]


def markdown(results: Results) -> str:
    m, code, d = results.machine, results.code, results.dataset
    parts = [
        f"Run {results.started}{', ' + results.label if results.label else ''}.",
        f"`{results.command}`",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}, Python "
        f"{m['python']}, kernel {m['kernel']}. Code: commit {code['commit']}; "
        f"uncommitted changes outside bench/: {code['uncommitted outside bench/']}.",
        f"Dataset: scale {results.scale}; "
        + "; ".join(f"{k} {v}" for k, v in d.items()),
        f"Service: uvicorn, {results.workers} process(es), uvloop + httptools"
        + (", one SO_REUSEPORT socket each." if results.workers > 1 else "."),
        "Same JSON from service and limit (checked before measuring): "
        + ", ".join(f"op {k}: {v}" for k, v in results.same_json.items()),
        table(results),
    ]
    if comparison := comparison_table(results):
        parts += [
            "Server comparisons (same operations, other process setups):",
            comparison,
        ]
    if bulk := bulk_table(results):
        parts += ["Operation 6, bulkClose to NO_FURTHER_ACTION, concurrency 1:", bulk]
    if problems := errors(results):
        parts += ["Errors:", "\n".join(f"- {e}" for e in problems)]
    return "\n\n".join(parts) + "\n"


def save(results: Results) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "latest.json"
    path.write_text(json.dumps(asdict(results), indent=1, default=str))
    (RESULTS / "latest.md").write_text(markdown(results))
    return path


def update_doc(results: Results) -> None:
    block = f"{BEGIN}\n{markdown(results)}{END}"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    DOC.write_text(pattern.sub(lambda _: block, text))

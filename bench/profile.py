"""Where a read request's CPU goes inside the API process, by layer.

    python -m bench.profile                      # ops 1-4, full scale
    python -m bench.profile --ops 4 --seconds 20

Starts one uvicorn worker (statement counter off, so only the service is
profiled), drives one operation at a time at the given concurrency, and samples
that process with py-spy meanwhile (idle samples excluded, so samples measure
CPU). Each sample is charged to the innermost frame that belongs to a known
layer; frames of asyncio, contextlib, functools and the like are passed over so
their cost lands on the layer that called them. Writes bench/results/profile.md
and the raw collapsed stacks (profile-op<N>.txt) for flame graphs.
"""

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import uvloop

from bench import cpu, dataset, loadgen, report, run, server
from bench.operations import Operation, Sources, discover, operations
from bench.people import SCALES

# (path or function fragment, layer); the first fragment found in a frame wins.
LAYERS = (
    ("encode_json", "JSON encode/decode (orjson)"),
    ("decode_json", "JSON encode/decode (orjson)"),
    ("strawberry/dataloader", "DataLoader scheduling"),
    ("strawberry/extensions", "Strawberry extensions (limits, caches)"),
    ("graphql/validation", "graphql-core parse/validate"),
    ("graphql/language", "graphql-core parse/validate"),
    ("graphql/execution", "graphql-core execution"),
    ("strawberry/http", "Strawberry HTTP view"),
    ("strawberry/asgi", "Strawberry HTTP view"),
    ("strawberry/", "Strawberry execution (schema, field wrappers)"),
    ("graphql/", "graphql-core other"),
    ("sqlalchemy/pool", "SQLAlchemy pool"),
    ("sqlalchemy/engine/result", "SQLAlchemy result processing"),
    ("sqlalchemy/engine/cursor", "SQLAlchemy result processing"),
    ("sqlalchemy/engine/row", "SQLAlchemy result processing"),
    ("sqlalchemy/engine/_py_", "SQLAlchemy result processing"),
    ("sqlalchemy/sql/", "SQLAlchemy Core build + compile"),
    ("sqlalchemy/dialects", "SQLAlchemy asyncpg adapter"),
    ("sqlalchemy/util/concurrency", "SQLAlchemy greenlet bridge"),
    ("sqlalchemy/util/_concurrency", "SQLAlchemy greenlet bridge"),
    ("greenlet", "SQLAlchemy greenlet bridge"),
    ("sqlalchemy/", "SQLAlchemy engine (execute, connect)"),
    ("asyncpg/", "asyncpg driver"),
    ("jwt/", "auth (JWT, viewer)"),
    ("cases/auth", "auth (JWT, viewer)"),
    ("models/viewer", "auth (JWT, viewer)"),
    ("cases/ratelimit", "rate limit (Redis)"),
    ("redis/", "rate limit (Redis)"),
    ("logging/", "logging"),
    # uvicorn's asyncio_run is the bottom frame whenever uvloop's C code runs.
    ("uvicorn/_compat", "event loop (uvloop, task and callback switching)"),
    ("uvicorn/", "HTTP (uvicorn, Starlette, middleware)"),
    ("httptools", "HTTP (uvicorn, Starlette, middleware)"),
    ("starlette/", "HTTP (uvicorn, Starlette, middleware)"),
    ("cases/middleware", "HTTP (uvicorn, Starlette, middleware)"),
    (" (cases/graphql_view", "our GraphQL view (context)"),
    (" (resolvers/", "our resolvers"),
    (" (schema/", "our schema types"),
    (" (models/", "our models (queries, rows)"),
)
GENERIC = (
    "asyncio/",
    "contextlib",
    "functools",
    "typing",
    "abc.py",
    "enum.py",
    "dataclasses",
    "inspect",
    "copy.py",
    "collections",
    "weakref",
    "threading",
    "<frozen",
    "re/",
    "types.py",
    "uvloop",
)
EVENT_LOOP = "event loop (uvloop, task and callback switching)"


def layer_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        for fragment, layer in LAYERS:
            if fragment in frame:
                return layer
        if not any(generic in frame for generic in GENERIC):
            return "other"
    return EVENT_LOOP


def parse_raw(path: Path) -> Counter[str]:
    """py-spy raw output: 'frame;frame;... count' per line, root first."""
    samples: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # A frame name can hold a line break, which splits its sample in two.
        if stack and count.isdigit():
            samples[stack] += int(count)
    return samples


def summarise(
    samples: Counter[str], rate_hz: int, requests: int
) -> list[tuple[str, int, float]]:
    layers: Counter[str] = Counter()
    for stack, count in samples.items():
        layers[layer_of(stack.split(";"))] += count
    total = sum(layers.values()) or 1
    return [
        (layer, count, count / rate_hz / max(requests, 1) * 1000)
        for layer, count in layers.most_common()
        if count / total >= 0.005
    ]


def top_functions(samples: Counter[str], limit: int = 12) -> list[tuple[str, int]]:
    leaves: Counter[str] = Counter()
    for stack, count in samples.items():
        frames = stack.split(";")
        leaf = next(
            (f for f in reversed(frames) if not any(g in f for g in GENERIC)),
            frames[-1],
        )
        leaves[leaf] += count
    return leaves.most_common(limit)


def _py_spy() -> str:
    """py-spy from this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


def _start_py_spy(
    pid: int, args: argparse.Namespace, raw: Path
) -> "subprocess.Popen[bytes]":
    command = [
        _py_spy(), "record", "--pid", str(pid),
        "--rate", str(args.rate), "--duration", str(int(args.seconds)),
        "--format", "raw", "--nonblocking", "--output", str(raw),
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def profile_op(
    op: Operation, bench: run.Bench, service: server.Service, args: argparse.Namespace
) -> str:
    report.RESULTS.mkdir(parents=True, exist_ok=True)
    raw = report.RESULTS / f"profile-op{op.key}.txt"
    pid = service.pids()[-1]
    spy = _start_py_spy(pid, args, raw)
    window = loadgen.Window.after(0.3, args.seconds - 0.6)
    tally = await loadgen.http_phase(
        "127.0.0.1",
        service.port,
        bench.tokens[op.viewer],
        args.concurrency,
        bench.body_for(op),
        window,
    )
    await asyncio.to_thread(spy.wait)
    requests_in_profile = len(tally.latencies_ns) * args.seconds / (args.seconds - 0.6)
    return _section(op, parse_raw(raw), args, requests_in_profile, tally)


def _section(
    op: Operation,
    samples: Counter[str],
    args: argparse.Namespace,
    requests: float,
    tally: loadgen.Tally,
) -> str:
    total = sum(samples.values())
    rows = summarise(samples, args.rate, int(requests))
    per_request = total / args.rate / max(requests, 1) * 1000
    lines = [
        f"### op {op.key}: {op.title}",
        f"{requests / args.seconds:.0f} requests/s at concurrency {args.concurrency}, "
        f"one worker; {per_request:.2f} ms of API CPU per request "
        f"({total} samples at {args.rate} Hz, {tally.errors} errors).",
        "",
        "| layer (self time) | share | ms per request |",
        "|---|---|---|",
    ]
    lines += [
        f"| {layer} | {count / total:.0%} | {ms:.2f} |" for layer, count, ms in rows
    ]
    lines += ["", "Hottest frames (self):", ""]
    lines += [
        f"- {count / total:.1%} {frame}" for frame, count in top_functions(samples)
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> str:
    scale = SCALES[args.scale]
    if not await dataset.is_loaded(scale):
        raise SystemExit(
            f"load the dataset first: python -m bench.dataset --scale {scale.name}"
        )
    await run._clone(scale)
    url = dataset.database_url(run.RUN_DATABASE, "postgresql+asyncpg")
    conn = await asyncpg.connect(dataset.database_url(run.RUN_DATABASE))
    world = await discover(conn)
    await conn.close()
    bench = run.Bench(args, world, Sources(world))
    log = server.LOG
    service = server.start_uvicorn(url, 1, log, count_statements=False)
    cpu.prioritise(service.pids(), args.nice)
    sections = []
    try:
        for op in operations(bench.sources):
            if op.key in args.ops:
                print(f"profiling op {op.key}", file=sys.stderr, flush=True)
                sections.append(await profile_op(op, bench, service, args))
    finally:
        service.stop()
    return "\n\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument(
        "--ops", type=lambda s: s.split(","), default=["1", "2", "3", "4"]
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--nice", type=int, default=0, help="as for bench.run")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with cpu.session_priority(args.nice):
        text = uvloop.run(main_async(args))
    report.RESULTS.mkdir(parents=True, exist_ok=True)
    (report.RESULTS / "profile.md").write_text(text)
    print(text)
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

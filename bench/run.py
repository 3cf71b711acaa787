"""One command for the whole load run:

    python -m bench.run                  # full scale, ~10 minutes
    python -m bench.run --scale small --seconds 4

Loads the dataset if its template database is missing (timed), clones it into
a scratch database (cases_bench_run) so every run starts from the same data,
starts the service with uvicorn, checks that the service and the raw-SQL limit
return the same JSON, then measures each operation at each concurrency on both
sides, bulkClose, and the other server set-ups. Prints the table and writes it
to bench/results/latest.{json,md} and into docs/benchmarks.md.
"""

import argparse
import asyncio
import logging
import os
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import orjson
import uvloop
from arq.connections import ArqRedis
from pydantic import SecretStr

from bench import bulk_run, cpu, dataset, loadgen, report, server
from bench.cpu import CpuMeter, CpuShare
from bench.operations import Operation, Sources, World, discover, operations
from bench.people import SCALES, Scale
from cases.auth import issue_token
from cases.migrate import upgrade
from cases.settings import Settings

logger = logging.getLogger(__name__)

# Scratch database each run starts from; another name lets two runs coexist.
RUN_DATABASE = os.environ.get("BENCH_RUN_DB", "cases_bench_run")
SETTINGS = Settings(_env_file=None, secret_key=SecretStr(server.BENCH_SECRET))  # type: ignore[call-arg]
# The service's engine may open pool_size + max_overflow connections per process;
# the limit gets as many.
POOL_PER_PROCESS = SETTINGS.db_pool_size + SETTINGS.db_max_overflow


class Bench:
    def __init__(
        self, args: argparse.Namespace, world: World, sources: Sources
    ) -> None:
        self.args = args
        self.world = world
        self.sources = sources
        self.ops = [op for op in operations(sources) if op.key in args.ops]
        self.tokens = {
            "key_user": issue_token(
                SETTINGS, world.key_user_id, world.school_id, ttl_s=6 * 3600
            ),
            "admin": issue_token(
                SETTINGS, world.admin_id, world.school_id, ttl_s=6 * 3600
            ),
        }
        self.admin_conn: asyncpg.Connection | None = None

    async def pg_pids(self) -> list[int]:
        assert self.admin_conn is not None
        rows = await self.admin_conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            RUN_DATABASE,
        )
        return [row[0] for row in rows]

    async def sessions(self) -> int:
        """PostgreSQL sessions opened on the bench database so far."""
        assert self.admin_conn is not None
        return int(
            await self.admin_conn.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = $1",
                RUN_DATABASE,
            )
        )

    async def measured(
        self,
        run: Callable[[loadgen.Window], Awaitable[loadgen.Tally]],
        api_pids: list[int],
    ) -> tuple[loadgen.Tally, CpuShare]:
        pg_pids = await self.pg_pids()
        cpu.prioritise([*api_pids, *pg_pids], self.args.nice)
        meter = CpuMeter(api_pids, pg_pids)
        sessions = await self.sessions()
        window = loadgen.Window.after(self.args.warmup, self.args.seconds)
        tally = await run(window)
        share = meter.stop(api_pids, await self.pg_pids())
        # Statistics reach pg_stat_database when a backend reports; a short
        # pause lets the sessions that just closed be counted.
        await asyncio.sleep(0.6)
        tally.sessions = await self.sessions() - sessions
        return tally, share

    def body_for(self, op: Operation) -> loadgen.BodyFor:
        # Operations without arguments send the same bytes every time.
        fixed = loadgen.graphql_body(op.document, {}) if op.key in ("1", "2") else None

        def body(user: int, n: int) -> bytes:
            if fixed is not None:
                return fixed
            return loadgen.graphql_body(
                op.document, op.variables(op.arguments(user, n))
            )

        return body

    async def service_phase(
        self, op: Operation, service: server.Service, concurrency: int, side: str
    ) -> report.Phase:
        async def run(window: loadgen.Window) -> loadgen.Tally:
            return await loadgen.http_phase(
                "127.0.0.1",
                service.port,
                self.tokens[op.viewer],
                concurrency,
                self.body_for(op),
                window,
            )

        tally, cpu = await self.measured(run, service.pids())
        return report.phase_from(
            op.key,
            op.title,
            side,
            concurrency,
            service.workers,
            self.args.seconds,
            tally,
            cpu,
        )

    async def limit_phase(
        self, op: Operation, pool: asyncpg.Pool, arq: ArqRedis, concurrency: int
    ) -> report.Phase:
        async def call(conn: object, user: int, n: int) -> str:
            return await op.limit(conn, arq, op.arguments(user, n))

        async def run(window: loadgen.Window) -> loadgen.Tally:
            return await loadgen.sql_phase(pool, concurrency, call, window)

        tally, cpu = await self.measured(run, [])
        return report.phase_from(
            op.key, op.title, "limit", concurrency, 0, self.args.seconds, tally, cpu
        )

    async def same_json(
        self, op: Operation, service: server.Service, pool: asyncpg.Pool, arq: ArqRedis
    ) -> str:
        """Compare a few answers of both sides, argument for argument."""
        conn = loadgen.HttpConnection("127.0.0.1", service.port, self.tokens[op.viewer])
        await conn.open()
        checked = 0
        try:
            for n in range(3):
                args = op.arguments(0, 1000 + n)
                body = loadgen.graphql_body(op.document, op.variables(args))
                _, _, answer = await conn.post(body)
                async with pool.acquire() as sql_conn:
                    expected = await op.limit(sql_conn, arq, args)
                if orjson.loads(answer) != orjson.loads(expected):
                    return f"NO (service {answer[:200]!r} / limit {expected[:200]!r})"
                checked += 1
        finally:
            await conn.close()
        return f"yes ({checked}/{checked})"


async def main_async(args: argparse.Namespace) -> report.Results:
    scale = SCALES[args.scale]
    dataset_info = await _dataset(scale, args.reload)
    dataset_info["clone into scratch database, s"] = f"{await _clone(scale):.1f}"
    url = dataset.database_url(RUN_DATABASE, "postgresql+asyncpg")
    await asyncio.to_thread(upgrade, url)
    arq = ArqRedis.from_url(server.REDIS_URL)
    await _check_redis(arq)
    admin_conn = await asyncpg.connect(dataset.database_url(RUN_DATABASE))
    world = await discover(admin_conn)
    bench = Bench(args, world, Sources(world))
    bench.admin_conn = admin_conn
    results = report.Results(
        command="python -m bench.run " + shlex.join(sys.argv[1:]),
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        scale=scale.name,
        workers=args.workers,
        machine=report.machine(),
        code=report.code_state(),
        label=args.label,
        dataset=dataset_info,
    )
    try:
        await _main_phases(bench, results, arq, url)
        if not args.no_compare:
            await _comparisons(bench, results, url)
        if not args.no_bulk:
            await bulk_run.bulk_close(bench, results, url)
    finally:
        await arq.flushdb()
        await arq.aclose()
        await admin_conn.close()
    return results


async def _main_phases(
    bench: Bench, results: report.Results, arq: ArqRedis, url: str
) -> None:
    args = bench.args
    pool = await asyncpg.create_pool(
        dataset.database_url(RUN_DATABASE),
        min_size=POOL_PER_PROCESS * args.workers,
        max_size=POOL_PER_PROCESS * args.workers,
    )
    service = server.start_uvicorn(url, args.workers)
    try:
        for op in bench.ops:
            if op.reads:
                results.same_json[op.key] = await bench.same_json(
                    op, service, pool, arq
                )
            for concurrency in args.concurrency:
                report.progress(f"op {op.key} c={concurrency}")
                results.phases.append(
                    await bench.service_phase(op, service, concurrency, "service")
                )
                results.phases.append(
                    await bench.limit_phase(op, pool, arq, concurrency)
                )
    finally:
        service.stop()
        await pool.close()


async def _comparisons(bench: Bench, results: report.Results, url: str) -> None:
    """The other worker count, and `cases serve` itself (as many processes,
    no statement counter), on the read operations."""
    reads = [op for op in bench.ops if op.reads]
    other = 1 if bench.args.workers != 1 else 2
    setups = [
        (
            f"uvicorn {other} worker(s)",
            lambda: server.start_uvicorn(url, other, server.LOG),
        ),
        (
            f"cases serve --no-worker --processes {bench.args.workers}",
            lambda: server.start_cases_serve(url, bench.args.workers, server.LOG),
        ),
    ]
    for label, start in setups:
        service = start()
        try:
            for op in reads:
                for concurrency in bench.args.concurrency:
                    report.progress(f"{label}: op {op.key} c={concurrency}")
                    results.phases.append(
                        await bench.service_phase(op, service, concurrency, label)
                    )
        finally:
            service.stop()


async def _dataset(scale: Scale, reload: bool) -> dict[str, object]:
    if not reload and await dataset.is_loaded(scale):
        return {"template": dataset.database_name(scale), "loaded": "earlier"}
    report.progress(f"loading dataset {scale.name} (one-off; later runs reuse it)")
    loaded = await dataset.load_dataset(scale)
    dataset.print_report(loaded)
    info: dict[str, object] = {"template": loaded.database}
    info.update({f"{k}, s": f"{v:.1f}" for k, v in loaded.seconds.items()})
    info.update({f"rows {k}": f"{v:,}" for k, v in loaded.counts.items()})
    info.update({str(k): str(v) for k, v in loaded.checks.items()})
    return info


async def _clone(scale: Scale) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(dataset.database_url("postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {RUN_DATABASE} WITH (FORCE)")
        await conn.execute(
            f"CREATE DATABASE {RUN_DATABASE} TEMPLATE {dataset.database_name(scale)}"
            " STRATEGY FILE_COPY"
        )
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _check_redis(arq: ArqRedis) -> None:
    """The bench's Redis database must hold nothing but what the service puts
    there (jobs, rate counters): it is flushed at the end of the run."""
    async for key in arq.scan_iter(count=1000):
        if not key.startswith((b"arq:", b"cases:")):
            raise RuntimeError(
                f"{server.REDIS_URL} holds foreign keys; pick another db"
            )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--reload", action="store_true", help="reload the dataset")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="measured, per phase"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured, per phase"
    )
    parser.add_argument(
        "--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[1, 32]
    )
    parser.add_argument(
        "--ops", type=lambda s: s.split(","), default=["1", "2", "3", "4", "5a", "5b"]
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness for the bench's own processes only (load generator, API "
        "workers, the PostgreSQL backends of the bench database), e.g. -10 on a "
        "machine shared with other work; 0 leaves priorities alone",
    )
    parser.add_argument("--label", default="", help='e.g. "after one-statement reads"')
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--no-bulk", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/ alone")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    cpu.prioritise([os.getpid()], args.nice)
    started = time.perf_counter()
    with cpu.session_priority(args.nice):
        results = uvloop.run(main_async(args))
    print(report.markdown(results))
    path = report.save(results)
    if not args.no_doc:
        report.update_doc(results)
    print(f"saved {path}; total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 1 if report.errors(results) else 0


if __name__ == "__main__":
    sys.exit(main())

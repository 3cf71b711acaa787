"""Create and load the benchmark database at a scale, with COPY.

    python -m bench.dataset --scale full            # into cases_bench_full
    python -m bench.dataset --scale small --force   # reload even if present

The database is created on the machine's PostgreSQL (BENCH_PG_URL, default
postgresql://postgres@127.0.0.1:5432), migrated with cases.migrate.upgrade,
then filled: people first, then incidents in chunks generated on a thread while
the previous chunk is copied. It ends with a self-check of the constraints the
service relies on and a marker comment, so `bench.run` can reuse it as a
template instead of loading again.
"""

import argparse
import asyncio
import hashlib
import logging
import os
import queue
import random
import sys
import threading
import time
from dataclasses import dataclass, field

import asyncpg

from bench import bulk_load, history_gen
from bench.people import SCALES, People, Scale, build_people
from cases.migrate import MIGRATIONS_DIR, upgrade

logger = logging.getLogger(__name__)

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
SEED = 20261127
# Bumped whenever the generator changes what it makes, so stale templates reload.
GENERATOR_VERSION = 1


@dataclass(slots=True)
class LoadReport:
    database: str
    scale: str
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checks: dict[str, object] = field(default_factory=dict)


def database_name(scale: Scale) -> str:
    return f"cases_bench_{scale.name}"


def database_url(name: str, driver: str = "postgresql") -> str:
    return f"{PG_URL.replace('postgresql', driver, 1)}/{name}"


def marker(scale: Scale) -> str:
    """Names what a loaded database holds: a template made by another generator
    or for another schema is loaded again rather than reused."""
    return (
        f"cases-bench scale={scale.name} seed={SEED} v={GENERATOR_VERSION}"
        f" schema={_schema_digest()}"
    )


def _schema_digest() -> str:
    digest = hashlib.sha1()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


async def is_loaded(scale: Scale) -> bool:
    conn = await asyncpg.connect(database_url("postgres"))
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = $1",
            database_name(scale),
        )
    finally:
        await conn.close()
    return comment == marker(scale)


async def load_dataset(scale: Scale) -> LoadReport:
    """Drop, create, migrate and fill the scale's database; checks included."""
    name = database_name(scale)
    report = LoadReport(database=name, scale=scale.name)
    started = time.perf_counter()
    await _recreate(name)
    await asyncio.to_thread(upgrade, database_url(name, "postgresql+asyncpg"))
    report.seconds["create and migrate"] = time.perf_counter() - started
    conn = await asyncpg.connect(database_url(name))
    # A second session copies history while the first copies incidents, whose
    # search vectors PostgreSQL computes on the way in: both cores stay busy.
    second = await asyncpg.connect(database_url(name))
    try:
        for session in (conn, second):
            await session.execute("SET synchronous_commit = off")
        aside = await bulk_load.set_aside(conn)
        await _fill((conn, second), scale, report)
        step = time.perf_counter()
        await bulk_load.restore(conn, aside)
        await bulk_load.reset_sequences(conn)
        report.seconds["indexes and foreign keys"] = time.perf_counter() - step
        step = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        report.seconds["vacuum analyze"] = time.perf_counter() - step
        report.checks = await check_dataset(conn)
        await conn.execute(f"COMMENT ON DATABASE {name} IS '{marker(scale)}'")
    finally:
        await second.close()
        await conn.close()
    report.seconds["total"] = time.perf_counter() - started
    return report


async def _recreate(name: str) -> None:
    conn = await asyncpg.connect(database_url("postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()


async def _fill(
    conns: tuple[asyncpg.Connection, asyncpg.Connection],
    scale: Scale,
    report: LoadReport,
) -> None:
    step = time.perf_counter()
    people = build_people(scale, random.Random(SEED))
    await _copy_people(conns[0], people)
    report.seconds["people"] = time.perf_counter() - step
    step = time.perf_counter()
    chunks: queue.Queue[history_gen.Chunk | None] = queue.Queue(maxsize=2)
    producer = threading.Thread(
        target=_produce, args=(people, scale.incidents, chunks), daemon=True
    )
    producer.start()
    counts = dict.fromkeys(
        ("incidents", "events", "students", "categories", "outbox"), 0
    )
    while (chunk := await asyncio.to_thread(chunks.get)) is not None:
        await _copy_chunk(conns, chunk)
        for name in counts:
            counts[name] += len(getattr(chunk, name))
    producer.join()
    report.counts = counts
    report.seconds["incidents (generate + COPY)"] = time.perf_counter() - step


def _produce(
    people: People, total: int, chunks: "queue.Queue[history_gen.Chunk | None]"
) -> None:
    try:
        for chunk in history_gen.generate(people, total, SEED):
            chunks.put(chunk)
    finally:
        chunks.put(None)


async def _copy_people(conn: asyncpg.Connection, people: People) -> None:
    copy = bulk_load.copy_rows
    await copy(
        conn,
        "schools",
        ("id", "name", "time_zone", "cases_enabled", "last_incident_number"),
        people.schools,
    )
    await copy(conn, "users", ("id", "name", "email"), people.users)
    await copy(
        conn,
        "memberships",
        ("user_id", "school_id", "role", "removed_at"),
        people.memberships,
    )
    await copy(
        conn,
        "students",
        (
            "id",
            "school_id",
            "name",
            "year_group",
            "external_id",
            "date_of_birth",
            "left_school",
        ),
        people.students,
    )
    await copy(conn, "categories", ("id", "school_id", "name"), people.categories)


async def _copy_chunk(
    conns: tuple[asyncpg.Connection, asyncpg.Connection], chunk: history_gen.Chunk
) -> None:
    incidents = bulk_load.copy_rows(
        conns[0], "incidents", history_gen.INCIDENT_COLUMNS, chunk.incidents
    )
    await asyncio.gather(incidents, _copy_history(conns[1], chunk))


async def _copy_history(conn: asyncpg.Connection, chunk: history_gen.Chunk) -> None:
    copy = bulk_load.copy_rows
    link = history_gen.LINK_COLUMNS
    await copy(
        conn,
        "incident_students",
        tuple(c.format("student_id") for c in link),
        chunk.students,
    )
    await copy(
        conn,
        "incident_categories",
        tuple(c.format("category_id") for c in link),
        chunk.categories,
    )
    await copy(conn, "incident_events", history_gen.EVENT_COLUMNS, chunk.events)
    await copy(conn, "alert_outbox", history_gen.OUTBOX_COLUMNS, chunk.outbox)


# Each check returns one row; a dataset that breaks what the service assumes
# would make every figure measured on it meaningless.
_CHECKS = {
    "numbers contiguous, last_incident_number agrees": """
        SELECT bool_and(s.last_incident_number = n.count AND n.max = n.count)
        FROM schools s JOIN (
            SELECT school_id, count(*), max(number) FROM incidents GROUP BY school_id
        ) n ON n.school_id = s.id""",
    "every incident has 1-2 categories": """
        SELECT bool_and(c BETWEEN 1 AND 2) FROM (
            SELECT count(l.category_id) AS c FROM incidents i
            LEFT JOIN incident_categories l ON l.incident_id = i.id GROUP BY i.id
        ) x""",
    "students 1-2, none for whole-school": """
        SELECT bool_and(CASE WHEN w THEN c = 0 ELSE c BETWEEN 1 AND 2 END) FROM (
            SELECT i.whole_school AS w, count(l.student_id) AS c FROM incidents i
            LEFT JOIN incident_students l ON l.incident_id = i.id GROUP BY i.id
        ) x""",
    "2-4 events each, version agrees": """
        SELECT bool_and(e BETWEEN 2 AND 4 AND v = i.version AND a = i.last_activity_at)
        FROM incidents i JOIN (
            SELECT incident_id, count(*) AS e, max(at) AS a,
                   1 + count(*) FILTER (
                       WHERE kind IN ('ASSIGNED', 'STATUS_CHANGED')) AS v
            FROM incident_events GROUP BY incident_id
        ) h ON h.incident_id = i.id""",
    "largest school incidents": "SELECT max(last_incident_number) FROM schools",
    "largest school ACTIVE": """
        SELECT count(*) FROM incidents WHERE status = 'ACTIVE' AND school_id =
            (SELECT id FROM schools ORDER BY last_incident_number DESC LIMIT 1)""",
    "largest school ACTIVE unassigned": """
        SELECT count(*) FROM incidents WHERE status = 'ACTIVE' AND assignee_id IS NULL
          AND school_id = (SELECT id FROM schools ORDER BY last_incident_number DESC
                           LIMIT 1)""",
    "most ACTIVE on one Key User": """
        SELECT max(c) FROM (SELECT count(*) AS c FROM incidents
                            WHERE status = 'ACTIVE' AND assignee_id IS NOT NULL
                            GROUP BY assignee_id) x""",
    "share CLOSED, percent": """
        SELECT round(100.0 * count(*) FILTER (WHERE status = 'CLOSED') / count(*))
        FROM incidents""",
    "database size, MB": "SELECT pg_database_size(current_database()) / 1000000",
}


async def check_dataset(conn: asyncpg.Connection) -> dict[str, object]:
    results = {name: await conn.fetchval(sql) for name, sql in _CHECKS.items()}
    failed = [name for name, value in results.items() if value is False]
    if failed:
        raise RuntimeError(f"dataset checks failed: {', '.join(failed)}")
    return results


def print_report(report: LoadReport) -> None:
    print(f"dataset {report.scale} loaded into {report.database}")
    for name, seconds in report.seconds.items():
        print(f"  {name:<32} {seconds:8.1f} s")
    for name, count in report.counts.items():
        print(f"  rows {name:<27} {count:>10,}")
    for name, value in report.checks.items():
        print(f"  check {name:<48} {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--force", action="store_true", help="reload if present")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    scale = SCALES[args.scale]
    if not args.force and asyncio.run(is_loaded(scale)):
        print(f"{database_name(scale)} already holds {marker(scale)}")
        return 0
    print_report(asyncio.run(load_dataset(scale)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

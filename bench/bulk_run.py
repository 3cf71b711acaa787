"""Operation 6: bulkClose through the service against the bare UPDATE + INSERT.

A bulk close cannot be repeated on the same rows, so each run takes its own
range of days, oldest first: limit, service, limit, so that neither side always
comes first to a cold cache.
"""

import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from bench import limit_sql, loadgen, report, server
from bench.operations import BULK_CLOSE, World

if TYPE_CHECKING:
    from bench.run import Bench

BULK_TARGET = 20_000


async def bulk_close(bench: "Bench", results: report.Results, url: str) -> None:
    world = bench.world
    conn = bench.admin_conn
    assert conn is not None
    ranges = await _bulk_ranges(conn, world)
    service = server.start_uvicorn(url, bench.args.workers, server.LOG)
    try:
        for side, (first, last, _) in zip(
            ("limit", "service", "limit"), ranges, strict=False
        ):
            report.progress(f"bulkClose {side} {first}..{last}")
            started = time.perf_counter()
            if side == "limit":
                updated = await conn.fetchval(
                    limit_sql.BULK_CLOSE,
                    world.school_id,
                    *_instants(first, last, world.time_zone),
                    world.admin_id,
                )
            else:
                updated = await _bulk_via_service(bench, service, first, last)
            seconds = time.perf_counter() - started
            results.bulk.append(
                report.BulkRun(side, str(first), str(last), updated, seconds)
            )
    finally:
        service.stop()


async def _bulk_via_service(
    bench: "Bench", service: server.Service, first: date, last: date
) -> int:
    conn = loadgen.HttpConnection("127.0.0.1", service.port, bench.tokens["admin"])
    await conn.open()
    try:
        variables = {
            "input": {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "status": "NO_FURTHER_ACTION",
            }
        }
        _, _, answer = await conn.post(loadgen.graphql_body(BULK_CLOSE, variables))
    finally:
        await conn.close()
    body = orjson.loads(answer)
    if body.get("errors"):
        raise RuntimeError(f"bulkClose failed: {body['errors']}")
    return int(body["data"]["bulkClose"]["updatedCount"])


def _instants(first: date, last: date, time_zone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(time_zone)
    since = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    before = datetime.combine(
        last + timedelta(days=1), datetime.min.time(), tzinfo=zone
    )
    return since, before


async def _bulk_ranges(
    conn: asyncpg.Connection, world: World
) -> list[tuple[date, date, int]]:
    """Consecutive day ranges from the oldest, each holding about BULK_TARGET
    incidents a bulk close to NO_FURTHER_ACTION would change (fewer on small
    scales: a third of what is there)."""
    days = await conn.fetch(
        "SELECT (occurred_at AT TIME ZONE $2)::date, count(*) FROM incidents"
        " WHERE school_id = $1 AND status IN ('ACTIVE', 'CLOSED')"
        " GROUP BY 1 ORDER BY 1",
        world.school_id,
        world.time_zone,
    )
    target = min(BULK_TARGET, sum(row[1] for row in days) // 3)
    ranges, start, count = [], None, 0
    for day, n in days:
        start = start or day
        count += n
        if count >= target:
            ranges.append((start, day, count))
            start, count = None, 0
    return ranges[:3]

"""Loading a migrated database fast: secondary indexes and foreign keys are set
aside during COPY and put back, from their own definitions, afterwards.

Building an index once over a full table is several times cheaper than keeping
it up to date row by row, and one validating join per foreign key is cheaper
than a trigger call per row. The definitions are read back from the catalog, so
the schema after the load is exactly the one the migration made.
"""

import logging
import time
from dataclasses import dataclass

import asyncpg

logger = logging.getLogger(__name__)

_FOREIGN_KEYS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE contype = 'f' AND connamespace = 'public'::regnamespace
ORDER BY conrelid::regclass::text, conname
"""

# Indexes that do not back a primary key or unique constraint (those stay:
# foreign keys depend on them).
_SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef
FROM pg_indexes i
WHERE i.schemaname = 'public'
  AND NOT EXISTS (
      SELECT 1 FROM pg_constraint c
      WHERE c.conname = i.indexname AND c.contype IN ('p', 'u')
  )
ORDER BY i.tablename, i.indexname
"""

_SERIAL_TABLES = (
    "schools",
    "users",
    "students",
    "categories",
    "incidents",
    "incident_events",
    "alert_outbox",
)


@dataclass(slots=True)
class SetAside:
    """What was dropped, as the statements that recreate it."""

    indexes: list[str]
    foreign_keys: list[str]


async def set_aside(conn: asyncpg.Connection) -> SetAside:
    foreign_keys = await conn.fetch(_FOREIGN_KEYS)
    indexes = await conn.fetch(_SECONDARY_INDEXES)
    async with conn.transaction():
        for table, name, _ in foreign_keys:
            await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
    return SetAside(
        indexes=[definition for _, definition in indexes],
        foreign_keys=[
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for table, name, definition in foreign_keys
        ],
    )


async def restore(conn: asyncpg.Connection, aside: SetAside) -> dict[str, float]:
    """Recreate indexes, then foreign keys (validated); seconds per statement."""
    await conn.execute("SET maintenance_work_mem = '1GB'")
    timings: dict[str, float] = {}
    for statement in aside.indexes + aside.foreign_keys:
        started = time.perf_counter()
        await conn.execute(statement)
        timings[statement] = time.perf_counter() - started
    return timings


async def reset_sequences(conn: asyncpg.Connection) -> None:
    """Explicit ids were copied in; the next ones the service makes follow them."""
    for table in _SERIAL_TABLES:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        )


async def copy_rows(
    conn: asyncpg.Connection,
    table: str,
    columns: tuple[str, ...],
    rows: list[tuple],
) -> None:
    if rows:
        await conn.copy_records_to_table(table, records=rows, columns=list(columns))

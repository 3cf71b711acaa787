"""Which index each incidents filter uses on the benchmark dataset, and how long
its page and its count take there, from EXPLAIN (ANALYZE, BUFFERS).

The statements are the ones the service runs: the ordinary path's
(models.incident_search, whose text searches are custom-planned as the service
plans them) and, for the filters compiled reads answer, the compiled statement
itself (schema.compiled). Everything runs in the largest school.

    python -m bench.explain [--scale full]   # writes bench/results/explain.md
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.dataset import SCALES, database_name, database_url
from models.incident import IncidentStatus
from models.incident_search import (
    IncidentScope,
    count_statement,
    my_assigned_scope,
    page_statement,
)
from models.rows import encode_id
from models.text_search import parse_text_query

OUT = Path(__file__).resolve().parent / "results" / "explain.md"
TABLES = {"incidents", "incident_students", "incident_categories"}

# The largest school, its busiest Key User, a staff member who adds incidents,
# a student and a category with incidents, and the dataset's last day.
PICKS = """
WITH school AS (
    SELECT school_id AS id FROM incidents GROUP BY school_id
    ORDER BY count(*) DESC LIMIT 1
)
SELECT
    school.id,
    (SELECT assignee_id FROM incidents WHERE school_id = school.id
        AND status = 'ACTIVE' AND assignee_id IS NOT NULL
        GROUP BY assignee_id ORDER BY count(*) DESC LIMIT 1),
    (SELECT m.user_id FROM memberships AS m WHERE m.school_id = school.id
        AND m.role = 'STAFF' ORDER BY m.user_id LIMIT 1),
    (SELECT student_id FROM incident_students WHERE school_id = school.id
        GROUP BY student_id ORDER BY count(*) DESC LIMIT 1),
    (SELECT category_id FROM incident_categories WHERE school_id = school.id
        GROUP BY category_id ORDER BY count(*) LIMIT 1),
    (SELECT max(occurred_at) FROM incidents WHERE school_id = school.id)
FROM school
"""


async def _scopes(conn: AsyncConnection) -> dict[str, IncidentScope]:
    row = (await conn.execute(text(PICKS))).one()
    school_id, key_user, staff, student, category, last = row
    school = IncidentScope(school_id=school_id)
    term = replace(school, since=last - timedelta(days=120), before=last)
    active = (IncidentStatus.ACTIVE,)
    return {
        "everything": school,
        "STAFF (what they added)": replace(school, added_by_id=staff),
        "assignedTo": replace(school, assignee_ids=(key_user,)),
        "unassigned": replace(school, unassigned=True),
        "unassigned or assignedTo": replace(
            school, unassigned=True, assignee_ids=(key_user,)
        ),
        "status ACTIVE": replace(school, statuses=active),
        "from/to (120 days)": term,
        "from/to + includeLatestActivity": replace(term, include_latest_activity=True),
        "containing two words": replace(
            school, text=parse_text_query("phone messages")
        ),
        "containing phrase + from/to": replace(
            term, text=parse_text_query('"lunch money"')
        ),
        "students": replace(school, student_ids=(student,)),
        "categories (rarest)": replace(school, category_ids=(category,)),
        "ACTIVE and unassigned": replace(school, statuses=active, unassigned=True),
        "Key User this term": replace(term, assignee_ids=(key_user,)),
        "My Assigned": my_assigned_scope(school_id, key_user),
    }


async def _explain(conn: AsyncConnection, statement: Select) -> dict[str, Any]:
    compiled = statement.compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    explain = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled.string}"
    found = (await conn.exec_driver_sql(explain, params)).scalar_one()
    plan: dict[str, Any] = (json.loads(found) if isinstance(found, str) else found)[0]
    return plan


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _summary(plan: dict[str, Any]) -> tuple[str, str, float]:
    nodes = list(_nodes(plan["Plan"]))
    indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    scans = sorted(
        {
            n["Relation Name"]
            for n in nodes
            if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in TABLES
        }
    )
    seq = ", ".join(f"**Seq Scan {table}**" for table in scans)
    return ", ".join(indexes) or "-", seq or "none", plan["Execution Time"]


async def _compiled_rows(
    conn: AsyncConnection, scopes: dict[str, IncidentScope]
) -> list[str]:
    """The compiled statement of the hot filters, as the API would run it."""
    from cases.settings import Settings
    from schema import schema
    from schema.build import build_compiler

    school = scopes["everything"].school_id
    key_user = scopes["assignedTo"].assignee_ids[0]
    admin = (
        await conn.execute(
            text(
                "SELECT user_id FROM memberships WHERE school_id = :s"
                " AND role = 'ADMIN' AND removed_at IS NULL LIMIT 1"
            ),
            {"s": school},
        )
    ).scalar_one()
    fields = "number status students { name } categories { name } assignedTo { name }"
    documents = {
        "incidents(ACTIVE, unassigned)": (
            admin,
            "query ($f: IncidentFilter) { incidents(filter: $f, first: 50) "
            f"{{ nodes {{ {fields} }} }} }}",
            {"f": {"status": ["ACTIVE"], "unassigned": True}},
        ),
        "incidents(assignedTo)": (
            admin,
            "query ($f: IncidentFilter) { incidents(filter: $f, first: 50) "
            f"{{ nodes {{ {fields} }} }} }}",
            {"f": {"assignedTo": [encode_id("User", key_user)]}},
        ),
        "viewer.myAssigned": (
            key_user,
            f"{{ viewer {{ myAssigned(first: 20) {{ nodes {{ {fields} }} }} }} }}",
            {},
        ),
    }
    compiler = build_compiler(Settings(), schema)  # type: ignore[arg-type]
    rows = []
    for name, (viewer, document, variables) in documents.items():
        compiled = compiler.compiled(document, None)
        assert compiled is not None, name
        bound = compiled.bind(compiler.schema, variables)
        assert bound is not None, name
        explain = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {bound.statement}"
        found = await conn.exec_driver_sql(explain, (viewer, school, *bound.params))
        raw = found.scalar_one()
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
        indexes, seq, ms = _summary(plan)
        rows.append(f"| {name} | {indexes} | {seq} | {ms:.2f} |")
    return rows


async def main_async(scale: str) -> str:
    engine = create_async_engine(
        database_url(database_name(SCALES[scale]), "postgresql+asyncpg")
    )
    lines = [
        f"EXPLAIN (ANALYZE, BUFFERS) on the `{scale}` benchmark dataset, in its",
        "largest school; `python -m bench.explain`. Indexes named are every index",
        "the plan reads; a Seq Scan on an incidents table would be in bold.",
        "",
        "| filter | page: indexes | page ms | count: indexes | count: seq scans"
        " | count ms |",
        "|---|---|---|---|---|---|",
    ]
    async with engine.connect() as conn:
        scopes = await _scopes(conn)
        for name, scope in scopes.items():
            page_indexes, _, page_ms = _summary(
                await _explain(conn, page_statement(scope, 50, None))
            )
            count_indexes, seq, count_ms = _summary(
                await _explain(conn, count_statement(scope))
            )
            lines.append(
                f"| {name} | {page_indexes} | {page_ms:.2f} | {count_indexes}"
                f" | {seq} | {count_ms:.2f} |"
            )
        lines += [
            "",
            "Compiled reads (one statement building the response):",
            "",
            "| document | indexes | seq scans | ms |",
            "|---|---|---|---|",
            *await _compiled_rows(conn, scopes),
        ]
    await engine.dispose()
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    args = parser.parse_args(argv)
    table = asyncio.run(main_async(args.scale))
    OUT.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

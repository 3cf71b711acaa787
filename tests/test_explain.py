"""Every incidents filter is served by an index, as EXPLAIN shows.

The statements are the ones the app builds (models.incident_search), planned
with their real parameters over 20,000 incidents written by one set-based
INSERT: most belong to the other demo school, as a busy multi-school database
would look to any one school.
"""

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.incident import IncidentStatus
from models.incident_search import (
    IncidentScope,
    count_statement,
    incident_count,
    incident_page,
    my_assigned_scope,
    page_statement,
)
from models.text_search import parse_text_query

INCIDENTS = {"Demo Primary": 5_000, "Demo Academy": 15_000}

# Eight everyday descriptions, and one rare one (1 in 997) to search for.
LOAD = """
WITH school AS (SELECT id FROM schools WHERE name = :school),
people AS (
    SELECT
        array_agg(m.user_id ORDER BY m.user_id)
            FILTER (WHERE m.role <> 'STAFF') AS keys,
        array_agg(m.user_id ORDER BY m.user_id)
            FILTER (WHERE m.role = 'STAFF') AS staff
    FROM memberships AS m JOIN school ON m.school_id = school.id
)
INSERT INTO incidents (
    school_id, number, description, occurred_at, added_by_id, added_at,
    status, assignee_id, last_activity_at
)
SELECT
    school.id,
    n,
    CASE WHEN n % 997 = 0
        THEN 'Mentioned a trampoline accident at the weekend; limping in PE.'
        ELSE (ARRAY[
            'Seen upset at break time; said older pupils took lunch money.',
            'Disclosed that they had not eaten since yesterday lunchtime.',
            'Bruise on the forearm noticed during PE; explanation inconsistent.',
            'Received unkind messages on a group chat after school.',
            'Arrived late and tired for the third day this week.',
            'Mentioned shouting at home and not wanting to go back.',
            'Found crying in the toilets; would not say why.',
            'Shared an image of another pupil without consent.'
        ])[1 + n % 8]
    END,
    at,
    CASE WHEN n % 5 = 0
        THEN staff[1 + n % cardinality(staff)]
        ELSE keys[1 + n % cardinality(keys)]
    END,
    at + interval '1 hour',
    CASE WHEN n % 10 < 2 THEN 'ACTIVE'
         WHEN n % 10 < 7 THEN 'CLOSED'
         ELSE 'NO_FURTHER_ACTION' END,
    CASE WHEN n % 10 IN (0, 3, 7) THEN NULL
         ELSE keys[1 + n / 10 % cardinality(keys)] END,
    at + (n % 40) * interval '1 day'
FROM school, people, generate_series(1, :count) AS n,
    LATERAL (
        SELECT timestamptz '2022-09-01 08:00+00' + n * (interval '3 years' / :count)
    ) AS occurred(at)
"""

LINK_STUDENTS = """
INSERT INTO incident_students (incident_id, student_id, school_id)
SELECT i.id, s.ids[1 + i.number % cardinality(s.ids)], i.school_id
FROM incidents AS i
JOIN LATERAL (
    SELECT array_agg(id ORDER BY id) AS ids FROM students
    WHERE school_id = i.school_id
) AS s ON true
"""

# Early categories are common, late ones rare, as in real logs: the share
# falls with k. (number * 7919 % 1000) spreads incidents evenly over [0, 1).
LINK_CATEGORIES = """
INSERT INTO incident_categories (incident_id, category_id, school_id)
SELECT i.id,
    c.ids[1 + floor(cardinality(c.ids) * power(i.number * 7919 % 1000 / 1e3, 2))::int],
    i.school_id
FROM incidents AS i
JOIN LATERAL (
    SELECT array_agg(id ORDER BY id) AS ids FROM categories
    WHERE school_id = i.school_id
) AS c ON true
"""


async def _load(conn: AsyncConnection) -> None:
    for school, count in INCIDENTS.items():
        await conn.execute(text(LOAD), {"school": school, "count": count})
    await conn.execute(text(LINK_STUDENTS))
    await conn.execute(text(LINK_CATEGORIES))
    for table in ("incidents", "incident_students", "incident_categories"):
        await conn.execute(text(f"ANALYZE {table}"))


# The rarest category of the school (see LINK_CATEGORIES) and its first student.
IDS = """
SELECT 'school', id FROM schools WHERE name = 'Demo Primary'
UNION ALL
SELECT split_part(email, '@', 1), id FROM users WHERE email LIKE '%@primary.example'
UNION ALL
SELECT 'student', min(s.id) FROM students AS s JOIN schools AS sc
    ON sc.id = s.school_id WHERE sc.name = 'Demo Primary'
UNION ALL
SELECT 'category', max(c.id) FROM categories AS c JOIN schools AS sc
    ON sc.id = c.school_id WHERE sc.name = 'Demo Primary'
"""
TABLES = {"incidents", "incident_students", "incident_categories"}
ADDED_BY = "ix_incidents_school_added_by"
ASSIGNEE = "ix_incidents_school_assignee"
UNASSIGNED = "ix_incidents_school_unassigned"
STATUS = "ix_incidents_school_status"
OCCURRED = "ix_incidents_school_occurred"
ACTIVITY = "ix_incidents_school_activity"
SEARCH = "ix_incidents_search"
STUDENTS = "ix_incident_students_student"
CATEGORIES = "ix_incident_categories_category"


async def _ids(conn: AsyncConnection, sql: str) -> dict[str, int]:
    return {row[0]: row[1] for row in await conn.execute(text(sql))}


@pytest.fixture
async def loaded(db: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with db.begin() as conn:
        await _load(conn)
    async with db.connect() as conn:
        yield conn


async def _plan(conn: AsyncConnection, statement: Select) -> dict[str, Any]:
    compiled = statement.compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    explain = f"EXPLAIN (FORMAT JSON) {compiled.string}"
    result = await conn.exec_driver_sql(explain, params)
    return result.scalar_one()[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _scopes(conn: AsyncConnection) -> dict[str, tuple[IncidentScope, set[str]]]:
    """Each filter and the indexes its count must use.

    Page statements may also walk ix_incidents_school_occurred in order and stop
    after a page, which is cheaper for common values; counts cannot.
    """
    ids = await _ids(conn, IDS)
    school = IncidentScope(school_id=ids["school"])
    march = replace(
        school,
        since=datetime(2024, 3, 1, tzinfo=UTC),
        before=datetime(2024, 4, 1, tzinfo=UTC),
    )
    active = (IncidentStatus.ACTIVE,)
    return {
        "everything": (school, set()),
        "STAFF": (replace(school, added_by_id=ids["teacher"]), {ADDED_BY}),
        "assignedTo": (replace(school, assignee_ids=(ids["deputy"],)), {ASSIGNEE}),
        "assignedTo two": (
            replace(school, assignee_ids=(ids["deputy"], ids["dsl"])),
            {ASSIGNEE},
        ),
        "unassigned": (replace(school, unassigned=True), {UNASSIGNED}),
        "unassigned or assignedTo": (
            replace(school, unassigned=True, assignee_ids=(ids["deputy"],)),
            {UNASSIGNED, ASSIGNEE},
        ),
        "status": (replace(school, statuses=active), {STATUS}),
        "from/to": (march, {OCCURRED}),
        "includeLatestActivity": (
            replace(march, include_latest_activity=True),
            {OCCURRED, ACTIVITY},
        ),
        "containing words": (
            replace(school, text=parse_text_query("trampoline PE")),
            {SEARCH},
        ),
        "containing phrase": (
            replace(school, text=parse_text_query('"trampoline accident"')),
            {SEARCH},
        ),
        "students": (replace(school, student_ids=(ids["student"],)), {STUDENTS}),
        "categories": (replace(school, category_ids=(ids["category"],)), {CATEGORIES}),
        "ACTIVE and unassigned": (
            replace(school, statuses=active, unassigned=True),
            set(),
        ),
        "deputy this term": (
            replace(march, assignee_ids=(ids["deputy"],)),
            set(),
        ),
        "My Assigned": (my_assigned_scope(ids["school"], ids["deputy"]), {ASSIGNEE}),
    }


def _problems(
    name: str, kind: str, plan: dict[str, Any], wanted: set[str]
) -> list[str]:
    nodes = list(_nodes(plan))
    scanned = {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    problems = [f"{name} {kind}: Seq Scan on {table}" for table in scanned & TABLES]
    if missing := wanted - used:
        problems.append(f"{name} {kind}: {sorted(missing)} unused; {sorted(used)}")
    return problems


async def test_every_filter_is_served_by_an_index(loaded: AsyncConnection) -> None:
    problems = []
    for name, (scope, wanted) in (await _scopes(loaded)).items():
        page = await _plan(loaded, page_statement(scope, 50, None))
        problems += _problems(name, "page", page, wanted & {SEARCH})
        count = await _plan(loaded, count_statement(scope))
        problems += _problems(name, "count", count, wanted)
    assert not problems, "\n".join(problems)


async def test_text_searches_are_never_run_on_a_generic_plan(
    loaded: AsyncConnection,
) -> None:
    # A generic plan cannot see the words, and PostgreSQL may switch to one
    # after five runs of a prepared statement: searches must not.
    ids = await _ids(loaded, IDS)
    searches = [
        IncidentScope(
            school_id=ids["school"],
            since=datetime(2024, 3, 1, tzinfo=UTC),
            before=datetime(2024, 4, 1, tzinfo=UTC),
            text=parse_text_query(words),
        )
        for words in ("trampoline PE", "trampoline accident")
    ]
    for _ in range(5):
        for scope in searches:
            await incident_page(loaded, scope, 50, None)
            await incident_count(loaded, scope)
    prepared = await loaded.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%cases_school_query%'"
            " AND statement NOT LIKE '%pg_prepared_statements%'"
        )
    )
    plans = prepared.all()
    assert len(plans) == 2  # one page, one count statement
    assert all(generic == 0 and custom == 10 for generic, custom in plans)
    setting = await loaded.scalar(text("SHOW plan_cache_mode"))
    assert setting == "auto"

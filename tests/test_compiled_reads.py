"""Compiled reads answer exactly as the ordinary path does, in one statement.

Every document below goes to the session's API (compiled reads on) and to a
second API over the same database with them off; the two answers must be the
same JSON, for every viewer, errors included.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import hypothesis_graphql
import pytest
from graphql import StringValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.settings import Settings
from schema import schema as cases_schema
from tests.fixtures import add_incident, directory, user_id
from tests.graphql import Api
from tests.servers import serving

INCIDENT_FIELDS = """
    __typename id number wholeSchool description occurredAt addedAt status
    edited lastActivityAt version
    students { __typename id name yearGroup }
    categories { id name }
    assignedTo { id name email role }
    addedBy { __typename id name email role }
    history {
      __typename kind at fromStatus toStatus bulk
      actor { name role } fromAssignee { id } toAssignee { name email }
    }
"""

LIST = f"""
query List($first: Int, $after: String, $filter: IncidentFilter) {{
  __typename
  incidents(first: $first, after: $after, filter: $filter) {{
    totalCount
    nodes {{ {INCIDENT_FIELDS} }}
    edges {{ cursor node {{ id number }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

VIEWER = """
query Mine($first: Int, $after: String) {
  viewer {
    __typename
    school { id name casesEnabled }
    mine: myAssigned(first: $first, after: $after) {
      __typename totalCount
      nodes { ...Brief }
      pageInfo { __typename hasNextPage endCursor }
    }
    user { id name email role }
  }
}
fragment Brief on Incident { id number status ... on Node { id2: id } }
"""

ONE = f"query One($id: ID!) {{ incident(id: $id) {{ {INCIDENT_FIELDS} }} }}"

VIEWERS = [
    ("dsl@primary.example", "Demo Primary"),
    ("teacher@primary.example", "Demo Primary"),
    ("ta@primary.example", "Demo Primary"),
    ("admin@primary.example", "Demo Primary"),
    ("dsl@academy.example", "Demo Academy"),
]


@pytest.fixture
async def ordinary(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings.model_copy(update={"compiled_reads": False})) as client:
        yield client


class Both:
    def __init__(self, api: Api, ordinary: httpx.AsyncClient) -> None:
        self.api = api
        self.ordinary = ordinary

    async def same(
        self,
        viewer: tuple[str, str],
        query: str,
        variables: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], int]:
        """The compiled answer, checked equal to the ordinary one, and the
        number of statements the compiled side ran."""
        email, school = viewer
        headers = {"Authorization": f"Bearer {await self.api.token(email, school)}"}
        body = {"query": query, "variables": variables or {}}
        before = len(self.api.statements)
        compiled = await self.api.client.post("/graphql", json=body, headers=headers)
        statements = len(self.api.statements) - before
        expected = await self.ordinary.post("/graphql", json=body, headers=headers)
        assert compiled.status_code == expected.status_code
        answer, wanted = compiled.json(), expected.json()
        for errors in (answer.get("errors") or [], wanted.get("errors") or []):
            for error in errors:  # request ids differ by nature
                error.get("extensions", {}).pop("requestId", None)
        assert answer == wanted
        return answer, statements


@pytest.fixture
async def both(api: Api, ordinary: httpx.AsyncClient) -> Both:
    return Both(api, ordinary)


async def _caseload(api: Api) -> list[dict[str, Any]]:
    """Incidents of every shape: by STAFF and Key Users, assigned or not, each
    status, whole-school, with history and fractional-second times."""
    ids = await directory(api)
    dsl = await user_id(api, "dsl@primary.example")
    deputy = await user_id(api, "deputy@primary.example")
    added = []
    for n in range(7):
        added.append(
            await add_incident(
                api,
                "teacher@primary.example" if n % 2 else "dsl@primary.example",
                occurredAt=f"2026-10-{1 + n:02d}T09:00:0{n}.{n}5+01:00",
                studentIds=ids["students"][n % 3 : n % 3 + 2],
                categoryIds=ids["categories"][: 1 + n % 2],
                **({"assignedToId": dsl} if n in (0, 4) else {}),
            )
        )
    added.append(
        await add_incident(
            api,
            "dsl@primary.example",
            studentIds=[],
            wholeSchool=True,
            description="Whole-school concern: a stranger at the gate.",
        )
    )
    change = """mutation ($i: ChangeStatusInput!) {
        changeStatus(input: $i) { incident { id } } }"""
    assign = "mutation ($i: AssignInput!) { assign(input: $i) { incident { id } } }"
    await api.as_user(
        "dsl@primary.example",
        change,
        {"i": {"incidentId": added[0]["id"], "status": "CLOSED"}},
    )
    await api.as_user(
        "dsl@primary.example",
        assign,
        {"i": {"incidentId": added[3]["id"], "assigneeId": deputy}},
    )
    await add_incident(api, "dsl@academy.example", school="Demo Academy")
    return added


async def test_lists_match_for_every_viewer(api: Api, both: Both) -> None:
    await _caseload(api)
    for viewer in VIEWERS:
        answer, statements = await both.same(viewer, LIST, {"first": 3})
        assert statements == 1
        cursor = answer["data"]["incidents"]["pageInfo"]["endCursor"]
        if cursor is not None:
            await both.same(viewer, LIST, {"first": 3, "after": cursor})


@pytest.mark.parametrize(
    "incident_filter",
    [
        {"status": ["ACTIVE"], "unassigned": True},
        {"status": ["CLOSED", "NO_FURTHER_ACTION"]},
        {"unassigned": False, "status": []},
        {"status": None, "from": None},
        {"containing": "lunch money"},  # the ordinary path's own filter
    ],
)
async def test_filtered_lists_match(
    api: Api, both: Both, incident_filter: dict[str, Any]
) -> None:
    await _caseload(api)
    for viewer in VIEWERS[:2]:
        await both.same(viewer, LIST, {"filter": incident_filter, "first": 10})


async def test_id_filters_match_and_refuse_alike(api: Api, both: Both) -> None:
    await _caseload(api)
    ids = await directory(api)
    other = await directory(api, "Demo Academy")
    dsl = await user_id(api, "dsl@primary.example")
    deputy = await user_id(api, "deputy@primary.example")
    academy_dsl = await user_id(api, "dsl@academy.example", "Demo Academy")
    compiled = [
        {"assignedTo": [dsl]},
        {"assignedTo": [dsl, deputy, dsl], "unassigned": True},
        {"assignedTo": [], "students": ids["students"][:2]},
        {"categories": ids["categories"][:2], "status": ["ACTIVE", "CLOSED"]},
        {"students": ids["students"][1:3], "categories": ids["categories"][:1]},
    ]
    refused = [
        ({"assignedTo": [academy_dsl]}, "NOT_FOUND"),
        ({"students": other["students"][:1]}, "NOT_FOUND"),
        ({"categories": [ids["categories"][0], other["categories"][0]]}, "NOT_FOUND"),
        ({"students": ["not an id"]}, "BAD_USER_INPUT"),
        ({"assignedTo": [ids["students"][0]]}, "BAD_USER_INPUT"),
    ]
    for viewer in VIEWERS[:2]:
        for incident_filter in compiled:
            answer, statements = await both.same(
                viewer, LIST, {"filter": incident_filter, "first": 4}
            )
            assert "errors" not in answer and statements == 1
        for incident_filter, code in refused:
            answer, _ = await both.same(viewer, LIST, {"filter": incident_filter})
            assert answer["errors"][0]["extensions"]["code"] == code


async def test_my_assigned_and_viewer_match(api: Api, both: Both) -> None:
    await _caseload(api)
    for viewer in VIEWERS:
        answer, statements = await both.same(viewer, VIEWER, {"first": 1})
        assert statements == 1
        cursor = answer["data"]["viewer"]["mine"]["pageInfo"]["endCursor"]
        await both.same(viewer, VIEWER, {"first": 1, "after": cursor})


async def test_one_incident_matches_or_errors_alike(api: Api, both: Both) -> None:
    added = await _caseload(api)
    by_teacher, by_dsl = added[1]["id"], added[0]["id"]
    for viewer in VIEWERS:
        for incident_id in (by_teacher, by_dsl, "SW5jaWRlbnQ6OTk5OTk5", "garbage"):
            await both.same(viewer, ONE, {"id": incident_id})


async def test_refusals_match(
    api: Api, both: Both, db: AsyncEngine, settings: Settings
) -> None:
    await _caseload(api)
    dsl = VIEWERS[0]
    await both.same(dsl, LIST, {"first": 0})
    await both.same(dsl, LIST, {"first": 101})
    await both.same(dsl, LIST, {"after": "not a cursor"})
    await both.same(dsl, LIST, {"first": "three"})
    async with db.begin() as conn:
        await conn.execute(text("UPDATE schools SET cases_enabled = false"))
    await both.same(dsl, VIEWER)
    await both.same(dsl, LIST, {"filter": {"unassigned": True}})
    _, statements = await both.same(dsl, LIST)
    assert statements == 1
    async with db.begin() as conn:
        await conn.execute(text("UPDATE memberships SET removed_at = now()"))
    await both.same(dsl, LIST)


_DATES = st.dates(date(2026, 9, 1), date(2026, 12, 31))
GENERATED = hypothesis_graphql.queries(
    cases_schema.as_str(),
    fields=["incident", "incidents", "viewer"],
    custom_scalars={
        "Date": _DATES.map(lambda d: StringValueNode(value=d.isoformat())),
        "DateTime": _DATES.map(
            lambda d: StringValueNode(value=f"{d.isoformat()}T10:00:00+00:00")
        ),
    },
    allow_x00=False,
)


async def test_generated_queries_match(api: Api, ordinary: httpx.AsyncClient) -> None:
    """Queries generated from the schema over the compiled roots: whatever
    each path takes, both answer alike, for a Key User and for STAFF."""
    added = await _caseload(api)
    both = Both(api, ordinary)
    ids = [incident["id"] for incident in added]
    compiled = 0

    @given(document=GENERATED, which=st.integers(0, len(ids) - 1))
    @settings(
        max_examples=int(os.environ.get("CASES_COMPILED_EXAMPLES", "100")),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    def check(document: str, which: int) -> None:
        nonlocal compiled
        # Generated ids are random strings: name a real incident most times.
        document = document.replace('id: ""', f'id: "{ids[which]}"')
        for viewer in VIEWERS[:2]:
            _, statements = asyncio.run_coroutine_threadsafe(
                both.same(viewer, document), loop
            ).result()
            compiled += statements == 1

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(check)
    # The point is the compiled path: some generated documents must take it.
    assert compiled > 0, compiled


async def test_other_documents_take_the_ordinary_path(api: Api, both: Both) -> None:
    await _caseload(api)
    dsl = VIEWERS[0]
    monitored = """{ incidents(first: 2) {
        nodes { students { monitoredCategories { name } } } } }"""
    _, statements = await both.same(dsl, monitored)
    assert statements > 1
    skipped = "query ($s: Boolean!) { incidents { nodes { id @skip(if: $s) number } } }"
    await both.same(dsl, skipped, {"s": True})
    await both.same(dsl, "{ incidents { nodes { id } } incidents { totalCount } }")
    await both.same(dsl, "{ incidents(first: 1) { nodes { nope } } }")

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures import ADD, add_incident, incident_input, user_id
from tests.graphql import Api


async def _switch(db: AsyncEngine, enabled: bool) -> None:
    async with db.begin() as conn:
        await conn.execute(
            text("UPDATE schools SET cases_enabled = :on WHERE name = 'Demo Primary'"),
            {"on": enabled},
        )


REFUSED = [
    "{ viewer { myAssigned { totalCount } } }",
    "{ incidents(filter: {unassigned: true}) { totalCount } }",
    "{ incidents(filter: {status: [ACTIVE]}) { totalCount } }",
    'mutation { bulkClose(input: {from: "2026-01-01", to: "2026-12-31", '
    "status: CLOSED}) { updatedCount } }",
]


@pytest.mark.parametrize("query", REFUSED)
async def test_case_operations_refused_when_off(
    api: Api, db: AsyncEngine, query: str
) -> None:
    await _switch(db, False)
    answer = await api.as_user("admin@primary.example", query)
    assert answer.code == "MODULE_DISABLED"


async def test_recording_and_reading_continue_when_off(
    api: Api, db: AsyncEngine
) -> None:
    dsl = await user_id(api, "dsl@primary.example")
    assigned = await add_incident(api, "admin@primary.example", assignedToId=dsl)
    await _switch(db, False)
    added = await add_incident(api, "teacher@primary.example")
    assert added["status"] == "ACTIVE"
    change = await api.as_user(
        "dsl@primary.example",
        "mutation ($id: ID!) { changeStatus(input: {incidentId: $id, status: CLOSED})"
        " { incident { status } } }",
        {"id": assigned["id"]},
    )
    assert change.code == "MODULE_DISABLED"
    assign = await api.as_user(
        "dsl@primary.example",
        "mutation ($id: ID!) { assign(input: {incidentId: $id, assigneeId: null})"
        " { incident { status } } }",
        {"id": assigned["id"]},
    )
    assert assign.code == "MODULE_DISABLED"
    read = await api.as_user(
        "dsl@primary.example",
        "query ($id: ID!) { incident(id: $id) { assignedTo { email } } }",
        {"id": assigned["id"]},
    )
    assert read.data["incident"]["assignedTo"]["email"] == "dsl@primary.example"
    await _switch(db, True)
    mine = await api.as_user(
        "dsl@primary.example", "{ viewer { myAssigned { nodes { id } } } }"
    )
    assert [n["id"] for n in mine.data["viewer"]["myAssigned"]["nodes"]] == [
        assigned["id"]
    ]


async def test_add_with_assignment_refused_when_off(api: Api, db: AsyncEngine) -> None:
    dsl = await user_id(api, "dsl@primary.example")
    await _switch(db, False)
    payload = await incident_input(api, assignedToId=dsl)
    answer = await api.as_user("admin@primary.example", ADD, {"input": payload})
    assert answer.code == "MODULE_DISABLED"


async def test_add_with_status_refused_when_off(api: Api, db: AsyncEngine) -> None:
    await _switch(db, False)
    payload = await incident_input(api, status="CLOSED")
    answer = await api.as_user("admin@primary.example", ADD, {"input": payload})
    assert answer.code == "MODULE_DISABLED"
    count = await api.as_user("admin@primary.example", "{ incidents { totalCount } }")
    assert count.data["incidents"]["totalCount"] == 0


async def test_assigned_to_filter_refused_when_off(api: Api, db: AsyncEngine) -> None:
    dsl = await user_id(api, "dsl@primary.example")
    await _switch(db, False)
    answer = await api.as_user(
        "admin@primary.example",
        "query ($f: IncidentFilter) { incidents(filter: $f) { totalCount } }",
        {"f": {"assignedTo": [dsl]}},
    )
    assert answer.code == "MODULE_DISABLED"

"""bulkClose: who may, which incidents change, what is recorded, and races."""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from models import clock
from tests.fixtures import add_incident, directory, user_id
from tests.graphql import Answer, Api

ADMIN = "admin@primary.example"
DSL = "dsl@primary.example"
BULK = """
mutation ($input: BulkCloseInput!) { bulkClose(input: $input) { updatedCount dryRun } }
"""
STATE = """
{ incidents(first: 100) { nodes {
    number status version edited lastActivityAt assignedTo { email }
    history {
      kind at bulk actor { email } fromStatus toStatus
      fromAssignee { email } toAssignee { email }
    }
} } }
"""
ASSIGN = """
mutation ($input: AssignInput!) { assign(input: $input) { incident { version } } }
"""
CHANGE_STATUS = """
mutation ($input: ChangeStatusInput!) {
  changeStatus(input: $input) { incident { version } }
}
"""
MY_ASSIGNED = "{ viewer { myAssigned { totalCount } } }"
MONITORED = """
query ($id: ID!) { node(id: $id) { ... on Student { monitoredCategories { name } } } }
"""


async def _bulk(
    api: Api, start: str, end: str, status: str, email: str = ADMIN, **extra: Any
) -> Answer:
    variables = {"input": {"from": start, "to": end, "status": status, **extra}}
    return await api.as_user(email, BULK, variables)


async def _updated(api: Api, start: str, end: str, status: str, **extra: Any) -> int:
    answer = await _bulk(api, start, end, status, **extra)
    return answer.data["bulkClose"]["updatedCount"]


async def _add(api: Api, occurred_at: str, **overrides: Any) -> dict[str, Any]:
    if "T" not in occurred_at:
        occurred_at += "T10:00:00+00:00"
    return await add_incident(api, DSL, occurredAt=occurred_at, **overrides)


async def _state(api: Api) -> dict[int, dict[str, Any]]:
    nodes = (await api.as_user(DSL, STATE)).data["incidents"]["nodes"]
    return {node["number"]: node for node in nodes}


async def _statuses(api: Api) -> dict[int, str]:
    return {number: node["status"] for number, node in (await _state(api)).items()}


def _assert_history_explains(node: dict[str, Any]) -> None:
    """Replaying the history gives the incident's status, assignee and version."""
    added, *changes = node["history"]
    status, assignee = added["toStatus"], added["toAssignee"]
    for event in changes:
        if event["kind"] == "STATUS_CHANGED":
            assert event["fromStatus"] == status, node
            status = event["toStatus"]
        if event["kind"] == "ASSIGNED":
            assert event["fromAssignee"] == assignee, node
            assignee = event["toAssignee"]
    assert (status, assignee) == (node["status"], node["assignedTo"]), node
    assert node["version"] == 1 + len(changes), node


async def test_only_admins_may_bulk_close(api: Api) -> None:
    await _add(api, "2026-03-01")
    for email in (DSL, "deputy@primary.example", "teacher@primary.example"):
        answer = await _bulk(api, "2026-01-01", "2026-12-31", "CLOSED", email)
        assert answer.code == "FORBIDDEN", email
    answer = await _bulk(
        api, "2026-01-01", "2026-12-31", "CLOSED", "lead@trust.example"
    )
    assert answer.code == "FORBIDDEN"
    assert await _statuses(api) == {1: "ACTIVE"}


async def test_active_as_target_is_refused(api: Api) -> None:
    await _add(api, "2026-03-01", status="CLOSED")
    answer = await _bulk(api, "2026-01-01", "2026-12-31", "ACTIVE")
    assert answer.code == "BAD_USER_INPUT"
    assert answer.error["extensions"]["field"] == "status"
    assert await _statuses(api) == {1: "CLOSED"}


async def test_from_after_to_is_refused(api: Api) -> None:
    await _add(api, "2026-03-01")
    answer = await _bulk(api, "2026-03-02", "2026-03-01", "CLOSED")
    assert answer.code == "BAD_USER_INPUT"
    assert answer.error["extensions"]["field"] == "from"
    assert await _statuses(api) == {1: "ACTIVE"}


async def test_module_off_refuses_bulk_close(api: Api, db: AsyncEngine) -> None:
    await _add(api, "2026-03-01")
    async with db.begin() as conn:
        await conn.execute(text("UPDATE schools SET cases_enabled = false"))
    answer = await _bulk(api, "2026-01-01", "2026-12-31", "CLOSED")
    assert answer.code == "MODULE_DISABLED"


async def test_dry_run_counts_and_changes_nothing(api: Api) -> None:
    await _add(api, "2026-03-01")
    await _add(api, "2026-03-02", status="CLOSED")
    await _add(api, "2026-03-03", status="NO_FURTHER_ACTION")
    before = await _state(api)
    answer = await _bulk(
        api, "2026-01-01", "2026-12-31", "NO_FURTHER_ACTION", dryRun=True
    )
    assert answer.data["bulkClose"] == {"updatedCount": 2, "dryRun": True}
    assert await _state(api) == before
    assert await _updated(api, "2026-01-01", "2026-12-31", "NO_FURTHER_ACTION") == 2


async def test_closed_turns_only_active_into_closed(api: Api) -> None:
    await _add(api, "2026-03-01")
    await _add(api, "2026-03-02", status="CLOSED")
    await _add(api, "2026-03-03", status="NO_FURTHER_ACTION")
    await _add(api, "2026-03-04")
    answer = await _bulk(api, "2026-01-01", "2026-12-31", "CLOSED")
    assert answer.data["bulkClose"] == {"updatedCount": 2, "dryRun": False}
    statuses = await _statuses(api)
    assert statuses == {1: "CLOSED", 2: "CLOSED", 3: "NO_FURTHER_ACTION", 4: "CLOSED"}
    versions = {n: node["version"] for n, node in (await _state(api)).items()}
    assert versions == {1: 2, 2: 1, 3: 1, 4: 2}


async def test_no_further_action_turns_active_and_closed(api: Api) -> None:
    await _add(api, "2026-03-01")
    await _add(api, "2026-03-02", status="CLOSED")
    await _add(api, "2026-03-03", status="NO_FURTHER_ACTION")
    assert await _updated(api, "2026-01-01", "2026-12-31", "NO_FURTHER_ACTION") == 2
    state = await _state(api)
    assert {node["status"] for node in state.values()} == {"NO_FURTHER_ACTION"}
    assert [node["version"] for node in state.values()] == [1, 2, 2]


async def test_empty_range_changes_nothing(api: Api) -> None:
    await _add(api, "2026-03-01")
    before = await _state(api)
    assert await _updated(api, "2026-03-02", "2026-03-31", "CLOSED") == 0
    assert await _updated(api, "2025-03-01", "2025-03-01", "NO_FURTHER_ACTION") == 0
    assert await _state(api) == before


async def test_range_is_whole_days_in_the_school_time_zone(api: Api) -> None:
    # Europe/London is on BST (UTC+1) in July.
    await _add(api, "2026-06-30T22:59:59+00:00")  # 30 June, 23:59:59 BST
    await _add(api, "2026-06-30T23:00:00+00:00")  # 1 July, 00:00 BST
    await _add(api, "2026-07-31T22:59:59+00:00")  # 31 July, 23:59:59 BST
    await _add(api, "2026-07-31T23:00:00+00:00")  # 1 August, 00:00 BST
    assert await _updated(api, "2026-07-01", "2026-07-31", "CLOSED") == 2
    statuses = await _statuses(api)
    assert statuses == {1: "ACTIVE", 2: "CLOSED", 3: "CLOSED", 4: "ACTIVE"}
    assert await _updated(api, "2026-06-30", "2026-06-30", "CLOSED") == 1
    assert (await _statuses(api))[1] == "CLOSED"


async def test_history_records_the_admin_and_bulk(api: Api) -> None:
    clock.freeze(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    await _add(api, "2026-03-01")
    await _add(api, "2026-03-02", status="CLOSED")
    at = datetime(2026, 4, 2, 16, 30, tzinfo=UTC)
    clock.freeze(at)
    assert await _updated(api, "2026-03-01", "2026-03-02", "NO_FURTHER_ACTION") == 2
    for number, was in ((1, "ACTIVE"), (2, "CLOSED")):
        node = (await _state(api))[number]
        assert node["edited"] is True
        assert node["version"] == 2
        assert node["lastActivityAt"] == at.isoformat()
        assert node["history"][-1] == {
            "kind": "STATUS_CHANGED",
            "at": at.isoformat(),
            "bulk": True,
            "actor": {"email": ADMIN},
            "fromStatus": was,
            "toStatus": "NO_FURTHER_ACTION",
            "fromAssignee": None,
            "toAssignee": None,
        }
        assert [event["bulk"] for event in node["history"]] == [False, True]


async def test_my_assigned_and_monitoring_follow_at_once(api: Api) -> None:
    deputy_email = "deputy@primary.example"
    deputy = await user_id(api, deputy_email)
    ids = await directory(api)
    student = ids["students"][0]
    await _add(api, "2026-03-01", assignedToId=deputy, studentIds=[student])
    await _add(api, "2026-03-02", assignedToId=deputy, studentIds=[student])

    async def assigned() -> int:
        answer = await api.as_user(deputy_email, MY_ASSIGNED)
        return answer.data["viewer"]["myAssigned"]["totalCount"]

    async def monitored() -> list[dict[str, str]]:
        answer = await api.as_user(DSL, MONITORED, {"id": student})
        return answer.data["node"]["monitoredCategories"]

    assert await assigned() == 2
    categories = await monitored()
    assert len(categories) == 1
    assert await _updated(api, "2026-03-01", "2026-03-01", "CLOSED") == 1
    assert await assigned() == 1
    assert await monitored() == categories
    assert await _updated(api, "2026-03-01", "2026-03-02", "NO_FURTHER_ACTION") == 2
    assert await assigned() == 0
    assert await monitored() == []


async def test_other_schools_are_untouched(api: Api) -> None:
    await _add(api, "2026-03-01")
    await add_incident(
        api,
        "dsl@academy.example",
        "Demo Academy",
        occurredAt="2026-03-01T10:00:00+00:00",
    )
    assert await _updated(api, "2026-01-01", "2026-12-31", "CLOSED") == 1
    academy = await api.as_user("dsl@academy.example", STATE, school="Demo Academy")
    assert academy.data["incidents"]["nodes"][0]["status"] == "ACTIVE"


async def test_statement_count_does_not_grow_with_matches(api: Api) -> None:
    for day in range(1, 13):
        await _add(api, f"2026-03-{day:02d}")

    async def statements_for(start: str, end: str) -> int:
        before = len(api.statements)
        assert await _updated(api, start, end, "CLOSED") > 0
        return len(api.statements) - before

    one = await statements_for("2026-03-01", "2026-03-01")
    eleven = await statements_for("2026-03-02", "2026-03-12")
    assert one == eleven
    # viewer, and the one statement that locks, updates and writes history
    assert eleven <= 3


async def test_sends_no_alerts(api: Api, db: AsyncEngine) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    await _add(api, "2026-03-01", assignedToId=deputy)
    count = text("SELECT count(*) FROM alert_outbox")
    async with db.connect() as conn:
        before = (await conn.execute(count)).scalar_one()
    assert await _updated(api, "2026-03-01", "2026-03-01", "CLOSED") == 1
    async with db.connect() as conn:
        assert (await conn.execute(count)).scalar_one() == before


async def test_logged_with_ids_counts_and_range(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="resolvers.bulk_close")
    await _add(api, "2026-03-01", description="Lunch money taken by Amara.")
    assert await _updated(api, "2026-03-01", "2026-03-31", "CLOSED") == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "resolvers.bulk_close"]
    admin, _ = await api.ids(ADMIN)
    assert len(lines) == 1
    assert f"user {admin}" in lines[0]
    assert "2026-03-01 to 2026-03-31" in lines[0] and "1 incidents" in lines[0]
    assert "Amara" not in lines[0] and ADMIN not in lines[0]


async def test_assign_racing_a_bulk_close_is_not_lost(api: Api) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    added = [await _add(api, f"2026-03-{day:02d}") for day in range(1, 11)]
    assigns = [
        api.as_user(
            DSL, ASSIGN, {"input": {"incidentId": i["id"], "assigneeId": deputy}}
        )
        for i in added
    ]
    close = _bulk(api, "2026-03-01", "2026-03-31", "CLOSED")
    answers = await asyncio.gather(close, *assigns)
    assert answers[0].data["bulkClose"]["updatedCount"] == 10
    for answer in answers[1:]:
        assert answer.data["assign"]["incident"]["version"] in (2, 3)
    for node in (await _state(api)).values():
        assert node["status"] == "CLOSED"
        assert node["assignedTo"] == {"email": "deputy@primary.example"}
        assert sorted(e["kind"] for e in node["history"]) == [
            "ADDED",
            "ASSIGNED",
            "STATUS_CHANGED",
        ]
        _assert_history_explains(node)


async def test_bulk_close_queues_behind_changes_in_progress(
    api: Api, db: AsyncEngine
) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    added = [await _add(api, f"2026-03-{day:02d}") for day in range(1, 5)]
    assign = {"assigneeId": deputy}
    to_nfa = {"status": "NO_FURTHER_ACTION"}
    requests = [(ASSIGN, assign), (ASSIGN, assign), (CHANGE_STATUS, to_nfa)] * 2
    async with db.connect() as blocker:
        # Holding every row makes the Key Users' changes queue first, the bulk
        # close behind them: the order is set by locks, not by timing.
        await blocker.execute(text("SELECT id FROM incidents FOR UPDATE"))
        changes = [
            asyncio.create_task(
                api.as_user(DSL, query, {"input": {"incidentId": i["id"], **extra}})
            )
            for i, (query, extra) in zip(added, requests, strict=False)
        ]
        await _until_waiting(db, len(changes))
        close = asyncio.create_task(_bulk(api, "2026-03-01", "2026-03-31", "CLOSED"))
        await _until_waiting(db, len(changes) + 1)
        await blocker.rollback()
    assert (await close).data["bulkClose"]["updatedCount"] == 3
    for change in changes:
        assert not (await change).body.get("errors")
    state = await _state(api)
    assert [state[number]["status"] for number in (1, 2, 3, 4)] == [
        "CLOSED",
        "CLOSED",
        "NO_FURTHER_ACTION",
        "CLOSED",
    ]
    kinds = {n: [e["kind"] for e in node["history"]] for n, node in state.items()}
    assert kinds[1] == ["ADDED", "ASSIGNED", "STATUS_CHANGED"]
    assert kinds[3] == ["ADDED", "STATUS_CHANGED"]
    for node in state.values():
        _assert_history_explains(node)


async def _until_waiting(db: AsyncEngine, sessions: int) -> None:
    """Returns once that many of the API's sessions wait for a lock."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cases'"
        " AND wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(2000):
        async with db.connect() as conn:
            if (await conn.execute(waiting)).scalar_one() >= sessions:
                return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{sessions} sessions never queued for the rows")


async def test_status_change_racing_a_bulk_close_is_not_lost(api: Api) -> None:
    added = [await _add(api, f"2026-03-{day:02d}") for day in range(1, 11)]
    changes = [
        api.as_user(
            DSL,
            CHANGE_STATUS,
            {"input": {"incidentId": i["id"], "status": "NO_FURTHER_ACTION"}},
        )
        for i in added
    ]
    close = _bulk(api, "2026-03-01", "2026-03-31", "CLOSED")
    answers = await asyncio.gather(close, *changes)
    for answer in answers[1:]:
        assert answer.data["changeStatus"]["incident"]["version"] in (2, 3)
    state = await _state(api)
    bulk_events = [e for n in state.values() for e in n["history"] if e["bulk"]]
    assert answers[0].data["bulkClose"]["updatedCount"] == len(bulk_events)
    for node in state.values():
        # Whichever came first, the Key User's decision is the last word.
        assert node["status"] == "NO_FURTHER_ACTION"
        _assert_history_explains(node)

"""Staff management over GraphQL: listing, roles, removal, handover, categories."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.mailcatcher import MailCatcher
from cases.settings import Settings
from models.demo import CATEGORIES
from tests.fixtures import add_incident, user_id
from tests.graphql import Answer, Api
from workers.settings import build_worker

ADMIN = "admin@primary.example"
DSL = "dsl@primary.example"
DEPUTY = "deputy@primary.example"
TEACHER = "teacher@primary.example"
LEAD = "lead@trust.example"
STAFF = """
{ staff { id name email role hasLeft activeAssignedCount } }
"""
MEMBER = "member { email role hasLeft activeAssignedCount } reassignedCount"
CHANGE_ROLE = f"""
mutation ($input: ChangeRoleInput!) {{ changeRole(input: $input) {{ {MEMBER} }} }}
"""
REMOVE = f"""
mutation ($input: RemoveMemberInput!) {{ removeMember(input: $input) {{ {MEMBER} }} }}
"""
REASSIGN = """
mutation ($input: ReassignCasesInput!) {
  reassignCases(input: $input) { reassignedCount dryRun }
}
"""
ADD_CATEGORY = """
mutation ($input: AddCategoryInput!) {
  addCategory(input: $input) { category { name } }
}
"""
ASSIGN = """
mutation ($input: AssignInput!) { assign(input: $input) { incident { id } } }
"""
INCIDENTS = """
{ incidents(first: 100) { nodes {
    number status version edited lastActivityAt assignedTo { email }
    history { kind at actor { email } fromAssignee { email } toAssignee { email } }
} } }
"""
DEMO_ROLES = """
UPDATE memberships AS m SET role = CASE split_part(u.email, '@', 1)
    WHEN 'admin' THEN 'ADMIN' WHEN 'dsl' THEN 'KEY_USER'
    WHEN 'deputy' THEN 'KEY_USER' WHEN 'lead' THEN 'KEY_USER' ELSE 'STAFF' END
FROM users AS u WHERE u.id = m.user_id
"""


@pytest.fixture(autouse=True)
async def demo_roster(clean_slate: None, db: AsyncEngine) -> AsyncIterator[None]:
    """Put the demo schools' roles, categories and audit back after each test."""
    yield
    async with db.begin() as conn:
        # Replica mode skips the append-only trigger; only this suite, as a
        # superuser, can do it.
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("TRUNCATE staff_changes"))
        await conn.execute(text(DEMO_ROLES))
        await conn.execute(
            text("DELETE FROM categories WHERE NOT (name = ANY(:names))"),
            {"names": CATEGORIES},
        )


async def assigned_to(api: Api, email: str, count: int, **fields: Any) -> list[str]:
    assignee = await user_id(api, email)
    return [
        (await add_incident(api, ADMIN, assignedToId=assignee, **fields))["id"]
        for _ in range(count)
    ]


async def incidents(api: Api) -> dict[int, dict[str, Any]]:
    nodes = (await api.as_user(ADMIN, INCIDENTS)).data["incidents"]["nodes"]
    return {node["number"]: node for node in nodes}


async def query(db: AsyncEngine, sql: str) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(text(sql))]


async def handover_alerts(db: AsyncEngine) -> list[dict[str, Any]]:
    return await query(
        db,
        "SELECT recipient_id, actor_id, incident_count FROM alert_outbox "
        "WHERE incident_id IS NULL",
    )


async def audit(db: AsyncEngine) -> list[tuple[Any, ...]]:
    found = await query(
        db,
        "SELECT kind, from_role, to_role, incident_count, source FROM staff_changes "
        "ORDER BY id",
    )
    return [tuple(row.values()) for row in found]


async def change_role(
    api: Api, email: str, role: str, **handover: str | None
) -> Answer:
    target = {"userId": await user_id(api, email), "role": role, **handover}
    return await api.as_user(ADMIN, CHANGE_ROLE, {"input": target})


async def remove(api: Api, email: str, **handover: str | None) -> Answer:
    target = {"userId": await user_id(api, email), **handover}
    return await api.as_user(ADMIN, REMOVE, {"input": target})


async def run_worker(settings: Settings) -> None:
    worker = build_worker(settings, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()


# Listing and permissions -------------------------------------------------------


async def test_staff_lists_roles_and_active_cases(api: Api) -> None:
    await assigned_to(api, DSL, 2)
    await assigned_to(api, DEPUTY, 1, status="CLOSED")

    staff = (await api.as_user(ADMIN, STAFF)).data["staff"]

    by_email = {member["email"]: member for member in staff}
    assert set(by_email) == {ADMIN, DSL, DEPUTY, TEACHER, "ta@primary.example", LEAD}
    assert by_email[DSL]["activeAssignedCount"] == 2
    assert by_email[DEPUTY]["activeAssignedCount"] == 0
    assert by_email[ADMIN]["role"] == "ADMIN"
    assert by_email[DSL]["id"] == await user_id(api, DSL)
    assert not any(member["hasLeft"] for member in staff)
    names = [member["name"] for member in staff]
    assert names == sorted(names)


@pytest.mark.parametrize("email", [DSL, TEACHER])
async def test_staff_management_is_for_admins_only(api: Api, email: str) -> None:
    teacher = await user_id(api, TEACHER)
    attempts = [
        (STAFF, {}),
        (CHANGE_ROLE, {"input": {"userId": teacher, "role": "KEY_USER"}}),
        (REMOVE, {"input": {"userId": teacher}}),
        (REASSIGN, {"input": {"fromUserId": teacher}}),
        (ADD_CATEGORY, {"input": {"name": "Radicalisation"}}),
    ]

    for document, variables in attempts:
        answer = await api.as_user(email, document, variables)
        assert answer.code == "FORBIDDEN", document


# Demotion and removal ----------------------------------------------------------


async def test_demoting_key_user_with_cases_needs_handover(
    api: Api, db: AsyncEngine
) -> None:
    await assigned_to(api, DSL, 2)
    before = await incidents(api)

    answer = await change_role(api, DSL, "STAFF")

    assert answer.code == "BAD_USER_INPUT"
    assert answer.error["extensions"]["field"] == "handoverToId"
    assert "They hold 2 ACTIVE incidents" in answer.error["message"]
    assert await incidents(api) == before
    roles = {
        m["email"]: m["role"] for m in (await api.as_user(ADMIN, STAFF)).data["staff"]
    }
    assert roles[DSL] == "KEY_USER"
    assert await audit(db) == []


async def test_demotion_hands_cases_to_named_key_user(
    api: Api, db: AsyncEngine, settings: Settings, mail: MailCatcher
) -> None:
    await assigned_to(api, DSL, 2)
    await run_worker(settings)
    mail.clear()
    before = await incidents(api)

    answer = await change_role(
        api, DSL, "STAFF", handoverToId=await user_id(api, DEPUTY)
    )

    change = answer.data["changeRole"]
    assert change["reassignedCount"] == 2
    assert change["member"] == {
        "email": DSL,
        "role": "STAFF",
        "hasLeft": False,
        "activeAssignedCount": 0,
    }
    after = await incidents(api)
    for number, node in after.items():
        assert node["assignedTo"] == {"email": DEPUTY}
        assert node["version"] == before[number]["version"] + 1
        assert node["edited"] is True
        assert node["lastActivityAt"] == node["history"][-1]["at"]
        assert node["history"][-1] == {
            "kind": "ASSIGNED",
            "at": node["history"][-1]["at"],
            "actor": {"email": ADMIN},
            "fromAssignee": {"email": DSL},
            "toAssignee": {"email": DEPUTY},
        }
    deputy = (await api.ids(DEPUTY))[0]
    admin = (await api.ids(ADMIN))[0]
    assert await handover_alerts(db) == [
        {"recipient_id": deputy, "actor_id": admin, "incident_count": 2}
    ]
    assert await audit(db) == [
        ("ROLE_CHANGED", "KEY_USER", "STAFF", None, "API"),
        ("CASES_HANDED_OVER", None, None, 2, "API"),
    ]

    await run_worker(settings)

    [message] = mail.messages
    assert message["To"] == f"Dev Deputy <{DEPUTY}>"
    assert message["Subject"] == "2 incidents handed over to you - Demo Primary"
    assert "Alex Admin handed 2 incidents at Demo Primary over to you" in (
        message.as_string()
    )
    mail.clear()


async def test_demotion_to_nobody_unassigns_without_alert(
    api: Api, db: AsyncEngine
) -> None:
    await assigned_to(api, DSL, 3)

    answer = await change_role(api, DSL, "STAFF", handoverToId=None)

    assert answer.data["changeRole"]["reassignedCount"] == 3
    assert all(node["assignedTo"] is None for node in (await incidents(api)).values())
    assert await handover_alerts(db) == []


async def test_handover_must_go_to_another_key_user(api: Api) -> None:
    await assigned_to(api, DSL, 1)

    for target in (TEACHER, DSL):
        answer = await change_role(
            api, DSL, "STAFF", handoverToId=await user_id(api, target)
        )
        assert answer.code == "BAD_USER_INPUT"
        assert answer.error["extensions"]["field"] == "handoverToId"


async def test_role_change_without_cases_needs_no_handover(
    api: Api, db: AsyncEngine
) -> None:
    demoted = await change_role(api, DEPUTY, "STAFF")
    promoted = await change_role(api, TEACHER, "KEY_USER")

    assert demoted.data["changeRole"]["member"]["role"] == "STAFF"
    assert promoted.data["changeRole"]["reassignedCount"] == 0
    key_users = (await api.as_user(ADMIN, "{ keyUsers { email } }")).data["keyUsers"]
    assert {user["email"] for user in key_users} == {ADMIN, DSL, TEACHER, LEAD}
    assert await audit(db) == [
        ("ROLE_CHANGED", "KEY_USER", "STAFF", None, "API"),
        ("ROLE_CHANGED", "STAFF", "KEY_USER", None, "API"),
    ]


async def test_removing_member_hands_over_and_ends_access(
    api: Api, db: AsyncEngine
) -> None:
    await assigned_to(api, DEPUTY, 2)

    refused = await remove(api, DEPUTY)
    answer = await remove(api, DEPUTY, handoverToId=await user_id(api, DSL))

    assert refused.code == "BAD_USER_INPUT"
    assert "They hold 2 ACTIVE incidents" in refused.error["message"]
    assert answer.data["removeMember"] == {
        "member": {
            "email": DEPUTY,
            "role": "KEY_USER",
            "hasLeft": True,
            "activeAssignedCount": 0,
        },
        "reassignedCount": 2,
    }
    after = await api.as_user(DEPUTY, "{ viewer { user { email } } }")
    assert after.code == "UNAUTHENTICATED"
    staff = (await api.as_user(ADMIN, STAFF)).data["staff"]
    assert staff[-1]["email"] == DEPUTY and staff[-1]["hasLeft"] is True
    again = await api.as_user(ADMIN, REMOVE, {"input": {"userId": staff[-1]["id"]}})
    assert again.code == "BAD_USER_INPUT"
    assert [row[0] for row in await audit(db)] == [
        "MEMBER_REMOVED",
        "CASES_HANDED_OVER",
    ]


async def test_last_admin_cannot_be_demoted_or_removed(api: Api) -> None:
    demoted = await change_role(api, ADMIN, "KEY_USER")
    removed = await remove(api, ADMIN)

    assert demoted.code == removed.code == "BAD_USER_INPUT"
    assert "only Admin" in demoted.error["message"]
    await change_role(api, DSL, "ADMIN")
    stepped_down = await change_role(api, ADMIN, "KEY_USER")
    assert stepped_down.data["changeRole"]["member"]["role"] == "KEY_USER"


async def test_assignment_waits_for_demotion_in_progress(
    api: Api, db: AsyncEngine
) -> None:
    """A demotion holds the membership; an assignment to that member waits for
    it and is then refused, so no incident lands on someone now STAFF."""
    [incident] = await assigned_to(api, DEPUTY, 1)
    dsl = await user_id(api, DSL)
    dsl_pk = (await api.ids(DSL))[0]
    async with db.connect() as conn:
        await conn.execute(
            text("SELECT 1 FROM memberships WHERE user_id = :u FOR UPDATE"),
            {"u": dsl_pk},
        )
        variables = {"input": {"incidentId": incident, "assigneeId": dsl}}
        assigning = asyncio.create_task(api.as_user(ADMIN, ASSIGN, variables))
        await asyncio.sleep(0.5)
        assert not assigning.done()
        await conn.execute(
            text("UPDATE memberships SET role = 'STAFF' WHERE user_id = :u"),
            {"u": dsl_pk},
        )
        await conn.commit()

    answer = await assigning
    assert answer.code == "BAD_USER_INPUT"
    assert (await incidents(api))[1]["assignedTo"] == {"email": DEPUTY}


# reassignCases -----------------------------------------------------------------


async def test_reassign_dry_run_counts_and_changes_nothing(
    api: Api, db: AsyncEngine
) -> None:
    await assigned_to(api, DSL, 2)
    await assigned_to(api, DSL, 1, status="CLOSED")
    before = await incidents(api)
    variables = {
        "input": {
            "fromUserId": await user_id(api, DSL),
            "toUserId": await user_id(api, DEPUTY),
            "dryRun": True,
        }
    }

    answer = await api.as_user(ADMIN, REASSIGN, variables)

    assert answer.data["reassignCases"] == {"reassignedCount": 2, "dryRun": True}
    assert await incidents(api) == before
    assert await handover_alerts(db) == []
    assert await audit(db) == []


async def test_reassign_moves_active_cases_with_one_alert(
    api: Api, db: AsyncEngine
) -> None:
    await assigned_to(api, DSL, 3)
    await assigned_to(api, DSL, 1, status="CLOSED")
    variables = {
        "input": {
            "fromUserId": await user_id(api, DSL),
            "toUserId": await user_id(api, LEAD),
        }
    }

    answer = await api.as_user(ADMIN, REASSIGN, variables)

    assert answer.data["reassignCases"] == {"reassignedCount": 3, "dryRun": False}
    holders = [node["assignedTo"]["email"] for node in (await incidents(api)).values()]
    assert sorted(holders) == [DSL, LEAD, LEAD, LEAD]
    [alert] = await handover_alerts(db)
    assert alert["incident_count"] == 3
    assert await audit(db) == [("CASES_HANDED_OVER", None, None, 3, "API")]


async def test_reassign_to_self_or_nobody_sends_no_alert(
    api: Api, db: AsyncEngine
) -> None:
    await assigned_to(api, DSL, 2)
    dsl = await user_id(api, DSL)

    to_self = await api.as_user(
        ADMIN,
        REASSIGN,
        {"input": {"fromUserId": dsl, "toUserId": await user_id(api, ADMIN)}},
    )
    admin = await user_id(api, ADMIN)
    to_nobody = await api.as_user(ADMIN, REASSIGN, {"input": {"fromUserId": admin}})

    assert to_self.data["reassignCases"]["reassignedCount"] == 2
    assert to_nobody.data["reassignCases"]["reassignedCount"] == 2
    assert all(node["assignedTo"] is None for node in (await incidents(api)).values())
    assert await handover_alerts(db) == []


async def test_reassign_is_set_based(api: Api) -> None:
    """As many statements for many incidents as for one."""

    dsl, deputy = await user_id(api, DSL), await user_id(api, DEPUTY)

    async def statements_for(count: int) -> int:
        await assigned_to(api, DSL, count)
        before = len(api.statements)
        variables = {"input": {"fromUserId": dsl, "toUserId": deputy}}
        answer = await api.as_user(ADMIN, REASSIGN, variables)
        used = len(api.statements) - before
        assert answer.data["reassignCases"]["reassignedCount"] == count
        await api.as_user(ADMIN, REASSIGN, {"input": {"fromUserId": deputy}})
        return used

    assert await statements_for(1) == await statements_for(6)


async def test_reassign_checks_its_users(api: Api, db: AsyncEngine) -> None:
    dsl = await user_id(api, DSL)
    cases = [
        ({"fromUserId": dsl, "toUserId": await user_id(api, TEACHER)}, "toUserId"),
        ({"fromUserId": dsl, "toUserId": dsl}, "toUserId"),
        ({"fromUserId": "nonsense"}, "fromUserId"),
        (
            {"fromUserId": await user_id(api, "admin@academy.example", "Demo Academy")},
            "fromUserId",
        ),
    ]

    for variables, field in cases:
        answer = await api.as_user(ADMIN, REASSIGN, {"input": variables})
        assert answer.code == "BAD_USER_INPUT", variables
        assert answer.error["extensions"]["field"] == field

    async with db.begin() as conn:
        await conn.execute(text("UPDATE schools SET cases_enabled = false"))
    off = await api.as_user(ADMIN, REASSIGN, {"input": {"fromUserId": dsl}})
    assert off.code == "MODULE_DISABLED"


# Categories and the record -----------------------------------------------------


async def test_add_category(api: Api, db: AsyncEngine) -> None:
    added = await api.as_user(
        ADMIN, ADD_CATEGORY, {"input": {"name": "  Child   on child abuse "}}
    )
    duplicate = await api.as_user(
        ADMIN, ADD_CATEGORY, {"input": {"name": "online SAFETY"}}
    )
    blank = await api.as_user(ADMIN, ADD_CATEGORY, {"input": {"name": "   "}})

    assert added.data["addCategory"]["category"] == {"name": "Child on child abuse"}
    listed = (await api.as_user(TEACHER, "{ categories { name } }")).data
    assert {"name": "Child on child abuse"} in listed["categories"]
    for refused in (duplicate, blank):
        assert refused.code == "BAD_USER_INPUT"
        assert refused.error["extensions"]["field"] == "name"
    [change] = await query(db, "SELECT kind, actor_id, category_id FROM staff_changes")
    assert change["kind"] == "CATEGORY_ADDED"
    assert change["actor_id"] == (await api.ids(ADMIN))[0]


async def test_audit_record_refuses_update_and_delete(
    api: Api, db: AsyncEngine
) -> None:
    await change_role(api, TEACHER, "KEY_USER")

    for statement in (
        "UPDATE staff_changes SET to_role = 'ADMIN'",
        "DELETE FROM staff_changes",
        "TRUNCATE staff_changes",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin() as conn:
                await conn.execute(text(statement))

    assert len(await audit(db)) == 1


async def test_staff_management_stays_within_the_school(api: Api) -> None:
    academy = "Demo Academy"
    theirs = await user_id(api, DSL)
    listed = await api.as_user("admin@academy.example", STAFF, school=academy)
    emails = {member["email"] for member in listed.data["staff"]}
    assert DSL not in emails and "dsl@academy.example" in emails
    attempts = [
        (CHANGE_ROLE, {"userId": theirs, "role": "STAFF", "handoverToId": None}),
        (REMOVE, {"userId": theirs, "handoverToId": None}),
        (REASSIGN, {"fromUserId": theirs}),
    ]
    for mutation, variables in attempts:
        answer = await api.as_user(
            "admin@academy.example", mutation, {"input": variables}, school=academy
        )
        assert answer.code in ("BAD_USER_INPUT", "NOT_FOUND"), answer.body
    ours = await api.as_user(ADMIN, STAFF)
    dsl = next(m for m in ours.data["staff"] if m["email"] == DSL)
    assert dsl["role"] == "KEY_USER" and dsl["hasLeft"] is False

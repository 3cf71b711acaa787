import asyncio
import itertools

from tests.fixtures import add_incident, user_id
from tests.graphql import Api

ASSIGN = """
mutation ($input: AssignInput!) {
  assign(input: $input) {
    incident {
      version edited lastActivityAt addedAt
      assignedTo { email }
      history { kind actor { email } fromAssignee { email } toAssignee { email } }
    }
  }
}
"""


async def _assign(api: Api, actor: str, incident: str, assignee: str | None, **extra):
    variables = {"input": {"incidentId": incident, "assigneeId": assignee, **extra}}
    return await api.as_user(actor, ASSIGN, variables)


async def test_key_user_assigns_and_history_records_it(api: Api) -> None:
    incident = await add_incident(api)
    deputy = await user_id(api, "deputy@primary.example")
    answer = await _assign(api, "dsl@primary.example", incident["id"], deputy)
    changed = answer.data["assign"]["incident"]
    assert changed["assignedTo"] == {"email": "deputy@primary.example"}
    assert changed["version"] == incident["version"] + 1
    assert changed["edited"] is True
    assert changed["lastActivityAt"] > changed["addedAt"]
    assert changed["history"][-1] == {
        "kind": "ASSIGNED",
        "actor": {"email": "dsl@primary.example"},
        "fromAssignee": None,
        "toAssignee": {"email": "deputy@primary.example"},
    }


async def test_admin_may_assign_and_be_assigned(api: Api) -> None:
    incident = await add_incident(api)
    admin = await user_id(api, "admin@primary.example")
    answer = await _assign(api, "admin@primary.example", incident["id"], admin)
    assert (
        answer.data["assign"]["incident"]["assignedTo"]["email"]
        == "admin@primary.example"
    )


async def test_staff_cannot_assign(api: Api) -> None:
    incident = await add_incident(api)
    dsl = await user_id(api, "dsl@primary.example")
    answer = await _assign(api, "teacher@primary.example", incident["id"], dsl)
    assert answer.code == "FORBIDDEN"


async def test_staff_member_is_not_an_assignee(api: Api) -> None:
    incident = await add_incident(api)
    teacher = await user_id(api, "teacher@primary.example")
    answer = await _assign(api, "dsl@primary.example", incident["id"], teacher)
    assert answer.code == "BAD_USER_INPUT"
    assert answer.error["extensions"]["field"] == "assigneeId"


async def test_key_user_of_other_school_is_not_an_assignee(api: Api) -> None:
    incident = await add_incident(api)
    other = await user_id(api, "dsl@academy.example", "Demo Academy")
    answer = await _assign(api, "dsl@primary.example", incident["id"], other)
    assert answer.code == "BAD_USER_INPUT"


async def test_incident_of_other_school_is_not_found(api: Api) -> None:
    incident = await add_incident(api)
    dsl = await user_id(api, "dsl@academy.example", "Demo Academy")
    answer = await api.as_user(
        "dsl@academy.example",
        ASSIGN,
        {"input": {"incidentId": incident["id"], "assigneeId": dsl}},
        school="Demo Academy",
    )
    assert answer.code == "NOT_FOUND"


async def test_unassign_records_null_assignee(api: Api) -> None:
    incident = await add_incident(api)
    dsl = await user_id(api, "dsl@primary.example")
    await _assign(api, "dsl@primary.example", incident["id"], dsl)
    answer = await _assign(api, "dsl@primary.example", incident["id"], None)
    changed = answer.data["assign"]["incident"]
    assert changed["assignedTo"] is None
    assert changed["history"][-1]["toAssignee"] is None
    assert changed["history"][-1]["fromAssignee"] == {"email": "dsl@primary.example"}


async def test_same_assignee_again_changes_nothing(api: Api) -> None:
    incident = await add_incident(api)
    dsl = await user_id(api, "dsl@primary.example")
    first = (await _assign(api, "dsl@primary.example", incident["id"], dsl)).data
    again = (await _assign(api, "dsl@primary.example", incident["id"], dsl)).data
    assert again["assign"]["incident"] == first["assign"]["incident"]


async def test_stale_version_is_a_conflict_and_changes_nothing(api: Api) -> None:
    incident = await add_incident(api)
    dsl = await user_id(api, "dsl@primary.example")
    deputy = await user_id(api, "deputy@primary.example")
    await _assign(api, "dsl@primary.example", incident["id"], dsl)
    stale = await _assign(
        api,
        "deputy@primary.example",
        incident["id"],
        deputy,
        expectedVersion=incident["version"],
    )
    assert stale.code == "CONFLICT"
    current = await _assign(api, "dsl@primary.example", incident["id"], dsl)
    assert (
        current.data["assign"]["incident"]["assignedTo"]["email"]
        == "dsl@primary.example"
    )
    assert len(current.data["assign"]["incident"]["history"]) == 2


async def test_concurrent_changes_are_all_recorded_or_refused(api: Api) -> None:
    incident = await add_incident(api)
    start = incident["version"]
    dsl = await user_id(api, "dsl@primary.example")
    deputy = await user_id(api, "deputy@primary.example")
    assignees = [dsl, deputy] * 5
    answers = await asyncio.gather(
        *(
            _assign(
                api,
                "admin@primary.example",
                incident["id"],
                who,
                expectedVersion=start + n,
            )
            for n, who in enumerate(assignees)
        ),
        *(
            _assign(api, "admin@primary.example", incident["id"], who)
            for who in assignees
        ),
    )
    refused = [a for a in answers if a.body.get("errors")]
    assert all(a.code == "CONFLICT" for a in refused)
    applied = [
        a.data["assign"]["incident"] for a in answers if not a.body.get("errors")
    ]
    final = max(applied, key=lambda i: i["version"])
    assignments = [e for e in final["history"] if e["kind"] == "ASSIGNED"]
    # No change was lost: one version step and one history entry per change...
    assert final["version"] == start + len(assignments)
    # ...chained, each starting from where the one before ended...
    for before, after in itertools.pairwise(assignments):
        assert after["fromAssignee"] == before["toAssignee"]
    # ...and every answer that succeeded describes a state that really existed.
    for answer in applied:
        step = answer["version"] - start
        state = assignments[step - 1]["toAssignee"] if step else None
        assert answer["assignedTo"] == state

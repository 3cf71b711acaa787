import asyncio
from typing import Any

import pytest

from tests.fixtures import ADD, add_incident, directory, incident_input, user_id
from tests.graphql import Api

COUNT = "{ incidents(first: 100) { totalCount } }"


async def _count(api: Api) -> int:
    return (await api.as_user("admin@primary.example", COUNT)).data["incidents"][
        "totalCount"
    ]


async def test_numbers_are_sequential_per_school(api: Api) -> None:
    numbers = [(await add_incident(api))["number"] for _ in range(3)]
    other = await add_incident(api, "teacher@academy.example", "Demo Academy")
    assert numbers == [1, 2, 3]
    assert other["number"] == 1


async def test_concurrent_additions_never_share_a_number(api: Api) -> None:
    payload = await incident_input(api)
    answers = await asyncio.gather(
        *(
            api.as_user(email, ADD, {"input": payload})
            for email in ["teacher@primary.example", "ta@primary.example"] * 6
        )
    )
    numbers = sorted(a.data["addIncident"]["incident"]["number"] for a in answers)
    assert numbers == list(range(1, 13))


async def test_added_incident_history_starts_with_added(api: Api) -> None:
    dsl = await user_id(api, "dsl@primary.example")
    added = await add_incident(
        api, "admin@primary.example", assignedToId=dsl, status="CLOSED"
    )
    answer = await api.as_user(
        "dsl@primary.example",
        "query ($id: ID!) { incident(id: $id) { edited history { kind toStatus "
        "toAssignee { email } actor { email } } } }",
        {"id": added["id"]},
    )
    incident = answer.data["incident"]
    assert incident["edited"] is False
    assert incident["history"] == [
        {
            "kind": "ADDED",
            "toStatus": "CLOSED",
            "toAssignee": {"email": "dsl@primary.example"},
            "actor": {"email": "admin@primary.example"},
        }
    ]


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("description", {"description": "   "}),
        ("categoryIds", {"categoryIds": []}),
        ("studentIds", {"studentIds": []}),
        ("studentIds", {"wholeSchool": True}),
        ("studentIds", {"studentIds": ["bm90LWFuLWlk"]}),
        ("occurredAt", {"occurredAt": "2099-01-01T00:00:00+00:00"}),
    ],
)
async def test_bad_input_is_refused_and_writes_nothing(
    api: Api, field: str, overrides: dict[str, Any]
) -> None:
    payload = await incident_input(api, **overrides)
    answer = await api.as_user("teacher@primary.example", ADD, {"input": payload})
    assert answer.code == "BAD_USER_INPUT"
    assert answer.error["extensions"]["field"] == field
    assert await _count(api) == 0


async def test_ids_of_another_school_are_refused(api: Api) -> None:
    theirs = await directory(api, "Demo Academy")
    ours = await directory(api)
    payload = {
        "studentIds": theirs["students"][:1],
        "categoryIds": ours["categories"][:1],
        "description": "Upset at lunch.",
        "occurredAt": "2026-11-20T10:15:00+00:00",
    }
    answer = await api.as_user("teacher@primary.example", ADD, {"input": payload})
    assert answer.code == "BAD_USER_INPUT"
    payload = {
        **payload,
        "studentIds": ours["students"][:1],
        "categoryIds": theirs["categories"][:1],
    }
    answer = await api.as_user("teacher@primary.example", ADD, {"input": payload})
    assert answer.error["extensions"]["field"] == "categoryIds"
    assert await _count(api) == 0


async def test_date_time_without_offset_is_refused(api: Api) -> None:
    payload = await incident_input(api, occurredAt="2026-11-20T10:15:00")
    answer = await api.as_user("teacher@primary.example", ADD, {"input": payload})
    assert answer.code == "BAD_USER_INPUT"
    assert await _count(api) == 0


@pytest.mark.parametrize("overrides", [{"status": "CLOSED"}, {"assignedToId": "me"}])
async def test_staff_cannot_set_status_or_assignee(
    api: Api, overrides: dict[str, str]
) -> None:
    if overrides.get("assignedToId") == "me":
        overrides = {"assignedToId": await user_id(api, "dsl@primary.example")}
    payload = await incident_input(api, **overrides)
    answer = await api.as_user("teacher@primary.example", ADD, {"input": payload})
    assert answer.code == "FORBIDDEN"
    assert await _count(api) == 0


async def test_malformed_json_gets_a_coded_error(api: Api) -> None:
    response = await api.client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

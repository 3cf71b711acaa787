from tests.fixtures import add_incident, directory, user_id
from tests.graphql import Api

CHANGE = """
mutation ($input: ChangeStatusInput!) {
  changeStatus(input: $input) {
    incident {
      status version edited
      history { kind fromStatus toStatus actor { email } }
    }
  }
}
"""
MONITORED = """
query ($id: ID!) { node(id: $id) { ... on Student { monitoredCategories { name } } } }
"""
MONITORED_IDS = """
query ($id: ID!) { node(id: $id) { ... on Student { monitoredCategories { id } } } }
"""
MY_ASSIGNED = """
{ viewer { myAssigned(first: 10) { totalCount nodes { id status } } } }
"""


async def _change(api: Api, actor: str, incident: str, status: str, **extra):
    variables = {"input": {"incidentId": incident, "status": status, **extra}}
    return await api.as_user(actor, CHANGE, variables)


async def test_key_user_closes_and_history_records_it(api: Api) -> None:
    incident = await add_incident(api)
    answer = await _change(api, "deputy@primary.example", incident["id"], "CLOSED")
    changed = answer.data["changeStatus"]["incident"]
    assert changed["status"] == "CLOSED"
    assert changed["edited"] is True
    assert changed["version"] == incident["version"] + 1
    assert changed["history"][-1] == {
        "kind": "STATUS_CHANGED",
        "fromStatus": "ACTIVE",
        "toStatus": "CLOSED",
        "actor": {"email": "deputy@primary.example"},
    }


async def test_staff_cannot_change_status(api: Api) -> None:
    incident = await add_incident(api)
    answer = await _change(api, "teacher@primary.example", incident["id"], "CLOSED")
    assert answer.code == "FORBIDDEN"


async def test_same_status_records_nothing(api: Api) -> None:
    incident = await add_incident(api)
    answer = await _change(api, "dsl@primary.example", incident["id"], "ACTIVE")
    unchanged = answer.data["changeStatus"]["incident"]
    assert unchanged["version"] == incident["version"]
    assert unchanged["edited"] is False
    assert [e["kind"] for e in unchanged["history"]] == ["ADDED"]


async def test_stale_version_is_a_conflict(api: Api) -> None:
    incident = await add_incident(api)
    await _change(api, "dsl@primary.example", incident["id"], "CLOSED")
    stale = await _change(
        api,
        "dsl@primary.example",
        incident["id"],
        "NO_FURTHER_ACTION",
        expectedVersion=incident["version"],
    )
    assert stale.code == "CONFLICT"


async def test_monitoring_follows_status(api: Api) -> None:
    incident = await add_incident(api)
    students = await api.as_user(
        "dsl@primary.example",
        "query ($id: ID!) { incident(id: $id) {"
        " students { id } categories { name } } }",
        {"id": incident["id"]},
    )
    student = students.data["incident"]["students"][0]["id"]
    category = students.data["incident"]["categories"]
    monitored = await api.as_user("dsl@primary.example", MONITORED, {"id": student})
    assert monitored.data["node"]["monitoredCategories"] == category
    await _change(api, "dsl@primary.example", incident["id"], "CLOSED")
    monitored = await api.as_user("dsl@primary.example", MONITORED, {"id": student})
    assert monitored.data["node"]["monitoredCategories"] == category
    await _change(api, "dsl@primary.example", incident["id"], "NO_FURTHER_ACTION")
    monitored = await api.as_user("dsl@primary.example", MONITORED, {"id": student})
    assert monitored.data["node"]["monitoredCategories"] == []


async def test_staff_see_monitoring_from_their_own_incidents_only(api: Api) -> None:
    ids = await directory(api)
    pupil = ids["students"][0]
    first, second = ids["categories"][:2]
    await add_incident(api, "teacher@primary.example", categoryIds=[first])
    await add_incident(api, "dsl@primary.example", categoryIds=[second])

    async def seen_by(email: str) -> set[str]:
        answer = await api.as_user(email, MONITORED_IDS, {"id": pupil})
        return {c["id"] for c in answer.data["node"]["monitoredCategories"]}

    assert await seen_by("dsl@primary.example") == {first, second}
    assert await seen_by("teacher@primary.example") == {first}
    assert await seen_by("ta@primary.example") == set()


async def test_whole_school_incident_monitors_nobody(api: Api) -> None:
    await add_incident(api, studentIds=[], wholeSchool=True)
    students = await api.as_user(
        "dsl@primary.example",
        "{ students(first: 100) { nodes { monitoredCategories { name } } } }",
    )
    nodes = students.data["students"]["nodes"]
    assert all(node["monitoredCategories"] == [] for node in nodes)


async def test_my_assigned_holds_only_active_incidents(api: Api) -> None:
    dsl = await user_id(api, "dsl@primary.example")
    first = await add_incident(api, "admin@primary.example", assignedToId=dsl)
    second = await add_incident(
        api,
        "admin@primary.example",
        assignedToId=dsl,
        occurredAt="2026-11-21T09:00:00+00:00",
    )
    await add_incident(api, "admin@primary.example")
    mine = (await api.as_user("dsl@primary.example", MY_ASSIGNED)).data
    assert mine["viewer"]["myAssigned"]["totalCount"] == 2
    newest_first = [n["id"] for n in mine["viewer"]["myAssigned"]["nodes"]]
    assert newest_first == [second["id"], first["id"]]
    await _change(api, "dsl@primary.example", first["id"], "CLOSED")
    mine = (await api.as_user("dsl@primary.example", MY_ASSIGNED)).data
    assert [n["id"] for n in mine["viewer"]["myAssigned"]["nodes"]] == [second["id"]]
    deputy = (await api.as_user("deputy@primary.example", MY_ASSIGNED)).data
    assert deputy["viewer"]["myAssigned"]["totalCount"] == 0


async def test_my_assigned_pages_with_cursor(api: Api) -> None:
    dsl = await user_id(api, "dsl@primary.example")
    for day in range(1, 6):
        await add_incident(
            api,
            "admin@primary.example",
            assignedToId=dsl,
            occurredAt=f"2026-11-0{day}T09:00:00+00:00",
        )
    query = """
    query ($after: String) { viewer { myAssigned(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } nodes { occurredAt } } } }
    """
    seen: list[str] = []
    after = None
    while True:
        page = (await api.as_user("dsl@primary.example", query, {"after": after})).data
        connection = page["viewer"]["myAssigned"]
        assert connection["totalCount"] == 5
        seen += [n["occurredAt"] for n in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == sorted(seen, reverse=True) and len(seen) == 5

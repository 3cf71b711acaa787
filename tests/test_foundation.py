from tests.fixtures import add_incident
from tests.graphql import Api

VIEWER = "{ viewer { user { email role } school { name casesEnabled } } }"
INCIDENT = "query ($id: ID!) { incident(id: $id) { id number description } }"


async def test_token_reads_viewer(api: Api) -> None:
    answer = await api.as_user("dsl@primary.example", VIEWER)
    assert answer.data["viewer"] == {
        "user": {"email": "dsl@primary.example", "role": "KEY_USER"},
        "school": {"name": "Demo Primary", "casesEnabled": True},
    }


async def test_trust_lead_has_a_role_per_school(api: Api) -> None:
    answer = await api.as_user("lead@trust.example", VIEWER, school="Demo Academy")
    assert answer.data["viewer"]["school"]["name"] == "Demo Academy"


async def test_staff_incident_visible_to_key_user_only(api: Api) -> None:
    added = await add_incident(api, "teacher@primary.example")
    assert added["number"] == 1
    seen = await api.as_user("dsl@primary.example", INCIDENT, {"id": added["id"]})
    assert seen.data["incident"]["number"] == 1
    other_school = await api.as_user(
        "dsl@academy.example", INCIDENT, {"id": added["id"]}, school="Demo Academy"
    )
    assert other_school.code == "NOT_FOUND"
    other_staff = await api.as_user("ta@primary.example", INCIDENT, {"id": added["id"]})
    assert other_staff.code == "NOT_FOUND"
    author = await api.as_user("teacher@primary.example", INCIDENT, {"id": added["id"]})
    assert author.data["incident"]["id"] == added["id"]


async def test_no_token_is_unauthenticated(api: Api) -> None:
    assert (await api.as_user(None, VIEWER)).code == "UNAUTHENTICATED"

import socket
import time

from cases.app import READY_TIMEOUT_S
from cases.settings import Settings
from tests.fixtures import add_incident
from tests.graphql import Api
from tests.servers import serving

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


async def test_readyz_says_not_ready_when_redis_does_not_answer(
    settings: Settings,
) -> None:
    # A port that accepts connections and never replies: the probe must give
    # up in its own time rather than hang with the server.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        silent_redis = settings.model_copy(
            update={"redis_url": f"redis://127.0.0.1:{port}/0"}
        )
        async with serving(silent_redis) as client:
            started_s = time.monotonic()
            answer = await client.get("/readyz")
            waited_s = time.monotonic() - started_s
    assert answer.status_code == 503
    assert answer.json() == {"database": True, "redis": False}
    assert waited_s < READY_TIMEOUT_S + 2

"""Shared steps: look up demo ids through the API and record incidents."""

from typing import Any

from tests.graphql import Api

ADD = """
mutation Add($input: AddIncidentInput!) {
  addIncident(input: $input) {
    incident { id number status version edited assignedTo { email } }
  }
}
"""


async def directory(api: Api, school: str = "Demo Primary") -> dict[str, list[str]]:
    query = "{ students(first: 100) { nodes { id } } categories { id } }"
    data = (await api.as_user(f"admin@{_domain(school)}", query, school=school)).data
    return {
        "students": [s["id"] for s in data["students"]["nodes"]],
        "categories": [c["id"] for c in data["categories"]],
    }


async def user_id(api: Api, email: str, school: str = "Demo Primary") -> str:
    query = "{ viewer { user { id } } }"
    return (await api.as_user(email, query, school=school)).data["viewer"]["user"]["id"]


def _domain(school: str) -> str:
    return "primary.example" if school == "Demo Primary" else "academy.example"


async def incident_input(
    api: Api, school: str = "Demo Primary", **overrides: Any
) -> dict[str, Any]:
    """A valid AddIncidentInput for the school, with `overrides` applied."""
    ids = await directory(api, school)
    return {
        "studentIds": ids["students"][:1],
        "categoryIds": ids["categories"][:1],
        "description": "Seen upset at break; said older pupils took lunch money.",
        "occurredAt": "2026-11-20T10:15:00+00:00",
        **overrides,
    }


async def add_incident(
    api: Api,
    email: str = "teacher@primary.example",
    school: str = "Demo Primary",
    **overrides: Any,
) -> dict[str, Any]:
    payload = await incident_input(api, school, **overrides)
    answer = await api.as_user(email, ADD, {"input": payload}, school=school)
    return answer.data["addIncident"]["incident"]

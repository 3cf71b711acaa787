from tests.fixtures import add_incident, user_id
from tests.graphql import Api

PAGE = """
query ($first: Int!) {
  incidents(first: $first) {
    totalCount
    edges { cursor node {
      id number description status edited version lastActivityAt
      students { name yearGroup monitoredCategories { name } }
      categories { name }
      assignedTo { name role }
      addedBy { name email }
      history { kind at actor { name } fromAssignee { name } toAssignee { name } }
    } }
  }
}
"""


async def _statements_for(api: Api, first: int) -> int:
    before = len(api.statements)
    answer = await api.as_user("dsl@primary.example", PAGE, {"first": first})
    assert len(answer.data["incidents"]["edges"]) == first
    return len(api.statements) - before


async def test_page_cost_does_not_grow_with_page_size(api: Api) -> None:
    dsl = await user_id(api, "dsl@primary.example")
    for n in range(50):
        await add_incident(
            api,
            "admin@primary.example" if n % 2 else "teacher@primary.example",
            occurredAt=f"2026-10-{1 + n % 28:02d}T09:{n:02d}:00+00:00",
            **({"assignedToId": dsl} if n % 2 else {}),
        )
    small = await _statements_for(api, 5)
    large = await _statements_for(api, 50)
    assert small == large
    # The viewer's membership, the page with its details, the count, monitoring.
    assert large == 4

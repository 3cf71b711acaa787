"""incidents(filter, first, after): each filter, combinations, paging, refusals."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from models import clock
from resolvers.paging import encode_time_cursor
from tests.fixtures import add_incident, directory, user_id
from tests.graphql import Answer, Api

DSL = "dsl@primary.example"
QUERY = """
query ($filter: IncidentFilter, $first: Int, $after: String) {
  incidents(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { number } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ASSIGN = """
mutation ($input: AssignInput!) { assign(input: $input) { incident { version } } }
"""


async def _list(
    api: Api, filter: dict[str, Any] | None = None, email: str = DSL, **variables: Any
) -> Answer:
    return await api.as_user(email, QUERY, {"filter": filter, **variables})


async def _numbers(
    api: Api, filter: dict[str, Any] | None = None, email: str = DSL
) -> list[int]:
    connection = (await _list(api, filter, email)).data["incidents"]
    numbers = [edge["node"]["number"] for edge in connection["edges"]]
    assert connection["totalCount"] == len(numbers)
    return numbers


async def _add(api: Api, day: str, email: str = DSL, **overrides: Any) -> int:
    occurred_at = day if "T" in day else f"{day}T10:00:00+00:00"
    added = await add_incident(api, email, occurredAt=occurred_at, **overrides)
    return added["number"]


async def test_no_filter_lists_newest_first(api: Api) -> None:
    await _add(api, "2026-03-02")
    await _add(api, "2026-03-05")
    await _add(api, "2026-03-01")
    assert await _numbers(api) == [2, 1, 3]


async def test_assigned_to_matches_any_of(api: Api) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    dsl = await user_id(api, DSL)
    admin = await user_id(api, "admin@primary.example")
    await _add(api, "2026-03-01", assignedToId=deputy)
    await _add(api, "2026-03-02", assignedToId=dsl)
    await _add(api, "2026-03-03", assignedToId=admin)
    await _add(api, "2026-03-04")
    assert await _numbers(api, {"assignedTo": [deputy]}) == [1]
    assert await _numbers(api, {"assignedTo": [deputy, dsl]}) == [2, 1]


async def test_unassigned_alone_or_with_assigned_to(api: Api) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    dsl = await user_id(api, DSL)
    await _add(api, "2026-03-01", assignedToId=deputy)
    await _add(api, "2026-03-02", assignedToId=dsl)
    await _add(api, "2026-03-03")
    assert await _numbers(api, {"unassigned": True}) == [3]
    both = {"unassigned": True, "assignedTo": [deputy]}
    assert await _numbers(api, both) == [3, 1]
    assert await _numbers(api, {"unassigned": False}) == [3, 2, 1]


async def test_status_matches_any_of(api: Api) -> None:
    await _add(api, "2026-03-01", status="CLOSED")
    await _add(api, "2026-03-02", status="NO_FURTHER_ACTION")
    await _add(api, "2026-03-03")
    assert await _numbers(api, {"status": ["ACTIVE"]}) == [3]
    assert await _numbers(api, {"status": ["ACTIVE", "CLOSED"]}) == [3, 1]


async def test_students_and_categories_match_any_of(api: Api) -> None:
    ids = await directory(api)
    students, categories = ids["students"], ids["categories"]
    await _add(api, "2026-03-01", studentIds=students[:2], categoryIds=categories[:1])
    await _add(api, "2026-03-02", studentIds=students[2:3], categoryIds=categories[1:3])
    await _add(
        api, "2026-03-03", studentIds=[], wholeSchool=True, categoryIds=categories[3:4]
    )
    assert await _numbers(api, {"students": [students[1]]}) == [1]
    assert await _numbers(api, {"students": students[1:3]}) == [2, 1]
    assert await _numbers(api, {"categories": [categories[2]]}) == [2]
    assert await _numbers(api, {"categories": [categories[0], categories[3]]}) == [3, 1]


async def test_report_filters_combine_with_and(api: Api) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    categories = (await directory(api))["categories"]
    await _add(api, "2026-01-10", assignedToId=deputy)
    await _add(api, "2026-03-10", assignedToId=deputy)
    await _add(api, "2026-03-11", assignedToId=deputy, status="CLOSED")
    await _add(api, "2026-03-12")
    await _add(api, "2026-03-13", status="CLOSED")
    await _add(api, "2026-03-14", categoryIds=categories[1:2])
    active_unassigned = {"status": ["ACTIVE"], "unassigned": True}
    assert await _numbers(api, active_unassigned) == [6, 4]
    deputy_this_term = {
        "assignedTo": [deputy],
        "from": "2026-02-23",
        "to": "2026-04-01",
    }
    assert await _numbers(api, deputy_this_term) == [3, 2]
    narrow = {**active_unassigned, "categories": categories[:1], "from": "2026-03-12"}
    assert await _numbers(api, narrow) == [4]


async def test_dates_are_days_in_the_school_time_zone(api: Api) -> None:
    # Europe/London: 23:30 UTC on 30 June is 00:30 BST on 1 July.
    await _add(api, "2026-06-30T23:30:00+00:00")
    await _add(api, "2026-06-30T22:59:00+00:00")
    # In winter London is on UTC: 23:30 UTC on 31 December is still that day.
    await _add(api, "2025-12-31T23:30:00+00:00")
    assert await _numbers(api, {"from": "2026-07-01", "to": "2026-07-01"}) == [1]
    assert await _numbers(api, {"to": "2026-06-30"}) == [2, 3]
    assert await _numbers(api, {"from": "2026-06-30"}) == [1, 2]
    assert await _numbers(api, {"from": "2025-12-31", "to": "2025-12-31"}) == [3]
    assert await _numbers(api, {"from": "2026-01-01", "to": "2026-06-29"}) == []


async def test_latest_activity_widens_the_date_range(api: Api) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    clock.freeze(datetime(2026, 2, 1, 12, tzinfo=UTC))
    old = await add_incident(api, DSL, occurredAt="2026-01-20T10:00:00+00:00")
    await _add(api, "2026-01-21")
    clock.freeze(datetime(2026, 3, 15, 12, tzinfo=UTC))
    await api.as_user(
        DSL, ASSIGN, {"input": {"incidentId": old["id"], "assigneeId": deputy}}
    )
    march = {"from": "2026-03-01", "to": "2026-03-31"}
    assert await _numbers(api, march) == []
    assert await _numbers(api, {**march, "includeLatestActivity": True}) == [1]
    january = {"from": "2026-01-01", "to": "2026-01-31", "includeLatestActivity": True}
    assert await _numbers(api, january) == [2, 1]


async def test_containing_needs_every_word(api: Api) -> None:
    await _add(api, "2026-03-01", description="Took lunch money from a younger pupil.")
    await _add(
        api, "2026-03-02", description="Forgot lunch again; no money for the bus."
    )
    await _add(api, "2026-03-03", description="Bruised arm noticed in PE.")
    assert await _numbers(api, {"containing": "lunch money"}) == [2, 1]
    assert await _numbers(api, {"containing": "LUNCH pupil"}) == [1]
    assert await _numbers(api, {"containing": "bruise"}) == [3]
    assert await _numbers(api, {"containing": "lunch bruise"}) == []


async def test_containing_stays_in_the_viewers_school(
    api: Api, db: AsyncEngine
) -> None:
    words = "Lunch money taken on the bus."
    await add_incident(
        api,
        "dsl@academy.example",
        school="Demo Academy",
        occurredAt="2026-03-01T10:00:00+00:00",
        description=words,
    )
    await _add(api, "2026-03-02", description=words)
    await _add(api, "2026-03-03", description='"Lunch money" taken, with a phrase.')
    assert await _numbers(api, {"containing": "lunch money bus"}) == [1]
    assert await _numbers(api, {"containing": '"lunch money" taken'}) == [2, 1]
    async with db.connect() as conn:
        lexemes = await conn.scalar(
            text(
                "SELECT array_agg(DISTINCT split_part(word, '.', 1))"
                " FROM incidents, unnest(tsvector_to_array(search_vector)) AS word"
                " WHERE school_id = (SELECT id FROM schools WHERE name = :name)"
            ),
            {"name": "Demo Primary"},
        )
        primary = await conn.scalar(
            text("SELECT id::text FROM schools WHERE name = 'Demo Primary'")
        )
    # The index keeps each school's words apart: every lexeme names its school.
    assert lexemes == [primary]


async def test_containing_ignores_case_accents_and_punctuation(api: Api) -> None:
    await _add(api, "2026-03-01", description="L'élève a dit: «Zoë» était absente!")
    await _add(
        api, "2026-03-02", description="Messages on the group-chat, after school."
    )
    assert await _numbers(api, {"containing": "eleve ZOE"}) == [1]
    assert await _numbers(api, {"containing": "Élève!!"}) == [1]
    assert await _numbers(api, {"containing": "group chat"}) == [2]
    assert await _numbers(api, {"containing": "school, messages..."}) == [2]


async def test_quoted_phrase_must_appear_as_written(api: Api) -> None:
    await _add(api, "2026-03-01", description="Said older pupils took the money.")
    await _add(api, "2026-03-02", description="The pupils, older ones, took money.")
    await _add(api, "2026-03-03", description="Had not eaten since lunch.")
    await _add(api, "2026-03-04", description="Had eaten lunch; not hungry.")
    assert await _numbers(api, {"containing": '"older pupils"'}) == [1]
    assert await _numbers(api, {"containing": '"OLDER  pupils" money'}) == [1]
    assert await _numbers(api, {"containing": '"pupils, older"'}) == [2]
    assert await _numbers(api, {"containing": '"not eaten"'}) == [3]
    assert await _numbers(api, {"containing": '"had eaten" lunch'}) == [4]
    assert await _numbers(api, {"containing": '"older pupils" "not eaten"'}) == []


async def test_unbalanced_quote_reads_as_words(api: Api) -> None:
    await _add(api, "2026-03-01", description="Pupils took money from older pupils.")
    assert await _numbers(api, {"containing": 'older "money'}) == [1]


async def test_blank_containing_matches_everything(api: Api) -> None:
    await _add(api, "2026-03-01")
    await _add(api, "2026-03-02")
    for blank in ("", '  ""  ', "!!! ..."):
        assert await _numbers(api, {"containing": blank}) == [2, 1]


async def test_containing_only_common_words_is_refused(api: Api) -> None:
    await _add(api, "2026-03-01")
    for search in ("the", '"to be or not"', "not, at ALL!"):
        answer = await _list(api, {"containing": search})
        assert answer.code == "BAD_USER_INPUT", search
        assert answer.error["extensions"]["field"] == "containing"


async def test_pages_stay_stable_when_incidents_are_added(api: Api) -> None:
    for day in range(1, 6):
        await _add(api, f"2026-03-0{day}")
    first = (await _list(api, first=2)).data["incidents"]
    assert [e["node"]["number"] for e in first["edges"]] == [5, 4]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["totalCount"] == 5
    await _add(api, "2026-03-09")
    await _add(api, "2026-03-03T12:00:00+00:00")
    after = first["pageInfo"]["endCursor"]
    second = (await _list(api, first=2, after=after)).data["incidents"]
    assert [e["node"]["number"] for e in second["edges"]] == [7, 3]
    after = second["edges"][-1]["cursor"]
    third = (await _list(api, first=2, after=after)).data["incidents"]
    assert [e["node"]["number"] for e in third["edges"]] == [2, 1]
    assert third["pageInfo"]["hasNextPage"] is False
    assert third["totalCount"] == 7


async def test_same_instant_pages_by_id(api: Api) -> None:
    for _ in range(3):
        await _add(api, "2026-03-01")
    first = (await _list(api, first=2)).data["incidents"]
    after = first["pageInfo"]["endCursor"]
    second = (await _list(api, first=2, after=after)).data["incidents"]
    seen = [e["node"]["number"] for e in first["edges"] + second["edges"]]
    assert seen == [3, 2, 1]


async def test_first_outside_1_to_100_is_refused(api: Api) -> None:
    for first in (0, -1, 101):
        answer = await _list(api, first=first)
        assert answer.code == "BAD_USER_INPUT"
        assert answer.error["extensions"]["field"] == "first"
    assert (await _list(api, first=100)).data["incidents"]["totalCount"] == 0


async def test_oversized_filters_are_refused(api: Api) -> None:
    ids = await directory(api)
    many = ids["students"][:1] * 101
    oversized: dict[str, dict[str, Any]] = {
        "students": {"students": many},
        "categories": {"categories": ids["categories"][:1] * 101},
        "containing": {"containing": "lunch " * 34},
    }
    for field, filter in oversized.items():
        answer = await _list(api, filter)
        assert answer.code == "BAD_USER_INPUT", field
        assert answer.error["extensions"]["field"] == field
    assert await _numbers(api, {"students": ids["students"][:1] * 100}) == []
    assert await _numbers(api, {"containing": "lunch " * 33}) == []
    names = "query ($s: String) { students(search: $s) { totalCount } }"
    long_name = await api.as_user(DSL, names, {"s": "x" * 201})
    assert long_name.code == "BAD_USER_INPUT"
    assert long_name.error["extensions"]["field"] == "search"


async def test_null_first_means_the_default(api: Api) -> None:
    await _add(api, "2026-03-01")
    assert (await _list(api, first=None)).data["incidents"]["totalCount"] == 1


async def test_malformed_cursor_is_refused(api: Api) -> None:
    naive = "dHwyMDI2LTAzLTAxVDEwOjAwOjAwfDE="  # t|2026-03-01T10:00:00|1
    huge = encode_time_cursor(clock.now(), 10**30)
    for after in ("nonsense", "dHxub3QtYS1kYXRlfDE=", naive, huge, "€"):
        answer = await _list(api, after=after)
        assert answer.code == "BAD_USER_INPUT", after
        assert answer.error["extensions"]["field"] == "after"


async def test_malformed_date_is_refused(api: Api) -> None:
    answer = await _list(api, {"from": "2026-02-30"})
    assert answer.code == "BAD_USER_INPUT"
    assert answer.error["extensions"]["field"] == "from"
    assert "at .from" in answer.error["message"]


async def test_values_refused_by_their_type_name_the_field(api: Api) -> None:
    unknown_status = await _list(api, {"status": ["ACTIVE", "SHELVED"]})
    not_a_number = await api.as_user(DSL, QUERY, {"first": "ten"})
    assert unknown_status.error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "status",
    }
    assert not_a_number.error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "first",
    }


async def test_dates_at_the_ends_of_the_calendar_are_refused(api: Api) -> None:
    for filter, field in (
        ({"to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01"}, "from"),
    ):
        answer = await _list(api, filter)
        assert answer.code == "BAD_USER_INPUT", filter
        assert answer.error["extensions"]["field"] == field
    assert (await _list(api, {"to": "9999-12-30"})).data["incidents"]["totalCount"] == 0


async def test_from_after_to_is_refused(api: Api) -> None:
    answer = await _list(api, {"from": "2026-03-02", "to": "2026-03-01"})
    assert answer.code == "BAD_USER_INPUT"
    assert answer.error["extensions"]["field"] == "from"


async def test_ids_of_another_school_are_refused(api: Api) -> None:
    academy = await directory(api, "Demo Academy")
    academy_deputy = await user_id(api, "deputy@academy.example", "Demo Academy")
    cases = {
        "students": academy["students"][:1],
        "categories": academy["categories"][:1],
        "assignedTo": [academy_deputy],
    }
    for field, ids in cases.items():
        answer = await _list(api, {field: ids})
        assert answer.code == "NOT_FOUND", field
        assert answer.error["extensions"]["field"] == field


async def test_ids_of_the_wrong_type_are_refused(api: Api) -> None:
    category = (await directory(api))["categories"][0]
    for field in ("students", "assignedTo"):
        answer = await _list(api, {field: [category, "bm9wZQ=="]})
        assert answer.code == "BAD_USER_INPUT", field
        assert answer.error["extensions"]["field"] == field


async def test_trust_lead_can_be_filtered_in_either_school(api: Api) -> None:
    lead = await user_id(api, "lead@trust.example")
    await _add(api, "2026-03-01", assignedToId=lead)
    assert await _numbers(api, {"assignedTo": [lead]}) == [1]


async def test_staff_filter_only_what_they_added(api: Api) -> None:
    await _add(api, "2026-03-01", "teacher@primary.example", description="Lunch money.")
    await _add(api, "2026-03-02", "ta@primary.example", description="Lunch money.")
    await _add(api, "2026-03-03", "teacher@primary.example", description="Bruise.")
    await _add(api, "2026-03-04", description="Lunch money.")
    teacher = "teacher@primary.example"
    assert await _numbers(api, None, teacher) == [3, 1]
    assert await _numbers(api, {"containing": "lunch"}, teacher) == [1]
    assert await _numbers(api, {"status": ["ACTIVE"]}, teacher) == [3, 1]
    assert await _numbers(api, {"from": "2026-03-02"}, teacher) == [3]


async def test_module_off_refuses_case_filters(api: Api, db: AsyncEngine) -> None:
    deputy = await user_id(api, "deputy@primary.example")
    await _add(api, "2026-03-01", description="Lunch money.")
    async with db.begin() as conn:
        await conn.execute(text("UPDATE schools SET cases_enabled = false"))
    for filter in (
        {"assignedTo": [deputy]},
        {"status": ["ACTIVE"]},
        {"unassigned": True},
    ):
        assert (await _list(api, filter)).code == "MODULE_DISABLED", filter
    assert await _numbers(api, {"containing": "lunch", "from": "2026-03-01"}) == [1]

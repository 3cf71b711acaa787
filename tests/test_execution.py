"""The plain-field executor answers exactly as graphql-core's own does.

A small schema of its own, so every edge (nulls in non-null fields, values a
scalar refuses, rows of the wrong type, resolvers mixed in, interfaces) can be
put in front of both executors; the service's own documents are covered by
every other test, which runs with this executor.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import pytest
import strawberry
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.types import Info

from schema.execution import PlainFieldsExecutor


@dataclass
class TagRow:
    id: int
    label: str | None


@dataclass
class PupilRow:
    id: int
    name: str | None
    mood: Any
    tags: list[Any]
    best_friend: Any = None


@strawberry.enum
class Mood(Enum):
    CALM = "CALM"
    UPSET = "UPSET"


@strawberry.interface
class Thing:
    id: int


@strawberry.type
class Tag(Thing):
    label: str | None

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, TagRow)


@strawberry.type
class Pupil(Thing):
    name: str
    mood: Mood
    tags: list[Tag]
    best_friend: "Pupil | None"

    @strawberry.field
    def shout(root: PupilRow) -> str:
        return (root.name or "").upper()

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, PupilRow)


def _pupils() -> list[PupilRow]:
    ann = PupilRow(1, "Ann", Mood.CALM, [TagRow(1, "art"), TagRow(2, None)])
    bob = PupilRow(2, "Bob", Mood.UPSET, [], best_friend=ann)
    return [ann, bob]


ROWS: dict[str, list[Any]] = {"pupils": _pupils()}


@strawberry.type
class Query:
    @strawberry.field
    def pupils(self) -> list[Pupil]:
        return ROWS["pupils"]

    @strawberry.field
    def things(self) -> list[Thing]:
        return [*ROWS["pupils"], TagRow(9, "odd")]


class CountingExecutor(PlainFieldsExecutor):
    """Counts the fields graphql-core still resolved one by one."""

    resolved: ClassVar[list[str]] = []

    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        CountingExecutor.resolved.append(f"{parent_type.name}.{path.key}")
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


PLAIN = strawberry.Schema(
    query=Query, types=[Tag, Pupil], execution_context_class=CountingExecutor
)
ORDINARY = strawberry.Schema(query=Query, types=[Tag, Pupil])

RICH = """
query Rich($withTags: Boolean!, $skipMood: Boolean!) {
  pupils {
    __typename
    key: id
    name
    mood @skip(if: $skipMood)
    ...Tags @include(if: $withTags)
    bestFriend { name again: name ... on Pupil { id } }
  }
}
fragment Tags on Pupil { tags { id label __typename } }
"""


async def _both(document: str, variables: dict[str, Any] | None = None) -> Any:
    plain = await PLAIN.execute(document, variable_values=variables)
    ordinary = await ORDINARY.execute(document, variable_values=variables)
    assert plain.data == ordinary.data
    assert _errors(plain) == _errors(ordinary)
    return plain


def _errors(result: Any) -> list[tuple[str, list[Any] | None]]:
    return sorted((e.message, e.path) for e in result.errors or [])


@pytest.fixture(autouse=True)
def fresh_rows() -> None:
    ROWS["pupils"] = _pupils()
    CountingExecutor.resolved = []


@pytest.mark.parametrize(
    "variables",
    [
        {"withTags": True, "skipMood": False},
        {"withTags": False, "skipMood": True},
    ],
)
async def test_aliases_fragments_and_directives_match(
    variables: dict[str, Any],
) -> None:
    result = await _both(RICH, variables)

    assert result.errors is None
    assert result.data["pupils"][1]["bestFriend"] == {
        "name": "Ann",
        "again": "Ann",
        "id": 1,
    }
    assert ("tags" in result.data["pupils"][0]) is variables["withTags"]


async def test_plain_selection_skips_per_field_resolution() -> None:
    await _both(RICH, {"withTags": True, "skipMood": False})

    assert CountingExecutor.resolved == ["Query.pupils"]


async def test_null_in_non_null_field_reported_with_path() -> None:
    ROWS["pupils"][1].best_friend = PupilRow(3, None, Mood.CALM, [])

    result = await _both("{ pupils { name bestFriend { id name } } }")

    assert result.errors is not None
    assert result.errors[0].path == ["pupils", 1, "bestFriend", "name"]


async def test_value_the_enum_refuses_reported() -> None:
    ROWS["pupils"][0].mood = "SOMETIMES"

    result = await _both("{ pupils { id mood } }")

    assert result.errors is not None
    assert result.errors[0].path == ["pupils", 0, "mood"]


async def test_row_of_another_type_reported() -> None:
    ROWS["pupils"][0].tags = [TagRow(1, "art"), ROWS["pupils"][1]]

    result = await _both("{ pupils { tags { id } } }")

    assert result.errors is not None
    assert result.errors[0].path == ["pupils", 0, "tags", 1]


async def test_null_item_in_non_null_list_reported() -> None:
    ROWS["pupils"][0].tags = [None]

    result = await _both("{ pupils { id tags { label } } }")

    assert result.errors is not None
    assert result.errors[0].path == ["pupils", 0, "tags", 0]


async def test_resolver_in_selection_still_runs() -> None:
    result = await _both("{ pupils { id shout tags { label } } }")

    assert [p["shout"] for p in result.data["pupils"]] == ["ANN", "BOB"]
    assert "Pupil.shout" in CountingExecutor.resolved
    assert "Tag.label" not in CountingExecutor.resolved


async def test_interface_list_left_to_graphql_core() -> None:
    document = "{ things { id __typename ... on Tag { label } } }"

    result = await _both(document)

    assert [t["__typename"] for t in result.data["things"]] == ["Pupil", "Pupil", "Tag"]

"""Student and Category."""

import strawberry
from strawberry.types import Info

from models.rows import CategoryRow, StudentRow
from resolvers.ids import encode_id
from schema.node import Node


@strawberry.type
class Category(Node):
    name: str

    @strawberry.field
    def id(root: CategoryRow) -> strawberry.ID:
        return strawberry.ID(encode_id("Category", root.id))

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, CategoryRow)


@strawberry.type
class Student(Node):
    name: str
    year_group: str | None

    @strawberry.field
    def id(root: StudentRow) -> strawberry.ID:
        return strawberry.ID(encode_id("Student", root.id))

    @strawberry.field(
        description=(
            "Categories of this student's incidents whose status is not "
            "NO_FURTHER_ACTION."
        )
    )
    async def monitored_categories(root: StudentRow, info: Info) -> list[Category]:
        return await info.context.loaders.monitored.load(root.id)  # type: ignore[no-any-return]

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, StudentRow)

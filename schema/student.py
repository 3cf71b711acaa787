"""Student and Category."""

import strawberry
from strawberry.types import Info

from models.rows import CategoryRow, StudentRow
from schema.node import Node


@strawberry.type
class Category(Node):
    global_id: strawberry.ID = strawberry.field(name="id")
    name: str

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, CategoryRow)


@strawberry.type
class Student(Node):
    global_id: strawberry.ID = strawberry.field(name="id")
    name: str
    year_group: str | None

    @strawberry.field(
        description=(
            "Categories of this student's incidents whose status is not "
            "NO_FURTHER_ACTION. STAFF see those of the incidents they added only."
        )
    )
    async def monitored_categories(root: StudentRow, info: Info) -> list[Category]:
        return await info.context.loaders.monitored.load(root.id)

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, StudentRow)

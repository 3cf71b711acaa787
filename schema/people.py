"""School, User and Viewer."""

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models.rows import SchoolRow, UserRow
from resolvers import incidents
from schema.enums import Role
from schema.lookahead import asks_for
from schema.node import Node

if TYPE_CHECKING:
    from schema.paging import IncidentConnection


@strawberry.type
class School(Node):
    global_id: strawberry.ID = strawberry.field(name="id")
    name: str
    cases_enabled: bool = strawberry.field(
        description="False when the Cases module is switched off for this school."
    )

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, SchoolRow)


@strawberry.type
class User(Node):
    global_id: strawberry.ID = strawberry.field(name="id")
    name: str
    email: str
    role: Role

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, UserRow)


@strawberry.type
class Viewer:
    user: User
    school: School

    @strawberry.field(
        description="ACTIVE incidents assigned to the viewer, newest first."
    )
    async def my_assigned(
        info: Info, first: int | None = 20, after: str | None = None
    ) -> Annotated["IncidentConnection", strawberry.lazy("schema.paging")]:
        page = await incidents.my_assigned(
            info.context,
            20 if first is None else first,
            after,
            with_history=asks_for(info, "history"),
        )
        return page  # type: ignore[return-value]

"""School, User and Viewer."""

from typing import Annotated

import strawberry
from strawberry.types import Info

from models.rows import SchoolRow, UserRow
from resolvers import incidents
from resolvers.ids import encode_id
from schema.enums import Role
from schema.node import Node


@strawberry.type
class School(Node):
    name: str
    cases_enabled: bool = strawberry.field(
        description="False when the Cases module is switched off for this school."
    )

    @strawberry.field
    def id(root: SchoolRow) -> strawberry.ID:
        return strawberry.ID(encode_id("School", root.id))

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, SchoolRow)


@strawberry.type
class User(Node):
    name: str
    email: str
    role: Role

    @strawberry.field
    def id(root: UserRow) -> strawberry.ID:
        return strawberry.ID(encode_id("User", root.id))

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, UserRow)


IncidentConnection = Annotated["IncidentConnection", strawberry.lazy("schema.paging")]


@strawberry.type
class Viewer:
    user: User
    school: School

    @strawberry.field(
        description="ACTIVE incidents assigned to the viewer, newest first."
    )
    async def my_assigned(
        info: Info, first: int | None = 20, after: str | None = None
    ) -> IncidentConnection:
        return await incidents.my_assigned(
            info.context, 20 if first is None else first, after
        )  # type: ignore[return-value]

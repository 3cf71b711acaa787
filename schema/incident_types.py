"""Incident and its history events."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from models.rows import EventRow, IncidentRow, UserRow
from resolvers.ids import encode_id
from schema.enums import IncidentEventKind, IncidentStatus
from schema.node import Node
from schema.people import User
from schema.student import Category, Student


async def _user(info: Info, user_id: int | None) -> UserRow | None:
    if user_id is None:
        return None
    return await info.context.loaders.users.load(user_id)  # type: ignore[no-any-return]


@strawberry.type
class IncidentEvent:
    kind: IncidentEventKind
    at: datetime
    from_status: IncidentStatus | None
    to_status: IncidentStatus | None
    bulk: bool = strawberry.field(description="True when made by a bulk status update.")

    @strawberry.field(
        description="Who made the change; null for events of the system itself."
    )
    async def actor(root: EventRow, info: Info) -> User | None:
        return await _user(info, root.actor_id)  # type: ignore[return-value]

    @strawberry.field
    async def from_assignee(root: EventRow, info: Info) -> User | None:
        return await _user(info, root.from_assignee_id)  # type: ignore[return-value]

    @strawberry.field
    async def to_assignee(root: EventRow, info: Info) -> User | None:
        return await _user(info, root.to_assignee_id)  # type: ignore[return-value]


@strawberry.type
class Incident(Node):
    number: int = strawberry.field(
        description="Sequential within the school, from 1: 'Incident 137'."
    )
    whole_school: bool
    description: str
    occurred_at: datetime
    added_at: datetime
    status: IncidentStatus
    edited: bool = strawberry.field(
        description="True once its status or assignment changed after it was added."
    )
    last_activity_at: datetime = strawberry.field(
        description="The time of the latest event in its history."
    )
    version: int = strawberry.field(
        description="Grows with every change; pass it back as expectedVersion."
    )

    @strawberry.field
    def id(root: IncidentRow) -> strawberry.ID:
        return strawberry.ID(encode_id("Incident", root.id))

    @strawberry.field(description="Empty for a whole-school incident.")
    async def students(root: IncidentRow, info: Info) -> list[Student]:
        return await info.context.loaders.students.load(root.id)  # type: ignore[no-any-return]

    @strawberry.field
    async def categories(root: IncidentRow, info: Info) -> list[Category]:
        return await info.context.loaders.categories.load(root.id)  # type: ignore[no-any-return]

    @strawberry.field
    async def added_by(root: IncidentRow, info: Info) -> User:
        return await _user(info, root.added_by_id)  # type: ignore[return-value]

    @strawberry.field
    async def assigned_to(root: IncidentRow, info: Info) -> User | None:
        return await _user(info, root.assignee_id)  # type: ignore[return-value]

    @strawberry.field(description="Oldest first.")
    async def history(root: IncidentRow, info: Info) -> list[IncidentEvent]:
        return await info.context.loaders.history.load(root.id)  # type: ignore[no-any-return]

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, IncidentRow)

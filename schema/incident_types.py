"""Incident and its history events."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from models.rows import IncidentView
from schema.enums import IncidentEventKind, IncidentStatus
from schema.node import Node
from schema.people import User
from schema.student import Category, Student


@strawberry.type
class IncidentEvent:
    kind: IncidentEventKind
    at: datetime
    actor: User | None = strawberry.field(
        description="Who made the change; null for events of the system itself."
    )
    from_status: IncidentStatus | None
    to_status: IncidentStatus | None
    from_assignee: User | None
    to_assignee: User | None
    bulk: bool = strawberry.field(description="True when made by a bulk status update.")


@strawberry.type
class Incident(Node):
    """Every field is a plain attribute of the row, read with the incident in one
    statement (models/incident_details.py); only history is read on request."""

    global_id: strawberry.ID = strawberry.field(name="id")
    number: int = strawberry.field(
        description="Sequential within the school, from 1: 'Incident 137'."
    )
    students: list[Student] = strawberry.field(
        description="Empty for a whole-school incident."
    )
    whole_school: bool
    categories: list[Category]
    description: str
    occurred_at: datetime
    added_by: User
    added_at: datetime
    status: IncidentStatus
    assigned_to: User | None
    edited: bool = strawberry.field(
        description="True once its status or assignment changed after it was added."
    )
    last_activity_at: datetime = strawberry.field(
        description="The time of the latest event in its history."
    )
    version: int = strawberry.field(
        description="Grows with every change; pass it back as expectedVersion."
    )
    history: list[IncidentEvent] = strawberry.field(description="Oldest first.")

    @classmethod
    def is_type_of(cls, obj: object, _info: Info) -> bool:
        return isinstance(obj, IncidentView)

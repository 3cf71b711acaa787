"""Plain read results handed to the GraphQL layer; cheap to build, no ORM state."""

import base64
from dataclasses import dataclass
from datetime import datetime

from models.history import EventKind
from models.incident import IncidentStatus
from models.school import Role


@dataclass(slots=True, frozen=True)
class SchoolRow:
    id: int
    name: str
    time_zone: str
    cases_enabled: bool

    @property
    def global_id(self) -> str:
        return encode_id("School", self.id)


@dataclass(slots=True, frozen=True)
class UserRow:
    id: int
    name: str
    email: str
    role: Role

    @property
    def global_id(self) -> str:
        return encode_id("User", self.id)


@dataclass(slots=True, frozen=True)
class StudentRow:
    id: int
    name: str
    year_group: str | None

    @property
    def global_id(self) -> str:
        return encode_id("Student", self.id)


@dataclass(slots=True, frozen=True)
class CategoryRow:
    id: int
    name: str

    @property
    def global_id(self) -> str:
        return encode_id("Category", self.id)


@dataclass(slots=True, frozen=True)
class IncidentRow:
    id: int
    school_id: int
    number: int
    whole_school: bool
    description: str
    occurred_at: datetime
    added_by_id: int
    added_at: datetime
    status: IncidentStatus
    assignee_id: int | None
    version: int
    edited: bool
    last_activity_at: datetime

    @property
    def global_id(self) -> str:
        return encode_id("Incident", self.id)


@dataclass(slots=True, frozen=True)
class IncidentView(IncidentRow):
    """An incident with everything a client may ask of it, read in one statement.

    `history` is None when the request did not ask for it.
    """

    students: list[StudentRow]
    categories: list[CategoryRow]
    assigned_to: UserRow | None
    added_by: UserRow
    history: list["EventRow"] | None


@dataclass(slots=True, frozen=True)
class EventRow:
    id: int
    incident_id: int
    kind: EventKind
    at: datetime
    actor_id: int | None
    from_status: IncidentStatus | None
    to_status: IncidentStatus | None
    from_assignee_id: int | None
    to_assignee_id: int | None
    bulk: bool
    actor: UserRow | None
    from_assignee: UserRow | None
    to_assignee: UserRow | None


@dataclass(slots=True, frozen=True)
class ViewerRow:
    user: UserRow
    school: SchoolRow

    @property
    def is_key_user(self) -> bool:
        return self.user.role in (Role.KEY_USER, Role.ADMIN)


def encode_id(type_name: str, pk: int) -> str:
    """The opaque global id of an object: base64 of `Type:number`."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()

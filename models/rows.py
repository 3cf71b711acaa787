"""Plain read results handed to the GraphQL layer; cheap to build, no ORM state."""

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


@dataclass(slots=True, frozen=True)
class UserRow:
    id: int
    name: str
    email: str
    role: Role


@dataclass(slots=True, frozen=True)
class StudentRow:
    id: int
    name: str
    year_group: str | None


@dataclass(slots=True, frozen=True)
class CategoryRow:
    id: int
    name: str


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


@dataclass(slots=True, frozen=True)
class ViewerRow:
    user: UserRow
    school: SchoolRow

    @property
    def is_key_user(self) -> bool:
        return self.user.role in (Role.KEY_USER, Role.ADMIN)

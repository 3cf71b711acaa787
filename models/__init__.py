"""SQLAlchemy tables and the queries the API makes."""

from models.base import Base
from models.history import EventKind, IncidentEvent
from models.incident import (
    Incident,
    IncidentStatus,
    incident_categories,
    incident_students,
)
from models.outbox import AlertOutbox, OutboxState
from models.school import Category, Membership, Role, School, Student, User
from models.staff import StaffChange

__all__ = [
    "AlertOutbox",
    "Base",
    "Category",
    "EventKind",
    "Incident",
    "IncidentEvent",
    "IncidentStatus",
    "Membership",
    "OutboxState",
    "Role",
    "School",
    "StaffChange",
    "Student",
    "User",
    "incident_categories",
    "incident_students",
]

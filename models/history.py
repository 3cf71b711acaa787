import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, one_of
from models.incident import STATUS_TYPE, IncidentStatus


class EventKind(enum.StrEnum):
    ADDED = "ADDED"
    ASSIGNED = "ASSIGNED"
    STATUS_CHANGED = "STATUS_CHANGED"
    ALERT_SENT = "ALERT_SENT"
    ALERT_FAILED = "ALERT_FAILED"


class IncidentEvent(Base):
    """One entry of an incident's history; the database refuses UPDATE and DELETE."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    school_id: Mapped[int] = mapped_column(BigInteger)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[EventKind] = mapped_column(
        Enum(EventKind, name="event_kind", native_enum=False, length=20)
    )
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[IncidentStatus | None] = mapped_column(STATUS_TYPE)
    to_status: Mapped[IncidentStatus | None] = mapped_column(STATUS_TYPE)
    from_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bulk: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        ForeignKeyConstraint(
            ["school_id", "incident_id"], ["incidents.school_id", "incidents.id"]
        ),
        Index("ix_incident_events_incident", "incident_id", "id"),
        one_of("kind", EventKind),
        one_of("from_status", IncidentStatus),
        one_of("to_status", IncidentStatus),
    )

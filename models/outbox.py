import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, one_of


class OutboxState(enum.StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    # Dropped without sending: the incident moved on before the alert went out.
    SKIPPED = "SKIPPED"


class AlertOutbox(Base):
    """An alert email owed to a Key User, written in the transaction that caused it."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # How many incidents a handover alert covers; 1 for a single assignment.
    incident_count: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime]
    state: Mapped[OutboxState] = mapped_column(
        Enum(OutboxState, name="outbox_state", native_enum=False, length=16),
        server_default=OutboxState.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index(
            "ix_alert_outbox_pending",
            "created_at",
            postgresql_where=text("state = 'PENDING'"),
        ),
        one_of("state", OutboxState),
    )

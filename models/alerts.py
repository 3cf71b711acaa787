"""What the alert job reads and writes: the outbox row it claims, with what the
email needs, and the marks it leaves when it is done."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from models.history import EventKind
from models.incident import Incident, IncidentStatus
from models.outbox import AlertOutbox, OutboxState
from models.school import KEY_ROLES, Membership, School, User

_LAST_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Alert:
    """A claimed outbox row and everything its email and its checks need."""

    id: int
    school_id: int
    incident_id: int | None
    recipient_id: int
    actor_id: int | None
    incident_count: int
    created_at: datetime
    # Counted before the attempt, so this one is included.
    attempts: int
    school_name: str
    cases_enabled: bool
    incident_number: int | None
    incident_status: IncidentStatus | None
    assignee_id: int | None
    actor_name: str | None
    recipient_name: str
    recipient_email: str
    # An active Key User or Admin membership of the school, right now.
    recipient_is_key_user: bool

    @property
    def is_handover(self) -> bool:
        """One alert for many incidents handed over at once, tied to none."""
        return self.incident_id is None


async def count_attempt(conn: AsyncConnection, outbox_id: int) -> int | None:
    """Count an attempt at a PENDING row that no worker holds; None otherwise.

    Run it in a transaction of its own, committed before the attempt: an
    attempt that dies half-way (the worker killed, the database gone) is then
    still counted, so a row that keeps killing its attempts runs out of tries
    instead of being sent at every sweep.
    """
    result = await conn.execute(_COUNT_ATTEMPT, {"outbox_id": outbox_id})
    return result.scalar_one_or_none()


async def claim_alert(conn: AsyncConnection, outbox_id: int) -> Alert | None:
    """The PENDING row, locked until the transaction ends, with its context.

    None when the row is done, or when another worker holds it: SKIP LOCKED
    returns at once instead of queueing behind a send in progress, and the
    holder's commit (or rollback) decides the row. Only the outbox row is
    locked; the school, incident and users are read as they stand.
    """
    row = (await conn.execute(_CLAIM, {"outbox_id": outbox_id})).first()
    return Alert(*row) if row is not None else None


async def finish_alert(
    conn: AsyncConnection,
    outbox_id: int,
    state: OutboxState,
    at: datetime,
    *,
    error: str | None = None,
    event: EventKind | None = None,
) -> None:
    """Mark the row done and, given an event, log it on the incident's history.

    A success keeps the last error, as evidence of the retries it took. The
    event is by the system (actor null) and its toAssignee is the Key User the
    alert was for. The incident's latest activity moves with it, as the
    contract defines that by the history; its version does not, so a client
    holding it can still make its next change.
    """
    params = {
        "outbox_id": outbox_id,
        "state": state.value,
        "at": at,
        "error": error[:_LAST_ERROR_CHARS] if error is not None else None,
        "kind": event.value if event is not None else None,
    }
    await conn.execute(_FINISH, params)


async def record_failure(conn: AsyncConnection, outbox_id: int, error: str) -> None:
    """Leave the row PENDING for a retry, noting why this attempt failed."""
    params = {"outbox_id": outbox_id, "error": error[:_LAST_ERROR_CHARS]}
    await conn.execute(_RECORD_FAILURE, params)


async def pending_alert_ids(
    conn: AsyncConnection, created_before: datetime, after_id: int, limit: int
) -> list[int]:
    """PENDING rows created before the cut-off, by id, a page at a time."""
    statement = (
        select(AlertOutbox.id)
        .where(
            AlertOutbox.state == OutboxState.PENDING,
            AlertOutbox.created_at < created_before,
            AlertOutbox.id > after_id,
        )
        .order_by(AlertOutbox.id)
        .limit(limit)
    )
    return list((await conn.execute(statement)).scalars())


def _pending_row() -> Any:
    return and_(
        AlertOutbox.id == bindparam("outbox_id"),
        AlertOutbox.state == OutboxState.PENDING,
    )


def _count_attempt() -> Any:
    locked = (
        select(AlertOutbox.id)
        .where(_pending_row())
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(AlertOutbox)
        .where(AlertOutbox.id == locked)
        .values(attempts=AlertOutbox.attempts + 1)
        .returning(AlertOutbox.attempts)
    )


def _claim() -> Select[Any]:
    claimed = (
        select(
            AlertOutbox.id,
            AlertOutbox.school_id,
            AlertOutbox.incident_id,
            AlertOutbox.recipient_id,
            AlertOutbox.actor_id,
            AlertOutbox.incident_count,
            AlertOutbox.created_at,
            AlertOutbox.attempts,
        )
        .where(_pending_row())
        .with_for_update(skip_locked=True)
        .cte("claimed")
    )
    actor = aliased(User)
    recipient = aliased(User)
    active_key_user = and_(
        Membership.role.in_(KEY_ROLES), Membership.removed_at.is_(None)
    )
    return (
        select(
            *claimed.c,
            School.name,
            School.cases_enabled,
            Incident.number,
            Incident.status,
            Incident.assignee_id,
            actor.name,
            recipient.name,
            recipient.email,
            func.coalesce(active_key_user, False),
        )
        .select_from(claimed)
        .join(School, School.id == claimed.c.school_id)
        .join(recipient, recipient.id == claimed.c.recipient_id)
        .outerjoin(Incident, Incident.id == claimed.c.incident_id)
        .outerjoin(actor, actor.id == claimed.c.actor_id)
        .outerjoin(
            Membership,
            and_(
                Membership.user_id == claimed.c.recipient_id,
                Membership.school_id == claimed.c.school_id,
            ),
        )
    )


# Built once, at import: every alert runs these, and building a statement
# takes more of the worker's time than running it.
_COUNT_ATTEMPT = _count_attempt()
_CLAIM = _claim()
_RECORD_FAILURE = (
    update(AlertOutbox)
    .where(AlertOutbox.id == bindparam("outbox_id"))
    .values(last_error=bindparam("error"))
)
# One round trip for the three writes that end an alert.
_FINISH = text(
    """
    WITH done AS (
        UPDATE alert_outbox
        SET state = :state, done_at = :at, last_error = coalesce(:error, last_error)
        WHERE id = :outbox_id
        RETURNING school_id, incident_id, recipient_id
    ), logged AS (
        INSERT INTO incident_events (school_id, incident_id, kind, at, to_assignee_id)
        SELECT school_id, incident_id, :kind, :at, recipient_id
        FROM done
        WHERE incident_id IS NOT NULL AND CAST(:kind AS varchar) IS NOT NULL
        RETURNING incident_id
    )
    UPDATE incidents SET last_activity_at = greatest(last_activity_at, :at)
    FROM logged
    WHERE incidents.id = logged.incident_id
    """
)

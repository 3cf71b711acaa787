"""Changes to incidents. Each function runs inside the caller's transaction and
writes the change together with its history event (and alert, if owed)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from models.history import EventKind, IncidentEvent
from models.incident import (
    Incident,
    IncidentStatus,
    incident_categories,
    incident_students,
)
from models.outbox import AlertOutbox
from models.reads import INCIDENT_COLUMNS
from models.rows import IncidentRow
from models.school import KEY_ROLES, Category, Membership, School, Student


@dataclass(frozen=True, slots=True)
class NewIncident:
    school_id: int
    added_by_id: int
    student_ids: list[int]
    whole_school: bool
    category_ids: list[int]
    description: str
    occurred_at: datetime
    status: IncidentStatus
    assignee_id: int | None


async def missing_students(
    conn: AsyncConnection, school_id: int, student_ids: list[int]
) -> set[int]:
    """Ids that are not current students of the school (leavers included)."""
    statement = select(Student.id).where(
        Student.school_id == school_id,
        Student.id.in_(student_ids),
        Student.left_school.is_(False),
    )
    return set(student_ids) - set((await conn.execute(statement)).scalars())


async def missing_categories(
    conn: AsyncConnection, school_id: int, category_ids: list[int]
) -> set[int]:
    statement = select(Category.id).where(
        Category.school_id == school_id, Category.id.in_(category_ids)
    )
    return set(category_ids) - set((await conn.execute(statement)).scalars())


async def is_key_user(conn: AsyncConnection, school_id: int, user_id: int) -> bool:
    # The share lock holds off a concurrent demotion or removal (which locks the
    # membership for update) until this assignment commits, and then that
    # handover sees and moves the new incident too.
    statement = (
        select(Membership.user_id)
        .where(
            Membership.school_id == school_id,
            Membership.user_id == user_id,
            Membership.role.in_(KEY_ROLES),
            Membership.removed_at.is_(None),
        )
        .with_for_update(read=True)
    )
    return (await conn.execute(statement)).first() is not None


async def insert_incident(
    conn: AsyncConnection, new: NewIncident, at: datetime
) -> IncidentRow:
    # The school row lock serialises number allocation; numbers never repeat.
    number = (
        await conn.execute(
            update(School)
            .where(School.id == new.school_id)
            .values(last_incident_number=School.last_incident_number + 1)
            .returning(School.last_incident_number)
        )
    ).scalar_one()
    values = {
        "school_id": new.school_id,
        "number": number,
        "whole_school": new.whole_school,
        "description": new.description,
        "occurred_at": new.occurred_at,
        "added_by_id": new.added_by_id,
        "added_at": at,
        "status": new.status,
        "assignee_id": new.assignee_id,
        "last_activity_at": at,
    }
    row = (
        await conn.execute(insert(Incident).values(values).returning(*INCIDENT_COLUMNS))
    ).one()
    incident = IncidentRow(*tuple(row))
    await _link(conn, incident_students, "student_id", incident, new.student_ids)
    await _link(conn, incident_categories, "category_id", incident, new.category_ids)
    await append_event(
        conn,
        incident,
        EventKind.ADDED,
        at=at,
        actor_id=new.added_by_id,
        to_status=new.status,
        to_assignee_id=new.assignee_id,
    )
    return incident


async def _link(
    conn: AsyncConnection,
    table: Table,
    column: str,
    incident: IncidentRow,
    ids: list[int],
) -> None:
    if not ids:
        return
    # One statement however many ids: unnest the array server-side.
    await conn.execute(
        text(
            f"INSERT INTO {table.name} (incident_id, {column}, school_id) "
            "SELECT :incident_id, unnest(CAST(:ids AS bigint[])), :school_id"
        ),
        {"incident_id": incident.id, "ids": ids, "school_id": incident.school_id},
    )


async def append_event(
    conn: AsyncConnection,
    incident: IncidentRow,
    kind: EventKind,
    *,
    at: datetime,
    actor_id: int | None,
    **changes: Any,
) -> None:
    values = {
        "school_id": incident.school_id,
        "incident_id": incident.id,
        "kind": kind,
        "at": at,
        "actor_id": actor_id,
        **changes,
    }
    await conn.execute(insert(IncidentEvent).values(values))


async def lock_incident(
    conn: AsyncConnection, school_id: int, incident_id: int
) -> IncidentRow | None:
    """The incident, locked until the transaction ends, so changes queue up."""
    statement = (
        select(*INCIDENT_COLUMNS)
        .where(Incident.id == incident_id, Incident.school_id == school_id)
        .with_for_update()
    )
    row = (await conn.execute(statement)).first()
    return IncidentRow(*tuple(row)) if row is not None else None


async def update_incident(
    conn: AsyncConnection, incident: IncidentRow, at: datetime, **values: Any
) -> IncidentRow:
    statement = (
        update(Incident)
        .where(Incident.id == incident.id)
        .values(
            **values,
            version=Incident.version + 1,
            edited=True,
            last_activity_at=at,
        )
        .returning(*INCIDENT_COLUMNS)
    )
    return IncidentRow(*tuple((await conn.execute(statement)).one()))


async def insert_alert(
    conn: AsyncConnection,
    incident: IncidentRow,
    recipient_id: int,
    actor_id: int,
    at: datetime,
) -> int:
    statement = (
        insert(AlertOutbox)
        .values(
            school_id=incident.school_id,
            incident_id=incident.id,
            recipient_id=recipient_id,
            actor_id=actor_id,
            created_at=at,
        )
        .returning(AlertOutbox.id)
    )
    return (await conn.execute(statement)).scalar_one()


def _bulk_sources(target: IncidentStatus) -> tuple[IncidentStatus, ...]:
    if target is IncidentStatus.CLOSED:
        return (IncidentStatus.ACTIVE,)
    return (IncidentStatus.ACTIVE, IncidentStatus.CLOSED)


def _bulk_where(
    school_id: int, since: datetime, before: datetime, target: IncidentStatus
) -> Any:
    return and_(
        Incident.school_id == school_id,
        Incident.occurred_at >= since,
        Incident.occurred_at < before,
        Incident.status.in_(_bulk_sources(target)),
    )


async def count_bulk_close(
    conn: AsyncConnection,
    school_id: int,
    since: datetime,
    before: datetime,
    target: IncidentStatus,
) -> int:
    statement = (
        select(func.count())
        .select_from(Incident)
        .where(_bulk_where(school_id, since, before, target))
    )
    return (await conn.execute(statement)).scalar_one()


_BULK_CLOSE = text(
    """
    WITH old AS (
        SELECT id, status FROM incidents
        WHERE school_id = :school_id
          AND occurred_at >= :since AND occurred_at < :before
          AND status = ANY(CAST(:sources AS varchar[]))
        ORDER BY id
        FOR UPDATE
    ), changed AS (
        UPDATE incidents AS i
        SET status = :target, version = i.version + 1, edited = true,
            last_activity_at = :at
        FROM old
        WHERE i.id = old.id AND i.status = ANY(CAST(:sources AS varchar[]))
        RETURNING i.id, i.school_id, old.status AS from_status
    ), logged AS (
        INSERT INTO incident_events
            (school_id, incident_id, kind, at, actor_id, from_status, to_status,
             bulk)
        SELECT school_id, id, 'STATUS_CHANGED', :at, :actor_id, from_status,
               :target, true
        FROM changed
        RETURNING 1
    )
    SELECT count(*) FROM logged
    """
)


async def bulk_close(
    conn: AsyncConnection,
    *,
    school_id: int,
    actor_id: int,
    since: datetime,
    before: datetime,
    target: IncidentStatus,
    at: datetime,
) -> int:
    """Set-based: one statement changes every match and writes its history.

    Rows are locked in id order, so a racing assign either lands before (and its
    change is kept) or waits and applies after the close.
    """
    params = {
        "school_id": school_id,
        "since": since,
        "before": before,
        "sources": [s.value for s in _bulk_sources(target)],
        "target": target.value,
        "at": at,
        "actor_id": actor_id,
    }
    return (await conn.execute(_BULK_CLOSE, params)).scalar_one()

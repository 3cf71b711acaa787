"""Batch reads behind the per-request DataLoaders: one statement per batch."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from models.history import IncidentEvent
from models.incident import (
    Incident,
    IncidentStatus,
    incident_categories,
    incident_students,
)
from models.rows import CategoryRow, EventRow, IncidentRow, StudentRow, UserRow
from models.school import Category, Membership, Student, User

INCIDENT_COLUMNS = (
    Incident.id,
    Incident.school_id,
    Incident.number,
    Incident.whole_school,
    Incident.description,
    Incident.occurred_at,
    Incident.added_by_id,
    Incident.added_at,
    Incident.status,
    Incident.assignee_id,
    Incident.version,
    Incident.edited,
    Incident.last_activity_at,
)


async def users_by_id(
    conn: AsyncConnection, school_id: int, user_ids: Sequence[int]
) -> dict[int, UserRow]:
    """Users with the role they hold (or held, for leavers) in the school."""
    statement = (
        select(User.id, User.name, User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.school_id == school_id, User.id.in_(user_ids))
    )
    rows = await conn.execute(statement)
    return {row[0]: UserRow(*row) for row in rows}


async def students_by_incident(
    conn: AsyncConnection, incident_ids: Sequence[int]
) -> dict[int, list[StudentRow]]:
    statement = (
        select(
            incident_students.c.incident_id,
            Student.id,
            Student.name,
            Student.year_group,
        )
        .join(Student, Student.id == incident_students.c.student_id)
        .where(incident_students.c.incident_id.in_(incident_ids))
        .order_by(Student.name, Student.id)
    )
    grouped: dict[int, list[StudentRow]] = defaultdict(list)
    for row in await conn.execute(statement):
        grouped[row[0]].append(StudentRow(row[1], row[2], row[3]))
    return grouped


async def categories_by_incident(
    conn: AsyncConnection, incident_ids: Sequence[int]
) -> dict[int, list[CategoryRow]]:
    statement = (
        select(incident_categories.c.incident_id, Category.id, Category.name)
        .join(Category, Category.id == incident_categories.c.category_id)
        .where(incident_categories.c.incident_id.in_(incident_ids))
        .order_by(Category.name, Category.id)
    )
    grouped: dict[int, list[CategoryRow]] = defaultdict(list)
    for row in await conn.execute(statement):
        grouped[row[0]].append(CategoryRow(row[1], row[2]))
    return grouped


async def events_by_incident(
    conn: AsyncConnection, incident_ids: Sequence[int]
) -> dict[int, list[EventRow]]:
    statement = (
        select(
            IncidentEvent.id,
            IncidentEvent.incident_id,
            IncidentEvent.kind,
            IncidentEvent.at,
            IncidentEvent.actor_id,
            IncidentEvent.from_status,
            IncidentEvent.to_status,
            IncidentEvent.from_assignee_id,
            IncidentEvent.to_assignee_id,
            IncidentEvent.bulk,
        )
        .where(IncidentEvent.incident_id.in_(incident_ids))
        .order_by(IncidentEvent.incident_id, IncidentEvent.id)
    )
    grouped: dict[int, list[EventRow]] = defaultdict(list)
    for row in await conn.execute(statement):
        grouped[row[1]].append(EventRow(*row))
    return grouped


async def monitored_categories_by_student(
    conn: AsyncConnection, student_ids: Sequence[int]
) -> dict[int, list[CategoryRow]]:
    """Categories of each student's incidents that are not NO_FURTHER_ACTION."""
    statement = (
        select(incident_students.c.student_id, Category.id, Category.name)
        .distinct()
        .join(
            incident_categories,
            incident_categories.c.incident_id == incident_students.c.incident_id,
        )
        .join(Category, Category.id == incident_categories.c.category_id)
        .join(Incident, Incident.id == incident_students.c.incident_id)
        .where(
            incident_students.c.student_id.in_(student_ids),
            Incident.status != IncidentStatus.NO_FURTHER_ACTION,
        )
        .order_by(incident_students.c.student_id, Category.name, Category.id)
    )
    grouped: dict[int, list[CategoryRow]] = defaultdict(list)
    for row in await conn.execute(statement):
        grouped[row[0]].append(CategoryRow(row[1], row[2]))
    return grouped


async def incidents_by_id(
    conn: AsyncConnection, school_id: int, incident_ids: Sequence[int]
) -> dict[int, IncidentRow]:
    statement = select(*INCIDENT_COLUMNS).where(
        Incident.school_id == school_id, Incident.id.in_(incident_ids)
    )
    return {row[0]: IncidentRow(*row) for row in await conn.execute(statement)}

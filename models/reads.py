"""Reads by id: single incidents with their details, and batches behind the
per-request DataLoaders (one statement per batch)."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models.incident import (
    Incident,
    IncidentStatus,
    incident_categories,
    incident_students,
)
from models.incident_details import detail_columns, to_view
from models.rows import CategoryRow, IncidentView, UserRow
from models.school import Category, Membership, User

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


async def monitored_categories_by_student(
    conn: AsyncConnection, student_ids: Sequence[int], added_by_id: int | None
) -> dict[int, list[CategoryRow]]:
    """Categories of each student's incidents that are not NO_FURTHER_ACTION;
    with `added_by_id`, of the incidents that user added only."""
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
    if added_by_id is not None:
        statement = statement.where(Incident.added_by_id == added_by_id)
    grouped: dict[int, list[CategoryRow]] = defaultdict(list)
    for row in await conn.execute(statement):
        grouped[row[0]].append(CategoryRow(row[1], row[2]))
    return grouped


async def incident_view(
    conn: AsyncConnection, school_id: int, incident_id: int, *, with_history: bool
) -> IncidentView | None:
    """One incident of the school with its details, or None."""
    statement = _BY_ID_WITH_HISTORY if with_history else _BY_ID
    params = {"school_id": school_id, "incident_id": incident_id}
    row = (await conn.execute(statement, params)).first()
    return to_view(row, with_history=with_history) if row is not None else None


def _by_id(*, with_history: bool) -> Select[*tuple[Any, ...]]:
    return select(*INCIDENT_COLUMNS, *detail_columns(with_history=with_history)).where(
        Incident.school_id == bindparam("school_id"),
        Incident.id == bindparam("incident_id"),
    )


# Built once: building a statement costs more than running it again.
_BY_ID = _by_id(with_history=False)
_BY_ID_WITH_HISTORY = _by_id(with_history=True)

"""Which incidents a viewer sees, filtered and paged newest first by occurred_at."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from models.incident import Incident, IncidentStatus, incident_categories
from models.incident import incident_students
from models.reads import INCIDENT_COLUMNS
from models.rows import IncidentRow
from models.text_search import TextQuery, text_condition


@dataclass(frozen=True, slots=True)
class IncidentScope:
    """The filter as the database sees it: ids resolved, dates made instants."""

    school_id: int
    # STAFF see only what they added.
    added_by_id: int | None = None
    assignee_ids: tuple[int, ...] = ()
    unassigned: bool = False
    statuses: tuple[IncidentStatus, ...] = ()
    since: datetime | None = None
    before: datetime | None = None
    include_latest_activity: bool = False
    text: TextQuery | None = None
    student_ids: tuple[int, ...] = ()
    category_ids: tuple[int, ...] = ()


Cursor = tuple[datetime, int]


def _range(column: ColumnElement[datetime], scope: IncidentScope) -> list[ColumnElement[bool]]:
    conditions = []
    if scope.since is not None:
        conditions.append(column >= scope.since)
    if scope.before is not None:
        conditions.append(column < scope.before)
    return conditions


def _date_condition(scope: IncidentScope) -> list[ColumnElement[bool]]:
    occurred = _range(Incident.occurred_at, scope)
    if not occurred or not scope.include_latest_activity:
        return occurred
    active = _range(Incident.last_activity_at, scope)
    return [or_(and_(*occurred), and_(*active))]


def _assignment_condition(scope: IncidentScope) -> list[ColumnElement[bool]]:
    options: list[ColumnElement[bool]] = []
    if scope.assignee_ids:
        options.append(Incident.assignee_id.in_(scope.assignee_ids))
    if scope.unassigned:
        options.append(Incident.assignee_id.is_(None))
    return [or_(*options)] if options else []


def conditions(scope: IncidentScope) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Incident.school_id == scope.school_id]
    if scope.added_by_id is not None:
        where.append(Incident.added_by_id == scope.added_by_id)
    where += _assignment_condition(scope)
    if scope.statuses:
        where.append(Incident.status.in_(scope.statuses))
    where += _date_condition(scope)
    if scope.text is not None:
        where.append(text_condition(scope.text) if not scope.text.is_empty else false())
    if scope.student_ids:
        link = incident_students.c
        where.append(
            exists().where(
                link.incident_id == Incident.id, link.student_id.in_(scope.student_ids)
            )
        )
    if scope.category_ids:
        link = incident_categories.c
        where.append(
            exists().where(
                link.incident_id == Incident.id,
                link.category_id.in_(scope.category_ids),
            )
        )
    return where


def _page_statement(scope: IncidentScope, first: int, after: Cursor | None) -> Select:
    statement = select(*INCIDENT_COLUMNS).where(*conditions(scope))
    if after is not None:
        statement = statement.where(
            tuple_(Incident.occurred_at, Incident.id) < tuple_(*after)
        )
    return statement.order_by(
        Incident.occurred_at.desc(), Incident.id.desc()
    ).limit(first + 1)


async def incident_page(
    conn: AsyncConnection, scope: IncidentScope, first: int, after: Cursor | None
) -> tuple[list[IncidentRow], bool]:
    """Up to `first` incidents after the cursor, and whether more follow."""
    rows = [IncidentRow(*row) for row in await conn.execute(_page_statement(scope, first, after))]
    return rows[:first], len(rows) > first


async def incident_count(conn: AsyncConnection, scope: IncidentScope) -> int:
    statement = select(func.count()).select_from(Incident).where(*conditions(scope))
    return (await conn.execute(statement)).scalar_one()


def my_assigned_scope(school_id: int, assignee_id: int) -> IncidentScope:
    return IncidentScope(
        school_id=school_id,
        assignee_ids=(assignee_id,),
        statuses=(IncidentStatus.ACTIVE,),
    )

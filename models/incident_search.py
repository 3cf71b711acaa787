"""Which incidents a viewer sees, filtered and paged newest first by occurred_at.

Every condition has an index to lean on (see Incident.__table_args__ and
tests/test_explain.py): school and date on ix_incidents_school_occurred, STAFF
on ix_incidents_school_added_by, assignee on ix_incidents_school_assignee,
unassigned on ix_incidents_school_unassigned, status on ix_incidents_school_status,
latest activity on ix_incidents_school_activity, text on ix_incidents_search,
students and categories on their link tables' indexes.
"""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter, UnaryExpression

from models.incident import (
    Incident,
    IncidentStatus,
    incident_categories,
    incident_students,
)
from models.incident_details import detail_columns, to_view
from models.reads import INCIDENT_COLUMNS
from models.rows import IncidentView
from models.school import Membership
from models.text_search import TextQuery, text_condition, text_params


@dataclass(frozen=True, slots=True)
class IncidentScope:
    """The filter as the database sees it: ids resolved, dates made instants.

    Empty tuples and None mean "no condition"; `before` is exclusive.
    """

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


def _range(
    column: SQLColumnExpression[datetime], scope: IncidentScope
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.since is not None:
        conditions.append(column >= bindparam("since", scope.since))
    if scope.before is not None:
        conditions.append(column < bindparam("before", scope.before))
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
        options.append(Incident.assignee_id.in_(_many("assignee_ids", scope)))
    if scope.unassigned:
        options.append(Incident.assignee_id.is_(None))
    return [or_(*options)] if options else []


def _linked_to_any(scope: IncidentScope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.student_ids:
        students = incident_students.c
        conditions.append(
            exists().where(
                students.incident_id == Incident.id,
                students.student_id.in_(_many("student_ids", scope)),
            )
        )
    if scope.category_ids:
        categories = incident_categories.c
        conditions.append(
            exists().where(
                categories.incident_id == Incident.id,
                categories.category_id.in_(_many("category_ids", scope)),
            )
        )
    return conditions


def _many(name: str, scope: IncidentScope) -> BindParameter[Any]:
    return bindparam(name, list(getattr(scope, name)), expanding=True)


def conditions(scope: IncidentScope) -> list[ColumnElement[bool]]:
    """The WHERE clause of both the page and the count: every part ANDed."""
    school: BindParameter[int] = bindparam("school_id", scope.school_id)
    where: list[ColumnElement[bool]] = [Incident.school_id == school]
    if scope.added_by_id is not None:
        where.append(
            Incident.added_by_id == bindparam("added_by_id", scope.added_by_id)
        )
    where += _assignment_condition(scope)
    if scope.statuses:
        where.append(Incident.status.in_(_many("statuses", scope)))
    where += _date_condition(scope)
    if scope.text is not None:
        where.append(text_condition(scope.text, school))
    return where + _linked_to_any(scope)


def page_statement(scope: IncidentScope, first: int, after: Cursor | None) -> Select:
    """One row more than asked for, which tells whether another page follows.

    The keyset (occurred_at, id) makes pages stable when incidents are added.
    """
    statement = select(*INCIDENT_COLUMNS).where(*conditions(scope))
    if after is not None:
        cursor: tuple[BindParameter[Any], ...] = (
            bindparam("after_at", after[0]),
            bindparam("after_id", after[1]),
        )
        statement = statement.where(
            tuple_(Incident.occurred_at, Incident.id) < tuple_(*cursor)
        )
    order = (Incident.occurred_at.desc(), Incident.id.desc())
    return statement.order_by(*order).limit(first + 1)


def count_statement(scope: IncidentScope) -> Select:
    return select(func.count()).select_from(Incident).where(*conditions(scope))


def page_with_details(
    scope: IncidentScope, first: int, after: Cursor | None, *, with_history: bool
) -> Select:
    # The page is cut first and its details read after, so the nested lists are
    # built for the rows returned, never for every row that matched.
    page = page_statement(scope, first, after).subquery("incidents")
    details = detail_columns(with_history=with_history)
    return select(*_PAGE_COLUMNS, *details).select_from(page).order_by(*_PAGE_ORDER)


# Columns of the cut page named as text: reading them through the subquery's `.c`
# would build a proxy per column on every request, the costliest step of all.
_PAGE_COLUMNS = [
    literal_column(f"incidents.{column.key}", type_=column.type)
    for column in INCIDENT_COLUMNS
]
_PAGE_ORDER: list[UnaryExpression[Any]] = [
    literal_column("incidents.occurred_at").desc(),
    literal_column("incidents.id").desc(),
]


# Statements by shape (which conditions are present), run with the values of each
# request as parameters: building a statement and its cache key costs more than
# running it. Shapes are few; the bound stops a pathological client growing it.
_STATEMENTS: dict[tuple[Any, ...], Select[Any]] = {}
_MAX_SHAPES = 512


def _shape(scope: IncidentScope) -> tuple[Any, ...]:
    text = scope.text
    return (
        scope.added_by_id is not None,
        bool(scope.assignee_ids),
        scope.unassigned,
        bool(scope.statuses),
        scope.since is not None,
        scope.before is not None,
        scope.include_latest_activity,
        None if text is None else (bool(text.words), len(text.phrases)),
        bool(scope.student_ids),
        bool(scope.category_ids),
    )


def _params(scope: IncidentScope) -> dict[str, Any]:
    params: dict[str, Any] = {"school_id": scope.school_id}
    optional = {
        "added_by_id": scope.added_by_id,
        "since": scope.since,
        "before": scope.before,
    }
    params.update(
        {name: value for name, value in optional.items() if value is not None}
    )
    for name in ("assignee_ids", "statuses", "student_ids", "category_ids"):
        if getattr(scope, name):
            params[name] = list(getattr(scope, name))
    if scope.text is not None:
        params.update(text_params(scope.text))
    return params


def _cached(
    key: tuple[Any, ...], build: Callable[[], Select[Any]], params: dict[str, Any]
) -> Select[Any]:
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = build()
        _check_bound(statement, params)
        if len(_STATEMENTS) >= _MAX_SHAPES:
            _STATEMENTS.clear()
        _STATEMENTS[key] = statement
    return statement


def _check_bound(statement: Select[Any], params: dict[str, Any]) -> None:
    """Every per-request value must come from `params`, never from the request
    that built the cached statement: a stale school id would cross tenants."""
    named = {
        name
        for name in statement.compile().params
        if name in params or name.split("_")[0] in _REQUEST_VALUES
    }
    if named != set(params):
        raise RuntimeError(f"cached statement binds {named}, request gives {params}")


_REQUEST_VALUES = {
    "school",
    "added",
    "since",
    "before",
    "assignee",
    "statuses",
    "student",
    "category",
    "words",
    "phrase",
    "after",
}


@asynccontextmanager
async def _custom_plans_for_text(
    conn: AsyncConnection, scope: IncidentScope
) -> AsyncIterator[None]:
    """Text searches are planned for their own words and dates, every time.

    After five runs of a prepared statement PostgreSQL may keep a generic plan,
    costed without the parameters' values. For a search that plan skipped the
    text index and read the school's incidents in the date range, testing each
    description: 0.5-0.9 s instead of 30 ms on the benchmark's largest school.
    The setting is the connection's, so it is put back before the connection
    returns to the pool; reads without text keep their generic plans, which
    suit them and save planning.
    """
    if scope.text is None:
        yield
        return
    await conn.exec_driver_sql("SET plan_cache_mode = force_custom_plan")
    try:
        yield
    finally:
        await conn.exec_driver_sql("RESET plan_cache_mode")


async def incident_page(
    conn: AsyncConnection,
    scope: IncidentScope,
    first: int,
    after: Cursor | None,
    *,
    with_history: bool = False,
) -> tuple[list[IncidentView], bool]:
    """Up to `first` incidents after the cursor, and whether more follow."""
    key = ("page", _shape(scope), first, after is not None, with_history)
    params = _params(scope)
    if after is not None:
        params.update(after_at=after[0], after_id=after[1])
    statement = _cached(
        key,
        lambda: page_with_details(scope, first, after, with_history=with_history),
        params,
    )
    async with _custom_plans_for_text(conn, scope):
        result = await conn.execute(statement, params)
    rows = [to_view(row, with_history=with_history) for row in result]
    return rows[:first], len(rows) > first


async def incident_count(conn: AsyncConnection, scope: IncidentScope) -> int:
    params = _params(scope)
    key = ("count", _shape(scope))
    statement = _cached(key, lambda: count_statement(scope), params)
    async with _custom_plans_for_text(conn, scope):
        return (await conn.execute(statement, params)).scalar_one()


async def unknown_members(
    conn: AsyncConnection, school_id: int, user_ids: Sequence[int]
) -> set[int]:
    """Ids of users who never belonged to the school.

    Former members and any role count as known: incidents stay assigned to a
    Key User who left or changed role, and reports must still find them.
    """
    statement = select(Membership.user_id).where(
        Membership.school_id == school_id, Membership.user_id.in_(user_ids)
    )
    return set(user_ids) - set((await conn.execute(statement)).scalars())


def my_assigned_scope(school_id: int, assignee_id: int) -> IncidentScope:
    return IncidentScope(
        school_id=school_id,
        assignee_ids=(assignee_id,),
        statuses=(IncidentStatus.ACTIVE,),
    )

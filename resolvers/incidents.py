"""Reading incidents: one by id, the filtered list, and My Assigned."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from models.incident import IncidentStatus
from models.incident_search import (
    IncidentScope,
    incident_count,
    incident_page,
    my_assigned_scope,
)
from models.reads import incidents_by_id
from models.rows import IncidentRow, ViewerRow
from models.text_search import parse_text_query
from models.validation import unknown_ids
from models.school import Category, Student
from resolvers.context import Context
from resolvers.dates import date_range
from resolvers.errors import BadUserInput, NotFound
from resolvers.ids import decode_ids, decode_target_id
from resolvers.paging import Page, check_first, decode_time_cursor
from resolvers.paging import encode_time_cursor


@dataclass(slots=True)
class FilterArgs:
    assigned_to: list[str] | None = None
    unassigned: bool | None = None
    status: list[IncidentStatus] | None = None
    from_: object = None
    to: object = None
    include_latest_activity: bool | None = None
    containing: str | None = None
    students: list[str] | None = None
    categories: list[str] | None = None


def visible_scope(viewer: ViewerRow) -> IncidentScope:
    """KEY_USER and ADMIN see the whole school; STAFF what they added."""
    added_by = None if viewer.is_key_user else viewer.user.id
    return IncidentScope(school_id=viewer.school.id, added_by_id=added_by)


async def incident(ctx: Context, global_id: str) -> IncidentRow:
    viewer = ctx.viewer
    pk = decode_target_id("Incident", global_id)
    async with ctx.engine.connect() as conn:
        found = (await incidents_by_id(conn, viewer.school.id, [pk])).get(pk)
    if found is None or not can_see(viewer, found):
        raise NotFound("No such incident")
    return found


def can_see(viewer: ViewerRow, row: IncidentRow) -> bool:
    if row.school_id != viewer.school.id:
        return False
    return viewer.is_key_user or row.added_by_id == viewer.user.id


async def incidents(
    ctx: Context, args: FilterArgs | None, first: int, after: str | None
) -> Page[IncidentRow]:
    viewer = ctx.viewer
    check_first(first)
    cursor = decode_time_cursor(after)
    async with ctx.engine.connect() as conn:
        scope = await _scope(ctx, conn, args or FilterArgs())
        rows, has_next = await incident_page(conn, scope, first, cursor)
    del viewer
    return _page(ctx, scope, rows, has_next)


async def my_assigned(ctx: Context, first: int, after: str | None) -> Page[IncidentRow]:
    viewer = ctx.require_cases("My Assigned")
    check_first(first)
    cursor = decode_time_cursor(after)
    scope = my_assigned_scope(viewer.school.id, viewer.user.id)
    async with ctx.engine.connect() as conn:
        rows, has_next = await incident_page(conn, scope, first, cursor)
    return _page(ctx, scope, rows, has_next)


def _page(
    ctx: Context, scope: IncidentScope, rows: list[IncidentRow], has_next: bool
) -> Page[IncidentRow]:
    async def count() -> int:
        async with ctx.engine.connect() as conn:
            return await incident_count(conn, scope)

    cursors = [encode_time_cursor(row.occurred_at, row.id) for row in rows]
    return Page(rows=rows, has_next=has_next, cursors=cursors, count=count)


async def _scope(ctx: Context, conn: AsyncConnection, args: FilterArgs) -> IncidentScope:
    viewer = ctx.viewer
    if args.assigned_to is not None or args.unassigned or args.status is not None:
        ctx.require_cases("Filtering by assignment or status")
    assignee_ids = decode_ids("User", args.assigned_to or [], field="assignedTo")
    student_ids = decode_ids("Student", args.students or [], field="students")
    category_ids = decode_ids("Category", args.categories or [], field="categories")
    await _check_known(conn, viewer.school.id, student_ids, category_ids)
    since, before = date_range(
        args.from_,  # type: ignore[arg-type]
        args.to,  # type: ignore[arg-type]
        viewer.school.time_zone,
    )
    return IncidentScope(
        school_id=viewer.school.id,
        added_by_id=visible_scope(viewer).added_by_id,
        assignee_ids=tuple(assignee_ids),
        unassigned=bool(args.unassigned),
        statuses=tuple(args.status or ()),
        since=since,
        before=before,
        include_latest_activity=bool(args.include_latest_activity),
        text=parse_text_query(args.containing) if args.containing else None,
        student_ids=tuple(student_ids),
        category_ids=tuple(category_ids),
    )


async def _check_known(
    conn: AsyncConnection,
    school_id: int,
    student_ids: list[int],
    category_ids: list[int],
) -> None:
    if student_ids and await unknown_ids(conn, Student, school_id, student_ids):
        raise BadUserInput("Unknown student", field="students")
    if category_ids and await unknown_ids(conn, Category, school_id, category_ids):
        raise BadUserInput("Unknown category", field="categories")

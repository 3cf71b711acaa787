"""Reading incidents: one by id, the filtered list, and My Assigned."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from models.incident import IncidentStatus
from models.incident_search import (
    IncidentScope,
    incident_count,
    incident_page,
    my_assigned_scope,
    unknown_members,
)
from models.reads import incident_view
from models.rows import IncidentRow, IncidentView, ViewerRow
from models.school import Category, Student
from models.text_search import TextQuery, is_indexable, parse_text_query
from models.validation import unknown_ids
from resolvers.context import Context
from resolvers.dates import date_range
from resolvers.errors import BadUserInput, NotFound
from resolvers.ids import decode_ids, decode_target_id
from resolvers.paging import (
    MAX_SEARCH_CHARS,
    Page,
    check_first,
    decode_time_cursor,
    encode_time_cursor,
)


@dataclass(slots=True)
class FilterArgs:
    """The filter as the client sent it. An empty list, `unassigned: false` and
    a containing text without a letter or digit restrict nothing."""

    assigned_to: list[str] | None = None
    unassigned: bool | None = None
    status: list[IncidentStatus] | None = None
    from_: date | None = None
    to: date | None = None
    include_latest_activity: bool | None = None
    containing: str | None = None
    students: list[str] | None = None
    categories: list[str] | None = None


@dataclass(frozen=True, slots=True)
class _Ids:
    assignees: list[int]
    students: list[int]
    categories: list[int]


def visible_scope(viewer: ViewerRow) -> IncidentScope:
    """KEY_USER and ADMIN see the whole school; STAFF what they added."""
    added_by = None if viewer.is_key_user else viewer.user.id
    return IncidentScope(school_id=viewer.school.id, added_by_id=added_by)


async def incident(
    ctx: Context, global_id: str, *, with_history: bool = False
) -> IncidentView:
    pk = decode_target_id("Incident", global_id)
    return await reload(ctx, pk, with_history=with_history)


async def reload(
    ctx: Context, incident_id: int, *, with_history: bool = False
) -> IncidentView:
    """The incident as the viewer may see it, details included."""
    viewer = ctx.viewer
    async with ctx.read() as conn:
        found = await incident_view(
            conn, viewer.school.id, incident_id, with_history=with_history
        )
    if found is None or not can_see(viewer, found):
        raise NotFound("No such incident")
    return found


def can_see(viewer: ViewerRow, row: IncidentRow) -> bool:
    if row.school_id != viewer.school.id:
        return False
    return viewer.is_key_user or row.added_by_id == viewer.user.id


async def incidents(
    ctx: Context,
    args: FilterArgs | None,
    first: int,
    after: str | None,
    *,
    with_history: bool = False,
) -> Page[IncidentView]:
    viewer = ctx.viewer
    check_first(first)
    cursor = decode_time_cursor(after)
    async with ctx.read() as conn:
        scope = await _scope(ctx, viewer, conn, args or FilterArgs())
        rows, has_next = await incident_page(
            conn, scope, first, cursor, with_history=with_history
        )
    return _page(ctx, scope, rows, has_next)


async def my_assigned(
    ctx: Context, first: int, after: str | None, *, with_history: bool = False
) -> Page[IncidentView]:
    viewer = ctx.require_cases("My Assigned")
    check_first(first)
    cursor = decode_time_cursor(after)
    scope = my_assigned_scope(viewer.school.id, viewer.user.id)
    async with ctx.read() as conn:
        rows, has_next = await incident_page(
            conn, scope, first, cursor, with_history=with_history
        )
    return _page(ctx, scope, rows, has_next)


def _page(
    ctx: Context, scope: IncidentScope, rows: list[IncidentView], has_next: bool
) -> Page[IncidentView]:
    async def count() -> int:
        async with ctx.read() as conn:
            return await incident_count(conn, scope)

    cursors = [encode_time_cursor(row.occurred_at, row.id) for row in rows]
    return Page(rows=rows, has_next=has_next, cursors=cursors, count=count)


async def _scope(
    ctx: Context, viewer: ViewerRow, conn: AsyncConnection, args: FilterArgs
) -> IncidentScope:
    if args.assigned_to or args.unassigned or args.status:
        ctx.require_cases("Filtering by assignment or status")
    since, before = date_range(args.from_, args.to, viewer.school.time_zone)
    ids = _decoded_ids(args)
    await _check_known(conn, viewer.school.id, ids)
    return IncidentScope(
        school_id=viewer.school.id,
        added_by_id=visible_scope(viewer).added_by_id,
        assignee_ids=tuple(ids.assignees),
        unassigned=bool(args.unassigned),
        statuses=tuple(args.status or ()),
        since=since,
        before=before,
        include_latest_activity=bool(args.include_latest_activity),
        text=await _text_query(conn, args.containing),
        student_ids=tuple(ids.students),
        category_ids=tuple(ids.categories),
    )


async def _text_query(
    conn: AsyncConnection, containing: str | None
) -> TextQuery | None:
    if containing is not None and len(containing) > MAX_SEARCH_CHARS:
        raise BadUserInput(
            f"Search for at most {MAX_SEARCH_CHARS} characters", field="containing"
        )
    query = parse_text_query(containing or "")
    if query.is_blank:
        return None
    if not await is_indexable(conn, query):
        raise BadUserInput(
            "Search for at least one word that is not too common", field="containing"
        )
    return query


def _decoded_ids(args: FilterArgs) -> _Ids:
    return _Ids(
        assignees=decode_ids("User", args.assigned_to or [], field="assignedTo"),
        students=decode_ids("Student", args.students or [], field="students"),
        categories=decode_ids("Category", args.categories or [], field="categories"),
    )


async def _check_known(conn: AsyncConnection, school_id: int, ids: _Ids) -> None:
    """Ids of another school get the answer ids of nothing get: NOT_FOUND on
    the field, so a report never says whether another school's id exists."""
    if ids.assignees and await unknown_members(conn, school_id, ids.assignees):
        raise NotFound("No such member of this school", field="assignedTo")
    if ids.students and await unknown_ids(conn, Student, school_id, ids.students):
        raise NotFound("No such student in this school", field="students")
    if ids.categories and await unknown_ids(conn, Category, school_id, ids.categories):
        raise NotFound("No such category in this school", field="categories")

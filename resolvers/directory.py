"""keyUsers, categories and students: what the app's pickers offer."""

from models import directory
from models.rows import CategoryRow, StudentRow, UserRow
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.paging import (
    MAX_SEARCH_CHARS,
    Page,
    check_first,
    decode_name_cursor,
    encode_name_cursor,
)


async def key_users(ctx: Context) -> list[UserRow]:
    viewer = ctx.viewer
    async with ctx.read() as conn:
        return await directory.key_users(conn, viewer.school.id)


async def categories(ctx: Context) -> list[CategoryRow]:
    viewer = ctx.viewer
    async with ctx.read() as conn:
        return await directory.categories(conn, viewer.school.id)


async def students(
    ctx: Context, search: str | None, first: int, after: str | None
) -> Page[StudentRow]:
    school_id = ctx.viewer.school.id
    check_first(first)
    cursor = decode_name_cursor(after)
    search = search.strip() if search else None
    if search is not None and len(search) > MAX_SEARCH_CHARS:
        raise BadUserInput(
            f"Search for at most {MAX_SEARCH_CHARS} characters", field="search"
        )
    async with ctx.read() as conn:
        rows, has_next = await directory.student_page(
            conn, school_id, search, first, cursor
        )

    async def count() -> int:
        async with ctx.read() as conn:
            return await directory.student_count(conn, school_id, search)

    cursors = [encode_name_cursor(row.name, row.id) for row in rows]
    return Page(rows=rows, has_next=has_next, cursors=cursors, count=count)

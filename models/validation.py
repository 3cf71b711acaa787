"""Checks that ids name rows of the viewer's school."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from models.school import Category, Student


async def unknown_ids(
    conn: AsyncConnection,
    model: type[Student] | type[Category],
    school_id: int,
    ids: list[int],
) -> set[int]:
    statement = select(model.id).where(model.school_id == school_id, model.id.in_(ids))
    return set(ids) - set((await conn.execute(statement)).scalars())

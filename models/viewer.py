"""Who is asking: the membership behind a bearer token, checked on every request."""

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models.rows import SchoolRow, UserRow, ViewerRow
from models.school import Membership, School, User

_VIEWER = (
    select(
        User.id,
        User.name,
        User.email,
        Membership.role,
        School.id,
        School.name,
        School.time_zone,
        School.cases_enabled,
    )
    .join(Membership, Membership.user_id == User.id)
    .join(School, School.id == Membership.school_id)
    .where(
        Membership.removed_at.is_(None),
        User.id == bindparam("user_id"),
        School.id == bindparam("school_id"),
    )
)


async def load_viewer(
    conn: AsyncConnection, user_id: int, school_id: int
) -> ViewerRow | None:
    # Built once: every request runs it, and building costs more than running.
    params = {"user_id": user_id, "school_id": school_id}
    row = (await conn.execute(_VIEWER, params)).first()
    if row is None:
        return None
    return ViewerRow(
        user=UserRow(row[0], row[1], row[2], row[3]),
        school=SchoolRow(row[4], row[5], row[6], row[7]),
    )

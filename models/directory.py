"""The school's people and categories, as the pickers in the app list them."""

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from models.rows import CategoryRow, StudentRow, UserRow
from models.school import KEY_ROLES, Category, Membership, Student, User


async def key_users(conn: AsyncConnection, school_id: int) -> list[UserRow]:
    statement = (
        select(User.id, User.name, User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.school_id == school_id,
            Membership.role.in_(KEY_ROLES),
            Membership.removed_at.is_(None),
        )
        .order_by(User.name, User.id)
    )
    return [UserRow(*row) for row in await conn.execute(statement)]


async def categories(conn: AsyncConnection, school_id: int) -> list[CategoryRow]:
    statement = (
        select(Category.id, Category.name)
        .where(Category.school_id == school_id)
        .order_by(Category.name, Category.id)
    )
    return [CategoryRow(*row) for row in await conn.execute(statement)]


def _student_filter(school_id: int, search: str | None) -> list:
    where = [Student.school_id == school_id, Student.left_school.is_(False)]
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Student.name.ilike(f"%{escaped}%"))
    return where


async def student_page(
    conn: AsyncConnection,
    school_id: int,
    search: str | None,
    first: int,
    after: tuple[str, int] | None,
) -> tuple[list[StudentRow], bool]:
    statement = select(Student.id, Student.name, Student.year_group).where(
        *_student_filter(school_id, search)
    )
    if after is not None:
        statement = statement.where(tuple_(Student.name, Student.id) > tuple_(*after))
    statement = statement.order_by(Student.name, Student.id).limit(first + 1)
    rows = [StudentRow(*row) for row in await conn.execute(statement)]
    return rows[:first], len(rows) > first


async def student_count(
    conn: AsyncConnection, school_id: int, search: str | None
) -> int:
    statement = select(func.count()).where(*_student_filter(school_id, search))
    return (await conn.execute(statement.select_from(Student))).scalar_one()


async def student_by_id(
    conn: AsyncConnection, school_id: int, student_id: int
) -> StudentRow | None:
    statement = select(Student.id, Student.name, Student.year_group).where(
        Student.school_id == school_id, Student.id == student_id
    )
    row = (await conn.execute(statement)).first()
    return StudentRow(*row) if row else None


async def category_by_id(
    conn: AsyncConnection, school_id: int, category_id: int
) -> CategoryRow | None:
    statement = select(Category.id, Category.name).where(
        Category.school_id == school_id, Category.id == category_id
    )
    row = (await conn.execute(statement)).first()
    return CategoryRow(*row) if row else None

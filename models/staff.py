"""The school's roster as Admins manage it: members and their roles, handing a
member's cases over, categories, and the append-only record of every change."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    and_,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from models.base import Base, one_of
from models.incident import Incident, IncidentStatus
from models.outbox import AlertOutbox
from models.rows import encode_id
from models.school import KEY_ROLES, Category, Membership, Role, User

ROLE_TYPE = Enum(Role, name="role", native_enum=False, length=16)


class StaffChangeKind(enum.StrEnum):
    MEMBER_ADDED = "MEMBER_ADDED"
    MEMBER_RETURNED = "MEMBER_RETURNED"
    ROLE_CHANGED = "ROLE_CHANGED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    CASES_HANDED_OVER = "CASES_HANDED_OVER"
    CATEGORY_ADDED = "CATEGORY_ADDED"
    ROSTER_IMPORTED = "ROSTER_IMPORTED"


class ChangeSource(enum.StrEnum):
    API = "API"
    IMPORT = "IMPORT"


class StaffChange(Base):
    """Who changed the roster, when and how; the database refuses UPDATE and
    DELETE. An import has no actor: the operator ran it outside the API."""

    __tablename__ = "staff_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    at: Mapped[datetime]
    source: Mapped[ChangeSource] = mapped_column(
        Enum(ChangeSource, name="change_source", native_enum=False, length=10)
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[StaffChangeKind] = mapped_column(
        Enum(StaffChangeKind, name="staff_change_kind", native_enum=False, length=24)
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_role: Mapped[Role | None] = mapped_column(ROLE_TYPE)
    to_role: Mapped[Role | None] = mapped_column(ROLE_TYPE)
    handover_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    incident_count: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    # Counts only (an import's added/updated/left rows): never names or emails.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))

    __table_args__ = (
        Index("ix_staff_changes_school_at", "school_id", "at"),
        one_of("source", ChangeSource),
        one_of("kind", StaffChangeKind),
        one_of("from_role", Role),
        one_of("to_role", Role),
    )


@dataclass(slots=True, frozen=True)
class StaffRow:
    id: int
    name: str
    email: str
    role: Role
    has_left: bool
    active_assigned_count: int

    @property
    def global_id(self) -> str:
        return encode_id("User", self.id)


@dataclass(slots=True, frozen=True)
class MemberState:
    user_id: int
    role: Role
    removed_at: datetime | None

    @property
    def has_left(self) -> bool:
        return self.removed_at is not None

    @property
    def is_active_key_user(self) -> bool:
        return self.removed_at is None and self.role in KEY_ROLES

    @property
    def is_active_admin(self) -> bool:
        return self.removed_at is None and self.role is Role.ADMIN


def _active_counts(school_id: int) -> Any:
    return (
        select(Incident.assignee_id, func.count().label("held"))
        .where(
            Incident.school_id == school_id,
            Incident.status == IncidentStatus.ACTIVE,
            Incident.assignee_id.is_not(None),
        )
        .group_by(Incident.assignee_id)
        .subquery("held")
    )


def _staff_statement(school_id: int) -> Any:
    held = _active_counts(school_id)
    return (
        select(
            User.id,
            User.name,
            User.email,
            Membership.role,
            Membership.removed_at.is_not(None),
            func.coalesce(held.c.held, 0),
        )
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(held, held.c.assignee_id == User.id)
        .where(Membership.school_id == school_id)
    )


async def staff(conn: AsyncConnection, school_id: int) -> list[StaffRow]:
    """Current members by name, then leavers by name."""
    statement = _staff_statement(school_id).order_by(
        Membership.removed_at.is_not(None), User.name, User.id
    )
    return [StaffRow(*row) for row in await conn.execute(statement)]


async def staff_member(
    conn: AsyncConnection, school_id: int, user_id: int
) -> StaffRow | None:
    statement = _staff_statement(school_id).where(User.id == user_id)
    row = (await conn.execute(statement)).first()
    return StaffRow(*row) if row is not None else None


async def lock_members(
    conn: AsyncConnection,
    school_id: int,
    user_ids: Sequence[int],
    *,
    with_admins: bool = False,
) -> dict[int, MemberState]:
    """The memberships of `user_ids` (and of every current Admin), locked.

    One statement locking in user id order, so two Admins changing the roster
    at once queue instead of deadlocking; the Admins are locked so that two
    of them cannot each demote the other and leave the school with none.
    Assigning an incident takes a share lock on its assignee's membership,
    which is what keeps a member being demoted from receiving new incidents.
    """
    wanted: ColumnElement[bool] = Membership.user_id.in_(user_ids)
    if with_admins:
        admin = and_(Membership.role == Role.ADMIN, Membership.removed_at.is_(None))
        wanted = or_(wanted, admin)
    statement = (
        select(Membership.user_id, Membership.role, Membership.removed_at)
        .where(Membership.school_id == school_id, wanted)
        .order_by(Membership.user_id)
        .with_for_update()
    )
    rows = await conn.execute(statement)
    return {row[0]: MemberState(*row) for row in rows}


async def active_assigned_count(
    conn: AsyncConnection, school_id: int, user_ids: Sequence[int]
) -> dict[int, int]:
    """ACTIVE incidents held by each of `user_ids` (absent when none)."""
    statement = (
        select(Incident.assignee_id, func.count())
        .where(
            Incident.school_id == school_id,
            Incident.status == IncidentStatus.ACTIVE,
            Incident.assignee_id.in_(user_ids),
        )
        .group_by(Incident.assignee_id)
    )
    rows = await conn.execute(statement)
    return {user_id: count for user_id, count in rows if user_id is not None}


async def set_role(
    conn: AsyncConnection, school_id: int, user_id: int, role: Role
) -> None:
    statement = (
        update(Membership)
        .where(Membership.school_id == school_id, Membership.user_id == user_id)
        .values(role=role)
    )
    await conn.execute(statement)


async def remove_members(
    conn: AsyncConnection, school_id: int, user_ids: Sequence[int], at: datetime
) -> None:
    statement = (
        update(Membership)
        .where(
            Membership.school_id == school_id,
            Membership.user_id.in_(user_ids),
            Membership.removed_at.is_(None),
        )
        .values(removed_at=at)
    )
    await conn.execute(statement)


_HAND_OVER = text(
    """
    WITH held AS (
        SELECT id, assignee_id FROM incidents
        WHERE school_id = :school_id
          AND assignee_id = ANY(CAST(:from_ids AS bigint[]))
          AND status = 'ACTIVE'
        ORDER BY id
        FOR UPDATE
    ), moved AS (
        UPDATE incidents AS i
        SET assignee_id = CAST(:to_id AS bigint), version = i.version + 1,
            edited = true, last_activity_at = CAST(:at AS timestamptz)
        FROM held
        WHERE i.id = held.id AND i.assignee_id = held.assignee_id
          AND i.status = 'ACTIVE'
        RETURNING i.id, i.school_id, held.assignee_id AS from_id
    ), logged AS (
        INSERT INTO incident_events
            (school_id, incident_id, kind, at, actor_id, from_assignee_id,
             to_assignee_id)
        SELECT school_id, id, 'ASSIGNED', CAST(:at AS timestamptz),
               CAST(:actor_id AS bigint), from_id, CAST(:to_id AS bigint)
        FROM moved
        RETURNING from_assignee_id
    )
    SELECT from_assignee_id, count(*) FROM logged GROUP BY from_assignee_id
    """
)


@dataclass(slots=True, frozen=True)
class Handover:
    # How many incidents each previous assignee handed over.
    counts: dict[int, int]
    # The new assignee; None when the incidents went to nobody.
    to_id: int | None
    alert_id: int | None

    @property
    def incident_count(self) -> int:
        return sum(self.counts.values())


async def hand_over(
    conn: AsyncConnection,
    *,
    school_id: int,
    from_ids: Sequence[int],
    to_id: int | None,
    actor_id: int | None,
    at: datetime,
) -> Handover:
    """Give every ACTIVE incident held by `from_ids` to `to_id` (or nobody).

    Set-based: one statement moves them all, bumps their versions and writes
    an ASSIGNED event for each; then one alert for the new assignee covers
    them all, unless they handed the incidents to themselves. Rows are locked
    in id order, like bulkClose, so racing changes queue rather than deadlock.
    """
    params = {
        "school_id": school_id,
        "from_ids": list(from_ids),
        "to_id": to_id,
        "actor_id": actor_id,
        "at": at,
    }
    rows = await conn.execute(_HAND_OVER, params)
    counts: dict[int, int] = {row[0]: row[1] for row in rows}
    count = sum(counts.values())
    if count == 0 or to_id is None or to_id == actor_id:
        return Handover(counts, to_id, None)
    alert = (
        insert(AlertOutbox)
        .values(
            school_id=school_id,
            incident_id=None,
            recipient_id=to_id,
            actor_id=actor_id,
            incident_count=count,
            created_at=at,
        )
        .returning(AlertOutbox.id)
    )
    return Handover(counts, to_id, (await conn.execute(alert)).scalar_one())


# Categories are few and named by Admins; an advisory lock per school makes
# the case-insensitive check for a duplicate name and the insert one step.
_CATEGORY_LOCK = 7008


async def insert_category(
    conn: AsyncConnection, school_id: int, name: str
) -> int | None:
    """The new category's id; None if one of that name (in any case) exists."""
    await conn.execute(select(func.pg_advisory_xact_lock(_CATEGORY_LOCK, school_id)))
    taken = select(Category.id).where(
        Category.school_id == school_id, func.lower(Category.name) == name.lower()
    )
    if (await conn.execute(taken)).first() is not None:
        return None
    statement = (
        insert(Category).values(school_id=school_id, name=name).returning(Category.id)
    )
    return (await conn.execute(statement)).scalar_one()


async def record_changes(
    conn: AsyncConnection, changes: Sequence[dict[str, Any]]
) -> None:
    """Append audit rows; each is a dict of StaffChange columns."""
    if not changes:
        return
    columns = {column.name for column in StaffChange.__table__.columns} - {"id"}
    rows = [{name: change.get(name) for name in columns} for change in changes]
    await conn.execute(insert(StaffChange), rows)

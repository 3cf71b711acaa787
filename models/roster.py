"""Applying a checked roster file to a school: one transaction per file.

Keyed on the MIS's own identifiers (a student's external id, a member's
email), so running an import again changes only what changed: names, year
groups and roles are updated, newcomers added, and those missing from the file
marked as left. Students stay on record (safeguarding records outlive
enrolment); staff keep their user and their place in history, but lose their
membership, and with it their access.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.roster_csv import (
    RosterError,
    RosterFile,
    RosterKind,
    StaffEntry,
    StudentEntry,
)
from models.school import KEY_ROLES, Membership, Role, School, Student, User
from models.staff import (
    ChangeSource,
    MemberState,
    StaffChangeKind,
    active_assigned_count,
    hand_over,
    record_changes,
    remove_members,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[int], None]

# Rows per INSERT: large enough to be quick, small enough to show progress.
CHUNK_ROWS = 500
# First key of the advisory lock that keeps two imports into one school apart.
_IMPORT_LOCK = 7007


class HandoverNeeded(RosterError):
    """People leaving the staff file, or losing their key role, hold cases."""


@dataclass(slots=True)
class ImportResult:
    kind: RosterKind
    added: int = 0
    returned: int = 0
    updated: int = 0
    left: int = 0
    unchanged: int = 0
    skipped_rows: int = 0
    handed_over: int = 0
    alert_ids: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts = asdict(self)
        del counts["alert_ids"]
        return counts | {"kind": self.kind.value}


async def import_roster(
    engine: AsyncEngine,
    school_name: str,
    roster: RosterFile,
    *,
    at: datetime,
    handover_to: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Apply one checked file in one transaction; bad rows are left out.

    Refuses (RosterError) a file without a single good row, which would mark
    everyone as left, and a staff file that names no Admin.
    """
    if roster.row_count == 0:
        raise RosterError(
            f"{roster.name} has no usable rows; refusing to mark everyone as left"
        )
    async with engine.begin() as conn:
        school_id = await school_id_by_name(conn, school_name)
        await conn.execute(select(func.pg_advisory_xact_lock(_IMPORT_LOCK, school_id)))
        if roster.kind is RosterKind.STAFF:
            result = await _import_staff(
                conn, school_id, roster, handover_to, at, progress
            )
        else:
            result = await _import_students(conn, school_id, roster, progress)
        result.skipped_rows = len(roster.bad_rows)
        await record_changes(conn, [_summary_change(school_id, result, at)])
    _log(school_id, result)
    return result


async def school_id_by_name(conn: AsyncConnection, name: str) -> int:
    school_id = await conn.scalar(select(School.id).where(School.name == name))
    if school_id is None:
        raise RosterError(f"no school is named {name!r}")
    return school_id


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK_ROWS):
        yield items[start : start + CHUNK_ROWS]


def _summary_change(
    school_id: int, result: ImportResult, at: datetime
) -> dict[str, Any]:
    return {
        "school_id": school_id,
        "at": at,
        "source": ChangeSource.IMPORT,
        "kind": StaffChangeKind.ROSTER_IMPORTED,
        "incident_count": result.handed_over or None,
        "summary": result.summary(),
    }


def _log(school_id: int, result: ImportResult) -> None:
    logger.info(
        "roster import into school %s: %s file, %s added, %s returned, "
        "%s updated, %s left, %s unchanged, %s bad rows skipped, "
        "%s incidents handed over",
        school_id,
        result.kind.value,
        result.added,
        result.returned,
        result.updated,
        result.left,
        result.unchanged,
        result.skipped_rows,
        result.handed_over,
    )


# Students ------------------------------------------------------------------


async def _import_students(
    conn: AsyncConnection,
    school_id: int,
    roster: RosterFile,
    progress: Progress | None,
) -> ImportResult:
    result = ImportResult(RosterKind.STUDENTS)
    for chunk in _chunks(roster.students):
        statement = _student_upsert(school_id, chunk, roster.has_dates_of_birth)
        for (inserted,) in await conn.execute(statement):
            result.added += inserted
            result.updated += not inserted
        if progress is not None:
            progress(len(chunk))
    result.unchanged = len(roster.students) - result.added - result.updated
    present = [entry.external_id for entry in roster.students]
    result.left = await _mark_students_left(
        conn, school_id, present + sorted(roster.protected_keys)
    )
    return result


def _student_upsert(
    school_id: int, chunk: Sequence[StudentEntry], with_dates: bool
) -> Any:
    rows = [
        {
            "school_id": school_id,
            "external_id": entry.external_id,
            "name": entry.name,
            "year_group": entry.year_group,
            "date_of_birth": entry.date_of_birth,
        }
        for entry in chunk
    ]
    statement = insert(Student).values(rows)
    new = statement.excluded
    columns = ["name", "year_group", *(["date_of_birth"] if with_dates else [])]
    changed = [getattr(Student, name).is_distinct_from(new[name]) for name in columns]
    # Only rows that change come back: xmax is 0 for a row this statement
    # inserted, so each returned row says whether it is new or updated.
    return statement.on_conflict_do_update(
        index_elements=[Student.school_id, Student.external_id],
        set_={**{name: new[name] for name in columns}, "left_school": False},
        where=or_(*changed, Student.left_school.is_(True)),
    ).returning(literal_column("students.xmax = 0"))


async def _mark_students_left(
    conn: AsyncConnection, school_id: int, present: list[str]
) -> int:
    # Students without an external id were not added by an import: the MIS
    # cannot speak for them, so they are left as they are.
    statement = (
        update(Student)
        .where(
            Student.school_id == school_id,
            Student.left_school.is_(False),
            Student.external_id.is_not(None),
            Student.external_id.not_in(present),
        )
        .values(left_school=True)
    )
    return (await conn.execute(statement)).rowcount


# Staff ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Member:
    state: MemberState
    name: str


@dataclass(slots=True)
class _StaffPlan:
    """What the file changes, by lower-case email, worked out before writing."""

    added: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    role_changed: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    leaving: list[str] = field(default_factory=list)
    # Leaving, or losing the role that lets them hold incidents.
    losing_cases: list[str] = field(default_factory=list)


async def _import_staff(
    conn: AsyncConnection,
    school_id: int,
    roster: RosterFile,
    handover_to: str | None,
    at: datetime,
    progress: Progress | None,
) -> ImportResult:
    entries = {entry.email.lower(): entry for entry in roster.staff}
    target = _handover_target(roster, entries, handover_to)
    existing = await _lock_members(conn, school_id)
    plan = _plan(existing, entries, roster.protected_keys)
    await _check_handover(conn, school_id, existing, plan, target)

    ids = await _upsert_users(conn, roster.staff, progress)
    await _upsert_memberships(conn, school_id, roster.staff, ids)
    result = ImportResult(
        RosterKind.STAFF,
        added=len(plan.added),
        returned=len(plan.returned),
        updated=len(set(plan.role_changed) | set(plan.renamed) - set(plan.returned)),
        left=len(plan.leaving),
    )
    result.unchanged = len(entries) - result.added - result.returned - result.updated
    changes = _member_changes(school_id, at, existing, entries, plan, ids)
    if target is not None and plan.losing_cases:
        changes += await _hand_over(
            conn, school_id, existing, plan, ids[target], at, result
        )
    leavers = [existing[email].state.user_id for email in plan.leaving]
    await remove_members(conn, school_id, leavers, at)
    await record_changes(conn, changes)
    return result


def _handover_target(
    roster: RosterFile, entries: dict[str, StaffEntry], handover_to: str | None
) -> str | None:
    if not any(entry.role is Role.ADMIN for entry in roster.staff):
        raise RosterError(
            f"{roster.name} names no ADMIN; the school would have nobody to manage it"
        )
    if handover_to is None:
        return None
    target = entries.get(handover_to.strip().lower())
    if target is None or target.role not in KEY_ROLES:
        raise RosterError(
            "--handover-to must name a KEY_USER or ADMIN in the staff file"
        )
    return target.email.lower()


async def _lock_members(conn: AsyncConnection, school_id: int) -> dict[str, _Member]:
    statement = (
        select(
            func.lower(User.email),
            User.name,
            Membership.user_id,
            Membership.role,
            Membership.removed_at,
        )
        .join(User, User.id == Membership.user_id)
        .where(Membership.school_id == school_id)
        .order_by(Membership.user_id)
        .with_for_update(of=Membership)
    )
    rows = await conn.execute(statement)
    return {
        email: _Member(MemberState(user_id, role, removed_at), name)
        for email, name, user_id, role, removed_at in rows
    }


def _plan(
    existing: dict[str, _Member], entries: dict[str, StaffEntry], protected: set[str]
) -> _StaffPlan:
    plan = _StaffPlan()
    for email, entry in entries.items():
        member = existing.get(email)
        if member is None:
            plan.added.append(email)
            continue
        if member.state.has_left:
            plan.returned.append(email)
        elif member.state.role is not entry.role:
            plan.role_changed.append(email)
            if entry.role not in KEY_ROLES:
                plan.losing_cases.append(email)
        if member.name != entry.name:
            plan.renamed.append(email)
    for email, member in existing.items():
        if member.state.has_left or email in entries or email in protected:
            continue
        plan.leaving.append(email)
        plan.losing_cases.append(email)
    return plan


async def _check_handover(
    conn: AsyncConnection,
    school_id: int,
    existing: dict[str, _Member],
    plan: _StaffPlan,
    target: str | None,
) -> None:
    if target is not None or not plan.losing_cases:
        return
    emails = {existing[email].state.user_id: email for email in plan.losing_cases}
    held = await active_assigned_count(conn, school_id, list(emails))
    if not held:
        return
    holders = ", ".join(
        f"{emails[user_id]} holds {count}" for user_id, count in sorted(held.items())
    )
    total = sum(held.values())
    raise HandoverNeeded(
        f"{total} ACTIVE incident{'s' if total != 1 else ''} would be left with "
        f"people leaving the staff file or becoming STAFF ({holders}); nothing "
        "was changed: pass --handover-to EMAIL of a KEY_USER or ADMIN in the file"
    )


async def _upsert_users(
    conn: AsyncConnection, entries: list[StaffEntry], progress: Progress | None
) -> dict[str, int]:
    """Every user of the file, created or renamed; their ids by lower email."""
    for chunk in _chunks(entries):
        rows = [{"name": entry.name, "email": entry.email} for entry in chunk]
        statement = insert(User).values(rows)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[func.lower(User.email)],
                set_={"name": statement.excluded.name},
                where=User.name.is_distinct_from(statement.excluded.name),
            )
        )
        if progress is not None:
            progress(len(chunk))
    emails = [entry.email.lower() for entry in entries]
    ids = select(func.lower(User.email), User.id).where(
        func.lower(User.email).in_(emails)
    )
    return {email: user_id for email, user_id in await conn.execute(ids)}


async def _upsert_memberships(
    conn: AsyncConnection,
    school_id: int,
    entries: list[StaffEntry],
    ids: dict[str, int],
) -> None:
    for chunk in _chunks(entries):
        rows = [
            {
                "user_id": ids[entry.email.lower()],
                "school_id": school_id,
                "role": entry.role,
            }
            for entry in chunk
        ]
        statement = insert(Membership).values(rows)
        new = statement.excluded
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[Membership.user_id, Membership.school_id],
                set_={"role": new.role, "removed_at": None},
                where=or_(
                    Membership.role != new.role, Membership.removed_at.is_not(None)
                ),
            )
        )


async def _hand_over(
    conn: AsyncConnection,
    school_id: int,
    existing: dict[str, _Member],
    plan: _StaffPlan,
    to_id: int,
    at: datetime,
    result: ImportResult,
) -> list[dict[str, Any]]:
    from_ids = [existing[email].state.user_id for email in plan.losing_cases]
    handover = await hand_over(
        conn, school_id=school_id, from_ids=from_ids, to_id=to_id, actor_id=None, at=at
    )
    result.handed_over = handover.incident_count
    if handover.alert_id is not None:
        result.alert_ids.append(handover.alert_id)
    return [
        _change(
            school_id,
            at,
            StaffChangeKind.CASES_HANDED_OVER,
            member_id=from_id,
            handover_to_id=to_id,
            incident_count=count,
        )
        for from_id, count in sorted(handover.counts.items())
    ]


def _member_changes(
    school_id: int,
    at: datetime,
    existing: dict[str, _Member],
    entries: dict[str, StaffEntry],
    plan: _StaffPlan,
    ids: dict[str, int],
) -> list[dict[str, Any]]:
    def change(kind: StaffChangeKind, email: str) -> dict[str, Any]:
        member = existing.get(email)
        entry = entries.get(email)
        return _change(
            school_id,
            at,
            kind,
            member_id=member.state.user_id if member else ids[email],
            from_role=member.state.role if member else None,
            to_role=entry.role if entry else None,
        )

    return [
        *(change(StaffChangeKind.MEMBER_ADDED, email) for email in plan.added),
        *(change(StaffChangeKind.MEMBER_RETURNED, email) for email in plan.returned),
        *(change(StaffChangeKind.ROLE_CHANGED, email) for email in plan.role_changed),
        *(change(StaffChangeKind.MEMBER_REMOVED, email) for email in plan.leaving),
    ]


def _change(
    school_id: int, at: datetime, kind: StaffChangeKind, **values: Any
) -> dict[str, Any]:
    return {
        "school_id": school_id,
        "at": at,
        "source": ChangeSource.IMPORT,
        "actor_id": None,
        "kind": kind,
        **values,
    }

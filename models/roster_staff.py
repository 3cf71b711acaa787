"""The staff file's part of a roster import: members keyed on their email.

Newcomers get a user (or reuse the one they have in another school) and a
membership; those missing from the file lose their membership. Anyone who
leaves, or goes from a key role to STAFF, while ACTIVE incidents are assigned
to them is refused unless the operator names a Key User to hand them to.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from models.roster_csv import Progress, RosterError, RosterFile, StaffEntry, chunks
from models.school import KEY_ROLES, Membership, Role, User
from models.staff import (
    ChangeSource,
    MemberState,
    StaffChangeKind,
    active_assigned_count,
    hand_over,
    record_changes,
    remove_members,
)

if TYPE_CHECKING:
    from models.roster import ImportResult


class HandoverNeeded(RosterError):
    """People leaving the staff file, or losing their key role, hold cases."""


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


async def import_staff(
    conn: AsyncConnection,
    school_id: int,
    roster: RosterFile,
    result: "ImportResult",
    *,
    handover_to: str | None,
    at: datetime,
    progress: Progress | None,
) -> None:
    """Apply a staff file in the caller's transaction, counting into `result`."""
    entries = {entry.email.lower(): entry for entry in roster.staff}
    target = _handover_target(roster, entries, handover_to)
    existing = await _lock_members(conn, school_id)
    plan = _plan(existing, entries, roster.protected_keys)
    await _check_handover(conn, school_id, existing, plan, target)

    ids = await _upsert_users(conn, roster.staff, progress)
    await _upsert_memberships(conn, school_id, roster.staff, ids)
    _count(plan, len(entries), result)
    changes = _member_changes(school_id, at, existing, entries, plan, ids)
    if target is not None and plan.losing_cases:
        changes += await _hand_over(
            conn, school_id, existing, plan, ids[target], at, result
        )
    leavers = [existing[email].state.user_id for email in plan.leaving]
    await remove_members(conn, school_id, leavers, at)
    await record_changes(conn, changes)


def _count(plan: _StaffPlan, rows: int, result: "ImportResult") -> None:
    result.added = len(plan.added)
    result.returned = len(plan.returned)
    # A returning member's new role or name is part of their return.
    changed = set(plan.role_changed) | set(plan.renamed)
    result.updated = len(changed - set(plan.returned))
    result.left = len(plan.leaving)
    result.unchanged = rows - result.added - result.returned - result.updated


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


# The file's rows travel as arrays: one statement per chunk, whatever its size.
_UPSERT_USERS = text(
    """
    INSERT INTO users AS u (name, email)
    SELECT name, email
    FROM unnest(CAST(:names AS text[]), CAST(:emails AS text[])) AS row (name, email)
    ON CONFLICT ((lower(email))) DO UPDATE SET name = excluded.name
    WHERE u.name IS DISTINCT FROM excluded.name
    """
)
_USER_IDS = text(
    "SELECT lower(email), id FROM users "
    "WHERE lower(email) = ANY(CAST(:emails AS text[]))"
)
_UPSERT_MEMBERSHIPS = text(
    """
    INSERT INTO memberships AS m (user_id, school_id, role)
    SELECT user_id, CAST(:school_id AS bigint), role
    FROM unnest(CAST(:user_ids AS bigint[]), CAST(:roles AS text[]))
        AS row (user_id, role)
    ON CONFLICT (user_id, school_id) DO UPDATE
    SET role = excluded.role, removed_at = NULL
    WHERE m.role <> excluded.role OR m.removed_at IS NOT NULL
    """
)


async def _upsert_users(
    conn: AsyncConnection, entries: list[StaffEntry], progress: Progress | None
) -> dict[str, int]:
    """Every user of the file, created or renamed; their ids by lower email.

    A user's name is one for all their schools, so a member of two schools
    (a trust's lead) takes the spelling of whichever school imported last;
    per-school names would need a name on the membership, which nothing has.
    """
    for chunk in chunks(entries):
        params = {
            "names": [entry.name for entry in chunk],
            "emails": [entry.email for entry in chunk],
        }
        await conn.execute(_UPSERT_USERS, params)
        if progress is not None:
            progress(len(chunk))
    emails = [entry.email.lower() for entry in entries]
    rows = await conn.execute(_USER_IDS, {"emails": emails})
    return {email: user_id for email, user_id in rows}


async def _upsert_memberships(
    conn: AsyncConnection,
    school_id: int,
    entries: list[StaffEntry],
    ids: dict[str, int],
) -> None:
    for chunk in chunks(entries):
        params = {
            "school_id": school_id,
            "user_ids": [ids[entry.email.lower()] for entry in chunk],
            "roles": [entry.role.value for entry in chunk],
        }
        await conn.execute(_UPSERT_MEMBERSHIPS, params)


async def _hand_over(
    conn: AsyncConnection,
    school_id: int,
    existing: dict[str, _Member],
    plan: _StaffPlan,
    to_id: int,
    at: datetime,
    result: "ImportResult",
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

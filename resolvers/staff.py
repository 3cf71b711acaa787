"""staff, changeRole and removeMember: an Admin manages the school's members.

A member who leaves, or becomes STAFF, while ACTIVE incidents are assigned to
them must hand those over (to a Key User, or explicitly to nobody), and the
school always keeps one Admin. Every change is recorded in staff_changes.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from models import clock
from models import staff as staff_model
from models.rows import ViewerRow
from models.school import KEY_ROLES, Role
from models.staff import (
    ChangeSource,
    Handover,
    MemberState,
    StaffChangeKind,
    StaffRow,
    lock_members,
    record_changes,
    remove_members,
    set_role,
)
from resolvers.alerts import enqueue_alerts
from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound
from resolvers.ids import decode_target_id
from resolvers.reassign_cases import (
    NO_HANDOVER,
    HandoverTo,
    decode_user,
    handover_changes,
    release_cases,
    require_admin,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MemberChange:
    member: StaffRow
    reassigned_count: int


async def staff(ctx: Context) -> list[StaffRow]:
    viewer = require_admin(ctx, "list the staff")
    async with ctx.read() as conn:
        return await staff_model.staff(conn, viewer.school.id)


async def change_role(
    ctx: Context, user_id: str, role: Role, handover: HandoverTo | None
) -> MemberChange:
    viewer = require_admin(ctx, "change roles")
    member_id = decode_target_id("User", user_id)
    at = clock.now()
    async with ctx.engine.begin() as conn:
        members = await _lock(conn, viewer, member_id, handover)
        member = _current(members, member_id)
        moved = NO_HANDOVER
        if member.role is not role:
            _keep_an_admin(members, member, role, field="role")
            if role not in KEY_ROLES:
                moved = await release_cases(
                    conn, viewer, members, member_id, handover, at
                )
            await set_role(conn, viewer.school.id, member_id, role)
            change = _change(viewer, at, StaffChangeKind.ROLE_CHANGED, member)
            await _record(conn, viewer, at, {**change, "to_role": role}, moved)
        row = await staff_model.staff_member(conn, viewer.school.id, member_id)
    return await _done(ctx, viewer, "role of", member, row, moved)


async def remove_member(
    ctx: Context, user_id: str, handover: HandoverTo | None
) -> MemberChange:
    viewer = require_admin(ctx, "remove members")
    member_id = decode_target_id("User", user_id)
    at = clock.now()
    async with ctx.engine.begin() as conn:
        members = await _lock(conn, viewer, member_id, handover)
        member = _current(members, member_id)
        _keep_an_admin(members, member, None, field="userId")
        moved = await release_cases(conn, viewer, members, member_id, handover, at)
        await remove_members(conn, viewer.school.id, [member_id], at)
        change = _change(viewer, at, StaffChangeKind.MEMBER_REMOVED, member)
        await _record(conn, viewer, at, change, moved)
        row = await staff_model.staff_member(conn, viewer.school.id, member_id)
    return await _done(ctx, viewer, "membership of", member, row, moved)


async def _lock(
    conn: AsyncConnection,
    viewer: ViewerRow,
    member_id: int,
    handover: HandoverTo | None,
) -> dict[int, MemberState]:
    """The member, the handover's target and every Admin, locked together."""
    target = decode_user(handover.user_id, field="handoverToId") if handover else None
    locked = [member_id] if target is None else [member_id, target]
    return await lock_members(conn, viewer.school.id, locked, with_admins=True)


def _current(members: dict[int, MemberState], member_id: int) -> MemberState:
    member = members.get(member_id)
    if member is None:
        raise NotFound("No such member of this school")
    if member.has_left:
        raise BadUserInput("They have already left the school", field="userId")
    return member


def _keep_an_admin(
    members: dict[int, MemberState],
    member: MemberState,
    role: Role | None,
    *,
    field: str,
) -> None:
    """Refuse to demote or remove the school's last Admin: nobody could then
    manage its staff. `role` None means the member is being removed."""
    if member.role is not Role.ADMIN or role is Role.ADMIN:
        return
    others = [
        other
        for other in members.values()
        if other.is_active_admin and other.user_id != member.user_id
    ]
    if not others:
        raise BadUserInput(
            "They are the school's only Admin: make someone else Admin first",
            field=field,
        )


def _change(
    viewer: ViewerRow, at: datetime, kind: StaffChangeKind, member: MemberState
) -> dict[str, object]:
    return {
        "school_id": viewer.school.id,
        "at": at,
        "source": ChangeSource.API,
        "actor_id": viewer.user.id,
        "kind": kind,
        "member_id": member.user_id,
        "from_role": member.role,
    }


async def _record(
    conn: AsyncConnection,
    viewer: ViewerRow,
    at: datetime,
    change: dict[str, object],
    moved: Handover,
) -> None:
    await record_changes(conn, [change, *handover_changes(viewer, moved, at)])


async def _done(
    ctx: Context,
    viewer: ViewerRow,
    what: str,
    member: MemberState,
    row: StaffRow | None,
    moved: Handover,
) -> MemberChange:
    assert row is not None, "the membership was locked in this transaction"
    if moved.alert_id is not None:
        await enqueue_alerts(ctx.arq, [moved.alert_id])
    logger.info(
        "%s user %s in school %s changed by user %s: %s -> %s%s, "
        "%s incidents handed over",
        what,
        member.user_id,
        viewer.school.id,
        viewer.user.id,
        member.role.value,
        row.role.value,
        " (left)" if row.has_left else "",
        moved.incident_count,
    )
    return MemberChange(member=row, reassigned_count=moved.incident_count)

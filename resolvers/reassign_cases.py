"""reassignCases: an Admin hands every ACTIVE incident of one member to a Key
User, or to nobody. changeRole and removeMember hand over the same way."""

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from models import clock
from models.rows import ViewerRow
from models.school import Role
from models.staff import (
    ChangeSource,
    Handover,
    MemberState,
    StaffChangeKind,
    active_assigned_count,
    hand_over,
    lock_members,
    record_changes,
)
from resolvers.alerts import enqueue_alerts
from resolvers.context import Context
from resolvers.errors import BadUserInput, Forbidden
from resolvers.ids import decode_id

logger = logging.getLogger(__name__)

NO_HANDOVER = Handover({}, None, None)


@dataclass(frozen=True, slots=True)
class HandoverTo:
    """Where a member's ACTIVE incidents go: a Key User's id, or None for nobody.

    An operation that may need one takes `HandoverTo | None`, where None means
    the client did not say, which is refused if the member holds incidents.
    """

    user_id: str | None


@dataclass(frozen=True, slots=True)
class ReassignResult:
    reassigned_count: int
    dry_run: bool


def require_admin(ctx: Context, what: str) -> ViewerRow:
    viewer = ctx.viewer
    if viewer.user.role is not Role.ADMIN:
        raise Forbidden(f"Only Admins may {what}")
    return viewer


def decode_user(global_id: str | None, *, field: str) -> int | None:
    return None if global_id is None else decode_id("User", global_id, field=field)


def check_target(
    members: dict[int, MemberState], to_id: int | None, from_id: int, *, field: str
) -> None:
    """The incidents go to nobody, or to a current Key User or Admin other than
    the member giving them up. `members` must hold both, locked."""
    if to_id is None:
        return
    if to_id == from_id:
        raise BadUserInput(
            "The incidents cannot be handed over to the member who holds them",
            field=field,
        )
    target = members.get(to_id)
    if target is None or not target.is_active_key_user:
        raise BadUserInput(
            "The incidents must go to a Key User or Admin of this school",
            field=field,
        )


async def release_cases(
    conn: AsyncConnection,
    viewer: ViewerRow,
    members: dict[int, MemberState],
    member_id: int,
    handover: HandoverTo | None,
    at: datetime,
) -> Handover:
    """Hand over a member's ACTIVE incidents before they leave or become STAFF;
    refused, naming how many they hold, unless the client said where to."""
    school_id = viewer.school.id
    held = (await active_assigned_count(conn, school_id, [member_id])).get(member_id)
    if not held:
        return NO_HANDOVER
    if handover is None:
        raise BadUserInput(
            f"They hold {held} ACTIVE incident{'s' if held != 1 else ''}: name who "
            "takes them over in handoverToId, or pass null to leave them unassigned",
            field="handoverToId",
        )
    to_id = decode_user(handover.user_id, field="handoverToId")
    check_target(members, to_id, member_id, field="handoverToId")
    return await hand_over(
        conn,
        school_id=school_id,
        from_ids=[member_id],
        to_id=to_id,
        actor_id=viewer.user.id,
        at=at,
    )


def handover_changes(
    viewer: ViewerRow, handover: Handover, at: datetime
) -> list[dict[str, object]]:
    """The audit rows recording a handover, one per previous assignee."""
    return [
        {
            "school_id": viewer.school.id,
            "at": at,
            "source": ChangeSource.API,
            "actor_id": viewer.user.id,
            "kind": StaffChangeKind.CASES_HANDED_OVER,
            "member_id": from_id,
            "handover_to_id": handover.to_id,
            "incident_count": count,
        }
        for from_id, count in sorted(handover.counts.items())
    ]


async def reassign_cases(
    ctx: Context, from_user_id: str, to_user_id: str | None, dry_run: bool
) -> ReassignResult:
    viewer = require_admin(ctx, "reassign cases")
    ctx.require_cases("Reassigning cases")
    from_id = decode_id("User", from_user_id, field="fromUserId")
    to_id = decode_user(to_user_id, field="toUserId")
    async with ctx.engine.begin() as conn:
        locked = [from_id] if to_id is None else [from_id, to_id]
        members = await lock_members(conn, viewer.school.id, locked)
        if from_id not in members:
            raise BadUserInput("Not a member of this school", field="fromUserId")
        check_target(members, to_id, from_id, field="toUserId")
        if dry_run:
            held = await active_assigned_count(conn, viewer.school.id, [from_id])
            handover = Handover(held, to_id, None)
        else:
            handover = await _reassign(conn, viewer, from_id, to_id)
    if handover.alert_id is not None:
        await enqueue_alerts(ctx.arq, [handover.alert_id])
    count = handover.incident_count
    _log(viewer, from_id, to_id, count, dry_run)
    return ReassignResult(reassigned_count=count, dry_run=dry_run)


async def _reassign(
    conn: AsyncConnection, viewer: ViewerRow, from_id: int, to_id: int | None
) -> Handover:
    at = clock.now()
    handover = await hand_over(
        conn,
        school_id=viewer.school.id,
        from_ids=[from_id],
        to_id=to_id,
        actor_id=viewer.user.id,
        at=at,
    )
    await record_changes(conn, handover_changes(viewer, handover, at))
    return handover


def _log(
    viewer: ViewerRow, from_id: int, to_id: int | None, count: int, dry_run: bool
) -> None:
    logger.info(
        "cases of user %s reassigned to user %s by user %s in school %s: "
        "%s incidents%s",
        from_id,
        to_id,
        viewer.user.id,
        viewer.school.id,
        count,
        " (dry run)" if dry_run else "",
    )

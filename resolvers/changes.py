"""The rules shared by every change to an incident's status or assignment."""

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from models import clock
from models.history import EventKind
from models.incident import IncidentStatus
from models.incident_writes import (
    append_event,
    insert_alert,
    is_key_user,
    lock_incident,
    update_incident,
)
from models.rows import IncidentRow, ViewerRow
from resolvers.context import Context
from resolvers.errors import BadUserInput, Conflict, Forbidden, NotFound
from resolvers.ids import decode_id

logger = logging.getLogger(__name__)


def require_key_user(ctx: Context, what: str) -> ViewerRow:
    viewer = ctx.viewer
    if not viewer.is_key_user:
        raise Forbidden(f"Only Key Users and Admins may {what}")
    return ctx.require_cases(what[:1].upper() + what[1:])


async def resolve_assignee(
    conn: AsyncConnection, viewer: ViewerRow, global_id: str | None, *, field: str
) -> int | None:
    if global_id is None:
        return None
    user_id = decode_id("User", global_id, field=field)
    if not await is_key_user(conn, viewer.school.id, user_id):
        raise BadUserInput(
            "The assignee must be a Key User or Admin of this school", field=field
        )
    return user_id


@dataclass(slots=True)
class Change:
    status: IncidentStatus | None = None
    assign: bool = False
    assignee_id: int | None = None


async def apply_change(
    ctx: Context,
    conn: AsyncConnection,
    incident_id: int,
    expected_version: int | None,
    change: Change,
) -> tuple[IncidentRow, list[int]]:
    """Apply `change` under the incident's row lock; returns alerts owed."""
    viewer = ctx.viewer
    incident = await lock_incident(conn, viewer.school.id, incident_id)
    if incident is None:
        raise NotFound("No such incident")
    if expected_version is not None and expected_version != incident.version:
        raise Conflict(
            f"The incident changed (version {incident.version}); reload and retry"
        )
    values, events = _differences(incident, change)
    if not values:
        return incident, []
    at = clock.now()
    updated = await update_incident(conn, incident, at, **values)
    for kind, fields in events:
        await append_event(
            conn, updated, kind, at=at, actor_id=viewer.user.id, **fields
        )
    alerts = []
    recipient = updated.assignee_id
    if "assignee_id" in values and recipient not in (None, viewer.user.id):
        assert recipient is not None
        alerts.append(await insert_alert(conn, updated, recipient, viewer.user.id, at))
    logger.info(
        "incident %s changed by user %s to version %s: %s",
        updated.id,
        viewer.user.id,
        updated.version,
        ", ".join(kind.value for kind, _ in events),
    )
    return updated, alerts


def _differences(
    incident: IncidentRow, change: Change
) -> tuple[dict[str, object], list[tuple[EventKind, dict[str, object]]]]:
    values: dict[str, object] = {}
    events: list[tuple[EventKind, dict[str, object]]] = []
    if change.assign and change.assignee_id != incident.assignee_id:
        values["assignee_id"] = change.assignee_id
        events.append(
            (
                EventKind.ASSIGNED,
                {
                    "from_assignee_id": incident.assignee_id,
                    "to_assignee_id": change.assignee_id,
                },
            )
        )
    if change.status is not None and change.status != incident.status:
        values["status"] = change.status
        events.append(
            (
                EventKind.STATUS_CHANGED,
                {"from_status": incident.status, "to_status": change.status},
            )
        )
    return values, events

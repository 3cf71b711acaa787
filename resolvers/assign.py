"""assign: give an incident to a Key User or Admin, or to nobody."""

from models.rows import IncidentRow
from resolvers.alerts import enqueue_alerts
from resolvers.changes import Change, apply_change, require_key_user, resolve_assignee
from resolvers.context import Context
from resolvers.ids import decode_target_id


async def assign(
    ctx: Context,
    incident_id: str,
    assignee_id: str | None,
    expected_version: int | None,
) -> IncidentRow:
    viewer = require_key_user(ctx, "assign incidents")
    pk = decode_target_id("Incident", incident_id)
    async with ctx.engine.begin() as conn:
        user_id = await resolve_assignee(conn, viewer, assignee_id, field="assigneeId")
        change = Change(assign=True, assignee_id=user_id)
        incident, alerts = await apply_change(ctx, conn, pk, expected_version, change)
    await enqueue_alerts(ctx.arq, alerts)
    return incident

"""changeStatus: ACTIVE, CLOSED (still monitored) or NO_FURTHER_ACTION."""

from models.incident import IncidentStatus
from models.rows import IncidentRow
from resolvers.changes import Change, apply_change, require_key_user
from resolvers.context import Context
from resolvers.ids import decode_target_id


async def change_status(
    ctx: Context,
    incident_id: str,
    status: IncidentStatus,
    expected_version: int | None,
) -> IncidentRow:
    require_key_user(ctx, "change status")
    pk = decode_target_id("Incident", incident_id)
    async with ctx.engine.begin() as conn:
        change = Change(status=status)
        incident, _ = await apply_change(ctx, conn, pk, expected_version, change)
    return incident

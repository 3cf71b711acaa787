"""bulkClose: an Admin closes every incident that occurred in a date range."""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from models import clock
from models.incident import IncidentStatus
from models.incident_writes import bulk_close as bulk_close_rows
from models.incident_writes import count_bulk_close
from models.rows import ViewerRow
from models.school import Role
from resolvers.context import Context
from resolvers.dates import closed_date_range
from resolvers.errors import BadUserInput, Forbidden

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class BulkCloseResult:
    updated_count: int
    dry_run: bool


async def bulk_close(
    ctx: Context, start: date, end: date, status: IncidentStatus, dry_run: bool
) -> BulkCloseResult:
    """Irreversible, so it says how many changed and leaves a log line."""
    viewer = _admin(ctx)
    if status is IncidentStatus.ACTIVE:
        raise BadUserInput(
            "Bulk close sets CLOSED or NO_FURTHER_ACTION", field="status"
        )
    since, before = closed_date_range(start, end, viewer.school.time_zone)
    count = await _count_or_close(ctx, viewer, since, before, status, dry_run)
    logger.info(
        "bulk close by user %s in school %s: %s to %s -> %s, %s incidents%s",
        viewer.user.id,
        viewer.school.id,
        start.isoformat(),
        end.isoformat(),
        status.value,
        count,
        " (dry run)" if dry_run else "",
    )
    return BulkCloseResult(updated_count=count, dry_run=dry_run)


def _admin(ctx: Context) -> ViewerRow:
    viewer = ctx.viewer
    if viewer.user.role is not Role.ADMIN:
        raise Forbidden("Only Admins may bulk-close incidents")
    return ctx.require_cases("Bulk close")


async def _count_or_close(
    ctx: Context,
    viewer: ViewerRow,
    since: datetime,
    before: datetime,
    status: IncidentStatus,
    dry_run: bool,
) -> int:
    school_id = viewer.school.id
    async with ctx.engine.begin() as conn:
        if dry_run:
            return await count_bulk_close(conn, school_id, since, before, status)
        return await bulk_close_rows(
            conn,
            school_id=school_id,
            actor_id=viewer.user.id,
            since=since,
            before=before,
            target=status,
            at=clock.now(),
        )

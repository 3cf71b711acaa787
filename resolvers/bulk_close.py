"""bulkClose: an Admin closes every incident that occurred in a date range."""

import logging
from dataclasses import dataclass
from datetime import date

from models import clock
from models.incident import IncidentStatus
from models.incident_writes import bulk_close as bulk_close_rows
from models.incident_writes import count_bulk_close
from models.school import Role
from resolvers.context import Context
from resolvers.dates import date_range
from resolvers.errors import BadUserInput, Forbidden

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class BulkCloseResult:
    updated_count: int
    dry_run: bool


async def bulk_close(
    ctx: Context, start: date, end: date, status: IncidentStatus, dry_run: bool
) -> BulkCloseResult:
    viewer = ctx.viewer
    if viewer.user.role is not Role.ADMIN:
        raise Forbidden("Only Admins may bulk-close incidents")
    ctx.require_cases("Bulk close")
    if status is IncidentStatus.ACTIVE:
        raise BadUserInput("Bulk close sets CLOSED or NO_FURTHER_ACTION", field="status")
    since, before = date_range(start, end, viewer.school.time_zone)
    assert since is not None and before is not None
    async with ctx.engine.begin() as conn:
        if dry_run:
            count = await count_bulk_close(conn, viewer.school.id, since, before, status)
        else:
            count = await bulk_close_rows(
                conn,
                school_id=viewer.school.id,
                actor_id=viewer.user.id,
                since=since,
                before=before,
                target=status,
                at=clock.now(),
            )
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

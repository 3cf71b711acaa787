"""sweep_outbox: queue again every alert still PENDING after its grace time.

It covers what the enqueue after commit cannot: Redis down at that moment, a
process dead between commit and enqueue, a job lost with Redis's data. The
fixed job id (workers.jobs.alert_job_id) makes it harmless for rows whose job
is still queued, deferred for a retry or running: arq refuses the duplicate.
"""

import logging
from datetime import timedelta
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.settings import Settings
from models import clock
from models.alerts import pending_alert_ids
from workers.jobs import SEND_ALERT, alert_job_id

logger = logging.getLogger(__name__)

_PAGE = 500


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """The arq cron job; returns how many alerts it queued."""
    engine: AsyncEngine = ctx["engine"]
    settings: Settings = ctx["settings"]
    redis: ArqRedis = ctx["redis"]
    created_before = clock.now() - timedelta(seconds=settings.outbox_sweep_grace_s)
    queued = 0
    after_id = 0
    while True:
        async with engine.connect() as conn:
            page = await pending_alert_ids(conn, created_before, after_id, _PAGE)
        queued += await _enqueue(redis, page)
        if len(page) < _PAGE:
            break
        after_id = page[-1]
    if queued:
        logger.info("outbox sweep queued %s alerts", queued)
    return queued


async def _enqueue(redis: ArqRedis, outbox_ids: list[int]) -> int:
    queued = 0
    for outbox_id in outbox_ids:
        job = await redis.enqueue_job(
            SEND_ALERT, outbox_id, _job_id=alert_job_id(outbox_id)
        )
        queued += job is not None
    return queued

"""Hands committed outbox rows to the alert workers.

The outbox row is the promise; this enqueue only makes delivery prompt. If Redis
is unreachable the periodic sweep in the worker picks the row up later.
"""

import logging

from arq.connections import ArqRedis

from workers.jobs import SEND_ALERT, alert_job_id

logger = logging.getLogger(__name__)


async def enqueue_alerts(arq: ArqRedis | None, outbox_ids: list[int]) -> None:
    if arq is None:
        return
    for outbox_id in outbox_ids:
        try:
            await arq.enqueue_job(
                SEND_ALERT, outbox_id, _job_id=alert_job_id(outbox_id)
            )
        except Exception as error:
            logger.warning(
                "alert %s not enqueued (%s); the outbox sweep will send it",
                outbox_id,
                type(error).__name__,
            )

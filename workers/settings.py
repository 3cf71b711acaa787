"""The one place the arq worker is configured: its jobs, schedule and resources.

`cases worker` and `cases serve` run what `build_worker` returns. There is no
`WorkerSettings` class for arq's own CLI: it would have to read the settings
at import time, and `cases worker` also starts embedded servers when their
URLs are unset.
"""

import asyncio
import socket
from dataclasses import replace
from typing import Any

from arq import cron
from arq.cron import CronJob
from arq.worker import Function, Worker, func

from cases.db import make_engine
from cases.redis import redis_settings_from_url
from cases.settings import Settings
from workers.jobs import SEND_ALERT
from workers.outbox_sweep import sweep_outbox
from workers.send_alert import send_alert
from workers.smtp import SmtpSessions, smtp_server_from_url

# aiosmtplib's timeout bounds each step (connect, EHLO, MAIL, RCPT, DATA...),
# not the whole send; arq's timeout is only the backstop above them all.
_SMTP_STEPS = 8
# Also sets, with the alert job's timeout, how long arq waits before running
# again a job whose worker died: the longest timeout plus 10 s.
_SWEEP_TIMEOUT_S = 60


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """A worker for alert jobs and the outbox sweep; construct it in the loop
    that will run it. `burst` stops it once the queue is empty (tests, bench).
    """
    if settings.redis_url is None:
        raise RuntimeError("REDIS_URL is not set and no embedded server was started")
    if settings.smtp_url is None:
        raise RuntimeError("SMTP_URL is not set and no embedded server was started")
    return Worker(
        functions=[_send_alert_function(settings)],
        cron_jobs=[_sweep_cron(settings)],
        redis_settings=redis_settings_from_url(settings.redis_url),
        burst=burst,
        on_startup=_startup,
        on_shutdown=_shutdown,
        ctx={
            "settings": settings,
            # Parsed here, so a bad SMTP_URL fails before the worker starts.
            "smtp_server": smtp_server_from_url(settings.smtp_url),
            # Alert attempts still running; shutdown lets them finish.
            "in_flight": set(),
        },
        max_jobs=settings.alert_concurrency,
        poll_delay=settings.worker_poll_delay_s,
        # No result is kept, so the sweep may queue a row again as soon as a
        # job for it has ended, however it ended.
        keep_result=0,
        # The process that runs the worker owns the signals (cases.cli).
        handle_signals=False,
    )


def _send_alert_function(settings: Settings) -> Function:
    return func(
        send_alert,
        name=SEND_ALERT,
        timeout=settings.smtp_timeout_s * _SMTP_STEPS + 30,
        # The outbox row counts tries and gives up at alert_max_tries; arq's
        # own limit only has to let it get there. Past it (tries lost to
        # cancellation), arq drops the job and the sweep queues it again.
        max_tries=settings.alert_max_tries + 2,
    )


def _sweep_cron(settings: Settings) -> CronJob:
    minute, second = _schedule(settings.outbox_sweep_interval_s)
    return cron(
        sweep_outbox,
        name="sweep_outbox",
        minute=minute,
        second=second,
        run_at_startup=True,
        timeout=_SWEEP_TIMEOUT_S,
        max_tries=1,
    )


def _schedule(interval_s: int) -> tuple[set[int] | None, set[int]]:
    """The (minutes, seconds) of an interval: arq's cron takes sets, not periods."""
    if 0 < interval_s < 60 and 60 % interval_s == 0:
        return None, set(range(0, 60, interval_s))
    if interval_s % 60 == 0 and 0 < interval_s <= 3600 and 3600 % interval_s == 0:
        return set(range(0, 60, interval_s // 60)), {0}
    raise ValueError(
        f"OUTBOX_SWEEP_INTERVAL_S={interval_s} must divide a minute or an hour"
    )


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    local_hostname = await asyncio.to_thread(socket.getfqdn)
    ca_file = settings.smtp_ca_file
    server = replace(
        ctx["smtp_server"],
        local_hostname=local_hostname,
        cert_bundle=str(ca_file) if ca_file is not None else None,
    )
    ctx["smtp"] = SmtpSessions(server, settings.smtp_timeout_s)
    # A connection per concurrent alert, and one for the sweep.
    ctx["engine"] = make_engine(settings, pool_size=settings.alert_concurrency + 1)


async def _shutdown(ctx: dict[str, Any]) -> None:
    # Bounded by the SMTP timeouts; their outcomes are committed and logged.
    await asyncio.gather(*ctx["in_flight"], return_exceptions=True)
    if "smtp" in ctx:
        await ctx.pop("smtp").close()
    engine = ctx.pop("engine", None)
    if engine is not None:
        await engine.dispose()

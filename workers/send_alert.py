"""send_alert: deliver the email an outbox row promises, once.

Each attempt is counted and committed first; then the row is claimed with a
row lock held for the whole attempt, send included, so two workers never send
it at the same time, and the outcome is committed before anything is logged
or retried. docs/alerts.md has the rules and the one window left for a
duplicate.
"""

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

from arq import Retry
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cases.settings import Settings
from models import clock
from models.alerts import (
    Alert,
    claim_alert,
    count_attempt,
    finish_alert,
    record_failure,
)
from models.history import EventKind
from models.outbox import OutboxState
from workers.alert_email import render_alert
from workers.smtp import DeliveryFailed, SmtpSessions

logger = logging.getLogger(__name__)

# Spread retries of alerts that failed together, so a recovering server is
# not hit by all of them in the same instant.
_JITTER = 0.2


@dataclass(frozen=True, slots=True)
class _Outcome:
    alert: Alert
    state: OutboxState
    reason: str | None = None
    retry_in_s: float | None = None


async def send_alert(ctx: dict[str, Any], outbox_id: int) -> str:
    """The arq job. Returns what became of the row; raises Retry to try again.

    The attempt runs in a task of its own, shielded: a job cancelled by a
    shutdown or arq's timeout must not stop it between the server taking the
    message and the commit, or the alert would be sent again. The worker's
    shutdown waits for attempts still running (workers.settings).
    """
    attempt = asyncio.create_task(_run_attempt(ctx, outbox_id))
    in_flight: set[asyncio.Task[_Outcome | None]] = ctx["in_flight"]
    in_flight.add(attempt)
    attempt.add_done_callback(in_flight.discard)
    outcome = await asyncio.shield(attempt)
    if outcome is None:
        return "not pending"
    if outcome.retry_in_s is not None:
        raise Retry(defer=outcome.retry_in_s)
    return outcome.state.value


async def _run_attempt(ctx: dict[str, Any], outbox_id: int) -> _Outcome | None:
    engine: AsyncEngine = ctx["engine"]
    async with engine.begin() as conn:
        attempts = await count_attempt(conn, outbox_id)
    if attempts is None:
        logger.debug("alert %s is done or held by another worker", outbox_id)
        return None
    # The row lock, and with it a pooled connection, is held while the SMTP
    # server answers: up to ALERT_CONCURRENCY connections per worker, each for
    # as long as a hanging server takes to time out. A lease column (claimed
    # until) would free the connection, at the price of a schema change and a
    # lease that can expire under a slow send.
    async with engine.begin() as conn:
        alert = await claim_alert(conn, outbox_id)
        if alert is None:
            logger.debug("alert %s was claimed by another worker", outbox_id)
            return None
        outcome = await _attempt(conn, alert, ctx["settings"], ctx["smtp"])
    _log(outcome)
    return outcome


async def _attempt(
    conn: AsyncConnection, alert: Alert, settings: Settings, smtp: SmtpSessions
) -> _Outcome:
    reason = skip_reason(alert)
    if reason is not None:
        at = clock.now()
        await finish_alert(conn, alert.id, OutboxState.SKIPPED, at, error=reason)
        return _Outcome(alert, OutboxState.SKIPPED, reason)
    if alert.attempts > settings.alert_max_tries:
        # Only attempts that died before recording their outcome get here.
        return await _give_up(conn, alert, "attempts exhausted")
    if not alert.recipient_email.isascii():
        # Such an address needs SMTPUTF8, which this sender does not speak:
        # its owner gets no alert, and the history shows ALERT_FAILED.
        return await _give_up(conn, alert, "address needs SMTPUTF8")

    email = render_alert(
        alert, app_url=settings.app_url, mail_from=settings.mail_from, at=clock.now()
    )
    try:
        await smtp.send(email.sender, email.recipient, email.content)
    except DeliveryFailed as failure:
        return await _failed(conn, alert, failure, settings)

    # From here to the commit is the window in which a dying worker leaves a
    # sent alert PENDING, to be sent again: one statement and the commit.
    event = EventKind.ALERT_SENT
    await finish_alert(conn, alert.id, OutboxState.SENT, clock.now(), event=event)
    return _Outcome(alert, OutboxState.SENT)


def skip_reason(alert: Alert) -> str | None:
    """Why the alert must not go out any more, or None to send it.

    A closed incident still alerts: its assignee is the Key User answerable
    for it, and a closure they did not make is news they need.
    """
    if not alert.cases_enabled:
        return "cases module off"
    if not alert.recipient_is_key_user:
        return "recipient no longer a Key User"
    if alert.is_handover:
        return None
    if alert.incident_number is None:
        return "incident gone"
    if alert.assignee_id != alert.recipient_id:
        return "reassigned"
    return None


async def _failed(
    conn: AsyncConnection, alert: Alert, failure: DeliveryFailed, settings: Settings
) -> _Outcome:
    if not failure.permanent and alert.attempts < settings.alert_max_tries:
        await record_failure(conn, alert.id, failure.detail)
        retry_in_s = retry_delay_s(alert.attempts, settings.alert_retry_base_s)
        return _Outcome(alert, OutboxState.PENDING, failure.reason, retry_in_s)
    return await _give_up(conn, alert, failure.reason, failure.detail)


async def _give_up(
    conn: AsyncConnection, alert: Alert, reason: str, detail: str | None = None
) -> _Outcome:
    await finish_alert(
        conn,
        alert.id,
        OutboxState.FAILED,
        clock.now(),
        error=detail or reason,
        event=EventKind.ALERT_FAILED,
    )
    return _Outcome(alert, OutboxState.FAILED, reason)


def retry_delay_s(attempts: int, base_s: float) -> float:
    """Exponential: base, 2 x base, 4 x base... after the 1st, 2nd, 3rd try."""
    jitter = random.uniform(1 - _JITTER, 1 + _JITTER)
    return float(base_s * 2 ** (attempts - 1) * jitter)


def _log(outcome: _Outcome) -> None:
    alert = outcome.alert
    if outcome.state is OutboxState.SENT:
        logger.info(
            "alert %s sent for incident %s to user %s on attempt %s",
            alert.id,
            alert.incident_id,
            alert.recipient_id,
            alert.attempts,
        )
    elif outcome.state is OutboxState.SKIPPED:
        logger.info(
            "alert %s skipped for incident %s: %s",
            alert.id,
            alert.incident_id,
            outcome.reason,
        )
    elif outcome.state is OutboxState.PENDING:
        logger.warning(
            "alert %s attempt %s failed (%s); retrying in %.1f s",
            alert.id,
            alert.attempts,
            outcome.reason,
            outcome.retry_in_s,
        )
    else:
        logger.error(
            "alert %s for incident %s to user %s failed after %s attempts (%s)",
            alert.id,
            alert.incident_id,
            alert.recipient_id,
            alert.attempts,
            outcome.reason,
        )

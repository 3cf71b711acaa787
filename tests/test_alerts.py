"""Alert emails: real Redis, a real SMTP server, arq workers in burst mode."""

import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from arq import create_pool
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.app import create_app
from cases.embedded.redis import EmbeddedRedis
from cases.mailcatcher import MailCatcher
from cases.redis import redis_settings_from_url
from cases.settings import Settings
from models import clock
from tests.fixtures import add_incident, user_id
from tests.graphql import Api
from workers.jobs import SEND_ALERT, alert_job_id
from workers.settings import build_worker
from workers.smtp import SmtpServer, smtp_server_from_url

ASSIGN = """
mutation ($input: AssignInput!) { assign(input: $input) { incident { id } } }
"""
CHANGE_STATUS = """
mutation ($input: ChangeStatusInput!) {
  changeStatus(input: $input) { incident { id } }
}
"""
INCIDENT = """
query ($id: ID!) {
  incident(id: $id) {
    students { name }
    history { kind actor { email } toAssignee { email } }
  }
}
"""
DSL = "dsl@primary.example"
DEPUTY = "deputy@primary.example"
ADMIN = "admin@primary.example"
DESCRIPTION = "Quentin said the older pupils at the bus stop took his phone."


@pytest.fixture
def inbox(mail: MailCatcher) -> Iterator[MailCatcher]:
    mail.clear()
    yield mail
    mail.clear()


async def run_worker(settings: Settings) -> None:
    worker = build_worker(settings, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def outbox(db: AsyncEngine) -> list[dict[str, Any]]:
    query = "SELECT * FROM alert_outbox ORDER BY id"
    async with db.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(text(query))]


async def alert_events(db: AsyncEngine) -> list[str]:
    query = "SELECT kind FROM incident_events WHERE kind LIKE 'ALERT%' ORDER BY id"
    async with db.connect() as conn:
        return list((await conn.execute(text(query))).scalars())


async def assign_to(
    api: Api, email: str, assignee: str, **fields: Any
) -> dict[str, Any]:
    return await add_incident(
        api, email, assignedToId=await user_id(api, assignee), **fields
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


async def add_key_user(db: AsyncEngine, name: str, email: str) -> None:
    async with db.begin() as conn:
        new_id = await conn.scalar(
            text("INSERT INTO users (name, email) VALUES (:n, :e) RETURNING id"),
            {"n": name, "e": email},
        )
        await conn.execute(
            text(
                "INSERT INTO memberships (user_id, school_id, role) "
                "SELECT :u, id, 'KEY_USER' FROM schools WHERE name = 'Demo Primary'"
            ),
            {"u": new_id},
        )


async def test_alert_names_number_school_and_assigner_only(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await add_key_user(db, "Ann <b>O'Neil</b> & Co", "ann@primary.example")
    incident = await assign_to(
        api, "ann@primary.example", DEPUTY, description=DESCRIPTION
    )

    await run_worker(settings)

    [message] = inbox.messages
    assert message["To"] == "Dev Deputy <deputy@primary.example>"
    assert message["From"] == settings.mail_from
    assert message["Subject"] == "Incident 1 assigned to you - Demo Primary"
    assert re.fullmatch(r"<alert\.\d+\.\d+@localhost>", message["Message-ID"])
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = parts(message)
    link = f"https://cases.test/incidents/{incident['id']}"
    assert "Ann <b>O'Neil</b> & Co assigned incident 1 at Demo Primary" in plain
    assert link in plain
    assert "Ann &lt;b&gt;O&#39;Neil&lt;/b&gt; &amp; Co assigned" in html
    assert f'href="{link}"' in html
    seen = await api.as_user(DSL, INCIDENT, {"id": incident["id"]})
    [student] = seen.data["incident"]["students"]
    raw = message.as_string()
    for secret in (student["name"], *student["name"].split(), "Quentin", "phone"):
        assert secret not in raw
    assert seen.data["incident"]["history"][-1] == {
        "kind": "ALERT_SENT",
        "actor": None,
        "toAssignee": {"email": DEPUTY},
    }
    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("SENT", 1)


async def test_line_breaks_in_a_name_add_no_header(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await add_key_user(db, "Eve\r\nBcc: spy@evil.example", "eve@primary.example")
    await assign_to(api, DSL, "eve@primary.example")

    await run_worker(settings)

    [message] = inbox.messages
    assert message["X-RcptTo"] == "eve@primary.example"
    assert message["Bcc"] is None
    assert message["To"] == '"Eve Bcc: spy@evil.example" <eve@primary.example>'


async def test_alerts_of_one_run_reach_each_assignee(
    api: Api, settings: Settings, inbox: MailCatcher
) -> None:
    for assignee in (DEPUTY, DSL, DEPUTY):
        await assign_to(api, ADMIN, assignee)

    await run_worker(settings)

    received = sorted(message["Subject"] for message in inbox.messages)
    assert received == [
        f"Incident {number} assigned to you - Demo Primary" for number in (1, 2, 3)
    ]
    recipients = sorted(message["X-RcptTo"] for message in inbox.messages)
    assert recipients == [DEPUTY, DEPUTY, DSL]


async def test_self_assignment_sends_nothing(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await assign_to(api, DSL, DSL)
    added = await add_incident(api, DSL)
    answer = await api.as_user(
        DSL,
        ASSIGN,
        {"input": {"incidentId": added["id"], "assigneeId": await user_id(api, DSL)}},
    )
    assert answer.data["assign"]["incident"]["id"] == added["id"]

    await run_worker(settings)

    assert inbox.messages == []
    assert await outbox(db) == []


@pytest.fixture
async def redis_down(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[EmbeddedRedis, Settings]]:
    """A Redis of this test's own, not started: the suite's stays up."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    try:
        yield server, settings.model_copy(update={"redis_url": server.url})
    finally:
        server.stop()


async def assign_with_app_of(settings: Settings, email: str, assignee: str) -> None:
    """Assign through an API instance of its own, built with these settings."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://cases.test") as client,
    ):
        await assign_to(Api(client, settings, []), email, assignee)


async def test_sweep_sends_alert_committed_while_redis_was_down(
    api: Api,
    inbox: MailCatcher,
    db: AsyncEngine,
    redis_down: tuple[EmbeddedRedis, Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, down = redis_down
    await assign_with_app_of(down, DSL, DEPUTY)
    assert "not enqueued (ConnectionError)" in caplog.text
    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("PENDING", 0)

    server.start()
    clock.freeze(datetime.now(UTC) + timedelta(seconds=down.outbox_sweep_grace_s))
    await run_worker(down)
    await run_worker(down)

    assert len(inbox.messages) == 1
    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("SENT", 1)


async def test_sweep_leaves_young_rows_to_their_enqueue(
    api: Api,
    inbox: MailCatcher,
    db: AsyncEngine,
    redis_down: tuple[EmbeddedRedis, Settings],
) -> None:
    server, down = redis_down
    await assign_with_app_of(down, DSL, DEPUTY)
    server.start()

    await run_worker(down)

    assert inbox.messages == []
    assert [row["state"] for row in await outbox(db)] == ["PENDING"]


async def test_451_twice_then_accepted_sends_one(
    api: Api,
    settings: Settings,
    inbox: MailCatcher,
    db: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="workers.send_alert")
    inbox.fail_next(451, count=2)
    await assign_to(api, DSL, DEPUTY)

    await run_worker(settings)

    assert len(inbox.messages) == 1
    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("SENT", 3)
    assert row["last_error"].startswith("SMTPDataError 451")
    retries = [r for r in caplog.records if r.name == "workers.send_alert"]
    assert [r.levelname for r in retries] == ["WARNING", "WARNING", "INFO"]
    assert await alert_events(db) == ["ALERT_SENT"]


async def test_550_records_alert_failed_in_history(
    api: Api,
    settings: Settings,
    inbox: MailCatcher,
    db: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox.fail_next(550)
    incident = await assign_to(api, DSL, DEPUTY)

    await run_worker(settings)

    assert inbox.messages == []
    seen = await api.as_user(DSL, INCIDENT, {"id": incident["id"]})
    assert seen.data["incident"]["history"][-1] == {
        "kind": "ALERT_FAILED",
        "actor": None,
        "toAssignee": {"email": DEPUTY},
    }
    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("FAILED", 1)
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.getMessage() == (
        f"alert {row['id']} for incident {row['incident_id']} to user "
        f"{row['recipient_id']} failed after 1 attempts (SMTPDataError 550)"
    )


async def test_4xx_until_tries_run_out_fails(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    inbox.fail_next(451, count=3)
    await assign_to(api, DSL, DEPUTY)

    await run_worker(settings.model_copy(update={"alert_max_tries": 3}))

    assert inbox.messages == []
    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("FAILED", 3)
    assert await alert_events(db) == ["ALERT_FAILED"]


async def test_refused_connection_is_retried_then_fails(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await assign_to(api, DSL, DEPUTY)
    dead = settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{_closed_port()}", "alert_max_tries": 2}
    )

    await run_worker(dead)

    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("FAILED", 2)
    assert row["last_error"].startswith("SMTPConnectError")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_attempts_that_died_still_use_up_tries(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await assign_to(api, DSL, DEPUTY)
    # As left by attempts killed between their count and their outcome.
    async with db.begin() as conn:
        await conn.execute(
            text("UPDATE alert_outbox SET attempts = :n"),
            {"n": settings.alert_max_tries},
        )

    await run_worker(settings)

    assert inbox.messages == []
    [row] = await outbox(db)
    assert (row["state"], row["last_error"]) == ("FAILED", "attempts exhausted")
    assert await alert_events(db) == ["ALERT_FAILED"]


async def test_same_job_run_twice_sends_one(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await assign_to(api, DSL, DEPUTY)
    [row] = await outbox(db)
    arq = await create_pool(redis_settings_from_url(settings.redis_url or ""))
    try:
        # A stray copy under another id runs alongside the API's job.
        assert await arq.enqueue_job(SEND_ALERT, row["id"], _job_id="stray")
        await run_worker(settings)
        # No result is kept, so the fixed id is free again once a job ended.
        assert await arq.enqueue_job(
            SEND_ALERT, row["id"], _job_id=alert_job_id(row["id"])
        )
        await run_worker(settings)
    finally:
        await arq.aclose()

    assert len(inbox.messages) == 1
    assert await alert_events(db) == ["ALERT_SENT"]
    [row] = await outbox(db)
    assert row["state"] == "SENT"


async def test_module_off_before_job_sends_nothing(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await assign_to(api, DSL, DEPUTY)
    async with db.begin() as conn:
        await conn.execute(text("UPDATE schools SET cases_enabled = false"))

    await run_worker(settings)

    assert inbox.messages == []
    [row] = await outbox(db)
    assert (row["state"], row["last_error"]) == ("SKIPPED", "cases module off")
    assert await alert_events(db) == []


async def test_reassigned_before_job_alerts_new_assignee_only(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    incident = await assign_to(api, DSL, DEPUTY)
    variables = {"incidentId": incident["id"], "assigneeId": await user_id(api, DSL)}
    assert (await api.as_user(ADMIN, ASSIGN, {"input": variables})).data

    await run_worker(settings)

    [message] = inbox.messages
    assert message["To"] == "Dana Lead <dsl@primary.example>"
    assert "Alex Admin assigned incident 1" in parts(message)[0]
    stale, current = await outbox(db)
    assert (stale["state"], stale["last_error"]) == ("SKIPPED", "reassigned")
    assert current["state"] == "SENT"


async def test_closed_before_job_still_alerts_with_status(
    api: Api, settings: Settings, inbox: MailCatcher
) -> None:
    incident = await assign_to(api, DSL, DEPUTY)
    variables = {"incidentId": incident["id"], "status": "CLOSED"}
    assert (await api.as_user(DSL, CHANGE_STATUS, {"input": variables})).data

    await run_worker(settings)

    [message] = inbox.messages
    assert 'It is now marked "Closed".' in parts(message)[0]


async def test_leaver_is_not_alerted(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await assign_to(api, DSL, DEPUTY)
    async with db.begin() as conn:
        await conn.execute(
            text(
                "UPDATE memberships SET removed_at = now() WHERE user_id = "
                "(SELECT id FROM users WHERE email = :e)"
            ),
            {"e": DEPUTY},
        )

    await run_worker(settings)

    assert inbox.messages == []
    [row] = await outbox(db)
    assert row["last_error"] == "recipient no longer a Key User"


async def test_address_needing_smtputf8_fails_at_once(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    await add_key_user(db, "Zoë", "zoë@primary.example")
    await assign_to(api, DSL, "zoë@primary.example")

    await run_worker(settings)

    assert inbox.messages == []
    [row] = await outbox(db)
    assert (row["state"], row["last_error"]) == ("FAILED", "address needs SMTPUTF8")
    assert await alert_events(db) == ["ALERT_FAILED"]


async def test_handover_alert_counts_incidents(
    api: Api, settings: Settings, inbox: MailCatcher, db: AsyncEngine
) -> None:
    deputy_id, school_id = await api.ids(DEPUTY)
    admin_id, _ = await api.ids(ADMIN)
    async with db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO alert_outbox (school_id, recipient_id, actor_id, "
                "incident_count, created_at) VALUES (:s, :r, :a, 3, now())"
            ),
            {"s": school_id, "r": deputy_id, "a": admin_id},
        )
    arq = await create_pool(redis_settings_from_url(settings.redis_url or ""))
    [row] = await outbox(db)
    await arq.enqueue_job(SEND_ALERT, row["id"], _job_id=alert_job_id(row["id"]))
    await arq.aclose()

    await run_worker(settings)

    [message] = inbox.messages
    assert message["Subject"] == "3 incidents handed over to you - Demo Primary"
    assert "Alex Admin handed 3 incidents at Demo Primary" in parts(message)[0]
    assert "https://cases.test/incidents" in parts(message)[0].splitlines()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.test", SmtpServer("mail.test", 25, None, None, False, False)),
        (
            "smtp+starttls://a%40b:p%2Fw@mail.test",
            SmtpServer("mail.test", 587, "a@b", "p/w", False, True),
        ),
        (
            "smtp://mail.test:587?starttls=true",
            SmtpServer("mail.test", 587, None, None, False, True),
        ),
        (
            "smtps://mail.test:2465",
            SmtpServer("mail.test", 2465, None, None, True, False),
        ),
    ],
)
def test_smtp_url_says_tls_and_credentials(url: str, expected: SmtpServer) -> None:
    assert smtp_server_from_url(url) == expected


@pytest.fixture(scope="module")
def mail_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 and the PEM file of the CA that signed it."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path_factory.mktemp("mail-ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


@pytest.mark.parametrize(
    ("scheme", "implicit_tls"),
    [("smtp+starttls", False), ("smtps", True)],
)
async def test_alert_goes_over_tls_with_the_login(
    api: Api,
    settings: Settings,
    db: AsyncEngine,
    mail_tls: tuple[ssl.SSLContext, Path],
    scheme: str,
    implicit_tls: bool,
) -> None:
    context, ca_file = mail_tls
    secure = MailCatcher(
        tls=context, implicit_tls=implicit_tls, login=("cases", "p@ss")
    )
    with secure:
        port = secure.url.rsplit(":", 1)[1]
        variant = settings.model_copy(
            update={
                "smtp_url": f"{scheme}://cases:p%40ss@127.0.0.1:{port}",
                "smtp_ca_file": ca_file,
            }
        )
        await assign_to(api, DSL, DEPUTY)
        await run_worker(variant)
        delivered = secure.deliveries
    assert delivered == [(True, "cases")]
    assert [row["state"] for row in await outbox(db)] == ["SENT"]


async def test_untrusted_certificate_is_a_failed_attempt(
    api: Api,
    settings: Settings,
    db: AsyncEngine,
    mail_tls: tuple[ssl.SSLContext, Path],
) -> None:
    context, _ = mail_tls
    secure = MailCatcher(tls=context, implicit_tls=True)
    with secure:
        port = secure.url.rsplit(":", 1)[1]
        variant = settings.model_copy(
            update={"smtp_url": f"smtps://127.0.0.1:{port}", "alert_max_tries": 1}
        )
        await assign_to(api, DSL, DEPUTY)
        await run_worker(variant)
        assert secure.messages == []
    [row] = await outbox(db)
    assert (row["state"], row["attempts"]) == ("FAILED", 1)
    assert row["last_error"].startswith("SMTPConnectError")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.test", "scheme 'http'"),
        ("smtp://mail.test?tls=1", "option 'tls'"),
        ("smtp://mail.test?starttls=maybe", "got 'maybe'"),
        ("smtps://mail.test?starttls=true", "already TLS"),
    ],
)
def test_smtp_url_typos_refused(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        smtp_server_from_url(url)


async def test_sweep_interval_must_fit_a_clock(settings: Settings) -> None:
    with pytest.raises(ValueError, match="OUTBOX_SWEEP_INTERVAL_S=7"):
        build_worker(settings.model_copy(update={"outbox_sweep_interval_s": 7}))

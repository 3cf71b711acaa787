"""Audit: history is append-only in the database itself, and the log never holds
a secret, a token or a child's details, while every line of a request carries
its request id."""

import logging
import time
from collections.abc import Iterator

import jwt
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.logs import FORMAT, RequestIdFilter, configure_logging
from models.history import IncidentEvent
from tests.conftest import TEST_SECRET
from tests.fixtures import ADD, add_incident, directory
from tests.graphql import Api

# Client-side chatter of the test's own HTTP client, not lines of the server.
CLIENT_LOGGERS = ("httpx", "httpcore")
DESCRIPTION = "Shared worries about home; marker-77c1 in the text"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.setFormatter(logging.Formatter(FORMAT))
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)  # fills exc_text, so tracebacks are searched too
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(record) for record in self.records)


@pytest.fixture
def log_lines() -> Iterator[_Collect]:
    """Everything logged at any level while the test runs, as configured at
    process start (RequestIdFilter on the handler)."""
    root = logging.getLogger()
    handler, level = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# -- history ------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE incident_events SET bulk = true",
        "UPDATE incident_events SET actor_id = NULL",
        "DELETE FROM incident_events",
        "TRUNCATE incident_events CASCADE",
    ],
)
async def test_history_refuses_change_in_sql(
    api: Api, db: AsyncEngine, statement: str
) -> None:
    await add_incident(api, "teacher@primary.example")
    count = select(func.count()).select_from(IncidentEvent)
    async with db.connect() as conn:
        before = (await conn.execute(select(IncidentEvent.__table__))).all()
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.begin() as conn:
            await conn.execute(text(statement))
    async with db.connect() as conn:
        assert (await conn.execute(select(IncidentEvent.__table__))).all() == before
        assert await conn.scalar(count) == 1


# -- logs -----------------------------------------------------------------------


async def test_tokens_and_secret_never_reach_the_log(
    api: Api, log_lines: _Collect
) -> None:
    good = await api.token("dsl@primary.example")
    forged = jwt.encode({"sub": "1"}, "not-the-secret-but-long-enough-0000000", "HS256")
    expired = _expired_token(await api.ids("dsl@primary.example"))
    query = "{ viewer { user { id } } students(search: $s) { totalCount } }"
    for token in (good, forged, expired, "garbage." + good):
        await api.post(
            {"query": "query ($s: String) " + query, "variables": {"s": token}},
            {"Authorization": f"Bearer {token}"},
        )
    logged = log_lines.text()
    assert log_lines.records, "nothing was logged; the test would prove nothing"
    for secret in (good, forged, expired, TEST_SECRET, good.split(".")[2]):
        assert secret not in logged


async def test_incident_text_and_emails_never_reach_the_log(
    api: Api, log_lines: _Collect
) -> None:
    ids = await directory(api)
    incident = {
        "studentIds": ids["students"][:1],
        "categoryIds": ids["categories"][:1],
        "description": DESCRIPTION,
        "occurredAt": "2026-11-20T10:15:00+00:00",
    }
    added = await api.as_user("dsl@primary.example", ADD, {"input": incident})
    assert added.data["addIncident"]["incident"]["number"] == 1
    # A refused document quoting the text inline must not be logged either.
    typo = (
        'mutation { addIncident(input: {descripton: "' + DESCRIPTION + '"}) '
        "{ incident { id } } }"
    )
    refused = await api.as_user("dsl@primary.example", typo)
    assert refused.code == "BAD_USER_INPUT"
    logged = log_lines.text()
    assert any("added by user" in record.getMessage() for record in log_lines.records)
    assert "marker-77c1" not in logged
    assert "@primary.example" not in logged


async def test_every_line_of_a_request_carries_its_id(
    api: Api, log_lines: _Collect
) -> None:
    await directory(api)
    log_lines.records.clear()
    ids = await directory(api)
    log_lines.records.clear()
    incident = {
        "studentIds": ids["students"][:1],
        "categoryIds": ids["categories"][:1],
        "description": DESCRIPTION,
        "occurredAt": "2026-11-20T10:15:00+00:00",
        "assignedToId": None,
    }
    token = await api.token("dsl@primary.example")
    response = await api.client.post(
        "/graphql",
        json={"query": ADD, "variables": {"input": incident}},
        headers={"authorization": f"Bearer {token}"},
    )
    request_id = response.headers["x-request-id"]
    server_lines = [
        record
        for record in log_lines.records
        if not record.name.startswith(CLIENT_LOGGERS)
    ]
    assert any(record.name == "resolvers.add_incident" for record in server_lines)
    assert {record.request_id for record in server_lines} == {request_id}  # type: ignore[attr-defined]


def _expired_token(ids: tuple[int, int]) -> str:
    past_s = int(time.time()) - 3600
    claims = {
        "sub": str(ids[0]),
        "school": str(ids[1]),
        "iat": past_s - 60,
        "exp": past_s,
    }
    return jwt.encode(claims, TEST_SECRET, "HS256")


def test_configured_log_withholds_exception_messages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # arq logs a failed job as "<class>: <exception>" with the traceback; the
    # exception's message can quote an address or a child's name.
    pupil = "Pupil-marker-9d2b"
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        try:
            int(pupil)
        except ValueError as error:
            logging.getLogger("arq.worker").exception(
                "%6.2fs ! %s failed, %s: %s", 0.5, "job", "ValueError", error
            )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    logged = capsys.readouterr().err
    assert "! job failed, ValueError: ValueError [message withheld]" in logged
    assert "Traceback (most recent call last)" in logged
    assert " [-] " in logged
    assert pupil not in logged

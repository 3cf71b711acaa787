"""Errors: every refusal carries a code, hostile requests never reach a 5xx, and
unexpected failures are masked for the client and logged in full under the
request id."""

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import ParserCache

from cases.db import make_engine
from cases.graphql_view import CasesGraphQL
from cases.middleware import RequestContext
from cases.settings import Settings
from schema import schema
from schema.build import CasesSchema
from schema.errors import MASKED_MESSAGE, ErrorCodes
from schema.query import Query
from tests.fixtures import ADD, directory
from tests.graphql import Api

VIEWER = "{ viewer { user { email } } }"
CLIENT_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "MODULE_DISABLED",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
}
# Odd but valid: Strawberry runs the first of several unnamed-by-the-request
# operations, and __typename is allowed on the mutation root.
VALID_ODDITIES = [
    "query A { viewer { user { id } } } query B { viewer { user { id } } }",
    "mutation { __typename }",
]
# What would betray the code behind the API if it reached a client.
INTERNALS = (
    "Traceback",
    'File "',
    ".py",
    "site-packages",
    "sqlalchemy",
    "asyncpg",
    "[SQL",
    "SELECT ",
    "INSERT ",
    " object at 0x",
)


def assert_nothing_internal(response: httpx.Response) -> None:
    """A coded JSON answer below 500 that quotes nothing of the server."""
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    for marker in INTERNALS:
        assert marker not in response.text, response.text
    for error in response.json().get("errors") or []:
        assert error["extensions"]["code"] in CLIENT_CODES, error


async def _raw(
    api: Api, body: bytes, content_type: str = "application/json", **headers: str
) -> httpx.Response:
    token = await api.token("dsl@primary.example")
    headers = {
        "content-type": content_type,
        "authorization": f"Bearer {token}",
        **headers,
    }
    return await api.client.post("/graphql", content=body, headers=headers)


async def test_syntax_errors_are_coded_every_time(api: Api) -> None:
    # The second time the parser cache has seen the document; both must match.
    answers = [await api.as_user("dsl@primary.example", "{ viewer {") for _ in "ab"]
    for answer in answers:
        assert answer.code == "GRAPHQL_PARSE_FAILED"
        assert answer.error["message"].startswith("Syntax Error")
        assert answer.body["data"] is None
    assert answers[0].body == answers[1].body


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { user { id }",
        "query { viewer } }",
        '{ students(search: "unterminated) { totalCount } }',
        "{ \u0000 }",
        "{ viewer { ...Missing } }",
        "query ($a: Int) { viewer { user { id } } }",
        "query A { viewer { user { id } } } query A { viewer { user { id } } }",
        *VALID_ODDITIES,
        "fragment F on Query { ...G } fragment G on Query { ...F } { ...F }",
        "subscription { viewer { user { id } } }",
        "{ nope }",
        '{ students(first: "ten") { totalCount } }',
        "{ students(first: 99999999999) { totalCount } }",
        "{ __type(name: 1) { name } }",
    ],
)
async def test_bad_documents_are_coded_client_errors(api: Api, query: str) -> None:
    response = await _raw(api, _json({"query": query}))
    assert_nothing_internal(response)
    assert response.status_code in (200, 400)
    if response.status_code == 200 and "errors" not in response.json():
        assert query in VALID_ODDITIES


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", "application/json"),
        (b"\xff\xfe\x00{", "application/json"),
        (b"", "application/json"),
        (b"null", "application/json"),
        (b'"{ viewer { user { id } } }"', "application/json"),
        (b"[]", "application/json"),
        (b'[{"query": "{ __typename }"}]', "application/json"),
        (b"{}", "application/json"),
        (b'{"query": ""}', "application/json"),
        (b'{"query": 123}', "application/json"),
        (b'{"query": "{ __typename }", "variables": []}', "application/json"),
        (b'{"query": "{ __typename }", "variables": "x"}', "application/json"),
        (b'{"query": "{ __typename }", "extensions": 1}', "application/json"),
        (b'{"query": "{ __typename }", "operationName": {"a": 1}}', "application/json"),
        (b'{"query": "{ __typename }", "operationName": "Nope"}', "application/json"),
        (b'{"query": "{ __typename }"}', "text/plain"),
        (b'{"query": "{ __typename }"}', "multipart/form-data; boundary=x"),
        (b'{"query": "{ __typename }"}', "application/x-www-form-urlencoded"),
        (
            b'{"variables": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
            "application/json",
        ),
        (b'{"query": "{ __typename }", "variables": {"a": 1e999}}', "application/json"),
    ],
)
async def test_hostile_bodies_get_coded_4xx(
    api: Api, body: bytes, content_type: str
) -> None:
    response = await _raw(api, body, content_type)
    assert_nothing_internal(response)
    assert 400 <= response.status_code < 500
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "variables",
    [
        {"first": "ten"},
        {"first": None},
        {"first": 1.5},
        {"first": [1]},
        {"first": {"$gt": 1}},
        {},
        {"first": 10, "extra": "x" * 10_000},
    ],
)
async def test_wrong_variables_are_bad_user_input(
    api: Api, variables: dict[str, Any]
) -> None:
    query = "query ($first: Int!) { students(first: $first) { totalCount } }"
    response = await _raw(api, _json({"query": query, "variables": variables}))
    assert_nothing_internal(response)
    if "extra" in variables:
        assert response.json()["data"]["students"]["totalCount"] > 0
    else:
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "accept",
    ["text/event-stream", "multipart/mixed", "application/graphql-response+json"],
)
async def test_other_transports_stay_coded(api: Api, accept: str) -> None:
    response = await _raw(api, _json({"query": "{ viewer {"}), accept=accept)
    assert response.status_code < 500
    for marker in INTERNALS:
        assert marker not in response.text
    assert "GRAPHQL_PARSE_FAILED" in response.text or response.status_code >= 400


async def test_view_codes_errors_whatever_the_extensions(settings: Settings) -> None:
    # Strawberry's own ParserCache raises syntax errors past ErrorCodes; the
    # view's last pass must still code them.
    unguarded = strawberry.Schema(
        query=Query,
        extensions=[ErrorCodes, lambda: ParserCache(maxsize=8)],
    )
    async with _view_client(settings, unguarded) as (_, app):
        response = await app.post("/graphql", json={"query": "{ viewer {"})
    assert_nothing_internal(response)
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


PUPIL = "Pupil-marker-5c1e"


@strawberry.type
class _Failing:
    @strawberry.field
    def pupil(self) -> int:
        return int(PUPIL)


async def test_unexpected_error_messages_stay_out_of_the_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # A message can quote the value that caused it: a child's name, a line of
    # an incident. The log keeps the type and the frames only.
    failing = CasesSchema(query=_Failing, extensions=[ErrorCodes])
    async with _view_client(settings, failing) as (_, app):
        with caplog.at_level(logging.ERROR, logger="schema.errors"):
            response = await app.post("/graphql", json={"query": "{ pupil }"})
    error = response.json()["errors"][0]
    assert error["message"] == MASKED_MESSAGE
    logged = caplog.text
    assert error["extensions"]["requestId"] in logged
    assert "ValueError: [message withheld]" in logged
    assert PUPIL not in logged
    assert PUPIL not in response.text


async def test_other_methods_are_refused(api: Api) -> None:
    response = await api.client.put("/graphql", json={"query": VIEWER})
    assert response.status_code == 405


async def test_huge_authorization_header_is_unauthenticated(api: Api) -> None:
    headers = {"authorization": "Bearer " + "a" * 6000}
    answer = await api.post({"query": VIEWER}, headers)
    assert answer.code == "UNAUTHENTICATED"


async def test_failure_inside_a_resolver_is_masked_and_logged(
    api: Api, db: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await directory(api)
    marker = "marker-3f9a-never-in-logs"
    incident = {
        "studentIds": ids["students"][:1],
        "categoryIds": ids["categories"][:1],
        "description": f"Upset at lunch; {marker}",
        "occurredAt": "2026-11-20T10:15:00+00:00",
    }
    # A real failure of the database, as a broken deployment would produce one.
    async with db.begin() as conn:
        await conn.execute(
            text(
                "ALTER TABLE incidents ADD CONSTRAINT test_refuses_marker"
                f" CHECK (description NOT LIKE '%{marker}%') NOT VALID"
            )
        )
    try:
        with caplog.at_level(logging.ERROR, logger="schema.errors"):
            answer = await api.as_user("dsl@primary.example", ADD, {"input": incident})
    finally:
        async with db.begin() as conn:
            await conn.execute(
                text("ALTER TABLE incidents DROP CONSTRAINT test_refuses_marker")
            )
    error = answer.error
    request_id = error["extensions"]["requestId"]
    assert error["message"] == MASKED_MESSAGE
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == ["addIncident"]
    assert len(request_id) == 32
    assert not any(marker in str(value) for value in answer.body.values())
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert len(logged) == 1
    assert "IntegrityError" in logged[0].getMessage()
    assert "constraint_name=test_refuses_marker" in logged[0].getMessage()
    assert marker not in caplog.text


async def test_database_outage_before_execution_is_masked(
    api: Api, db: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await api.as_user("dsl@primary.example", VIEWER)
    async with db.begin() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'cases'"
            )
        )
    with caplog.at_level(logging.ERROR, logger="cases.graphql_view"):
        token = await api.token("dsl@primary.example")
        response = await api.client.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"authorization": f"Bearer {token}"},
        )
    recovered = await api.as_user("dsl@primary.example", VIEWER)
    assert response.status_code == 500
    error = response.json()["errors"][0]
    assert error["message"] == MASKED_MESSAGE
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    for marker in INTERNALS:
        assert marker not in response.text
    assert response.headers["x-request-id"] in caplog.text
    assert recovered.data["viewer"]["user"]["email"] == "dsl@primary.example"


@contextlib.asynccontextmanager
async def _view_client(
    settings: Settings, built: strawberry.Schema
) -> AsyncIterator[tuple[CasesGraphQL, httpx.AsyncClient]]:
    """The GraphQL view over `built` alone, without Redis, and a client of it."""
    engine = make_engine(settings, pool_size=1)
    view = CasesGraphQL(settings, engine, None, schema=built)
    transport = httpx.ASGITransport(app=RequestContext(view))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as app:
            yield view, app
    finally:
        await engine.dispose()


def _json(value: object) -> bytes:
    return orjson.dumps(value)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query ($s: String) { students(search: $s) { totalCount } }", {"s": "a\0b"}),
        ('{ students(search: "a\\u0000b") { totalCount } }', {}),
        ('{ students(search: "a\\u{0}b") { totalCount } }', {}),
        (
            "query ($s: String) { incidents(filter: {containing: $s}) { totalCount } }",
            {"s": "\0"},
        ),
    ],
)
async def test_nul_characters_are_bad_user_input(
    api: Api, query: str, variables: dict[str, Any]
) -> None:
    response = await _raw(api, _json({"query": query, "variables": variables}))
    assert_nothing_internal(response)
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_nul_in_a_description_stores_nothing(api: Api, db: AsyncEngine) -> None:
    ids = await directory(api)
    incident = {
        "studentIds": ids["students"][:1],
        "categoryIds": ids["categories"][:1],
        "description": "Upset\0 at lunch.",
        "occurredAt": "2026-11-20T10:15:00+00:00",
    }
    response = await _raw(api, _json({"query": ADD, "variables": {"input": incident}}))
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    async with db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM incidents")) == 0


async def test_documents_are_compiled_only_for_a_valid_token(
    api: Api, settings: Settings
) -> None:
    # An anonymous client must not get documents parsed, validated and
    # cached on its behalf, evicting the hot documents of real users.
    token = await api.token("dsl@primary.example")
    async with _view_client(settings, schema) as (view, app):
        assert view.compiler is not None
        for authorization in (None, "Bearer not-a-token"):
            headers = {"authorization": authorization} if authorization else {}
            anonymous = await app.post(
                "/graphql", json={"query": VIEWER}, headers=headers
            )
            assert anonymous.json()["errors"][0]["extensions"]["code"] == (
                "UNAUTHENTICATED"
            )
        assert view.compiler.cached_documents == 0
        answer = await app.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"authorization": f"Bearer {token}"},
        )
    assert answer.json()["data"]["viewer"]["user"]["email"] == "dsl@primary.example"
    assert view.compiler.cached_documents == 1

"""Limits: document size and shape, page sizes, body size, the per-user rate
limit, introspection and GraphiQL by environment, CORS and security headers."""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from strawberry.extensions import parser_cache, validation_cache

from cases.settings import Settings
from models import clock
from schema.build import DOCUMENT_CACHE_SIZE
from tests.graphql import Answer, Api
from tests.servers import free_port, serving

VIEWER = "{ viewer { user { email } } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
SPA = "https://spa.example"


def _variant(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


async def _post(
    client: httpx.AsyncClient, api: Api, email: str | None, query: str = VIEWER
) -> httpx.Response:
    headers = {}
    if email is not None:
        headers["Authorization"] = f"Bearer {await api.token(email)}"
    return await client.post("/graphql", json={"query": query}, headers=headers)


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


def _messages(answer: Answer) -> str:
    return " ".join(error["message"] for error in answer.body.get("errors", []))


# -- document shape ---------------------------------------------------------


async def test_deepest_real_query_is_within_the_depth_limit(api: Api) -> None:
    query = """{ incidents { edges { node {
        history { actor { name } }
        students { monitoredCategories { name } } } } } }"""
    assert "incidents" in (await api.as_user("dsl@primary.example", query)).data


async def test_too_deep_query_is_refused_before_running(api: Api) -> None:
    query = "{" + " viewer {" * 13 + " id" + " }" * 14
    answer = await api.as_user("dsl@primary.example", query)
    assert answer.body["data"] is None
    assert "exceeds maximum operation depth of 12" in _messages(answer)
    assert {e["extensions"]["code"] for e in answer.body["errors"]} == {
        "GRAPHQL_VALIDATION_FAILED"
    }


async def test_too_many_tokens_is_a_parse_error(api: Api) -> None:
    query = "{ viewer { user { " + "id " * 2001 + "} } }"
    answer = await api.as_user("dsl@primary.example", query)
    assert answer.code == "GRAPHQL_PARSE_FAILED"
    assert "more than 2000 tokens" in answer.error["message"]


@pytest.mark.parametrize(("aliases", "refused"), [(30, False), (31, True)])
async def test_alias_limit(api: Api, aliases: int, refused: bool) -> None:
    fields = " ".join(f"c{n}: categories {{ id }}" for n in range(aliases))
    answer = await api.as_user("dsl@primary.example", "{ " + fields + " }")
    if refused:
        assert answer.code == "GRAPHQL_VALIDATION_FAILED"
        assert answer.body["data"] is None
    else:
        assert len(answer.data) == aliases


@pytest.mark.parametrize("first", [0, -1, 101, 2**31])
@pytest.mark.parametrize(
    "field",
    [
        "incidents(first: $first) { totalCount }",
        "students(first: $first) { totalCount }",
        "viewer { myAssigned(first: $first) { totalCount } }",
    ],
)
async def test_page_size_outside_1_to_100_is_refused(
    api: Api, field: str, first: int
) -> None:
    query = "query ($first: Int!) { " + field + " }"
    answer = await api.as_user("dsl@primary.example", query, {"first": first})
    assert answer.code == "BAD_USER_INPUT"


async def test_page_of_100_is_allowed(api: Api) -> None:
    query = "{ students(first: 100) { nodes { id } } }"
    nodes = (await api.as_user("dsl@primary.example", query)).data["students"]
    assert 0 < len(nodes["nodes"]) <= 100


async def test_document_caches_are_bounded_and_hit(api: Api) -> None:
    # Strawberry keeps both caches at module level, shared by every request.
    parse_cache: Any = parser_cache._get_parse_cache(DOCUMENT_CACHE_SIZE)
    validate_cache: Any = validation_cache._get_validate_cache(DOCUMENT_CACHE_SIZE)
    query = "{ categories { id name } keyUsers { id } }"
    await api.as_user("dsl@primary.example", query)
    parsed, validated = parse_cache.cache_info(), validate_cache.cache_info()
    await api.as_user("dsl@primary.example", query)
    assert parse_cache.cache_info().hits == parsed.hits + 1
    assert validate_cache.cache_info().hits == validated.hits + 1
    assert parsed.maxsize == validated.maxsize == DOCUMENT_CACHE_SIZE


# -- request body -----------------------------------------------------------


async def test_declared_oversized_body_is_refused(api: Api) -> None:
    limit = api.settings.max_body_bytes
    body = b'{"query": "{ viewer { user { id } } }", "x": "' + b"a" * limit + b'"}'
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _code(response) == "BAD_USER_INPUT"


async def test_streamed_oversized_body_is_refused(api: Api) -> None:
    limit = api.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ viewer { user { id } } }", "x": "'
        for _ in range(limit // 8192 + 2):
            yield b"a" * 8192
        yield b'"}'

    response = await api.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert _code(response) == "BAD_USER_INPUT"


# -- rate limit -------------------------------------------------------------


async def test_rate_limit_refuses_with_retry_after(
    api: Api, settings: Settings
) -> None:
    clock.freeze(datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC))
    async with serving(_variant(settings, rate_limit_per_minute=3)) as client:
        for _ in range(3):
            assert (await _post(client, api, "dsl@primary.example")).status_code == 200
        refused = await _post(client, api, "dsl@primary.example")
        other_user = await _post(client, api, "teacher@primary.example")
        clock.freeze(datetime(2026, 11, 20, 10, 1, 0, tzinfo=UTC))
        next_minute = await _post(client, api, "dsl@primary.example")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "RATE_LIMITED",
        "retryAfterS": 30,
    }
    assert refused.headers["x-request-id"]
    assert other_user.status_code == 200
    assert next_minute.status_code == 200


async def test_rate_limit_holds_across_api_processes(
    api: Api, settings: Settings
) -> None:
    clock.freeze(datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC))
    limited = _variant(settings, rate_limit_per_minute=2)
    async with serving(limited) as first, serving(limited) as second:
        assert (await _post(first, api, "dsl@primary.example")).status_code == 200
        assert (await _post(second, api, "dsl@primary.example")).status_code == 200
        refused = await _post(first, api, "dsl@primary.example")
    assert refused.status_code == 429


async def test_rate_limit_leases_never_exceed_budget_across_processes(
    api: Api, settings: Settings
) -> None:
    clock.freeze(datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC))
    limited = _variant(settings, rate_limit_per_minute=100)  # leases of 2
    admitted = 0
    async with serving(limited) as first, serving(limited) as second:
        for _ in range(60):
            for client in (first, second):
                answer = await _post(client, api, "dsl@primary.example")
                admitted += answer.status_code == 200
    redis = Redis.from_url(settings.redis_url)  # type: ignore[arg-type]
    try:
        keys = await redis.keys("cases:rate:*")
        reserved = [int(await redis.get(key) or 0) for key in keys]
    finally:
        await redis.aclose()
    # Each process may strand at most one unused lease when the budget runs out.
    assert 100 - 2 <= admitted <= 100
    # A round trip reserves 2: 50 leases admitted the 100 and each of the 20
    # refusals asked again, about 70 round trips for 120 requests, not 120.
    assert len(reserved) == 1 and 100 <= reserved[0] <= 150


async def test_rate_limit_fails_open_without_redis(
    api: Api, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    variant = _variant(settings, rate_limit_per_minute=1, redis_url=dead_redis)
    caplog.set_level(logging.WARNING, logger="cases.ratelimit")
    async with serving(variant) as client:
        answers = [await _post(client, api, "dsl@primary.example") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert all("errors" not in answer.json() for answer in answers)
    warnings = [r for r in caplog.records if r.name == "cases.ratelimit"]
    assert len(warnings) == 1
    assert "redis unreachable" in warnings[0].getMessage()


# -- introspection, GraphiQL, GET -------------------------------------------


async def test_development_allows_introspection_and_graphiql(api: Api) -> None:
    answer = await api.as_user(None, INTROSPECTION)
    assert answer.data["__schema"]["queryType"]["name"] == "Query"
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


async def test_production_refuses_introspection_and_graphiql(
    api: Api, settings: Settings
) -> None:
    production = _variant(settings, environment="production")
    async with serving(production) as client:
        answer = await _post(client, api, "admin@primary.example", INTROSPECTION)
        typename = await _post(client, api, "admin@primary.example", "{ __typename }")
        page = await client.get("/graphql", headers={"accept": "text/html"})
    assert answer.json()["data"] is None
    assert _code(answer) == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection has been disabled" in answer.json()["errors"][0]["message"]
    assert typename.json()["data"] == {"__typename": "Query"}
    assert page.status_code == 404
    assert "text/html" not in page.headers["content-type"]


async def test_production_setting_can_turn_introspection_on(
    api: Api, settings: Settings
) -> None:
    production = _variant(settings, environment="production", graphiql=True)
    async with serving(production) as client:
        answer = await _post(client, api, "admin@primary.example", INTROSPECTION)
        page = await client.get("/graphql", headers={"accept": "text/html"})
    assert answer.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert page.status_code == 200


async def test_queries_over_get_are_refused(api: Api) -> None:
    token = await api.token("dsl@primary.example")
    response = await api.client.get(
        "/graphql",
        params={"query": VIEWER},
        headers={"authorization": f"Bearer {token}", "accept": "application/json"},
    )
    assert response.status_code == 400
    assert _code(response) == "BAD_USER_INPUT"


# -- CORS and headers ---------------------------------------------------------


async def test_cors_allows_only_configured_origins(
    api: Api, settings: Settings
) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    async with serving(_variant(settings, cors_origins=[SPA])) as client:
        allowed = await client.options("/graphql", headers={**preflight, "origin": SPA})
        foreign = await client.options(
            "/graphql", headers={**preflight, "origin": "https://evil.example"}
        )
        simple = await client.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"origin": "https://evil.example"},
        )
        limited = await client.post(
            "/graphql",
            content=b"x" * (settings.max_body_bytes + 1),
            headers={"origin": SPA, "content-type": "application/json"},
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SPA
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    assert "access-control-allow-origin" not in simple.headers
    assert limited.status_code == 413
    assert limited.headers["access-control-allow-origin"] == SPA
    exposed = limited.headers["access-control-expose-headers"].lower()
    assert "retry-after" in exposed and "x-request-id" in exposed


async def test_security_headers_on_every_answer(api: Api) -> None:
    answer = await api.client.post("/graphql", json={"query": VIEWER})
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    health = await api.client.get("/healthz")
    for response in (answer, page, health):
        assert len(response.headers["x-request-id"]) == 32
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert "max-age" in response.headers["strict-transport-security"]
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert "content-security-policy" not in page.headers


async def test_each_request_gets_its_own_id(api: Api) -> None:
    ids = set()
    for _ in range(3):
        response = await api.client.post(
            "/graphql", json={"query": VIEWER}, headers={"x-request-id": "chosen"}
        )
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 3
    assert "chosen" not in ids

"""Fuzzing: schemathesis generates GraphQL operations from the schema, valid and
invalid, and they are sent to the running app with a valid token. No answer may
be a 5xx, and no error may reach the client without a code or unmasked.

The CI run is bounded (FUZZ_EXAMPLES per mode, 300 by default: well under a
minute). A longer run, e.g. ten thousand operations of each kind:

    CASES_FUZZ_EXAMPLES=10000 pytest -q tests/test_security_fuzz.py
"""

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, event, given, settings
from schemathesis import GenerationMode
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import schema as cases_schema
from schema.errors import MASKED_MESSAGE
from tests.conftest import _clear_cases
from tests.graphql import Api
from tests.test_security_errors import CLIENT_CODES, INTERNALS

FUZZ_EXAMPLES = int(os.environ.get("CASES_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OPERATIONS = schemathesis.graphql.from_file(cases_schema.as_str())
# An Admin may call every operation, so refusals by role do not hide the rest.
FUZZER = "admin@primary.example"


@pytest.fixture(autouse=True)
async def directory_restored(db: AsyncEngine) -> AsyncIterator[None]:
    """The Admin's generated mutations may add categories and change roles,
    which the per-test clean slate keeps; put them back for the tests after."""
    async with db.connect() as conn:
        last_category = await conn.scalar(text("SELECT max(id) FROM categories"))
        roles = (
            await conn.execute(text("SELECT user_id, school_id, role FROM memberships"))
        ).all()
    yield
    async with db.begin() as conn:
        await _clear_cases(conn)
        await conn.execute(
            text("DELETE FROM categories WHERE id > :last"), {"last": last_category}
        )
        for user_id, school_id, role in roles:
            await conn.execute(
                text(
                    "UPDATE memberships SET role = :role"
                    " WHERE user_id = :user AND school_id = :school"
                ),
                {"role": role, "user": user_id, "school": school_id},
            )


async def _send(api: Api, case: Any) -> httpx.Response:
    body = case.as_transport_kwargs(base_url=str(api.client.base_url))["json"]
    token = await api.token(FUZZER)
    return await api.client.post(
        "/graphql", json=body, headers={"authorization": f"Bearer {token}"}
    )


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    for marker in INTERNALS:
        assert marker not in response.text, response.text
    errors = response.json().get("errors") or []
    for error in errors:
        code = error["extensions"]["code"]
        event(f"answered {code}")
        if code == "INTERNAL_SERVER_ERROR":
            assert error["message"] == MASKED_MESSAGE
            assert error["extensions"]["requestId"]
        else:
            assert code in CLIENT_CODES, error
    if not errors:
        event("answered with data")


@FUZZ
@given(case=OPERATIONS.as_strategy(generation_mode=GenerationMode.POSITIVE))
async def test_generated_valid_operations(api: Api, case: Any) -> None:
    response = await _send(api, case)
    _check(response)
    assert "INTERNAL_SERVER_ERROR" not in response.text, response.text


@FUZZ
@given(case=OPERATIONS.as_strategy(generation_mode=GenerationMode.NEGATIVE))
async def test_generated_invalid_operations(api: Api, case: Any) -> None:
    response = await _send(api, case)
    _check(response)
    assert "INTERNAL_SERVER_ERROR" not in response.text, response.text

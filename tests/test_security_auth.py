"""Every kind of bad bearer token is UNAUTHENTICATED, and changes nothing."""

import asyncio
import base64
import json
import time
from typing import Any

import jwt
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.settings import DEV_SECRET_KEY, Settings
from models.incident import Incident
from tests.conftest import TEST_SECRET
from tests.fixtures import ADD, directory
from tests.graphql import Api

VIEWER = "{ viewer { user { email } school { name } } }"
TEACHER = "teacher@primary.example"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join(_b64(part) for part in parts) + "."


async def _claims(api: Api, **changes: Any) -> dict[str, Any]:
    user_id, school_id = await api.ids(TEACHER)
    now_s = int(time.time())
    claims = {
        "sub": str(user_id),
        "school": str(school_id),
        "iat": now_s,
        "nbf": now_s,
        "exp": now_s + 600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


async def _as_token(api: Api, token: str, query: str = VIEWER, **variables: Any):
    body = {"query": query, "variables": variables}
    return await api.post(body, {"Authorization": f"Bearer {token}"})


def _signed(claims: dict[str, Any], key: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


async def test_valid_token_is_accepted(api: Api) -> None:
    answer = await _as_token(api, _signed(await _claims(api)))
    assert answer.data["viewer"]["user"]["email"] == TEACHER


async def test_alg_none_is_refused(api: Api) -> None:
    token = _unsigned({"alg": "none", "typ": "JWT"}, await _claims(api))
    assert (await _as_token(api, token)).code == "UNAUTHENTICATED"


# The suite's key is short for SHA-512; the point is only that HS512 is refused.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_hs512_with_the_right_key_is_refused(api: Api) -> None:
    token = _signed(await _claims(api), alg="HS512")
    assert (await _as_token(api, token)).code == "UNAUTHENTICATED"


async def test_rs256_header_over_an_hmac_signature_is_refused(api: Api) -> None:
    honest = _signed(await _claims(api)).split(".")
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    token = ".".join([header, honest[1], honest[2]])
    assert (await _as_token(api, token)).code == "UNAUTHENTICATED"


async def test_another_key_is_refused(api: Api) -> None:
    token = _signed(await _claims(api), key="another-secret-of-the-same-length-000000")
    assert (await _as_token(api, token)).code == "UNAUTHENTICATED"


async def test_expired_token_is_refused(api: Api) -> None:
    past_s = int(time.time()) - 3600
    claims = await _claims(api, iat=past_s - 60, nbf=past_s - 60, exp=past_s)
    assert (await _as_token(api, _signed(claims))).code == "UNAUTHENTICATED"


async def test_token_accepted_before_is_refused_once_expired(api: Api) -> None:
    # The app remembers tokens it verified; their expiry still holds.
    now_s = int(time.time())
    token = _signed(await _claims(api, iat=now_s - 1, nbf=now_s - 1, exp=now_s + 2))
    # The first document is a compiled read; keyUsers sends the second through
    # Strawberry.
    documents = (VIEWER, "{ viewer { user { id } } keyUsers { id } }")
    for query in documents:
        answer = await _as_token(api, token, query)
        assert answer.data["viewer"]["user"], answer.body
    await asyncio.sleep(now_s + 2.1 - time.time())
    for query in documents:
        expired = await _as_token(api, token, query)
        assert expired.code == "UNAUTHENTICATED"
        assert expired.error["message"] == "The token has expired"


async def test_token_not_yet_valid_is_refused(api: Api) -> None:
    claims = await _claims(api, nbf=int(time.time()) + 3600)
    assert (await _as_token(api, _signed(claims))).code == "UNAUTHENTICATED"


@pytest.mark.parametrize("missing", ["sub", "school", "exp", "iat"])
async def test_token_missing_a_claim_is_refused(api: Api, missing: str) -> None:
    claims = await _claims(api, **{missing: None})
    assert missing not in claims
    assert (await _as_token(api, _signed(claims))).code == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "changes",
    [{"sub": "987654321"}, {"school": "987654321"}, {"sub": "abc"}, {"sub": 7}],
    ids=["no-such-user", "no-such-school", "non-numeric-sub", "integer-sub"],
)
async def test_token_naming_nobody_is_refused(
    api: Api, changes: dict[str, Any]
) -> None:
    claims = await _claims(api, **changes)
    assert (await _as_token(api, _signed(claims))).code == "UNAUTHENTICATED"


async def test_member_of_one_school_claiming_another_is_refused(api: Api) -> None:
    _, academy_id = await api.ids("admin@academy.example", "Demo Academy")
    claims = await _claims(api, school=str(academy_id))
    assert (await _as_token(api, _signed(claims))).code == "UNAUTHENTICATED"


async def test_removed_membership_is_refused_at_once(api: Api, db: AsyncEngine) -> None:
    token = _signed(await _claims(api))
    assert (await _as_token(api, token)).data["viewer"]
    user_id, school_id = await api.ids(TEACHER)
    async with db.begin() as conn:
        await conn.execute(
            text(
                "UPDATE memberships SET removed_at = now()"
                " WHERE user_id = :u AND school_id = :s"
            ),
            {"u": user_id, "s": school_id},
        )
    assert (await _as_token(api, token)).code == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "header", ["Basic dGVhY2hlcjpwdw==", "Bearer", "Bearer not.a.jwt", "Bearer ..."]
)
async def test_malformed_authorization_is_unauthenticated(
    api: Api, header: str
) -> None:
    answer = await api.post({"query": VIEWER}, {"Authorization": header})
    assert answer.code == "UNAUTHENTICATED"
    assert answer.body["data"] is None


async def test_refused_token_adds_no_incident(api: Api, db: AsyncEngine) -> None:
    ids = await directory(api)
    incident = {
        "studentIds": ids["students"][:1],
        "categoryIds": ids["categories"][:1],
        "description": "Upset at lunch.",
        "occurredAt": "2026-11-20T10:15:00+00:00",
    }
    token = _signed(await _claims(api), key="another-secret-of-the-same-length-000000")
    answer = await _as_token(api, token, ADD, input=incident)
    assert answer.code == "UNAUTHENTICATED"
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Incident)) == 0


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            secret_key=SecretStr(DEV_SECRET_KEY),
        )


def test_production_refusal_does_not_quote_the_secret() -> None:
    short = "short-but-real-secret"
    with pytest.raises(ValidationError) as refused:
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            secret_key=SecretStr(short),
        )
    assert short not in str(refused.value)


def test_production_refuses_any_origin() -> None:
    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            secret_key=SecretStr("k" * 40),
            cors_origins=["*"],
        )


def test_settings_repr_hides_the_secret() -> None:
    settings = Settings(_env_file=None, secret_key=SecretStr(TEST_SECRET))  # type: ignore[call-arg]
    assert TEST_SECRET not in repr(settings)

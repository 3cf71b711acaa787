"""Bearer tokens: HS256 JWTs naming a user and a school, with an expiry.

The token only says who claims to be asking; the membership behind it is read
from the database on every request, so a removed member is refused at once.
"""

import time

import jwt
from sqlalchemy import func, select

from cases.db import make_engine
from cases.settings import Settings
from models.school import Membership, School, User

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "school", "exp", "iat"]


class TokenError(Exception):
    """A token that cannot be issued or accepted; the message is safe to show."""


def issue_token(
    settings: Settings, user_id: int, school_id: int, *, ttl_s: int | None = None
) -> str:
    now_s = int(time.time())
    claims = {
        "sub": str(user_id),
        "school": str(school_id),
        "iat": now_s,
        "nbf": now_s,
        "exp": now_s + (ttl_s if ttl_s is not None else settings.token_ttl_s),
    }
    return jwt.encode(
        claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM
    )


def _verified(settings: Settings, token: str) -> tuple[int, int, float]:
    """The user id, school id and expiry (epoch seconds) of a valid token."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS},
        )
        return int(claims["sub"]), int(claims["school"]), float(claims["exp"])
    except jwt.ExpiredSignatureError:
        raise TokenError("The token has expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError):
        raise TokenError("The token is not valid") from None


class TokenReader:
    """(user id, school id) from valid tokens, else TokenError; one per app,
    remembering the tokens it has verified.

    A client sends the same token with every request, and verifying it (an
    HMAC and two JSON parses) was a tenth of a compiled read's Python time. A
    token's signature and claims cannot change, and its issued-at and
    not-before times only fall further into the past, so a token verified once
    needs only its expiry checked again. The membership behind it is still read
    on every request.
    """

    def __init__(self, settings: Settings, max_tokens: int = 4096) -> None:
        self._settings = settings
        self._max_tokens = max_tokens
        self._known: dict[str, tuple[int, int, float]] = {}

    def read(self, token: str) -> tuple[int, int]:
        known = self._known.get(token)
        if known is None:
            known = _verified(self._settings, token)
            if len(self._known) >= self._max_tokens:
                self._known.clear()
            self._known[token] = known
        user_id, school_id, expires_s = known
        # As PyJWT decides it: expired once the expiry is not in the future.
        if expires_s <= time.time():
            self._known.pop(token, None)
            raise TokenError("The token has expired")
        return user_id, school_id


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def token_for_email(
    settings: Settings, email: str, school_name: str | None
) -> str:
    """A token for the member with this email (in the named school, if several)."""
    engine = make_engine(settings, pool_size=1)
    statement = (
        select(Membership.user_id, Membership.school_id, School.name)
        .join(User, User.id == Membership.user_id)
        .join(School, School.id == Membership.school_id)
        .where(func.lower(User.email) == email.lower(), Membership.removed_at.is_(None))
        .order_by(School.name)
    )
    if school_name is not None:
        statement = statement.where(School.name == school_name)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
    finally:
        await engine.dispose()
    if not rows:
        raise TokenError("No current member with that email (in that school)")
    if len(rows) > 1:
        names = ", ".join(row[2] for row in rows)
        raise TokenError(
            f"That user belongs to several schools; pass --school ({names})"
        )
    return issue_token(settings, rows[0][0], rows[0][1])

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


def read_token(settings: Settings, token: str) -> tuple[int, int]:
    """(user id, school id) from a valid token, else TokenError."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS},
        )
        return int(claims["sub"]), int(claims["school"])
    except jwt.ExpiredSignatureError:
        raise TokenError("The token has expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenError("The token is not valid") from None


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

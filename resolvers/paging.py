"""Page sizes and opaque keyset cursors shared by every connection."""

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from resolvers.errors import BadUserInput

T = TypeVar("T")
MAX_PAGE = 100
# What a list may be searched for: a phrase or a name, not a document.
MAX_SEARCH_CHARS = 200


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    return first


def encode_time_cursor(at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"t|{at.isoformat()}|{pk}".encode()).decode()


def decode_time_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        tag, at, pk = _unpack(cursor)
        moment, number = datetime.fromisoformat(at), int(pk)
        # Checked here so a forged cursor cannot reach the database as a
        # naive time or an id beyond bigint.
        if tag != "t" or moment.tzinfo is None or not 0 < number < 2**63:
            raise ValueError(tag)
        return moment, number
    except ValueError:
        raise BadUserInput("Malformed cursor", field="after") from None


def encode_name_cursor(name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"n|{pk}|{name}".encode()).decode()


def decode_name_cursor(cursor: str | None) -> tuple[str, int] | None:
    if cursor is None:
        return None
    try:
        tag, pk, name = _unpack(cursor)
        if tag != "n":
            raise ValueError(tag)
        return name, int(pk)
    except ValueError:
        raise BadUserInput("Malformed cursor", field="after") from None


def _unpack(cursor: str) -> tuple[str, str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError) as error:
        raise ValueError("not base64") from error
    parts = raw.split("|", 2)
    if len(parts) != 3:
        raise ValueError("wrong shape")
    return parts[0], parts[1], parts[2]


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of a connection; totalCount is only counted when asked for."""

    rows: list[T]
    has_next: bool
    cursors: list[str]
    count: Callable[[], Awaitable[int]]

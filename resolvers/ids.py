"""Opaque global ids: base64 of `Type:number`, as `node(id)` needs."""

import base64
import binascii

from resolvers.errors import BadUserInput, NotFound


def decode_any(global_id: str) -> tuple[str, int] | None:
    try:
        raw = base64.urlsafe_b64decode(global_id.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, _, number = raw.partition(":")
    if not number.isdigit() or len(number) > 18:
        return None
    return type_name, int(number)


def decode_id(type_name: str, global_id: str, *, field: str) -> int:
    """The primary key for an id naming an object of `type_name`.

    A malformed id or an id of another type is BAD_USER_INPUT on `field`.
    """
    decoded = decode_any(global_id)
    if decoded is None or decoded[0] != type_name:
        raise BadUserInput(f"Not a valid {type_name} id", field=field)
    return decoded[1]


def decode_target_id(type_name: str, global_id: str) -> int:
    """Like decode_id, for the object an operation acts on: bad ids are NOT_FOUND."""
    decoded = decode_any(global_id)
    if decoded is None or decoded[0] != type_name:
        raise NotFound(f"No such {type_name.lower()}")
    return decoded[1]


# More ids than anyone picks in a form; a list past it is a script's.
MAX_IDS = 100


def decode_ids(type_name: str, global_ids: list[str], *, field: str) -> list[int]:
    if len(global_ids) > MAX_IDS:
        raise BadUserInput(f"At most {MAX_IDS} ids at once", field=field)
    return list(dict.fromkeys(decode_id(type_name, g, field=field) for g in global_ids))

"""DateTime and Date as the contract describes them; a DateTime needs an offset."""

import datetime as dt

import strawberry
from strawberry.types.scalar import ScalarDefinition


def _parse_datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be a string")
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs an offset, e.g. 2024-03-16T08:54:00+00:00")
    return parsed


def _parse_date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise ValueError("Date must be a string")
    return dt.date.fromisoformat(value)


SCALAR_MAP: dict[object, ScalarDefinition] = {
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description=(
            "An ISO-8601 date-time with offset, e.g. 2024-03-16T08:54:00+00:00."
        ),
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_datetime,
    ),
    dt.date: strawberry.scalar(
        name="Date",
        description="An ISO-8601 calendar date, e.g. 2024-03-16.",
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_date,
    ),
}

"""Calendar dates in a school's time zone, turned into instants for queries."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from resolvers.errors import BadUserInput


def day_start(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(time_zone))


def date_range(
    start: date | None,
    end: date | None,
    time_zone: str,
    *,
    field: str = "from",
) -> tuple[datetime | None, datetime | None]:
    """[start of `start`, start of the day after `end`) in the school's zone.

    Both days are included whole, whatever their length (23 or 25 hours on the
    days the clocks change). A missing end leaves that side open.
    """
    if start is not None and end is not None and start > end:
        raise BadUserInput("from must not be after to", field=field)
    # The range's ends in UTC must stay inside the calendar: the day after
    # `end` must exist, and so must the instant before `start` east of UTC.
    if start is not None and start <= date.min:
        raise BadUserInput(f"from must be after {date.min.isoformat()}", field=field)
    if end is not None and end >= date.max:
        raise BadUserInput(f"to must be before {date.max.isoformat()}", field="to")
    since = day_start(start, time_zone) if start is not None else None
    before = day_start(end + timedelta(days=1), time_zone) if end is not None else None
    return since, before


def closed_date_range(
    start: date, end: date, time_zone: str, *, field: str = "from"
) -> tuple[datetime, datetime]:
    """date_range for when both ends are required."""
    since, before = date_range(start, end, time_zone, field=field)
    assert since is not None and before is not None
    return since, before

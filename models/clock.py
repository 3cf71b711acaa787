"""The one source of "now", so tests can fake time and nothing else."""

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Pin now() to `at` (None lets time run again). For tests only."""
    global _frozen
    _frozen = at

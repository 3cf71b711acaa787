"""The database engine: one per process, shared by requests and jobs."""

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cases.settings import Settings


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


# Commands and the worker size their own pools and may briefly need more.
_OWN_POOL_OVERFLOW = 10


def make_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """The API's engine, or with `pool_size` one for a command or the worker."""
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set and no embedded server was started")
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=(
            settings.db_max_overflow if pool_size is None else _OWN_POOL_OVERFLOW
        ),
        pool_pre_ping=False,
        # Errors would otherwise quote bound values (incident text) in the log.
        hide_parameters=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        # UTC: date-times the database renders as text (history in JSON, the
        # compiled reads) then carry the offset Python gives them, +00:00.
        connect_args={
            "server_settings": {"application_name": "cases", "timezone": "UTC"}
        },
    )


def reader_of(engine: AsyncEngine) -> AsyncEngine:
    """The same pool in autocommit mode, for statements that only read.

    Without it every checkout costs two extra round trips (BEGIN, and ROLLBACK on
    return) for a single SELECT that needs no transaction of its own.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")

"""The database engine: one per process, shared by requests and jobs."""

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cases.settings import Settings


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def make_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set and no embedded server was started")
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        # Errors would otherwise quote bound values (incident text) in the log.
        hide_parameters=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": {"application_name": "cases"}},
    )


def reader_of(engine: AsyncEngine) -> AsyncEngine:
    """The same pool in autocommit mode, for statements that only read.

    Without it every checkout costs two extra round trips (BEGIN, and ROLLBACK on
    return) for a single SELECT that needs no transaction of its own.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")

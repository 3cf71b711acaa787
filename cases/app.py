"""Assembles the ASGI app: routes, middleware, and the engine and job pool it
shares across requests for its lifetime."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable

from arq.connections import ArqRedis
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cases.db import make_engine
from cases.graphql_view import CasesGraphQL
from cases.middleware import BodySizeLimit, RequestContext
from cases.settings import Settings, get_settings
from schema.build import build_schema

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 2.0


def make_arq_redis(settings: Settings) -> ArqRedis:
    """Connects lazily and reconnects by itself, so Redis may come and go."""
    if settings.redis_url is None:
        raise RuntimeError("REDIS_URL is not set and no embedded server was started")
    return ArqRedis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    engine = make_engine(settings)
    arq = make_arq_redis(settings)
    graphql = CasesGraphQL(
        settings,
        engine,
        arq,
        schema=build_schema(settings),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=False,
    )

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        database, redis = await asyncio.gather(
            _within(READY_TIMEOUT_S, _database_ok(engine), "database"),
            _within(READY_TIMEOUT_S, _redis_ok(arq), "redis"),
        )
        checks = {"database": database, "redis": redis}
        status = 200 if all(checks.values()) else 503
        return JSONResponse(checks, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await arq.aclose()
        await engine.dispose()

    # CORS outside the body limit, so the SPA can read a 413 too.
    middleware = [
        Middleware(RequestContext),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
            expose_headers=["retry-after", "x-request-id"],
            max_age=600,
        ),
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
    ]
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/graphql", graphql, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.engine = engine
    return app


# A probe that waits longer than this has its answer: not ready. Load balancers
# time out their own checks after a few seconds.
READY_TIMEOUT_S = 2.0


async def _within(timeout_s: float, check: Awaitable[bool], name: str) -> bool:
    try:
        return await asyncio.wait_for(check, timeout_s)
    except TimeoutError:
        logger.warning("readiness: %s did not answer in %.0f s", name, timeout_s)
        return False


async def _database_ok(engine: object) -> bool:
    try:
        async with engine.connect() as conn:  # type: ignore[attr-defined]
            await conn.execute(text("SELECT 1"))
    except Exception:
        logger.warning("readiness: database unreachable")
        return False
    return True


async def _redis_ok(arq: ArqRedis) -> bool:
    try:
        await arq.ping()
    except Exception:
        logger.warning("readiness: redis unreachable")
        return False
    return True

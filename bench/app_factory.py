"""The app as `cases serve` builds it, for `uvicorn --factory --workers N`.

`cases serve` runs a single process and has no workers option, so the load run
starts uvicorn itself with this factory. It adds one thing for the benchmark:
every response carries `x-bench-statements`, the number of SQL statements the
app's engine executed for that request (counted in SQLAlchemy's
before_cursor_execute), and `x-bench-checkouts`, the connections it took from
the pool. Each checkout that runs a statement also costs a BEGIN and a
ROLLBACK or COMMIT, which SQLAlchemy's asyncpg adapter sends as round trips of
their own and which before_cursor_execute does not see.
The counter lives in a context variable set per request; DataLoader batches and
SQLAlchemy's greenlets inherit the request's context, so their statements count.
BENCH_COUNT_STATEMENTS=0 leaves the app exactly as production builds it.
"""

import contextvars
import os
from typing import Any

from sqlalchemy import event
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cases.app import create_app
from cases.logs import configure_logging
from cases.settings import Settings

# [statements, checkouts] of the current request.
_statements: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "bench_statements", default=None
)


def create() -> ASGIApp:
    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    if os.environ.get("BENCH_COUNT_STATEMENTS", "1") == "0":
        return app
    _count_statements(app)
    return StatementHeader(app)


def _count_statements(app: Starlette) -> None:
    engine = app.state.engine.sync_engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_: Any) -> None:
        counter = _statements.get()
        if counter is not None:
            counter[0] += 1

    @event.listens_for(engine.pool, "checkout")
    def _checkout(*_: Any) -> None:
        counter = _statements.get()
        if counter is not None:
            counter[1] += 1


class StatementHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counter = [0, 0]
        token = _statements.set(counter)

        async def send_with_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-bench-statements", str(counter[0]).encode()))
                headers.append((b"x-bench-checkouts", str(counter[1]).encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_count)
        finally:
            _statements.reset(token)

"""Real PostgreSQL, Redis and SMTP for the whole session; a clean slate per test.

Without TEST_DATABASE_URL / TEST_REDIS_URL the session starts embedded servers
in a temporary folder. The API runs under uvicorn on a free port in the test's
event loop, and tests talk to it over HTTP like any client.
"""

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cases.app import create_app
from cases.embedded.postgres import EmbeddedPostgres
from cases.embedded.redis import EmbeddedRedis
from cases.mailcatcher import MailCatcher
from cases.migrate import upgrade
from cases.settings import Settings
from models import clock
from models.demo import load_demo
from models.school import School, User
from tests.graphql import Api

TEST_SECRET = "test-secret-key-for-the-suite-only-0123456789"
CASE_TABLES = "incident_events, alert_outbox, incident_students, incident_categories"


def _private_folder(name: str) -> Path:
    # Not pytest's tmp_path: as root, embedded PostgreSQL runs as another user and
    # opens the parent folders to it, which a second pytest session would undo.
    return Path(tempfile.mkdtemp(prefix=f"cases-test-{name}-"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    folder = _private_folder("pg")
    server = EmbeddedPostgres(folder / "pgdata")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    folder = _private_folder("redis")
    server = EmbeddedRedis(folder)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher()
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, mail: MailCatcher) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_url=redis_url,
        smtp_url=mail.url,
        secret_key=SecretStr(TEST_SECRET),
        app_url="https://cases.test",
        alert_retry_base_s=0.01,
        rate_limit_per_minute=100_000,
    )


async def _reset_schema(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session")
async def baseline(settings: Settings) -> dict[str, int]:
    """Migrated schema with the demo people, students and categories only."""
    assert settings.database_url is not None
    await _reset_schema(settings.database_url)
    await asyncio.to_thread(upgrade, settings.database_url)
    await load_demo(settings.database_url)
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await _clear_cases(conn)
        limits = {
            "users": int(await conn.scalar(select(func.max(User.id))) or 0),
            "schools": int(await conn.scalar(select(func.max(School.id))) or 0),
        }
    await engine.dispose()
    return limits


async def _clear_cases(conn: Any) -> None:
    # History refuses TRUNCATE by trigger; replica mode is how only a superuser
    # (this suite, never the app) can wipe it between tests.
    await conn.execute(text("SET LOCAL session_replication_role = replica"))
    await conn.execute(text(f"TRUNCATE {CASE_TABLES}, incidents"))
    await conn.execute(
        text("UPDATE schools SET last_incident_number = 0, cases_enabled = true")
    )


@pytest.fixture(scope="session")
async def server(settings: Settings, baseline: dict[str, int]) -> AsyncIterator[str]:
    app = create_app(settings)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None)
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    app_engine: AsyncEngine = app.state.engine
    _statement_log(app_engine)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        await task


STATEMENTS: list[str] = []


def _statement_log(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args):
        STATEMENTS.append(statement)


@pytest.fixture
async def db(
    settings: Settings, baseline: dict[str, int]
) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.database_url)  # type: ignore[arg-type]
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
async def clean_slate(
    request: pytest.FixtureRequest, settings: Settings, baseline: dict[str, int]
) -> AsyncIterator[None]:
    yield
    clock.freeze(None)
    engine = create_async_engine(settings.database_url)  # type: ignore[arg-type]
    async with engine.begin() as conn:
        await _clear_cases(conn)
        await conn.execute(text("UPDATE memberships SET removed_at = NULL"))
        await conn.execute(
            text("DELETE FROM memberships WHERE user_id > :u OR school_id > :s"),
            {"u": baseline["users"], "s": baseline["schools"]},
        )
        await conn.execute(
            text("DELETE FROM users WHERE id > :u"), {"u": baseline["users"]}
        )
    await engine.dispose()
    redis = Redis.from_url(settings.redis_url)  # type: ignore[arg-type]
    await redis.flushdb()
    await redis.aclose()


@pytest.fixture
async def api(
    server: str, settings: Settings, baseline: dict[str, int]
) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield Api(client, settings, STATEMENTS)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent

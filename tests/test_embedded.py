"""The embedded servers are real servers: these tests talk to them as the app does."""

import asyncio
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from arq import create_pool
from arq.connections import ArqRedis
from arq.worker import Worker, func
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from cases.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    resolve_settings,
)
from cases.mailcatcher import MailCatcher
from cases.redis import redis_settings_from_url
from cases.settings import Settings

JOIN_AND_LEAVE = """
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from cases.embedded import EmbeddedPostgres
with EmbeddedPostgres(Path(sys.argv[1])):
    pass
"""


@pytest.fixture
def pgdata() -> Iterator[Path]:
    # As root, pgserver runs PostgreSQL as the user "pgserver", who must be
    # able to traverse to the data. pytest makes its base folder private again
    # whenever another session starts, so the data lives outside it.
    folder = Path(tempfile.mkdtemp(prefix="cases-test-"))
    yield folder / "postgres"
    shutil.rmtree(folder, ignore_errors=True)


async def _scalar(database_url: str, sql: str) -> object:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def test_postgres_keeps_rows_across_restarts(pgdata: Path) -> None:
    with EmbeddedPostgres(pgdata) as postgres:
        assert await _scalar(postgres.url, "select 1") == 1
        await _scalar(postgres.url, "create table kept (id int)")
        await _scalar(postgres.url, "insert into kept values (1), (2)")
    assert not (pgdata / "postmaster.pid").exists()

    with EmbeddedPostgres(pgdata) as postgres:
        assert await _scalar(postgres.url, "select count(*) from kept") == 2


async def test_postgres_outlives_a_second_process(pgdata: Path) -> None:
    with EmbeddedPostgres(pgdata) as postgres:
        joiner = await asyncio.create_subprocess_exec(
            sys.executable, "-c", JOIN_AND_LEAVE, str(pgdata)
        )
        assert await asyncio.wait_for(joiner.wait(), 60) == 0
        assert await _scalar(postgres.url, "select 1") == 1
    assert not (pgdata / "postmaster.pid").exists()


async def _record(ctx: dict[str, object], value: int) -> int:
    return value * 2


async def test_redis_runs_arq_jobs_once_per_id(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        settings = redis_settings_from_url(server.url)
        pool = await create_pool(settings)
        try:
            job = await pool.enqueue_job("record", 21, _job_id="fixed-id")
            assert job is not None
            assert await pool.enqueue_job("record", 21, _job_id="fixed-id") is None

            worker = _burst_worker(pool)
            await worker.main()
            await worker.close()
            assert worker.jobs_complete == 1
            assert await job.result(timeout=5) == 42
        finally:
            await pool.aclose()


def _burst_worker(pool: ArqRedis) -> Worker:
    return Worker(
        functions=[func(_record, name="record")],
        redis_pool=pool,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
    )


async def test_redis_keeps_queued_jobs_across_restarts(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        pool = await create_pool(redis_settings_from_url(server.url))
        await pool.enqueue_job("record", 1, _job_id="survivor")
        await pool.aclose()

    with EmbeddedRedis(tmp_path / "redis") as server:
        pool = await create_pool(redis_settings_from_url(server.url))
        queued = await pool.queued_jobs()
        await pool.aclose()
    assert [job.job_id for job in queued] == ["survivor"]


def test_redis_stays_up_until_its_last_user_leaves(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "redis")
    second = EmbeddedRedis(tmp_path / "redis")
    with first:
        with second:
            pass
        assert first.socket_path.exists()
        assert first._responds()
    assert not first.socket_path.exists()


def test_redis_left_by_a_dead_process_is_stopped(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        # As if the process that started it had been killed with SIGKILL.
        (server.directory / "users.json").write_text(json.dumps([2**22 + 1]))
        with EmbeddedRedis(tmp_path / "redis") as joined:
            assert joined._responds()
    assert not server.socket_path.exists()


def _message(subject: str, to: str = "dsl@school.example") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "cases@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("An incident needs your attention.")
    return message


async def test_mail_catcher_stores_messages_as_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cases.mailcatcher")
    with MailCatcher(tmp_path / "mail") as catcher:
        port = int(catcher.url.rsplit(":", 1)[1])
        for subject in ("first", "second", "third"):
            await aiosmtplib.send(_message(subject), hostname="127.0.0.1", port=port)
        await aiosmtplib.send(
            _message("hidden"),
            hostname="127.0.0.1",
            port=port,
            recipients=["bcc@school.example"],
        )

    files = sorted((tmp_path / "mail").glob("*.eml"))
    subjects = [m["Subject"] for m in catcher.messages]
    assert subjects == ["first", "second", "third", "hidden"]
    assert [f.read_text().count("Subject: ") for f in files] == [1, 1, 1, 1]
    assert "Subject: second" in files[1].read_text()
    assert catcher.messages[3]["X-RcptTo"] == "bcc@school.example"
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [f"mail catcher stored {f.name}" for f in files]


async def test_fail_next_refuses_then_accepts() -> None:
    with MailCatcher() as catcher:
        port = int(catcher.url.rsplit(":", 1)[1])
        catcher.fail_next(451, 1)
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(_message("a"), hostname="127.0.0.1", port=port)
        await aiosmtplib.send(_message("b"), hostname="127.0.0.1", port=port)

        catcher.fail_next(550, 1)
        with pytest.raises(aiosmtplib.SMTPResponseException) as rejected:
            await aiosmtplib.send(_message("c"), hostname="127.0.0.1", port=port)

    assert refused.value.code == 451
    assert rejected.value.code == 550
    assert [m["Subject"] for m in catcher.messages] == ["b"]


async def test_mail_catcher_restarts_on_the_same_port() -> None:
    catcher = MailCatcher()
    with catcher:
        url = catcher.url
    with catcher:
        assert catcher.url == url
        port = int(url.rsplit(":", 1)[1])
        await aiosmtplib.send(_message("again"), hostname="127.0.0.1", port=port)
    assert len(catcher.messages) == 1


def test_resolve_settings_starts_only_unset_servers(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://app@db.example/cases",
        redis_url=None,
        smtp_url="smtp://mail.example:25",
        data_dir=tmp_path,
    )
    with ExitStack() as stack:
        resolved = resolve_settings(settings, stack)
        assert resolved.redis_url == f"unix://{tmp_path.resolve()}/redis/redis.sock"
        assert resolved.database_url == settings.database_url
        assert resolved.smtp_url == settings.smtp_url
        assert not (tmp_path / "postgres").exists()
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", ("localhost", 6379, None, 0, None, False)),
        ("redis://cache:6380/5", ("cache", 6380, None, 5, None, False)),
        ("redis://:p%40ss@cache/2", ("cache", 6379, None, 2, "p@ss", False)),
        ("rediss://cache:6380?db=3", ("cache", 6380, None, 3, None, True)),
        ("unix:///run/r.sock", ("localhost", 6379, "/run/r.sock", 0, None, False)),
        ("unix:///run/r.sock?db=4", ("localhost", 6379, "/run/r.sock", 4, None, False)),
    ],
)
def test_redis_url_parsing(url: str, expected: tuple[object, ...]) -> None:
    settings = redis_settings_from_url(url)
    assert (
        settings.host,
        settings.port,
        settings.unix_socket_path,
        settings.database,
        settings.password,
        settings.ssl,
    ) == expected


@pytest.mark.parametrize(
    "url", ["http://cache", "redis://cache/x", "unix://", "redis://cache?db=-1"]
)
def test_redis_url_parsing_refuses_nonsense(url: str) -> None:
    with pytest.raises(ValueError):
        redis_settings_from_url(url)

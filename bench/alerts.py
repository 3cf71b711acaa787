"""Alert delivery benchmark: one worker, a local SMTP server, embedded servers.

    python bench/alerts.py [--alerts 2000] [--assignments 300] [--rate 10]

Throughput: `--alerts` outbox rows are written and queued at once, then one
worker in burst mode (default settings) drains them into the mail catcher;
alerts/s = rows / wall time of the worker, start-up included.

Latency: the API (uvicorn) and one worker run in this process's event loop,
as `cases serve` runs them; `--assignments` `assign` mutations are sent at
`--rate` per second, each on an incident of its own, and the latency is from
sending the request to the SMTP server accepting the message.

PostgreSQL and Redis are started in a temporary folder and removed
afterwards: nothing is shared with other runs or with the test suite. The
mail catcher runs in a child process, as a real SMTP server would: in this
one its thread would compete for the GIL with the worker being measured.
"""

import argparse
import asyncio
import logging
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.smtp import Envelope
from arq import create_pool
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from cases.app import create_app
from cases.auth import issue_token
from cases.embedded import EmbeddedServices
from cases.mailcatcher import MailCatcher
from cases.migrate import upgrade
from cases.redis import redis_settings_from_url
from cases.settings import Settings
from models.demo import load_demo
from models.incident import IncidentStatus
from models.incident_writes import NewIncident, insert_alert, insert_incident
from models.rows import encode_id
from models.school import Category, Membership, School, Student, User
from workers.jobs import SEND_ALERT, alert_job_id
from workers.settings import build_worker

ASSIGN = """
mutation ($input: AssignInput!) { assign(input: $input) { incident { version } } }
"""
_ALERT_ID = re.compile(rb"Message-ID: <alert\.(\d+)\.", re.IGNORECASE)


class TimedCatcher(MailCatcher):
    """The mail catcher, printing each alert it accepts: outbox id, time."""

    def _receive(self, envelope: Envelope, tls: bool, login: str | None) -> str:
        reply = super()._receive(envelope, tls, login)
        content = envelope.original_content or b""
        found = _ALERT_ID.search(content if isinstance(content, bytes) else b"")
        if reply.startswith("250") and found:
            # perf_counter is CLOCK_MONOTONIC: comparable across processes.
            print(found.group(1).decode(), time.perf_counter(), flush=True)
        return reply


def _serve_catcher() -> None:
    """The child process: run until the parent closes our stdin."""
    with TimedCatcher() as catcher:
        print(catcher.url, flush=True)
        sys.stdin.read()


class Inbox:
    """The parent's view of the mail catcher in its child process."""

    def __init__(self) -> None:
        self.accepted_at: dict[int, float] = {}
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--catcher",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        self.url = (await self._process.stdout.readline()).decode().strip()
        self._reader = asyncio.create_task(self._read(self._process.stdout))

    async def stop(self) -> None:
        if self._process is None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._process.wait()
        if self._reader is not None:
            await self._reader

    async def wait_for(self, outbox_ids: list[int], timeout_s: float) -> bool:
        deadline = time.perf_counter() + timeout_s
        while not all(outbox_id in self.accepted_at for outbox_id in outbox_ids):
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        async for line in stdout:
            outbox_id, accepted_at = line.split()
            self.accepted_at[int(outbox_id)] = float(accepted_at)


class Demo:
    """Ids of the demo people the benchmark uses."""

    def __init__(self, ids: dict[str, int]) -> None:
        self.school_id = ids["school"]
        self.dsl_id = ids["dsl"]
        self.deputy_id = ids["deputy"]
        self.student_id = ids["student"]
        self.category_id = ids["category"]


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    # Figures from a busy machine mean little without this beside them.
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}")
    folder = Path(tempfile.mkdtemp(prefix="alerts-bench-", dir="/tmp"))
    inbox = Inbox()
    try:
        with EmbeddedServices(folder, smtp=False) as services:
            await inbox.start()
            settings = _settings(services, inbox)
            await _prepare_database(settings)
            await _run(settings, inbox, args)
            await inbox.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--assignments", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--catcher", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def _settings(services: EmbeddedServices, inbox: Inbox) -> Settings:
    """Default settings but for the servers' URLs and what the API needs."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=services.database_url,
        redis_url=services.redis_url,
        smtp_url=inbox.url,
        secret_key=SecretStr("bench-secret-key-not-for-any-real-use-000000"),
        app_url="https://cases.bench",
        rate_limit_per_minute=1_000_000,
    )


async def _prepare_database(settings: Settings) -> None:
    assert settings.database_url is not None
    await asyncio.to_thread(upgrade, settings.database_url)
    await load_demo(settings.database_url)
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        # Demo incidents are not part of the run.
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text(
                "TRUNCATE incident_events, alert_outbox, incident_students, "
                "incident_categories, incidents"
            )
        )
    await engine.dispose()


async def _run(settings: Settings, inbox: Inbox, args: argparse.Namespace) -> None:
    engine = create_async_engine(settings.database_url)  # type: ignore[arg-type]
    try:
        demo = await _demo_ids(engine)
        await _throughput(settings, engine, demo, inbox, args.alerts)
        if args.assignments:
            await _latency(settings, engine, demo, inbox, args)
    finally:
        await engine.dispose()


async def _demo_ids(engine: AsyncEngine) -> Demo:
    async with engine.connect() as conn:
        school_id = await conn.scalar(
            select(School.id).where(School.name == "Demo Primary")
        )
        ids: dict[str, Any] = {"school": school_id}
        for key in ("dsl", "deputy"):
            ids[key] = await conn.scalar(
                select(User.id)
                .join(Membership, Membership.user_id == User.id)
                .where(User.email == f"{key}@primary.example")
            )
        ids["student"] = await conn.scalar(
            select(func.min(Student.id)).where(Student.school_id == school_id)
        )
        ids["category"] = await conn.scalar(
            select(func.min(Category.id)).where(Category.school_id == school_id)
        )
    return Demo(ids)


async def _incidents(
    conn: AsyncConnection, demo: Demo, count: int, assignee_id: int | None
) -> list[Any]:
    new = NewIncident(
        school_id=demo.school_id,
        added_by_id=demo.dsl_id,
        student_ids=[demo.student_id],
        whole_school=False,
        category_ids=[demo.category_id],
        description="Benchmark incident; its text must never reach an email.",
        occurred_at=datetime.now(UTC),
        status=IncidentStatus.ACTIVE,
        assignee_id=assignee_id,
    )
    return [await insert_incident(conn, new, datetime.now(UTC)) for _ in range(count)]


async def _throughput(
    settings: Settings,
    engine: AsyncEngine,
    demo: Demo,
    inbox: Inbox,
    count: int,
) -> None:
    async with engine.begin() as conn:
        incidents = await _incidents(conn, demo, count, demo.deputy_id)
        at = datetime.now(UTC)
        outbox_ids = [
            await insert_alert(conn, incident, demo.deputy_id, demo.dsl_id, at)
            for incident in incidents
        ]
    arq = await create_pool(redis_settings_from_url(settings.redis_url or ""))
    for outbox_id in outbox_ids:
        await arq.enqueue_job(SEND_ALERT, outbox_id, _job_id=alert_job_id(outbox_id))
    await arq.aclose()

    worker = build_worker(settings, burst=True)
    started = time.perf_counter()
    cpu_started_s = time.process_time()
    await worker.async_run()
    elapsed_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started_s
    await worker.close()

    await inbox.wait_for(outbox_ids, timeout_s=10)
    delivered = sum(outbox_id in inbox.accepted_at for outbox_id in outbox_ids)
    sent = await _count_sent(engine, outbox_ids)
    print(f"throughput: {count} alerts queued, {delivered} delivered, {sent} SENT")
    # What one worker would do with a CPU to itself: on a shared machine the
    # wall-clock figure mostly measures the neighbours.
    print(
        f"throughput: worker CPU {cpu_s * 1000 / count:.1f} ms per alert, "
        f"{count / cpu_s:.0f} alerts per CPU second"
    )
    print(f"throughput: {elapsed_s:.2f} s, {count / elapsed_s:.0f} alerts/s (1 worker)")


async def _count_sent(engine: AsyncEngine, outbox_ids: list[int]) -> int:
    query = text(
        "SELECT count(*) FROM alert_outbox WHERE state = 'SENT' AND id = ANY(:ids)"
    )
    async with engine.connect() as conn:
        return int(await conn.scalar(query, {"ids": outbox_ids}) or 0)


async def _latency(
    settings: Settings,
    engine: AsyncEngine,
    demo: Demo,
    inbox: Inbox,
    args: argparse.Namespace,
) -> None:
    async with engine.begin() as conn:
        incidents = await _incidents(conn, demo, args.assignments, None)
    token = issue_token(settings, demo.dsl_id, demo.school_id)
    deputy = encode_id("User", demo.deputy_id)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), port=port, log_config=None, access_log=False
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.01)
    worker = build_worker(settings)
    working = asyncio.create_task(worker.async_run())

    sent_at: dict[int, float] = {}
    answered_at: dict[int, float] = {}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ) as client:

        async def assign(incident_id: int) -> httpx.Response:
            variables = {
                "incidentId": encode_id("Incident", incident_id),
                "assigneeId": deputy,
            }
            body = {"query": ASSIGN, "variables": {"input": variables}}
            sent_at[incident_id] = time.perf_counter()
            response = await client.post("/graphql", json=body)
            answered_at[incident_id] = time.perf_counter()
            return response

        start = time.perf_counter()
        tasks = []
        for n, incident in enumerate(incidents):
            await _sleep_until(start + n / args.rate)
            tasks.append(asyncio.create_task(assign(incident.id)))
        responses = await asyncio.gather(*tasks)
    failed = [r for r in responses if r.status_code != 200 or "errors" in r.json()]

    outbox = await _outbox_by_incident(engine, list(sent_at))
    if not await inbox.wait_for(list(outbox.values()), timeout_s=60):
        print("latency: not every alert arrived within 60 s", file=sys.stderr)
    working.cancel()
    await asyncio.wait([working])
    await worker.close()
    server.should_exit = True
    await serving

    print(
        f"latency: {args.assignments} assignments at {args.rate:g}/s, "
        f"{len(failed)} failed, {len(outbox)} alerts owed"
    )
    _report_latency("request sent", sent_at, outbox, inbox)
    # The answer comes after the commit and the enqueue: from there on it is
    # the alert's own path, without the API's queueing on a busy machine.
    _report_latency("API answered", answered_at, outbox, inbox)


async def _sleep_until(moment: float) -> None:
    delay_s = moment - time.perf_counter()
    if delay_s > 0:
        await asyncio.sleep(delay_s)


async def _outbox_by_incident(
    engine: AsyncEngine, incident_ids: list[int]
) -> dict[int, int]:
    query = text(
        "SELECT incident_id, id FROM alert_outbox WHERE incident_id = ANY(:ids)"
    )
    async with engine.connect() as conn:
        rows = await conn.execute(query, {"ids": incident_ids})
        return {row[0]: row[1] for row in rows}


def _report_latency(
    since: str, started_at: dict[int, float], outbox: dict[int, int], inbox: Inbox
) -> None:
    latencies_s = sorted(
        inbox.accepted_at[outbox[incident_id]] - started
        for incident_id, started in started_at.items()
        if outbox.get(incident_id) in inbox.accepted_at
    )
    if len(latencies_s) < 2:
        print(f"latency: {len(latencies_s)} alerts delivered")
        return
    p50_s = statistics.median(latencies_s)
    p95_s = statistics.quantiles(latencies_s, n=20)[-1]
    print(
        f"latency: {since} -> SMTP accepted: p50 {p50_s * 1000:.0f} ms, "
        f"p95 {p95_s * 1000:.0f} ms, max {latencies_s[-1] * 1000:.0f} ms "
        f"({len(latencies_s)} alerts)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    arguments = _arguments()
    if arguments.catcher:
        _serve_catcher()
    else:
        asyncio.run(main(arguments))

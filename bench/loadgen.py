"""A closed-loop load generator: N virtual users, each sending its next request
as soon as the previous answer arrives, for a bounded time.

The HTTP side is a minimal HTTP/1.1 keep-alive client on asyncio streams: the
request bytes are assembled by hand and the answer is read by Content-Length,
because a full client (httpx) would spend more CPU per request than the service
on a 2-core machine where client, API and PostgreSQL share the cores. It only
has to understand uvicorn's answers. Answers are checked cheaply: status 200
and no "errors" key.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import orjson

BodyFor = Callable[[int, int], bytes]  # (virtual user, request number) -> body


@dataclass(slots=True)
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    checkouts: list[int] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    # PostgreSQL sessions opened during the phase (warm-up included).
    sessions: int = 0

    def merge(self, other: "Tally") -> None:
        self.latencies_ns += other.latencies_ns
        self.statements += other.statements
        self.checkouts += other.checkouts
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error


@dataclass(slots=True)
class Window:
    """Answers that arrive inside [start, end) count; warm-up ones do not."""

    start_ns: int
    end_ns: int

    @classmethod
    def after(cls, warmup_s: float, measure_s: float) -> "Window":
        start = time.perf_counter_ns() + int(warmup_s * 1e9)
        return cls(start, start + int(measure_s * 1e9))


class HttpConnection:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host = host
        self.port = port
        self.head = (
            f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()

    async def post(self, body: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name:
                headers[name.strip().lower()] = value.strip()
        answer = await self.reader.readexactly(int(headers[b"content-length"]))
        return status, headers, answer


def graphql_body(document: str, variables: Mapping[str, object]) -> bytes:
    return orjson.dumps({"query": document, "variables": variables})


async def http_phase(
    host: str,
    port: int,
    token: str,
    concurrency: int,
    body_for: BodyFor,
    window: Window,
) -> Tally:
    async def user(index: int) -> Tally:
        tally = Tally()
        conn = HttpConnection(host, port, token)
        await conn.open()
        n = 0
        try:
            while time.perf_counter_ns() < window.end_ns:
                body = body_for(index, n)
                n += 1
                started = time.perf_counter_ns()
                status, headers, answer = await conn.post(body)
                done = time.perf_counter_ns()
                if not (window.start_ns <= started and done < window.end_ns):
                    continue
                if status != 200 or b'"errors"' in answer:
                    tally.errors += 1
                    tally.first_error = tally.first_error or answer[:300].decode()
                    continue
                tally.latencies_ns.append(done - started)
                count = headers.get(b"x-bench-statements")
                if count is not None:
                    tally.statements.append(int(count))
                    tally.checkouts.append(int(headers[b"x-bench-checkouts"]))
        finally:
            await conn.close()
        return tally

    return _merged(await asyncio.gather(*(user(i) for i in range(concurrency))))


SqlCall = Callable[[object, int, int], Awaitable[str]]  # (connection, user, n)


async def sql_phase(
    pool: object, concurrency: int, call: SqlCall, window: Window
) -> Tally:
    async def user(index: int) -> Tally:
        tally = Tally()
        n = 0
        while time.perf_counter_ns() < window.end_ns:
            started = time.perf_counter_ns()
            async with pool.acquire() as conn:  # type: ignore[attr-defined]
                answer = await call(conn, index, n)
            n += 1
            done = time.perf_counter_ns()
            if not (window.start_ns <= started and done < window.end_ns):
                continue
            if answer is None or '"data"' not in answer[:20]:
                tally.errors += 1
                tally.first_error = tally.first_error or str(answer)[:300]
                continue
            tally.latencies_ns.append(done - started)
            tally.statements.append(1)
            tally.checkouts.append(1)
        return tally

    return _merged(await asyncio.gather(*(user(i) for i in range(concurrency))))


def _merged(tallies: list[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total

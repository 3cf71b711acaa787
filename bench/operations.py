"""The six operations of the load run: each a GraphQL document for the service,
its raw-SQL counterpart, and the stream of arguments both are driven with.

Both sides draw from the same Sources object, so the service and the limit see
the same mix of arguments. Mutations keep track of what they changed so every
request really changes something (an assign to the current assignee, or a
status set to the current status, would be a cheap no-op on both sides).
"""

import base64
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
from arq.connections import ArqRedis

from bench import limit_sql, texts

NODE_FIELDS = """
      number occurredAt status description
      students { name yearGroup } categories { name } assignedTo { name }"""
PAGE_INFO = "pageInfo { hasNextPage endCursor }"

MY_ASSIGNED = f"""query MyAssigned {{ viewer {{ myAssigned(first: 20) {{
    nodes {{{NODE_FIELDS} }} {PAGE_INFO} }} }} }}"""
UNASSIGNED = f"""query Triage {{ incidents(
    filter: {{status: [ACTIVE], unassigned: true}}, first: 50) {{
    nodes {{{NODE_FIELDS} }} {PAGE_INFO} }} }}"""
SEARCH = f"""query Search($filter: IncidentFilter!) {{
  incidents(filter: $filter, first: 50) {{
    totalCount nodes {{{NODE_FIELDS} }} {PAGE_INFO} }} }}"""
INCIDENT = """query Incident($id: ID!) { incident(id: $id) {
    number status description
    history { kind at actor { name } fromStatus toStatus } } }"""
PAYLOAD = "incident { id version status assignedTo { name } }"
ASSIGN = f"""mutation Assign($input: AssignInput!) {{
  assign(input: $input) {{ {PAYLOAD} }} }}"""
CHANGE_STATUS = f"""mutation ChangeStatus($input: ChangeStatusInput!) {{
  changeStatus(input: $input) {{ {PAYLOAD} }} }}"""
BULK_CLOSE = """mutation BulkClose($input: BulkCloseInput!) {
  bulkClose(input: $input) { updatedCount dryRun } }"""

Args = dict[str, Any]


@dataclass(frozen=True, slots=True)
class World:
    """Who and what in the largest school the operations act on."""

    school_id: int
    time_zone: str
    key_user_id: int  # the Key User with the most ACTIVE incidents: My Assigned
    admin_id: int  # reads the whole school, assigns, changes status, bulk-closes
    key_user_ids: tuple[int, ...]
    sample_ids: tuple[int, ...]  # random incidents for incident(id)
    active: tuple[tuple[int, int | None], ...]  # (id, assignee) ACTIVE, for writes
    data_end: date


async def discover(conn: asyncpg.Connection) -> World:
    school_id, time_zone = await conn.fetchrow(
        "SELECT id, time_zone FROM schools ORDER BY last_incident_number DESC LIMIT 1"
    )
    busiest = await conn.fetchval(
        "SELECT assignee_id FROM incidents WHERE school_id = $1 AND status = 'ACTIVE'"
        " AND assignee_id IS NOT NULL GROUP BY assignee_id ORDER BY count(*) DESC"
        " LIMIT 1",
        school_id,
    )
    admin = await conn.fetchval(
        "SELECT min(user_id) FROM memberships WHERE school_id = $1 AND role = 'ADMIN'",
        school_id,
    )
    key_users = await conn.fetch(
        "SELECT user_id FROM memberships WHERE school_id = $1 AND role = 'KEY_USER'"
        " ORDER BY user_id",
        school_id,
    )
    samples = await conn.fetch(
        "SELECT id FROM incidents WHERE school_id = $1"
        " ORDER BY md5(id::text) LIMIT 5000",
        school_id,
    )
    active = await conn.fetch(
        "SELECT id, assignee_id FROM incidents WHERE school_id = $1"
        " AND status = 'ACTIVE' AND assignee_id IS NOT NULL ORDER BY id",
        school_id,
    )
    last = await conn.fetchval(
        "SELECT max(occurred_at) FROM incidents WHERE school_id = $1", school_id
    )
    return World(
        school_id=school_id,
        time_zone=time_zone,
        key_user_id=busiest,
        admin_id=admin,
        key_user_ids=tuple(row[0] for row in key_users),
        sample_ids=tuple(row[0] for row in samples),
        active=tuple((row[0], row[1]) for row in active),
        data_end=last.date(),
    )


def encode_id(type_name: str, pk: int) -> str:
    """The service's global id form (as resolvers.ids.encode_id makes it),
    spelled out here so the load generator imports nothing of the service."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()


LimitCall = Callable[[asyncpg.Connection, ArqRedis, Args], Awaitable[str]]


@dataclass(slots=True)
class Operation:
    key: str
    title: str
    document: str
    viewer: str  # "key_user" or "admin"
    # Arguments for request number n of virtual user w (same for both sides).
    arguments: Callable[[int, int], Args]
    variables: Callable[[Args], Args]
    limit: LimitCall
    reads: bool = True


class Sources:
    """Argument streams for every operation, over one World."""

    def __init__(self, world: World, concurrency_max: int = 64) -> None:
        self.world = world
        rng = random.Random(7)
        self.searches = [
            (pair, world.data_end - timedelta(days=days), world.data_end)
            for days in (365, 120, 730)
            for pair in texts.SEARCH_PAIRS
        ]
        rng.shuffle(self.searches)
        self.writable = [pk for pk, _ in world.active]
        rng.shuffle(self.writable)
        self.concurrency_max = concurrency_max
        self.assignees = dict(world.active)
        self.statuses = dict.fromkeys(self.writable, "ACTIVE")
        self.counters: dict[tuple[str, int], int] = {}

    def _next(self, key: str, worker: int) -> int:
        n = self.counters.get((key, worker), 0)
        self.counters[(key, worker)] = n + 1
        return n

    def _own_incident(self, key: str, worker: int) -> int:
        """Each virtual user writes its own slice of incidents: no lock waits
        between users, as in a school where two people rarely edit one case."""
        mine = self.writable[worker :: self.concurrency_max]
        return mine[self._next(key, worker) % len(mine)]

    def search(self, worker: int, n: int) -> Args:
        pair, since, until = self.searches[(worker * 7 + n) % len(self.searches)]
        return {"words": pair, "from": since, "to": until}

    def incident(self, worker: int, n: int) -> Args:
        ids = self.world.sample_ids
        return {"id": ids[(worker * 997 + n * 31) % len(ids)]}

    def assign(self, worker: int, n: int) -> Args:
        pk = self._own_incident("assign", worker)
        current = self.assignees[pk]
        choices = [u for u in self.world.key_user_ids if u != current]
        assignee = choices[(worker + n) % len(choices)]
        self.assignees[pk] = assignee
        return {"id": pk, "assignee": assignee}

    def change_status(self, worker: int, n: int) -> Args:
        pk = self._own_incident("status", worker)
        status = "CLOSED" if self.statuses[pk] == "ACTIVE" else "ACTIVE"
        self.statuses[pk] = status
        return {"id": pk, "status": status}


def operations(sources: Sources) -> list[Operation]:
    world = sources.world
    school = world.school_id

    def viewer_args(viewer: int) -> tuple[int, int]:
        return viewer, school

    async def my_assigned(conn: asyncpg.Connection, _: ArqRedis, args: Args) -> str:
        return await conn.fetchval(
            limit_sql.MY_ASSIGNED, *viewer_args(world.key_user_id), 20
        )

    async def unassigned(conn: asyncpg.Connection, _: ArqRedis, args: Args) -> str:
        return await conn.fetchval(
            limit_sql.UNASSIGNED_ACTIVE, *viewer_args(world.admin_id), 50
        )

    async def search(conn: asyncpg.Connection, _: ArqRedis, args: Args) -> str:
        return await conn.fetchval(
            limit_sql.SEARCH,
            *viewer_args(world.admin_id),
            50,
            args["words"],
            args["from"],
            args["to"],
        )

    async def incident(conn: asyncpg.Connection, _: ArqRedis, args: Args) -> str:
        return await conn.fetchval(
            limit_sql.INCIDENT_HISTORY, *viewer_args(world.admin_id), args["id"]
        )

    async def assign(conn: asyncpg.Connection, arq: ArqRedis, args: Args) -> str:
        body, outbox_id = await conn.fetchrow(
            limit_sql.ASSIGN, *viewer_args(world.admin_id), args["id"], args["assignee"]
        )
        if outbox_id is not None:
            await arq.enqueue_job("send_alert", outbox_id, _job_id=f"alert:{outbox_id}")
        return body

    async def change_status(conn: asyncpg.Connection, _: ArqRedis, args: Args) -> str:
        return await conn.fetchval(
            limit_sql.CHANGE_STATUS,
            *viewer_args(world.admin_id),
            args["id"],
            args["status"],
        )

    def none(worker: int, n: int) -> Args:
        return {}

    return [
        Operation(
            "1",
            "viewer.myAssigned(first: 20)",
            MY_ASSIGNED,
            "key_user",
            none,
            lambda a: {},
            my_assigned,
        ),
        Operation(
            "2",
            "incidents(ACTIVE, unassigned, first: 50)",
            UNASSIGNED,
            "admin",
            none,
            lambda a: {},
            unassigned,
        ),
        Operation(
            "3",
            "incidents(containing, from, to, first: 50) + totalCount",
            SEARCH,
            "admin",
            sources.search,
            _search_variables,
            search,
        ),
        Operation(
            "4",
            "incident(id) with history",
            INCIDENT,
            "admin",
            sources.incident,
            lambda a: {"id": encode_id("Incident", a["id"])},
            incident,
        ),
        Operation(
            "5a",
            "assign (+ outbox row + enqueue)",
            ASSIGN,
            "admin",
            sources.assign,
            _assign_variables,
            assign,
            reads=False,
        ),
        Operation(
            "5b",
            "changeStatus",
            CHANGE_STATUS,
            "admin",
            sources.change_status,
            _status_variables,
            change_status,
            reads=False,
        ),
    ]


def _search_variables(args: Args) -> Args:
    return {
        "filter": {
            "containing": args["words"],
            "from": args["from"].isoformat(),
            "to": args["to"].isoformat(),
        }
    }


def _assign_variables(args: Args) -> Args:
    return {
        "input": {
            "incidentId": encode_id("Incident", args["id"]),
            "assigneeId": encode_id("User", args["assignee"]),
        }
    }


def _status_variables(args: Args) -> Args:
    return {
        "input": {
            "incidentId": encode_id("Incident", args["id"]),
            "status": args["status"],
        }
    }

"""Tenant isolation and roles, property-based.

Hypothesis draws a viewer (every demo member, in each of their schools), an
operation of the contract and object ids from both schools plus ids of objects
that do not exist. Every answer is checked against the database:

- nothing of another school (or, for STAFF, of another adder) is revealed;
- an id of another school gets exactly the answer an id of nothing gets;
- a refused operation changes nothing, and no operation changes another school;
- each role can do exactly what the contract says.
"""

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.history import IncidentEvent
from models.incident import Incident
from models.outbox import AlertOutbox
from models.rows import encode_id
from models.school import KEY_ROLES, Category, Membership, Role, School, Student, User
from models.staff import StaffChange
from resolvers.ids import decode_any
from tests.fixtures import add_incident
from tests.graphql import Answer, Api

SCHOOLS = {"Demo Primary": "primary.example", "Demo Academy": "academy.example"}
VIEWERS = [
    (f"{local}@{domain}", school)
    for school, domain in SCHOOLS.items()
    for local in ("admin", "dsl", "deputy", "teacher", "ta")
] + [("lead@trust.example", school) for school in SCHOOLS]
PHANTOM_PK = 10**12
HYPOTHESIS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
INCIDENT = """id status students { id } categories { id }
  addedBy { id email } assignedTo { id email }
  history { actor { id } fromAssignee { id } toAssignee { id } }"""


# -- what the database says ---------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An object id the operation is given, and the schools it belongs to."""

    type_name: str
    pk: int
    schools: frozenset[int]

    @property
    def id(self) -> str:
        return encode_id(self.type_name, self.pk)

    def phantom(self) -> "Target":
        return Target(self.type_name, PHANTOM_PK, frozenset())


@dataclass
class World:
    school_ids: dict[str, int]
    roles: dict[int, dict[int, Role]]  # school -> user -> role
    emails: dict[int, str]  # user -> email
    students: dict[int, set[int]]
    categories: dict[int, set[int]]
    incidents: dict[int, tuple[int, int, str, int | None]] = field(default_factory=dict)

    def targets(self, type_name: str) -> list[Target]:
        found = [
            Target(type_name, pk, frozenset(s)) for pk, s in self._owners(type_name)
        ]
        return [*found, Target(type_name, PHANTOM_PK, frozenset())]

    def _owners(self, type_name: str) -> Iterator[tuple[int, set[int]]]:
        if type_name == "Incident":
            yield from ((pk, {row[0]}) for pk, row in sorted(self.incidents.items()))
        if type_name == "School":
            yield from ((pk, {pk}) for pk in sorted(self.school_ids.values()))
        if type_name == "User":
            for user_id in sorted(self.emails):
                yield user_id, {s for s, m in self.roles.items() if user_id in m}
        pools = {"Student": self.students, "Category": self.categories}
        for school_id, pks in pools.get(type_name, {}).items():
            yield from ((pk, {school_id}) for pk in sorted(pks))


async def _load_world(db: AsyncEngine) -> World:
    async with db.connect() as conn:
        schools = dict((await conn.execute(select(School.name, School.id))).all())
        members = (
            await conn.execute(
                select(
                    Membership.school_id,
                    Membership.user_id,
                    Membership.role,
                    User.email,
                )
                .join(User, User.id == Membership.user_id)
                .where(Membership.removed_at.is_(None))
            )
        ).all()
        students = (await conn.execute(select(Student.school_id, Student.id))).all()
    world = World(
        school_ids=schools,
        roles={school_id: {} for school_id in schools.values()},
        emails={},
        students={school_id: set() for school_id in schools.values()},
        categories={},
    )
    for school_id, user_id, role, email in members:
        world.roles[school_id][user_id] = Role(role)
        world.emails[user_id] = email
    for school_id, pk in students:
        world.students[school_id].add(pk)
    await _refresh_categories(db, world)
    await _refresh_incidents(db, world)
    return world


async def _refresh_categories(db: AsyncEngine, world: World) -> None:
    async with db.connect() as conn:
        rows = (await conn.execute(select(Category.school_id, Category.id))).all()
    world.categories = {school_id: set() for school_id in world.school_ids.values()}
    for school_id, pk in rows:
        world.categories[school_id].add(pk)


async def _refresh_incidents(db: AsyncEngine, world: World) -> None:
    columns = (
        Incident.id,
        Incident.school_id,
        Incident.added_by_id,
        Incident.status,
        Incident.assignee_id,
    )
    async with db.connect() as conn:
        rows = (await conn.execute(select(*columns))).all()
    world.incidents = {row[0]: (row[1], row[2], str(row[3]), row[4]) for row in rows}


async def _state(db: AsyncEngine) -> dict[int, tuple[Any, ...]]:
    """Everything an operation could change, per school."""
    incidents = select(
        Incident.school_id,
        Incident.id,
        Incident.status,
        Incident.assignee_id,
        Incident.version,
        Incident.edited,
    ).order_by(Incident.id)
    memberships = select(
        Membership.school_id, Membership.user_id, Membership.role, Membership.removed_at
    ).order_by(Membership.school_id, Membership.user_id)
    async with db.connect() as conn:
        rows = (await conn.execute(incidents)).all()
        members = (await conn.execute(memberships)).all()
        counts = [
            dict(await _counts(conn, table))
            for table in (IncidentEvent, AlertOutbox, Category, StaffChange)
        ]
    state: dict[int, tuple[Any, ...]] = {}
    schools: set[int] = {row[0] for row in rows} | {row[0] for row in members}
    schools |= {school_id for count in counts for school_id in count}
    for school_id in schools:
        mine = tuple(row for row in rows if row[0] == school_id)
        staff = tuple(row for row in members if row[0] == school_id)
        totals = tuple(count.get(school_id, 0) for count in counts)
        state[school_id] = (mine, staff, *totals)
    return state


async def _counts(conn: Any, table: Any) -> list[Any]:
    statement = select(table.school_id, func.count()).group_by(table.school_id)
    return list((await conn.execute(statement)).all())


# -- one example --------------------------------------------------------------


@dataclass
class Example:
    api: Api
    db: AsyncEngine
    world: World
    draw: Callable[[st.SearchStrategy[Any]], Any]
    email: str
    school_name: str

    @property
    def school_id(self) -> int:
        return self.world.school_ids[self.school_name]

    @property
    def user_id(self) -> int:
        return next(u for u, e in self.world.emails.items() if e == self.email)

    @property
    def role(self) -> Role:
        return self.world.roles[self.school_id][self.user_id]

    @property
    def is_key_user(self) -> bool:
        return self.role in KEY_ROLES

    def owns(self, target: Target | None) -> bool:
        return target is None or self.school_id in target.schools

    def sees(self, target: Target) -> bool:
        if not self.owns(target):
            return False
        if target.type_name != "Incident":
            return True
        _, added_by, _, _ = self.world.incidents[target.pk]
        return self.is_key_user or added_by == self.user_id

    def is_key_user_here(self, target: Target | None) -> bool:
        if target is None or not self.owns(target):
            return False
        return self.world.roles[self.school_id].get(target.pk) in KEY_ROLES

    def pick(self, type_name: str) -> Target:
        # An index, not sampled_from(targets): the pool grows as incidents are
        # added, and Hypothesis needs the same draws to mean the same choices.
        targets = self.world.targets(type_name)
        return targets[self.draw(st.integers(0, 999)) % len(targets)]

    def pick_or_none(self, type_name: str) -> Target | None:
        return self.pick(type_name) if self.draw(st.booleans()) else None

    def visible_incidents(self) -> set[int]:
        return {
            pk
            for pk in self.world.incidents
            if self.sees(
                Target("Incident", pk, frozenset({self.world.incidents[pk][0]}))
            )
        }

    async def ask(self, query: str, **variables: Any) -> Answer:
        return await self.api.as_user(
            self.email, query, variables, school=self.school_name
        )

    async def ask_each(
        self, query: str, make: Callable[[Callable[[Target], Target]], dict[str, Any]]
    ) -> Answer:
        """Asks with the drawn ids; when some belong to another school, asks again
        with ids of nothing in their place, and requires the very same answer."""
        foreign = False

        def real(target: Target) -> Target:
            nonlocal foreign
            foreign = foreign or not self.owns(target)
            return target

        answer = await self.ask(query, **make(real))
        if foreign:
            phantom = await self.ask(query, **make(self._phantom_if_foreign))
            assert _shape(answer) == _shape(phantom), (answer.body, phantom.body)
        return answer

    def _phantom_if_foreign(self, target: Target) -> Target:
        return target if self.owns(target) else target.phantom()


def _shape(answer: Answer) -> tuple[Any, ...]:
    errors = [
        (e["message"], e["extensions"].get("code"), e["extensions"].get("field"))
        for e in answer.body.get("errors") or []
    ]
    return answer.body.get("data"), errors


def _outcome(answer: Answer) -> str:
    return answer.code if answer.body.get("errors") else "done"


def _revealed(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("id", "email") and isinstance(item, str):
                yield key, item
            else:
                yield from _revealed(item)
    elif isinstance(value, list):
        for item in value:
            yield from _revealed(item)


async def _check_nothing_foreign_revealed(ex: Example, answer: Answer) -> None:
    await _refresh_incidents(ex.db, ex.world)
    emails = {ex.world.emails[u] for u in ex.world.roles[ex.school_id]}
    for key, value in _revealed(answer.body.get("data")):
        if key == "email":
            assert value in emails, value
            continue
        decoded = decode_any(value)
        assert decoded is not None, value
        type_name, pk = decoded
        owners = {
            s for t in ex.world.targets(type_name) if t.pk == pk for s in t.schools
        }
        assert ex.sees(Target(type_name, pk, frozenset(owners))), (type_name, pk)


# -- reads ----------------------------------------------------------------------


async def _read_node(ex: Example) -> Answer:
    type_name = ex.draw(
        st.sampled_from(["Incident", "Student", "Category", "User", "School"])
    )
    target = ex.pick(type_name)
    query = "query ($id: ID!) { node(id: $id) { id __typename } }"
    answer = await ex.ask_each(query, lambda t: {"id": t(target).id})
    _expect_found_or_not(ex, answer, target, "node")
    return answer


async def _read_incident(ex: Example) -> Answer:
    target = ex.pick(ex.draw(st.sampled_from(["Incident", "Incident", "Student"])))
    query = "query ($id: ID!) { incident(id: $id) { " + INCIDENT + " } }"
    answer = await ex.ask_each(query, lambda t: {"id": t(target).id})
    _expect_found_or_not(ex, answer, target, "incident")
    return answer


def _expect_found_or_not(
    ex: Example, answer: Answer, target: Target, name: str
) -> None:
    if (
        target.type_name in ("Incident", "Student", "Category", "User", "School")
        and (name == "node" or target.type_name == "Incident")
        and ex.sees(target)
    ):
        assert answer.data[name]["id"] == target.id
    else:
        assert answer.code == "NOT_FOUND", answer.body


async def _list_incidents(ex: Example) -> Answer:
    query = "{ incidents(first: 100) { totalCount nodes { " + INCIDENT + " } } }"
    answer = await ex.ask(query)
    page = answer.data["incidents"]
    visible = ex.visible_incidents()
    assert page["totalCount"] == len(visible)
    if len(visible) <= 100:
        assert {decode_any(n["id"])[1] for n in page["nodes"]} == visible  # type: ignore[index]
    return answer


async def _filter_incidents(ex: Example) -> Answer:
    name, type_name = ex.draw(
        st.sampled_from(
            [
                ("students", "Student"),
                ("categories", "Category"),
                ("assignedTo", "User"),
            ]
        )
    )
    target = ex.pick(type_name)
    query = (
        "query ($f: IncidentFilter) { incidents(filter: $f, first: 100) "
        "{ nodes { " + INCIDENT + " } } }"
    )
    answer = await ex.ask_each(query, lambda t: {"f": {name: [t(target).id]}})
    if not ex.owns(target):
        # Refused as for an id of nothing (ask_each compared the two answers).
        assert answer.code == "NOT_FOUND", answer.body
        assert answer.error["extensions"]["field"] == name
        return answer
    for node in answer.data["incidents"]["nodes"]:
        pk = decode_any(node["id"])[1]  # type: ignore[index]
        assert pk in ex.visible_incidents()
        if name == "assignedTo":
            assert node["assignedTo"]["id"] == target.id
    return answer


async def _directory(ex: Example) -> Answer:
    query = """{ viewer { user { id email role } school { id }
        myAssigned(first: 100) { nodes { id status assignedTo { id } } } }
      keyUsers { id email } categories { id }
      students(first: 100) { totalCount nodes { id monitoredCategories { id } } } }"""
    answer = await ex.ask(query)
    data = answer.data
    members = ex.world.roles[ex.school_id]
    assert data["viewer"]["user"]["id"] == encode_id("User", ex.user_id)
    assert data["viewer"]["user"]["role"] == ex.role.value
    assert data["viewer"]["school"]["id"] == encode_id("School", ex.school_id)
    for node in data["viewer"]["myAssigned"]["nodes"]:
        assert node["assignedTo"]["id"] == encode_id("User", ex.user_id)
        assert node["status"] == "ACTIVE"
    key_users = {
        encode_id("User", u) for u, role in members.items() if role in KEY_ROLES
    }
    assert {u["id"] for u in data["keyUsers"]} == key_users
    assert {c["id"] for c in data["categories"]} == {
        encode_id("Category", pk) for pk in ex.world.categories[ex.school_id]
    }
    assert data["students"]["totalCount"] == len(ex.world.students[ex.school_id])
    return answer


# -- writes -----------------------------------------------------------------------

ADD = (
    """mutation ($input: AddIncidentInput!) { addIncident(input: $input) {
  incident { """
    + INCIDENT
    + " } } }"
)
ASSIGN = (
    """mutation ($input: AssignInput!) { assign(input: $input) {
  incident { """
    + INCIDENT
    + " } } }"
)
CHANGE_STATUS = (
    """mutation ($input: ChangeStatusInput!) { changeStatus(input: $input) {
  incident { """
    + INCIDENT
    + " } } }"
)
BULK_CLOSE = """mutation ($input: BulkCloseInput!) { bulkClose(input: $input) {
  updatedCount dryRun } }"""


async def _add_incident(ex: Example) -> Answer:
    student, category = ex.pick("Student"), ex.pick("Category")
    assignee = ex.pick_or_none("User")
    status = ex.draw(st.sampled_from([None, "ACTIVE", "CLOSED"]))

    def make(t: Callable[[Target], Target]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "studentIds": [t(student).id],
            "categoryIds": [t(category).id],
            "description": "Property-based isolation check.",
            "occurredAt": "2026-11-20T10:15:00+00:00",
        }
        if assignee is not None:
            values["assignedToId"] = t(assignee).id
        if status is not None:
            values["status"] = status
        return {"input": values}

    answer = await ex.ask_each(ADD, make)
    case_fields = assignee is not None or status not in (None, "ACTIVE")
    if case_fields and not ex.is_key_user:
        assert answer.code == "FORBIDDEN"
    elif not (ex.owns(student) and ex.owns(category)):
        assert answer.code == "BAD_USER_INPUT"
    elif assignee is not None and not ex.is_key_user_here(assignee):
        assert (answer.code, answer.error["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            "assignedToId",
        )
    else:
        added = answer.data["addIncident"]["incident"]
        assert added["addedBy"]["id"] == encode_id("User", ex.user_id)
        assert added["status"] == (status or "ACTIVE")
        assigned = added["assignedTo"]["id"] if added["assignedTo"] else None
        assert assigned == (assignee.id if assignee else None)
    return answer


async def _assign(ex: Example) -> Answer:
    incident = ex.pick("Incident")
    assignee = ex.pick_or_none("User")

    def make(t: Callable[[Target], Target]) -> dict[str, Any]:
        chosen = t(assignee).id if assignee is not None else None
        return {"input": {"incidentId": t(incident).id, "assigneeId": chosen}}

    answer = await ex.ask_each(ASSIGN, make)
    good_assignee = assignee is None or ex.is_key_user_here(assignee)
    if not ex.is_key_user:
        assert answer.code == "FORBIDDEN"
    elif not ex.owns(incident) or not good_assignee:
        expected = (
            {"NOT_FOUND", "BAD_USER_INPUT"} if not good_assignee else {"NOT_FOUND"}
        )
        assert answer.code in expected, answer.body
    else:
        changed = answer.data["assign"]["incident"]
        assigned = changed["assignedTo"]["id"] if changed["assignedTo"] else None
        assert assigned == (assignee.id if assignee else None)
    return answer


async def _change_status(ex: Example) -> Answer:
    incident = ex.pick("Incident")
    status = ex.draw(st.sampled_from(["ACTIVE", "CLOSED", "NO_FURTHER_ACTION"]))

    def make(t: Callable[[Target], Target]) -> dict[str, Any]:
        return {"input": {"incidentId": t(incident).id, "status": status}}

    answer = await ex.ask_each(CHANGE_STATUS, make)
    if not ex.is_key_user:
        assert answer.code == "FORBIDDEN"
    elif not ex.owns(incident):
        assert answer.code == "NOT_FOUND"
    else:
        assert answer.data["changeStatus"]["incident"]["status"] == status
    return answer


async def _bulk_close(ex: Example) -> Answer:
    status = ex.draw(st.sampled_from(["CLOSED", "NO_FURTHER_ACTION"]))
    dry_run = ex.draw(st.booleans())
    sources = {"CLOSED": {"ACTIVE"}, "NO_FURTHER_ACTION": {"ACTIVE", "CLOSED"}}[status]
    would_change = sum(
        1
        for school_id, _, current, _ in ex.world.incidents.values()
        if school_id == ex.school_id and current in sources
    )
    variables = {"from": "2026-01-01", "to": "2026-12-31", "status": status}
    answer = await ex.ask(BULK_CLOSE, input={**variables, "dryRun": dry_run})
    if ex.role is not Role.ADMIN:
        assert answer.code == "FORBIDDEN"
    else:
        assert answer.data["bulkClose"] == {
            "updatedCount": would_change,
            "dryRun": dry_run,
        }
    return answer


# -- staff administration (ADMIN only) ------------------------------------------

STAFF = "{ staff { id email role hasLeft activeAssignedCount } }"
MEMBER = "member { id email role hasLeft }"
CHANGE_ROLE = (
    "mutation ($input: ChangeRoleInput!) { changeRole(input: $input) { "
    + MEMBER
    + " } }"
)
REMOVE_MEMBER = (
    "mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { "
    + MEMBER
    + " } }"
)
REASSIGN = """mutation ($input: ReassignCasesInput!) { reassignCases(input: $input) {
  reassignedCount dryRun } }"""
ADD_CATEGORY = """mutation ($input: AddCategoryInput!) { addCategory(input: $input) {
  category { id name } } }"""


async def _list_staff(ex: Example) -> Answer:
    answer = await ex.ask(STAFF)
    if ex.role is not Role.ADMIN:
        assert answer.code == "FORBIDDEN"
        return answer
    members = ex.world.roles[ex.school_id]
    listed = {m["id"]: m["role"] for m in answer.data["staff"]}
    assert listed == {encode_id("User", u): r.value for u, r in members.items()}
    return answer


async def _change_role(ex: Example) -> Answer:
    # Another school's member or nobody; a member of the viewer's own school
    # keeps their role, so the examples that follow keep their viewers.
    target = ex.pick("User")
    own = ex.world.roles[ex.school_id].get(target.pk) if ex.owns(target) else None
    role = own.value if own else ex.draw(st.sampled_from([r.value for r in Role]))

    def make(t: Callable[[Target], Target]) -> dict[str, Any]:
        return {"input": {"userId": t(target).id, "role": role}}

    answer = await ex.ask_each(CHANGE_ROLE, make)
    if ex.role is not Role.ADMIN:
        assert answer.code == "FORBIDDEN"
    elif own is None:
        assert answer.code == "NOT_FOUND", answer.body
    else:
        assert answer.data["changeRole"]["member"]["role"] == role
    return answer


async def _remove_member(ex: Example) -> Answer:
    # Only ids the viewer's school does not hold: removing its own members
    # would leave the examples that follow without their viewers.
    target = ex.pick("User")
    if target.pk in ex.world.roles[ex.school_id]:
        target = target.phantom()

    def make(t: Callable[[Target], Target]) -> dict[str, Any]:
        return {"input": {"userId": t(target).id}}

    answer = await ex.ask_each(REMOVE_MEMBER, make)
    expected = "FORBIDDEN" if ex.role is not Role.ADMIN else "NOT_FOUND"
    assert answer.code == expected, answer.body
    return answer


async def _reassign_cases(ex: Example) -> Answer:
    giver, taker = ex.pick("User"), ex.pick_or_none("User")
    dry_run = ex.draw(st.booleans())

    def make(t: Callable[[Target], Target]) -> dict[str, Any]:
        to = t(taker).id if taker is not None else None
        values = {"fromUserId": t(giver).id, "toUserId": to, "dryRun": dry_run}
        return {"input": values}

    answer = await ex.ask_each(REASSIGN, make)
    members = ex.world.roles[ex.school_id]
    good_taker = taker is None or (ex.is_key_user_here(taker) and taker.pk != giver.pk)
    if ex.role is not Role.ADMIN:
        assert answer.code == "FORBIDDEN"
    elif giver.pk not in members or not good_taker:
        assert answer.code == "BAD_USER_INPUT", answer.body
    else:
        held = sum(
            1
            for school_id, _, status, assignee in ex.world.incidents.values()
            if school_id == ex.school_id and status == "ACTIVE" and assignee == giver.pk
        )
        assert answer.data["reassignCases"] == {
            "reassignedCount": held,
            "dryRun": dry_run,
        }
    return answer


async def _add_category(ex: Example) -> Answer:
    name = ex.draw(st.sampled_from(["Online safety", "Attendance", "Neglect"]))
    answer = await ex.ask(ADD_CATEGORY, input={"name": name})
    if ex.role is not Role.ADMIN:
        assert answer.code == "FORBIDDEN"
    elif answer.body.get("errors"):
        assert (answer.code, answer.error["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            "name",
        )
    else:
        assert answer.data["addCategory"]["category"]["name"] == name
    await _refresh_categories(ex.db, ex.world)
    return answer


READS = [
    _read_node,
    _read_incident,
    _list_incidents,
    _filter_incidents,
    _directory,
    _list_staff,
]
WRITES = [
    _add_incident,
    _assign,
    _change_status,
    _bulk_close,
    _change_role,
    _remove_member,
    _reassign_cases,
    _add_category,
]


# -- the properties ---------------------------------------------------------------


@pytest.fixture
async def world(api: Api, db: AsyncEngine) -> World:
    """Incidents in both schools by each kind of member, one of them assigned."""
    for school, domain in SCHOOLS.items():
        for adder in ("teacher", "ta", "dsl"):
            await add_incident(api, f"{adder}@{domain}", school)
        await add_incident(
            api, f"admin@{domain}", school, wholeSchool=True, studentIds=[]
        )
    return await _load_world(db)


async def _run(
    api: Api,
    db: AsyncEngine,
    world: World,
    data: st.DataObject,
    operations: Sequence[Callable[[Example], Awaitable[Answer]]],
) -> None:
    email, school_name = data.draw(st.sampled_from(VIEWERS))
    operation = data.draw(st.sampled_from(operations))
    await _refresh_incidents(db, world)
    ex = Example(api, db, world, data.draw, email, school_name)
    before = await _state(db)
    answer = await operation(ex)
    event(f"{operation.__name__[1:]} by {ex.role.value}: {_outcome(answer)}")
    after = await _state(db)
    await _check_nothing_foreign_revealed(ex, answer)
    for school_id in before.keys() | after.keys():
        if school_id != ex.school_id or answer.body.get("errors"):
            assert before.get(school_id) == after.get(school_id), operation.__name__


@HYPOTHESIS
@given(data=st.data())
async def test_reads_reveal_nothing_of_another_school(
    api: Api, db: AsyncEngine, world: World, data: st.DataObject
) -> None:
    await _run(api, db, world, data, READS)


@HYPOTHESIS
@given(data=st.data())
async def test_writes_touch_nothing_of_another_school(
    api: Api, db: AsyncEngine, world: World, data: st.DataObject
) -> None:
    await _run(api, db, world, data, WRITES)

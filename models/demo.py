"""Fixed demo data, so anyone can try the service. Loading it twice changes
nothing: every row is keyed by something stable (names, emails, numbers)."""

import logging
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from models.history import EventKind
from models.incident import Incident, IncidentStatus
from models.incident_writes import (
    NewIncident,
    append_event,
    insert_incident,
    update_incident,
)
from models.school import Category, Membership, Role, School, Student, User

logger = logging.getLogger(__name__)

SCHOOLS = {"Demo Primary": "primary.example", "Demo Academy": "academy.example"}
STAFF = [
    ("admin", "Alex Admin", Role.ADMIN),
    ("dsl", "Dana Lead", Role.KEY_USER),
    ("deputy", "Dev Deputy", Role.KEY_USER),
    ("teacher", "Terry Teacher", Role.STAFF),
    ("ta", "Tam Assistant", Role.STAFF),
]
TRUST_LEAD = ("lead@trust.example", "Lee Trust")
CATEGORIES = [
    "Bullying",
    "Online safety",
    "Neglect",
    "Physical abuse",
    "Emotional abuse",
    "Self-harm",
    "Attendance",
    "Domestic abuse",
    "Mental health",
    "Peer-on-peer abuse",
]
FIRST_NAMES = [
    "Amara",
    "Ben",
    "Chloe",
    "Dylan",
    "Ella",
    "Finn",
    "Grace",
    "Harvey",
    "Isla",
    "Jack",
    "Kai",
    "Lily",
    "Mason",
    "Nia",
    "Oscar",
]
LAST_NAMES = [
    "Adeyemi",
    "Brown",
    "Clarke",
    "Davies",
    "Evans",
    "Khan",
    "Novak",
    "Patel",
    "Smith",
    "Wilson",
]
DESCRIPTIONS = [
    "Seen upset at break time; said older pupils took their lunch money again.",
    "Disclosed that they had not eaten since yesterday lunchtime.",
    "Bruise on the forearm noticed during PE; explanation was inconsistent.",
    "Received unkind messages on a group chat after school.",
    "Arrived late and tired for the third day this week.",
    "Mentioned shouting at home and not wanting to go back.",
    "Found crying in the toilets; would not say why.",
    "Shared an image of another pupil without consent.",
]
INCIDENTS_PER_SCHOOL = 36


async def load_demo(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            lead_id = await _user(conn, *TRUST_LEAD)
            for name, domain in SCHOOLS.items():
                await _school(conn, name, domain, lead_id)
    finally:
        await engine.dispose()


async def _user(conn: AsyncConnection, email: str, name: str) -> int:
    existing = await conn.scalar(select(User.id).where(func.lower(User.email) == email))
    if existing is not None:
        return existing
    return (
        await conn.execute(
            insert(User).values(email=email, name=name).returning(User.id)
        )
    ).scalar_one()


async def _school(conn: AsyncConnection, name: str, domain: str, lead_id: int) -> None:
    await conn.execute(insert(School).values(name=name).on_conflict_do_nothing())
    school_id = (
        await conn.execute(select(School.id).where(School.name == name))
    ).scalar_one()
    members = {"lead": lead_id}
    roles = {"lead": Role.KEY_USER}
    for local, person, role in STAFF:
        members[local] = await _user(conn, f"{local}@{domain}", person)
        roles[local] = role
    for local, user_id in members.items():
        await conn.execute(
            insert(Membership)
            .values(user_id=user_id, school_id=school_id, role=roles[local])
            .on_conflict_do_nothing()
        )
    await _directory(conn, school_id)
    already = await conn.scalar(
        select(func.count())
        .select_from(Incident)
        .where(Incident.school_id == school_id)
    )
    if already:
        return
    await _incidents(conn, school_id, members, random.Random(name))
    logger.info("demo school %s loaded", school_id)


async def _directory(conn: AsyncConnection, school_id: int) -> None:
    for category in CATEGORIES:
        await conn.execute(
            insert(Category)
            .values(school_id=school_id, name=category)
            .on_conflict_do_nothing()
        )
    for n in range(30):
        name = f"{FIRST_NAMES[n % 15]} {LAST_NAMES[(n * 7) % 10]}"
        await conn.execute(
            insert(Student)
            .values(
                school_id=school_id,
                external_id=f"DEMO{n:03d}",
                name=name,
                year_group=f"Year {1 + n % 6}",
            )
            .on_conflict_do_nothing()
        )


async def _incidents(
    conn: AsyncConnection, school_id: int, members: dict[str, int], rng: random.Random
) -> None:
    students = list(
        (
            await conn.execute(
                select(Student.id)
                .where(Student.school_id == school_id)
                .order_by(Student.id)
            )
        ).scalars()
    )
    categories = list(
        (
            await conn.execute(
                select(Category.id)
                .where(Category.school_id == school_id)
                .order_by(Category.id)
            )
        ).scalars()
    )
    start = datetime(2026, 9, 3, 9, 0, tzinfo=UTC)
    for n in range(INCIDENTS_PER_SCHOOL):
        at = start + timedelta(days=2 * n, hours=rng.randint(0, 7))
        whole_school = n % 12 == 11
        adder = rng.choice(["teacher", "ta", "dsl", "deputy"])
        new = NewIncident(
            school_id=school_id,
            added_by_id=members[adder],
            student_ids=[] if whole_school else rng.sample(students, rng.randint(1, 2)),
            whole_school=whole_school,
            category_ids=rng.sample(categories, rng.randint(1, 2)),
            description=DESCRIPTIONS[n % len(DESCRIPTIONS)],
            occurred_at=at,
            status=IncidentStatus.ACTIVE,
            assignee_id=None,
        )
        incident = await insert_incident(conn, new, at + timedelta(hours=1))
        await _follow_up(conn, incident, members, n, at + timedelta(days=1))


async def _follow_up(conn, incident, members, n, at) -> None:  # type: ignore[no-untyped-def]
    """Assign most incidents and close some, through the normal history path."""
    if n % 4 == 3:
        return
    assignee = members["dsl" if n % 2 else "deputy"]
    actor = members["admin"]
    incident = await update_incident(conn, incident, at, assignee_id=assignee)
    await append_event(
        conn,
        incident,
        EventKind.ASSIGNED,
        at=at,
        actor_id=actor,
        from_assignee_id=None,
        to_assignee_id=assignee,
    )
    target = [None, IncidentStatus.CLOSED, IncidentStatus.NO_FURTHER_ACTION][n % 3]
    if target is None:
        return
    later = at + timedelta(days=1)
    incident = await update_incident(conn, incident, later, status=target)
    await append_event(
        conn,
        incident,
        EventKind.STATUS_CHANGED,
        at=later,
        actor_id=assignee,
        from_status=IncidentStatus.ACTIVE,
        to_status=target,
    )

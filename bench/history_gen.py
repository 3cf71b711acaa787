"""Incidents with their links, history and alerts, shaped like a school's log.

Incidents arrive over about six school years, in school hours on school days,
interleaved across schools the way they would be inserted in production (so
the largest school's rows are spread through the table, not packed together).
Recent incidents are mostly ACTIVE, older ones mostly CLOSED; every incident
has the history its state implies, 2 to 4 events:

  ACTIVE, assigned      ADDED, ASSIGNED [, ALERT_SENT]
  CLOSED/NFA, assigned  ADDED, ASSIGNED [, ALERT_SENT], STATUS_CHANGED
  CLOSED/NFA, nobody    ADDED, STATUS_CHANGED
  ACTIVE, unassigned    ADDED (self-assigned by a Key User), ASSIGNED to nobody

version and last_activity_at agree with the history, as the service keeps them.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bench import texts
from bench.people import People, SchoolPlan

# The dataset's "today": fixed, so every load of a scale is the same data.
DATA_END = date(2026, 11, 27)
YEARS = 6.25
SCHOOL_DAY_S = 8 * 3600
SCHOOL_DAY_START_S = 8 * 3600
DESCRIPTION_POOL = 20_000
CHUNK = 20_000

INCIDENT_COLUMNS = (
    "id",
    "school_id",
    "number",
    "whole_school",
    "description",
    "occurred_at",
    "added_by_id",
    "added_at",
    "status",
    "assignee_id",
    "version",
    "edited",
    "last_activity_at",
)
LINK_COLUMNS = ("incident_id", "{}", "school_id")
EVENT_COLUMNS = (
    "id",
    "school_id",
    "incident_id",
    "kind",
    "at",
    "actor_id",
    "from_status",
    "to_status",
    "from_assignee_id",
    "to_assignee_id",
    "bulk",
)
OUTBOX_COLUMNS = (
    "id",
    "school_id",
    "incident_id",
    "recipient_id",
    "actor_id",
    "incident_count",
    "created_at",
    "state",
    "attempts",
    "done_at",
    "last_error",
)


@dataclass(slots=True)
class Chunk:
    incidents: list[tuple] = field(default_factory=list)
    students: list[tuple] = field(default_factory=list)
    categories: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    outbox: list[tuple] = field(default_factory=list)


def school_days(end: date, years: float) -> list[int]:
    """Epoch seconds of each school day's midnight (UTC): weekdays outside August
    and the Christmas fortnight."""
    day = end - timedelta(days=int(years * 365.25))
    days = []
    while day <= end:
        holiday = (
            day.month == 8
            or (day.month, day.day) >= (12, 20)
            or (day.month == 1 and day.day <= 3)
        )
        if day.weekday() < 5 and not holiday:
            days.append(
                int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            )
        day += timedelta(days=1)
    return days


def generate(people: People, total: int, seed: int) -> Iterator[Chunk]:
    """Chunks of CHUNK incidents in id order, with everything that hangs off them."""
    rng = random.Random(seed)
    state = _State(people, total, rng)
    chunk = Chunk()
    for index in range(total):
        state.incident(index, chunk)
        if len(chunk.incidents) == CHUNK:
            yield chunk
            chunk = Chunk()
    if chunk.incidents:
        yield chunk


class _State:
    def __init__(self, people: People, total: int, rng: random.Random) -> None:
        self.rng = rng
        self.plans = people.plans
        self.total = total
        self.days = school_days(DATA_END, YEARS)
        self.end_s = self.days[-1] + SCHOOL_DAY_START_S + SCHOOL_DAY_S
        self.span_s = len(self.days) * SCHOOL_DAY_S
        self.texts = texts.descriptions(rng, DESCRIPTION_POOL)
        self.order = [
            i for i, plan in enumerate(self.plans) for _ in range(plan.incidents)
        ]
        rng.shuffle(self.order)
        self.event_id = 0
        self.outbox_id = 0

    def incident(self, index: int, chunk: Chunk) -> None:
        rng = self.rng
        plan = self.plans[self.order[index]]
        plan.next_number += 1
        added_s = self._added_s(index)
        occurred_s = added_s - int(min(rng.expovariate(1 / 5400), 3 * 86400))
        whole_school = rng.random() < 0.01
        incident_id = index + 1
        events = _Timeline(self, plan, incident_id, added_s)
        status, assignee_id, adder = events.play(added_s)
        chunk.incidents.append(
            (
                incident_id,
                plan.id,
                plan.next_number,
                whole_school,
                rng.choice(self.texts),
                _at(occurred_s),
                adder,
                _at(added_s),
                status,
                assignee_id,
                events.version,
                events.version > 1,
                _at(events.last_s),
            )
        )
        chunk.events += events.rows
        chunk.outbox += events.outbox
        if not whole_school:
            for student_id in self._pick(plan.student_ids, plan.student_weights, 0.25):
                chunk.students.append((incident_id, student_id, plan.id))
        for category_id in self._pick(plan.category_ids, plan.category_weights, 0.35):
            chunk.categories.append((incident_id, category_id, plan.id))

    def _added_s(self, index: int) -> int:
        position = (index + self.rng.random()) * self.span_s / self.total
        day, within = divmod(int(position), SCHOOL_DAY_S)
        return self.days[day] + SCHOOL_DAY_START_S + within

    def _pick(
        self, ids: list[int], cum_weights: list[float], second: float
    ) -> set[int]:
        count = 2 if self.rng.random() < second else 1
        return set(self.rng.choices(ids, cum_weights=cum_weights, k=count))

    def key_user(self, plan: SchoolPlan) -> int:
        return self.rng.choices(plan.key_user_ids, cum_weights=plan.key_user_weights)[0]

    def next_event_id(self) -> int:
        self.event_id += 1
        return self.event_id

    def next_outbox_id(self) -> int:
        self.outbox_id += 1
        return self.outbox_id


class _Timeline:
    """One incident's history, from which its current state follows."""

    def __init__(self, state: _State, plan: SchoolPlan, incident_id: int, added_s: int):
        self.state = state
        self.plan = plan
        self.incident_id = incident_id
        self.rows: list[tuple] = []
        self.outbox: list[tuple] = []
        self.version = 1
        self.last_s = added_s

    def play(self, added_s: int) -> tuple[str, int | None, int]:
        """(status, assignee, added_by) after writing the events."""
        rng = self.state.rng
        age_days = (self.state.end_s - added_s) / 86400
        active = rng.random() < 0.6 * math.exp(-age_days / 60) + 0.01
        if active and rng.random() < (0.5 if age_days < 4 else 0.04):
            return self._handed_back(added_s)
        adder = self._adder()
        self._event("ADDED", added_s, adder, to_status="ACTIVE")
        closed = "NO_FURTHER_ACTION" if rng.random() < 0.25 else "CLOSED"
        if not active and rng.random() < 0.05:
            closer = self.state.key_user(self.plan)
            self._event(
                "STATUS_CHANGED",
                self._later(added_s, 86400 * 3),
                closer,
                from_status="ACTIVE",
                to_status=closed,
            )
            return closed, None, adder
        assignee = self.state.key_user(self.plan)
        assigned_s = self._assign(added_s, assignee)
        if active:
            return "ACTIVE", assignee, adder
        self._event(
            "STATUS_CHANGED",
            self._later(assigned_s, 86400 * 10),
            assignee,
            from_status="ACTIVE",
            to_status=closed,
        )
        return closed, assignee, adder

    def _handed_back(self, added_s: int) -> tuple[str, None, int]:
        key_user = self.state.key_user(self.plan)
        self._event(
            "ADDED", added_s, key_user, to_status="ACTIVE", to_assignee=key_user
        )
        self._event(
            "ASSIGNED", self._later(added_s, 3600 * 6), key_user, from_assignee=key_user
        )
        return "ACTIVE", None, key_user

    def _adder(self) -> int:
        rng = self.state.rng
        if rng.random() < 0.8:
            return rng.choice(self.plan.staff_ids)
        return self.state.key_user(self.plan)

    def _assign(self, added_s: int, assignee: int) -> int:
        rng = self.state.rng
        roll = rng.random()
        triager = (
            assignee
            if roll < 0.1
            else rng.choice(self.plan.admin_ids)
            if roll < 0.6
            else self.state.key_user(self.plan)
        )
        at_s = self._later(added_s, 3600 * 3)
        self._event("ASSIGNED", at_s, triager, to_assignee=assignee)
        if triager != assignee:
            self._alert(at_s, assignee, triager)
        return at_s

    def _alert(self, assigned_s: int, assignee: int, actor: int) -> None:
        sent_s = min(assigned_s + self.state.rng.randint(5, 120), self.state.end_s)
        self._event("ALERT_SENT", sent_s, None, to_assignee=assignee)
        self.outbox.append(
            (
                self.state.next_outbox_id(),
                self.plan.id,
                self.incident_id,
                assignee,
                actor,
                1,
                _at(assigned_s),
                "SENT",
                1,
                _at(sent_s),
                None,
            )
        )

    def _later(self, after_s: int, mean_s: float) -> int:
        """A moment after `after_s`, never past the dataset's end."""
        delay = self.state.rng.expovariate(1 / mean_s)
        return int(min(after_s + delay, max(after_s, self.state.end_s)))

    def _event(
        self,
        kind: str,
        at_s: int,
        actor: int | None,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
        from_assignee: int | None = None,
        to_assignee: int | None = None,
    ) -> None:
        if kind in ("ASSIGNED", "STATUS_CHANGED"):
            self.version += 1
        self.last_s = max(self.last_s, at_s)
        self.rows.append(
            (
                self.state.next_event_id(),
                self.plan.id,
                self.incident_id,
                kind,
                _at(at_s),
                actor,
                from_status,
                to_status,
                from_assignee,
                to_assignee,
                False,
            )
        )


def _at(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)

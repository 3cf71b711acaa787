"""The schools of the benchmark dataset and the people in them.

Sizes follow a scale: the largest school holds `largest_incidents` incidents,
`largest_students` students and `largest_key_users` Key Users; the other schools
share the remaining incidents unevenly and get people in proportion.
"""

import random
from dataclasses import dataclass, field
from itertools import accumulate

from bench import texts

ADMINS_PER_SCHOOL = 2
MIN_STUDENTS = 120
MIN_KEY_USERS = 3
PUPILS_PER_STAFF = 12
# No other school is more than this share of the largest, so "largest" is true.
OTHER_SCHOOL_CAP = 0.8


@dataclass(frozen=True, slots=True)
class Scale:
    name: str
    schools: int
    incidents: int
    largest_incidents: int
    largest_students: int
    largest_key_users: int


SCALES = {
    "full": Scale("full", 50, 1_000_000, 100_000, 2_000, 20),
    "small": Scale("small", 5, 50_000, 20_000, 2_000, 20),
    # For checking the machinery itself in seconds.
    "tiny": Scale("tiny", 3, 6_000, 3_000, 300, 5),
}


@dataclass(slots=True)
class SchoolPlan:
    """One school's ids and the weights incidents are drawn with."""

    id: int
    name: str
    incidents: int
    admin_ids: list[int] = field(default_factory=list)
    key_user_ids: list[int] = field(default_factory=list)
    staff_ids: list[int] = field(default_factory=list)
    student_ids: list[int] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    student_weights: list[float] = field(default_factory=list)
    category_weights: list[float] = field(default_factory=list)
    key_user_weights: list[float] = field(default_factory=list)
    next_number: int = 0


@dataclass(slots=True)
class People:
    """Rows for the directory tables, ready for COPY, and the plans."""

    plans: list[SchoolPlan] = field(default_factory=list)
    schools: list[tuple] = field(default_factory=list)
    users: list[tuple] = field(default_factory=list)
    memberships: list[tuple] = field(default_factory=list)
    students: list[tuple] = field(default_factory=list)
    categories: list[tuple] = field(default_factory=list)


def school_sizes(scale: Scale, rng: random.Random) -> list[int]:
    """Incidents per school, largest first, summing exactly to scale.incidents."""
    rest = scale.incidents - scale.largest_incidents
    others = scale.schools - 1
    if others == 0:
        return [scale.largest_incidents]
    cap = int(scale.largest_incidents * OTHER_SCHOOL_CAP)
    weights = [rng.lognormvariate(0, 0.6) for _ in range(others)]
    sizes = [0] * others
    for _ in range(20):
        total = sum(weights)
        sizes = [min(cap, int(rest * w / total)) for w in weights]
        weights = [
            w if s < cap else w * 0.9 for w, s in zip(weights, sizes, strict=True)
        ]
    shortfall = rest - sum(sizes)
    for index in sorted(range(others), key=lambda i: sizes[i])[: abs(shortfall)]:
        sizes[index] += 1 if shortfall > 0 else -1
    if sum(sizes) != rest or max(sizes) > cap:
        raise ValueError(f"scale {scale.name} cannot be split under the cap")
    return [scale.largest_incidents, *sorted(sizes, reverse=True)]


def build_people(scale: Scale, rng: random.Random) -> People:
    people = People()
    ids = _Ids()
    for index, size in enumerate(school_sizes(scale, rng)):
        share = size / scale.largest_incidents
        plan = SchoolPlan(
            id=index + 1, name=f"Bench School {index + 1:02d}", incidents=size
        )
        people.schools.append((plan.id, plan.name, "Europe/London", True, size))
        _add_staff(people, plan, ids, rng, share, scale)
        _add_students(
            people,
            plan,
            ids,
            rng,
            max(MIN_STUDENTS, round(scale.largest_students * share)),
        )
        _add_categories(people, plan, ids)
        people.plans.append(plan)
    return people


class _Ids:
    def __init__(self) -> None:
        self.user = 0
        self.student = 0
        self.category = 0


def _add_staff(
    people: People,
    plan: SchoolPlan,
    ids: _Ids,
    rng: random.Random,
    share: float,
    scale: Scale,
) -> None:
    key_users = max(MIN_KEY_USERS, round(scale.largest_key_users * share))
    students = max(MIN_STUDENTS, round(scale.largest_students * share))
    roles = (
        [("ADMIN", plan.admin_ids)] * ADMINS_PER_SCHOOL
        + [("KEY_USER", plan.key_user_ids)] * key_users
        + [("STAFF", plan.staff_ids)] * max(10, students // PUPILS_PER_STAFF)
    )
    for role, bucket in roles:
        ids.user += 1
        local = role.lower().replace("_", "")
        email = f"{local}{len(bucket) + 1}@school{plan.id}.bench.example"
        people.users.append((ids.user, texts.staff_name(rng), email))
        people.memberships.append((ids.user, plan.id, role, None))
        bucket.append(ids.user)
    # Some Key Users carry more cases than others, within a factor of about two.
    plan.key_user_weights = list(
        accumulate(rng.uniform(0.6, 1.4) for _ in plan.key_user_ids)
    )


def _add_students(
    people: People, plan: SchoolPlan, ids: _Ids, rng: random.Random, count: int
) -> None:
    for n in range(count):
        ids.student += 1
        year = 7 + n % 7
        left = rng.random() < 0.03
        people.students.append(
            (
                ids.student,
                plan.id,
                texts.person_name(rng),
                f"Year {year}",
                f"S{plan.id:02d}-{n:05d}",
                None,
                left,
            )
        )
        plan.student_ids.append(ids.student)
    # A few pupils appear in many incidents, most in few: a long tail.
    plan.student_weights = list(accumulate(1 / (k + 10) ** 0.9 for k in range(count)))
    rng.shuffle(plan.student_ids)


def _add_categories(people: People, plan: SchoolPlan, ids: _Ids) -> None:
    for name, _ in texts.CATEGORIES:
        ids.category += 1
        people.categories.append((ids.category, plan.id, name))
        plan.category_ids.append(ids.category)
    plan.category_weights = list(accumulate(w for _, w in texts.CATEGORIES))

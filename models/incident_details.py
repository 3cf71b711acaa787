"""Reads an incident together with its students, categories, people and
(when asked) history, in the same statement as the incident itself.

Each nested list is a correlated JSON subquery, so a page of any size costs one
statement, and the GraphQL layer resolves every nested field as a plain
attribute instead of a batched load per field.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Label, Row, literal_column

from models.history import EventKind
from models.incident import IncidentStatus
from models.rows import CategoryRow, EventRow, IncidentView, StudentRow, UserRow
from models.school import Role

# The incident columns come first, in the order of models.reads.INCIDENT_COLUMNS.
CORE_COLUMN_COUNT = 13


def _user_json(id_column: str) -> str:
    return f"""(
        SELECT json_build_array(u.id, u.name, u.email, m.role)
        FROM users u
        JOIN memberships m ON m.user_id = u.id AND m.school_id = incidents.school_id
        WHERE u.id = {id_column}
    )"""


def by_key(table: str, alias: str, key: str) -> str:
    """A join to the row of `table` whose id is `key`, always by its primary key.

    A plain JOIN lets the planner read a small table whole and hash it once per
    incident when it expects two links rather than one: on the benchmark's 700
    categories that was 0.1 ms per incident of a page, against 0.005 ms by key.
    OFFSET 0 keeps the subquery as written, so it stays a lookup per link.
    """
    return (
        f"CROSS JOIN LATERAL (SELECT * FROM {table} WHERE id = {key} OFFSET 0)"
        f" AS {alias}"
    )


_STUDENTS: Label[Any] = literal_column(
    f"""coalesce((
        SELECT json_agg(json_build_array(s.id, s.name, s.year_group)
                        ORDER BY s.name, s.id)
        FROM incident_students l {by_key("students", "s", "l.student_id")}
        WHERE l.incident_id = incidents.id
    ), '[]'::json)"""
).label("students_json")

_CATEGORIES: Label[Any] = literal_column(
    f"""coalesce((
        SELECT json_agg(json_build_array(c.id, c.name) ORDER BY c.name, c.id)
        FROM incident_categories l {by_key("categories", "c", "l.category_id")}
        WHERE l.incident_id = incidents.id
    ), '[]'::json)"""
).label("categories_json")

_ASSIGNED_TO: Label[Any] = literal_column(_user_json("incidents.assignee_id")).label(
    "assigned_to_json"
)
_ADDED_BY: Label[Any] = literal_column(_user_json("incidents.added_by_id")).label(
    "added_by_json"
)

_HISTORY: Label[Any] = literal_column(
    f"""coalesce((
        SELECT json_agg(json_build_array(
            e.id, e.kind, e.at, e.from_status, e.to_status, e.bulk,
            {_user_json("e.actor_id")},
            {_user_json("e.from_assignee_id")},
            {_user_json("e.to_assignee_id")}
        ) ORDER BY e.id)
        FROM incident_events e WHERE e.incident_id = incidents.id
    ), '[]'::json)"""
).label("history_json")


def detail_columns(*, with_history: bool) -> list[ColumnElement[Any]]:
    columns: list[ColumnElement[Any]] = [
        _STUDENTS,
        _CATEGORIES,
        _ASSIGNED_TO,
        _ADDED_BY,
    ]
    return [*columns, _HISTORY] if with_history else columns


def to_view(row: Row[Any] | Sequence[Any], *, with_history: bool) -> IncidentView:
    core = tuple(row[:CORE_COLUMN_COUNT])
    students, categories, assigned_to, added_by = row[CORE_COLUMN_COUNT:][:4]
    history = None
    if with_history:
        history = _events(core[0], row[CORE_COLUMN_COUNT + 4])
    details = (
        [StudentRow(*item) for item in students],
        [CategoryRow(*item) for item in categories],
        _user(assigned_to),
        _user(added_by),
        history,
    )
    return IncidentView(*core, *details)  # type: ignore[call-arg]


def _user(item: list[Any] | None) -> UserRow | None:
    if item is None:
        return None
    return UserRow(item[0], item[1], item[2], Role(item[3]))


def _status(value: str | None) -> IncidentStatus | None:
    return IncidentStatus(value) if value is not None else None


def _events(incident_id: int, items: list[list[Any]]) -> list[EventRow]:
    events = []
    for pk, kind, at, from_status, to_status, bulk, actor, source, target in items:
        actor_row, from_row, to_row = _user(actor), _user(source), _user(target)
        events.append(
            EventRow(
                id=pk,
                incident_id=incident_id,
                kind=EventKind(kind),
                at=datetime.fromisoformat(at),
                actor_id=actor_row.id if actor_row else None,
                from_status=_status(from_status),
                to_status=_status(to_status),
                from_assignee_id=from_row.id if from_row else None,
                to_assignee_id=to_row.id if to_row else None,
                bulk=bulk,
                actor=actor_row,
                from_assignee=from_row,
                to_assignee=to_row,
            )
        )
    return events

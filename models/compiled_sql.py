"""One SQL statement that answers a whole read operation as its JSON.

schema/compiled.py hands over what the client selected, as trees of (response
key, field name, sub-selection); this builds the statement that checks the
viewer's membership, applies what the viewer may see, and renders every
selected field in PostgreSQL the way the GraphQL layer would render it
(global ids, ISO date-times as Python writes them, enum names). The client
gets the text as it comes, so no row or field passes through Python.

Where the ordinary path would answer with an error (no membership, the module
off, an incident the viewer may not see, a null in a non-null field), the
statement returns NULL or a value holding MISFIT, and the caller answers the
request the ordinary way instead, which reports the error as it always does.

Parameters: $1 the viewer's user id, $2 the school id (both from the token),
then each root field's own, in the order `Params.add` hands them out.
"""

from dataclasses import dataclass, field
from typing import Any

from models.incident import IncidentStatus
from models.incident_details import by_key as _by_key

ACTIVE_ONLY = f"i.status = '{IncidentStatus.ACTIVE.name}'"

Selection = tuple[tuple[str, str, "Selection | None"], ...]

MISFIT = "\u241ecompiled-read-misfit\u241e"
_MISFIT_JSON = f"to_json('{MISFIT}'::text)"
_MAX_KEYS = 50  # json_build_object takes at most 100 arguments

_ISO = (
    "(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
    "CASE WHEN extract(microseconds FROM {0})::bigint % 1000000 = 0 THEN '' "
    "ELSE to_char({0} AT TIME ZONE 'UTC', '.US') END || '+00:00')"
)
_B64 = "translate(encode(convert_to({0}, 'UTF8'), 'base64'), E'+/\\n', '-_')"

_VIEWER = """viewer AS (
    SELECT m.role IN ('KEY_USER', 'ADMIN') AS is_key_user, s.cases_enabled
    FROM memberships m
    JOIN users u ON u.id = m.user_id
    JOIN schools s ON s.id = m.school_id
    WHERE m.user_id = $1 AND m.school_id = $2 AND m.removed_at IS NULL
)"""


class Uncompilable(Exception):
    """The selection asks for something only the ordinary path answers."""


@dataclass
class Params:
    """Positional parameters after the viewer's two."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values) + 2}"


def global_id(type_name: str, pk_column: str) -> str:
    return _B64.format(f"'{type_name}:' || {pk_column}")


def iso(column: str) -> str:
    return _ISO.format(column)


def json_object(pairs: list[tuple[str, str]]) -> str:
    if len(pairs) > _MAX_KEYS:
        raise Uncompilable("too many keys for one JSON object")
    if not pairs:
        return "json_build_object()"
    inner = ", ".join(f"{_literal(key)}, {expr}" for key, expr in pairs)
    return f"json_build_object({inner})"


def _literal(text: str) -> str:
    # Response keys are GraphQL names ([_A-Za-z][_0-9A-Za-z]*), validated.
    return "'" + text.replace("'", "''") + "'"


def _non_null(expr: str) -> str:
    return f"coalesce({expr}, {_MISFIT_JSON})"


# -- objects ------------------------------------------------------------------


def user(selection: Selection, id_column: str, school_column: str) -> str:
    """A member of the school (any role, former members too), or NULL."""
    fields = {
        "id": global_id("User", "u.id"),
        "name": "u.name",
        "email": "u.email",
        "role": "m.role",
    }
    pairs = _plain(selection, "User", fields)
    return f"""(SELECT {json_object(pairs)} FROM users u
        JOIN memberships m ON m.user_id = u.id AND m.school_id = {school_column}
        WHERE u.id = {id_column})"""


def _plain(
    selection: Selection, type_name: str, fields: dict[str, str]
) -> list[tuple[str, str]]:
    pairs = []
    for key, name, _ in selection:
        if name == "__typename":
            pairs.append((key, _literal(type_name)))
        elif name in fields:
            pairs.append((key, fields[name]))
        else:
            raise Uncompilable(f"{type_name}.{name}")
    return pairs


def incident(selection: Selection, i: str = "i") -> str:
    """The JSON object of the incident row `i`."""
    columns = {
        "id": global_id("Incident", f"{i}.id"),
        "number": f"{i}.number",
        "wholeSchool": f"{i}.whole_school",
        "description": f"{i}.description",
        "occurredAt": iso(f"{i}.occurred_at"),
        "addedAt": iso(f"{i}.added_at"),
        "status": f"{i}.status",
        "edited": f"{i}.edited",
        "lastActivityAt": iso(f"{i}.last_activity_at"),
        "version": f"{i}.version",
    }
    pairs = []
    for key, name, sub in selection:
        if name == "__typename":
            pairs.append((key, "'Incident'"))
        elif name in columns:
            pairs.append((key, columns[name]))
        elif sub is None:
            raise Uncompilable(f"Incident.{name}")
        else:
            pairs.append((key, _incident_list_or_user(name, sub, i)))
    return json_object(pairs)


def _incident_list_or_user(name: str, sub: Selection, i: str) -> str:
    if name == "assignedTo":
        return user(sub, f"{i}.assignee_id", f"{i}.school_id")
    if name == "addedBy":
        return _non_null(user(sub, f"{i}.added_by_id", f"{i}.school_id"))
    if name == "students":
        student = {
            "id": global_id("Student", "s.id"),
            "name": "s.name",
            "yearGroup": "s.year_group",
        }
        item = json_object(_plain(sub, "Student", student))
        return f"""coalesce((SELECT json_agg({item} ORDER BY s.name, s.id)
            FROM incident_students l {_by_key("students", "s", "l.student_id")}
            WHERE l.incident_id = {i}.id), '[]'::json)"""
    if name == "categories":
        category = {"id": global_id("Category", "c.id"), "name": "c.name"}
        item = json_object(_plain(sub, "Category", category))
        return f"""coalesce((SELECT json_agg({item} ORDER BY c.name, c.id)
            FROM incident_categories l {_by_key("categories", "c", "l.category_id")}
            WHERE l.incident_id = {i}.id), '[]'::json)"""
    if name == "history":
        item = _event(sub, i)
        return f"""coalesce((SELECT json_agg({item} ORDER BY e.id)
            FROM incident_events e WHERE e.incident_id = {i}.id), '[]'::json)"""
    raise Uncompilable(f"Incident.{name}")


def _event(selection: Selection, i: str) -> str:
    columns = {
        "kind": "e.kind",
        "at": iso("e.at"),
        "fromStatus": "e.from_status",
        "toStatus": "e.to_status",
        "bulk": "e.bulk",
    }
    people = {
        "actor": "e.actor_id",
        "fromAssignee": "e.from_assignee_id",
        "toAssignee": "e.to_assignee_id",
    }
    pairs = []
    for key, name, sub in selection:
        if name == "__typename":
            pairs.append((key, "'IncidentEvent'"))
        elif name in columns:
            pairs.append((key, columns[name]))
        elif name in people and sub is not None:
            pairs.append((key, user(sub, people[name], f"{i}.school_id")))
        else:
            raise Uncompilable(f"IncidentEvent.{name}")
    return json_object(pairs)


# -- root fields --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageQuery:
    """A page of incidents newest first: the conditions and the keyset."""

    # (SQL condition on `i`, with placeholders) for the key-user branch; the
    # STAFF branch adds that they added it, unless `everyone_sees_all`.
    conditions: tuple[str, ...]
    first: str  # placeholder
    after_at: str | None
    after_id: str | None
    everyone_sees_all: bool = False

    def with_conditions(self, *conditions: str, everyone: bool = False) -> "PageQuery":
        return PageQuery(
            (*self.conditions, *conditions),
            self.first,
            self.after_at,
            self.after_id,
            everyone_sees_all=everyone,
        )


def connection(selection: Selection, page: PageQuery, n: int) -> tuple[str, str]:
    """The CTEs (page<n>, shown<n>) and the JSON of the connection."""
    ctes = _page_ctes(page, n)
    order = "i.occurred_at DESC, i.id DESC"
    cursor = _B64.format(f"'t|' || {iso('i.occurred_at')} || '|' || i.id")
    pairs = []
    for key, name, sub in selection:
        if name == "__typename":
            pairs.append((key, "'IncidentConnection'"))
        elif name == "totalCount":
            pairs.append((key, _count(page)))
        elif name == "nodes" and sub is not None:
            nodes = f"SELECT json_agg({incident(sub)} ORDER BY {order}) FROM shown{n} i"
            pairs.append((key, f"coalesce(({nodes}), '[]'::json)"))
        elif name == "edges" and sub is not None:
            edge = json_object(_edge(sub, cursor))
            edges = f"SELECT json_agg({edge} ORDER BY {order}) FROM shown{n} i"
            pairs.append((key, f"coalesce(({edges}), '[]'::json)"))
        elif name == "pageInfo" and sub is not None:
            info = {
                "hasNextPage": f"((SELECT count(*) FROM page{n}) > {page.first})",
                "endCursor": f"""(SELECT {cursor} FROM shown{n} i
                    ORDER BY i.occurred_at, i.id LIMIT 1)""",
            }
            pairs.append((key, json_object(_plain(sub, "PageInfo", info))))
        else:
            raise Uncompilable(f"IncidentConnection.{name}")
    return ctes, json_object(pairs)


def _edge(selection: Selection, cursor: str) -> list[tuple[str, str]]:
    pairs = []
    for key, name, sub in selection:
        if name == "__typename":
            pairs.append((key, "'IncidentEdge'"))
        elif name == "cursor":
            pairs.append((key, cursor))
        elif name == "node" and sub is not None:
            pairs.append((key, incident(sub)))
        else:
            raise Uncompilable(f"IncidentEdge.{name}")
    return pairs


def _branches(page: PageQuery) -> list[str]:
    """WHERE clauses: one for Key Users and Admins, one for STAFF.

    Two branches rather than one OR, so each is planned with the index that
    fits it; the one that does not apply is skipped on its one-time filter.
    """
    where = ["i.school_id = $2", *page.conditions]
    if page.everyone_sees_all:
        return [" AND ".join(where)]
    key_user = "(SELECT is_key_user FROM viewer)"
    return [
        " AND ".join([key_user, *where]),
        " AND ".join([f"NOT {key_user}", "i.added_by_id = $1", *where]),
    ]


# What incident() reads; not i.*, which would drag the search vector along.
_INCIDENT_COLUMNS = (
    "i.id, i.school_id, i.number, i.whole_school, i.description, i.occurred_at, "
    "i.added_by_id, i.added_at, i.status, i.assignee_id, i.version, i.edited, "
    "i.last_activity_at"
)


def _page_ctes(page: PageQuery, n: int) -> str:
    keyset = ""
    if page.after_at is not None:
        keyset = f" AND (i.occurred_at, i.id) < ({page.after_at}, {page.after_id})"
    selects = [
        f"""(SELECT {_INCIDENT_COLUMNS} FROM incidents i WHERE {where}{keyset}
            ORDER BY i.occurred_at DESC, i.id DESC LIMIT {page.first} + 1)"""
        for where in _branches(page)
    ]
    union = "\n        UNION ALL ".join(selects)
    return f"""page{n} AS ({union}),
    shown{n} AS (SELECT * FROM page{n}
        ORDER BY occurred_at DESC, id DESC LIMIT {page.first})"""


def _count(page: PageQuery) -> str:
    counts = [
        f"(SELECT count(*) FROM incidents i WHERE {where})" for where in _branches(page)
    ]
    return " + ".join(counts)


def statuses_condition(params: Params, statuses: list[IncidentStatus]) -> str:
    """One parameter per status, as an IN list: with `= ANY(array)` PostgreSQL's
    generic plan for a prepared statement could not use the status column of
    the (school, assignee, status, ...) index and read every assigned row."""
    placeholders = ", ".join(params.add(status.name) for status in statuses)
    return f"i.status IN ({placeholders})"


def single_incident(selection: Selection, pk: str) -> str:
    """The incident by id, if the viewer may see it; MISFIT otherwise."""
    visible = "((SELECT is_key_user FROM viewer) OR i.added_by_id = $1)"
    found = f"""(SELECT {incident(selection)} FROM incidents i
        WHERE i.id = {pk} AND i.school_id = $2 AND {visible})"""
    return _non_null(found)


def school(selection: Selection) -> str:
    fields = {
        "id": global_id("School", "s.id"),
        "name": "s.name",
        "casesEnabled": "s.cases_enabled",
    }
    pairs = _plain(selection, "School", fields)
    return f"(SELECT {json_object(pairs)} FROM schools s WHERE s.id = $2)"


def viewer_user(selection: Selection) -> str:
    return _non_null(user(selection, "$1", "$2"))


def statement(
    ctes: list[str],
    roots: list[tuple[str, str]],
    *,
    needs_cases: bool,
    guards: list[str],
) -> str:
    """The whole statement: NULL unless the viewer is a current member (and,
    when `needs_cases`, the school has the module on) and every guard holds."""
    member = "EXISTS (SELECT 1 FROM viewer)"
    if needs_cases:
        member = "(SELECT cases_enabled FROM viewer)"
    condition = " AND ".join([member, *guards])
    with_clause = ",\n    ".join([_VIEWER, *ctes])
    return f"""WITH {with_clause}
SELECT CASE WHEN {condition} THEN {json_object(roots)}::text END"""


def _in_list(params: Params, values: list[Any]) -> str:
    return ", ".join(params.add(value) for value in values)


def assignment_condition(params: Params, assignees: list[int], unassigned: bool) -> str:
    """Assigned to any of them, or (also) to nobody."""
    options = [f"i.assignee_id IN ({_in_list(params, assignees)})"] if assignees else []
    if unassigned:
        options.append("i.assignee_id IS NULL")
    return "(" + " OR ".join(options) + ")"


_LINKS = {
    "students": ("incident_students", "student_id", "students"),
    "categories": ("incident_categories", "category_id", "categories"),
}


def linked_to_any(params: Params, kind: str, ids: list[int]) -> str:
    link, column, _ = _LINKS[kind]
    return f"""EXISTS (SELECT 1 FROM {link} l WHERE l.incident_id = i.id
        AND l.{column} IN ({_in_list(params, ids)}))"""


def all_of_school(params: Params, kind: str, ids: list[int]) -> str:
    """Every id names a student (category) of the school; distinct ids."""
    _, _, table = _LINKS[kind]
    return f"""(SELECT count(*) FROM {table}
        WHERE school_id = $2 AND id IN ({_in_list(params, ids)})) = {len(ids)}"""


def all_members(params: Params, user_ids: list[int]) -> str:
    """Every id names someone who belongs or belonged to the school, as the
    assignee filter requires; distinct ids."""
    return f"""(SELECT count(*) FROM memberships
        WHERE school_id = $2 AND user_id IN ({_in_list(params, user_ids)}))
        = {len(user_ids)}"""

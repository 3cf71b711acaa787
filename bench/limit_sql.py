"""The raw-SQL limit: for each operation, the best single statement that returns
the same JSON the service returns (or does the same writes), through asyncpg.

Every statement re-checks the viewer's membership, as the service does on each
request, and builds the response JSON in PostgreSQL, so the client only passes
text along. Timestamps are rendered the way Python's isoformat renders the
dataset's whole-second UTC instants; global ids and cursors are the service's
base64 forms. bench.run compares these answers with the service's before it
measures anything.
"""

from models.incident_details import by_key

_ISO = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')"""
_B64 = "translate(encode(convert_to({}, 'UTF8'), 'base64'), '+/', '-_')"

_VIEWER = """
viewer AS (
    SELECT m.user_id, m.school_id, m.role, s.time_zone
    FROM memberships m
    JOIN users u ON u.id = m.user_id
    JOIN schools s ON s.id = m.school_id
    WHERE m.user_id = $1 AND m.school_id = $2 AND m.removed_at IS NULL
      AND s.cases_enabled
)"""

_USER_NAME = """(SELECT json_build_object('name', u.name) FROM users u
    JOIN memberships um ON um.user_id = u.id AND um.school_id = {school}
    WHERE u.id = {user})"""

_NODE = f"""json_build_object(
    'number', i.number,
    'occurredAt', {_ISO.format("i.occurred_at")},
    'status', i.status,
    'description', i.description,
    'students', coalesce((
        SELECT json_agg(json_build_object('name', s.name, 'yearGroup', s.year_group)
                        ORDER BY s.name, s.id)
        FROM incident_students l {by_key("students", "s", "l.student_id")}
        WHERE l.incident_id = i.id), '[]'),
    'categories', coalesce((
        SELECT json_agg(json_build_object('name', c.name) ORDER BY c.name, c.id)
        FROM incident_categories l {by_key("categories", "c", "l.category_id")}
        WHERE l.incident_id = i.id), '[]'),
    'assignedTo', {_USER_NAME.format(school="i.school_id", user="i.assignee_id")}
)"""

_CURSOR = _B64.format(f"'t|' || {_ISO.format('occurred_at')} || '|' || id")


def _connection(root: str, page_where: str, count: bool) -> str:
    """A page of incidents newest first, as the connection JSON under `root`."""
    total = (
        f"'totalCount', (SELECT count(*) FROM incidents i, viewer v "
        f"WHERE {page_where}),"
        if count
        else ""
    )
    return f"""
WITH {_VIEWER},
page AS (
    SELECT i.id, i.school_id, i.number, i.occurred_at, i.status, i.description,
           i.assignee_id
    FROM incidents i, viewer v
    WHERE {page_where}
    ORDER BY i.occurred_at DESC, i.id DESC
    LIMIT $3 + 1
),
shown AS (SELECT * FROM page ORDER BY occurred_at DESC, id DESC LIMIT $3)
SELECT json_build_object('data', {
        root.format(
            inner=f'''json_build_object(
    {total}
    'nodes', coalesce((SELECT json_agg({_NODE} ORDER BY i.occurred_at DESC, i.id DESC)
                       FROM shown i), '[]'),
    'pageInfo', json_build_object(
        'hasNextPage', (SELECT count(*) FROM page) > $3,
        'endCursor', (SELECT {_CURSOR} FROM shown ORDER BY occurred_at, id LIMIT 1))
)'''
        )
    })::text"""


# $1 viewer, $2 school, $3 first
MY_ASSIGNED = _connection(
    "json_build_object('viewer', json_build_object('myAssigned', {inner}))",
    "i.school_id = v.school_id AND i.assignee_id = v.user_id AND i.status = 'ACTIVE'",
    count=False,
)

# $1 viewer, $2 school, $3 first
UNASSIGNED_ACTIVE = _connection(
    "json_build_object('incidents', {inner})",
    "i.school_id = v.school_id AND i.status = 'ACTIVE' AND i.assignee_id IS NULL",
    count=False,
)

# $1 viewer, $2 school, $3 first, $4 words, $5 from date, $6 to date
SEARCH = _connection(
    "json_build_object('incidents', {inner})",
    "i.school_id = v.school_id"
    " AND i.search_vector @@ cases_school_query("
    "$2, plainto_tsquery('english'::regconfig, cases_fold($4)))"
    " AND i.occurred_at >= ($5::date)::timestamp AT TIME ZONE v.time_zone"
    " AND i.occurred_at < ($6::date + 1)::timestamp AT TIME ZONE v.time_zone",
    count=True,
)

# $1 viewer, $2 school, $3 incident id
INCIDENT_HISTORY = f"""
WITH {_VIEWER}
SELECT json_build_object('data', json_build_object('incident', (
    SELECT json_build_object(
        'number', i.number,
        'status', i.status,
        'description', i.description,
        'history', coalesce((
            SELECT json_agg(json_build_object(
                'kind', e.kind,
                'at', {_ISO.format("e.at")},
                'actor', {_USER_NAME.format(school="v.school_id", user="e.actor_id")},
                'fromStatus', e.from_status,
                'toStatus', e.to_status) ORDER BY e.id)
            FROM incident_events e WHERE e.incident_id = i.id), '[]'))
    FROM incidents i, viewer v
    WHERE i.id = $3 AND i.school_id = v.school_id
)))::text"""

_KEY_VIEWER = _VIEWER.replace(
    "AND s.cases_enabled", "AND s.cases_enabled AND m.role <> 'STAFF'"
)

_PAYLOAD = f"""json_build_object(
    'id', {_B64.format("'Incident:' || c.id")},
    'version', c.version,
    'status', c.status,
    'assignedTo', {_USER_NAME.format(school="c.school_id", user="c.assignee_id")})"""

# $1 viewer, $2 school, $3 incident id, $4 assignee; returns (json, outbox id)
ASSIGN = f"""
WITH {_KEY_VIEWER},
assignee AS (
    SELECT m.user_id FROM memberships m, viewer v
    WHERE m.user_id = $4 AND m.school_id = v.school_id AND m.removed_at IS NULL
      AND m.role <> 'STAFF'
),
old AS (
    SELECT i.id, i.assignee_id FROM incidents i, viewer v
    WHERE i.id = $3 AND i.school_id = v.school_id
    FOR UPDATE OF i
),
c AS (
    UPDATE incidents i
    SET assignee_id = a.user_id, version = i.version + 1, edited = true,
        last_activity_at = now()
    FROM old, assignee a
    WHERE i.id = old.id AND old.assignee_id IS DISTINCT FROM a.user_id
    RETURNING i.id, i.school_id, i.version, i.status, i.assignee_id,
              old.assignee_id AS from_assignee
),
event AS (
    INSERT INTO incident_events
        (school_id, incident_id, kind, at, actor_id, from_assignee_id, to_assignee_id)
    SELECT school_id, id, 'ASSIGNED', now(), $1, from_assignee, assignee_id FROM c
),
alert AS (
    INSERT INTO alert_outbox
        (school_id, incident_id, recipient_id, actor_id, created_at)
    SELECT school_id, id, assignee_id, $1, now() FROM c WHERE assignee_id <> $1
    RETURNING id
)
SELECT json_build_object('data', json_build_object('assign', json_build_object(
           'incident', (SELECT {_PAYLOAD} FROM c c))))::text,
       (SELECT id FROM alert)"""

# $1 viewer, $2 school, $3 incident id, $4 status
CHANGE_STATUS = f"""
WITH {_KEY_VIEWER},
old AS (
    SELECT i.id, i.status FROM incidents i, viewer v
    WHERE i.id = $3 AND i.school_id = v.school_id
    FOR UPDATE OF i
),
c AS (
    UPDATE incidents i
    SET status = $4, version = i.version + 1, edited = true, last_activity_at = now()
    FROM old
    WHERE i.id = old.id AND old.status <> $4::varchar
    RETURNING i.id, i.school_id, i.version, i.status, i.assignee_id,
              old.status AS from_status
),
event AS (
    INSERT INTO incident_events
        (school_id, incident_id, kind, at, actor_id, from_status, to_status)
    SELECT school_id, id, 'STATUS_CHANGED', now(), $1, from_status, status FROM c
)
SELECT json_build_object('data', json_build_object('changeStatus', json_build_object(
    'incident', (SELECT {_PAYLOAD} FROM c c))))::text"""

# The bare writes a bulk close needs, without the service's id-ordered row
# locking. $1 school, $2 since, $3 before, $4 actor.
BULK_CLOSE = """
WITH changed AS (
    UPDATE incidents i
    SET status = 'NO_FURTHER_ACTION', version = i.version + 1, edited = true,
        last_activity_at = now()
    FROM (
        SELECT id, status FROM incidents
        WHERE school_id = $1 AND occurred_at >= $2 AND occurred_at < $3
          AND status IN ('ACTIVE', 'CLOSED')
    ) old
    WHERE i.id = old.id
    RETURNING i.id, i.school_id, old.status AS from_status
), logged AS (
    INSERT INTO incident_events
        (school_id, incident_id, kind, at, actor_id, from_status, to_status, bulk)
    SELECT school_id, id, 'STATUS_CHANGED', now(), $4, from_status,
           'NO_FURTHER_ACTION', true
    FROM changed
    RETURNING 1
)
SELECT count(*) FROM logged"""

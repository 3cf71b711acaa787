"""known values: status, role, kind and state columns hold only their enum's values

Revision ID: 0004
Revises: 0003

The enums are stored as text, so until now the database would have kept a
misspelt status written by raw SQL (bulk close writes statuses that way).
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STATUSES = "'ACTIVE', 'CLOSED', 'NO_FURTHER_ACTION'"
_ROLES = "'STAFF', 'KEY_USER', 'ADMIN'"
_EVENT_KINDS = "'ADDED', 'ASSIGNED', 'STATUS_CHANGED', 'ALERT_SENT', 'ALERT_FAILED'"
_STAFF_CHANGE_KINDS = (
    "'MEMBER_ADDED', 'MEMBER_RETURNED', 'ROLE_CHANGED', 'MEMBER_REMOVED',"
    " 'CASES_HANDED_OVER', 'CATEGORY_ADDED', 'ROSTER_IMPORTED'"
)

# (table, column, allowed values); the constraint is ck_<table>_<column>_known.
KNOWN = [
    ("incidents", "status", _STATUSES),
    ("incident_events", "kind", _EVENT_KINDS),
    ("incident_events", "from_status", _STATUSES),
    ("incident_events", "to_status", _STATUSES),
    ("alert_outbox", "state", "'PENDING', 'SENT', 'FAILED', 'SKIPPED'"),
    ("memberships", "role", _ROLES),
    ("staff_changes", "source", "'API', 'IMPORT'"),
    ("staff_changes", "kind", _STAFF_CHANGE_KINDS),
    ("staff_changes", "from_role", _ROLES),
    ("staff_changes", "to_role", _ROLES),
]


def upgrade() -> None:
    for table, column, values in KNOWN:
        op.create_check_constraint(
            op.f(f"ck_{table}_{column}_known"), table, f"{column} IN ({values})"
        )


def downgrade() -> None:
    for table, column, _ in reversed(KNOWN):
        op.drop_constraint(op.f(f"ck_{table}_{column}_known"), table, type_="check")

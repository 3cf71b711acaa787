"""roster: the append-only record of staff and roster changes

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLE = sa.Enum("STAFF", "KEY_USER", "ADMIN", name="role", native_enum=False, length=16)
KINDS = (
    "MEMBER_ADDED",
    "MEMBER_RETURNED",
    "ROLE_CHANGED",
    "MEMBER_REMOVED",
    "CASES_HANDED_OVER",
    "CATEGORY_ADDED",
    "ROSTER_IMPORTED",
)

# Who changed the roster is evidence too: like incident_events, no role of the
# application may rewrite or erase it.
APPEND_ONLY_SQL = [
    """
CREATE FUNCTION staff_changes_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'staff_changes is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    """
CREATE TRIGGER staff_changes_append_only
    BEFORE UPDATE OR DELETE ON staff_changes
    FOR EACH ROW EXECUTE FUNCTION staff_changes_refuse_change()
""",
    """
CREATE TRIGGER staff_changes_no_truncate
    BEFORE TRUNCATE ON staff_changes
    FOR EACH STATEMENT EXECUTE FUNCTION staff_changes_refuse_change()
""",
]


def upgrade() -> None:
    op.create_table(
        "staff_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("school_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "source",
            sa.Enum("API", "IMPORT", name="change_source", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="staff_change_kind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("from_role", ROLE, nullable=True),
        sa.Column("to_role", ROLE, nullable=True),
        sa.Column("handover_to_id", sa.BigInteger(), nullable=True),
        sa.Column("incident_count", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "summary",
            postgresql.JSONB(none_as_null=True, astext_type=sa.Text()),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_staff_changes_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_staff_changes_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["handover_to_id"],
            ["users.id"],
            name=op.f("fk_staff_changes_handover_to_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["users.id"], name=op.f("fk_staff_changes_member_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_staff_changes_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_changes")),
    )
    op.create_index(
        "ix_staff_changes_school_at", "staff_changes", ["school_id", "at"], unique=False
    )
    for statement in APPEND_ONLY_SQL:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_staff_changes_school_at", table_name="staff_changes")
    op.drop_table("staff_changes")
    op.execute("DROP FUNCTION staff_changes_refuse_change()")

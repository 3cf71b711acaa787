import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, one_of


class IncidentStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    NO_FURTHER_ACTION = "NO_FURTHER_ACTION"


STATUS_TYPE = Enum(IncidentStatus, name="incident_status", native_enum=False, length=20)

# Search stems English words; cases_fold (defined by the migration) strips
# accents and turns punctuation into spaces, in the stored text and the query
# alike, so "eleve" finds "élève" and "group chat" finds "group-chat".
# cases_school_words and cases_school_query (migration 0003) prefix every
# lexeme with the school's id, so the text index holds each school's postings
# apart and a search never reads another school's.
SEARCH_CONFIG = "english"
FOLD_FUNCTION = "cases_fold"
SCHOOL_WORDS_FUNCTION = "cases_school_words"
SCHOOL_QUERY_FUNCTION = "cases_school_query"


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    number: Mapped[int] = mapped_column(Integer)
    whole_school: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    description: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime]
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime]
    status: Mapped[IncidentStatus] = mapped_column(STATUS_TYPE)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    edited: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_activity_at: Mapped[datetime]
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            f"{SCHOOL_WORDS_FUNCTION}(school_id, to_tsvector("
            f"'{SEARCH_CONFIG}'::regconfig, {FOLD_FUNCTION}(description)))",
            persisted=True,
        ),
    )

    __table_args__ = (
        UniqueConstraint("school_id", "number"),
        UniqueConstraint("school_id", "id"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("length(btrim(description)) > 0", name="description_not_blank"),
        one_of("status", IncidentStatus),
        Index("ix_incidents_school_occurred", "school_id", "occurred_at", "id"),
        Index(
            "ix_incidents_school_added_by",
            "school_id",
            "added_by_id",
            "occurred_at",
            "id",
        ),
        # Serves My Assigned (assignee and ACTIVE: already in order) and the
        # assignedTo filter, with or without status.
        Index(
            "ix_incidents_school_assignee",
            "school_id",
            "assignee_id",
            "status",
            "occurred_at",
            "id",
        ),
        Index(
            "ix_incidents_school_status",
            "school_id",
            "status",
            "occurred_at",
            "id",
        ),
        Index(
            "ix_incidents_school_unassigned",
            "school_id",
            "occurred_at",
            "id",
            postgresql_where=text("assignee_id IS NULL"),
        ),
        Index("ix_incidents_school_activity", "school_id", "last_activity_at"),
        Index("ix_incidents_search", "search_vector", postgresql_using="gin"),
    )


incident_students = Table(
    "incident_students",
    Base.metadata,
    Column("incident_id", BigInteger, primary_key=True),
    Column("student_id", BigInteger, primary_key=True),
    Column("school_id", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["school_id", "incident_id"],
        ["incidents.school_id", "incidents.id"],
        ondelete="CASCADE",
    ),
    # The composite key makes a student of another school impossible to attach.
    ForeignKeyConstraint(
        ["school_id", "student_id"], ["students.school_id", "students.id"]
    ),
    Index("ix_incident_students_student", "student_id", "incident_id"),
)

incident_categories = Table(
    "incident_categories",
    Base.metadata,
    Column("incident_id", BigInteger, primary_key=True),
    Column("category_id", BigInteger, primary_key=True),
    Column("school_id", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["school_id", "incident_id"],
        ["incidents.school_id", "incidents.id"],
        ondelete="CASCADE",
    ),
    ForeignKeyConstraint(
        ["school_id", "category_id"], ["categories.school_id", "categories.id"]
    ),
    Index("ix_incident_categories_category", "category_id", "incident_id"),
)

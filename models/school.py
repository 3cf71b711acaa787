import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, one_of


class Role(enum.StrEnum):
    STAFF = "STAFF"
    KEY_USER = "KEY_USER"
    ADMIN = "ADMIN"


KEY_ROLES = (Role.KEY_USER, Role.ADMIN)


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), server_default="Europe/London")
    cases_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # The last incident number handed out; bumped under a row lock.
    last_incident_number: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("last_incident_number >= 0", name="number_not_negative"),
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))

    __table_args__ = (
        Index("uq_users_email_lower", text("lower(email)"), unique=True),
        CheckConstraint("position('@' in email) > 1", name="email_has_at"),
    )


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="role", native_enum=False, length=16)
    )
    # Leavers keep their row so history still names them with the role they had;
    # a removed membership no longer authenticates.
    removed_at: Mapped[datetime | None]

    __table_args__ = (one_of("role", Role),)


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    year_group: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None]
    # Leavers stay on record for safeguarding but are not offered for new incidents.
    left_school: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        UniqueConstraint("school_id", "external_id"),
        UniqueConstraint("school_id", "id"),
        Index("ix_students_school_name", "school_id", "name", "id"),
    )


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    name: Mapped[str] = mapped_column(String(120))

    __table_args__ = (
        UniqueConstraint("school_id", "name"),
        UniqueConstraint("school_id", "id"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
    )

"""The migrations build exactly the tables, columns and indexes the models say."""

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.migrate import compared
from models import Base
from models.incident import Incident
from tests.fixtures import add_incident
from tests.graphql import Api


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "include_object": compared,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_search_column_is_generated_as_the_model_says(db: AsyncEngine) -> None:
    # Autogenerate cannot compare generated columns; PostgreSQL prints the
    # expression back in its own form, so compare the functions it calls.
    async with db.connect() as conn:
        stored = await conn.scalar(
            text(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef AS d"
                " JOIN pg_attribute AS a"
                " ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
                " WHERE d.adrelid = 'incidents'::regclass"
                " AND a.attname = 'search_vector'"
            )
        )
    computed = Incident.__table__.c.search_vector.computed
    assert computed is not None
    for name in ("cases_school_words", "to_tsvector", "cases_fold"):
        assert name in str(computed.sqltext)
        assert name in stored


async def test_check_constraints_are_the_models(db: AsyncEngine) -> None:
    declared = {
        str(constraint.name)
        for table in Base.metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    async with db.connect() as conn:
        found = set(
            await conn.scalars(
                text(
                    "SELECT conname FROM pg_constraint"
                    " WHERE contype = 'c' AND connamespace = 'public'::regnamespace"
                )
            )
        )
    assert found == declared


async def test_database_refuses_an_unknown_status(api: Api, db: AsyncEngine) -> None:
    await add_incident(api, "teacher@primary.example")
    with pytest.raises(IntegrityError, match="ck_incidents_status_known"):
        async with db.begin() as conn:
            await conn.execute(text("UPDATE incidents SET status = 'CLOSD'"))

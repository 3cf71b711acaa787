"""Operator changes to a school as a whole."""

import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from models.school import School

logger = logging.getLogger(__name__)


async def set_cases_enabled(database_url: str, school_name: str, enabled: bool) -> None:
    """Switch the Cases module on or off; LookupError if there is no such school."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            statement = (
                update(School)
                .where(School.name == school_name)
                .values(cases_enabled=enabled)
                .returning(School.id)
            )
            school_id = (await conn.execute(statement)).scalar_one_or_none()
    finally:
        await engine.dispose()
    if school_id is None:
        raise LookupError(f"no school named {school_name!r}")
    logger.info("cases module %s for school %s", "on" if enabled else "off", school_id)

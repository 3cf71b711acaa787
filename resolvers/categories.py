"""addCategory: an Admin adds a category the school's incidents may be filed under."""

import logging

from models import clock
from models.rows import CategoryRow
from models.staff import ChangeSource, StaffChangeKind, insert_category, record_changes
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.reassign_cases import require_admin

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 120


async def add_category(ctx: Context, name: str) -> CategoryRow:
    viewer = require_admin(ctx, "add categories")
    clean = _checked_name(name)
    async with ctx.engine.begin() as conn:
        category_id = await insert_category(conn, viewer.school.id, clean)
        if category_id is None:
            raise BadUserInput("The school already has that category", field="name")
        change = {
            "school_id": viewer.school.id,
            "at": clock.now(),
            "source": ChangeSource.API,
            "actor_id": viewer.user.id,
            "kind": StaffChangeKind.CATEGORY_ADDED,
            "category_id": category_id,
        }
        await record_changes(conn, [change])
    logger.info(
        "category %s added by user %s in school %s",
        category_id,
        viewer.user.id,
        viewer.school.id,
    )
    return CategoryRow(id=category_id, name=clean)


def _checked_name(name: str) -> str:
    # Runs of spaces would make "Online  safety" a second "Online safety".
    clean = " ".join(name.split())
    if not clean:
        raise BadUserInput("Name the category", field="name")
    if len(clean) > MAX_NAME_CHARS:
        raise BadUserInput(
            f"The name is longer than {MAX_NAME_CHARS} characters", field="name"
        )
    return clean

"""Applying a checked roster file to a school: one transaction per file.

Keyed on the MIS's own identifiers (a student's external id, a member's
email), so running an import again changes only what changed: names, year
groups and roles are updated, newcomers added, and those missing from the file
marked as left. Students stay on record (safeguarding records outlive
enrolment); staff keep their user and their place in history, but lose their
membership, and with it their access.
"""

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.roster_csv import (
    Progress,
    RosterError,
    RosterFile,
    RosterKind,
    StudentEntry,
    chunks,
)
from models.roster_staff import HandoverNeeded, import_staff
from models.school import School
from models.staff import ChangeSource, StaffChangeKind, record_changes

__all__ = ["HandoverNeeded", "ImportResult", "import_roster"]

logger = logging.getLogger(__name__)

# First key of the advisory lock that keeps two imports into one school apart.
_IMPORT_LOCK = 7007


@dataclass(slots=True)
class ImportResult:
    kind: RosterKind
    added: int = 0
    returned: int = 0
    updated: int = 0
    left: int = 0
    unchanged: int = 0
    skipped_rows: int = 0
    handed_over: int = 0
    alert_ids: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts = asdict(self)
        del counts["alert_ids"]
        return counts | {"kind": self.kind.value}


async def import_roster(
    engine: AsyncEngine,
    school_name: str,
    roster: RosterFile,
    *,
    at: datetime,
    handover_to: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Apply one checked file in one transaction; bad rows are left out.

    Refuses (RosterError) a file without a single good row, which would mark
    everyone as left, and a staff file that names no Admin.
    """
    if roster.row_count == 0:
        raise RosterError(
            f"{roster.name} has no usable rows; refusing to mark everyone as left"
        )
    async with engine.begin() as conn:
        school_id = await school_id_by_name(conn, school_name)
        await conn.execute(select(func.pg_advisory_xact_lock(_IMPORT_LOCK, school_id)))
        result = ImportResult(roster.kind)
        if roster.kind is RosterKind.STAFF:
            await import_staff(
                conn,
                school_id,
                roster,
                result,
                handover_to=handover_to,
                at=at,
                progress=progress,
            )
        else:
            await _import_students(conn, school_id, roster, result, progress)
        result.skipped_rows = len(roster.bad_rows)
        await record_changes(conn, [_summary_change(school_id, result, at)])
    _log(school_id, result)
    return result


async def school_id_by_name(conn: AsyncConnection, name: str) -> int:
    school_id = await conn.scalar(select(School.id).where(School.name == name))
    if school_id is None:
        raise RosterError(f"no school is named {name!r}")
    return school_id


def _summary_change(
    school_id: int, result: ImportResult, at: datetime
) -> dict[str, Any]:
    return {
        "school_id": school_id,
        "at": at,
        "source": ChangeSource.IMPORT,
        "kind": StaffChangeKind.ROSTER_IMPORTED,
        "incident_count": result.handed_over or None,
        "summary": result.summary(),
    }


def _log(school_id: int, result: ImportResult) -> None:
    logger.info(
        "roster import into school %s: %s file, %s added, %s returned, "
        "%s updated, %s left, %s unchanged, %s bad rows skipped, "
        "%s incidents handed over",
        school_id,
        result.kind.value,
        result.added,
        result.returned,
        result.updated,
        result.left,
        result.unchanged,
        result.skipped_rows,
        result.handed_over,
    )


# Students ------------------------------------------------------------------


async def _import_students(
    conn: AsyncConnection,
    school_id: int,
    roster: RosterFile,
    result: ImportResult,
    progress: Progress | None,
) -> None:
    upsert = _UPSERT_STUDENTS[roster.has_dates_of_birth]
    for chunk in chunks(roster.students):
        params = _student_columns(chunk) | {"school_id": school_id}
        for (inserted,) in await conn.execute(upsert, params):
            result.added += inserted
            result.updated += not inserted
        if progress is not None:
            progress(len(chunk))
    result.unchanged = len(roster.students) - result.added - result.updated
    present = [entry.external_id for entry in roster.students]
    params = {
        "school_id": school_id,
        "present": present + sorted(roster.protected_keys),
    }
    result.left = (await conn.execute(_MARK_STUDENTS_LEFT, params)).rowcount


def _student_columns(chunk: Sequence[StudentEntry]) -> dict[str, list[Any]]:
    return {
        "external_ids": [entry.external_id for entry in chunk],
        "names": [entry.name for entry in chunk],
        "year_groups": [entry.year_group for entry in chunk],
        "dates": [entry.date_of_birth for entry in chunk],
    }


# One statement per chunk whatever its size: the rows travel as arrays. Only
# rows that change come back, and xmax is 0 for a row the statement inserted,
# so each returned row says whether it is new or updated. Without a date of
# birth column in the file, the dates on record are kept.
_UPSERT_STUDENTS_SQL = """
    INSERT INTO students AS s (school_id, external_id, name, year_group, date_of_birth)
    SELECT CAST(:school_id AS bigint), external_id, name, year_group, date_of_birth
    FROM unnest(
        CAST(:external_ids AS text[]), CAST(:names AS text[]),
        CAST(:year_groups AS text[]), CAST(:dates AS date[])
    ) AS row (external_id, name, year_group, date_of_birth)
    ON CONFLICT (school_id, external_id) DO UPDATE
    SET name = excluded.name, year_group = excluded.year_group,{dates_set}
        left_school = false
    WHERE (s.name, s.year_group{dates_old}) IS DISTINCT FROM
          (excluded.name, excluded.year_group{dates_new})
       OR s.left_school
    RETURNING s.xmax = 0
"""
_UPSERT_STUDENTS = {
    True: text(
        _UPSERT_STUDENTS_SQL.format(
            dates_set=" date_of_birth = excluded.date_of_birth,",
            dates_old=", s.date_of_birth",
            dates_new=", excluded.date_of_birth",
        )
    ),
    False: text(_UPSERT_STUDENTS_SQL.format(dates_set="", dates_old="", dates_new="")),
}

# Students without an external id were not added by an import: the MIS cannot
# speak for them, so they are left as they are.
_MARK_STUDENTS_LEFT = text(
    """
    UPDATE students SET left_school = true
    WHERE school_id = :school_id AND NOT left_school
      AND external_id IS NOT NULL
      AND NOT (external_id = ANY(CAST(:present AS text[])))
    """
)

"""Reading the CSV exports of a school's management information system (MIS).

A staff file has name, email and role columns; a student file has external
id, name, year group and, optionally, date of birth. Which one a file is comes
from its header, read leniently: case, spaces, underscores and hyphens do not
matter, a byte-order mark is ignored and extra columns are skipped. Every row
is checked before anything is written; a bad row is kept with its line number
and reason, and with its key (email or external id) when that could be read.
"""

import csv
import enum
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from models.school import Role

if TYPE_CHECKING:
    from _csv import Reader

MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 320
MAX_EXTERNAL_ID_CHARS = 100
MAX_YEAR_GROUP_CHARS = 40

T = TypeVar("T")
# Told how many more rows were read or written, for a progress bar.
Progress = Callable[[int], None]

# Rows per INSERT: large enough to be quick, small enough to show progress.
CHUNK_ROWS = 500

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SEPARATORS = re.compile(r"[\s_\-]+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")

# Header spellings seen in MIS exports, after normalising (see _normalise).
STAFF_COLUMNS = {
    "name": ("name", "full name"),
    "email": ("email", "email address", "e mail"),
    "role": ("role",),
}
STUDENT_COLUMNS = {
    "external_id": ("external id", "mis id", "upn"),
    "name": ("name", "full name"),
    "year_group": ("year group", "year"),
}
OPTIONAL_STUDENT_COLUMNS = {"date_of_birth": ("date of birth", "dob")}


class RosterError(Exception):
    """A refusal the operator fixes: one line saying what and how."""


class RosterKind(enum.StrEnum):
    STAFF = "staff"
    STUDENTS = "students"


@dataclass(frozen=True, slots=True)
class StaffEntry:
    line: int
    name: str
    email: str
    role: Role


@dataclass(frozen=True, slots=True)
class StudentEntry:
    line: int
    external_id: str
    name: str
    year_group: str | None
    date_of_birth: date | None


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str
    # The row's email or external id when readable: a row skipped for another
    # fault must not make its person look as if they had left.
    key: str | None


@dataclass(slots=True)
class RosterFile:
    name: str
    kind: RosterKind
    staff: list[StaffEntry] = field(default_factory=list)
    students: list[StudentEntry] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    # False when the student file has no date of birth column at all, so the
    # dates already on record are kept rather than cleared.
    has_dates_of_birth: bool = False

    @property
    def row_count(self) -> int:
        return len(self.staff) + len(self.students)

    @property
    def protected_keys(self) -> set[str]:
        return {bad.key for bad in self.bad_rows if bad.key is not None}


class _BadValue(Exception):
    pass


def read_roster(
    name: str,
    text: str,
    *,
    today: date,
    progress: Progress | None = None,
) -> RosterFile:
    """Parse and check every row of one file; refuse an unrecognised header."""
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(rows, None)
    if header is None:
        raise RosterError(f"{name} is empty")
    kind, columns = _columns(name, header)
    roster = RosterFile(name, kind, has_dates_of_birth="date_of_birth" in columns)
    seen: dict[str, int] = {}
    try:
        for line, cells in _numbered(rows):
            _read_row(roster, columns, len(header), line, cells, seen, today)
            if progress is not None:
                progress(1)
    except csv.Error as error:
        # The reader lost its place (a field past its size limit): no later
        # line could be trusted, so the whole file is refused.
        raise RosterError(
            f"{name} line {rows.line_num}: not readable as CSV ({error})"
        ) from error
    return roster


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """A file's rows, a statement's worth at a time."""
    for start in range(0, len(items), CHUNK_ROWS):
        yield items[start : start + CHUNK_ROWS]


def _numbered(rows: "Reader") -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on; quoted fields may span lines."""
    line = rows.line_num + 1
    for cells in rows:
        if any(cell.strip() for cell in cells):
            yield line, cells
        line = rows.line_num + 1


def _normalise(heading: str) -> str:
    return _SEPARATORS.sub(" ", heading.strip().lower()).strip()


def _find(headings: list[str], wanted: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    found = {}
    for key, spellings in wanted.items():
        for index, heading in enumerate(headings):
            if heading in spellings:
                found[key] = index
                break
    return found


def _columns(name: str, header: list[str]) -> tuple[RosterKind, dict[str, int]]:
    headings = [_normalise(heading) for heading in header]
    staff = _find(headings, STAFF_COLUMNS)
    students = _find(headings, STUDENT_COLUMNS)
    is_staff = len(staff) == len(STAFF_COLUMNS)
    is_students = len(students) == len(STUDENT_COLUMNS)
    if is_staff and not is_students:
        return RosterKind.STAFF, staff
    if is_students and not is_staff:
        optional = _find(headings, OPTIONAL_STUDENT_COLUMNS)
        return RosterKind.STUDENTS, students | optional
    raise RosterError(
        f"{name}: the header names neither a staff file (name, email, role) nor "
        "a student file (external id, name, year group, optional date of birth)"
    )


def _read_row(
    roster: RosterFile,
    columns: dict[str, int],
    width: int,
    line: int,
    cells: list[str],
    seen: dict[str, int],
    today: date,
) -> None:
    values = {key: _cell(cells, index) for key, index in columns.items()}
    key_name = "email" if roster.kind is RosterKind.STAFF else "external_id"
    key = values[key_name] or None
    if key is not None and roster.kind is RosterKind.STAFF:
        key = key.lower()
    try:
        _check_characters(cells)
        _check_width(cells, width)
        _check_repeat(key, seen, line)
        if roster.kind is RosterKind.STAFF:
            roster.staff.append(_staff_entry(line, values))
        else:
            roster.students.append(_student_entry(line, values, today))
    except _BadValue as bad:
        roster.bad_rows.append(BadRow(line, str(bad), key))


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _check_characters(cells: list[str]) -> None:
    # PostgreSQL cannot store U+0000 in text; U+FFFD is what a decoder leaves
    # for a byte it could not read, and would be stored as a changed name.
    for cell in cells:
        if "\x00" in cell:
            raise _BadValue("holds a NUL character")
        if "\ufffd" in cell:
            raise _BadValue("holds an unreadable character (U+FFFD)")


def _check_width(cells: list[str], width: int) -> None:
    extra = [cell for cell in cells[width:] if cell.strip()]
    if extra:
        raise _BadValue(f"has {len(cells)} fields; the header has {width}")


def _check_repeat(key: str | None, seen: dict[str, int], line: int) -> None:
    if key is None:
        return
    first = seen.setdefault(key, line)
    if first != line:
        raise _BadValue(f"repeats the person on line {first}")


def _staff_entry(line: int, values: dict[str, str]) -> StaffEntry:
    email = values["email"]
    if not email:
        raise _BadValue("email is blank")
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(email):
        raise _BadValue("email is not an email address")
    return StaffEntry(
        line=line,
        name=_name(values["name"]),
        email=email,
        role=_role(values["role"]),
    )


def _student_entry(line: int, values: dict[str, str], today: date) -> StudentEntry:
    external_id = values["external_id"]
    if not external_id:
        raise _BadValue("external id is blank")
    if len(external_id) > MAX_EXTERNAL_ID_CHARS:
        raise _BadValue(f"external id is longer than {MAX_EXTERNAL_ID_CHARS}")
    year_group = values["year_group"] or None
    if year_group is not None and len(year_group) > MAX_YEAR_GROUP_CHARS:
        raise _BadValue(f"year group is longer than {MAX_YEAR_GROUP_CHARS}")
    return StudentEntry(
        line=line,
        external_id=external_id,
        name=_name(values["name"]),
        year_group=year_group,
        date_of_birth=_date_of_birth(values.get("date_of_birth", ""), today),
    )


def _name(value: str) -> str:
    if not value:
        raise _BadValue("name is blank")
    if len(value) > MAX_NAME_CHARS:
        raise _BadValue(f"name is longer than {MAX_NAME_CHARS} characters")
    return value


def _role(value: str) -> Role:
    normal = _SEPARATORS.sub("_", value.strip().upper())
    try:
        return Role(normal)
    except ValueError:
        raise _BadValue("role must be STAFF, KEY_USER or ADMIN") from None


def _date_of_birth(value: str, today: date) -> date | None:
    if not value:
        return None
    # Matched by hand: strptime costs more than the rest of a row's checks.
    iso, uk = _ISO_DATE.fullmatch(value), _UK_DATE.fullmatch(value)
    try:
        if iso is not None:
            born = date(*(int(part) for part in iso.groups()))
        elif uk is not None:
            day, month, year = (int(part) for part in uk.groups())
            born = date(year, month, day)
        else:
            raise ValueError(value)
    except ValueError:
        raise _BadValue(
            "date of birth is not a date (YYYY-MM-DD or DD/MM/YYYY)"
        ) from None
    if born > today:
        raise _BadValue("date of birth is in the future")
    return born

"""`cases roster import`: MIS exports in, staff and students out, leavers kept."""

import csv
import io
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cases.mailcatcher import MailCatcher
from cases.roster import ProgressBar
from cases.settings import Settings
from models.roster import HandoverNeeded, ImportResult, import_roster
from models.roster_csv import RosterError, RosterFile, RosterKind, read_roster
from tests.graphql import Api
from workers.settings import build_worker

SCHOOL = "Oakfield Academy"
# The console script, as operators run it. (`python -m cases.cli` would load
# cases.cli twice, and its CliError check would miss errors raised here.)
COMMAND = str(Path(sys.executable).with_name("cases"))
SAMPLES = Path(__file__).resolve().parent.parent / "docs" / "samples"
ADMIN = "p.raman@oakfield.example"
WEBB = "m.webb@oakfield.example"
DOYLE = "s.doyle@oakfield.example"
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ADD = """
mutation ($input: AddIncidentInput!) { addIncident(input: $input) { incident { id } } }
"""
PICKERS = "{ students(first: 100) { nodes { id name } } categories { id } }"
INCIDENTS = """
{ incidents(first: 100) { nodes {
    version edited assignedTo { email }
    history { kind actor { email } fromAssignee { email } toAssignee { email } }
} } }
"""


@pytest.fixture
async def school(clean_slate: None, db: AsyncEngine) -> AsyncIterator[int]:
    """A school of its own, so imports cannot disturb the demo schools; it and
    everything imported into it is gone after the test."""
    async with db.begin() as conn:
        school_id = await conn.scalar(
            text("INSERT INTO schools (name) VALUES (:n) RETURNING id"), {"n": SCHOOL}
        )
        await conn.execute(
            text("INSERT INTO categories (school_id, name) VALUES (:s, 'Bullying')"),
            {"s": school_id},
        )
    yield school_id
    async with db.begin() as conn:
        # Replica mode skips the append-only triggers and the foreign keys;
        # only this suite, as a superuser, can do it. Incidents and outbox
        # rows go with the clean slate that runs after this.
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("TRUNCATE staff_changes"))
        for table in ("students", "categories", "memberships"):
            await conn.execute(
                text(f"DELETE FROM {table} WHERE school_id = :s"), {"s": school_id}
            )
        await conn.execute(text("DELETE FROM schools WHERE id = :s"), {"s": school_id})


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def roster(name: str, content: str) -> RosterFile:
    return read_roster(name, content, today=TODAY)


async def load(
    db: AsyncEngine, name: str, content: str, **options: Any
) -> ImportResult:
    return await import_roster(db, SCHOOL, roster(name, content), at=NOW, **options)


async def load_samples(db: AsyncEngine) -> None:
    await load(db, "staff.csv", sample("staff.csv"))
    await load(db, "students.csv", sample("students.csv"))


def without(content: str, *needles: str) -> str:
    lines = content.splitlines(keepends=True)
    return "".join(line for line in lines if not any(n in line for n in needles))


async def rows(db: AsyncEngine, query: str, **params: Any) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        result = await conn.execute(text(query), params)
        return [dict(row._mapping) for row in result]


async def students(db: AsyncEngine, school_id: int) -> dict[str, dict[str, Any]]:
    found = await rows(
        db,
        "SELECT external_id, name, year_group, date_of_birth, left_school "
        "FROM students WHERE school_id = :s",
        s=school_id,
    )
    return {row["external_id"]: row for row in found}


async def members(db: AsyncEngine, school_id: int) -> dict[str, tuple[str, bool]]:
    found = await rows(
        db,
        "SELECT lower(u.email) AS email, m.role, m.removed_at IS NOT NULL AS left_ "
        "FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.school_id = :s",
        s=school_id,
    )
    return {row["email"]: (row["role"], row["left_"]) for row in found}


async def changes(db: AsyncEngine) -> list[str]:
    found = await rows(db, "SELECT kind FROM staff_changes ORDER BY id")
    return [row["kind"] for row in found]


async def assign_incidents(api: Api, assignee: str, count: int) -> list[str]:
    pickers = (await api.as_user(ADMIN, PICKERS, school=SCHOOL)).data
    assignee_id = (
        await api.as_user(assignee, "{ viewer { user { id } } }", school=SCHOOL)
    ).data["viewer"]["user"]["id"]
    ids = []
    for n in range(count):
        payload = {
            "studentIds": [pickers["students"]["nodes"][n]["id"]],
            "categoryIds": [pickers["categories"][0]["id"]],
            "description": "Said an older pupil keeps taking their bus pass.",
            "occurredAt": "2026-11-18T12:30:00+00:00",
            "assignedToId": assignee_id,
        }
        answer = await api.as_user(ADMIN, ADD, {"input": payload}, school=SCHOOL)
        ids.append(answer.data["addIncident"]["incident"]["id"])
    return ids


# The files -------------------------------------------------------------------


async def test_sample_files_import_staff_and_students(
    api: Api, db: AsyncEngine, school: int
) -> None:
    staff = await load(db, "staff.csv", sample("staff.csv"))
    pupils = await load(db, "students.csv", sample("students.csv"))

    assert (staff.kind, staff.added, staff.left) == (RosterKind.STAFF, 10, 0)
    assert (pupils.kind, pupils.added, pupils.left) == (RosterKind.STUDENTS, 16, 0)
    people = await members(db, school)
    assert people[ADMIN] == ("ADMIN", False)
    assert people[WEBB] == people[DOYLE] == ("KEY_USER", False)
    assert sum(role == "STAFF" for role, _ in people.values()) == 7
    found = await students(db, school)
    assert found["A1001"]["date_of_birth"] == date(2014, 3, 14)
    assert found["A1003"]["date_of_birth"] is None
    assert found["A1016"]["name"] == "Smith-Jones, Poppy"
    seen = await api.as_user(ADMIN, "{ keyUsers { email } }", school=SCHOOL)
    assert {user["email"] for user in seen.data["keyUsers"]} == {ADMIN, WEBB, DOYLE}
    offered = (await api.as_user(ADMIN, PICKERS, school=SCHOOL)).data
    assert len(offered["students"]["nodes"]) == 16
    kinds = await changes(db)
    assert kinds.count("MEMBER_ADDED") == 10
    assert kinds.count("ROSTER_IMPORTED") == 2


async def test_importing_again_changes_nothing(db: AsyncEngine, school: int) -> None:
    await load_samples(db)
    before = await changes(db)

    staff = await load(db, "staff.csv", sample("staff.csv"))
    pupils = await load(db, "students.csv", sample("students.csv"))

    assert (staff.added, staff.updated, staff.left, staff.unchanged) == (0, 0, 0, 10)
    assert (pupils.added, pupils.updated, pupils.left, pupils.unchanged) == (
        0,
        0,
        0,
        16,
    )
    assert await changes(db) == [*before, "ROSTER_IMPORTED", "ROSTER_IMPORTED"]


async def test_reimport_updates_adds_and_marks_leavers(
    api: Api, db: AsyncEngine, school: int
) -> None:
    await load_samples(db)
    pupils = (
        without(sample("students.csv"), "A1005")
        .replace("Ben Carter", "Benjamin Carter")
        .replace("A1007,George Turner,Year 9", "A1007,George Turner,Year 10")
        + "A1017,Rosa Fernandes,Year 7,01/09/2014\n"
    )
    staff = (
        without(sample("staff.csv"), "o.jenkins").replace(
            "Chloe Bennett,c.bennett@oakfield.example,Staff",
            "Chloe Bennett,C.Bennett@Oakfield.example,Key User",
        )
        + "Ravi Patel,r.patel@oakfield.example,Staff\n"
    )

    students_result = await load(db, "students.csv", pupils)
    staff_result = await load(db, "staff.csv", staff)

    assert (students_result.added, students_result.updated) == (1, 2)
    assert (students_result.left, students_result.unchanged) == (1, 13)
    found = await students(db, school)
    assert found["A1002"]["name"] == "Benjamin Carter"
    assert found["A1007"]["year_group"] == "Year 10"
    assert found["A1005"]["left_school"] is True
    offered = (await api.as_user(ADMIN, PICKERS, school=SCHOOL)).data
    names = {node["name"] for node in offered["students"]["nodes"]}
    assert "Ethan Mills" not in names and "Rosa Fernandes" in names
    assert (staff_result.added, staff_result.updated, staff_result.left) == (1, 1, 1)
    people = await members(db, school)
    assert people["o.jenkins@oakfield.example"] == ("STAFF", True)
    assert people["c.bennett@oakfield.example"] == ("KEY_USER", False)
    answer = await api.as_user(
        "o.jenkins@oakfield.example", "{ viewer { user { id } } }", school=SCHOOL
    )
    assert answer.code == "UNAUTHENTICATED"

    back = await load(db, "students.csv", sample("students.csv"))
    assert back.left == 1  # A1017 is not in the original file
    assert (await students(db, school))["A1005"]["left_school"] is False


async def test_header_is_read_leniently() -> None:
    content = (
        "\ufeff EXTERNAL_ID ,Name,year-group,DOB,Tutor\n"
        "X1,Ana Silva,Year 8,2012-05-01,7B\n"
    )

    found = roster("pupils.csv", content)

    assert found.kind is RosterKind.STUDENTS
    [entry] = found.students
    assert (entry.external_id, entry.year_group) == ("X1", "Year 8")
    assert entry.date_of_birth == date(2012, 5, 1)
    with pytest.raises(RosterError, match="neither a staff file"):
        roster("other.csv", "Surname,Forename\nSilva,Ana\n")


def test_every_bad_row_is_reported_with_its_line() -> None:
    content = (
        "Name,Email,Role\n"
        "Priya Raman,p.raman@oakfield.example,Admin\n"
        ",blank.name@oakfield.example,Staff\n"
        "No At,no-at.oakfield.example,Staff\n"
        "Wrong Role,wrong.role@oakfield.example,Governor\n"
        '"Multi\nLine",P.Raman@oakfield.example,Staff\n'
        "Too Many,too.many@oakfield.example,Staff,extra\n"
    )

    found = roster("staff.csv", content)

    assert [(bad.line, bad.reason) for bad in found.bad_rows] == [
        (3, "name is blank"),
        (4, "email is not an email address"),
        (5, "role must be STAFF, KEY_USER or ADMIN"),
        (6, "repeats the person on line 2"),
        (8, "has 4 fields; the header has 3"),
    ]
    assert len(found.staff) == 1


def test_unstorable_characters_are_bad_rows() -> None:
    content = (
        "External ID,Name,Year Group\n"
        "A1,Ana\x00 Silva,Year 8\n"
        "A2,Bo \ufffd Li,Year 8\n"
        "A3,Cy Ward,Year 8\n"
    )

    found = roster("students.csv", content)

    assert [(bad.line, bad.reason, bad.key) for bad in found.bad_rows] == [
        (2, "holds a NUL character", "A1"),
        (3, "holds an unreadable character (U+FFFD)", "A2"),
    ]
    assert [entry.external_id for entry in found.students] == ["A3"]


def test_unreadable_csv_is_refused_with_its_line() -> None:
    huge = "x" * (csv.field_size_limit() + 1)
    content = f"External ID,Name,Year Group\nA1,Ana Silva,Year 8\nA2,{huge},Year 8\n"

    with pytest.raises(RosterError, match=r"students.csv line 3: not readable as CSV"):
        roster("students.csv", content)


def test_student_dates_are_checked() -> None:
    content = (
        "External ID,Name,Year Group,Date of Birth\n"
        "A1,Ana Silva,Year 8,31/02/2012\n"
        "A2,Bo Li,Year 8,01/01/2030\n"
        "A3,Cy Ward,Year 8,2012-01-30\n"
    )

    found = roster("students.csv", content)

    assert [(bad.line, bad.reason, bad.key) for bad in found.bad_rows] == [
        (2, "date of birth is not a date (YYYY-MM-DD or DD/MM/YYYY)", "A1"),
        (3, "date of birth is in the future", "A2"),
    ]


async def test_skipped_bad_row_does_not_mark_its_student_left(
    db: AsyncEngine, school: int
) -> None:
    await load_samples(db)
    pupils = sample("students.csv").replace("21/06/2012", "someday")
    checked = roster("students.csv", pupils)
    assert [bad.line for bad in checked.bad_rows] == [5]

    result = await import_roster(db, SCHOOL, checked, at=NOW)

    assert (result.left, result.skipped_rows, result.unchanged) == (0, 1, 15)
    assert (await students(db, school))["A1004"]["left_school"] is False


async def test_file_without_rows_or_admin_is_refused(
    db: AsyncEngine, school: int
) -> None:
    await load_samples(db)

    with pytest.raises(RosterError, match="no usable rows"):
        await load(db, "students.csv", "External ID,Name,Year Group\n")
    with pytest.raises(RosterError, match="names no ADMIN"):
        await load(db, "staff.csv", sample("staff.csv").replace(",Admin", ",Staff"))
    with pytest.raises(RosterError, match="no school is named"):
        staff = roster("staff.csv", sample("staff.csv"))
        await import_roster(db, "Nowhere High", staff, at=NOW)
    assert len(await students(db, school)) == 16


async def test_import_logs_counts_and_ids_only(
    db: AsyncEngine, school: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="models.roster"):
        await load_samples(db)

    assert "10 added" in caplog.text and "16 added" in caplog.text
    for secret in ("oakfield.example", "Priya", "Raman", "Aisha", "A1001"):
        assert secret not in caplog.text


def test_progress_bar_draws_only_for_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar("writing staff.csv", 4, stream)
        for _ in range(4):
            bar(1)
        bar.close()

    assert terminal.getvalue().endswith("writing staff.csv [" + "#" * 30 + "] 100%\n")
    assert terminal.getvalue().count("\r") == 4
    assert pipe.getvalue() == ""


# Leavers and their cases -------------------------------------------------------


async def test_key_user_leaving_with_cases_is_refused(
    api: Api, db: AsyncEngine, school: int
) -> None:
    await load_samples(db)
    await assign_incidents(api, WEBB, 3)
    before = await changes(db)

    with pytest.raises(HandoverNeeded) as refused:
        await load(db, "staff.csv", without(sample("staff.csv"), WEBB))

    assert "3 ACTIVE incidents" in str(refused.value)
    assert f"{WEBB} holds 3" in str(refused.value)
    assert (await members(db, school))[WEBB] == ("KEY_USER", False)
    state = (await api.as_user(ADMIN, INCIDENTS, school=SCHOOL)).data
    assert {node["assignedTo"]["email"] for node in state["incidents"]["nodes"]} == {
        WEBB
    }
    assert await changes(db) == before


async def test_key_user_becoming_staff_with_cases_is_refused(
    api: Api, db: AsyncEngine, school: int
) -> None:
    await load_samples(db)
    await assign_incidents(api, DOYLE, 1)
    demoted = sample("staff.csv").replace(f"{DOYLE},KEY_USER", f"{DOYLE},Staff")

    with pytest.raises(HandoverNeeded, match="1 ACTIVE incident would"):
        await load(db, "staff.csv", demoted)

    result = await load(db, "staff.csv", demoted, handover_to=ADMIN)
    assert (result.updated, result.handed_over) == (1, 1)
    assert (await members(db, school))[DOYLE] == ("STAFF", False)


async def test_leaver_cases_handed_over_with_one_alert(
    api: Api, db: AsyncEngine, school: int
) -> None:
    await load_samples(db)
    await assign_incidents(api, WEBB, 3)

    result = await load(
        db, "staff.csv", without(sample("staff.csv"), WEBB), handover_to=DOYLE.upper()
    )

    assert (result.left, result.handed_over, len(result.alert_ids)) == (1, 3, 1)
    assert (await members(db, school))[WEBB] == ("KEY_USER", True)
    nodes = (await api.as_user(ADMIN, INCIDENTS, school=SCHOOL)).data["incidents"]
    for node in nodes["nodes"]:
        assert (node["assignedTo"]["email"], node["version"], node["edited"]) == (
            DOYLE,
            2,
            True,
        )
        assert node["history"][-1] == {
            "kind": "ASSIGNED",
            "actor": None,
            "fromAssignee": {"email": WEBB},
            "toAssignee": {"email": DOYLE},
        }
    [alert] = await rows(db, "SELECT * FROM alert_outbox WHERE incident_id IS NULL")
    assert (alert["incident_id"], alert["incident_count"]) == (None, 3)
    assert alert["id"] == result.alert_ids[0]
    handed = await rows(
        db, "SELECT incident_count FROM staff_changes WHERE kind = 'CASES_HANDED_OVER'"
    )
    assert handed == [{"incident_count": 3}]


async def test_handover_target_must_be_key_user_in_the_file(
    db: AsyncEngine, school: int
) -> None:
    await load_samples(db)

    for target in ("t.nowak@oakfield.example", "someone@elsewhere.example"):
        with pytest.raises(RosterError, match="--handover-to must name"):
            await load(db, "staff.csv", sample("staff.csv"), handover_to=target)


# The command -------------------------------------------------------------------


@pytest.fixture
def cli(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL")
    }
    env |= {"DATABASE_URL": str(settings.database_url), "DATA_DIR": str(tmp_path)}

    def run(*args: str, redis: bool = False) -> subprocess.CompletedProcess[str]:
        extra = {"REDIS_URL": str(settings.redis_url)} if redis else {}
        return subprocess.run(
            [COMMAND, "roster", "import", SCHOOL, *args],
            env=env | extra,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    yield run


def write(folder: Path, name: str, content: str) -> str:
    path = folder / name
    path.write_text(content)
    return str(path)


async def test_command_imports_and_summarises(
    cli: Any, db: AsyncEngine, school: int
) -> None:
    done = cli(str(SAMPLES / "staff.csv"), str(SAMPLES / "students.csv"))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "staff.csv: 10 added, 0 updated, 0 marked as left, 0 unchanged",
        "students.csv: 16 added, 0 updated, 0 marked as left, 0 unchanged",
    ]
    assert "oakfield.example" not in done.stderr
    assert len(await students(db, school)) == 16


async def test_command_with_bad_rows_changes_nothing_unless_skipping(
    cli: Any, db: AsyncEngine, school: int, tmp_path: Path
) -> None:
    content = sample("students.csv").replace("A1003,", ",").replace("A1009,", "A1008,")
    path = write(tmp_path, "students.csv", content)

    refused = cli(path)

    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "students.csv line 4: bad row: external id is blank",
        "students.csv line 10: bad row: repeats the person on line 9",
        "cases: error: 2 bad rows in 1 file; nothing was changed (fix them, or "
        "pass --skip-bad-rows)",
    ]
    assert await students(db, school) == {}

    skipped = cli(path, "--skip-bad-rows")

    assert skipped.returncode == 0, skipped.stderr
    assert "students.csv line 4: skipped: external id is blank" in skipped.stderr
    assert skipped.stdout.startswith("students.csv: 14 added, ")
    assert "2 bad rows skipped" in skipped.stdout


async def test_command_refuses_a_file_in_no_known_encoding(
    cli: Any, db: AsyncEngine, school: int, tmp_path: Path
) -> None:
    path = tmp_path / "students.csv"
    # 0x81 is undefined in Windows-1252, and this is not UTF-8 either.
    path.write_bytes(b"External ID,Name,Year Group\nA1,Ana \x81Silva,Year 8\n")

    refused = cli(str(path))

    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "cases: error: students.csv is neither UTF-8 nor Windows-1252 text"
        " (byte 35); export it again as CSV in UTF-8"
    ]
    assert await students(db, school) == {}


async def test_command_refuses_leaver_with_cases_in_one_line(
    cli: Any, api: Api, db: AsyncEngine, school: int, tmp_path: Path
) -> None:
    await load_samples(db)
    await assign_incidents(api, WEBB, 2)
    path = write(tmp_path, "staff.csv", without(sample("staff.csv"), WEBB))

    refused = cli(path)

    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("cases: error: 2 ACTIVE incidents would be left with ")
    assert f"({WEBB} holds 2)" in line and "--handover-to EMAIL" in line


async def test_command_handover_sends_one_email(
    cli: Any,
    api: Api,
    db: AsyncEngine,
    school: int,
    tmp_path: Path,
    settings: Settings,
    mail: MailCatcher,
) -> None:
    await load_samples(db)
    await assign_incidents(api, WEBB, 3)
    path = write(tmp_path, "staff.csv", without(sample("staff.csv"), WEBB))
    mail.clear()

    done = cli(path, "--handover-to", DOYLE, redis=True)

    assert done.returncode == 0, done.stderr
    assert "3 incidents handed over" in done.stdout
    worker = build_worker(settings, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    [message] = mail.messages
    assert message["To"] == f"Siobhan Doyle <{DOYLE}>"
    assert message["Subject"] == f"3 incidents handed over to you - {SCHOOL}"
    body = message.as_string()
    assert "https://cases.test/incidents" in body
    for secret in ("Aisha", "Begum", "bus pass", WEBB):
        assert secret not in body
    mail.clear()

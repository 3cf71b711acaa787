"""`cases roster import SCHOOL FILE...`: a school's staff and students from the
CSV exports of its management information system (docs/roster.md).

Every file is read and checked before anything is written; a file with bad
rows changes nothing unless --skip-bad-rows. Each file is then applied in a
transaction of its own, in the order given. Only counts go to the log.
"""

import argparse
import asyncio
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cases.settings import Settings

if TYPE_CHECKING:
    from models.roster import ImportResult
    from models.roster_csv import RosterFile

# Windows MIS exports are often in the ANSI code page rather than UTF-8.
_FALLBACK_ENCODING = "cp1252"
_BAR_CELLS = 30


def add_roster_parser(subparsers: Any) -> None:
    """Register `roster import` on the `cases` command's subparsers."""
    roster = subparsers.add_parser(
        "roster", help="import a school's staff and students"
    )
    actions = roster.add_subparsers(required=True, metavar="ACTION")
    load = actions.add_parser(
        "import",
        help="import staff and student CSV files",
        description="Import MIS exports: a staff file (name, email, role) and/or a "
        "student file (external id, name, year group, optional date of birth). "
        "People missing from a file are marked as left.",
    )
    load.add_argument("school", metavar="SCHOOL", help="the school's name")
    load.add_argument("files", metavar="FILE", nargs="+", type=Path)
    load.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="import the good rows of a file that has bad ones",
    )
    load.add_argument(
        "--handover-to",
        metavar="EMAIL",
        help="a KEY_USER or ADMIN in the staff file who takes over the ACTIVE "
        "incidents of those leaving or becoming STAFF",
    )
    load.set_defaults(command=import_command)


def import_command(settings: Settings, args: argparse.Namespace) -> int:
    from cases.cli import CliError
    from cases.embedded import resolve_settings
    from models.roster_csv import RosterError

    try:
        rosters = [_read(path) for path in args.files]
    except RosterError as error:
        raise CliError(str(error)) from error
    _check_bad_rows(rosters, args.skip_bad_rows)
    with ExitStack() as stack:
        started = resolve_settings(settings, stack, redis=False, smtp=False)
        asyncio.run(_import_all(started, args.school, rosters, args.handover_to))
    return 0


def _read(path: Path) -> "RosterFile":
    from models import clock
    from models.roster_csv import RosterError, read_roster

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RosterError(f"cannot read {path}: {error.strerror}") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = raw.decode(_FALLBACK_ENCODING)
        except UnicodeDecodeError as error:
            raise RosterError(
                f"{path.name} is neither UTF-8 nor Windows-1252 text (byte"
                f" {error.start}); export it again as CSV in UTF-8"
            ) from error
    bar = ProgressBar(f"checking {path.name}", text.count("\n"))
    roster = read_roster(path.name, text, today=clock.now().date(), progress=bar)
    bar.close()
    return roster


def _check_bad_rows(rosters: list["RosterFile"], skip: bool) -> None:
    from cases.cli import CliError

    bad = [(roster, row) for roster in rosters for row in roster.bad_rows]
    for roster, row in bad:
        verdict = "skipped" if skip else "bad row"
        line = f"{roster.name} line {row.line}: {verdict}: {row.reason}"
        print(line, file=sys.stderr)
    if bad and not skip:
        files = len({roster.name for roster, _ in bad})
        raise CliError(
            f"{_plural(len(bad), 'bad row')} in {_plural(files, 'file')}; nothing "
            "was changed (fix them, or pass --skip-bad-rows)"
        )


async def _import_all(
    settings: Settings,
    school: str,
    rosters: list["RosterFile"],
    handover_to: str | None,
) -> None:
    from cases.db import make_engine

    engine = make_engine(settings, pool_size=1)
    try:
        done: list[str] = []
        for roster in rosters:
            result = await _import_one(engine, school, roster, handover_to, done)
            print(f"{roster.name}: {describe(result)}", flush=True)
            done.append(roster.name)
            await _enqueue(settings, result.alert_ids)
    finally:
        await engine.dispose()


async def _import_one(
    engine: Any,
    school: str,
    roster: "RosterFile",
    handover_to: str | None,
    done: list[str],
) -> "ImportResult":
    from cases.cli import CliError
    from models import clock
    from models.roster import import_roster
    from models.roster_csv import RosterError

    bar = ProgressBar(f"writing {roster.name}", roster.row_count)
    try:
        return await import_roster(
            engine,
            school,
            roster,
            at=clock.now(),
            handover_to=handover_to,
            progress=bar,
        )
    except RosterError as error:
        kept = f" ({', '.join(done)} already imported)" if done else ""
        raise CliError(f"{error}{kept}") from error
    finally:
        bar.close()


async def _enqueue(settings: Settings, alert_ids: list[int]) -> None:
    """Queue the handover alert now if Redis is configured; otherwise the
    worker's outbox sweep sends it within a minute or so."""
    if not alert_ids or settings.redis_url is None:
        return
    from arq import create_pool

    from cases.redis import redis_settings_from_url
    from resolvers.alerts import enqueue_alerts

    pool = await create_pool(redis_settings_from_url(settings.redis_url))
    try:
        await enqueue_alerts(pool, alert_ids)
    finally:
        await pool.aclose()


def describe(result: "ImportResult") -> str:
    parts = [
        f"{result.added} added",
        f"{result.updated} updated",
        f"{result.left} marked as left",
        f"{result.unchanged} unchanged",
    ]
    if result.returned:
        parts.insert(1, f"{result.returned} returned")
    if result.skipped_rows:
        parts.append(f"{_plural(result.skipped_rows, 'bad row')} skipped")
    if result.handed_over:
        parts.append(f"{_plural(result.handed_over, 'incident')} handed over")
    return ", ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class ProgressBar:
    """A one-line bar on stderr, redrawn in place; silent unless a terminal
    is watching, so logs and captured output stay clean."""

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self.enabled = stream.isatty()
        self._drawn_percent = -1

    def __call__(self, count: int) -> None:
        self.done = min(self.done + count, self.total)
        percent = 100 * self.done // self.total
        if not self.enabled or percent == self._drawn_percent:
            return
        self._drawn_percent = percent
        filled = _BAR_CELLS * self.done // self.total
        bar = "#" * filled + "-" * (_BAR_CELLS - filled)
        self.stream.write(f"\r{self.label} [{bar}] {percent:3d}%")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn_percent >= 0:
            self.stream.write("\n")
            self.stream.flush()

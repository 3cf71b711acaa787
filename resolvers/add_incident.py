"""addIncident: any member records a concern; Key Users may also assign it."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from models import clock
from models.incident import IncidentStatus
from models.incident_writes import (
    NewIncident,
    insert_alert,
    insert_incident,
    missing_categories,
    missing_students,
)
from models.rows import IncidentRow, ViewerRow
from resolvers.alerts import enqueue_alerts
from resolvers.changes import resolve_assignee
from resolvers.context import Context
from resolvers.errors import BadUserInput, Forbidden
from resolvers.ids import decode_ids

logger = logging.getLogger(__name__)

MAX_DESCRIPTION_CHARS = 20_000
# Clocks on pupils' and staff devices drift; a little of the future is tolerated.
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(slots=True)
class AddIncidentArgs:
    student_ids: list[str]
    category_ids: list[str]
    description: str
    occurred_at: datetime
    whole_school: bool | None = False
    assigned_to_id: str | None = None
    status: IncidentStatus | None = IncidentStatus.ACTIVE


async def add_incident(ctx: Context, args: AddIncidentArgs) -> IncidentRow:
    viewer = ctx.viewer
    status = args.status or IncidentStatus.ACTIVE
    _check_case_fields(ctx, viewer, args, status)
    description = _checked_description(args.description)
    _check_occurred_at(args.occurred_at)
    whole_school = bool(args.whole_school)
    student_ids = decode_ids("Student", args.student_ids, field="studentIds")
    category_ids = decode_ids("Category", args.category_ids, field="categoryIds")
    _check_counts(whole_school, student_ids, category_ids)
    async with ctx.engine.begin() as conn:
        if await missing_students(conn, viewer.school.id, student_ids):
            raise BadUserInput("Unknown student", field="studentIds")
        if await missing_categories(conn, viewer.school.id, category_ids):
            raise BadUserInput("Unknown category", field="categoryIds")
        assignee_id = await resolve_assignee(
            conn, viewer, args.assigned_to_id, field="assignedToId"
        )
        new = NewIncident(
            school_id=viewer.school.id,
            added_by_id=viewer.user.id,
            student_ids=student_ids,
            whole_school=whole_school,
            category_ids=category_ids,
            description=description,
            occurred_at=args.occurred_at,
            status=status,
            assignee_id=assignee_id,
        )
        at = clock.now()
        incident = await insert_incident(conn, new, at)
        alerts = []
        if assignee_id is not None and assignee_id != viewer.user.id:
            alerts.append(
                await insert_alert(conn, incident, assignee_id, viewer.user.id, at)
            )
    logger.info(
        "incident %s (number %s) added by user %s in school %s",
        incident.id,
        incident.number,
        viewer.user.id,
        viewer.school.id,
    )
    await enqueue_alerts(ctx.arq, alerts)
    return incident


def _check_case_fields(
    ctx: Context, viewer: ViewerRow, args: AddIncidentArgs, status: IncidentStatus
) -> None:
    if args.assigned_to_id is None and status is IncidentStatus.ACTIVE:
        return
    if not viewer.is_key_user:
        field = "assignedToId" if args.assigned_to_id is not None else "status"
        raise Forbidden(f"Only Key Users and Admins may set {field}")
    ctx.require_cases("Setting assignment or status")


def _checked_description(description: str) -> str:
    text = description.strip()
    if not text:
        raise BadUserInput("Describe the concern", field="description")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise BadUserInput(
            f"The description is longer than {MAX_DESCRIPTION_CHARS} characters",
            field="description",
        )
    return text


def _check_occurred_at(occurred_at: datetime) -> None:
    if occurred_at > clock.now() + FUTURE_TOLERANCE:
        raise BadUserInput("occurredAt is in the future", field="occurredAt")


def _check_counts(
    whole_school: bool, student_ids: list[int], category_ids: list[int]
) -> None:
    if not category_ids:
        raise BadUserInput("Choose at least one category", field="categoryIds")
    if whole_school and student_ids:
        raise BadUserInput(
            "A whole-school incident names no students", field="studentIds"
        )
    if not whole_school and not student_ids:
        raise BadUserInput(
            "Name at least one student, or mark it whole-school", field="studentIds"
        )

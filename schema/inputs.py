"""Input types, as the contract spells them."""

from datetime import date, datetime

import strawberry

from schema.enums import IncidentStatus


@strawberry.input(
    description="All given conditions must hold; a list matches any of its members."
)
class IncidentFilter:
    assigned_to: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Assigned to any of these users."
    )
    unassigned: bool | None = strawberry.field(
        default=None,
        description=(
            "True: assigned to nobody (or, with assignedTo, to nobody or any of those)."
        ),
    )
    status: list[IncidentStatus] | None = None
    from_: date | None = strawberry.field(
        default=None,
        name="from",
        description="Occurred on or after this date, in the school's time zone.",
    )
    to: date | None = strawberry.field(
        default=None,
        description="Occurred on or before this date, in the school's time zone.",
    )
    include_latest_activity: bool | None = strawberry.field(
        default=None,
        description=(
            "With from/to: also match incidents whose latest activity falls in "
            "the range."
        ),
    )
    containing: str | None = strawberry.field(
        default=None,
        description='Words, or a "quoted phrase", contained in the description.',
    )
    students: list[strawberry.ID] | None = None
    categories: list[strawberry.ID] | None = None


@strawberry.input
class AddIncidentInput:
    student_ids: list[strawberry.ID] = strawberry.field(
        description="Empty only when wholeSchool is true."
    )
    category_ids: list[strawberry.ID] = strawberry.field(description="At least one.")
    description: str
    occurred_at: datetime
    whole_school: bool | None = False
    assigned_to_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Key Users and Admins only; must name a Key User or Admin of the school."
        ),
    )
    status: IncidentStatus | None = strawberry.field(
        default=IncidentStatus.ACTIVE, description="Key Users and Admins only."
    )


@strawberry.input
class AssignInput:
    incident_id: strawberry.ID
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null assigns the incident to nobody."
    )
    expected_version: int | None = None


@strawberry.input
class ChangeStatusInput:
    incident_id: strawberry.ID
    status: IncidentStatus
    expected_version: int | None = None


@strawberry.input
class BulkCloseInput:
    from_: date = strawberry.field(
        name="from", description="Incidents that occurred from this date ..."
    )
    to: date = strawberry.field(
        description="... to this date, both included, in the school's time zone."
    )
    status: IncidentStatus = strawberry.field(
        description="CLOSED or NO_FURTHER_ACTION."
    )
    dry_run: bool | None = strawberry.field(
        default=False, description="Count what would change, change nothing."
    )

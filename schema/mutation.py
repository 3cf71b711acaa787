import strawberry
from strawberry.types import Info

from resolvers.add_incident import AddIncidentArgs, add_incident
from resolvers.assign import assign
from resolvers.bulk_close import bulk_close
from resolvers.change_status import change_status
from resolvers.incidents import reload
from schema import staff
from schema.incident_types import Incident
from schema.inputs import (
    AddIncidentInput,
    AssignInput,
    BulkCloseInput,
    ChangeStatusInput,
)
from schema.lookahead import asks_for


async def _view(info: Info, incident_id: int) -> Incident:
    """The changed incident, read after commit with what the client selected."""
    view = await reload(
        info.context, incident_id, with_history=asks_for(info, "history")
    )
    return view  # type: ignore[return-value]


@strawberry.type
class AddIncidentPayload:
    incident: Incident


@strawberry.type
class IncidentPayload:
    incident: Incident


@strawberry.type
class BulkClosePayload:
    updated_count: int = strawberry.field(
        description="Incidents in the range whose status would change or changed."
    )
    dry_run: bool


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Any member of the school may add; assignment and status are for Key Users."
        )
    )
    async def add_incident(
        self, info: Info, input: AddIncidentInput
    ) -> AddIncidentPayload:
        args = AddIncidentArgs(
            student_ids=list(input.student_ids),
            category_ids=list(input.category_ids),
            description=input.description,
            occurred_at=input.occurred_at,
            whole_school=input.whole_school,
            assigned_to_id=input.assigned_to_id,
            status=input.status.to_model() if input.status else None,
        )
        row = await add_incident(info.context, args)
        return AddIncidentPayload(incident=await _view(info, row.id))

    @strawberry.mutation(
        description=(
            "Key Users and Admins. Alerts the new assignee by email unless they "
            "assigned themselves."
        )
    )
    async def assign(self, info: Info, input: AssignInput) -> IncidentPayload:
        row = await assign(
            info.context, input.incident_id, input.assignee_id, input.expected_version
        )
        return IncidentPayload(incident=await _view(info, row.id))

    @strawberry.mutation(description="Key Users and Admins.")
    async def change_status(
        self, info: Info, input: ChangeStatusInput
    ) -> IncidentPayload:
        row = await change_status(
            info.context,
            input.incident_id,
            input.status.to_model(),
            input.expected_version,
        )
        return IncidentPayload(incident=await _view(info, row.id))

    @strawberry.mutation(description="Admins only. Irreversible; sends no alerts.")
    async def bulk_close(self, info: Info, input: BulkCloseInput) -> BulkClosePayload:
        result = await bulk_close(
            info.context,
            input.from_,
            input.to,
            input.status.to_model(),
            bool(input.dry_run),
        )
        return BulkClosePayload(
            updated_count=result.updated_count, dry_run=result.dry_run
        )

    change_role = strawberry.mutation(
        resolver=staff.change_role,
        description=(
            "Admins only. Making a Key User or Admin STAFF hands over their ACTIVE "
            "incidents (see handoverToId); the school keeps at least one Admin."
        ),
    )
    remove_member = strawberry.mutation(
        resolver=staff.remove_member,
        description=(
            "Admins only. The member keeps their place in history but loses "
            "access; their ACTIVE incidents are handed over (see handoverToId)."
        ),
    )
    reassign_cases = strawberry.mutation(
        resolver=staff.reassign,
        description=(
            "Admins only. Hands every ACTIVE incident of a member over at once; "
            "the new assignee gets one alert for them all."
        ),
    )
    add_category = strawberry.mutation(
        resolver=staff.add_category, description="Admins only."
    )

"""Staff management: the school's members as an Admin sees them, role changes,
removals, handing cases over and adding categories."""

import strawberry
from strawberry.types import Info
from strawberry.types.unset import UNSET

from models.school import Role as RoleValue
from resolvers import categories, reassign_cases
from resolvers import staff as staff_resolvers
from resolvers.reassign_cases import HandoverTo
from schema.enums import Role
from schema.student import Category

HANDOVER_DESCRIPTION = (
    "Required when the member holds ACTIVE incidents: the Key User or Admin "
    "who takes them over, or null to leave them unassigned."
)


@strawberry.type(description="A member of the school, current or former.")
class StaffMember:
    global_id: strawberry.ID = strawberry.field(name="id", description="Their User id.")
    name: str
    email: str
    role: Role = strawberry.field(description="For a former member, the role they had.")
    has_left: bool
    active_assigned_count: int = strawberry.field(
        description="ACTIVE incidents assigned to them."
    )


@strawberry.input
class ChangeRoleInput:
    user_id: strawberry.ID
    role: Role
    handover_to_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description=HANDOVER_DESCRIPTION
    )


@strawberry.input
class RemoveMemberInput:
    user_id: strawberry.ID
    handover_to_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description=HANDOVER_DESCRIPTION
    )


@strawberry.input
class ReassignCasesInput:
    from_user_id: strawberry.ID = strawberry.field(
        description="A current or former member."
    )
    to_user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A Key User or Admin; null leaves the incidents unassigned.",
    )
    dry_run: bool | None = strawberry.field(
        default=False, description="Count what would move, move nothing."
    )


@strawberry.input
class AddCategoryInput:
    name: str


@strawberry.type
class StaffMemberPayload:
    member: StaffMember
    reassigned_count: int = strawberry.field(
        description="ACTIVE incidents handed over by this change."
    )


@strawberry.type
class ReassignCasesPayload:
    reassigned_count: int = strawberry.field(
        description="ACTIVE incidents that would move or moved."
    )
    dry_run: bool


@strawberry.type
class AddCategoryPayload:
    category: Category


def _handover(value: strawberry.ID | None) -> HandoverTo | None:
    return None if value is UNSET else HandoverTo(value)


async def staff(info: Info) -> list[StaffMember]:
    return await staff_resolvers.staff(info.context)  # type: ignore[return-value]


async def change_role(info: Info, input: ChangeRoleInput) -> StaffMemberPayload:
    change = await staff_resolvers.change_role(
        info.context,
        input.user_id,
        RoleValue(input.role.name),
        _handover(input.handover_to_id),
    )
    return StaffMemberPayload(
        member=change.member,  # type: ignore[arg-type]
        reassigned_count=change.reassigned_count,
    )


async def remove_member(info: Info, input: RemoveMemberInput) -> StaffMemberPayload:
    change = await staff_resolvers.remove_member(
        info.context, input.user_id, _handover(input.handover_to_id)
    )
    return StaffMemberPayload(
        member=change.member,  # type: ignore[arg-type]
        reassigned_count=change.reassigned_count,
    )


async def reassign(info: Info, input: ReassignCasesInput) -> ReassignCasesPayload:
    result = await reassign_cases.reassign_cases(
        info.context, input.from_user_id, input.to_user_id, bool(input.dry_run)
    )
    return ReassignCasesPayload(
        reassigned_count=result.reassigned_count, dry_run=result.dry_run
    )


async def add_category(info: Info, input: AddCategoryInput) -> AddCategoryPayload:
    row = await categories.add_category(info.context, input.name)
    return AddCategoryPayload(category=row)  # type: ignore[arg-type]

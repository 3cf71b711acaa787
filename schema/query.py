import strawberry
from strawberry.types import Info

from models.rows import ViewerRow
from resolvers import directory, incidents, node
from resolvers.incidents import FilterArgs
from schema.incident_types import Incident
from schema.inputs import IncidentFilter
from schema.lookahead import asks_for
from schema.node import Node
from schema.paging import IncidentConnection, StudentConnection
from schema.people import User, Viewer
from schema.staff import StaffMember
from schema.staff import staff as staff_resolver
from schema.student import Category


def _filter_args(value: IncidentFilter | None) -> FilterArgs | None:
    if value is None:
        return None
    return FilterArgs(
        assigned_to=value.assigned_to,  # type: ignore[arg-type]
        unassigned=value.unassigned,
        status=[s.to_model() for s in value.status] if value.status else None,
        from_=value.from_,
        to=value.to,
        include_latest_activity=value.include_latest_activity,
        containing=value.containing,
        students=value.students,  # type: ignore[arg-type]
        categories=value.categories,  # type: ignore[arg-type]
    )


@strawberry.type
class Query:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        row: ViewerRow = info.context.viewer
        return row  # type: ignore[return-value]

    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        found = await node.node(
            info.context, id, with_history=asks_for(info, "history")
        )
        return found  # type: ignore[return-value]

    @strawberry.field
    async def incident(self, info: Info, id: strawberry.ID) -> Incident | None:
        found = await incidents.incident(
            info.context, id, with_history=asks_for(info, "history")
        )
        return found  # type: ignore[return-value]

    @strawberry.field(description="Newest first by occurredAt. first: 1 to 100.")
    async def incidents(
        self,
        info: Info,
        filter: IncidentFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> IncidentConnection:
        args = _filter_args(filter)
        page = await incidents.incidents(
            info.context,
            args,
            50 if first is None else first,
            after,
            with_history=asks_for(info, "history"),
        )
        return page  # type: ignore[return-value]

    @strawberry.field(
        description=(
            "Who an incident can be assigned to: the school's Key Users and Admins."
        )
    )
    async def key_users(self, info: Info) -> list[User]:
        return await directory.key_users(info.context)  # type: ignore[return-value]

    @strawberry.field
    async def categories(self, info: Info) -> list[Category]:
        return await directory.categories(info.context)  # type: ignore[return-value]

    @strawberry.field
    async def students(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> StudentConnection:
        return await directory.students(
            info.context, search, 50 if first is None else first, after
        )  # type: ignore[return-value]

    @strawberry.field(
        description="Admins only. Current members by name, then former members."
    )
    async def staff(self, info: Info) -> list[StaffMember]:
        return await staff_resolver(info)

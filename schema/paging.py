"""Connections: edges, nodes, pageInfo and totalCount over a resolver Page."""

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.paging import Page
from schema.incident_types import Incident
from schema.student import Student


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def _page_info(page: Page[Any]) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )


@strawberry.type
class IncidentEdge:
    cursor: str
    node: Incident


@strawberry.type
class IncidentConnection:
    @strawberry.field
    def edges(root: Page[Any]) -> list[IncidentEdge]:
        return [
            IncidentEdge(cursor=c, node=n)
            for c, n in zip(root.cursors, root.rows, strict=True)
        ]

    @strawberry.field
    def nodes(root: Page[Any]) -> list[Incident]:
        return root.rows

    @strawberry.field
    def page_info(root: Page[Any]) -> PageInfo:
        return _page_info(root)

    @strawberry.field
    async def total_count(root: Page[Any], info: Info) -> int:
        return await root.count()


@strawberry.type
class StudentEdge:
    cursor: str
    node: Student


@strawberry.type
class StudentConnection:
    @strawberry.field
    def edges(root: Page[Any]) -> list[StudentEdge]:
        return [
            StudentEdge(cursor=c, node=n)
            for c, n in zip(root.cursors, root.rows, strict=True)
        ]

    @strawberry.field
    def nodes(root: Page[Any]) -> list[Student]:
        return root.rows

    @strawberry.field
    def page_info(root: Page[Any]) -> PageInfo:
        return _page_info(root)

    @strawberry.field
    async def total_count(root: Page[Any], info: Info) -> int:
        return await root.count()

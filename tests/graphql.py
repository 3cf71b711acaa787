"""A small GraphQL client for tests: tokens for demo users and typed answers."""

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from cases.auth import issue_token
from cases.settings import Settings
from models.school import Membership, School, User


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        assert not self.body.get("errors"), self.body.get("errors")
        return self.body["data"]

    @property
    def error(self) -> dict[str, Any]:
        errors = self.body.get("errors")
        assert errors, f"expected an error, got {self.body}"
        return errors[0]

    @property
    def code(self) -> str:
        return self.error["extensions"]["code"]


class Api:
    def __init__(
        self, client: httpx.AsyncClient, settings: Settings, statements: list[str]
    ) -> None:
        self.client = client
        self.settings = settings
        self.statements = statements
        self._ids: dict[tuple[str, str], tuple[int, int]] = {}

    async def ids(self, email: str, school: str = "Demo Primary") -> tuple[int, int]:
        key = (email, school)
        if key not in self._ids:
            engine = create_async_engine(self.settings.database_url)  # type: ignore[arg-type]
            statement = (
                select(User.id, School.id)
                .join(Membership, Membership.user_id == User.id)
                .join(School, School.id == Membership.school_id)
                .where(func.lower(User.email) == email, School.name == school)
            )
            async with engine.connect() as conn:
                row = (await conn.execute(statement)).one()
            await engine.dispose()
            self._ids[key] = (row[0], row[1])
        return self._ids[key]

    async def token(self, email: str, school: str = "Demo Primary") -> str:
        user_id, school_id = await self.ids(email, school)
        return issue_token(self.settings, user_id, school_id)

    async def as_user(
        self,
        email: str | None,
        query: str,
        variables: dict[str, Any] | None = None,
        school: str = "Demo Primary",
    ) -> Answer:
        headers = {}
        if email is not None:
            headers["Authorization"] = f"Bearer {await self.token(email, school)}"
        return await self.post({"query": query, "variables": variables or {}}, headers)

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> Answer:
        response = await self.client.post("/graphql", json=body, headers=headers or {})
        return Answer(response.status_code, response.json())

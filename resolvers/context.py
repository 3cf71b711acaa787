"""What every resolver gets: the viewer, the engine and per-request loaders."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TypeVar

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from models import reads
from models.rows import ViewerRow
from resolvers.errors import ModuleDisabled, Unauthenticated

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Context:
    request: Request
    response: Response | None
    engine: AsyncEngine
    arq: ArqRedis | None
    app_url: str
    request_id: str
    viewer_row: ViewerRow | None = None
    auth_error: str = "A valid bearer token is required"
    # The engine's pool in autocommit mode (cases.db.reader_of); None: use engine.
    reader: AsyncEngine | None = None

    def read(self) -> AsyncConnection:
        """A connection for reads only: no transaction, no BEGIN/ROLLBACK trips."""
        return (self.reader or self.engine).connect()

    @property
    def viewer(self) -> ViewerRow:
        if self.viewer_row is None:
            raise Unauthenticated(self.auth_error)
        return self.viewer_row

    def require_cases(self, what: str = "This") -> ViewerRow:
        viewer = self.viewer
        if not viewer.school.cases_enabled:
            raise ModuleDisabled(
                f"{what} needs the Cases module, which is switched off for this school"
            )
        return viewer

    @cached_property
    def loaders(self) -> "Loaders":
        viewer = self.viewer
        # STAFF learn of concerns only through the incidents they added: a
        # category a pupil is monitored for may come from someone else's.
        added_by = None if viewer.is_key_user else viewer.user.id
        return Loaders(self.reader or self.engine, viewer.school.id, added_by)


class Loaders:
    """Per-request DataLoaders; each batch reads on its own pooled connection,
    because fields resolving concurrently cannot share one connection."""

    def __init__(
        self, engine: AsyncEngine, school_id: int, added_by_id: int | None
    ) -> None:
        self._engine = engine
        self._school_id = school_id
        self.monitored = self._many(
            partial(reads.monitored_categories_by_student, added_by_id=added_by_id)
        )

    def _many(
        self,
        fetch: Callable[
            [AsyncConnection, Sequence[int]], Awaitable[dict[int, list[V]]]
        ],
    ) -> DataLoader[int, list[V]]:
        async def load(keys: list[int]) -> list[list[V]]:
            async with self._engine.connect() as conn:
                found = await fetch(conn, keys)
            return [found.get(key, []) for key in keys]

        return DataLoader(load_fn=load)

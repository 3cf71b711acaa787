"""The /graphql endpoint: Strawberry's ASGI view with our context and JSON."""

import logging
from typing import Any

import orjson
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from cross_web import HTTPException

from cases.auth import TokenError, bearer_token, read_token
from cases.settings import Settings
from models.viewer import load_viewer
from resolvers.context import Context

logger = logging.getLogger(__name__)


class CasesGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        arq: ArqRedis | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.engine = engine
        self.arq = arq

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = _error_response(error.status_code, error.reason)
        await response(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context(
            request=request,
            response=response,
            engine=self.engine,
            arq=self.arq,
            app_url=self.settings.app_url,
            request_id=request.scope.get("state", {}).get("request_id", "-"),
        )
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return context
        try:
            user_id, school_id = read_token(self.settings, token)
        except TokenError as error:
            context.auth_error = str(error)
            return context
        async with self.engine.connect() as conn:
            context.viewer_row = await load_viewer(conn, user_id, school_id)
        if context.viewer_row is None:
            context.auth_error = "The token's membership no longer exists"
        return context

    def decode_json(self, data: str | bytes) -> object:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPException(400, "The request body is not valid JSON") from None

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def _error_response(status_code: int, reason: str) -> Response:
    code = "BAD_USER_INPUT" if status_code < 500 else "INTERNAL_SERVER_ERROR"
    body = {"errors": [{"message": reason, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status_code)



"""The /graphql endpoint: Strawberry's ASGI view with our context and JSON."""

from typing import Any

import orjson
from arq.connections import ArqRedis
from cross_web import HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from cases.auth import TokenError, TokenReader, bearer_token
from cases.db import reader_of
from cases.middleware import BodyTooLarge
from cases.ratelimit import RateLimit, RateLimited
from cases.settings import Settings
from models.compiled_sql import MISFIT
from models.viewer import load_viewer
from resolvers.context import Context
from schema.build import build_compiler
from schema.errors import MASKED_MESSAGE, NUL_MESSAGE, coded_errors, log_unexpected


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
        self.tokens = TokenReader(settings)
        self.engine = engine
        self.reader = reader_of(engine)
        self.arq = arq
        self.compiler = (
            build_compiler(settings, self.schema)  # type: ignore[arg-type]
            if settings.compiled_reads
            else None
        )
        # Without Redis (arq None) there is nowhere shared to count requests.
        self.rate_limit = (
            RateLimit(arq, settings.rate_limit_per_minute) if arq is not None else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self._compiled_read(request) or await self.run(request)
        except HTTPException as error:
            response = _error_response(error.status_code, error.reason)
        except RateLimited as error:
            response = _rate_limited_response(error.retry_after_s)
        except BodyTooLarge:
            raise  # BodySizeLimit answers 413 itself.
        except Exception as error:
            # Whatever slipped past Strawberry still gets a coded JSON answer
            # with the request id, never a bare 500 page.
            log_unexpected(error, _request_id(request), "the HTTP view")
            response = _masked_response(_request_id(request))
        await response(scope, receive, send)

    async def _compiled_read(self, request: Request) -> Response | None:
        """The answer from one SQL statement, if the document and this request
        are plain reads (schema/compiled.py); None: the ordinary path answers,
        refusals included. The body stays cached on the request for it."""
        if self.compiler is None or request.method != "POST":
            return None
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            data: Any = self.decode_json(await request.body())
        except HTTPException:
            return None
        query, name = data.get("query"), data.get("operationName")
        if not isinstance(query, str) or not isinstance(name, str | None):
            return None
        if not isinstance(data.get("extensions"), dict | None):
            return None
        # The token first: a client without one must not get documents parsed,
        # validated and cached on its behalf before being refused.
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return None
        try:
            user_id, school_id = self.tokens.read(token)
        except TokenError:
            return None
        await self._spend(request, user_id)
        compiled = self.compiler.compiled(query, name)
        if compiled is None:
            return None
        bound = compiled.bind(self.compiler.schema, data.get("variables"))
        if bound is None:
            return None
        try:
            async with self.reader.connect() as conn:
                result = await conn.exec_driver_sql(
                    bound.statement, (user_id, school_id, *bound.params)
                )
                text = result.scalar()
        except Exception as error:
            # As the ordinary path would: one try, logged, masked for the client.
            log_unexpected(error, _request_id(request), "a compiled read")
            return _masked_response(_request_id(request))
        if text is None or MISFIT in text:
            return None
        body = b'{"data":' + text.encode() + b"}"
        return Response(body, media_type="application/json")

    async def _spend(self, request: Request, user_id: int) -> None:
        """Counts the request against the user's rate limit, once per request
        whichever path answers it."""
        state = request.scope.setdefault("state", {})
        if self.rate_limit is None or state.get("rate_spent"):
            return
        state["rate_spent"] = True
        await self.rate_limit.spend(user_id)

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context(
            request=request,
            response=response,
            engine=self.engine,
            reader=self.reader,
            arq=self.arq,
            app_url=self.settings.app_url,
            request_id=_request_id(request),
        )
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return context
        try:
            user_id, school_id = self.tokens.read(token)
        except TokenError as error:
            context.auth_error = str(error)
            return context
        # Only requests with a valid token are counted: the rest cost one HMAC
        # check and can read nothing, so a flood of them has to be limited by
        # client address at the proxy in front (docs/security.md).
        await self._spend(request, user_id)
        async with self.reader.connect() as conn:
            context.viewer_row = await load_viewer(conn, user_id, school_id)
        if context.viewer_row is None:
            context.auth_error = "The token's membership no longer exists"
        return context

    async def process_result(
        self, request: Any, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = coded_errors(result.errors, _request_id(request))
        return await super().process_result(request, result)

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPException(400, "The request body is not valid JSON") from None
        if not isinstance(decoded, dict):
            raise HTTPException(400, "The request body must be a JSON object")
        if _holds_nul(decoded):
            raise HTTPException(400, NUL_MESSAGE)
        return decoded

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def _holds_nul(decoded: object) -> bool:
    # Iterative: JSON nests up to 1024 deep, past Python's recursion limit.
    pending = [decoded]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return True
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def _error_response(status_code: int, reason: str) -> Response:
    code = "BAD_USER_INPUT" if status_code < 500 else "INTERNAL_SERVER_ERROR"
    body = {"errors": [{"message": reason, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status_code)


def _rate_limited_response(retry_after_s: int) -> Response:
    message = f"Too many requests; retry in {retry_after_s} seconds"
    extensions = {"code": "RATE_LIMITED", "retryAfterS": retry_after_s}
    body = {"errors": [{"message": message, "extensions": extensions}]}
    headers = {"retry-after": str(retry_after_s)}
    return JSONResponse(body, status_code=429, headers=headers)


def _masked_response(request_id: str) -> Response:
    extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    body = {"errors": [{"message": MASKED_MESSAGE, "extensions": extensions}]}
    return JSONResponse(body, status_code=500)

"""Gives every error a code, and masks anything that is not an expected refusal.

Expected refusals (resolvers.errors.CasesError) reach the client with their code.
Syntax and validation errors are about the client's document, so they pass with a
code too. Everything else is a bug or broken infrastructure: the client sees a
generic message and the request id; the log gets the traceback under that id.

`coded_errors` runs twice: in the ErrorCodes extension, and again in the HTTP
view on whatever is about to be sent. The second pass exists because an error
raised inside another extension's hook unwinds past ErrorCodes.on_operation
before it can look (Strawberry's ParserCache did so with every syntax error,
hence schema.build.GuardedParserCache; a validation rule that crashes does).
"""

import logging
import traceback
from collections.abc import Iterator, Mapping, Sequence

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import CasesError

logger = logging.getLogger(__name__)

MASKED_MESSAGE = "Unexpected error. Quote the request id if you report it."
# PostgreSQL text cannot hold U+0000, so no input may carry it.
NUL_MESSAGE = "Text may not contain the NUL character (U+0000)"
_DATABASE_MODULES = {"asyncpg", "sqlalchemy"}


class CodedError(GraphQLError):
    """An error that was checked and may go to the client as it is."""


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            request_id = getattr(self.execution_context.context, "request_id", None)
            result.errors = coded_errors(result.errors, request_id)


def coded_errors(
    errors: Sequence[GraphQLError], request_id: str | None
) -> list[GraphQLError]:
    """Each error with a code, unexpected ones masked; safe to apply twice."""
    return [_coded(error, request_id) for error in errors]


def _coded(error: GraphQLError, request_id: str | None) -> GraphQLError:
    if isinstance(error, CodedError):
        return error
    original = error.original_error
    if isinstance(original, CasesError):
        return _with_extensions(error, original.message, original.extensions)
    if _is_about_the_document(error):
        code = (error.extensions or {}).get("code") or _client_code(error)
        return _with_extensions(error, error.message, {"code": code})
    return _masked(error, request_id)


def _is_about_the_document(error: GraphQLError) -> bool:
    # graphql-core wraps whatever a resolver raises, so an error with a path is
    # from execution. Without a path it comes from parsing, validating or
    # coercing variables; its message quotes only the client's own document and
    # variables, unless a scalar's parser failed by something other than a
    # deliberate ValueError, which is a bug.
    if error.path is not None:
        return False
    return error.original_error is None or isinstance(
        error.original_error, GraphQLError | ValueError
    )


def _masked(error: GraphQLError, request_id: str | None) -> GraphQLError:
    log_unexpected(error.original_error or error, request_id, error.path)
    return _with_extensions(
        error,
        MASKED_MESSAGE,
        {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def log_unexpected(error: BaseException, request_id: str | None, at: object) -> None:
    """Logs the traceback under the request id, with every message withheld."""
    logger.error(
        "unexpected error in request %s at %s\n%s",
        request_id,
        at,
        redacted_traceback(error),
    )


def redacted_traceback(error: BaseException) -> str:
    """The whole chain of tracebacks, as Python prints it, without the messages.

    A message can quote the data that caused it (PostgreSQL quotes row values
    and a DETAIL line can hold a whole incident; a ValueError quotes the value
    it refused, an SMTP error the address), so only the exception's type, and
    for database errors their SQLSTATE and names, go to the log. The frames
    and their source lines are code and say where it failed."""
    parts = []
    for link in reversed(_chain(error)):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        kind = f"{type(link).__module__}.{type(link).__qualname__}"
        parts.append(f"{kind}: {_loggable_message(link)}\n")
    return "".join(parts)


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or (
            None if link.__suppress_context__ else link.__context__
        )
    return chain


def _loggable_message(error: BaseException) -> str:
    if type(error).__module__.split(".")[0] not in _DATABASE_MODULES:
        return "[message withheld]"
    source = getattr(error, "orig", None) or error
    names = {
        name: getattr(source, name, None) or getattr(error, name, None)
        for name in ("sqlstate", "table_name", "column_name", "constraint_name")
    }
    known = ", ".join(f"{name}={value}" for name, value in names.items() if value)
    return f"[message withheld] {known}"


# graphql-core's wording for variables whose values do not fit; its other
# messages about variables ("is never used") are about the document.
_BAD_VARIABLE_PHRASES = ("invalid value", "was not provided", "must not be null")


def _client_code(error: GraphQLError) -> str:
    message = error.message
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith("Variable '$") and any(
        phrase in message for phrase in _BAD_VARIABLE_PHRASES
    ):
        return "BAD_USER_INPUT"
    if "Expected value of type" in message:
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _with_extensions(
    error: GraphQLError, message: str, extensions: Mapping[str, object]
) -> GraphQLError:
    return CodedError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=dict(extensions),
    )

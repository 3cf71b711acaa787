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
import re
from collections.abc import Iterator, Mapping, Sequence

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from cases.logs import redacted_traceback
from resolvers.errors import CasesError

logger = logging.getLogger(__name__)

MASKED_MESSAGE = "Unexpected error. Quote the request id if you report it."
# PostgreSQL text cannot hold U+0000, so no input may carry it.
NUL_MESSAGE = "Text may not contain the NUL character (U+0000)"


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
        extensions = {"code": code}
        if code == "BAD_USER_INPUT" and (field := _variable_field(error.message)):
            extensions["field"] = field
        return _with_extensions(error, error.message, extensions)
    return _masked(error, request_id)


# graphql-core's "Variable '$filter' has invalid value at .status[0]: ...",
# "Variable '$first' has invalid value: ..." or "Variable '$input' of required
# type 'AssignInput!' was not provided."
_BAD_VARIABLE = re.compile(
    r"Variable '\$(?P<variable>\w+)'(?: has invalid value at (?P<path>[.\w\[\]]+))?"
)


def _variable_field(message: str) -> str | None:
    """The input field a refused variable value was for: the innermost name on
    the path graphql-core gives, or the variable itself."""
    found = _BAD_VARIABLE.match(message)
    if found is None:
        return None
    names = re.findall(r"\.(\w+)", found["path"] or "")
    return names[-1] if names else found["variable"]


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

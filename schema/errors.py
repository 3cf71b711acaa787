"""Gives every error a code, and masks anything that is not an expected refusal.

Expected refusals (resolvers.errors.CasesError) reach the client with their code.
Syntax and validation errors are about the client's document, so they pass with a
code too. Everything else is a bug or broken infrastructure: the client sees a
generic message and the request id; the log gets the traceback under that id.
"""

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import CasesError

logger = logging.getLogger(__name__)

MASKED_MESSAGE = "Unexpected error. Quote the request id if you report it."


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [self._coded(error) for error in result.errors]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, CasesError):
            return _with_extensions(error, original.message, original.extensions)
        if original is None or _is_input_coercion(error):
            return _with_extensions(error, error.message, {"code": _client_code(error)})
        return self._masked(error)

    def _masked(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        logger.error(
            "unexpected error in request %s at %s",
            request_id,
            error.path,
            exc_info=error.original_error,
        )
        return _with_extensions(
            error,
            MASKED_MESSAGE,
            {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )


def _is_input_coercion(error: GraphQLError) -> bool:
    """A variable our scalars refused to parse: the client's fault, not a bug."""
    return error.path is None and error.message.startswith("Variable '$")


def _client_code(error: GraphQLError) -> str:
    message = error.message
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if "got invalid value" in message or "Expected value of type" in message:
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _with_extensions(
    error: GraphQLError, message: str, extensions: dict[str, object]
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )

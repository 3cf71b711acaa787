"""The Schema object: types, scalars and the extensions every request runs."""

from collections.abc import Callable, Iterator, Sequence

import strawberry
from graphql import GraphQLError, StringValueNode
from graphql.validation import (
    ASTValidationRule,
    NoSchemaIntrospectionCustomRule,
    ValidationContext,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from cases.settings import Settings
from schema.compiled import Compiler
from schema.errors import NUL_MESSAGE, ErrorCodes
from schema.execution import PlainFieldsExecutor
from schema.incident_types import Incident
from schema.mutation import Mutation
from schema.people import School, User
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.student import Category, Student

# Bounded so a stream of distinct documents cannot grow memory without limit.
DOCUMENT_CACHE_SIZE = 512


class CasesSchema(strawberry.Schema):
    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        """Logs nothing: Strawberry would log every refusal with a traceback and
        the client's document, which may quote a child's name. Unexpected errors
        are logged once, with the request id, by schema.errors."""


class GuardedParserCache(ParserCache):
    """ParserCache that lets a failing parse happen where Strawberry guards it.

    ParserCache parses in its on_parse hook, outside Strawberry's try block, so
    a syntax error raised there skips every extension's on_operation (our error
    coding included). Leaving the document unset makes Strawberry parse again
    inside its guard; a failing document is parsed twice, which the token limit
    keeps cheap.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except Exception:  # Strawberry's own parse raises it again, guarded.
            context.graphql_document = None
        yield


class NoNulInStrings(ASTValidationRule):
    """Refuses string literals holding U+0000 (variables are checked by the HTTP
    view), which would otherwise fail in PostgreSQL as an internal error."""

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        if "\x00" in node.value:
            extensions = {"code": "BAD_USER_INPUT"}
            self.report_error(GraphQLError(NUL_MESSAGE, node, extensions=extensions))


def build_compiler(settings: Settings, built: strawberry.Schema) -> Compiler:
    """The compiled-read path over `built`, with the same document limits."""
    return Compiler(
        built._schema,
        validation_rules(settings),
        max_tokens=settings.max_query_tokens,
        max_documents=DOCUMENT_CACHE_SIZE,
    )


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return CasesSchema(
        query=Query,
        mutation=Mutation,
        types=[Incident, Student, Category, User, School],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=_extensions(settings),
        execution_context_class=PlainFieldsExecutor,
    )


def _extensions(settings: Settings) -> list[Callable[[], SchemaExtension] | type]:
    rules = validation_rules(settings)
    max_tokens = settings.max_query_tokens
    # Factories, so every request gets fresh extension instances.
    return [
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(list(rules)),
        lambda: GuardedParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
    ]


def validation_rules(settings: Settings) -> Sequence[type[ASTValidationRule]]:
    """The rule classes, made once: ValidationCache keys on them, and the limiter
    extensions make a new class per instance, so per-request limiter instances
    would turn every lookup into a miss."""
    depth_rules = QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules
    rules = [
        *[_tolerating_unknown_fragments(rule) for rule in depth_rules],
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    rules.append(NoNulInStrings)
    if not settings.graphiql_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


def _tolerating_unknown_fragments(
    rule: type[ASTValidationRule],
) -> type[ASTValidationRule]:
    """Strawberry's depth limiter follows fragment spreads by name and raises
    KeyError on one that is not defined, which would surface as an internal
    error; graphql-core's KnownFragmentNames rule reports it to the client."""

    class TolerantRule(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            try:
                super().__init__(context)
            except KeyError:
                ASTValidationRule.__init__(self, context)

    return TolerantRule


schema = build_schema()

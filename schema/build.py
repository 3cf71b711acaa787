"""The Schema object: types, scalars and the extensions every request runs."""

from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
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
from schema.errors import ErrorCodes
from schema.incident_types import Incident
from schema.mutation import Mutation
from schema.people import School, User
from schema.query import Query
from schema.scalars import SCALAR_OVERRIDES
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


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return CasesSchema(
        query=Query,
        mutation=Mutation,
        types=[Incident, Student, Category, User, School],
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
        config=StrawberryConfig(),
        extensions=_extensions(settings),
    )


def _extensions(settings: Settings) -> list[Callable[[], SchemaExtension] | type]:
    rules = _validation_rules(settings)
    max_tokens = settings.max_query_tokens
    # Factories, so every request gets fresh extension instances.
    return [
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(list(rules)),
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
    ]


def _validation_rules(settings: Settings) -> Sequence[type[ASTValidationRule]]:
    """The rule classes, made once: ValidationCache keys on them, and the limiter
    extensions make a new class per instance, so per-request limiter instances
    would turn every lookup into a miss."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.graphiql_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


schema = build_schema()

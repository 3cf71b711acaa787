"""The Schema object: types, scalars and the extensions every request runs."""

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

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


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Incident, Student, Category, User, School],
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
        config=StrawberryConfig(),
        extensions=[
            ErrorCodes,
            QueryDepthLimiter(max_depth=settings.max_query_depth),
            MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
            ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        ],
    )


schema = build_schema()

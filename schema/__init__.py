"""The GraphQL schema: Strawberry types over the rows the resolvers return."""

from schema.build import schema

__all__ = ["schema"]

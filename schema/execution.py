"""Completes objects made only of plain fields without graphql-core's per-field work.

graphql-core resolves every field of every object on its own: a path, a resolve
info, Strawberry's resolver wrapper and a completion step each, about 15 µs a
field, so a page of 50 incidents of a dozen fields costs 10 ms of CPU. Most of
our types are read in one statement (models/incident_details.py) and handed
over as rows whose fields are attributes, so for a selection of plain fields
only, the executor here builds a plan once per selection and request and fills
each object with one getattr and one output coercion per field.

A field is plain when Strawberry resolves it by reading the attribute of the
same name (no resolver, no field extension, no arguments). Anything else in a
selection (a resolver, an interface or union type, a deferred fragment, a list
of lists) leaves that object to graphql-core, so behaviour is graphql-core's
own everywhere. So are errors: when a value does not fit (a null in a non-null
field, a value its scalar cannot serialise, a row of another type), the object
is completed again the ordinary way, which reports the error with its path.
"""

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from graphql import (
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField


class _Misfit(Exception):
    """A value the plan cannot complete; graphql-core completes the object."""


class _Field(NamedTuple):
    response_name: str
    attribute: str | None = None  # None: __typename, whose value is `constant`
    constant: str | None = None
    non_null: bool = False
    is_list: bool = False
    items_non_null: bool = False
    coerce: Callable[[Any], Any] | None = None  # leaves
    object_type: GraphQLObjectType | None = None  # objects
    plan: "_Plan | None" = None  # objects


class _Plan(NamedTuple):
    fields: tuple[_Field, ...]


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed by the identity of graphql-core's memoised field sets, which it
        # keeps alive for the whole execution; the value holds them too.
        self._plans: dict[tuple[str, int], tuple[object, _Plan | None]] = {}
        # An extension with a resolve hook must see every field: no shortcut.
        manager = self.middleware_manager
        self._plain_ok = manager is None or not manager.middlewares

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if position_context is None and path is not None:
            plan = self._plan_of(parent_type, grouped_field_set)
            if plan is not None:
                try:
                    return _fill(plan, source_value)
                except _Misfit:
                    pass
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        item_type: Any = return_type.of_type
        items_non_null = is_non_null_type(item_type)
        if items_non_null:
            item_type = item_type.of_type
        if position_context is None and isinstance(result, list | tuple):
            field = self._object_field(item_type, field_details_list)
            if field is not None and field.plan is not None:
                try:
                    return _fill_list(field, result, items_non_null)
                except _Misfit:
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plan_of(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> _Plan | None:
        key = (parent_type.name, id(grouped_field_set))
        cached = self._plans.get(key)
        if cached is None:
            cached = (grouped_field_set, self._build(parent_type, grouped_field_set))
            self._plans[key] = cached
        return cached[1]

    def _build(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> _Plan | None:
        if not self._plain_ok:
            return None
        fields = []
        for response_name, field_details_list in grouped_field_set.items():
            field = self._field(parent_type, response_name, field_details_list)
            if field is None:
                return None
            fields.append(field)
        return _Plan(tuple(fields))

    def _field(
        self,
        parent_type: GraphQLObjectType,
        response_name: str,
        field_details_list: FieldDetailsList,
    ) -> _Field | None:
        node = field_details_list[0].node
        name = node.name.value
        if name == "__typename":
            return _Field(response_name, constant=parent_type.name)
        field_def = parent_type.fields.get(name)
        if field_def is None or field_def.args or node.arguments:
            return None
        definition = field_def.extensions.get("strawberry-definition")
        # Strawberry marks the resolver it gives fields that only read an
        # attribute (no resolver, extension or exception handler).
        plain = getattr(field_def.resolve, "_is_default", False)
        if not plain or not isinstance(definition, StrawberryField):
            return None

        graphql_type: Any = field_def.type
        non_null = is_non_null_type(graphql_type)
        if non_null:
            graphql_type = graphql_type.of_type
        is_list = is_list_type(graphql_type)
        items_non_null = False
        if is_list:
            graphql_type = graphql_type.of_type
            items_non_null = is_non_null_type(graphql_type)
            if items_non_null:
                graphql_type = graphql_type.of_type
        attribute = definition.python_name
        if is_leaf_type(graphql_type):
            return _Field(
                response_name,
                attribute,
                non_null=non_null,
                is_list=is_list,
                items_non_null=items_non_null,
                coerce=graphql_type.coerce_output_value,
            )
        sub = self._object_field(graphql_type, field_details_list)
        if sub is None or sub.plan is None:
            return None
        return sub._replace(
            response_name=response_name,
            attribute=attribute,
            non_null=non_null,
            is_list=is_list,
            items_non_null=items_non_null,
        )

    def _object_field(
        self, graphql_type: Any, field_details_list: FieldDetailsList
    ) -> _Field | None:
        """The object type and the plan of its selection, if all of it is plain."""
        if not is_object_type(graphql_type):
            return None
        grouped, defer_usages, _ = self.collect_subfields(
            graphql_type, field_details_list
        )
        if defer_usages:
            return None
        plan = self._plan_of(graphql_type, grouped)
        return _Field("", object_type=graphql_type, plan=plan)


def _fill(plan: _Plan, source: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in plan.fields:
        if field.attribute is None:
            data[field.response_name] = field.constant
            continue
        value = getattr(source, field.attribute)
        if value is None:
            if field.non_null:
                raise _Misfit
            data[field.response_name] = None
        elif field.is_list:
            data[field.response_name] = _fill_list(field, value, field.items_non_null)
        else:
            data[field.response_name] = _one(field, value)
    return data


def _fill_list(field: _Field, values: Iterable[Any], non_null: bool) -> list[Any]:
    if not isinstance(values, list | tuple):
        raise _Misfit
    completed: list[Any] = []
    for value in values:
        if value is None:
            if non_null:
                raise _Misfit
            completed.append(None)
        else:
            completed.append(_one(field, value))
    return completed


def _one(field: _Field, value: Any) -> Any:
    if field.coerce is not None:
        try:
            coerced = field.coerce(value)
        except Exception:  # graphql-core reports it, with the field's path
            raise _Misfit from None
        if coerced is None or coerced is Undefined:
            raise _Misfit
        return coerced
    object_type = field.object_type
    assert object_type is not None and field.plan is not None
    # Our types' is_type_of never reads the resolve info (schema/*.py).
    if object_type.is_type_of is not None and not _is_type(object_type, value):
        raise _Misfit
    return _fill(field.plan, value)


def _is_type(object_type: GraphQLObjectType, value: Any) -> bool:
    assert object_type.is_type_of is not None
    answer = object_type.is_type_of(value, None)  # type: ignore[arg-type]
    return answer is True

"""Hot read documents answered by one SQL statement, bypassing field resolution.

A document is looked at once (and remembered): if it is a valid query whose
every field is one models/compiled_sql.py can render - incident(id),
incidents(first, after, filter on assignee, unassigned, status, students and
categories), viewer with user, school and myAssigned, and below them the plain
fields of incidents, their people, students, categories and history - it
becomes a `CompiledRead`. Per request only the variables are coerced and the
root arguments checked; the database then returns the response's JSON text.

Anything else (a mutation, a directive, a field with a resolver such as
monitoredCategories, a date or text filter, a fragment on another type, a
repeated response key) is left to Strawberry, and so is any request whose
arguments or result are not the plain case: a bad id, cursor or page size, a
missing membership, the module off, an incident the viewer may not see. The ordinary
path then answers exactly as it always does, errors included; tests compare
the two paths answer for answer (tests/test_compiled_reads.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_variable_values,
)
from graphql.validation import ASTValidationRule

from models import compiled_sql as sql
from models.compiled_sql import Params, Selection, Uncompilable
from models.incident import IncidentStatus
from resolvers.errors import CasesError
from resolvers.ids import decode_ids, decode_target_id
from resolvers.paging import check_first, decode_time_cursor

_MAX_SHAPES = 64
# Filters the statement applies; the others (dates, which need the school's
# time zone, and text, which needs its own checks) go the ordinary way.
_INCIDENTS_FILTERS = {"status", "unassigned", "assignedTo", "students", "categories"}


@dataclass(frozen=True, slots=True)
class _Root:
    key: str
    # incident, incidents, typename; under viewer: user, school, myAssigned,
    # viewer_typename
    kind: str
    selection: Selection
    node: FieldNode | None
    definition: GraphQLField | None

    @property
    def under_viewer(self) -> bool:
        return self.kind in ("user", "school", "myAssigned", "viewer_typename")


@dataclass(frozen=True, slots=True)
class Bound:
    """The statement for one request and its parameters after the viewer's."""

    statement: str
    params: list[Any]


class _Ordinary(Exception):
    """Arguments the statement does not cover: the ordinary path answers."""


@dataclass(frozen=True, slots=True)
class _Part:
    """A root field bound to one request's values: which statement text fits
    (`shape`) and how to render it; rendering runs once per shape."""

    root: _Root
    shape: tuple[Any, ...]
    render: Any = None  # () -> JSON expression
    page: sql.PageQuery | None = None
    needs_cases: bool = False
    # Conditions the whole answer needs (ids all of this school), else NULL.
    guards: tuple[str, ...] = ()


@dataclass
class CompiledRead:
    operation: OperationDefinitionNode
    roots: list[_Root]
    viewer_key: str | None
    _statements: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def bind(self, schema: GraphQLSchema, variables: object) -> Bound | None:
        """The statement for these variables, or None for the ordinary path."""
        if variables is not None and not isinstance(variables, dict):
            return None
        coerced = get_variable_values(
            schema, self.operation.variable_definitions or (), variables or {}
        )
        if not isinstance(coerced, VariableValues):
            return None
        params = Params()
        try:
            parts = [_bind(root, coerced, params) for root in self.roots]
        except (CasesError, GraphQLError, _Ordinary):
            return None
        shape = tuple(part.shape for part in parts)
        statement = self._statements.get(shape)
        if statement is None:
            statement = self._statement(parts)
            # Shapes count ids, so a client varying list lengths makes more.
            if len(self._statements) >= _MAX_SHAPES:
                self._statements.clear()
            self._statements[shape] = statement
        return Bound(statement, params.values)

    def _statement(self, parts: list[_Part]) -> str:
        ctes: list[str] = []
        query: list[tuple[str, str]] = []
        viewer: list[tuple[str, str]] = []
        viewer_at = None
        for n, part in enumerate(parts):
            if part.page is not None:
                cte, json = sql.connection(part.root.selection, part.page, n)
                ctes.append(cte)
            else:
                json = part.render()
            if part.root.under_viewer:
                viewer_at = len(query) if viewer_at is None else viewer_at
                viewer.append((part.root.key, json))
            else:
                query.append((part.root.key, json))
        if self.viewer_key is not None and viewer_at is not None:
            query.insert(viewer_at, (self.viewer_key, sql.json_object(viewer)))
        needs_cases = any(part.needs_cases for part in parts)
        guards = [guard for part in parts for guard in part.guards]
        return sql.statement(ctes, query, needs_cases=needs_cases, guards=guards)


def _bind(root: _Root, variables: VariableValues, params: Params) -> _Part:
    kind, selection = root.kind, root.selection
    if kind == "typename":
        return _Part(root, ("t",), lambda: "'Query'")
    if kind == "viewer_typename":
        return _Part(root, ("vt",), lambda: "'Viewer'")
    if kind == "user":
        return _Part(root, ("u",), lambda: sql.viewer_user(selection))
    if kind == "school":
        return _Part(root, ("s",), lambda: sql.school(selection))
    assert root.definition is not None and root.node is not None
    args = get_argument_values(root.definition, root.node, variables)
    if kind == "incident":
        pk = params.add(decode_target_id("Incident", args["id"]))
        return _Part(root, ("i",), lambda: sql.single_incident(selection, pk))
    if kind == "myAssigned":
        page = _page(args, 20, params)
        page = page.with_conditions(
            "i.assignee_id = $1", sql.ACTIVE_ONLY, everyone=True
        )
        return _Part(root, ("m", page.after_at is None), page=page, needs_cases=True)
    return _bind_incidents(root, args, params)


def _bind_incidents(root: _Root, args: dict[str, Any], params: Params) -> _Part:
    page = _page(args, 50, params)
    given = {k: v for k, v in (args.get("filter") or {}).items() if v is not None}
    if not set(given) <= _INCIDENTS_FILTERS:
        raise _Ordinary
    assignees = decode_ids("User", given.get("assignedTo") or [], field="assignedTo")
    students = decode_ids("Student", given.get("students") or [], field="students")
    categories = decode_ids(
        "Category", given.get("categories") or [], field="categories"
    )
    statuses = [IncidentStatus(s.value) for s in given.get("status") or []]
    unassigned = bool(given.get("unassigned"))
    conditions = []
    guards = []
    if assignees or unassigned:
        conditions.append(sql.assignment_condition(params, assignees, unassigned))
    if assignees:
        guards.append(sql.all_members(params, assignees))
    if statuses:
        conditions.append(sql.statuses_condition(params, statuses))
    for kind, ids in (("students", students), ("categories", categories)):
        if ids:
            conditions.append(sql.linked_to_any(params, kind, ids))
            guards.append(sql.all_of_school(params, kind, ids))
    shape = (
        "l",
        page.after_at is None,
        len(assignees),
        unassigned,
        len(statuses),
        len(students),
        len(categories),
    )
    return _Part(
        root,
        shape,
        page=page.with_conditions(*conditions),
        needs_cases=bool(assignees or unassigned or statuses),
        guards=tuple(guards),
    )


def _page(args: dict[str, Any], default_first: int, params: Params) -> sql.PageQuery:
    first = args.get("first")
    first_param = params.add(check_first(default_first if first is None else first))
    cursor = decode_time_cursor(args.get("after"))
    if cursor is None:
        return sql.PageQuery((), first_param, None, None)
    return sql.PageQuery((), first_param, params.add(cursor[0]), params.add(cursor[1]))


# -- looking at a document once -------------------------------------------------


class Compiler:
    """Remembers, per document and operation name, its CompiledRead or None."""

    def __init__(
        self,
        schema: GraphQLSchema,
        rules: Sequence[type[ASTValidationRule]],
        max_tokens: int,
        max_documents: int,
    ) -> None:
        self.schema = schema
        self.rules = [*specified_rules, *rules]
        self.max_tokens = max_tokens
        self.max_documents = max_documents
        self._known: dict[tuple[str, str | None], CompiledRead | None] = {}

    @property
    def cached_documents(self) -> int:
        return len(self._known)

    def compiled(self, query: str, operation_name: str | None) -> CompiledRead | None:
        key = (query, operation_name)
        if key in self._known:
            return self._known[key]
        found = self._compile(query, operation_name)
        if len(self._known) >= self.max_documents:
            self._known.clear()
        self._known[key] = found
        return found

    def _compile(self, query: str, operation_name: str | None) -> CompiledRead | None:
        try:
            document = parse(query, max_tokens=self.max_tokens, no_location=True)
        except GraphQLError:
            return None
        if validate(self.schema, document, self.rules):
            return None
        operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        fragments = {
            d.name.value: d
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        chosen = [
            op
            for op in operations
            if operation_name is None or (op.name and op.name.value == operation_name)
        ]
        if len(chosen) != 1 or chosen[0].operation != OperationType.QUERY:
            return None
        try:
            return _Walker(self.schema, fragments).operation(chosen[0])
        except Uncompilable:
            return None


class _Walker:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]
    ) -> None:
        self.schema = schema
        self.fragments = fragments

    def operation(self, operation: OperationDefinitionNode) -> CompiledRead:
        query_type = self.schema.query_type
        assert query_type is not None
        roots: list[_Root] = []
        viewer_key = None
        for node in self._fields(operation.selection_set, query_type):
            key = _key(node)
            name = node.name.value
            definition = query_type.fields.get(name)
            if name == "__typename":
                roots.append(_Root(key, "typename", (), None, None))
            elif name in ("incident", "incidents") and definition is not None:
                selection = self._selection(node, definition)
                roots.append(_Root(key, name, selection, node, definition))
            elif name == "viewer" and definition is not None and viewer_key is None:
                viewer_key = key
                roots.extend(self._viewer(node, definition))
            else:
                raise Uncompilable(f"Query.{name}")
        # Rendered once here, so a selection nothing can render is refused now.
        for root in roots:
            _check_renders(root)
        return CompiledRead(operation, roots, viewer_key)

    def _viewer(self, node: FieldNode, definition: GraphQLField) -> list[_Root]:
        viewer_type = _object_type(definition)
        roots = []
        for child in self._fields(node.selection_set, viewer_type):
            key, name = _key(child), child.name.value
            child_def = viewer_type.fields.get(name)
            if name == "__typename":
                roots.append(_Root(key, "viewer_typename", (), None, None))
            elif name in ("user", "school", "myAssigned") and child_def is not None:
                selection = self._selection(child, child_def)
                roots.append(_Root(key, name, selection, child, child_def))
            else:
                raise Uncompilable(f"Viewer.{name}")
        return roots

    def _selection(self, node: FieldNode, definition: GraphQLField) -> Selection:
        object_type = _object_type(definition)
        selected = []
        for child in self._fields(node.selection_set, object_type):
            name = child.name.value
            sub = None
            if child.selection_set is not None:
                child_def = object_type.fields.get(name)
                if child_def is None:
                    raise Uncompilable(name)
                sub = self._selection(child, child_def)
            elif child.arguments:
                raise Uncompilable(f"{name} with arguments")
            selected.append((_key(child), name, sub))
        return tuple(selected)

    def _fields(
        self, selection_set: SelectionSetNode | None, object_type: GraphQLObjectType
    ) -> list[FieldNode]:
        """The fields in response order, fragments on this type flattened."""
        if selection_set is None:
            raise Uncompilable("no selection")
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if selection.directives:
                raise Uncompilable("directive")
            if isinstance(selection, FieldNode):
                found.append(selection)
                continue
            condition: NamedTypeNode | None
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                condition, inner = fragment.type_condition, fragment.selection_set
                if fragment.directives:
                    raise Uncompilable("directive")
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, inner = selection.type_condition, selection.selection_set
            applies = condition is None or _applies(condition.name.value, object_type)
            if not applies:
                raise Uncompilable("fragment on another type")
            found.extend(self._fields(inner, object_type))
        keys = [_key(node) for node in found]
        if len(set(keys)) != len(keys):
            raise Uncompilable("repeated response key")
        return found


def _applies(type_name: str, object_type: GraphQLObjectType) -> bool:
    return type_name == object_type.name or any(
        interface.name == type_name for interface in object_type.interfaces
    )


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _object_type(definition: GraphQLField) -> GraphQLObjectType:
    graphql_type: Any = definition.type
    while hasattr(graphql_type, "of_type"):
        graphql_type = graphql_type.of_type
    if not isinstance(graphql_type, GraphQLObjectType):
        raise Uncompilable(str(graphql_type))
    return graphql_type


def _check_renders(root: _Root) -> None:
    """Renders the root's selection with placeholder values, so a field the SQL
    side cannot render makes the document uncompilable up front."""
    page = sql.PageQuery((), "$3", None, None)
    if root.kind == "incident":
        sql.single_incident(root.selection, "$3")
    elif root.kind in ("incidents", "myAssigned"):
        sql.connection(root.selection, page, 0)
    elif root.kind == "user":
        sql.viewer_user(root.selection)
    elif root.kind == "school":
        sql.school(root.selection)

"""GraphQL execution: validation, resolvers and fast shaping of dataset rows.

graphql-core parses, validates, coerces variables and runs the resolvers. Dataset nodes are
the exception for speed: their resolver answers an empty list to graphql-core and keeps the
rows it shaped itself from the node's selection, which are spliced into the result after
execution (completing 10,000 rows field by field in graphql-core would take seconds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    execute,
    validate,
)

from .config import StandinConfig
from .datasets import DATASETS, HOURLY_BLOCKS, HOURLY_DATASETS, DatasetSpec, HourlySpec
from .engine import Group, Query, date_bounds, format_dimension, run_query
from .errors import (
    NOT_AUTHORIZED_ACCOUNT,
    StandinError,
    error_entry,
    fields_error,
    heavy_error,
    limit_error,
    no_access_error,
    range_error,
    too_old_error,
)
from .hourly import HourlyGroup, HourlyQuery, format_value, not_served, run_hourly, time_bounds
from .schema import build_executable_schema, retire


@dataclass
class RequestContext:
    """Per-request state shared by the resolvers."""

    config: StandinConfig
    readable_accounts: list[str] | None  # None: every account
    budget_left: int
    dataset: str | None = None
    limit: int | None = None
    rows: int = 0
    splices: list[tuple[list[str | int], list[dict[str, Any]]]] = field(default_factory=list)


@dataclass
class RequestShape:
    """What a parsed request asks for, read from its AST before validation."""

    kind: str  # "data" | "settings" | "other"
    dataset: str | None
    queries: int  # what the rate limiter counts: dataset nodes, plus one for settings


def request_shape(document: DocumentNode) -> RequestShape:
    """Dataset nodes and settings nodes anywhere in the document's operations."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    data_nodes: list[str] = []
    settings = 0

    def walk(
        selection_set: SelectionSetNode | None, inside_settings: bool, seen: frozenset[str]
    ) -> None:
        nonlocal settings
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "settings":
                    settings += 1
                    walk(selection.selection_set, True, seen)
                    continue
                if (name in DATASETS or name in HOURLY_DATASETS) and not inside_settings:
                    data_nodes.append(name)
                walk(selection.selection_set, inside_settings, seen)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, inside_settings, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    walk(fragments[name].selection_set, inside_settings, seen | {name})

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(definition.selection_set, False, frozenset())
    kind = "data" if data_nodes else "settings" if settings else "other"
    return RequestShape(
        kind, data_nodes[0] if data_nodes else None, len(data_nodes) + min(settings, 1)
    )


# --- selection plans: how to shape a dataset node's groups --------------------------------


def _included(
    node: FieldNode | InlineFragmentNode | FragmentSpreadNode, variables: dict[str, Any]
) -> bool:
    """Honour @skip and @include."""
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        condition: Any = None
        for argument in directive.arguments or ():
            if argument.name.value == "if":
                value = argument.value
                if isinstance(value, BooleanValueNode):
                    condition = value.value
                elif isinstance(value, VariableNode):
                    condition = variables.get(value.name.value)
        if (name == "skip" and condition is True) or (name == "include" and condition is not True):
            return False
    return True


def _fields(
    selection_set: SelectionSetNode | None, info: GraphQLResolveInfo[Any], variables: dict[str, Any]
) -> list[FieldNode]:
    """The field nodes of a selection set, fragments flattened, in document order."""
    out: list[FieldNode] = []
    if selection_set is None:
        return out
    for selection in selection_set.selections:
        if not _included(selection, variables):  # type: ignore[arg-type]
            continue
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out.extend(_fields(selection.selection_set, info, variables))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = info.fragments[selection.name.value]
            out.extend(_fields(fragment.selection_set, info, variables))
    return out


Shaper = Callable[[Group], Any]


@dataclass
class SelectionPlan:
    """Grouped dimensions, leaf count and a row builder for one dataset node."""

    dimensions: list[str]
    field_count: int
    build: Callable[[Group], dict[str, Any]]


def _key_and_name(node: FieldNode) -> tuple[str, str]:
    """A selected field's key in the answer (its alias, else its name), and its name."""
    return (node.alias.value if node.alias else node.name.value), node.name.value


def _selection(
    type_prefix: str, info: GraphQLResolveInfo[Any]
) -> tuple[dict[str, Any], GraphQLObjectType, list[FieldNode]]:
    """A dataset node's variables, its GraphQL type and the fields it selects."""
    raw_variables: Any = info.variable_values
    variables: dict[str, Any] = getattr(raw_variables, "coerced", raw_variables) or {}
    return_type = info.schema.type_map[type_prefix]
    assert isinstance(return_type, GraphQLObjectType)
    return variables, return_type, _fields_of(info.field_nodes, info, variables)


def selection_plan(spec: DatasetSpec, info: GraphQLResolveInfo[Any]) -> SelectionPlan:
    """Read the dataset node's selection into a plan."""
    variables, return_type, nodes = _selection(spec.type_prefix, info)
    dimensions: list[str] = []
    entries: list[tuple[str, Shaper]] = []
    field_count = 0
    for node in nodes:
        key, name = _key_and_name(node)
        if name == "__typename":
            entries.append((key, _constant(return_type.name)))
        elif name == "count":
            field_count += 1
            entries.append((key, lambda group: group[1]))
        elif name in ("sum", "avg", "dimensions"):
            block_type = return_type.fields[name].type
            block_name = getattr(block_type, "name", name)
            sub: list[tuple[str, Callable[[Any], Any]]] = []
            for leaf in _fields(node.selection_set, info, variables):
                leaf_key, leaf_name = _key_and_name(leaf)
                if leaf_name == "__typename":
                    sub.append((leaf_key, _constant(block_name)))
                    continue
                field_count += 1
                if name == "sum":
                    sub.append((leaf_key, lambda group: group[2]))
                elif name == "avg":
                    sub.append((leaf_key, lambda group: group[3]))
                else:
                    if leaf_name not in dimensions:
                        dimensions.append(leaf_name)
                    sub.append((leaf_key, _dimension_shaper(dimensions, leaf_name)))
            entries.append((key, _block_shaper(sub)))
        else:
            raise StandinError(400, f'unknown field "{name}": the stand-in does not serve it')

    def build(group: Group) -> dict[str, Any]:
        return {key: shape(group) for key, shape in entries}

    return SelectionPlan(dimensions, field_count, build)


@dataclass
class HourlyPlan:
    """Grouped dimensions, metric fields, leaf count and a row builder for an hourly node."""

    dimensions: list[str]
    metrics: list[str]
    field_count: int
    build: Callable[[HourlyGroup], dict[str, Any]]


def hourly_selection_plan(spec: HourlySpec, info: GraphQLResolveInfo[Any]) -> HourlyPlan:
    """Read an hourly dataset node's selection; a field the stand-in does not compute is a 400."""
    variables, return_type, nodes = _selection(spec.type_prefix, info)
    dimensions: list[str] = []
    metrics: list[str] = []
    entries: list[tuple[str, Callable[[HourlyGroup], Any]]] = []
    field_count = 0
    for node in nodes:
        key, name = _key_and_name(node)
        if name == "__typename":
            entries.append((key, _constant(return_type.name)))
            continue
        if name == "count":
            field_count += 1
            if name not in metrics:
                metrics.append(name)
            entries.append((key, _metric_shaper(name)))
            continue
        if name != "dimensions" and name not in HOURLY_BLOCKS:
            raise not_served(spec, name)
        block_name = getattr(return_type.fields[name].type, "name", name)
        sub: list[tuple[str, Callable[[HourlyGroup], Any]]] = []
        for leaf in _fields(node.selection_set, info, variables):
            leaf_key = leaf.alias.value if leaf.alias else leaf.name.value
            if leaf.name.value == "__typename":
                sub.append((leaf_key, _constant(block_name)))
                continue
            field_count += 1
            if name == "dimensions":
                dimension = leaf.name.value
                if dimension not in spec.dimensions:
                    raise not_served(spec, f"dimensions.{dimension}")
                if dimension not in dimensions:
                    dimensions.append(dimension)
                sub.append((leaf_key, _hourly_dimension_shaper(dimensions, dimension)))
                continue
            metric = f"{name}.{leaf.name.value}"
            if metric not in spec.metrics:
                raise not_served(spec, metric)
            if metric not in metrics:
                metrics.append(metric)
            sub.append((leaf_key, _metric_shaper(metric)))
        entries.append((key, _block_shaper(sub)))

    def build(group: HourlyGroup) -> dict[str, Any]:
        return {key: shape(group) for key, shape in entries}

    return HourlyPlan(dimensions, metrics, field_count, build)


def _metric_shaper(field: str) -> Callable[[HourlyGroup], Any]:
    return lambda group: format_value(field, group[1][field])


def _hourly_dimension_shaper(dimensions: list[str], name: str) -> Callable[[HourlyGroup], Any]:
    position = dimensions.index(name)
    return lambda group: format_dimension(name, group[0][position])


def _fields_of(
    nodes: list[FieldNode], info: GraphQLResolveInfo[Any], variables: dict[str, Any]
) -> list[FieldNode]:
    out: list[FieldNode] = []
    for node in nodes:
        out.extend(_fields(node.selection_set, info, variables))
    return out


def _constant(value: str) -> Callable[[Any], Any]:
    return lambda group: value


def _dimension_shaper(dimensions: list[str], name: str) -> Shaper:
    position = dimensions.index(name)
    return lambda group: format_dimension(name, group[0][position])


def _block_shaper(sub: list[tuple[str, Callable[[Any], Any]]]) -> Callable[[Any], Any]:
    return lambda group: {key: shape(group) for key, shape in sub}


# --- resolvers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRef:
    """An account node being resolved."""

    tag: str


def _resolve_accounts(
    _root: Any, info: GraphQLResolveInfo[Any], filter: dict[str, Any]
) -> list[AccountRef]:
    ctx: RequestContext = info.context
    tag = filter["accountTag"]
    readable = ctx.readable_accounts
    if tag not in ctx.config.accounts or (readable is not None and tag not in readable):
        raise StandinError(403, NOT_AUTHORIZED_ACCOUNT)
    return [AccountRef(tag)]


def _resolve_settings(account: AccountRef, info: GraphQLResolveInfo[Any]) -> AccountRef:
    return account


def _settings_resolver(spec: DatasetSpec) -> Callable[..., dict[str, Any]]:
    def resolve(account: AccountRef, info: GraphQLResolveInfo[Any]) -> dict[str, Any]:
        config: StandinConfig = info.context.config
        return _settings_entry(
            (account.tag, spec.name) not in config.disabled,
            (config.max_duration, config.max_page_size, config.max_number_of_fields),
            config.not_older_than,
            [f for f in spec.available_fields
             if f not in config.available_fields_missing.get(spec.name, ())
             and f not in config.retired_fields.get(spec.name, ())],
        )  # fmt: skip

    return resolve


def _settings_entry(
    enabled: bool, limits: tuple[int, int, int], not_older_than: int, available: list[str]
) -> dict[str, Any]:
    """One dataset's `settings` answer; limits: maxDuration, maxPageSize, maxNumberOfFields."""
    max_duration, max_page_size, max_fields = limits
    return {
        "enabled": enabled,
        "maxDuration": max_duration,
        "maxPageSize": max_page_size,
        "maxNumberOfFields": max_fields,
        "notOlderThan": not_older_than,
        "availableFields": available,
    }


def _dataset_resolver(spec: DatasetSpec) -> Callable[..., list[Any]]:
    def read(account: AccountRef, info: Info, filter: Filter, limit: int, order: list[str]) -> Rows:
        config: StandinConfig = info.context.config
        _check_node(
            info,
            spec.name,
            (account.tag, spec.name) not in config.disabled,
            limit,
            config.max_page_size,
        )
        plan = selection_plan(spec, info)
        if plan.field_count > config.max_number_of_fields:
            raise fields_error(config.max_number_of_fields)
        start, end = date_bounds(filter)
        if start is None:
            raise range_error(None, config.max_duration)
        last = end if end is not None else config.current_day()
        seconds = max(0, (last - start).days + 1) * 86400
        if seconds > config.max_duration:
            raise range_error(seconds, config.max_duration)
        if start < config.first_readable_day():
            raise too_old_error(config.not_older_than)
        _check_cost(config, seconds, limit)
        query = Query(spec, plan.dimensions, filter, order, limit, start, last)
        return [plan.build(group) for group in run_query(config, account.tag, query)]

    return _node_resolver(read)


def _check_node(
    info: GraphQLResolveInfo[Any], dataset: str, enabled: bool, limit: int, max_page_size: int
) -> None:
    """Note the request's dataset and limit; refuse a dataset not enabled or a page too large."""
    ctx: RequestContext = info.context
    ctx.dataset = ctx.dataset or dataset
    ctx.limit = limit if ctx.limit is None else ctx.limit
    if not enabled:
        raise no_access_error(".".join(str(p) for p in info.path.as_list()))
    if limit <= 0 or limit > max_page_size:
        raise limit_error(max_page_size)


Info = GraphQLResolveInfo[Any]
Filter = dict[str, Any]
Rows = list[dict[str, Any]]
# Checks a dataset node's query (account, info, filter, limit, orderBy) and shapes its rows.
NodeReader = Callable[[AccountRef, Info, Filter, int, list[str]], Rows]


def _node_resolver(read: NodeReader) -> Callable[..., list[Any]]:
    """A dataset node's resolver: `read` checks the query and shapes its rows.

    The rows are kept for the result (see the module's docstring); graphql-core gets [].
    """

    def resolve(
        account: AccountRef,
        info: GraphQLResolveInfo[Any],
        filter: dict[str, Any],
        limit: int,
        orderBy: list[str] | None = None,  # noqa: N803
    ) -> list[Any]:
        rows = read(account, info, filter, limit, list(orderBy or []))
        ctx: RequestContext = info.context
        ctx.rows += len(rows)
        ctx.splices.append((info.path.as_list(), rows))
        return []

    return resolve


def _check_cost(config: StandinConfig, seconds: int, limit: int) -> None:
    """Refuse a query heavier than the configured cost model allows."""
    too_long = config.heavy_query_seconds is not None and seconds > config.heavy_query_seconds
    too_many = config.heavy_query_limit is not None and limit > config.heavy_query_limit
    if too_long or too_many:
        raise heavy_error(config.heavy_query_message)


def _hourly_enabled(config: StandinConfig, account: str, spec: HourlySpec) -> bool:
    return config.hourly[spec.name].enabled and (account, spec.name) not in config.disabled


def _hourly_settings_resolver(spec: HourlySpec) -> Callable[..., dict[str, Any]]:
    def resolve(account: AccountRef, info: GraphQLResolveInfo[Any]) -> dict[str, Any]:
        config: StandinConfig = info.context.config
        settings = config.hourly[spec.name]
        return _settings_entry(
            _hourly_enabled(config, account.tag, spec),
            (settings.max_duration, settings.max_page_size, settings.max_number_of_fields),
            settings.not_older_than,
            [
                f
                for f in spec.available_fields
                if f not in settings.available_fields_missing
                and f not in config.retired_fields.get(spec.name, ())
            ],
        )

    return resolve


def _hourly_resolver(spec: HourlySpec) -> Callable[..., list[Any]]:
    def read(account: AccountRef, info: Info, filter: Filter, limit: int, order: list[str]) -> Rows:
        config: StandinConfig = info.context.config
        settings = config.hourly[spec.name]
        enabled = _hourly_enabled(config, account.tag, spec)
        _check_node(info, spec.name, enabled, limit, settings.max_page_size)
        plan = hourly_selection_plan(spec, info)
        if plan.field_count > settings.max_number_of_fields:
            raise fields_error(settings.max_number_of_fields)
        start, end = time_bounds(filter)
        if start is None:
            raise range_error(None, settings.max_duration)
        now = config.current_time()
        last = end if end is not None else now
        if last - start > settings.max_duration:
            raise range_error(last - start, settings.max_duration)
        if start < now - settings.not_older_than:
            raise too_old_error(settings.not_older_than)
        _check_cost(config, last - start, limit)
        query = HourlyQuery(
            spec, plan.dimensions, list(plan.metrics), filter, order, limit, start, last
        )
        return [plan.build(group) for group in run_hourly(config, account.tag, query)]

    return _node_resolver(read)


def _attach_resolvers(schema: Any) -> None:
    schema.type_map["Query"].fields["viewer"].resolve = lambda root, info: {}
    viewer = schema.type_map["viewer"].fields
    viewer["accounts"].resolve = _resolve_accounts
    viewer["budget"].resolve = lambda root, info: max(0, info.context.budget_left)
    account = schema.type_map["account"].fields
    account["settings"].resolve = _resolve_settings
    settings = schema.type_map["AccountSettings"].fields
    for name, spec in DATASETS.items():
        account[name].resolve = _dataset_resolver(spec)
        settings[name].resolve = _settings_resolver(spec)
    for name, hourly in HOURLY_DATASETS.items():
        account[name].resolve = _hourly_resolver(hourly)
        settings[name].resolve = _hourly_settings_resolver(hourly)


SCHEMA = build_executable_schema()
_attach_resolvers(SCHEMA)
# Schemas with retired datasets or fields, by what was retired; built on first use.
_RETIRED: dict[
    tuple[frozenset[str], frozenset[tuple[str, str]], frozenset[str], frozenset[str]],
    GraphQLSchema,
] = {}
_RETIRED_LOCK = threading.Lock()


def schema_for(config: StandinConfig) -> GraphQLSchema:
    """Cloudflare's schema, less what `config` says Cloudflare retired."""
    fields = frozenset((name, f) for name, paths in config.retired_fields.items() for f in paths)
    key = (
        frozenset(config.retired_datasets),
        fields,
        frozenset(config.retired_settings_fields),
        frozenset(config.retired_nodes),
    )
    if not any(key):
        return SCHEMA
    with _RETIRED_LOCK:
        schema = _RETIRED.get(key)
        if schema is None:
            schema = build_executable_schema()
            _attach_resolvers(schema)
            retire(
                schema,
                config.retired_datasets,
                config.retired_fields,
                config.retired_settings_fields,
                config.retired_nodes,
            )
            _RETIRED[key] = schema
        return schema


@dataclass
class ExecutionOutcome:
    """HTTP status and JSON body of an executed request."""

    status: int
    body: dict[str, Any]


def validation_errors(document: DocumentNode, config: StandinConfig) -> list[GraphQLError]:
    """Errors of validating the document against Cloudflare's schema (less what it retired)."""
    return list(validate(schema_for(config), document))


def run(
    document: DocumentNode,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    ctx: RequestContext,
) -> ExecutionOutcome:
    """Execute a validated document; any error answers data null with its status."""
    result = execute(
        schema_for(ctx.config),
        document,
        variable_values=variables,
        operation_name=operation_name,
        context_value=ctx,
    )
    assert isinstance(result, ExecutionResult)
    errors = result.errors
    if errors:
        status = 400
        for error in errors:
            original = error.original_error
            if isinstance(original, StandinError):
                status = original.status
                break
            if original is not None and not isinstance(original, GraphQLError):
                status = 500
        entries = [error_entry(_message(e), e.path) for e in errors]
        return ExecutionOutcome(status, {"data": None, "errors": entries})
    data: dict[str, Any] = result.data or {}
    for path, rows in ctx.splices:
        target: Any = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = rows
    return ExecutionOutcome(200, {"data": data, "errors": None})


def _message(error: GraphQLError) -> str:
    if isinstance(error.original_error, StandinError):
        return error.original_error.message
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        return "Internal server error"
    return error.message

"""The executable schema: Cloudflare's SDL with strict scalars for its own lower-case types."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

from graphql import (
    BooleanValueNode,
    FloatValueNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    StringValueNode,
    ValueNode,
    build_schema,
    get_named_type,
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_UINT64_MAX = 2**64 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def schema_text() -> str:
    """The SDL shipped in the package."""
    return resources.files("cloudflare_standin").joinpath("schema.graphql").read_text("utf-8")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"string cannot represent a non string value: {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise GraphQLError(f"bool cannot represent a non boolean value: {value!r}")
    return value


def _integer(name: str, low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise GraphQLError(f"{name} cannot represent a non integer value: {value!r}")
        if not low <= value <= high:
            raise GraphQLError(f"{name} cannot represent out of range value: {value!r}")
        return value

    return parse


def _float64(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GraphQLError(f"float64 cannot represent a non numeric value: {value!r}")
    return float(value)


def _date(value: Any) -> str:
    """Dates stay ISO strings (their order is date order); validated strictly."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise GraphQLError(f"Date must be a YYYY-MM-DD string: {value!r}")
    try:
        datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise GraphQLError(f"Date is not a calendar date: {value!r}") from exc
    return value


def _time(value: Any) -> int | float:
    """Times become epoch seconds so they compare with the rows' event seconds."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise GraphQLError(f"Time must be an RFC 3339 string: {value!r}")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphQLError(f"Time is not a valid time: {value!r}") from exc
    seconds = moment.timestamp()
    return int(seconds) if seconds == int(seconds) else seconds


def _literal(parse: Callable[[Any], Any], *kinds: type[ValueNode]) -> Callable[..., Any]:
    """parse_literal accepting only the given literal node kinds."""

    def parse_literal(node: ValueNode, _variables: Any = None) -> Any:
        if not isinstance(node, kinds):
            raise GraphQLError(f"unexpected literal {node.kind}")
        if isinstance(node, IntValueNode):
            return parse(int(node.value))
        if isinstance(node, FloatValueNode):
            return parse(float(node.value))
        return parse(getattr(node, "value", None))

    return parse_literal


def _format_time(value: Any) -> str:
    moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _install(schema: GraphQLSchema) -> None:
    uint64 = _integer("uint64", 0, _UINT64_MAX)
    int64 = _integer("int64", _INT64_MIN, _INT64_MAX)
    scalars: dict[str, tuple[Callable[[Any], Any], Callable[..., Any], Callable[[Any], Any]]] = {
        "string": (_string, _literal(_string, StringValueNode), _string),
        "bool": (_bool, _literal(_bool, BooleanValueNode), _bool),
        "uint64": (uint64, _literal(uint64, IntValueNode), uint64),
        **{
            f"uint{bits}": (parse, _literal(parse, IntValueNode), parse)
            for bits in (8, 16, 32)
            for parse in (_integer(f"uint{bits}", 0, 2**bits - 1),)
        },
        "int64": (int64, _literal(int64, IntValueNode), int64),
        "float64": (_float64, _literal(_float64, IntValueNode, FloatValueNode), _float64),
        "Date": (_date, _literal(_date, StringValueNode), str),
        "Time": (_time, _literal(_time, StringValueNode), _format_time),
    }
    for name, (parse_value, parse_literal, serialize) in scalars.items():
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)
        scalar.parse_value = parse_value  # type: ignore[method-assign,assignment]
        scalar.parse_literal = parse_literal  # type: ignore[method-assign]
        scalar.serialize = serialize  # type: ignore[method-assign,assignment]
        # graphql-core 3.3 reads coerce_* (fixed at construction from the defaults); 3.2 has none.
        if hasattr(scalar, "coerce_input_value"):
            scalar.coerce_input_value = parse_value
            scalar.coerce_output_value = serialize


def build_executable_schema() -> GraphQLSchema:
    """Cloudflare's schema with the stand-in's scalar functions (resolvers come separately)."""
    schema = build_schema(schema_text())
    _install(schema)
    return schema


def retire(
    schema: GraphQLSchema,
    datasets: Iterable[str],
    fields: Mapping[str, Iterable[str]],
    settings_fields: Iterable[str] = (),
    nodes: Iterable[str] = (),
) -> None:
    """Remove dataset nodes and fields from `schema`, as Cloudflare does when it retires them.

    A dataset goes from `account` and from `AccountSettings`. A field ("dimensions.x", "sum.x",
    "count") goes from its type (a block left empty goes from its dataset), and with it its
    filter fields (`x`, `x_gt`, ...) and orderBy values (`x_ASC`, `sum_x_DESC`, ...). A
    settings field ("availableFields") goes from every dataset's `Settings`; a node in `nodes`
    goes from `account` only. Queries that name them then fail validation.
    """
    account = schema.type_map["account"]
    settings = schema.type_map["AccountSettings"]
    limits = schema.type_map["Settings"]
    assert isinstance(account, GraphQLObjectType)
    assert isinstance(settings, GraphQLObjectType)
    assert isinstance(limits, GraphQLObjectType)
    for name in datasets:
        account.fields.pop(name, None)
        settings.fields.pop(name, None)
    for name in settings_fields:
        limits.fields.pop(name, None)
    for name in nodes:
        account.fields.pop(name, None)
    for name, paths in fields.items():
        node = account.fields.get(name)
        if node is None:
            continue
        groups = get_named_type(node.type)
        where = get_named_type(node.args["filter"].type)
        order = get_named_type(node.args["orderBy"].type)
        assert isinstance(groups, GraphQLObjectType)
        assert isinstance(where, GraphQLInputObjectType)
        assert isinstance(order, GraphQLEnumType)
        for path in paths:
            block, _, leaf = path.rpartition(".")
            owner = groups if not block else get_named_type(groups.fields[block].type)
            assert isinstance(owner, GraphQLObjectType)
            owner.fields.pop(leaf, None)
            if owner is not groups and not owner.fields:
                groups.fields.pop(block, None)  # a block with nothing left goes too
                del schema.type_map[owner.name]
            if block == "dimensions":
                for key in [k for k in where.fields if k == leaf or k.startswith(f"{leaf}_")]:
                    del where.fields[key]
                ordered = leaf
            else:
                ordered = f"{block}_{leaf}" if block else leaf
            for direction in ("ASC", "DESC"):
                order.values.pop(f"{ordered}_{direction}", None)

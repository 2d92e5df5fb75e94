"""The column types both API families declare: one name each, its schema type and Python types.

A GraphQL dataset (`analytics/datasets.py`) and a REST resource (`catalog/resources.py`) name
each column's type by its name here (`"string"`, `"integer"`, ...); the JSON schema, the typed
decoding of pages and the check of REST values all follow from this one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from singer_sdk import typing as th

TypeName = Literal["string", "integer", "number", "boolean", "object", "date", "date-time"]


@dataclass(frozen=True)
class ColumnType:
    """A column type: its singer-sdk typing helper, and what a decoded value may be."""

    name: TypeName
    schema: type[th.JSONTypeHelper[Any]] | th.JSONTypeHelper[Any]
    # The Python types a decoded JSON value may have; the first is what msgspec decodes into.
    python: tuple[type, ...]

    @property
    def json_type(self) -> str:
        """The JSON Schema type (a date is a string): what an error message names."""
        kind = self.schema.type_dict["type"]
        return str(kind[0] if isinstance(kind, list) else kind)


COLUMN_TYPES: dict[str, ColumnType] = {
    t.name: t
    for t in (
        ColumnType("string", th.StringType, (str,)),
        ColumnType("integer", th.IntegerType, (int,)),
        ColumnType("number", th.NumberType, (float, int)),
        ColumnType("boolean", th.BooleanType, (bool,)),
        ColumnType("object", th.ObjectType(), (dict,)),
        ColumnType("date", th.DateType, (str,)),
        ColumnType("date-time", th.DateTimeType, (str,)),
    )
}


def column_type(name: TypeName) -> ColumnType:
    """The column type of that name."""
    return COLUMN_TYPES[name]

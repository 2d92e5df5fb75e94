"""One `Resource` declaration per Stream REST endpoint: path, columns, primary key, paging.

A declaration drives everything its stream does: the URL path and query parameters, the JSON
schema (singer-sdk typing helpers), the primary key, where the items sit in the answer, whether
it is listed by the `created` cursor, and how each column is read from Cloudflare's JSON
(docs/cloudflare/STREAM-REST-NOTES.md). A field Cloudflare omits or sends as null is null; a
field it adds later is ignored; a field of the wrong type is a one-line error.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th

JSONType = type[th.JSONTypeHelper[Any]] | th.JSONTypeHelper[Any]


@dataclass(frozen=True)
class Column:
    """A record column: its JSON type, and the path of keys that reads it from an item."""

    name: str
    json_type: JSONType
    source: tuple[str, ...]
    description: str = ""

    @property
    def kind(self) -> str:
        """The JSON type: string, integer, number, boolean or object."""
        kind = _type_dict(self.json_type)["type"]
        return str(kind[0] if isinstance(kind, list) else kind)

    @property
    def python_types(self) -> tuple[type, ...]:
        """The Python types a decoded JSON value of this column may have."""
        return _PYTHON_TYPES[self.kind]


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
}


def col(name: str, kind: JSONType, source: str, description: str = "") -> Column:
    """A column read from a dotted path of the item (`status.state`)."""
    return Column(name, kind, tuple(source.split(".")), description or source)


@dataclass(frozen=True)
class Resource:
    """One Stream REST endpoint, as a stream of records per account."""

    stream_name: str
    item_name: str  # what one item is called in messages (`video`)
    path: str  # after the REST base; `{account_id}` is the partition's account
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    params: Mapping[str, str] = field(default_factory=dict)
    items_at: str | None = None  # `result` is an object holding the list under this key
    single: bool = False  # `result` is one object: one record per account and run
    created_cursor: bool = False  # listed in pages by `created` (CreatedCursorPaginator)
    versioned: bool = True  # a full table whose missing rows stop being current
    read_date: str | None = None  # a column set to the UTC day the answer was read
    description: str = ""

    def items(self, count: int) -> str:
        """`1 video`, `2 videos`."""
        return f"{count} {self.item_name}{'' if count == 1 else 's'}"

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the records: account_id, the read date, then the columns."""
        properties = [th.Property("account_id", th.StringType, required=True)]
        if self.read_date:
            properties.append(
                th.Property(
                    self.read_date,
                    th.DateType,
                    required=True,
                    description="The UTC day the figure was read (one row per account and day).",
                )
            )
        properties += [
            th.Property(
                c.name, c.json_type, required=c.name in self.primary_key, description=c.description
            )
            for c in self.columns
        ]
        return th.PropertiesList(*properties).to_dict()

    def record(self, account: str, item: Mapping[str, Any], today: datetime.date) -> dict[str, Any]:
        """The record of one item; ValueError naming the field when a value has the wrong type."""
        record: dict[str, Any] = {"account_id": account}
        if self.read_date:
            record[self.read_date] = today.isoformat()
        for column in self.columns:
            value = _at(item, column.source)
            if value is None:
                if column.name in self.primary_key:
                    raise ValueError(f"a {self.item_name} without {'.'.join(column.source)}")
            elif isinstance(value, float) and column.python_types == (int,) and value.is_integer():
                value = int(value)
            elif not isinstance(value, column.python_types) or (
                isinstance(value, bool) and bool not in column.python_types
            ):
                raise ValueError(
                    f"a {self.item_name} whose {'.'.join(column.source)} is {value!r} "
                    f"(expected {column.kind})"
                )
            record[column.name] = value
        return record


def _type_dict(kind: JSONType) -> dict[str, Any]:
    type_dict: dict[str, Any] = kind.type_dict  # a class or an instance: both give the dict
    return type_dict


def _at(item: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = item
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


VIDEOS = Resource(
    stream_name="videos",
    item_name="video",
    path="/accounts/{account_id}/stream",
    description="Every video of the library, listed whole on every run (GET .../stream).",
    params={"asc": "true", "include_counts": "true"},
    created_cursor=True,
    primary_key=("account_id", "uid"),
    columns=(
        col("uid", th.StringType, "uid", "The video's uid (the analytics streams' uid)."),
        col("name", th.StringType, "meta.name", "meta.name, the name the dashboard shows."),
        col("creator", th.StringType, "creator"),
        col("created", th.DateTimeType, "created"),
        col("modified", th.DateTimeType, "modified"),
        col("uploaded", th.DateTimeType, "uploaded"),
        col("duration", th.NumberType, "duration", "Seconds; -1 while unknown."),
        col("size", th.IntegerType, "size", "Bytes."),
        col("width", th.IntegerType, "input.width", "input.width; -1 while unknown."),
        col("height", th.IntegerType, "input.height", "input.height; -1 while unknown."),
        col("ready_to_stream", th.BooleanType, "readyToStream"),
        col("ready_to_stream_at", th.DateTimeType, "readyToStreamAt"),
        col("status_state", th.StringType, "status.state"),
        col("status_error_reason_code", th.StringType, "status.errorReasonCode"),
        col("live_input", th.StringType, "liveInput", "The live input a recording came from."),
        col("clipped_from", th.StringType, "clippedFrom"),
        col("require_signed_urls", th.BooleanType, "requireSignedURLs"),
        col("scheduled_deletion", th.DateTimeType, "scheduledDeletion"),
        col("thumbnail", th.StringType, "thumbnail"),
        col("preview", th.StringType, "preview"),
        col("meta", th.ObjectType(), "meta", "The whole meta object, as JSON."),
    ),
)

LIVE_INPUTS = Resource(
    stream_name="live_inputs",
    item_name="live input",
    path="/accounts/{account_id}/stream/live_inputs",
    description="Every live input, listed whole on every run (GET .../stream/live_inputs).",
    params={"include_counts": "true"},
    items_at="liveInputs",
    primary_key=("account_id", "uid"),
    columns=(
        col("uid", th.StringType, "uid", "The live input's uid (inputId in analytics)."),
        col("name", th.StringType, "meta.name"),
        col("created", th.DateTimeType, "created"),
        col("modified", th.DateTimeType, "modified"),
        col("enabled", th.BooleanType, "enabled"),
        col("delete_recording_after_days", th.IntegerType, "deleteRecordingAfterDays"),
        col("meta", th.ObjectType(), "meta", "The whole meta object, as JSON."),
    ),
)

STORAGE_USAGE = Resource(
    stream_name="storage_usage",
    item_name="storage reading",
    path="/accounts/{account_id}/stream/storage-usage",
    description="Storage use, one reading per account and UTC day (GET .../stream/storage-usage).",
    single=True,
    versioned=False,
    read_date="date",
    primary_key=("account_id", "date"),
    columns=(
        col("total_storage_minutes", th.NumberType, "totalStorageMinutes"),
        col("total_storage_minutes_limit", th.NumberType, "totalStorageMinutesLimit"),
        col("video_count", th.IntegerType, "videoCount"),
    ),
)

RESOURCES = (VIDEOS, LIVE_INPUTS, STORAGE_USAGE)

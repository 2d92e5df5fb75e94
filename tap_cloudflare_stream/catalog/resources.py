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

from tap_cloudflare_stream.cloudflare.columns import ColumnType, TypeName, column_type

LISTING_ID = "listing_id"  # the column naming the listing a versioned resource's item came from


@dataclass(frozen=True)
class Column:
    """A record column: its type, and the path of keys that reads it from an item."""

    name: str
    type: ColumnType
    source: tuple[str, ...]
    description: str = ""


def col(name: str, kind: TypeName, source: str, description: str = "") -> Column:
    """A column read from a dotted path of the item (`status.state`)."""
    return Column(name, column_type(kind), tuple(source.split(".")), description or source)


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
    versioned: bool = True  # a full table, listed whole: its records carry their listing
    read_date: str | None = None  # a column set to the UTC day the answer was read
    description: str = ""

    def items(self, count: int) -> str:
        """`1 video`, `2 videos`."""
        return f"{count} {self.item_name}{'' if count == 1 else 's'}"

    def schema(self) -> dict[str, Any]:
        """The JSON schema: account_id, the read date, the columns, then a listing's id."""
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
                c.name,
                c.type.schema,
                required=c.name in self.primary_key,
                description=c.description,
            )
            for c in self.columns
        ]
        if self.versioned:
            properties.append(
                th.Property(
                    LISTING_ID,
                    th.StringType,
                    required=True,
                    description="The listing that saw this item: its UTC start as sortable "
                    "text (20261206T041714.123456Z); catalog_listings says whether it was "
                    "complete.",
                )
            )
        return th.PropertiesList(*properties).to_dict()

    def record(
        self,
        account: str,
        item: Mapping[str, Any],
        today: datetime.date,
        listing_id: str | None = None,
    ) -> dict[str, Any]:
        """The record of one item; ValueError naming the field when a value has the wrong type."""
        record: dict[str, Any] = {"account_id": account}
        if self.read_date:
            record[self.read_date] = today.isoformat()
        for column in self.columns:
            value = _at(item, column.source)
            if value is None:
                if column.name in self.primary_key:
                    raise ValueError(f"a {self.item_name} without {'.'.join(column.source)}")
            elif isinstance(value, float) and column.type.python == (int,) and value.is_integer():
                value = int(value)
            elif not isinstance(value, column.type.python) or (
                isinstance(value, bool) and bool not in column.type.python
            ):
                raise ValueError(
                    f"a {self.item_name} whose {'.'.join(column.source)} is {value!r} "
                    f"(expected {column.type.json_type})"
                )
            record[column.name] = value
        if self.versioned:
            record[LISTING_ID] = listing_id
        return record


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
        col("uid", "string", "uid", "The video's uid (the analytics streams' uid)."),
        col("name", "string", "meta.name", "meta.name, the name the dashboard shows."),
        col("creator", "string", "creator"),
        col("created", "date-time", "created"),
        col("modified", "date-time", "modified"),
        col("uploaded", "date-time", "uploaded"),
        col("duration", "number", "duration", "Seconds; -1 while unknown."),
        col("size", "integer", "size", "Bytes."),
        col("width", "integer", "input.width", "input.width; -1 while unknown."),
        col("height", "integer", "input.height", "input.height; -1 while unknown."),
        col("ready_to_stream", "boolean", "readyToStream"),
        col("ready_to_stream_at", "date-time", "readyToStreamAt"),
        col("status_state", "string", "status.state"),
        col("status_error_reason_code", "string", "status.errorReasonCode"),
        col("live_input", "string", "liveInput", "The live input a recording came from."),
        col("clipped_from", "string", "clippedFrom"),
        col("require_signed_urls", "boolean", "requireSignedURLs"),
        col("scheduled_deletion", "date-time", "scheduledDeletion"),
        col("thumbnail", "string", "thumbnail"),
        col("preview", "string", "preview"),
        col("meta", "object", "meta", "The whole meta object, as JSON."),
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
        col("uid", "string", "uid", "The live input's uid (inputId in analytics)."),
        col("name", "string", "meta.name"),
        col("created", "date-time", "created"),
        col("modified", "date-time", "modified"),
        col("enabled", "boolean", "enabled"),
        col("delete_recording_after_days", "integer", "deleteRecordingAfterDays"),
        col("meta", "object", "meta", "The whole meta object, as JSON."),
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
        col("total_storage_minutes", "number", "totalStorageMinutes"),
        col("total_storage_minutes_limit", "number", "totalStorageMinutesLimit"),
        col("video_count", "integer", "videoCount"),
    ),
)

RESOURCES = (VIDEOS, LIVE_INPUTS, STORAGE_USAGE)

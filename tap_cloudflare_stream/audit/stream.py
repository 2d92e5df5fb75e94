"""`sync_audit`: the run's audit trail, synced after every other stream.

One row per (stream, account, day, listing) with the RECORD messages the tap wrote for it in
this run (`RunAudit`, counted after stream maps, where they are written), the run's id and
times. Its key has no nullable or empty column, so every merging target keeps each run's rows
(target-duckdb turns "" into NULL, which a key refuses). dbt's reconciliation reads it
(docs/audit.md).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk import typing as th
from typing_extensions import override

from tap_cloudflare_stream.audit.tally import UTC

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_cloudflare_stream.run import RunParts

STREAM_NAME = "sync_audit"

SCHEMA = th.PropertiesList(
    th.Property("run_id", th.StringType, required=True, description="This run's id (random)."),
    th.Property(
        "run_started_at",
        th.DateTimeType,
        required=True,
        description="When the run started (UTC, whole seconds); its records were extracted after.",
    ),
    th.Property(
        "run_finished_at",
        th.DateTimeType,
        required=True,
        description="When every other stream of the run had been written (UTC).",
    ),
    th.Property(
        "stream", th.StringType, required=True, description="The stream (or stream-map alias)."
    ),
    th.Property("account_id", th.StringType, required=True, description="Account tag."),
    th.Property(
        "day",
        th.DateType,
        required=True,
        description="UTC day counted: `date`, the day of `datetime_hour`, or a listing's start.",
    ),
    th.Property(
        "listing_id",
        th.StringType,
        required=True,
        description="The catalog listing counted; for other streams the run's start as text.",
    ),
    th.Property(
        "rows_emitted",
        th.IntegerType,
        required=True,
        description="RECORD messages the tap wrote for this stream, account, day and listing.",
    ),
).to_dict()


class SyncAuditStream(Stream):
    """The counts of every stream of this run, written once they are all final."""

    name = STREAM_NAME

    def __init__(self, tap: Tap, parts: RunParts) -> None:
        self.parts = parts
        super().__init__(tap, name=STREAM_NAME, schema=SCHEMA)
        self.primary_keys = ["run_id", "stream", "account_id", "day", "listing_id"]

    @override
    @property
    def emit_activate_version_messages(self) -> bool:
        # Each run adds its own rows: a new table version must never retire earlier runs'.
        return False

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        audit = self.parts.audit
        finished = datetime.datetime.now(UTC)
        for row in audit.rows():
            yield {
                "run_id": audit.run_id,
                "run_started_at": audit.started_at,
                "run_finished_at": finished,
                "stream": row.stream,
                "account_id": row.account_id,
                "day": row.day,
                "listing_id": row.listing_id,
                "rows_emitted": row.rows_emitted,
            }

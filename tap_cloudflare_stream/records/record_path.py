"""A lean per-record path: singer-sdk's generic steps skipped where they cannot change output.

singer-sdk runs several generic steps for every record (property selection, type conformance,
partition keys, a bookmark update, a flush per message). For these records most are no-ops and
together they cost more than decoding the page (see docs/performance.md). Each hook below (of
`sdk_seam.SeamStream`, which turns singer-sdk's private steps into them) skips only a step that
cannot change the output, and falls back to singer-sdk's own code whenever a configuration could
make the step matter. tests/test_sync.py checks, message for message, that every stream writes
what singer-sdk's own steps write.

It also holds the STATE rules every stream family shares: the paced cadence's STATE at the end
of each stream, and in batch mode no STATE before the BATCH message naming the rows it covers;
and it counts what it writes for the run's audit (audit/tally.py): each RECORD message after
the stream maps, per alias and value of the column the audit counts by (one dict increment
per record, keyed by that value), or in batch mode each record that goes into a batch file;
the counts go to the `RunAudit` at the end of each window or account.
"""

from __future__ import annotations

import datetime
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform, StreamMap
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from tap_cloudflare_stream.records.state import IndexedStateManager, PacedStateWriter
from tap_cloudflare_stream.sdk_seam import SeamStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_cloudflare_stream.audit.tally import RunAudit

_TToken = TypeVar("_TToken")


@runtime_checkable
class BatchingWriter(Protocol):
    """A message writer that holds RECORD lines back until flushed (records.writer has one)."""

    def flush(self) -> None:
        """Write out pending lines."""


class LeanRecordStream(SeamStream[_TToken]):
    """An HTTP stream whose records are typed, sorted by replication key, carry their partition.

    Mix it in before singer-sdk's stream class: `class S(LeanRecordStream[T], GraphQLStream[T])`.
    """

    # Pages are decoded into typed structs, so records already match the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # Where the stream's counts go (set by the stream from its RunParts); None: not counted.
    run_audit: RunAudit | None = None
    # Whether the audit counts this stream per listing (else per day of the column counted by).
    audit_by_listing = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._record_maps: list[tuple[str, StreamMap | None, dict[Any, int]]] | None = None
        # alias -> value of the column counted by -> RECORD messages, since the last hand-over.
        self._tally: dict[str, dict[Any, int]] = {}
        self._counted_by = ""
        self._time_extracted = datetime.datetime.now(datetime.timezone.utc)
        self._bookmarked_date: Any = None
        self._batches_at_state = 0  # BATCH messages written when the last STATE went out

    def mark_extracted(self) -> None:
        """A page was just read: its records share one time_extracted."""
        self._time_extracted = datetime.datetime.now(datetime.timezone.utc)

    @property
    def audit_column(self) -> str | None:
        """The record column whose value the audit counts by: the time key by default."""
        return self.replication_key

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self._bookmarked_date = None  # a new window or account: bookmark its first record
        records = super().request_records(context)
        try:
            yield from self._counted_for_batches(records) if self.in_batch_sync else records
        finally:
            # The writer batches RECORD lines: they go out when a window's pages stop, however
            # they stop (a STATE after the window would flush them too).
            writer = self.tap.message_writer
            if isinstance(writer, BatchingWriter):
                writer.flush()
            self._hand_over_counts(context)

    def _hand_over_counts(self, context: Context | None) -> None:
        """Give the counts since the last hand-over to the run's audit, under the account."""
        for alias, counts in self._tally.items():
            if counts and self.run_audit is not None and context:
                account = str(context["account_id"])
                self.run_audit.add(account, alias, counts, by_listing=self.audit_by_listing)
            counts.clear()  # the record path holds on to these dicts

    def _counted_for_batches(self, records: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
        """Records on their way to batch files (maps do not apply there), counted per alias."""
        tallies = [self._tally.setdefault(m.stream_alias, {}) for m in self.stream_maps]
        column = self.audit_column or ""
        for record in records:
            value = record.get(column)
            for counts in tallies:
                counts[value] = counts.get(value, 0) + 1
            yield record

    # STATE

    @override
    def new_state_manager(self, **kwargs: Any) -> IndexedStateManager:
        return IndexedStateManager(**kwargs)

    @override
    def may_write_state(self) -> bool:
        if not self.in_batch_sync:
            return True
        # In batch mode a STATE may only follow a BATCH message: before it, the rows the STATE
        # covers sit in a batch file that no message names yet.
        if self.batch_messages == self._batches_at_state:
            return False
        self._batches_at_state = self.batch_messages
        return True

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        super().finalize_state_progress_markers(state)
        # The cadence may have held this stream's last STATE back: the end of a stream has one.
        writer = self.tap.state_writer
        if isinstance(writer, PacedStateWriter):
            writer.end_of_stream(self.tap_state)

    # RECORD

    @override
    def record_messages(self, record: dict[str, Any]) -> Generator[RecordMessage, None, None]:
        maps = self._record_maps
        if maps is None:
            maps = self._record_maps = self._lean_record_maps()
            self._counted_by = self.audit_column or ""
        value = record.get(self._counted_by)  # read before a map or singer-sdk changes it
        if not maps:  # deselected properties or type conformance: singer-sdk's full path
            for message in super().record_messages(record):
                counts = self._tally.setdefault(message.stream, {})
                counts[value] = counts.get(value, 0) + 1
                yield message
            return
        # Every property is selected and conformance is off: selection and conformance are
        # no-ops, and a plain copy map need not copy.
        for alias, stream_map, counts in maps:
            mapped = record if stream_map is None else stream_map.transform(record)
            if mapped is not None:
                counts[value] = counts.get(value, 0) + 1
                yield RecordMessage(
                    stream=alias,
                    record=mapped,
                    version=self.stream_version,
                    time_extracted=self._time_extracted,
                )

    def _lean_record_maps(self) -> list[tuple[str, StreamMap | None, dict[Any, int]]]:
        """The maps as (alias, map or None for a plain copy, its counts), or [] if not lean."""
        if self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE:
            return []
        if not all(self.mask[("properties", name)] for name in self.schema["properties"]):
            return []
        return [
            (
                stream_map.stream_alias,
                None
                if type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
                else stream_map,
                self._tally.setdefault(stream_map.stream_alias, {}),
            )
            for stream_map in self.stream_maps
        ]

    @override
    def process_record(
        self,
        record: dict[str, Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # Without child streams this only copies the partition keys into the record, and
        # records already carry theirs.
        if self.child_streams or (
            partition_context and not partition_context.keys() <= record.keys()
        ):
            super().process_record(record, child_context, partition_context)

    @override
    def increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        # Records come sorted by date (or hour), thousands per value: once a window has
        # bookmarked a value, the same value again leaves the state as it is.
        date = latest_record.get(self.replication_key or "")
        if date is None or date != self._bookmarked_date:
            super().increment_stream_state(latest_record, context=context)
            self._bookmarked_date = date

"""A lean per-record path: singer-sdk's generic steps skipped where they cannot change output.

singer-sdk runs several generic steps for every record (property selection, type conformance,
partition keys, a bookmark update, a flush per message). For these records most are no-ops and
together they cost more than decoding the page (see docs/performance.md). Each hook below (of
`sdk_seam.SeamStream`, which turns singer-sdk's private steps into them) skips only a step that
cannot change the output, and falls back to singer-sdk's own code whenever a configuration could
make the step matter. tests/test_sync.py checks, message for message, that every stream writes
what singer-sdk's own steps write.

It also holds the STATE rules every stream family shares: the paced cadence's STATE at the end
of each stream, and in batch mode no STATE before the BATCH message naming the rows it covers.
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._record_maps: list[tuple[str, StreamMap | None]] | None = None
        self._time_extracted = datetime.datetime.now(datetime.timezone.utc)
        self._bookmarked_date: Any = None
        self._batches_at_state = 0  # BATCH messages written when the last STATE went out

    def mark_extracted(self) -> None:
        """A page was just read: its records share one time_extracted."""
        self._time_extracted = datetime.datetime.now(datetime.timezone.utc)

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self._bookmarked_date = None  # a new window or account: bookmark its first record
        try:
            yield from super().request_records(context)
        finally:
            # The writer batches RECORD lines: they go out when a window's pages stop, however
            # they stop (a STATE after the window would flush them too).
            self.flush_output()

    def flush_output(self) -> None:
        """Write out the RECORD lines the tap's writer holds back."""
        writer = self.tap.message_writer
        if isinstance(writer, BatchingWriter):
            writer.flush()

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
        if not maps:  # deselected properties or type conformance: singer-sdk's full path
            yield from super().record_messages(record)
            return
        # Every property is selected and conformance is off: selection and conformance are
        # no-ops, and a plain copy map need not copy.
        for alias, stream_map in maps:
            mapped = record if stream_map is None else stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=alias,
                    record=mapped,
                    version=self.stream_version,
                    time_extracted=self._time_extracted,
                )

    def _lean_record_maps(self) -> list[tuple[str, StreamMap | None]]:
        """The stream maps as (alias, map or None for a plain copy), or [] if not lean."""
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

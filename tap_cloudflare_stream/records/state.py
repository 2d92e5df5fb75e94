"""The STATE cadence, one for every stream family, paced by the bytes of data written; and a
partition's state found by key, not by scanning every account's.

Every STATE carries every partition's bookmark, so its size grows with the accounts. Writing
one per window (or per partition, or every N seconds) makes the run's STATE volume grow with
the square of the accounts. Here a STATE goes out only once at least four times as many data
bytes have gone out since the last one as that STATE weighed, and always at the end of each
stream (`end_of_stream`): STATE bytes stay below a quarter of the data bytes plus one STATE per
stream, and an interrupted run re-reads at most about four STATEs' weight of records (plus the
lookback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_cloudflare_stream.sdk_seam import StateWriter, StreamStateManager

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, TapState

    from tap_cloudflare_stream.records.writer import RecordBufferingWriter


class PacedStateWriter(StateWriter):
    """singer-sdk's StateWriter, paced by data bytes; it never writes the same STATE twice."""

    # Data bytes per byte of the last STATE before the next one may go out.
    DATA_BYTES_PER_STATE_BYTE = 4

    def __init__(self, message_writer: RecordBufferingWriter) -> None:
        super().__init__(message_writer)
        self._writer = message_writer
        self._last_line = b""

    @override
    def write_state(self, state: TapState, *, force: bool = False) -> None:
        # Checked before encoding: a held STATE costs nothing, whatever its size.
        due = self.DATA_BYTES_PER_STATE_BYTE * len(self._last_line)
        if not force and self._writer.data_bytes_since_state < due:
            return  # held back: a later STATE carries its bookmarks
        line = self._writer.encode({"type": "STATE", "value": state})
        if line != self._last_line:
            self._writer.write_state_line(line)
            self._last_line = line

    def end_of_stream(self, state: TapState) -> None:
        """A stream ended: its STATE goes out whatever the cadence held back."""
        self.write_state(state, force=True)


class IndexedStateManager(StreamStateManager):
    """singer-sdk's state manager of one stream, finding a partition's state by its key.

    singer-sdk finds a partition's bookmark by scanning every partition of the stream, several
    times per window: with N accounts a run scans N² entries. Here each partition remembers
    where in the stream's list singer-sdk found (or made) its state, and a lookup checks that
    the entry there still has the partition's context: if singer-sdk replaced or changed the
    list, the lookup falls back to singer-sdk's scan and remembers the new place.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._places: dict[tuple[tuple[str, Any], ...], int] = {}

    @override
    def get_context_state(self, context: Context | None) -> dict[str, Any]:
        partition = self.get_state_partition_context(context) if context else None
        if not partition:
            return super().get_context_state(context)
        try:
            key = tuple(sorted(partition.items()))
            place = self._places.get(key)
        except TypeError:  # unhashable partition values: singer-sdk's own lookup
            return super().get_context_state(context)
        partitions = self._partitions()
        if place is not None and place < len(partitions):
            entry = partitions[place]
            if isinstance(entry, dict) and entry.get("context") == partition:
                return entry
        state = super().get_context_state(context)
        for place, entry in enumerate(self._partitions()):
            if entry is state:
                self._places[key] = place
                break
        return state

    def _partitions(self) -> list[Any]:
        partitions = self.tap_state.get("bookmarks", {}).get(self.stream_name, {}).get("partitions")
        return partitions if isinstance(partitions, list) else []

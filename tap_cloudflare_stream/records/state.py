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

from singer_sdk.helpers._state import StateWriter
from singer_sdk.streams._state import StreamStateManager
from typing_extensions import override

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
        self.held = 0  # STATEs the cadence held back (a later one carries their bookmarks)

    @override
    def write_state(self, state: TapState, *, force: bool = False) -> None:
        # Checked before encoding: a held STATE costs nothing, whatever its size.
        due = self.DATA_BYTES_PER_STATE_BYTE * len(self._last_line)
        if not force and self._writer.data_bytes_since_state < due:
            self.held += 1
            return
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
    times per window: with N accounts a run scans N² entries. Here each partition's state is
    remembered once found (or made) by singer-sdk, as long as the stream's partition list is
    the same list.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._found: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        self._partitions: object = None

    @override
    def get_context_state(self, context: Context | None) -> dict[str, Any]:
        partition = self.get_state_partition_context(context) if context else None
        if not partition:
            return super().get_context_state(context)
        try:
            key = tuple(sorted(partition.items()))
            hash(key)
        except TypeError:  # unhashable partition values: singer-sdk's own lookup
            return super().get_context_state(context)
        stream = self.tap_state.get("bookmarks", {}).get(self.stream_name, {})
        partitions = stream.get("partitions")
        if partitions is not self._partitions:
            self._found.clear()
            self._partitions = partitions
        state = self._found.get(key)
        if state is None:
            state = super().get_context_state(context)
            if self._partitions is None:  # singer-sdk just made the list
                self._partitions = self.tap_state["bookmarks"][self.stream_name]["partitions"]
            self._found[key] = state
        return state

"""The STATE cadence, one for every stream family: paced by the bytes of data written.

Every STATE carries every partition's bookmark, so its size grows with the accounts. Writing
one per window (or per partition, or every N seconds) makes the run's STATE volume grow with
the square of the accounts. Here a STATE goes out only once at least four times as many data
bytes have gone out since the last one as that STATE weighed, and always at the end of each
stream (`end_of_stream`): STATE bytes stay below a quarter of the data bytes plus one STATE per
stream, and an interrupted run re-reads at most about four STATEs' weight of records (plus the
lookback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from singer_sdk.helpers._state import StateWriter
from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers.types import TapState

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

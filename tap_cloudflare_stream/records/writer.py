"""Singer output: singer-sdk's msgspec writer, without a system call per record, signal-safe.

RECORD lines gather in a buffer; every other message writes them out first. The writer counts
the data bytes it wrote since the last STATE, which the STATE cadence (records/state.py) reads,
and it never lets a termination signal interrupt a write half-way (records/output.py).
"""

from __future__ import annotations

import sys

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecWriter, enc_hook
from singer_sdk.singerlib import Message, RecordMessage, StateMessage
from typing_extensions import override


class RecordBufferingWriter(MsgSpecWriter):
    """Writes messages as MsgSpecWriter does (msgspec JSON lines), RECORD lines in batches.

    MsgSpecWriter writes and flushes stdout for every message: one write(2) per record, even
    more so under PYTHONUNBUFFERED. Here RECORD lines gather in a buffer written out every
    `BATCH_BYTES`; any other message (SCHEMA, STATE, ...) writes out what is pending, then
    itself, and flushes. So a STATE never leaves before the records it covers, and `flush()`
    (called when a sync ends, however it ends) writes out the rest.

    While a write is under way the writer is `busy`: a termination signal that arrives then is
    `defer()`red and raised once the write is whole, so stdout only ever holds whole lines and
    nothing is written twice.
    """

    BATCH_BYTES = 64 * 1024

    def __init__(self) -> None:
        super().__init__()
        # The same encoding as MsgSpecWriter's.
        self._encoder = msgspec.json.Encoder(enc_hook=enc_hook, decimal_format="number")
        self._pending = bytearray()
        self.busy = False
        self._deferred: BaseException | None = None
        # Data (RECORD lines; a BATCH counts as a whole file of them) since the last STATE.
        self.data_bytes_since_state = 0

    def defer(self, exception: BaseException) -> None:
        """Raise `exception` when the write under way is whole (from a signal handler)."""
        self._deferred = exception

    def _done(self) -> None:
        self.busy = False
        if self._deferred is not None:
            exception, self._deferred = self._deferred, None
            raise exception

    @override
    def write_message(self, message: Message) -> None:
        self.busy = True
        try:
            fields = message.to_dict()
            line = self._encoder.encode(fields) + b"\n"
            if isinstance(message, RecordMessage):
                self._pending += line
                self.data_bytes_since_state += len(line)
                if len(self._pending) >= self.BATCH_BYTES:
                    self._write_pending()
            else:
                if fields["type"] == "BATCH":
                    self.data_bytes_since_state = sys.maxsize
                self._pending += line
                self._write_pending()
                sys.stdout.flush()
                if isinstance(message, StateMessage):
                    self.data_bytes_since_state = 0
        finally:
            self._done()

    def write_state_line(self, line: bytes) -> None:
        """Write an encoded STATE line after the pending records, and flush."""
        self.busy = True
        try:
            self._pending += line
            self._write_pending()
            sys.stdout.flush()
            self.data_bytes_since_state = 0
        finally:
            self._done()

    def encode(self, message: dict[str, object]) -> bytes:
        """One message as its JSON line, exactly as write_message would write it."""
        return self._encoder.encode(message) + b"\n"

    def flush(self) -> None:
        """Write out pending lines and flush stdout."""
        self.busy = True
        try:
            self._write_pending()
            sys.stdout.flush()
        finally:
            self._done()

    def _write_pending(self) -> None:
        if self._pending:
            sys.stdout.buffer.write(self._pending)
            self._pending.clear()

"""Singer output: singer-sdk's msgspec writer, without a system call per record."""

from __future__ import annotations

import sys

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecWriter, enc_hook
from singer_sdk.singerlib import Message, RecordMessage
from typing_extensions import override


class RecordBufferingWriter(MsgSpecWriter):
    """Writes messages as MsgSpecWriter does (msgspec JSON lines), RECORD lines in batches.

    MsgSpecWriter writes and flushes stdout for every message: one write(2) per record, even
    more so under PYTHONUNBUFFERED. Here RECORD lines gather in a buffer written out every
    `BATCH_BYTES`; any other message (SCHEMA, STATE, ...) writes out what is pending, then
    itself, and flushes. So a STATE never leaves before the records it covers, and `flush()`
    (called when a sync ends, however it ends) writes out the rest.
    """

    BATCH_BYTES = 64 * 1024

    def __init__(self) -> None:
        super().__init__()
        # The same encoding as MsgSpecWriter's.
        self._encoder = msgspec.json.Encoder(enc_hook=enc_hook, decimal_format="number")
        self._pending = bytearray()

    @override
    def write_message(self, message: Message) -> None:
        pending = self._pending
        # One append of a whole line: a STATE written from singer-sdk's SIGTERM handler
        # between two appends would otherwise land inside this line.
        pending += self._encoder.encode(message.to_dict()) + b"\n"
        if not isinstance(message, RecordMessage):
            self.flush()
        elif len(pending) >= self.BATCH_BYTES:
            sys.stdout.buffer.write(pending)
            pending.clear()

    def flush(self) -> None:
        """Write out pending lines and flush stdout."""
        if self._pending:
            sys.stdout.buffer.write(self._pending)
            self._pending.clear()
        sys.stdout.flush()

"""What the tap writes, however the run ends: the batching writer, the STATE cadence, signals.

`TapOutput` is mixed into the tap before singer-sdk's `Tap`. singer-sdk 0.54 answers SIGTERM and
SIGINT by writing the tap's whole state from inside the signal handler and exiting 0: a cancelled
run looks complete, and the STATE can land inside a half-written line or cover records still in
the writer's buffer. Here the handler only raises `Terminated` (deferred while the
writer is mid-write); once it has unwound the sync, the CLI writes out the whole lines the writer
holds, one last STATE covering exactly those (none in batch mode, where rows may sit in a file
no BATCH message has named yet), and exits 128 + the signal number.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from typing_extensions import override

from tap_cloudflare_stream.records.state import PacedStateWriter
from tap_cloudflare_stream.records.writer import RecordBufferingWriter
from tap_cloudflare_stream.sdk_seam import SeamTap


class Terminated(BaseException):
    """A termination signal arrived; a BaseException, so no `except Exception` swallows it."""

    def __init__(self, signum: int, wind_down: Callable[[], None]) -> None:
        super().__init__(signum)
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        self.wind_down = wind_down


class TapOutput(SeamTap):
    """Mix in before `Tap`: batched RECORD lines, paced STATE, a non-zero exit on SIGTERM."""

    message_writer_class = RecordBufferingWriter  # msgspec, no flush per RECORD

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._terminating = False
        super().__init__(*args, **kwargs)
        assert isinstance(self.message_writer, RecordBufferingWriter)
        self.use_state_writer(PacedStateWriter(self.message_writer))

    @override
    def on_termination_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._terminating:
            return  # already winding down
        self._terminating = True
        stop = Terminated(signum, self._write_out_before_exit)
        writer = self.message_writer
        if isinstance(writer, RecordBufferingWriter) and writer.busy:
            writer.defer(stop)  # raised once the line being written is whole
            return
        raise stop

    def _write_out_before_exit(self) -> None:
        """Write out the whole lines held back, then a STATE that covers exactly them."""
        writer = self.message_writer
        assert isinstance(writer, RecordBufferingWriter)
        writer.flush()
        if self.config.get("batch_config"):
            return  # rows may sit in a batch file no BATCH message named: keep the last STATE
        state_writer = self.state_writer
        if isinstance(state_writer, PacedStateWriter) and self.state:
            state_writer.end_of_stream(self.state)

    @override
    def after_sync(self) -> None:
        # The writer holds RECORD lines until another message or a flush: records written after
        # the run's last STATE (the audit's rows, a listing's row) go out here.
        writer = self.message_writer
        if isinstance(writer, RecordBufferingWriter):
            writer.flush()

    @override
    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        try:
            super().invoke(*args, **kwargs)
        except Terminated as stop:
            stop.wind_down()
            logging.getLogger(cls.name).error(
                "Stopped by %s before the end of the run; the last STATE covers every record "
                "written, so the next run resumes from it.",
                stop.signal_name,
            )
            sys.exit(stop.exit_code)

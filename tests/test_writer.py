"""The output writer and the STATE cadence, message by message, on a captured stdout.

tests/test_termination.py and tests/test_sync.py show them through whole runs; this module
pins what reaches stdout when, and when a STATE goes out, fast enough to run for every mutant
of records/writer.py and records/state.py (docs/mutation.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage

from tap_cloudflare_stream.records.state import PacedStateWriter
from tap_cloudflare_stream.records.writer import RecordBufferingWriter

if TYPE_CHECKING:
    from singer_sdk.helpers.types import TapState


class Stdout(io.TextIOWrapper):
    """A stdout whose bytes the test reads, and which counts its flushes."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()

    def lines(self) -> list[dict[str, Any]]:
        raw = self.buffer.getvalue()  # type: ignore[attr-defined]
        return [json.loads(line) for line in raw.splitlines()]


@contextlib.contextmanager
def captured() -> Iterator[Stdout]:
    """sys.stdout replaced for the block (inside the test: pytest resets it between phases)."""
    out = Stdout()
    with contextlib.redirect_stdout(out):
        yield out


def record(n: int, pad: int = 0) -> RecordMessage:
    return RecordMessage(stream="s", record={"n": n, "pad": "x" * pad})


def record_bytes(n: int, pad: int = 0) -> int:
    return len(RecordBufferingWriter().encode(record(n, pad).to_dict()))


def test_records_wait_for_a_batch_and_any_other_message_writes_them_first() -> None:
    with captured() as stdout:
        writer = RecordBufferingWriter()
        writer.write_message(record(1))
        writer.write_message(record(2))
        assert stdout.lines() == []
        assert writer.data_bytes_since_state == record_bytes(1) + record_bytes(2)
        writer.write_message(
            SchemaMessage(stream="s", schema={"type": "object"}, key_properties=[])
        )
        assert [line["type"] for line in stdout.lines()] == ["RECORD", "RECORD", "SCHEMA"]
        assert [line["record"]["n"] for line in stdout.lines()[:2]] == [1, 2]
        assert stdout.flushes == 1
        assert writer.data_bytes_since_state == record_bytes(1) + record_bytes(2)
        writer.write_message(StateMessage(value={"bookmarks": {}}))
        assert stdout.lines()[-1] == {"type": "STATE", "value": {"bookmarks": {}}}
        assert writer.data_bytes_since_state == 0


def test_a_full_batch_is_written_without_a_flush() -> None:
    with captured() as stdout:
        writer = RecordBufferingWriter()
        pad = RecordBufferingWriter.BATCH_BYTES // 4
        for n in range(3):
            writer.write_message(record(n, pad))
        assert stdout.lines() == []
        writer.write_message(record(3, pad))  # now over 64 KiB
        assert [line["record"]["n"] for line in stdout.lines()] == [0, 1, 2, 3]
        assert stdout.flushes == 0
        writer.write_message(record(4))
        writer.flush()
        assert [line["record"]["n"] for line in stdout.lines()] == [0, 1, 2, 3, 4]
        assert stdout.flushes == 1


def test_a_batch_of_exactly_64_kib_is_written() -> None:
    with captured() as stdout:
        writer = RecordBufferingWriter()
        size = record_bytes(0, 0)
        writer.write_message(record(0, RecordBufferingWriter.BATCH_BYTES - size))
        assert len(stdout.lines()) == 1


def test_a_state_line_goes_after_the_pending_records() -> None:
    with captured() as stdout:
        writer = RecordBufferingWriter()
        writer.write_message(record(1))
        line = writer.encode({"type": "STATE", "value": {"v": 1}})
        assert line.endswith(b"\n")
        writer.write_state_line(line)
        assert [x["type"] for x in stdout.lines()] == ["RECORD", "STATE"]
        assert stdout.flushes == 1
        assert writer.data_bytes_since_state == 0


def test_a_batch_message_makes_the_next_state_due() -> None:
    with captured():
        writer = RecordBufferingWriter()
        batch = SchemaMessage(stream="s", schema={}, key_properties=[])
        batch.type = "BATCH"  # type: ignore[assignment]
        writer.write_message(batch)
        assert writer.data_bytes_since_state == sys.maxsize


def test_a_signal_during_a_write_is_raised_once_the_write_is_whole() -> None:
    with captured() as stdout:
        writer = RecordBufferingWriter()
        writer.write_message(record(1))
        assert writer.busy is False
        writer.busy = True  # as a signal handler sees it mid-write
        writer.defer(KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            writer.flush()
        assert [x["record"]["n"] for x in stdout.lines()] == [1]
        assert writer.busy is False
        writer.flush()  # raised once, not again


def state(n: int) -> TapState:
    return cast("TapState", {"bookmarks": {"s": {"replication_key_value": n}}})


def states_written(stdout: Stdout) -> list[Any]:
    return [x["value"]["bookmarks"]["s"]["replication_key_value"] for x in stdout.lines()
            if x["type"] == "STATE"]  # fmt: skip


@pytest.mark.parametrize(("short", "written"), [(1, [1]), (0, [1, 2])])
def test_a_state_goes_out_once_four_times_its_weight_of_data_went_out(
    short: int, written: list[int]
) -> None:
    with captured() as stdout:
        writer = RecordBufferingWriter()
        states = PacedStateWriter(writer)
        states.write_state(state(1))  # the first STATE is always due
        weight = len(writer.encode({"type": "STATE", "value": state(1)}))
        writer.write_message(record(9, 4 * weight - short - record_bytes(9)))
        assert writer.data_bytes_since_state == 4 * weight - short
        states.write_state(state(2))
        assert states_written(stdout) == written


def test_the_end_of_a_stream_writes_its_state_but_never_the_same_one_twice() -> None:
    with captured() as stdout:
        writer = RecordBufferingWriter()
        states = PacedStateWriter(writer)
        states.write_state(state(1))
        states.end_of_stream(state(2))  # held back by the cadence, forced by the stream's end
        states.end_of_stream(state(2))
        writer.write_message(record(1, 10_000))
        states.write_state(state(2))  # due, but the same as the last
        assert states_written(stdout) == [1, 2]

"""Cancelled and batch runs: SIGTERM exits non-zero with whole lines; batch STATE follows BATCH.

A SIGTERM (what Meltano and schedulers send on cancel) must not look like a finished run, must
leave only whole JSON lines on stdout, and its last STATE must cover only records written. In
batch mode a STATE must never cover rows that sit in a file no BATCH message has named yet.
"""

from __future__ import annotations

import gzip
import io
import json
import signal
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.singerlib import SchemaMessage

from tap_cloudflare_stream.records.output import Terminated
from tap_cloudflare_stream.records.writer import RecordBufferingWriter
from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.conftest import StartStandin
from tests.reliability_support import (
    DAY,
    MINUTES_VIEWED,
    SECRET_TOKEN,
    STANDIN_CREDENTIALS,
    TAP_COMMAND,
    interrupt_cli,
    sync_streams,
    write_json,
)
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    by_key,
    catalog_for,
    days_ago,
    expected_records,
    tap_config,
    utc_today,
)

ACCOUNT_C = "00112233445566778899aabbccddeeff"
FIRST_DAYS_AGO = 6
STREAMS = (MINUTES_VIEWED, "video_quality_events")


def settings(url: str, accounts: tuple[str, ...], **overrides: Any) -> dict[str, Any]:
    """Several accounts, lookback 0 (a resume re-reads nothing it need not), tiny pages."""
    config = tap_config(
        url,
        account_ids=list(accounts),
        api_token=SECRET_TOKEN,
        start_date=days_ago(FIRST_DAYS_AGO).isoformat(),
        lookback_days=0,
        page_size=9,
    )
    config.update(overrides)
    return config


def wanted(server: Any, accounts: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Every stream's rows for the accounts, from the stand-in's exact-rows helper."""
    return {
        stream: expected_records(
            server.config, stream, accounts, days_ago(FIRST_DAYS_AGO), utc_today()
        )
        for stream in STREAMS
    }


def whole_lines(text: str) -> list[dict[str, Any]]:
    """stdout as messages; fails unless every line is a whole JSON message."""
    assert text.endswith("\n"), "stdout ends inside a line"
    return [json.loads(line) for line in text.splitlines()]


def test_sigterm_mid_run_exits_non_zero_and_its_last_state_loses_nothing(
    start_standin: StartStandin, tmp_path: Path
) -> None:
    accounts = (ACCOUNT_A, ACCOUNT_B)
    server = start_standin(**STANDIN_CREDENTIALS, accounts=list(accounts), max_duration=2 * DAY)
    config = settings(server.url, accounts)
    command = [
        *TAP_COMMAND,
        "--config",
        write_json(tmp_path / "config.json", config),
        "--catalog",
        write_json(tmp_path / "catalog.json", catalog_for(config, STREAMS)),
    ]
    want = wanted(server, accounts)
    total = sum(len(rows) for rows in want.values())
    for point in (1, 3, total // 4, total // 2, total - total // 5):
        stderr = tmp_path / f"stderr-{point}.txt"
        text, returncode = interrupt_cli(command, point, send=signal.SIGTERM, stderr=stderr)
        assert returncode == 128 + signal.SIGTERM, (point, stderr.read_text()[-2000:])
        assert "Stopped by SIGTERM" in stderr.read_text()
        messages = whole_lines(text)
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        resumed = sync_streams(config, STREAMS, state=states[-1] if states else None)
        assert resumed.error is None
        for stream in STREAMS:
            before = [
                m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream
            ]
            delivered = before + resumed.records.get(stream, [])
            assert by_key(stream, delivered) == by_key(stream, want[stream]), (stream, point)


class _SignalDuringWrite(io.BytesIO):
    """A stdout buffer that receives a termination signal in the middle of its first write."""

    def __init__(self, on_write: Any) -> None:
        super().__init__()
        self.on_write = on_write

    def write(self, data: Any) -> int:
        handler, self.on_write = self.on_write, None
        written = super().write(bytes(data)[:10])
        if handler is not None:
            handler()  # the signal arrives with the line half written
        return written + super().write(bytes(data)[10:])


def test_a_signal_during_a_write_leaves_whole_lines_written_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tap_config("https://api.cloudflare.com/client/v4/graphql")
    tap = TapCloudflareStream(config=config, validate_config=False)
    writer = tap.message_writer
    assert isinstance(writer, RecordBufferingWriter)
    buffer = _SignalDuringWrite(lambda: tap._handle_termination(signal.SIGTERM, None))
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(buffer, encoding="utf-8"))
    schema = SchemaMessage(stream="s", schema={"type": "object"}, key_properties=[])

    with pytest.raises(Terminated) as stopped:
        writer.write_message(schema)  # the signal waits for the line to be whole
    stopped.value.wind_down()  # what the CLI does next: write out, then exit 143

    assert stopped.value.exit_code == 128 + signal.SIGTERM
    lines = buffer.getvalue().decode().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["SCHEMA"]


# Batch mode: kill right after STATE messages, resume, and count the rows in the batch files.


def batch_rows(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The records in the files that BATCH messages name, by stream."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        if message["type"] != "BATCH":
            continue
        for url in message["manifest"]:
            data = Path(urllib.parse.urlparse(url).path).read_bytes()
            if data[:2] == b"\x1f\x8b":  # singer-sdk gzips jsonl batches
                data = gzip.decompress(data)
            rows.setdefault(message["stream"], []).extend(
                json.loads(row) for row in data.splitlines()
            )
    return rows


@pytest.mark.parametrize(
    ("batch_size", "window_days", "stop_after_states"),
    [(5, 2, 2), (40, 2, 3), (70, 3, 4), (300, 1, 2), (10_000, 2, 1), (10_000, 1, 1)],
)
def test_a_batch_run_killed_after_a_state_resumes_without_losing_rows(
    start_standin: StartStandin,
    tmp_path: Path,
    batch_size: int,
    window_days: int,
    stop_after_states: int,
) -> None:
    accounts = (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C)
    server = start_standin(
        **STANDIN_CREDENTIALS, accounts=list(accounts), max_duration=window_days * DAY
    )
    batches = tmp_path / "batches"
    batches.mkdir()
    config = settings(
        server.url,
        accounts,
        page_size=25,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": {"root": batches.as_uri(), "prefix": "b-"},
            "batch_size": batch_size,
        },
    )
    command = [
        *TAP_COMMAND,
        "--config",
        write_json(tmp_path / "config.json", config),
        "--catalog",
        write_json(tmp_path / "catalog.json", catalog_for(config, STREAMS)),
    ]
    text, returncode = interrupt_cli(
        command,
        stop_after_states,
        count_states=True,
        send=signal.SIGKILL,
        stderr=tmp_path / "stderr.txt",
    )
    assert returncode == -signal.SIGKILL
    messages = whole_lines(text)
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert len(states) == stop_after_states
    resumed = sync_streams(config, STREAMS, state=states[-1])
    assert resumed.error is None
    before, after = batch_rows(messages), batch_rows(resumed.messages)
    for stream, rows in wanted(server, accounts).items():
        delivered = before.get(stream, []) + after.get(stream, [])
        assert by_key(stream, delivered) == by_key(stream, rows), stream

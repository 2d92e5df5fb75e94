"""When Cloudflare retires a dataset or a field, only that stream is affected (issue 25).

The stand-in plays both with its real schema: a dataset node gone from `account` and from
`settings`, a dimension gone from one dataset. Each test runs three days: the first with the
schema intact, the second with it changed, the third restored; every stream must come out
exact, and the changed stream must resume where it was.
"""

from __future__ import annotations

import collections
import copy
import datetime
import logging
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import (
    StandinConfig,
    StandinServer,
    expected_live_inputs,
    expected_storage_usage,
    expected_videos,
)

from tap_cloudflare_stream.analytics.schema_changes import CloudflareSchemaError
from tap_cloudflare_stream.settings import DEFAULT_HOURLY_LOOKBACK_HOURS
from tests.catalog_contract import live_input_record, storage_record, video_record
from tests.conftest import StartStandin
from tests.reliability_support import log_levels, run_cli
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    HOURLY_STREAMS,
    NOW,
    STREAMS,
    UTC,
    SyncResult,
    bookmarks,
    expected_hourly,
    expected_records,
    hourly_key,
    key,
    sync_to_the_end,
    tap_config,
)

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
ACCOUNTS = (ACCOUNT_A, ACCOUNT_B)
CATALOG_STREAMS = ("videos", "live_inputs", "storage_usage")
EVERY_STREAM = (*STREAMS, *HOURLY_STREAMS, *CATALOG_STREAMS)
PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
QUALITY = "videoQualityEventsAdaptiveGroups"
LOOKBACK_DAYS = 1
CLOCKS = (NOW - 2 * DAY, NOW - DAY, NOW)  # the three runs: intact, changed, restored
FIRST_DAY = CLOCKS[0].date() - 2 * DAY


def _move_clock(config: StandinConfig, now: datetime.datetime) -> None:
    config.today, config.now = now.date(), now


def _run(
    server: StandinServer, run: int, state: dict[str, Any] | None
) -> tuple[SyncResult, Exception | None]:
    """The run-th run (0, 1, 2) of every stream, on its clock; `state` is left untouched."""
    now = CLOCKS[run]
    _move_clock(server.config, now)
    server.clear_log()
    config = tap_config(server.url, start_date=FIRST_DAY.isoformat(), lookback_days=LOOKBACK_DAYS)
    return sync_to_the_end(config, copy.deepcopy(state), streams=EVERY_STREAM, clock=lambda: now)


def _hour(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _expected(
    config: StandinConfig, stream: str, state: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """What a run from `state` at the stand-in's clock must emit for `stream`, sorted."""
    now = config.now
    assert now is not None
    if stream in STREAMS:
        marks = bookmarks(state or {}, stream)
        rows: list[dict[str, Any]] = []
        for account in ACCOUNTS:
            mark = marks.get(account)
            since = datetime.date.fromisoformat(mark) - LOOKBACK_DAYS * DAY if mark else FIRST_DAY
            rows += expected_records(config, stream, [account], since, now.date())
        return rows
    if stream in HOURLY_STREAMS:
        marks = bookmarks(state or {}, stream)
        rows = []
        for account in ACCOUNTS:
            mark = marks.get(account)
            since = (
                _hour(mark) - DEFAULT_HOURLY_LOOKBACK_HOURS * HOUR
                if mark
                else datetime.datetime.combine(FIRST_DAY, datetime.time(), UTC)
            )
            end = now.replace(minute=0, second=0) + HOUR
            rows += expected_hourly(config, stream, [account], since, end)
        return rows
    if stream == "videos":
        return [video_record(a, v) for a in ACCOUNTS for v in expected_videos(config, a)]
    if stream == "live_inputs":
        return [live_input_record(a, v) for a in ACCOUNTS for v in expected_live_inputs(config, a)]
    # storage_usage is dated by the run's clock, the stand-in's now here.
    return [storage_record(a, expected_storage_usage(config, a), now.date()) for a in ACCOUNTS]


def _sorted(stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if stream in STREAMS:
        return sorted(rows, key=lambda r: key(stream, r))
    if stream in HOURLY_STREAMS:
        return sorted(rows, key=lambda r: hourly_key(stream, r))
    return sorted(rows, key=lambda r: (r["account_id"], r.get("uid") or r.get("date")))


def _assert_exact(
    server: StandinServer,
    result: SyncResult,
    state: dict[str, Any] | None,
    streams: tuple[str, ...],
) -> None:
    for stream in streams:
        expected = _sorted(stream, _expected(server.config, stream, state))
        assert expected, f"{stream}: the stand-in should hold rows"
        assert _sorted(stream, result.records.get(stream, [])) == expected, stream


def _stream_state(state: dict[str, Any], stream: str) -> Any:
    return state.get("bookmarks", {}).get(stream)


def _data_requests(server: StandinServer) -> collections.Counter[str | None]:
    return collections.Counter(e.dataset for e in server.request_log if e.kind == "data")


def test_a_retired_dataset_is_skipped_and_every_other_stream_syncs(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin()
    first, error = _run(server, 0, None)
    assert error is None
    state0 = first.final_state

    server.config.retired_datasets = {QUALITY}
    with caplog.at_level(logging.WARNING):
        second, error = _run(server, 1, state0)
    assert error is None, "a retired dataset must not fail the run"
    others = tuple(s for s in EVERY_STREAM if s != "video_quality_events")
    _assert_exact(server, second, state0, others)
    assert second.records["video_quality_events"] == []
    # Its state is as it was; every other stream's moved on.
    state1 = second.final_state
    assert _stream_state(state1, "video_quality_events") == (
        _stream_state(state0, "video_quality_events")
    )
    assert bookmarks(state1, "video_playback_events") != bookmarks(state0, "video_playback_events")
    # One warning for the run, naming the dataset, the stream and how to deselect it.
    warnings = [r.getMessage() for r in caplog.records if QUALITY in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "video_quality_events" in warnings[0]
    assert "meltano select tap-cloudflare-stream --exclude video_quality_events" in warnings[0]
    # The settings query was refused once and asked again without it; never a data query.
    settings = [e for e in server.request_log if e.kind == "settings"]
    assert [e.status for e in settings] == [400, 200, 200]
    assert QUALITY not in _data_requests(server)

    server.config.retired_datasets = set()
    third, error = _run(server, 2, state1)
    assert error is None
    _assert_exact(server, third, state1, EVERY_STREAM)
    # The retired stream resumes from the state it had before: nothing was skipped over.
    assert (
        min(r["date"] for r in third.records["video_quality_events"])
        == (
            datetime.date.fromisoformat(bookmarks(state0, "video_quality_events")[ACCOUNT_A]) - DAY
        ).isoformat()
    )


def test_a_dataset_whose_node_is_gone_but_settings_stay_is_skipped_once(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin()
    first, error = _run(server, 0, None)
    assert error is None
    server.config.retired_nodes = {QUALITY}
    with caplog.at_level(logging.WARNING):
        second, error = _run(server, 1, first.final_state)
    assert error is None
    others = tuple(s for s in EVERY_STREAM if s != "video_quality_events")
    _assert_exact(server, second, first.final_state, others)
    assert _stream_state(second.final_state, "video_quality_events") == (
        _stream_state(first.final_state, "video_quality_events")
    )
    assert sum(f"no longer knows dataset {QUALITY}" in r.getMessage() for r in caplog.records) == 1
    # Refused once, for the first account: not retried, not asked for the second.
    assert _data_requests(server)[QUALITY] == 1


def test_a_missing_field_fails_only_its_stream_and_the_run_at_its_end(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin()
    first, error = _run(server, 0, None)
    assert error is None
    state0 = first.final_state

    server.config.retired_fields = {PLAYBACK: ["dimensions.deviceBrowser"]}
    with caplog.at_level(logging.WARNING):
        second, error = _run(server, 1, state0)
    assert isinstance(error, CloudflareSchemaError)
    message = str(error)
    for fragment in (
        PLAYBACK,
        "dimensions.deviceBrowser",
        "upgrade tap-cloudflare-stream",
        "deselect stream video_playback_events",
    ):
        assert fragment in message
    others = tuple(s for s in EVERY_STREAM if s != "video_playback_events")
    _assert_exact(server, second, state0, others)
    assert second.records["video_playback_events"] == []
    state1 = second.final_state
    assert _stream_state(state1, "video_playback_events") == (
        _stream_state(state0, "video_playback_events")
    )
    for stream in (*STREAMS[1:], *HOURLY_STREAMS):
        assert bookmarks(state1, stream) != bookmarks(state0, stream), f"{stream} saved no state"
    # Warned before it broke (availableFields no longer lists it); asked once, never retried,
    # and not for the second account.
    assert "does not list deviceBrowser" in caplog.text
    assert _data_requests(server)[PLAYBACK] == 1

    server.config.retired_fields = {}
    third, error = _run(server, 2, state1)
    assert error is None
    _assert_exact(server, third, state1, EVERY_STREAM)


def test_a_schema_error_naming_nothing_the_tap_knows_fails_the_run(
    start_standin: StartStandin,
) -> None:
    # Cloudflare drops a field of every dataset's settings: nothing the tap can skip.
    server = start_standin(retired_settings_fields={"availableFields"})
    _, error = _run(server, 0, None)
    assert error is not None
    message = str(error)
    assert "Cannot query field 'availableFields' on type 'Settings'." in message
    assert "upgrade tap-cloudflare-stream" in message
    # One settings query, not retried, and no data query.
    assert [e.kind for e in server.request_log if e.kind != "rest"] == ["settings"]


@pytest.mark.parametrize("change", ["retired dataset", "missing field"])
def test_the_command_line_exits_0_or_fails_with_one_line(
    start_standin: StartStandin, tmp_path: Path, change: str
) -> None:
    if change == "retired dataset":
        server = start_standin(retired_datasets={QUALITY})
    else:
        server = start_standin(retired_fields={PLAYBACK: ["dimensions.deviceBrowser"]})
    config = tap_config(server.url, start_date=(NOW.date() - DAY).isoformat())
    done = run_cli(tmp_path, config)
    levels = [level for level, _ in log_levels(done.stderr)]
    if change == "retired dataset":
        assert done.returncode == 0, done.stderr
        assert "ERROR" not in levels
        assert sum(QUALITY in line for line in done.stderr.splitlines()) == 1
    else:
        # One ERROR line, the last; the warnings before it say what happened along the way.
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert all(levels), done.stderr
        assert levels.count("ERROR") == 1
        assert levels[-1] == "ERROR"
        line = log_levels(done.stderr)[-1][1]
        assert PLAYBACK in line
        assert "dimensions.deviceBrowser" in line
        assert "deselect stream video_playback_events" in line
    # Either way the other streams' records went out.
    assert '"stream":"minutes_viewed"' in done.stdout.replace(" ", "")

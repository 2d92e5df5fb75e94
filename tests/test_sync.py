"""Syncs against the stand-in deliver exactly Cloudflare's rows, incrementally and resumably."""

from __future__ import annotations

import datetime
import logging
import math
from typing import Any

import pytest
from cloudflare_standin import StandinServer

from tests.conftest import StartStandin
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    API_KEY,
    EMAIL,
    STREAMS,
    bookmarks,
    by_key,
    days_ago,
    expected_records,
    key,
    sync,
    tap_config,
    utc_today,
)

DAY = 86400


def _assert_exact(
    server: StandinServer,
    result_records: dict[str, list[dict[str, Any]]],
    first: datetime.date,
    last: datetime.date,
) -> None:
    for stream in STREAMS:
        expected = expected_records(server.config, stream, [ACCOUNT_A, ACCOUNT_B], first, last)
        got = result_records[stream]
        assert len({key(stream, r) for r in got}) == len(got), f"{stream}: a row was repeated"
        assert sorted(got, key=lambda r: key(stream, r)) == expected, stream
        assert expected, f"{stream}: the stand-in should hold rows in this range"


def test_every_stream_delivers_exactly_the_rows_across_windows_accounts_and_tiny_pages(
    start_standin: StartStandin,
) -> None:
    server = start_standin(max_duration=5 * DAY)
    first = days_ago(16)
    result = sync(tap_config(server.url, start_date=first.isoformat(), page_size=7))
    _assert_exact(server, result.records, first, utc_today())

    data = [e for e in server.request_log if e.kind == "data"]
    assert all(e.limit == 7 for e in data)
    # Everything travels as GraphQL variables: the URL carries no query string.
    assert {e.path for e in server.request_log} == {"/client/v4/graphql"}
    # Windows never wider than maxDuration, and records come out in date order per account.
    for entry in data:
        start = datetime.date.fromisoformat(entry.variables["filter"]["date_geq"])
        end = datetime.date.fromisoformat(entry.variables["filter"]["date_leq"])
        assert (end - start).days + 1 <= 5
    for stream in STREAMS:
        for account in (ACCOUNT_A, ACCOUNT_B):
            dates = [r["date"] for r in result.records[stream] if r["account_id"] == account]
            assert dates == sorted(dates)


def test_requests_are_the_fewest_possible_and_a_full_last_page_does_not_end_the_sync(
    start_standin: StartStandin,
) -> None:
    server = start_standin(max_duration=1 * DAY, accounts=[ACCOUNT_A])
    first = days_ago(3)
    node = "streamMinutesViewedAdaptiveGroups"
    day_rows = expected_records(server.config, "minutes_viewed", [ACCOUNT_A], first, first)
    page = len(day_rows)  # the first one-day window fills its last page exactly
    config = tap_config(server.url, account_ids=[ACCOUNT_A], start_date=first.isoformat())
    config["page_size"] = page
    config["stream_maps"] = {s: None for s in STREAMS if s != "minutes_viewed"}
    result = sync(config)

    expected = expected_records(server.config, "minutes_viewed", [ACCOUNT_A], first, utc_today())
    assert (
        sorted(result.records["minutes_viewed"], key=lambda r: key("minutes_viewed", r)) == expected
    )
    data = [e for e in server.request_log if e.kind == "data" and e.dataset == node]
    per_window: dict[str, int] = {}
    for entry in data:
        per_window[entry.variables["filter"]["date_geq"]] = (
            per_window.get(entry.variables["filter"]["date_geq"], 0) + 1
        )
    for offset in range(4):
        day = days_ago(3 - offset)
        rows = len(expected_records(server.config, "minutes_viewed", [ACCOUNT_A], day, day))
        # A page that comes back exactly full needs one more request to know it was the last.
        assert per_window[day.isoformat()] == math.floor(rows / page) + 1


def test_global_api_key_authentication(start_standin: StartStandin) -> None:
    server = start_standin(tokens={})
    first = days_ago(2)
    config = tap_config(server.url, start_date=first.isoformat(), api_token=None)
    config.update(api_email=EMAIL, api_key=API_KEY)
    result = sync(config)
    _assert_exact(server, result.records, first, utc_today())
    assert {e.credential for e in server.request_log} == {"key#1"}


def test_second_run_reads_from_bookmark_minus_lookback_with_per_account_bookmarks(
    start_standin: StartStandin,
) -> None:
    server = start_standin()
    first, cut = days_ago(12), days_ago(5)
    run1 = sync(tap_config(server.url, start_date=first.isoformat(), end_date=cut.isoformat()))
    _assert_exact(server, run1.records, first, cut)
    for stream in STREAMS:
        assert bookmarks(run1.final_state, stream) == {
            ACCOUNT_A: cut.isoformat(),
            ACCOUNT_B: cut.isoformat(),
        }

    server.clear_log()
    run2 = sync(
        tap_config(server.url, start_date=first.isoformat(), lookback_days=2),
        state=run1.final_state,
    )
    restart = cut - datetime.timedelta(days=2)
    starts = {e.variables["filter"]["date_geq"] for e in server.request_log if e.kind == "data"}
    assert min(starts) == restart.isoformat()
    _assert_exact(server, run2.records, restart, utc_today())
    for stream in STREAMS:
        assert set(bookmarks(run2.final_state, stream).values()) == {utc_today().isoformat()}


def test_an_interrupted_run_resumes_from_its_last_state_without_losing_rows(
    start_standin: StartStandin,
) -> None:
    server = start_standin(max_duration=3 * DAY)
    first = days_ago(14)
    config = tap_config(server.url, start_date=first.isoformat(), page_size=9, lookback_days=0)
    full = sync(config)
    # Pretend the run died right after its third STATE message.
    cut_at = [i for i, m in enumerate(full.messages) if m["type"] == "STATE"][2]
    before = full.messages[:cut_at]
    state = full.messages[cut_at]["value"]
    resumed = sync(config, state=state)

    for stream in STREAMS:
        delivered = [
            m["record"] for m in before if m.get("stream") == stream and m["type"] == "RECORD"
        ]
        delivered += resumed.records[stream]
        expected = expected_records(
            server.config, stream, [ACCOUNT_A, ACCOUNT_B], first, utc_today()
        )
        assert by_key(stream, delivered) == by_key(stream, expected)
    assert sum(len(v) for v in resumed.records.values()) < sum(
        len(v) for v in full.records.values()
    )


def test_start_date_before_retention_is_clamped_with_a_warning(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin(not_older_than=10 * DAY, accounts=[ACCOUNT_A])
    config = tap_config(server.url, account_ids=[ACCOUNT_A], start_date=days_ago(30).isoformat())
    with caplog.at_level(logging.WARNING):
        result = sync(config)
    oldest = days_ago(9)
    starts = {e.variables["filter"]["date_geq"] for e in server.request_log if e.kind == "data"}
    assert min(starts) == oldest.isoformat()
    for stream in STREAMS:
        expected = expected_records(server.config, stream, [ACCOUNT_A], oldest, utc_today())
        assert sorted(result.records[stream], key=lambda r: key(stream, r)) == expected
    assert "can no longer be read" in caplog.text
    assert days_ago(30).isoformat() in caplog.text


def test_a_dataset_not_enabled_is_skipped_with_a_warning(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin(disabled={(ACCOUNT_B, "videoQualityEventsAdaptiveGroups")})
    first = days_ago(2)
    with caplog.at_level(logging.WARNING):
        result = sync(tap_config(server.url, start_date=first.isoformat()))
    accounts = {r["account_id"] for r in result.records["video_quality_events"]}
    assert accounts == {ACCOUNT_A}
    assert "not enabled" in caplog.text
    assert {r["account_id"] for r in result.records["video_playback_events"]} == {
        ACCOUNT_A,
        ACCOUNT_B,
    }


def test_settings_are_read_once_per_account(start_standin: StartStandin) -> None:
    server = start_standin()
    sync(tap_config(server.url, start_date=days_ago(1).isoformat()))
    settings = [e for e in server.request_log if e.kind == "settings"]
    assert sorted(e.variables["accountTag"] for e in settings) == sorted([ACCOUNT_A, ACCOUNT_B])


def test_page_size_above_max_page_size_is_lowered_with_a_warning(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin(max_page_size=25, accounts=[ACCOUNT_A])
    config = tap_config(
        server.url, account_ids=[ACCOUNT_A], start_date=days_ago(3).isoformat(), page_size=500
    )
    with caplog.at_level(logging.WARNING):
        result = sync(config)
    assert {e.limit for e in server.request_log if e.kind == "data"} == {25}
    assert "above this dataset's maxPageSize" in caplog.text
    for stream in STREAMS:
        expected = expected_records(server.config, stream, [ACCOUNT_A], days_ago(3), utc_today())
        assert sorted(result.records[stream], key=lambda r: key(stream, r)) == expected


def test_a_bookmark_does_not_move_back_when_the_days_after_it_have_no_rows(
    start_standin: StartStandin,
) -> None:
    # The stand-in's data ends five days ago: nothing newer exists.
    server = start_standin(today=days_ago(5), accounts=[ACCOUNT_A])
    bookmark = days_ago(2).isoformat()
    state = {
        "bookmarks": {
            stream: {
                "partitions": [
                    {
                        "context": {"account_id": ACCOUNT_A},
                        "replication_key": "date",
                        "replication_key_value": bookmark,
                    }
                ]
            }
            for stream in STREAMS
        }
    }
    config = tap_config(server.url, account_ids=[ACCOUNT_A], lookback_days=1)
    result = sync(config, state=state)
    assert all(not records for records in result.records.values())
    for stream in STREAMS:
        assert bookmarks(result.final_state, stream) == {ACCOUNT_A: bookmark}

"""Hour-grained streams (issue 11) against the stand-in: exact rows, state, retention, limits."""

from __future__ import annotations

import datetime
import itertools
import logging
from typing import Any

import pytest
from cloudflare_standin import HourlySettings, StandinServer

from tap_cloudflare_stream.cloudflare.answers import CloudflareQueryError
from tests.conftest import StartStandin
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    HOURLY_STREAMS,
    UTC,
    SyncResult,
    bookmarks,
    expected_hourly,
    hourly_key,
    tap_config,
)
from tests.standin import sync as sync_now

HOUR = datetime.timedelta(hours=1)
CMCD = "streamCMCDAdaptiveGroups"
LIVE = "liveInputEventsAdaptiveGroups"
NODES = {"cmcd_hourly": CMCD, "live_input_events_hourly": LIVE}
# A fixed clock for the stand-in and the tap (both run here): 12:30 on a fixed day.
NOW = datetime.datetime(2026, 10, 1, 12, 30, tzinfo=UTC)
TODAY = NOW.date()
CURRENT_HOUR = NOW.replace(minute=0)


def days_ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def sync(config: dict[str, Any], state: dict[str, Any] | None = None, **kwargs: Any) -> SyncResult:
    """An in-process run on this module's clock unless told otherwise."""
    kwargs.setdefault("clock", lambda: NOW)
    return sync_now(config, state, **kwargs)


@pytest.fixture
def start_standin(start_standin: StartStandin) -> StartStandin:
    """Stand-ins on this module's clock."""

    def start(**overrides: Any) -> StandinServer:
        return start_standin(**{"today": TODAY, "now": NOW, **overrides})

    return start


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), UTC)


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _windows(server: StandinServer, node: str) -> list[tuple[str, str]]:
    """The (start, end) of every data request for `node`, first pages and later ones."""
    return [
        (e.variables["filter"]["datetimeHour_geq"], e.variables["filter"]["datetimeHour_lt"])
        for e in server.request_log
        if e.kind == "data" and e.dataset == node
    ]


def _assert_exact(
    server: StandinServer,
    records: dict[str, list[dict[str, Any]]],
    start: datetime.datetime,
    accounts: tuple[str, ...] = (ACCOUNT_A, ACCOUNT_B),
) -> None:
    for stream in HOURLY_STREAMS:
        expected = expected_hourly(server.config, stream, accounts, start, CURRENT_HOUR + HOUR)
        got = records[stream]
        assert expected, f"{stream}: the stand-in should hold rows in this range"
        assert len({hourly_key(stream, r) for r in got}) == len(got), f"{stream}: a repeated row"
        assert sorted(got, key=lambda r: hourly_key(stream, r)) == expected, stream


def test_hourly_streams_deliver_exactly_the_rows_in_sub_day_windows_and_small_pages(
    start_standin: StartStandin,
) -> None:
    server = start_standin()
    start = _midnight(days_ago(1))
    result = sync(
        tap_config(server.url, start_date=days_ago(1).isoformat(), page_size=9),
        streams=HOURLY_STREAMS,
    )
    _assert_exact(server, result.records, start)

    for stream, node in NODES.items():
        # 00:00 yesterday to the current hour (read although incomplete): 25 to 48 hours in
        # consecutive windows of maxDuration (6 h), every one asked for, for each account.
        firsts = sorted(set(_windows(server, node)))
        stops = [start + 6 * n * HOUR for n in range(9) if start + 6 * n * HOUR <= CURRENT_HOUR]
        bounds = [_rfc3339(moment) for moment in (*stops, CURRENT_HOUR + HOUR)]
        assert firsts == list(itertools.pairwise(bounds)), stream
        data = [e for e in server.request_log if e.kind == "data" and e.dataset == node]
        assert {e.limit for e in data} == {9}
        assert max(e.rows for e in data) == 9
        for account in (ACCOUNT_A, ACCOUNT_B):
            rows = [r for r in result.records[stream] if r["account_id"] == account]
            hours = [r["datetime_hour"] for r in rows]
            assert hours == sorted(hours)
            # The bookmark is the last hour emitted, as the records print it.
            assert bookmarks(result.final_state, stream)[account] == hours[-1]
    # A STATE message at least once per window.
    assert len(result.states) >= 2 * 2 * (len(bounds) - 1)


def test_a_second_run_rereads_the_lookback_and_the_hour_that_was_incomplete(
    start_standin: StartStandin,
) -> None:
    server = start_standin(accounts=[ACCOUNT_A])
    config = tap_config(
        server.url,
        account_ids=[ACCOUNT_A],
        start_date=TODAY.isoformat(),
        lookback_days=1,  # days: not the hourly streams' lookback
        hourly_lookback_hours=2,
    )
    first = sync(config, streams=HOURLY_STREAMS)
    marks = {s: bookmarks(first.final_state, s)[ACCOUNT_A] for s in HOURLY_STREAMS}
    assert marks == dict.fromkeys(HOURLY_STREAMS, _rfc3339(CURRENT_HOUR))

    later = NOW + 3 * HOUR  # the bookmarked hour is complete now, a later one is not
    server.config.now = later
    server.request_log.clear()
    config["start_date"] = days_ago(1).isoformat()  # a floor below the lookback
    second = sync(config, first.final_state, streams=HOURLY_STREAMS, clock=lambda: later)
    for stream, node in NODES.items():
        # hourly_lookback_hours before the bookmark, whatever lookback_days says.
        assert min(_windows(server, node))[0] == _rfc3339(CURRENT_HOUR - 2 * HOUR)
        merged = {hourly_key(stream, r): r for r in first.records[stream]}
        merged.update({hourly_key(stream, r): r for r in second.records[stream]})
        expected = expected_hourly(
            server.config,
            stream,
            [ACCOUNT_A],
            _midnight(TODAY),  # the first run's start_date
            later.replace(minute=0) + HOUR,
        )
        assert [merged[k] for k in sorted(merged)] == expected, stream
        at_noon = [r for r in second.records[stream] if r["datetime_hour"] == marks[stream]]
        assert at_noon, f"{stream}: the incomplete hour was not read again"
        last = max(r["datetime_hour"] for r in second.records[stream])
        assert last > marks[stream]
        assert bookmarks(second.final_state, stream)[ACCOUNT_A] == last


def test_a_date_bookmark_set_by_hand_parses_for_an_hourly_stream(
    start_standin: StartStandin,
) -> None:
    server = start_standin(accounts=[ACCOUNT_A])
    state = {
        "bookmarks": {
            "live_input_events_hourly": {
                "partitions": [
                    {
                        "context": {"account_id": ACCOUNT_A},
                        "replication_key": "datetime_hour",
                        "replication_key_value": TODAY.isoformat(),
                    }
                ]
            }
        }
    }
    config = tap_config(server.url, account_ids=[ACCOUNT_A], hourly_lookback_hours=1)
    result = sync(config, state, streams=["live_input_events_hourly"])
    # The date is its 00:00 hour; one hour of lookback before it.
    assert min(_windows(server, LIVE))[0] == _rfc3339(_midnight(TODAY) - HOUR)
    hours = {r["datetime_hour"] for r in result.records["live_input_events_hourly"]}
    assert min(hours) >= _rfc3339(_midnight(TODAY) - HOUR)


def test_start_date_before_retention_is_clamped_to_the_first_full_hour(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin(
        accounts=[ACCOUNT_A],
        hourly={CMCD: HourlySettings(not_older_than=2 * 86400 + 600), LIVE: HourlySettings()},
    )
    config = tap_config(
        server.url, account_ids=[ACCOUNT_A], start_date=days_ago(30).isoformat(), page_size=1000
    )
    with caplog.at_level(logging.WARNING):
        result = sync(config, streams=["cmcd_hourly"])
    # 2 days and 10 minutes kept: the first full hour after (now - that), to the second.
    edge = NOW - datetime.timedelta(days=2, minutes=10)
    oldest = edge.replace(minute=0, second=0)
    oldest += HOUR if oldest < edge else datetime.timedelta()
    assert min(_windows(server, CMCD))[0] == _rfc3339(oldest)
    expected = expected_hourly(
        server.config, "cmcd_hourly", [ACCOUNT_A], oldest, CURRENT_HOUR + HOUR
    )
    assert sorted(result.records["cmcd_hourly"], key=lambda r: hourly_key("cmcd_hourly", r)) == (
        expected
    )
    assert "can no longer be read" in caplog.text


def test_more_fields_than_max_number_of_fields_fails_with_a_clear_message(
    start_standin: StartStandin,
) -> None:
    server = start_standin(
        accounts=[ACCOUNT_A],
        hourly={CMCD: HourlySettings(max_number_of_fields=18), LIVE: HourlySettings()},
    )
    config = tap_config(server.url, account_ids=[ACCOUNT_A], start_date=TODAY.isoformat())
    with pytest.raises(CloudflareQueryError, match=r"asks for 19 fields .* allows this account 18"):
        sync(config, streams=["cmcd_hourly"])
    assert _windows(server, CMCD) == []  # nothing asked that Cloudflare would refuse
    live = sync(config, streams=["live_input_events_hourly"])  # 9 fields: within 18
    assert live.records["live_input_events_hourly"]


def test_an_hourly_dataset_not_enabled_is_skipped_with_a_warning(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin(
        disabled={(ACCOUNT_B, CMCD)},
        hourly={CMCD: HourlySettings(), LIVE: HourlySettings(enabled=False)},
    )
    with caplog.at_level(logging.WARNING):
        result = sync(tap_config(server.url, start_date=TODAY.isoformat()), streams=HOURLY_STREAMS)
    assert {r["account_id"] for r in result.records["cmcd_hourly"]} == {ACCOUNT_A}
    assert result.records["live_input_events_hourly"] == []
    assert caplog.text.count("is not enabled for this account") == 3

"""A scheduled day at the request floor (issue 22), counted from the stand-in's request log.

Each run is the second of two: the first, 24 hours earlier, leaves the state a daily schedule
hands the next run. The stand-in plays maxDuration 31 days for the daily datasets and 6 hours
for the hourly ones, and data that fits one page.
"""

from __future__ import annotations

import collections
import copy
import datetime
from typing import Any

import pytest
from cloudflare_standin import StandinConfig, exact_hourly_rows

from tap_cloudflare_stream.settings import DEFAULT_HOURLY_LOOKBACK_HOURS
from tests.conftest import StartStandin
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    HOURLY_CONTRACT,
    HOURLY_STREAMS,
    STREAMS,
    UTC,
    bookmarks,
    expected_hourly,
    expected_records,
    hourly_key,
    key,
    sync,
    tap_config,
)

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
CATALOG_STREAMS = ("videos", "live_inputs", "storage_usage")
EVERY_STREAM = (*STREAMS, *HOURLY_STREAMS, *CATALOG_STREAMS)
ACCOUNTS = (ACCOUNT_A, ACCOUNT_B)
DAY_OF_RUN = datetime.date(2026, 10, 14)
LOOKBACK_DAYS = 3  # meltano.yml's prod
# Midnight, both sides of the 6-hour window edges, midday, and the last minutes of the day.
CLOCK_TIMES = ("00:00", "00:40", "05:59", "06:00", "09:10", "12:30", "17:20", "23:00", "23:59")


def _at(clock_time: str) -> datetime.datetime:
    hour, minute = (int(part) for part in clock_time.split(":"))
    return datetime.datetime.combine(DAY_OF_RUN, datetime.time(hour, minute), UTC)


def _move_clock(config: StandinConfig, now: datetime.datetime) -> None:
    config.today, config.now = now.date(), now


def _hour(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _merged(stream: str, *runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a merging target holds after the runs, sorted by key."""
    index = hourly_key if stream in HOURLY_STREAMS else key
    rows = {index(stream, r): r for run in runs for r in run}
    return [rows[k] for k in sorted(rows)]


@pytest.mark.parametrize("clock_time", CLOCK_TIMES)
def test_a_scheduled_day_needs_at_most_18_graphql_requests_per_account(
    start_standin: StartStandin, clock_time: str
) -> None:
    now = _at(clock_time)
    before = now - DAY
    server = start_standin(today=before.date(), now=before)
    # A few days of history for the first run; the second starts from its state.
    first_day = before.date() - datetime.timedelta(days=5)
    config = tap_config(server.url, lookback_days=LOOKBACK_DAYS, start_date=first_day.isoformat())
    first = sync(config, streams=EVERY_STREAM, clock=lambda: before)

    state = copy.deepcopy(first.final_state)  # the run updates the state it is given
    _move_clock(server.config, now)
    server.clear_log()
    second = sync(config, first.final_state, streams=EVERY_STREAM, clock=lambda: now)

    graphql = [e for e in server.request_log if e.kind != "rest"]
    per_account = collections.Counter(e.variables["accountTag"] for e in graphql)
    assert set(per_account) == set(ACCOUNTS)
    assert max(per_account.values()) <= 18, (clock_time, per_account)
    for entry in graphql:
        window_start = entry.variables.get("filter", {}).get("datetimeHour_geq")
        assert window_start is None or _hour(window_start) <= now, "a window after now"
    assert {e.dataset for e in server.request_log if e.kind == "rest"} == set(CATALOG_STREAMS)

    # Every row of the last 24 hours and of the re-read window, exactly.
    for stream in STREAMS:
        since = datetime.date.fromisoformat(bookmarks(state, stream)[ACCOUNT_A])
        assert set(bookmarks(state, stream).values()) == {since.isoformat()}
        expected = expected_records(
            server.config, stream, ACCOUNTS, since - LOOKBACK_DAYS * DAY, now.date()
        )
        assert sorted(second.records[stream], key=lambda r: key(stream, r)) == expected, stream
        assert _merged(stream, first.records[stream], second.records[stream]) == (
            expected_records(server.config, stream, ACCOUNTS, first_day, now.date())
        ), stream
    current_hour = now.replace(minute=0)
    for stream in HOURLY_STREAMS:
        for account in ACCOUNTS:
            mark = _hour(bookmarks(state, stream)[account])
            since = mark - DEFAULT_HOURLY_LOOKBACK_HOURS * HOUR
            expected = expected_hourly(server.config, stream, [account], since, current_hour + HOUR)
            got = [r for r in second.records[stream] if r["account_id"] == account]
            assert sorted(got, key=lambda r: hourly_key(stream, r)) == expected, stream
        assert _merged(stream, first.records[stream], second.records[stream]) == expected_hourly(
            server.config,
            stream,
            ACCOUNTS,
            datetime.datetime.combine(first_day, datetime.time(), UTC),
            current_hour + HOUR,
        ), stream


def test_the_default_hourly_lookback_catches_hours_that_grow_after_they_end(
    start_standin: StartStandin,
) -> None:
    # Half the events reach Cloudflare up to hourly_lookback_hours after they happened.
    lookback = DEFAULT_HOURLY_LOOKBACK_HOURS
    before = _at("12:30")
    now = before + DAY
    server = start_standin(
        accounts=[ACCOUNT_A],
        today=before.date(),
        now=before,
        hourly_late_seconds=lookback * 3600,
        hourly_late_fraction=0.5,
    )
    config = tap_config(server.url, account_ids=[ACCOUNT_A], start_date=before.date().isoformat())
    first = sync(config, streams=HOURLY_STREAMS, clock=lambda: before)
    state = copy.deepcopy(first.final_state)

    _move_clock(server.config, now)
    for stream in HOURLY_STREAMS:
        # The stand-in plays it: hours that had ended when the first run read them, and that
        # a one-hour lookback would not read again, have grown since.
        mark = _hour(bookmarks(state, stream)[ACCOUNT_A])
        node, _, metrics = HOURLY_CONTRACT[stream]
        count = next(column for column, path in metrics if path == "count")
        hours = (mark - lookback * HOUR, mark - HOUR)
        read_then = [r for r in first.records[stream] if hours[0] <= _hour(r["datetime_hour"])]
        read_then = [r for r in read_then if _hour(r["datetime_hour"]) < hours[1]]
        there_now = exact_hourly_rows(server.config, ACCOUNT_A, node, [], *hours, ["count"])
        assert there_now[0]["count"] > sum(r[count] for r in read_then), stream

    second = sync(config, copy.deepcopy(state), streams=HOURLY_STREAMS, clock=lambda: now)
    short = sync(
        {**config, "hourly_lookback_hours": 1},
        copy.deepcopy(state),
        streams=HOURLY_STREAMS,
        clock=lambda: now,
    )
    start = datetime.datetime.combine(before.date(), datetime.time(), UTC)
    for stream in HOURLY_STREAMS:
        truth = expected_hourly(server.config, stream, [ACCOUNT_A], start, now + HOUR)
        assert _merged(stream, first.records[stream], second.records[stream]) == truth, stream
        # Re-reading one hour would have kept the first run's short counts.
        assert _merged(stream, first.records[stream], short.records[stream]) != truth, stream

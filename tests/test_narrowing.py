"""Issue 12: a heavy query is narrowed, not waited on; a moving retention floor is followed."""

from __future__ import annotations

import datetime
import logging

import pytest

from tap_cloudflare_stream.cloudflare.answers import CloudflareNarrowQueryError
from tap_cloudflare_stream.cloudflare.session import RetryPolicy
from tests.conftest import StartStandin
from tests.standin import (
    ACCOUNT_A,
    TODAY,
    UTC,
    by_key,
    days_ago,
    expected_hourly,
    expected_records,
    hourly_key,
    key,
    sync,
    tap_config,
)

DAY = 86400
HOUR = datetime.timedelta(hours=1)
MINUTES = "streamMinutesViewedAdaptiveGroups"
CMCD = "streamCMCDAdaptiveGroups"


@pytest.fixture(autouse=True)
def no_rate_limit_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A query classed as a rate limit would wait a minute per try; here it gives up at once."""
    monkeypatch.setattr(RetryPolicy, "RATE_LIMIT_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(RetryPolicy, "MAX_TRIES", 2)


@pytest.mark.parametrize(
    "message",
    [
        "query consumed excessive resources, please try a smaller query",
        "limit reached, please try reduced time period",
        "in combination, your request queries too many nodes, zones and accounts",
    ],
)
def test_a_heavy_query_is_split_down_to_a_day_then_a_smaller_page(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture, message: str
) -> None:
    # Cloudflare accepts at most 2 days and 40 rows at once here, whatever settings say.
    server = start_standin(
        accounts=[ACCOUNT_A],
        heavy_query_seconds=2 * DAY,
        heavy_query_limit=40,
        heavy_query_message=message,
    )
    first = days_ago(12)
    config = tap_config(server.url, account_ids=[ACCOUNT_A], start_date=first.isoformat())
    with caplog.at_level(logging.WARNING):
        result = sync(config, streams=["minutes_viewed"])
    expected = expected_records(server.config, "minutes_viewed", [ACCOUNT_A], first, TODAY)
    got = result.records["minutes_viewed"]
    assert len({key("minutes_viewed", r) for r in got}) == len(got)
    assert sorted(got, key=lambda r: key("minutes_viewed", r)) == expected
    assert "too heavy" in caplog.text
    assert "Retrying" not in caplog.text  # never waited on as a rate limit
    answered = [e for e in server.request_log if e.kind == "data" and e.status == 200]
    assert {e.limit for e in answered} == {39}  # 10000 halved until Cloudflare took it
    for entry in answered:
        flt = entry.variables["filter"]
        days = datetime.date.fromisoformat(flt["date_leq"]) - datetime.date.fromisoformat(
            flt["date_geq"]
        )
        assert days.days + 1 <= 2


def test_a_heavy_hourly_query_is_split_down_to_an_hour(start_standin: StartStandin) -> None:
    now = datetime.datetime(2026, 10, 1, 12, 30, tzinfo=UTC)
    server = start_standin(
        accounts=[ACCOUNT_A], heavy_query_seconds=3600, today=now.date(), now=now
    )
    config = tap_config(server.url, account_ids=[ACCOUNT_A], start_date=now.date().isoformat())
    result = sync(config, streams=["cmcd_hourly"], clock=lambda: now)
    start = datetime.datetime.combine(now.date(), datetime.time(), UTC)
    expected = expected_hourly(server.config, "cmcd_hourly", [ACCOUNT_A], start, now + HOUR)
    assert expected
    got = sorted(result.records["cmcd_hourly"], key=lambda r: hourly_key("cmcd_hourly", r))
    assert got == expected


def test_a_query_that_cannot_be_narrowed_fails_saying_what_was_tried(
    start_standin: StartStandin,
) -> None:
    server = start_standin(accounts=[ACCOUNT_A], heavy_query_seconds=0)
    config = tap_config(server.url, account_ids=[ACCOUNT_A], start_date=days_ago(3).isoformat())
    with pytest.raises(CloudflareNarrowQueryError, match=r"one day .* and 1-row pages"):
        sync(config, streams=["minutes_viewed"])
    limits = [e.limit for e in server.request_log if e.kind == "data"]
    assert limits[-1] == 1


def test_a_run_crossing_midnight_follows_the_retention_floor(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    """Cloudflare's floor moves a day at midnight while the first window is being read."""
    server = start_standin(accounts=[ACCOUNT_A], not_older_than=10 * DAY, max_duration=3 * DAY)
    tomorrow = TODAY + datetime.timedelta(days=1)
    crossed_after = 3  # requests answered before midnight (settings, then two pages)
    config_today = server.config.current_day

    def server_today() -> datetime.date:
        return tomorrow if len(server.request_log) >= crossed_after else TODAY

    def clock() -> datetime.datetime:
        day = server_today()
        moment = datetime.time(0, 0, 5) if day == tomorrow else datetime.time(23, 59, 55)
        return datetime.datetime.combine(day, moment, UTC)

    server.config.current_day = server_today  # type: ignore[method-assign]
    config = tap_config(
        server.url, account_ids=[ACCOUNT_A], start_date=days_ago(30).isoformat(), page_size=10
    )
    with caplog.at_level(logging.WARNING):
        result = sync(config, streams=["minutes_viewed"], clock=clock)
    refused = [e for e in server.request_log if e.status == 400]
    assert refused, "the stand-in should have refused the page at yesterday's floor"
    assert "floor moved" in caplog.text
    # Every row still inside the retention after midnight was delivered, up to the run's end.
    new_floor = tomorrow - datetime.timedelta(days=9)
    server.config.current_day = config_today  # type: ignore[method-assign]
    expected = expected_records(server.config, "minutes_viewed", [ACCOUNT_A], new_floor, TODAY)
    delivered = by_key("minutes_viewed", result.records["minutes_viewed"])
    assert by_key("minutes_viewed", expected).items() <= delivered.items()
    assert len(delivered) == len(result.records["minutes_viewed"])  # nothing twice

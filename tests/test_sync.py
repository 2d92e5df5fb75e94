"""Syncs against the stand-in deliver exactly Cloudflare's rows, incrementally and resumably."""

from __future__ import annotations

import datetime
import http.server
import json
import logging
import math
import threading
from typing import Any

import pytest
from cloudflare_standin import StandinServer

from tap_cloudflare_stream.analytics.stream import DatasetStream
from tap_cloudflare_stream.cloudflare.answers import CloudflareQueryError
from tap_cloudflare_stream.records.record_path import LeanRecordStream
from tap_cloudflare_stream.sdk_seam import SeamStream
from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.conftest import StartStandin
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    API_KEY,
    EMAIL,
    HOURLY_STREAMS,
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
CATALOG_STREAMS = ("videos", "live_inputs", "storage_usage", "catalog_listings")


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
    assert {e.path for e in server.request_log if e.kind != "rest"} == {"/client/v4/graphql"}
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
    assert all(not result.records[stream] for stream in STREAMS)
    for stream in STREAMS:
        assert bookmarks(result.final_state, stream) == {ACCOUNT_A: bookmark}


def _state_for(account: str, value: str) -> dict[str, Any]:
    partition = {"context": {"account_id": account}, "replication_key": "date"}
    partition["replication_key_value"] = value
    return {"bookmarks": {s: {"partitions": [dict(partition)]} for s in STREAMS}}


def test_a_date_time_bookmark_is_read_as_its_date(start_standin: StartStandin) -> None:
    server = start_standin(accounts=[ACCOUNT_A])
    day = days_ago(2)
    state = _state_for(ACCOUNT_A, f"{day.isoformat()}T00:00:00+00:00")
    config = tap_config(server.url, account_ids=[ACCOUNT_A], lookback_days=0)
    result = sync(config, state=state)
    for stream in STREAMS:
        expected = expected_records(server.config, stream, [ACCOUNT_A], day, utc_today())
        assert sorted(result.records[stream], key=lambda r: key(stream, r)) == expected
        assert bookmarks(result.final_state, stream) == {ACCOUNT_A: utc_today().isoformat()}


def test_a_run_with_lookback_interrupted_mid_window_resumes_without_loss(
    start_standin: StartStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # STATE also goes out every few records (singer-sdk's STATE_MSG_FREQUENCY), mid-window.
    monkeypatch.setattr(DatasetStream, "STATE_MSG_FREQUENCY", 25)
    server = start_standin(max_duration=4 * DAY)
    first, bookmark = days_ago(12), days_ago(6)
    config = tap_config(server.url, start_date=first.isoformat(), page_size=9, lookback_days=2)
    state = {
        "bookmarks": {
            s: {
                "partitions": [
                    _state_for(account, bookmark.isoformat())["bookmarks"][s]["partitions"][0]
                    for account in (ACCOUNT_A, ACCOUNT_B)
                ]
            }
            for s in STREAMS
        }
    }
    full = sync(config, state=state)
    state_positions = [i for i, m in enumerate(full.messages) if m["type"] == "STATE"]
    restart = bookmark - datetime.timedelta(days=2)
    for cut_at in state_positions[1 : len(state_positions) - 1 : 7]:
        before = full.messages[:cut_at]
        resumed = sync(config, state=full.messages[cut_at]["value"])
        for stream in STREAMS:
            delivered = [
                m["record"] for m in before if m["type"] == "RECORD" and m["stream"] == stream
            ]
            delivered += resumed.records[stream]
            truth = by_key(
                stream,
                expected_records(server.config, stream, [ACCOUNT_A, ACCOUNT_B], first, utc_today()),
            )
            got = by_key(stream, delivered)
            # Every row from the run's start on arrived; the resumed run's own lookback may
            # re-read a few earlier days, which must match too.
            assert {k for k, r in truth.items() if r["date"] >= restart.isoformat()} <= set(got)
            assert all(truth.get(k) == r for k, r in got.items()), (stream, cut_at)


def comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Singer messages without what differs between two runs by design.

    RECORDs' time_extracted, the hourly streams' `replication_key_signpost` (singer-sdk's wall
    clock), a versioned stream's table version (the run's start in milliseconds) and the
    catalog's listing times go; each stream's version must be one number throughout a run, and
    is replaced by its stream's name, and each listing id by its place in the run.
    """
    listings: dict[str, str] = {}
    versions: dict[str, set[int]] = {}
    out = []
    for original in messages:
        message = json.loads(json.dumps(original))
        message.pop("time_extracted", None)
        record = message.get("record", {})
        if "listing_id" in record:
            record["listing_id"] = listings.setdefault(record["listing_id"], str(len(listings)))
            for when in ("started_at", "finished_at"):
                record.pop(when, None)
        if "version" in message:
            versions.setdefault(message["stream"], set()).add(message["version"])
            message["version"] = message["stream"]
        if message["type"] == "STATE":
            for stream in message["value"].get("bookmarks", {}).values():
                for partition in [stream, *stream.get("partitions", [])]:
                    partition.pop("replication_key_signpost", None)
        out.append(message)
    assert all(len(v) == 1 for v in versions.values()), versions
    return out


def test_the_lean_record_path_writes_what_singer_sdks_own_path_writes(
    start_standin: StartStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_standin(accounts=[ACCOUNT_A], max_duration=2 * DAY, live_inputs=3)
    first = days_ago(3)
    config = tap_config(
        server.url,
        account_ids=[ACCOUNT_A],
        start_date=first.isoformat(),
        page_size=9,
        emit_activate_version_messages=True,  # versioned records, both ways
    )
    config["stream_maps"] = {
        "minutes_viewed": {"__filter__": "creator != ''"},  # a filtering map
        "video_playback_events": {"sample_interval": "__NULL__"},  # a map that drops a column
        "cmcd_hourly": {"country": "country or '(empty)'"},  # a map that computes a column
        "videos": {"created": "created.rstrip('Z') if created else None"},
        # the others: no map, every property selected (but for one, below)
    }
    catalog = TapCloudflareStream(config=config).catalog_dict
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] in ("video_buffer_events", "live_inputs"):
            for item in entry["metadata"]:  # a deselected property
                if item["breadcrumb"] in (
                    ["properties", "sample_interval"],
                    ["properties", "meta"],
                ):
                    item["metadata"]["selected"] = False
    every_stream = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert every_stream == {*STREAMS, *HOURLY_STREAMS, *CATALOG_STREAMS}

    lean = sync(config, catalog=catalog)
    # The same run with singer-sdk's own per-record steps and state manager instead of the
    # lean path's (each hook's default in the seam is singer-sdk's own step).
    for hook in (
        "record_messages",
        "process_record",
        "increment_stream_state",
        "new_state_manager",
    ):
        monkeypatch.setattr(LeanRecordStream, hook, getattr(SeamStream, hook))
    sdk = sync(config, catalog=catalog)

    assert comparable(lean.messages) == comparable(sdk.messages)
    written = {m["stream"] for m in lean.messages if m["type"] == "RECORD"}
    assert written == every_stream
    activated = {m["stream"] for m in lean.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == {"videos", "live_inputs"}
    # And what both wrote is the stand-in's rows, filtered, mapped and selected as configured.
    minutes = expected_records(server.config, "minutes_viewed", [ACCOUNT_A], first, utc_today())
    kept = [r for r in minutes if r["creator"] != ""]
    assert 0 < len(kept) < len(minutes)
    assert sorted(lean.records["minutes_viewed"], key=lambda r: key("minutes_viewed", r)) == kept
    for stream in ("video_playback_events", "video_buffer_events", "video_quality_events"):
        truth = expected_records(server.config, stream, [ACCOUNT_A], first, utc_today())
        if stream != "video_quality_events":
            for record in truth:
                del record["sample_interval"]
        assert sorted(lean.records[stream], key=lambda r: key(stream, r)) == truth
    assert all("meta" not in r for r in lean.records["live_inputs"])
    assert all(not r["created"].endswith("Z") for r in lean.records["videos"])
    assert bookmarks(lean.final_state, "minutes_viewed") == {ACCOUNT_A: utc_today().isoformat()}


def test_a_redirecting_api_url_fails_without_following_it(start_standin: StartStandin) -> None:
    server = start_standin(accounts=[ACCOUNT_A])

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", server.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST  # the REST streams' requests  # noqa: N815

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    redirector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{redirector.server_address[1]}/client/v4/graphql"
        config = tap_config(url, account_ids=[ACCOUNT_A], start_date=days_ago(1).isoformat())
        config["api_email"], config["api_key"], config["api_token"] = EMAIL, API_KEY, None
        config = {k: v for k, v in config.items() if v is not None}
        with pytest.raises(CloudflareQueryError, match="check api_url"):
            sync(config)
    finally:
        redirector.shutdown()
    assert server.request_log == []  # the credentials never followed the redirect

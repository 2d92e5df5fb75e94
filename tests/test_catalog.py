"""The Stream REST catalog streams against the stand-in: videos, live_inputs, storage_usage.

Every video exactly once for libraries of 2,500+ videos with tie groups across every page
boundary, under both readings of `start` and both precisions of `created`, in about one request
per 1,000 videos; live inputs and storage use exact; renames, the 403 of a token without
Stream: Read, REST faults. Listings (tests/test_listings.py has the rest): each record's
`listing_id`, a count that disagrees with `total` is listed again, and ACTIVATE_VERSION (off by
default) after the records, only when every account's listing was complete.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import math
import re
import threading
import time
from typing import Any

import pytest
from cloudflare_standin import (
    Fault,
    expected_live_inputs,
    expected_storage_usage,
    expected_videos,
)

from bench.budget import SimulatedClock, max_in_window
from tap_cloudflare_stream.catalog.stream import CatalogStream
from tap_cloudflare_stream.cloudflare.answers import CloudflareResponseError
from tap_cloudflare_stream.cloudflare.budget import RequestBudget
from tap_cloudflare_stream.settings import SettingsError, parse_settings
from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.catalog_contract import live_input_record, storage_record, video_record
from tests.conftest import StartStandin
from tests.reliability_support import CompressedClock, compress_time
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    TOKEN,
    SyncResult,
    catalog_for,
    sync,
    tap_config,
    utc_today,
)

CATALOG = ("videos", "live_inputs", "storage_usage")
TODAY = datetime.date(2026, 10, 1)
BIG = {"videos": 2500, "catalog_unwatched": 100, "rows_per_day": 5}  # 2,598 videos


def run(server: Any, streams: tuple[str, ...] = CATALOG, **overrides: Any) -> SyncResult:
    """Sync only `streams` from the stand-in."""
    config = tap_config(server.url, account_ids=server.config.accounts, **overrides)
    return sync(config, catalog=catalog_for(config, streams))


def by_uid(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Records by (account, uid); fails on a duplicate."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (record["account_id"], record["uid"])
        assert key not in found, f"{key} listed twice"
        found[key] = record
    return found


def videos_requests(server: Any) -> list[Any]:
    return [e for e in server.request_log if e.dataset == "videos" and e.status == 200]


@pytest.mark.parametrize("precision", ["seconds", "microseconds"])
@pytest.mark.parametrize("bounds", ["exclusive", "inclusive"])
def test_every_video_exactly_once_under_both_readings_of_start(
    start_standin: StartStandin, bounds: str, precision: str
) -> None:
    server = start_standin(
        accounts=[ACCOUNT_A], video_bounds=bounds, video_created_precision=precision, **BIG
    )
    want = expected_videos(server.config, ACCOUNT_A)
    assert len(want) >= 2500
    result = run(server, ("videos", "catalog_listings"))
    assert len(result.records["videos"]) == len(want), "a video was skipped or repeated"
    assert by_uid(result.records["videos"]) == {
        (ACCOUNT_A, v["uid"]): video_record(ACCOUNT_A, v) for v in want
    }
    # Cloudflare listed no video twice: the pages' overlap is dropped, not taken for a repeat.
    [listing] = result.records["catalog_listings"]
    assert (listing["complete"], listing["reason"]) == (True, None)
    # About one request per 1,000 videos: the overlap at each page end is one tie group.
    requests = videos_requests(server)
    assert len(requests) <= math.ceil(len(want) / 1000) + 1, len(requests)
    assert all(e.variables.get("asc") == "true" for e in requests)


def test_live_inputs_and_storage_use_are_exact(start_standin: StartStandin) -> None:
    server = start_standin(live_inputs=3)
    day = utc_today()  # the run's clock's day (tests.standin.sync sets the clock)
    result = run(server, ("live_inputs", "storage_usage"))
    accounts = server.config.accounts
    want_live = [
        live_input_record(a, li) for a in accounts for li in expected_live_inputs(server.config, a)
    ]
    assert len(want_live) == 6
    assert sorted(result.records["live_inputs"], key=str) == sorted(want_live, key=str)
    assert result.records["storage_usage"] == [
        storage_record(a, expected_storage_usage(server.config, a), day) for a in accounts
    ]


def test_storage_use_is_dated_by_the_runs_clock_not_the_wall_clock(
    start_standin: StartStandin,
) -> None:
    server = start_standin()
    config = tap_config(server.url)
    run_day = datetime.date(2031, 5, 17)  # far from any wall-clock date of a test run
    noon = datetime.datetime.combine(run_day, datetime.time(12), datetime.timezone.utc)
    result = sync(config, catalog=catalog_for(config, ("storage_usage",)), clock=lambda: noon)
    assert [r["date"] for r in result.records["storage_usage"]] == [run_day.isoformat()] * 2


def test_a_rename_updates_and_a_deletion_is_activated_after_the_records(
    start_standin: StartStandin,
) -> None:
    server = start_standin()
    first = run(server, ("videos",), emit_activate_version_messages=True)
    gone = first.records["videos"][0]
    renamed = first.records["videos"][-1]
    server.delete_video(ACCOUNT_A, gone["uid"])
    server.rename_video(renamed["account_id"], renamed["uid"], "Renamed ✓")

    second = run(server, ("videos",), emit_activate_version_messages=True)
    listed = by_uid(second.records["videos"])
    assert (ACCOUNT_A, gone["uid"]) not in listed
    assert listed[(renamed["account_id"], renamed["uid"])]["name"] == "Renamed ✓"
    assert len(listed) == len(first.records["videos"]) - 1

    # Records carry this run's version; ACTIVATE_VERSION for it comes once, after all of them.
    kinds = [(m["type"], m.get("stream")) for m in second.messages]
    activations = [m for m in second.messages if m["type"] == "ACTIVATE_VERSION"]
    assert [a["stream"] for a in activations] == ["videos"]
    last_record = max(i for i, k in enumerate(kinds) if k == ("RECORD", "videos"))
    assert kinds.index(("ACTIVATE_VERSION", "videos")) > last_record
    versions = {m["version"] for m in second.messages if m["type"] == "RECORD"}
    assert versions == {activations[0]["version"]}
    first_version = next(m for m in first.messages if m["type"] == "ACTIVATE_VERSION")["version"]
    assert activations[0]["version"] > first_version


def test_activate_version_is_off_by_default(start_standin: StartStandin) -> None:
    server = start_standin()
    result = run(server, ("videos", "live_inputs"))
    assert result.records["videos"]
    assert result.records["live_inputs"]
    assert not [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert not [m for m in result.messages if m.get("version") is not None], "a version sent"


def test_an_analytics_only_token_skips_the_catalog_with_one_warning_each(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_standin(analytics_only_tokens={TOKEN})
    config = tap_config(server.url, start_date=str(datetime.date.today() - datetime.timedelta(2)))
    with caplog.at_level(logging.WARNING):
        result = sync(config, catalog=catalog_for(config, ("minutes_viewed", *CATALOG)))
    assert result.records["minutes_viewed"], "the analytics streams still sync"
    assert not any(result.records.get(s) for s in CATALOG)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for stream in CATALOG:
        for account in (ACCOUNT_A, ACCOUNT_B):
            said = [w for w in warnings if f"account {account}, stream {stream}:" in w]
            assert len(said) == 1, (stream, account, warnings)
            assert "Stream: Read" in said[0]
            assert "403" in said[0]
    assert not [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"]


def test_an_account_skipped_for_403_deletes_nothing(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    # The first videos request (account A) answers 403; B is listed. Activating this run's
    # version would mark all of A's videos deleted: the stream must not send it.
    server = start_standin(faults=[Fault("no_account", at=[1], dataset="videos")])
    with caplog.at_level(logging.WARNING):
        result = run(
            server,
            ("videos", "live_inputs", "catalog_listings"),
            emit_activate_version_messages=True,
        )
    assert {r["account_id"] for r in result.records["videos"]} == {ACCOUNT_B}
    activations = [m["stream"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert activations == ["live_inputs"]
    [said] = [
        r.getMessage() for r in caplog.records if "ACTIVATE_VERSION not sent" in r.getMessage()
    ]
    assert said.startswith("stream videos: ACTIVATE_VERSION not sent: the listing of ")
    assert f"account {ACCOUNT_A} (skipped: no Stream: Read permission (HTTP 403))" in said
    # The skip is a listing too, incomplete: the models treat nothing of A as deleted.
    skipped = [r for r in result.records["catalog_listings"] if r["account_id"] == ACCOUNT_A]
    assert {(r["stream"], r["complete"], r["items_listed"]) for r in skipped} == {
        ("videos", False, 0),
        ("live_inputs", True, 2),
    }


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> CompressedClock:
    """Retry waits on a compressed clock."""
    fake = CompressedClock()
    compress_time(monkeypatch, fake)
    return fake


@pytest.mark.parametrize(
    "kind",
    ["429", "429_retry_after", "ratelimit_200", "busy", "busy_200", "503_html", "internal_200",
     "success_false", "data_null", "drop", "truncated"],
)  # fmt: skip
def test_rest_faults_are_retried_and_every_video_arrives(
    start_standin: StartStandin, clock: CompressedClock, kind: str
) -> None:
    server = start_standin(
        accounts=[ACCOUNT_A], faults=[Fault(kind, at=[2], dataset="videos", seconds=17)], **BIG
    )
    result = run(server, ("videos",))
    want = expected_videos(server.config, ACCOUNT_A)
    assert set(by_uid(result.records["videos"])) == {(ACCOUNT_A, v["uid"]) for v in want}
    assert len(result.records["videos"]) == len(want)
    faulted = [e for e in server.request_log if e.fault == kind]
    assert faulted, "the fault was not served"
    assert clock.sleeps, "the tap did not wait before retrying"
    if kind == "429_retry_after":
        assert any(17.0 <= s <= 18.0 for s in clock.sleeps), clock.sleeps  # plus jitter


def test_a_tie_group_larger_than_a_page_is_a_clear_error(
    start_standin: StartStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of 100 while bulk uploads put up to 150 videos in one second.
    monkeypatch.setattr(CatalogStream, "page_limit", 100)
    server = start_standin(accounts=[ACCOUNT_A], **BIG)
    with pytest.raises(CloudflareResponseError, match=r"share created .* Please report it"):
        run(server, ("videos",))


def test_a_count_that_disagrees_with_the_total_is_listed_again(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    # The second page is answered after 1 s; a video of the last page is deleted meanwhile.
    server = start_standin(
        accounts=[ACCOUNT_A], faults=[Fault("slow", at=[2], dataset="videos", seconds=1.0)], **BIG
    )
    newest = expected_videos(server.config, ACCOUNT_A)[-1]["uid"]
    total = len(expected_videos(server.config, ACCOUNT_A))

    def delete_after_the_first_page() -> None:
        deadline = time.monotonic() + 30
        while not videos_requests(server) and time.monotonic() < deadline:
            time.sleep(0.01)
        server.delete_video(ACCOUNT_A, newest)

    deleter = threading.Thread(target=delete_after_the_first_page)
    deleter.start()
    with caplog.at_level(logging.INFO):
        result = run(server, ("videos", "catalog_listings"), emit_activate_version_messages=True)
    deleter.join()
    first, second = result.records["catalog_listings"]
    assert first["listing_id"] < second["listing_id"]
    assert (first["complete"], first["items_listed"], first["cloudflare_total"]) == (
        False,
        total - 1,
        total,
    )
    assert first["reason"] == (
        f"re-listed: listed {total - 1} videos but Cloudflare's total is {total}"
    )
    assert (second["complete"], second["items_listed"], second["cloudflare_total"]) == (
        True,
        total - 1,
        total - 1,
    )
    assert second["reason"] is None
    # Both listings' records went out; the second's are the library now.
    by_listing = {
        listing: [r["uid"] for r in result.records["videos"] if r["listing_id"] == listing]
        for listing in (first["listing_id"], second["listing_id"])
    }
    assert len(by_listing[first["listing_id"]]) == total - 1
    assert sorted(by_listing[second["listing_id"]]) == sorted(
        v["uid"] for v in expected_videos(server.config, ACCOUNT_A)
    )
    # A video deleted during a listing is normal: INFO, no WARNING; the last listing agrees.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    said = [r.getMessage() for r in caplog.records if "listing it again" in r.getMessage()]
    assert said == [
        f"account {ACCOUNT_A}, stream videos: listed {total - 1} videos but Cloudflare's total "
        f"is {total} (added or deleted during the listing?): listing it again."
    ]
    assert [m["type"] for m in result.messages].count("ACTIVATE_VERSION") == 1


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("missing_field", "a video without uid for account "),
        ("wrong_type", "a video whose uid is 12345 (expected string) for account "),
    ],
)
def test_a_video_the_tap_cannot_key_is_a_one_line_error(
    start_standin: StartStandin, kind: str, says: str
) -> None:
    server = start_standin(accounts=[ACCOUNT_A], faults=[Fault(kind, at=[1], dataset="videos")])
    with pytest.raises(CloudflareResponseError, match=re.escape(f"Cloudflare sent {says}")):
        run(server, ("videos",))


def test_fields_cloudflare_adds_later_are_ignored(start_standin: StartStandin) -> None:
    server = start_standin(faults=[Fault("extra_field", at=[1, 2], dataset="videos")])
    result = run(server, ("videos",))
    want = [
        video_record(a, v)
        for a in server.config.accounts
        for v in expected_videos(server.config, a)
    ]
    assert sorted(result.records["videos"], key=str) == sorted(want, key=str)


def test_the_rest_base_is_api_url_without_graphql() -> None:
    config = {"account_ids": [ACCOUNT_A], "api_token": TOKEN}
    proxy = parse_settings({**config, "api_url": "https://proxy.example.com/cf/v4/graphql"}, TODAY)
    assert proxy.rest_url == "https://proxy.example.com/cf/v4"
    with pytest.raises(SettingsError, match="api_url must end with /graphql"):
        parse_settings({**config, "api_url": "https://proxy.example.com/cf/v4"}, TODAY)


def test_the_catalog_spends_from_its_own_rest_budget_and_is_never_refused(
    start_standin: StartStandin,
) -> None:
    # The stand-in allows 2 REST requests per 300 s (and no GraphQL one): 2 accounts x 3 streams
    # need 6, so the run must pace itself over three windows, on a simulated clock.
    clock = SimulatedClock(max_latency=0.4, seed=3)
    server = start_standin(
        clock=clock.in_flight,
        rest_rate_limit_requests=2,
        rest_rate_limit_window=300.0,
        rest_rate_limit_lockout=300.0,
        rate_limit_queries=0,
    )
    config = tap_config(server.url, requests_per_5_minutes=300)
    tap = TapCloudflareStream(
        config=config, catalog=catalog_for(config, CATALOG), validate_config=True
    )
    tap.api.rest.budget = RequestBudget(2, 300.0, clock=clock.time, sleep=clock.sleep)
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
        tap.sync_all()
    log = server.request_log
    assert len(log) == 6
    assert {e.kind for e in log} == {"rest"}
    assert {e.status for e in log} == {200}, "a request was refused"
    assert max_in_window([e.time for e in log], 300.0) <= 2
    assert log[-1].time - log[0].time >= 2 * 300.0

"""Listings: each catalog record says which listing it came from, and each listing is recorded.

Against the stand-in, in process: every `videos` and `live_inputs` record carries its listing's
`listing_id`; a `catalog_listings` row follows each listing's records and says whether it was
complete; a listing that misses items while Cloudflare's `total` counts them, or a malformed
answer (a video without `created`, a uid twice in a page, no `total`), is incomplete with one
WARNING naming the account, the stream and what was wrong, and then no ACTIVATE_VERSION goes
out; batch mode carries the same columns and sends no ACTIVATE_VERSION.
"""

from __future__ import annotations

import datetime
import gzip
import json
import logging
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import Fault, ListingMiss, expected_live_inputs, expected_videos

from tap_cloudflare_stream.catalog.listings import Listing
from tests.catalog_contract import LISTING_ID, live_input_record, video_record
from tests.conftest import StartStandin
from tests.standin import ACCOUNT_A, ACCOUNT_B, SyncResult, catalog_for, sync, tap_config

LISTED = ("videos", "live_inputs", "catalog_listings")
ITEMS = {"videos": "videos", "live_inputs": "live inputs"}


def run(server: Any, **overrides: Any) -> SyncResult:
    """Sync the listed streams and their listings from the stand-in."""
    config = tap_config(server.url, account_ids=server.config.accounts, **overrides)
    return sync(config, catalog=catalog_for(config, LISTED))


def listings_of(result: SyncResult, stream: str, account: str) -> list[dict[str, Any]]:
    """The catalog_listings rows of one stream and account, in the order they went out."""
    return [
        row
        for row in result.records["catalog_listings"]
        if row["stream"] == stream and row["account_id"] == account
    ]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_every_record_carries_its_listing_and_each_listing_follows_its_records(
    start_standin: StartStandin,
) -> None:
    server = start_standin(live_inputs=3)
    first = run(server)
    second = run(server)
    for result in (first, second):
        for stream, truth, record in (
            ("videos", expected_videos, video_record),
            ("live_inputs", expected_live_inputs, live_input_record),
        ):
            for account in (ACCOUNT_A, ACCOUNT_B):
                [listing] = listings_of(result, stream, account)
                assert LISTING_ID.fullmatch(listing["listing_id"])
                mine = [r for r in result.records[stream] if r["account_id"] == account]
                want = [record(account, item, listing["listing_id"]) for item in truth(
                    server.config, account)]  # fmt: skip
                assert sorted(mine, key=str) == sorted(want, key=str)
                assert listing["complete"] is True
                assert listing["reason"] is None
                assert listing["items_listed"] == listing["cloudflare_total"] == len(want)
                assert listing["started_at"] <= listing["finished_at"]
                # The row goes out after the last record of its listing.
                kinds = [
                    (m["stream"], (m["record"].get("listing_id"), m["record"].get("stream")))
                    for m in result.messages
                    if m["type"] == "RECORD"
                ]
                row_at = kinds.index(("catalog_listings", (listing["listing_id"], stream)))
                last_record = max(
                    i for i, k in enumerate(kinds) if k == (stream, (listing["listing_id"], None))
                )
                assert row_at > last_record
    # Every listing has its own id, and a later listing sorts after an earlier one as text.
    ids = [r["listing_id"] for r in first.records["catalog_listings"]]
    later = [r["listing_id"] for r in second.records["catalog_listings"]]
    assert len(set(ids + later)) == len(ids + later)
    assert max(ids) < min(later)


def test_the_last_listing_row_goes_out_when_no_state_follows_it(
    start_standin: StartStandin,
) -> None:
    # A second run over one account: its state does not change after the last listing, so no
    # STATE follows the last row to flush the writer's batch of RECORD lines.
    server = start_standin()
    first = run(server)
    config = tap_config(server.url, account_ids=[ACCOUNT_A])
    second = sync(config, catalog=catalog_for(config, LISTED), state=first.final_state)
    assert second.messages[-1]["type"] == "RECORD", "a STATE came last: the test proves nothing"
    rows = {(r["stream"], r["account_id"]) for r in second.records["catalog_listings"]}
    assert rows == {("videos", ACCOUNT_A), ("live_inputs", ACCOUNT_A)}


@pytest.mark.parametrize("stream", ["videos", "live_inputs"])
def test_a_listing_that_misses_items_stays_incomplete_and_deletes_nothing(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture, stream: str
) -> None:
    missed = 3 if stream == "videos" else 1
    server = start_standin(live_inputs=3, listing_misses={(ACCOUNT_B, stream): ListingMiss(missed)})
    total = len((expected_videos if stream == "videos" else expected_live_inputs)(
        server.config, ACCOUNT_B))  # fmt: skip
    with caplog.at_level(logging.WARNING):
        result = run(server, emit_activate_version_messages=True)
    first, second = listings_of(result, stream, ACCOUNT_B)  # listed once more, then given up
    noun = ITEMS[stream]
    assert (
        first["reason"]
        == f"re-listed: listed {total - missed} {noun} but Cloudflare's total is {total}"
    )
    assert second["reason"] == (
        f"listed {total - missed} {noun} but Cloudflare's total is {total} (listed twice)"
    )
    assert not first["complete"]
    assert not second["complete"]
    assert [r["complete"] for r in listings_of(result, stream, ACCOUNT_A)] == [True]
    said = [w for w in warnings(caplog) if "incomplete listing" in w]
    assert said == [
        f"account {ACCOUNT_B}, stream {stream}: incomplete listing {second['listing_id']}: "
        f"{second['reason']}; nothing of this account is treated as deleted until a listing is "
        "complete."
    ]
    activations = [m["stream"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert activations == [s for s in ("live_inputs", "videos") if s != stream]
    [refused] = [w for w in warnings(caplog) if "ACTIVATE_VERSION not sent" in w]
    assert f"stream {stream}: ACTIVATE_VERSION not sent: the listing of account {ACCOUNT_B} (" in (
        refused
    )
    assert ACCOUNT_A not in refused


@pytest.mark.parametrize("stream", ["videos", "live_inputs"])
@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("missing_created", "without a usable created"),
        ("duplicate_uid", "twice"),
        ("no_total", "Cloudflare sent no total to check the listing against"),
    ],
)
def test_a_malformed_listing_is_incomplete_with_one_warning_and_deletes_nothing(
    start_standin: StartStandin,
    caplog: pytest.LogCaptureFixture,
    stream: str,
    kind: str,
    says: str,
) -> None:
    # The first listing request of the stream (account A's) is malformed.
    server = start_standin(live_inputs=3, faults=[Fault(kind, at=[1], dataset=stream)])
    with caplog.at_level(logging.WARNING):
        result = run(server, emit_activate_version_messages=True)
    malformed = listings_of(result, stream, ACCOUNT_A)
    if stream == "live_inputs" and kind == "missing_created":
        # Live inputs are not paged by created: a live input without one is just that.
        assert [r["complete"] for r in malformed] == [True]
        assert any(m["type"] == "ACTIVATE_VERSION" for m in result.messages)
        return
    [listing] = malformed  # no second listing: listing again would not mend it
    assert not listing["complete"]
    assert says in listing["reason"]
    [said] = [w for w in warnings(caplog) if "incomplete listing" in w]
    assert said.startswith(f"account {ACCOUNT_A}, stream {stream}: incomplete listing ")
    assert says in said
    assert [r["complete"] for r in listings_of(result, stream, ACCOUNT_B)] == [True]
    # Every item still arrives once, and the other account and stream go on.
    truth = expected_videos if stream == "videos" else expected_live_inputs
    uids = [r["uid"] for r in result.records[stream] if r["account_id"] == ACCOUNT_A]
    assert sorted(uids) == sorted(item["uid"] for item in truth(server.config, ACCOUNT_A))
    activations = [m["stream"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert stream not in activations
    assert len(activations) == 1


def test_a_video_without_created_on_a_full_page_does_not_stop_the_listing(
    start_standin: StartStandin,
) -> None:
    server = start_standin(
        accounts=[ACCOUNT_A],
        videos=2500,
        catalog_unwatched=100,
        rows_per_day=5,
        faults=[Fault("missing_created", at=[1], dataset="videos")],
    )
    result = run(server)
    want = {v["uid"] for v in expected_videos(server.config, ACCOUNT_A)}
    assert len(want) > 2000
    assert sorted(r["uid"] for r in result.records["videos"]) == sorted(want)
    [listing] = listings_of(result, "videos", ACCOUNT_A)
    assert listing["items_listed"] == listing["cloudflare_total"] == len(want)
    assert not listing["complete"]


def test_a_listing_with_many_problems_names_the_first_three(start_standin: StartStandin) -> None:
    # Four pages, each with one uid twice.
    server = start_standin(
        accounts=[ACCOUNT_A],
        library_sizes={ACCOUNT_A: 3500},
        rows_per_day=2,
        faults=[Fault("duplicate_uid", at=[1, 2, 3, 4], dataset="videos")],
    )
    result = run(server)
    [listing] = listings_of(result, "videos", ACCOUNT_A)
    assert listing["items_listed"] == listing["cloudflare_total"] == 3500
    assert listing["reason"].count("twice") == 3
    assert listing["reason"].endswith("; and 1 more")


def batch_rows(result: SyncResult) -> list[tuple[str, list[dict[str, Any]]]]:
    """(stream, rows) of each BATCH message, in order."""
    out = []
    for message in result.messages:
        if message["type"] == "BATCH":
            rows = []
            for url in message["manifest"]:
                data = gzip.decompress(Path(urllib.parse.urlparse(url).path).read_bytes())
                rows += [json.loads(line) for line in data.splitlines()]
            out.append((message["stream"], rows))
    return out


def test_batch_mode_carries_listings_and_sends_no_activate_version(
    start_standin: StartStandin, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    server = start_standin(live_inputs=3)
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": tmp_path.as_uri(), "prefix": "batch-"},
    }
    with caplog.at_level(logging.WARNING):
        result = run(server, batch_config=batch_config, emit_activate_version_messages=True)
    assert not [m for m in result.messages if m["type"] in ("RECORD", "ACTIVATE_VERSION")]
    batches = batch_rows(result)
    assert [stream for stream, _ in batches] == [
        "live_inputs",
        "catalog_listings",
        "videos",
        "catalog_listings",
    ]
    for (stream, rows), (_, listings) in zip(batches[::2], batches[1::2], strict=True):
        assert {r["listing_id"] for r in rows} == {x["listing_id"] for x in listings}
        assert {(x["stream"], x["complete"]) for x in listings} == {(stream, True)}
        assert sum(x["items_listed"] for x in listings) == len(rows)
        assert all("version" not in r for r in rows)
    said = [w for w in warnings(caplog) if "ignored in batch mode" in w]
    assert len(said) == 2


def test_listing_ids_and_times_are_utc_text_on_a_machine_away_from_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = datetime.datetime(2026, 12, 6, 4, 17, 14, 123456, tzinfo=datetime.timezone.utc)
    listing = Listing("videos", ACCOUNT_A, started, finished_at=started + datetime.timedelta(1))
    monkeypatch.setenv("TZ", "PST+08")  # POSIX rule, needs no tz database: UTC-8
    time.tzset()
    try:
        row = listing.record()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert row["listing_id"] == "20261206T041714.123456Z"
    assert (row["started_at"], row["finished_at"]) == (
        "2026-12-06T04:17:14.123456Z",
        "2026-12-07T04:17:14.123456Z",
    )

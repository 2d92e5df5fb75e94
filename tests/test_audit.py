"""The audit trail the tap writes: `sync_audit` counts exactly the RECORD messages it wrote.

Counted where they are written, after stream maps (a `__filter__` map, an `__alias__`, a
deselected property that takes singer-sdk's own record path), per stream, account and UTC day
(the day of `datetime_hour` for hour-grained streams, the listing for the catalog), or in
batch mode the rows of the batch files. The warehouse side (dbt's reconciliation and the heal)
is tested in tests/test_audit_heal.py.
"""

from __future__ import annotations

import datetime
import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

from tap_cloudflare_stream.audit.tally import RunAudit
from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.conftest import StartStandin
from tests.standin import ACCOUNT_A, ACCOUNT_B, catalog_for, days_ago, sync, tap_config

AUDIT = "sync_audit"
LISTED = ("videos", "live_inputs", "catalog_listings")  # counted per listing (listing_id)

Count = Counter[tuple[str, str, str, str]]  # (stream, account, day, listing) -> messages


def every_stream(config: dict[str, Any]) -> list[str]:
    """Every stream of the tap's catalog, the audit included."""
    catalog = TapCloudflareStream(config=config, validate_config=False).catalog_dict
    return [entry["tap_stream_id"] for entry in catalog["streams"]]


def written(messages: list[dict[str, Any]], run_listing: str) -> Count:
    """RECORD messages per (stream, account, day, listing), as the audit should count them."""
    counts: Count = Counter()
    for message in messages:
        if message["type"] != "RECORD" or message["stream"] == AUDIT:
            continue
        record = message["record"]
        if message["stream"] in LISTED:  # the listing's own id; its day, the listing's start
            listing = record["listing_id"]
            day = f"{listing[:4]}-{listing[4:6]}-{listing[6:8]}"
        else:
            listing = run_listing
            day = str(record.get("date") or record["datetime_hour"])[:10]
        counts[(message["stream"], record["account_id"], day, listing)] += 1
    return counts


def audited(rows: list[dict[str, Any]]) -> Count:
    """The audit's counts per (stream, account, day, listing)."""
    counts: Count = Counter()
    for row in rows:
        key = (row["stream"], row["account_id"], row["day"], row["listing_id"])
        counts[key] += row["rows_emitted"]
    return counts


def run_listing(rows: list[dict[str, Any]]) -> str:
    """The listing id the audit gives streams without listings: the run's start."""
    started = datetime.datetime.fromisoformat(rows[0]["run_started_at"])
    return started.strftime("%Y%m%dT%H%M%S.000000Z")


def test_the_audit_counts_every_record_message_written_after_the_stream_maps(
    start_standin: StartStandin,
) -> None:
    server = start_standin(max_duration=2 * 86400, live_inputs=2)
    config = tap_config(server.url, start_date=days_ago(3).isoformat(), page_size=7)
    config["stream_maps"] = {
        "minutes_viewed": {"__filter__": "creator != ''"},  # fewer messages than rows read
        "video_buffer_events": {"__alias__": "buffering"},  # counted under the alias
    }
    catalog = catalog_for(config, every_stream(config))
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "video_quality_events":  # singer-sdk's own record path
            for item in entry["metadata"]:
                if item["breadcrumb"] == ["properties", "sample_interval"]:
                    item["metadata"]["selected"] = False

    result = sync(config, catalog=catalog)

    rows = result.records[AUDIT]
    assert rows, "no audit written"
    counts = written(result.messages, run_listing(rows))
    assert audited(rows) == counts
    streams = {stream for stream, *_ in counts}
    assert {"buffering", "minutes_viewed", "video_quality_events", "cmcd_hourly"} <= streams
    assert {"videos", "live_inputs", "catalog_listings"} <= streams
    assert "video_buffer_events" not in streams
    assert {account for _, account, *_ in counts} == {ACCOUNT_A, ACCOUNT_B}
    # The catalog's records and listing rows under each listing's own id, one row per listing.
    listings = {r["listing_id"] for r in result.records["catalog_listings"]}
    assert {listing for stream, _, _, listing in counts if stream in LISTED} == listings
    filtered = sum(1 for r in result.records["minutes_viewed"] if r["creator"] == "")
    assert filtered == 0, "the filter map did not apply"

    # One run: one id and start, the start no later than any record's extraction; a key with
    # no empty column; every stream without listings has the run's start as its listing.
    assert {r["run_id"] for r in rows} == {rows[0]["run_id"]}
    started = datetime.datetime.fromisoformat(rows[0]["run_started_at"])
    assert {datetime.datetime.fromisoformat(r["run_started_at"]) for r in rows} == {started}
    assert started.microsecond == 0
    extracted = [
        datetime.datetime.fromisoformat(m["time_extracted"].replace("Z", "+00:00"))
        for m in result.messages
        if m["type"] == "RECORD" and m["stream"] != AUDIT
    ]
    assert started <= min(extracted)
    keys = [(r["run_id"], r["stream"], r["account_id"], r["day"], r["listing_id"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert all(all(part for part in key) for key in keys)
    others = {r["listing_id"] for r in rows if r["stream"] not in LISTED}
    assert others == {started.strftime("%Y%m%dT%H%M%S.000000Z")}

    # Written last, once every other stream is done; never table-versioned (each run adds rows).
    types = [(m["type"], m.get("stream")) for m in result.messages]
    last_other = max(i for i, (t, s) in enumerate(types) if t == "RECORD" and s != AUDIT)
    first_audit = types.index(("RECORD", AUDIT))
    assert first_audit > last_other
    assert ("ACTIVATE_VERSION", AUDIT) not in types
    schema = next(m for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == AUDIT)
    assert schema["key_properties"] == ["run_id", "stream", "account_id", "day", "listing_id"]


def batch_lines(uri: str) -> list[dict[str, Any]]:
    """The records of one batch file (gzipped or not)."""
    data = Path(uri.removeprefix("file://")).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode().splitlines()]


def test_in_batch_mode_the_audit_counts_the_rows_of_the_batch_files(
    start_standin: StartStandin, tmp_path: Path
) -> None:
    server = start_standin(live_inputs=2)
    config = tap_config(
        server.url,
        start_date=days_ago(2).isoformat(),
        batch_config={
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": {"root": tmp_path.as_uri(), "prefix": "b-"},
            "batch_size": 25,
        },
    )
    streams = ["video_playback_events", "cmcd_hourly", "videos", "catalog_listings"]
    streams += ["storage_usage", AUDIT]

    result = sync(config, streams=streams)

    in_files: list[dict[str, Any]] = []
    for message in result.messages:
        if message["type"] == "BATCH" and message["stream"] != AUDIT:
            for uri in message["manifest"]:
                in_files += [
                    {"type": "RECORD", "stream": message["stream"], "record": record}
                    for record in batch_lines(uri)
                ]
    assert in_files, "no batch file written"
    audit_rows: list[dict[str, Any]] = []
    for message in result.messages:
        if message["type"] == "BATCH" and message["stream"] == AUDIT:
            for uri in message["manifest"]:
                audit_rows += batch_lines(uri)
    assert audited(audit_rows) == written(in_files, run_listing(audit_rows))
    assert {"videos", "catalog_listings"} <= {row["stream"] for row in audit_rows}


def test_a_one_day_run_writes_its_audit_last_and_out_though_no_state_follows(
    start_standin: StartStandin,
) -> None:
    # The heal command's form for one day: the tap's state moves little, so the STATE after
    # the audit is held back by the cadence and none follows its rows; the end of the run
    # writes out what the writer holds (records/output.py), or the rows would be lost.
    server = start_standin(live_inputs=2)
    day = days_ago(1).isoformat()
    config = tap_config(server.url, start_date=day, end_date=day)

    result = sync(config, catalog=catalog_for(config, every_stream(config)))

    assert result.messages[-1]["type"] == "RECORD", "a STATE came last: the test proves nothing"
    rows = result.records[AUDIT]
    assert audited(rows) == written(result.messages, run_listing(rows))
    # The audit's rows after every other stream's records (catalog_listings syncs first by
    # name and sync_audit would sort before video_*: the tap syncs the audit last).
    kinds = [m.get("stream") for m in result.messages if m["type"] == "RECORD"]
    first_audit = kinds.index(AUDIT)
    assert set(kinds[first_audit:]) == {AUDIT}
    assert {"video_quality_events", "videos", "catalog_listings"} <= set(kinds[:first_audit])


def test_the_counts_of_a_listing_go_to_its_start_day() -> None:
    audit = RunAudit(datetime.datetime(2026, 12, 6, 23, 59, 59, 700000, tzinfo=datetime.UTC))
    audit.add(ACCOUNT_A, "videos", {"20261205T235959.123456Z": 3}, by_listing=True)
    audit.add(ACCOUNT_A, "videos", {None: 2}, by_listing=True)  # records without a listing_id
    audit.add(ACCOUNT_A, "cmcd_hourly", {"2026-12-04T23:00:00Z": 4}, by_listing=False)
    audit.add(ACCOUNT_A, "cmcd_hourly", {"2026-12-04T07:00:00Z": 1}, by_listing=False)
    rows = {(r.stream, r.day, r.listing_id): r.rows_emitted for r in audit.rows()}
    assert rows == {
        ("videos", "2026-12-05", "20261205T235959.123456Z"): 3,
        ("videos", "2026-12-06", "20261206T235959.000000Z"): 2,
        ("cmcd_hourly", "2026-12-04", "20261206T235959.000000Z"): 5,
    }


def test_a_heal_run_lists_the_catalog_without_activate_version(
    start_standin: StartStandin,
) -> None:
    # The heal command reads one account's past days again, with an end_date and without the
    # saved state (--full-refresh): a table version covers the whole table, and activating it
    # would mark every other account's videos as deleted (when ACTIVATE_VERSION is on).
    server = start_standin(live_inputs=2)
    on = {"emit_activate_version_messages": True}
    scheduled = sync(tap_config(server.url, **on), streams=LISTED)
    # A scheduled run with an end_date still does, from its saved state.
    pinned = sync(
        tap_config(server.url, end_date=days_ago(0).isoformat(), **on),
        streams=LISTED,
        state=scheduled.final_state,
    )
    heal = sync(
        tap_config(
            server.url,
            account_ids=[ACCOUNT_A],
            start_date=days_ago(3).isoformat(),
            end_date=days_ago(3).isoformat(),
            **on,
        ),
        streams=LISTED,
    )

    def activated(messages: list[dict[str, Any]]) -> set[str]:
        return {m["stream"] for m in messages if m["type"] == "ACTIVATE_VERSION"}

    versioned = {"videos", "live_inputs"}
    assert activated(scheduled.messages) == versioned  # the control: a scheduled run does
    assert activated(pinned.messages) == versioned
    assert activated(heal.messages) == set()
    assert heal.records["videos"], "the heal lists the account's videos"
    assert all("version" not in m for m in heal.messages if m["type"] == "RECORD")

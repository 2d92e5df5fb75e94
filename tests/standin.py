"""Helpers that run the tap against the local stand-in and compute what it must deliver."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudflare_standin import StandinConfig, exact_rows

from tap_cloudflare_stream.tap import TapCloudflareStream

ACCOUNT_A = "0123456789abcdef0123456789abcdef"
ACCOUNT_B = "fedcba9876543210fedcba9876543210"
TOKEN = "test-token-Zq8v2Lr5Xw"
EMAIL = "owner@example.com"
API_KEY = "test-global-key-Kd93mFa1"

# The output contract, written out independently of the tap's own declarations:
# stream -> (dataset node, [(column, GraphQL dimension)], [(column, metric path)]).
PLAYER = [
    ("uid", "uid"),
    ("client_country_name", "clientCountryName"),
    ("device_type", "deviceType"),
    ("device_os", "deviceOs"),
    ("device_browser", "deviceBrowser"),
]
CONTRACT: dict[str, tuple[str, list[tuple[str, str]], list[tuple[str, str]]]] = {
    "video_playback_events": (
        "videoPlaybackEventsAdaptiveGroups",
        PLAYER,
        [
            ("views", "count"),
            ("time_viewed_minutes", "sum.timeViewedMinutes"),
            ("sample_interval", "avg.sampleInterval"),
        ],
    ),
    "video_buffer_events": (
        "videoBufferEventsAdaptiveGroups",
        PLAYER,
        [("buffer_events", "count"), ("sample_interval", "avg.sampleInterval")],
    ),
    "video_quality_events": (
        "videoQualityEventsAdaptiveGroups",
        [*PLAYER, ("quality_resolution", "qualityResolution")],
        [("quality_changes", "count"), ("sample_interval", "avg.sampleInterval")],
    ),
    "minutes_viewed": (
        "streamMinutesViewedAdaptiveGroups",
        [
            ("uid", "uid"),
            ("client_country_name", "clientCountryName"),
            ("media_type", "mediaType"),
            ("creator", "creator"),
        ],
        [("minutes_viewed", "sum.minutesViewed"), ("events", "count")],
    ),
}
STREAMS = tuple(CONTRACT)


def utc_today() -> datetime.date:
    """Today in UTC, as the tap and the stand-in see it."""
    return datetime.datetime.now(datetime.timezone.utc).date()


def days_ago(n: int) -> datetime.date:
    """The UTC date n days before today."""
    return utc_today() - datetime.timedelta(days=n)


def _metric(group: dict[str, Any], path: str) -> Any:
    value: Any = group
    for part in path.split("."):
        value = value[part]
    return value


def expected_records(
    config: StandinConfig,
    stream: str,
    accounts: Iterable[str],
    first: datetime.date,
    last: datetime.date,
) -> list[dict[str, Any]]:
    """The records a stream must emit, from the stand-in's exact-rows helper."""
    node, dimensions, metrics = CONTRACT[stream]
    fields = ["date", *(f for _, f in dimensions)]
    records = []
    for account in accounts:
        for group in exact_rows(config, account, node, fields, first, last):
            record = {"account_id": account, "date": group["dimensions"]["date"]}
            record.update({column: group["dimensions"][f] for column, f in dimensions})
            record.update({column: _metric(group, path) for column, path in metrics})
            records.append(record)
    return records


def key(stream: str, record: dict[str, Any]) -> tuple[Any, ...]:
    """A record's primary key."""
    _, dimensions, _ = CONTRACT[stream]
    return (record["account_id"], record["date"], *(record[c] for c, _ in dimensions))


def by_key(stream: str, records: Iterable[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Records indexed by primary key (later records win, as in a merging target)."""
    return {key(stream, r): r for r in records}


def tap_config(url: str, **overrides: Any) -> dict[str, Any]:
    """A tap configuration pointed at the stand-in."""
    config: dict[str, Any] = {
        "account_ids": [ACCOUNT_A, ACCOUNT_B],
        "api_token": TOKEN,
        "api_url": url,
        "requests_per_5_minutes": 0,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


@dataclass
class SyncResult:
    """What one in-process run emitted."""

    records: dict[str, list[dict[str, Any]]]
    states: list[dict[str, Any]]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final_state(self) -> dict[str, Any]:
        """The last STATE message's value."""
        return self.states[-1] if self.states else {}


def sync(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> SyncResult:
    """Run a full sync in-process, reading the Singer messages it writes to stdout."""
    tap = TapCloudflareStream(config=config, state=state, catalog=catalog, validate_config=True)
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(stdout):
        tap.sync_all()
    stdout.seek(0)
    messages = [json.loads(line) for line in stdout.read().splitlines() if line.strip()]
    records: dict[str, list[dict[str, Any]]] = {s: [] for s in STREAMS}
    for message in messages:
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return SyncResult(records=records, states=states, messages=messages)


def bookmarks(state: dict[str, Any], stream: str) -> dict[str, str]:
    """The date bookmark of each account partition of a stream."""
    partitions = state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
    return {p["context"]["account_id"]: p.get("replication_key_value") for p in partitions}

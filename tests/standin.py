"""Helpers that run the tap against the local stand-in and compute what it must deliver."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudflare_standin import StandinConfig, exact_hourly_rows, exact_rows

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

# The hour-grained streams (issue 11): stream -> (dataset, [(column, dimension)], [(column,
# metric path)]), written out from the table.
HOURLY_CONTRACT: dict[str, tuple[str, list[tuple[str, str]], list[tuple[str, str]]]] = {
    "cmcd_hourly": (
        "streamCMCDAdaptiveGroups",
        [
            ("video_id", "videoId"),
            ("country", "country"),
            ("stream_type", "streamType"),
            ("streaming_format", "streamingFormat"),
        ],
        [
            ("requests", "count"),
            ("milliseconds_viewed", "sum.millisecondsViewed"),
            ("viewers", "uniq.viewers"),
            ("avg_buffer_length", "avg.bufferLength"),
            ("avg_buffer_starvation_duration", "avg.bufferStarvationDuration"),
            ("avg_encoded_bitrate", "avg.encodedBitrate"),
            ("avg_initial_buffer_starvation_duration", "avg.initialBufferStarvationDuration"),
            ("avg_measured_throughput", "avg.measuredThroughput"),
            *(
                (f"{column}_p{p}", f"quantiles.{name}P{p}")
                for column, name in (
                    ("buffer_starvation_duration", "bufferStarvationDuration"),
                    ("initial_buffer_starvation_duration", "initialBufferStarvationDuration"),
                )
                for p in (50, 90, 99)
            ),
        ],
    ),
    "live_input_events_hourly": (
        "liveInputEventsAdaptiveGroups",
        [("input_id", "inputId"), ("event_code", "eventCode")],
        [
            ("segments", "count"),
            ("avg_bit_rate", "avg.bitRateHour"),
            ("avg_gop_byte_size", "avg.gopByteSize"),
            ("avg_gop_duration", "avg.gopDuration"),
            ("avg_gop_upload_time", "avg.gopUploadTime"),
            ("avg_upload_duration_ratio", "avg.uploadDurationRatio"),
        ],
    ),
}
HOURLY_STREAMS = tuple(HOURLY_CONTRACT)
UTC = datetime.timezone.utc

# The tests' clock, read once: a session that crosses midnight UTC keeps one "today". Stand-ins
# (conftest) and in-process taps (sync) use it. A tap run as a process reads the real clock,
# which is never earlier: its retention floor is never below the stand-in's.
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def utc_today() -> datetime.date:
    """The tests' today (UTC), as the stand-ins and in-process taps see it."""
    return TODAY


def days_ago(n: int) -> datetime.date:
    """The UTC date n days before the tests' today."""
    return TODAY - datetime.timedelta(days=n)


Contract = tuple[str, list[tuple[str, str]], list[tuple[str, str]]]


def _records(
    contract: Contract,
    time: tuple[str, str],
    accounts: Iterable[str],
    groups_of: Callable[[str, str, list[str]], Iterable[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The records of a contract's stream from the stand-in's groups of each account.

    `time` is (GraphQL time dimension, column); `groups_of(account, node, fields)` gives the
    stand-in's exact groups.
    """
    node, dimensions, metrics = contract
    time_field, time_column = time
    fields = [time_field, *(f for _, f in dimensions)]
    records = []
    for account in accounts:
        for group in groups_of(account, node, fields):
            record = {"account_id": account, time_column: group["dimensions"][time_field]}
            record.update({column: group["dimensions"][f] for column, f in dimensions})
            record.update({column: _metric(group, path) for column, path in metrics})
            records.append(record)
    return records


def _key(contract: Contract, time_column: str, record: dict[str, Any]) -> tuple[Any, ...]:
    _, dimensions, _ = contract
    return (record["account_id"], record[time_column], *(record[c] for c, _ in dimensions))


def expected_hourly(
    config: StandinConfig,
    stream: str,
    accounts: Iterable[str],
    start: datetime.datetime,
    end: datetime.datetime,
) -> list[dict[str, Any]]:
    """The records an hourly stream must emit for the hours in [start, end), sorted by key."""
    paths = [p for _, p in HOURLY_CONTRACT[stream][2]]
    return _records(
        HOURLY_CONTRACT[stream],
        ("datetimeHour", "datetime_hour"),
        accounts,
        lambda account, node, fields: exact_hourly_rows(
            config, account, node, fields, start, end, paths
        ),
    )


def hourly_key(stream: str, record: dict[str, Any]) -> tuple[Any, ...]:
    """An hourly record's primary key."""
    return _key(HOURLY_CONTRACT[stream], "datetime_hour", record)


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
    return _records(
        CONTRACT[stream],
        ("date", "date"),
        accounts,
        lambda account, node, fields: exact_rows(config, account, node, fields, first, last),
    )


def key(stream: str, record: dict[str, Any]) -> tuple[Any, ...]:
    """A record's primary key."""
    return _key(CONTRACT[stream], "date", record)


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


def catalog_for(config: dict[str, Any], streams: Iterable[str]) -> dict[str, Any]:
    """The tap's catalog with only `streams` selected."""
    wanted = set(streams)
    catalog: dict[str, Any] = json.loads(
        json.dumps(TapCloudflareStream(config=config, validate_config=False).catalog_dict)
    )
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return catalog


def sync(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    streams: Iterable[str] = STREAMS,
    clock: Callable[[], datetime.datetime] = lambda: NOW,
) -> SyncResult:
    """Run a sync in-process (of `streams`, unless a catalog is given) on the tests' clock."""
    result, error = sync_to_the_end(config, state, catalog, streams, clock)
    if error is not None:
        raise error
    return result


def sync_to_the_end(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    streams: Iterable[str] = STREAMS,
    clock: Callable[[], datetime.datetime] = lambda: NOW,
) -> tuple[SyncResult, Exception | None]:
    """`sync`, returning what the run wrote and the error it ended with (None: it succeeded)."""
    if catalog is None:
        catalog = catalog_for(config, streams)
    tap = TapCloudflareStream(config=config, state=state, catalog=catalog, validate_config=True)
    tap.parts.clock = clock
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: Exception | None = None
    with contextlib.redirect_stdout(stdout):
        try:
            tap.sync_all()
        except Exception as exc:  # returned: the caller asserts on it
            error = exc
    stdout.seek(0)
    messages = [json.loads(line) for line in stdout.read().splitlines() if line.strip()]
    records: dict[str, list[dict[str, Any]]] = {s: [] for s in (*STREAMS, *HOURLY_STREAMS)}
    for message in messages:
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return SyncResult(records=records, states=states, messages=messages), error


def bookmarks(state: dict[str, Any], stream: str) -> dict[str, str]:
    """The date bookmark of each account partition of a stream."""
    partitions = state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
    return {p["context"]["account_id"]: p.get("replication_key_value") for p in partitions}

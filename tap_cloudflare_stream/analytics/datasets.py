"""One declaration per Stream dataset: it drives the query, the schema, the seek key and paging."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

JsonType = Literal["string", "integer", "number"]  # names of cloudflare.columns
Block = Literal["sum", "avg", "uniq", "quantiles"]
# The aggregate blocks a query may select, in the order queries and decoders list them.
BLOCKS: tuple[Block, ...] = ("sum", "avg", "uniq", "quantiles")


@dataclass(frozen=True)
class Dimension:
    """A grouped field: a GraphQL dimension and the column it lands in."""

    column: str
    field: str
    json_type: JsonType = "string"


@dataclass(frozen=True)
class Metric:
    """An aggregate: `block` is None for `count`, else the block it is read from."""

    column: str
    field: str
    block: Block | None = None
    json_type: JsonType = "integer"
    unit: str | None = None  # what the schema's description names, e.g. "kbps"


@dataclass(frozen=True)
class TimeKey:
    """The time dimension a dataset is grouped by: first in its seek key, its replication key.

    `step` is its grain (a day or an hour): windows, the retention floor and bookmarks are
    whole steps. Days are filtered `_geq`/`_leq` on dates, hours `_geq`/`_lt` on RFC 3339 times.
    """

    column: str
    field: str
    description: str
    json_format: Literal["date", "date-time"]
    step: datetime.timedelta

    def render(self, moment: datetime.datetime) -> str:
        """The value as Cloudflare prints it (and the bookmark holds it): a date or a UTC time."""
        if self.json_format == "date":
            return moment.date().isoformat()
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def bounds(self, start: datetime.datetime, end: datetime.datetime) -> dict[str, str]:
        """The filter for the steps in [start, end)."""
        if self.json_format == "date":
            last = end - self.step
            return {f"{self.field}_geq": self.render(start), f"{self.field}_leq": self.render(last)}
        return {f"{self.field}_geq": self.render(start), f"{self.field}_lt": self.render(end)}


DAY = TimeKey("date", "date", "Day of the events (UTC).", "date", datetime.timedelta(days=1))
HOUR = TimeKey(
    "datetime_hour",
    "datetimeHour",
    "Start of the UTC hour of the events.",
    "date-time",
    datetime.timedelta(hours=1),
)


@dataclass(frozen=True)
class Dataset:
    """A Stream dataset read at its finest grain: one row per account, time and dimension key."""

    stream_name: str
    node: str
    dimensions: tuple[Dimension, ...]
    metrics: tuple[Metric, ...]
    description: str
    time_key: TimeKey = DAY

    @property
    def type_prefix(self) -> str:
        """The schema's type-name prefix, e.g. AccountVideoPlaybackEventsAdaptiveGroups."""
        return "Account" + self.node[0].upper() + self.node[1:]

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The GraphQL fields of the seek key, in sort order: time first, then the dimensions."""
        return (self.time_key.field, *(d.field for d in self.dimensions))

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The stream's primary key columns."""
        return ("account_id", self.time_key.column, *(d.column for d in self.dimensions))

    @property
    def field_count(self) -> int:
        """How many fields a page query selects (Cloudflare's maxNumberOfFields counts them)."""
        return len(self.key_fields) + len(self.metrics)


_PLAYER_DIMENSIONS = (
    Dimension("uid", "uid"),
    Dimension("client_country_name", "clientCountryName"),
    Dimension("device_type", "deviceType"),
    Dimension("device_os", "deviceOs"),
    Dimension("device_browser", "deviceBrowser"),
)
_SAMPLE_INTERVAL = Metric("sample_interval", "sampleInterval", "avg", "number")

_DAILY: tuple[Dataset, ...] = (
    Dataset(
        stream_name="video_playback_events",
        node="videoPlaybackEventsAdaptiveGroups",
        dimensions=_PLAYER_DIMENSIONS,
        metrics=(
            Metric("views", "count"),
            Metric("time_viewed_minutes", "timeViewedMinutes", "sum"),
            _SAMPLE_INTERVAL,
        ),
        description="Stream Player playback starts (views) and minutes watched, per day (Beta).",
    ),
    Dataset(
        stream_name="minutes_viewed",
        node="streamMinutesViewedAdaptiveGroups",
        dimensions=(
            Dimension("uid", "uid"),
            Dimension("client_country_name", "clientCountryName"),
            Dimension("media_type", "mediaType"),
            Dimension("creator", "creator"),
        ),
        metrics=(
            Metric("minutes_viewed", "minutesViewed", "sum"),
            Metric("events", "count"),
        ),
        description="Server-side minutes viewed from edge logs, as billed, per day.",
    ),
    Dataset(
        stream_name="video_buffer_events",
        node="videoBufferEventsAdaptiveGroups",
        dimensions=_PLAYER_DIMENSIONS,
        metrics=(Metric("buffer_events", "count"), _SAMPLE_INTERVAL),
        description="Stream Player buffering events, per day (Beta).",
    ),
    Dataset(
        stream_name="video_quality_events",
        node="videoQualityEventsAdaptiveGroups",
        dimensions=(
            *_PLAYER_DIMENSIONS,
            Dimension("quality_resolution", "qualityResolution", "integer"),
        ),
        metrics=(Metric("quality_changes", "count"), _SAMPLE_INTERVAL),
        description="Stream Player quality-level changes, per day (Beta).",
    ),
)


# Units of the CMCD values: the durations as Cloudflare's schema describes them; bitrate and
# throughput as CMCD defines `br` and `mtp` (CTA-5004), which is what Cloudflare sends (its
# schema types them uint16: bits per second would not fit).
_UNITS = {
    "bufferStarvationDuration": "milliseconds",
    "initialBufferStarvationDuration": "milliseconds",
    "encodedBitrate": "kbps (kilobits per second)",
    "measuredThroughput": "kbps (kilobits per second)",
}


def _avg(*names: str) -> tuple[Metric, ...]:
    return tuple(Metric(f"avg_{_snake(n)}", n, "avg", "number", _UNITS.get(n)) for n in names)


def _quantiles(*names: str) -> tuple[Metric, ...]:
    return tuple(
        Metric(f"{_snake(n)}_p{p}", f"{n}P{p}", "quantiles", "number", _UNITS.get(n))
        for n in names
        for p in (50, 90, 99)
    )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# Hour-grained datasets (no `date`): read by `datetimeHour`. `uniq` and `quantiles` values are
# not additive: they hold for the hour and key they were read at.
_HOURLY: tuple[Dataset, ...] = (
    Dataset(
        stream_name="cmcd_hourly",
        node="streamCMCDAdaptiveGroups",
        time_key=HOUR,
        dimensions=(
            Dimension("video_id", "videoId"),
            Dimension("country", "country"),
            Dimension("stream_type", "streamType"),
            Dimension("streaming_format", "streamingFormat"),
        ),
        metrics=(
            Metric("requests", "count"),
            Metric("milliseconds_viewed", "millisecondsViewed", "sum"),
            Metric("viewers", "viewers", "uniq"),
            *_avg(
                "bufferLength",
                "bufferStarvationDuration",
                "encodedBitrate",
                "initialBufferStarvationDuration",
                "measuredThroughput",
            ),
            *_quantiles("bufferStarvationDuration", "initialBufferStarvationDuration"),
        ),
        description="CMCD requests players sent, per UTC hour; viewers and percentiles are "
        "for that hour and key only (not additive).",
    ),
    Dataset(
        stream_name="live_input_events_hourly",
        node="liveInputEventsAdaptiveGroups",
        time_key=HOUR,
        dimensions=(Dimension("input_id", "inputId"), Dimension("event_code", "eventCode")),
        metrics=(
            Metric("segments", "count"),
            Metric("avg_bit_rate", "bitRateHour", "avg", "number"),
            *_avg("gopByteSize", "gopDuration", "gopUploadTime", "uploadDurationRatio"),
        ),
        description="Live input ingest health (segments stored), per UTC hour.",
    ),
)
DATASETS: tuple[Dataset, ...] = (*_DAILY, *_HOURLY)

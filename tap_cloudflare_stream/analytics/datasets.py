"""One declaration per Stream dataset: it drives the query, the schema, the seek key and paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

JsonType = Literal["string", "integer", "number"]


@dataclass(frozen=True)
class Dimension:
    """A grouped field: a GraphQL dimension and the column it lands in."""

    column: str
    field: str
    json_type: JsonType = "string"


@dataclass(frozen=True)
class Metric:
    """An aggregate: `block` is None for `count`, else `sum` or `avg`."""

    column: str
    field: str
    block: Literal["sum", "avg"] | None = None
    json_type: JsonType = "integer"


@dataclass(frozen=True)
class TimeKey:
    """The time dimension a dataset is grouped by: first in its seek key, its replication key."""

    field: str
    description: str
    json_format: Literal["date", "date-time"] = "date"


DAY = TimeKey("date", "Day of the events (UTC).")


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
        return ("account_id", self.time_key.field, *(d.column for d in self.dimensions))


_PLAYER_DIMENSIONS = (
    Dimension("uid", "uid"),
    Dimension("client_country_name", "clientCountryName"),
    Dimension("device_type", "deviceType"),
    Dimension("device_os", "deviceOs"),
    Dimension("device_browser", "deviceBrowser"),
)
_SAMPLE_INTERVAL = Metric("sample_interval", "sampleInterval", "avg", "number")

DATASETS: tuple[Dataset, ...] = (
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

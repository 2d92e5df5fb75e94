"""The Stream datasets: their dimensions, metrics and value domains.

`DATASETS` are the four daily datasets served from packed finest rows; `HOURLY_DATASETS` are
the two newer ones without a `date` dimension, served from event-level rows (see events.py).
"""

from __future__ import annotations

from dataclasses import dataclass

# Value domains, each sorted in plain str (code point) order so that a value's index orders
# exactly like the value itself: the data store packs rows into integers built from these
# indexes and relies on that to keep its packed keys in the API's sort order.
COUNTRIES: tuple[str, ...] = tuple(
    sorted(
        {
            "",
            "AE", "AR", "AT", "AU", "BD", "BE", "BG", "BR", "CA", "CH", "CL", "CN", "CO", "CZ",
            "DE", "DK", "EG", "ES", "FI", "FR", "GB", "GR", "HK", "HU", "ID", "IE", "IL", "IN",
            "IT", "JP", "KE", "KR", "MA", "MX", "MY", "NG", "NL", "NO", "NZ", "PE", "PH", "PK",
            "PL", "PT", "RO", "RS", "RU", "SA", "SE", "SG", "T1", "TH", "TR", "TW", "UA", "US",
            "VN", "XX", "ZA",
        }
    )
)  # fmt: skip
DEVICE_TYPES: tuple[str, ...] = tuple(sorted({"", "desktop", "mobile", "smarttv", "tablet"}))
DEVICE_OSES: tuple[str, ...] = tuple(
    sorted({"", "Android", "Chrome OS", "Linux", "Mac OS X", "Windows", "iOS", "tvOS"})
)
DEVICE_BROWSERS: tuple[str, ...] = tuple(
    sorted(
        {
            "", "Chrome", "Chrome Mobile", "Edge", "Firefox", "Mobile Safari", "Opera", "Safari",
            "Samsung Internet",
        }
    )
)  # fmt: skip
QUALITY_RESOLUTIONS: tuple[int, ...] = (144, 240, 360, 480, 720, 1080, 1440, 2160)
MEDIA_TYPES: tuple[str, ...] = ("dash", "hls", "mp4")

# Truncation (seconds) of each datetime dimension; "datetime" itself is the event second.
DATETIME_STEPS: dict[str, int] = {
    "datetime": 1,
    "datetimeMinute": 60,
    "datetimeFiveMinutes": 300,
    "datetimeFifteenMinutes": 900,
    "datetimeHalfOfHour": 1800,
    "datetimeHour": 3600,
    "datetimeSixHours": 21600,
}

_CLIENT_DATETIMES = (
    "datetime",
    "datetimeFifteenMinutes",
    "datetimeFiveMinutes",
    "datetimeHalfOfHour",
    "datetimeHour",
    "datetimeMinute",
)


@dataclass(frozen=True)
class DatasetSpec:
    """What one dataset node offers: grouping dimensions and metric blocks."""

    name: str
    type_prefix: str  # GraphQL type names are type_prefix + "Filter_InputObject", ...
    finest_dimensions: tuple[str, ...]  # one row per day and full key, in the seek order
    datetime_dimensions: tuple[str, ...]
    sum_metrics: tuple[str, ...]  # fields of the `sum` block; empty when there is none
    has_avg: bool  # whether the `avg { sampleInterval }` block exists

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Every dimension the `dimensions` block offers."""
        return self.finest_dimensions + self.datetime_dimensions

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric fields as dotted paths, like availableFields lists them."""
        fields = ["count"]
        fields += [f"sum.{name}" for name in self.sum_metrics]
        if self.has_avg:
            fields.append("avg.sampleInterval")
        return tuple(fields)

    @property
    def available_fields(self) -> tuple[str, ...]:
        """All queryable fields as dotted paths (`count`, `sum.x`, `dimensions.uid`...)."""
        dims = tuple(f"dimensions.{name}" for name in sorted(self.dimensions))
        return tuple(sorted(self.metrics + dims))


_CLIENT_FINEST = ("date", "uid", "clientCountryName", "deviceType", "deviceOs", "deviceBrowser")

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="videoPlaybackEventsAdaptiveGroups",
            type_prefix="AccountVideoPlaybackEventsAdaptiveGroups",
            finest_dimensions=_CLIENT_FINEST,
            datetime_dimensions=_CLIENT_DATETIMES,
            sum_metrics=("timeViewedMinutes",),
            has_avg=True,
        ),
        DatasetSpec(
            name="videoBufferEventsAdaptiveGroups",
            type_prefix="AccountVideoBufferEventsAdaptiveGroups",
            finest_dimensions=_CLIENT_FINEST,
            datetime_dimensions=_CLIENT_DATETIMES,
            sum_metrics=(),
            has_avg=True,
        ),
        DatasetSpec(
            name="videoQualityEventsAdaptiveGroups",
            type_prefix="AccountVideoQualityEventsAdaptiveGroups",
            finest_dimensions=(*_CLIENT_FINEST, "qualityResolution"),
            datetime_dimensions=_CLIENT_DATETIMES,
            sum_metrics=(),
            has_avg=True,
        ),
        DatasetSpec(
            name="streamMinutesViewedAdaptiveGroups",
            type_prefix="AccountStreamMinutesViewedAdaptiveGroups",
            finest_dimensions=("date", "uid", "clientCountryName", "mediaType", "creator"),
            datetime_dimensions=(
                "datetime",
                "datetimeFifteenMinutes",
                "datetimeFiveMinutes",
                "datetimeHour",
                "datetimeMinute",
            ),
            sum_metrics=("minutesViewed",),
            has_avg=False,
        ),
    )
}


# --- the hourly (event-level) datasets ---------------------------------------------------

# Aggregates the stand-in computes, by metric block; `metric_fields` maps each dotted field to
# (aggregate, event column). Aggregates: count, sum, avg (mean of the column), uniq (distinct
# values), pN (nearest-rank percentile), max, min, rate_hour (sum x 8 / 3600, see README).
HOURLY_BLOCKS = ("sum", "avg", "uniq", "quantiles", "max", "min")


@dataclass(frozen=True)
class HourlySpec:
    """One event-level dataset: dimensions served, metric fields and how each is computed."""

    name: str
    type_prefix: str
    key_dimensions: tuple[str, ...]  # served non-time dimensions, each an event column
    datetime_dimensions: tuple[str, ...]
    metric_fields: tuple[tuple[str, str, str], ...]  # (dotted field, aggregate, event column)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Every dimension the stand-in serves for this dataset."""
        return self.key_dimensions + self.datetime_dimensions

    @property
    def metrics(self) -> dict[str, tuple[str, str]]:
        """Dotted metric field -> (aggregate, event column)."""
        return {field: (aggregate, column) for field, aggregate, column in self.metric_fields}

    @property
    def available_fields(self) -> tuple[str, ...]:
        """Served fields as dotted paths, like availableFields lists them."""
        dims = tuple(f"dimensions.{name}" for name in self.dimensions)
        return tuple(sorted((*self.metrics, *dims)))


def _quantiles(column: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((f"quantiles.{column}P{p}", f"p{p}", column) for p in (50, 75, 90, 99))


HOURLY_DATASETS: dict[str, HourlySpec] = {
    spec.name: spec
    for spec in (
        HourlySpec(
            name="streamCMCDAdaptiveGroups",
            type_prefix="AccountStreamCMCDAdaptiveGroups",
            key_dimensions=("videoId", "country", "streamType", "streamingFormat"),
            datetime_dimensions=(
                "datetime",
                "datetimeMinute",
                "datetimeFiveMinutes",
                "datetimeFifteenMinutes",
                "datetimeHour",
                "datetimeSixHours",
            ),
            metric_fields=(
                ("count", "count", ""),
                ("sum.millisecondsViewed", "sum", "millisecondsViewed"),
                ("uniq.viewers", "uniq", "viewer"),
                *(
                    (f"avg.{column}", "avg", column)
                    for column in (
                        "bufferLength",
                        "bufferStarvationDuration",
                        "encodedBitrate",
                        "initialBufferStarvationDuration",
                        "measuredThroughput",
                    )
                ),
                *_quantiles("bufferStarvationDuration"),
                *_quantiles("initialBufferStarvationDuration"),
                ("max.latestDatetime", "max", "datetime"),
            ),
        ),
        HourlySpec(
            name="liveInputEventsAdaptiveGroups",
            type_prefix="AccountLiveInputEventsAdaptiveGroups",
            key_dimensions=("inputId", "eventCode"),
            datetime_dimensions=(
                "datetime",
                "datetimeMinute",
                "datetimeFiveMinutes",
                "datetimeFifteenMinutes",
                "datetimeHour",
            ),
            metric_fields=(
                ("count", "count", ""),
                ("avg.bitRate", "avg", "bitRate"),
                ("avg.bitRateHour", "rate_hour", "gopByteSize"),
                *(
                    (f"{block}.{column}", block, column)
                    for block in ("avg", "max", "min")
                    for column in (
                        "gopByteSize",
                        "gopDuration",
                        "gopUploadTime",
                        "uploadDurationRatio",
                    )
                ),
            ),
        ),
    )
}

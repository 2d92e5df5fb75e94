"""The hour-grained datasets' truth at a model's grain, added up from the generated events.

Tests compare modeled tables with these totals. They are computed from the events themselves
(`events.hourly_events`, from the store the server answers from), never from the API's groups, so a
model that combines the API's averages wrongly does not agree with them by construction.
Every total covers the events in [start, end) that happened before the server's "now".
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from .config import StandinConfig
from .events import CMCD, LIVE, hourly_events

UTC = datetime.timezone.utc
Period = Literal["hour", "day"]


@dataclass
class DeliveryTotals:
    """CMCD requests of one video in one period: counts, sums, and sums of per-request values."""

    requests: int = 0
    milliseconds_viewed: int = 0
    buffer_starvation_milliseconds: int = 0
    initial_buffer_starvation_milliseconds: int = 0
    encoded_bitrate_kbps_sum: int = 0
    measured_throughput_kbps_sum: int = 0

    @property
    def avg_encoded_bitrate_kbps(self) -> float:
        """Mean encodedBitrate of the requests (kbps)."""
        return self.encoded_bitrate_kbps_sum / self.requests

    @property
    def avg_measured_throughput_kbps(self) -> float:
        """Mean measuredThroughput of the requests (kbps)."""
        return self.measured_throughput_kbps_sum / self.requests

    @property
    def avg_startup_milliseconds(self) -> float:
        """Mean initialBufferStarvationDuration of the requests (ms; 0 after a session's start)."""
        return self.initial_buffer_starvation_milliseconds / self.requests


@dataclass
class LiveInputTotals:
    """Stored segments of one live input in one hour, every event code together."""

    segments: int = 0
    bytes: float = 0.0
    gop_duration_sum: float = 0.0
    gop_upload_time_sum: float = 0.0
    upload_duration_ratio_sum: float = 0.0

    @property
    def bit_rate_bps(self) -> float:
        """Bits stored over the hour's 3,600 seconds (off-air time counts as none)."""
        return self.bytes * 8 / 3600

    @property
    def avg_gop_duration(self) -> float:
        """Mean gopDuration of the segments."""
        return self.gop_duration_sum / self.segments

    @property
    def avg_gop_upload_time(self) -> float:
        """Mean gopUploadTime of the segments."""
        return self.gop_upload_time_sum / self.segments

    @property
    def avg_upload_duration_ratio(self) -> float:
        """Mean uploadDurationRatio of the segments."""
        return self.upload_duration_ratio_sum / self.segments


def _period_start(second: int, period: Period) -> datetime.datetime:
    step = 3600 if period == "hour" else 86400
    return datetime.datetime.fromtimestamp(second - second % step, UTC)


def delivery_totals(
    config: StandinConfig,
    account: str,
    start: datetime.datetime,
    end: datetime.datetime,
    period: Period = "hour",
) -> dict[tuple[datetime.datetime, str], DeliveryTotals]:
    """(start of the UTC hour or day, videoId) -> the CMCD requests' totals in [start, end)."""
    out: dict[tuple[datetime.datetime, str], DeliveryTotals] = {}
    for event in hourly_events(config, account, CMCD, start, end):
        key = (_period_start(event["datetime"], period), event["videoId"])
        totals = out.setdefault(key, DeliveryTotals())
        totals.requests += 1
        totals.milliseconds_viewed += event["millisecondsViewed"]
        totals.buffer_starvation_milliseconds += event["bufferStarvationDuration"]
        totals.initial_buffer_starvation_milliseconds += event["initialBufferStarvationDuration"]
        totals.encoded_bitrate_kbps_sum += event["encodedBitrate"]
        totals.measured_throughput_kbps_sum += event["measuredThroughput"]
    return out


def live_input_totals(
    config: StandinConfig, account: str, start: datetime.datetime, end: datetime.datetime
) -> dict[tuple[datetime.datetime, str], LiveInputTotals]:
    """(start of the UTC hour, inputId) -> the stored segments' totals in [start, end)."""
    out: dict[tuple[datetime.datetime, str], LiveInputTotals] = {}
    for event in hourly_events(config, account, LIVE, start, end):
        totals = out.setdefault((_period_start(event["datetime"], "hour"), event["inputId"]),
                                LiveInputTotals())  # fmt: skip
        totals.segments += 1
        totals.bytes += event["gopByteSize"]
        totals.gop_duration_sum += event["gopDuration"]
        totals.gop_upload_time_sum += event["gopUploadTime"]
        totals.upload_duration_ratio_sum += event["uploadDurationRatio"]
    return out

"""Local stand-in of Cloudflare's GraphQL Analytics API for the Stream datasets, and Stream's REST
catalog (videos, live inputs, storage use)."""

from .catalog import expected_live_inputs, expected_storage_usage, expected_videos
from .config import FAULT_KINDS, Fault, HourlySettings, ListingMiss, StandinConfig
from .data import live_input_uids
from .datasets import DATASETS, HOURLY_DATASETS, DatasetSpec, HourlySpec
from .engine import exact_rows
from .events import hourly_events
from .hourly import exact_hourly_rows, nearest_rank
from .server import ENDPOINT, RequestLogEntry, StandinServer
from .truth import DeliveryTotals, LiveInputTotals, delivery_totals, live_input_totals

__all__ = [
    "DATASETS",
    "ENDPOINT",
    "FAULT_KINDS",
    "HOURLY_DATASETS",
    "DatasetSpec",
    "DeliveryTotals",
    "Fault",
    "HourlySettings",
    "HourlySpec",
    "ListingMiss",
    "LiveInputTotals",
    "RequestLogEntry",
    "StandinConfig",
    "StandinServer",
    "delivery_totals",
    "exact_hourly_rows",
    "exact_rows",
    "expected_live_inputs",
    "expected_storage_usage",
    "expected_videos",
    "hourly_events",
    "live_input_totals",
    "live_input_uids",
    "nearest_rank",
]

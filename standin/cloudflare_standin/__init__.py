"""Local stand-in of Cloudflare's GraphQL Analytics API for the Stream datasets, and Stream's REST
catalog (videos, live inputs, storage use)."""

from .catalog import (
    expected_live_inputs,
    expected_storage_usage,
    expected_videos,
    live_input_uids,
)
from .config import FAULT_KINDS, Fault, StandinConfig
from .datasets import DATASETS, DatasetSpec
from .engine import exact_rows
from .server import ENDPOINT, RequestLogEntry, StandinServer

__all__ = [
    "DATASETS",
    "ENDPOINT",
    "FAULT_KINDS",
    "DatasetSpec",
    "Fault",
    "RequestLogEntry",
    "StandinConfig",
    "StandinServer",
    "exact_rows",
    "expected_live_inputs",
    "expected_storage_usage",
    "expected_videos",
    "live_input_uids",
]

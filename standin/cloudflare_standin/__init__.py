"""Local stand-in of Cloudflare's GraphQL Analytics API for the Stream datasets."""

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
]

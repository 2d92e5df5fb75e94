"""Injected faults: which request gets one, and the responses Cloudflare's edge would give."""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .config import Fault, StandinConfig
from .errors import (
    BUSY,
    INTERNAL,
    RATE_LIMITED,
    REST_AUTH,
    REST_BUSY,
    REST_INTERNAL,
    REST_RATE_LIMITED,
    error_body,
    error_entry,
    rest_body,
    rest_error_body,
)

# Faults answered instead of the request (nothing is executed, no budget is spent).
REPLACING = frozenset(
    {
        "500_html", "502_html", "503_html", "429", "429_retry_after", "ratelimit_200", "busy",
        "busy_200", "data_null", "no_account", "internal_200", "success_false",
    }
)  # fmt: skip
# Faults that damage a correct page's rows.
MANGLING = frozenset({"missing_field", "extra_field", "wrong_type", "bad_uid"})
# Faults that damage a correct REST listing (videos, live inputs): its items or its `total`.
LISTING = frozenset({"missing_created", "duplicate_uid", "no_total"})
# Faults on the wire: "drop" and "truncated" (and "slow", which only waits first).
TRANSPORT = frozenset({"drop", "truncated"})

_RANDOM_FAULT_SECONDS = 1.0  # `seconds` of a random "slow" or "429_retry_after"

_HTML_TITLES = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}


class FaultPlanner:
    """Decides each request's fault: scripted ones first, then seeded random ones."""

    def __init__(self) -> None:
        self._per_dataset: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget per-dataset request counts."""
        with self._lock:
            self._per_dataset.clear()

    def decide(self, config: StandinConfig, number: int, dataset: str | None) -> Fault | None:
        """The fault for request `number` (1-based over all POSTs) querying `dataset`."""
        dataset_number = 0
        if dataset is not None:
            with self._lock:
                self._per_dataset[dataset] += 1
                dataset_number = self._per_dataset[dataset]
        for fault in config.faults:
            if fault.dataset is None and number in fault.at:
                return fault
            if (
                fault.dataset is not None
                and fault.dataset == dataset
                and dataset_number in fault.at
            ):
                return fault
        if config.fault_probability > 0 and config.fault_kinds:
            # Seeded by request number, so concurrency never changes which request gets what.
            rng = random.Random(f"{config.fault_seed}:{number}")
            if rng.random() < config.fault_probability:
                return Fault(rng.choice(config.fault_kinds), seconds=_RANDOM_FAULT_SECONDS)
        return None


@dataclass
class FaultResponse:
    """A complete response standing in for the real one."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)


def _html_page(status: int) -> str:
    """An error page in the style of Cloudflare's edge (HTML, not JSON)."""
    title = _HTML_TITLES[status]
    return (
        '<!DOCTYPE html>\n<html lang="en-US">\n<head>\n'
        f"<title>api.cloudflare.com | {status}: {title}</title>\n"
        '<meta charset="UTF-8" />\n</head>\n<body>\n<div id="cf-wrapper">\n'
        f'<h1><span class="cf-error-type">Error</span> <span class="code-label">'
        f"Error code {status}</span></h1>\n"
        f'<h2 class="cf-subheadline">{title}</h2>\n'
        '<p>Visit <a href="https://www.cloudflare.com/">cloudflare.com</a> for more '
        "information.</p>\n"
        '<span class="cf-footer-item">Cloudflare Ray ID: <strong>8f1e2d3c4b5a6978</strong>'
        "</span>\n</div>\n</body>\n</html>\n"
    )


def replacing_response(fault: Fault) -> FaultResponse:
    """The response a replacing fault answers."""
    kind = fault.kind
    if kind.endswith("_html"):
        return FaultResponse(int(kind[:3]), _html_page(int(kind[:3])))
    if kind == "429":
        return FaultResponse(429, error_body(RATE_LIMITED))
    if kind == "429_retry_after":
        retry = str(max(0, math.ceil(fault.seconds)))
        return FaultResponse(429, error_body(RATE_LIMITED), {"Retry-After": retry})
    if kind == "ratelimit_200":
        return FaultResponse(200, error_body(RATE_LIMITED))
    if kind == "busy":
        return FaultResponse(503, error_body(BUSY))
    if kind == "busy_200":
        return FaultResponse(200, error_body(BUSY))
    if kind == "data_null":
        return FaultResponse(200, {"data": None, "errors": None})
    if kind == "no_account":
        return FaultResponse(200, {"data": {"viewer": {"accounts": []}}, "errors": None})
    if kind in ("internal_200", "success_false"):
        return FaultResponse(200, {"data": None, "errors": [error_entry(INTERNAL)]})
    raise ValueError(f"{kind} is not a replacing fault")


def rest_replacing_response(fault: Fault) -> FaultResponse:
    """The response a replacing fault answers to a REST request (Cloudflare's v4 envelope)."""
    kind = fault.kind
    if kind.endswith("_html"):
        return FaultResponse(int(kind[:3]), _html_page(int(kind[:3])))
    if kind in ("429", "429_retry_after", "ratelimit_200"):
        status = 200 if kind == "ratelimit_200" else 429
        headers = {}
        if kind == "429_retry_after":
            headers["Retry-After"] = str(max(0, math.ceil(fault.seconds)))
        return FaultResponse(status, rest_error_body(*REST_RATE_LIMITED), headers)
    if kind in ("busy", "busy_200"):
        return FaultResponse(503 if kind == "busy" else 200, rest_error_body(*REST_BUSY))
    if kind == "data_null":
        return FaultResponse(200, rest_body(None))
    if kind == "no_account":
        return FaultResponse(403, rest_error_body(*REST_AUTH))
    if kind in ("internal_200", "success_false"):
        return FaultResponse(200, rest_error_body(*REST_INTERNAL))
    raise ValueError(f"{kind} is not a replacing fault")


def mangle_items(kind: str, items: list[dict[str, Any]], key: str) -> None:
    """Damage a correct REST result's items in place; `key` is the field the fault targets."""
    if not items:
        return
    first = items[0]
    if kind == "missing_field":
        first.pop(key, None)
    elif kind == "extra_field":
        for item in items:
            item["unexpected"] = 1
    elif kind == "wrong_type":
        first[key] = 12345 if isinstance(first.get(key), str) else "abc"
    elif kind == "bad_uid" and "uid" in first:
        first["uid"] = "not-a-uid!"


def mangle_listing(kind: str, body: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Damage a correct listing in place: the first item loses `created`, the middle item comes
    again at the end of the page, or the envelope (or live inputs' result) loses `total`."""
    if kind == "no_total":
        body.pop("total", None)
        if isinstance(body.get("result"), dict):
            body["result"].pop("total", None)
    elif items and kind == "missing_created":
        items[0].pop("created", None)
    elif items and kind == "duplicate_uid":
        items.append(dict(items[len(items) // 2]))


def mangle_rows(kind: str, pages: list[list[dict[str, Any]]]) -> None:
    """Damage correct pages in place as the fault kind says."""
    rows = [row for page in pages for row in page]
    if not rows:
        return
    first = rows[0]
    if kind == "missing_field":
        first.pop("count", None)
    elif kind == "extra_field":
        for row in rows:
            row["unexpected"] = 1
    elif kind == "wrong_type":
        first["count"] = "abc"
    elif kind == "bad_uid":
        dimensions = first.get("dimensions")
        if isinstance(dimensions, dict):
            # the daily datasets' uid, or the hourly datasets' videoId / inputId
            present = [key for key in ("uid", "videoId", "inputId") if key in dimensions]
            dimensions[present[0] if present else "uid"] = "not-a-uid!"

"""Helpers for tests against a stand-in: example setup, query builders, HTTP helpers, fake clock,
and the REST catalog's GET helper and test hooks (`rest_get`, `admin`)."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .config import StandinConfig
from .datasets import DATASETS, HOURLY_DATASETS
from .server import StandinServer

if TYPE_CHECKING:
    import requests

ACCOUNT = "0123456789abcdef0123456789abcdef"
OTHER_ACCOUNT = "fedcba9876543210fedcba9876543210"
TOKEN = "test-token-not-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TODAY = datetime.date(2026, 10, 1)

# The tap's query shape for each dataset, from the stand-in's own dataset table.
FINEST = {name: list(spec.finest_dimensions) for name, spec in DATASETS.items()}
METRICS = {
    name: " ".join(
        ["count"]
        + ([f"sum {{ {' '.join(spec.sum_metrics)} }}"] if spec.sum_metrics else [])
        + (["avg { sampleInterval }"] if spec.has_avg else [])
    )
    for name, spec in DATASETS.items()
}
TYPE_PREFIX = {name: spec.type_prefix for name, spec in DATASETS.items()}
_SETTINGS_FIELDS = "enabled maxDuration maxPageSize maxNumberOfFields notOlderThan availableFields"
SETTINGS_QUERY = (
    "query Settings($accountTag: string!) { viewer { accounts(filter: {accountTag: $accountTag})"
    " { settings { "
    + " ".join(f"{name} {{ {_SETTINGS_FIELDS} }}" for name in (*DATASETS, *HOURLY_DATASETS))
    + " } } } }"
)


def dataset_query(
    dataset: str, dimensions: list[str] | None = None, metrics: str | None = None
) -> str:
    """The tap's query shape for a dataset, with variables only."""
    prefix = TYPE_PREFIX[dataset]
    dims = FINEST[dataset] if dimensions is None else dimensions
    selection = METRICS[dataset] if metrics is None else metrics
    block = f"dimensions {{ {' '.join(dims)} }}" if dims else ""
    return (
        f"query CloudflareStream($accountTag: string!, $filter: {prefix}Filter_InputObject!, "
        f"$limit: uint64!, $orderBy: [{prefix}OrderBy!]) {{ viewer {{ accounts(filter: "
        f"{{accountTag: $accountTag}}) {{ {dataset}(filter: $filter, limit: $limit, "
        f"orderBy: $orderBy) {{ {selection} {block} }} }} }} }}"
    )


def variables(flt: dict[str, Any], limit: int = 10000, order: list[str] | None = None,
              account: str = ACCOUNT) -> dict[str, Any]:  # fmt: skip
    """Variables of a dataset query."""
    out: dict[str, Any] = {"accountTag": account, "filter": flt, "limit": limit}
    if order is not None:
        out["orderBy"] = order
    return out


def post(url: str, query: str, variables: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:  # fmt: skip
    """POST a GraphQL request with the test token unless headers say otherwise."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    import requests  # only tests need it; not a dependency of the stand-in

    return requests.post(url, json=body, headers=AUTH if headers is None else headers,
                         timeout=kwargs.pop("timeout", 30), **kwargs)  # fmt: skip


def rows_of(response: requests.Response, dataset: str) -> list[dict[str, Any]]:
    """The dataset node's rows of a successful response."""
    body = response.json()
    assert response.status_code == 200, body
    assert body["errors"] is None, body
    rows: list[dict[str, Any]] = body["data"]["viewer"]["accounts"][0][dataset]
    return rows


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def base_config(**overrides: Any) -> StandinConfig:
    """A small, fast configuration with one token reading every account."""
    settings: dict[str, Any] = {
        "accounts": [ACCOUNT, OTHER_ACCOUNT],
        "today": TODAY,
        "tokens": {TOKEN: None},
        "rows_per_day": 120,
        "videos": 12,
        "rate_limit_queries": None,
        "rest_rate_limit_requests": None,
    }
    settings.update(overrides)
    return StandinConfig(**settings)


@contextmanager
def running(config: StandinConfig) -> Iterator[StandinServer]:
    """A started server for the duration of a with block."""
    server = StandinServer(config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def rest_get(
    server: StandinServer | str,
    path: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> requests.Response:
    """GET a REST path under /client/v4 (e.g. f"accounts/{ACCOUNT}/stream") with the test token.

    `server` is a StandinServer or any URL of one (e.g. the GraphQL URL a process prints).
    """
    import requests  # only tests need it; not a dependency of the stand-in

    if isinstance(server, StandinServer):
        base = server.rest_url
    else:
        parts = urllib.parse.urlsplit(server)
        base = f"{parts.scheme}://{parts.netloc}/client/v4"
    return requests.get(f"{base}/{path.lstrip('/')}", params=params,
                        headers=AUTH if headers is None else headers,
                        timeout=kwargs.pop("timeout", 30), **kwargs)  # fmt: skip


def admin(url: str, action: str, **fields: str | bool) -> dict[str, Any]:
    """Call a catalog test hook of a running stand-in (process or in-process) by its URL.

    `url` is any URL of the server (e.g. the GraphQL endpoint the CLI prints); `action` is
    `delete-video` (fields account, uid), `rename-video` (account, uid, name, modified?),
    `delete-live-input` (account, uid) or `change-live-input` (account, uid, name?, enabled?,
    modified?).
    Raises RuntimeError with the server's message when it refuses.
    """
    parts = urllib.parse.urlsplit(url)
    request = urllib.request.Request(
        f"{parts.scheme}://{parts.netloc}/__standin/{action}",
        data=json.dumps(fields).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(json.loads(exc.read()).get("error", str(exc))) from None
    return answer


def seek_filter(
    dimensions: list[str], start: str, end: str, last: dict[str, Any] | None
) -> dict[str, Any]:
    """Window bounds plus an OR of seek prefixes strictly after `last` (a row's dimensions)."""
    flt: dict[str, Any] = {"date_geq": start, "date_leq": end}
    if last is not None:
        branches = []
        for depth, name in enumerate(dimensions):
            branch = {prior: last[prior] for prior in dimensions[:depth]}
            branch[f"{name}_gt"] = last[name]
            branches.append(branch)
        flt["OR"] = branches
    return flt


# The tap's hourly streams (issue 11): dimensions and metric selections, from the table.
CMCD = "streamCMCDAdaptiveGroups"
LIVE = "liveInputEventsAdaptiveGroups"
HOURLY_DIMENSIONS = {
    CMCD: ["datetimeHour", "videoId", "country", "streamType", "streamingFormat"],
    LIVE: ["datetimeHour", "inputId", "eventCode"],
}
HOURLY_METRICS = {
    CMCD: "count sum { millisecondsViewed } uniq { viewers } avg { bufferLength "
    "bufferStarvationDuration encodedBitrate initialBufferStarvationDuration measuredThroughput }"
    " quantiles { bufferStarvationDurationP50 bufferStarvationDurationP90 "
    "bufferStarvationDurationP99 initialBufferStarvationDurationP50 "
    "initialBufferStarvationDurationP90 initialBufferStarvationDurationP99 }",
    LIVE: "count avg { bitRateHour gopByteSize gopDuration gopUploadTime uploadDurationRatio }",
}
# The same selections as dotted fields (for exact_hourly_rows).
HOURLY_FIELDS = {
    CMCD: ["count", "sum.millisecondsViewed", "uniq.viewers"]
    + [f"avg.{name}" for name in ("bufferLength", "bufferStarvationDuration", "encodedBitrate",
                                   "initialBufferStarvationDuration", "measuredThroughput")]
    + [f"quantiles.{name}P{p}" for name in ("bufferStarvationDuration",
                                             "initialBufferStarvationDuration")
       for p in (50, 90, 99)],
    LIVE: ["count", "avg.bitRateHour"]
    + [f"avg.{name}" for name in ("gopByteSize", "gopDuration", "gopUploadTime",
                                   "uploadDurationRatio")],
}  # fmt: skip


def hourly_query(dataset: str, dimensions: list[str] | None = None,
                 metrics: str | None = None) -> str:  # fmt: skip
    """The hourly streams' query shape for a dataset, with variables only."""
    prefix = HOURLY_DATASETS[dataset].type_prefix
    dims = HOURLY_DIMENSIONS[dataset] if dimensions is None else dimensions
    selection = HOURLY_METRICS[dataset] if metrics is None else metrics
    block = f"dimensions {{ {' '.join(dims)} }}" if dims else ""
    return (
        f"query CloudflareStream($accountTag: string!, $filter: {prefix}Filter_InputObject!, "
        f"$limit: uint64!, $orderBy: [{prefix}OrderBy!]) {{ viewer {{ accounts(filter: "
        f"{{accountTag: $accountTag}}) {{ {dataset}(filter: $filter, limit: $limit, "
        f"orderBy: $orderBy) {{ {selection} {block} }} }} }} }}"
    )


def rfc3339(moment: datetime.datetime) -> str:
    """A UTC datetime as the API prints Time values."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hourly_seek_filter(
    dimensions: list[str], start: datetime.datetime, end: datetime.datetime,
    last: dict[str, Any] | None,
) -> dict[str, Any]:  # fmt: skip
    """Window [start, end) on datetimeHour plus an OR of seek prefixes strictly after `last`."""
    flt: dict[str, Any] = {"datetimeHour_geq": rfc3339(start), "datetimeHour_lt": rfc3339(end)}
    if last is not None:
        branches = []
        for depth, name in enumerate(dimensions):
            branch = {prior: last[prior] for prior in dimensions[:depth]}
            branch[f"{name}_gt"] = last[name]
            branches.append(branch)
        flt["OR"] = branches
    return flt

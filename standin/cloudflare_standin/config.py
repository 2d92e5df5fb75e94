"""Configuration of a stand-in server: data, credentials, limits, rate limiting, faults."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "500_html",
    "502_html",
    "503_html",
    "429",
    "429_retry_after",
    "ratelimit_200",
    "busy",
    "busy_200",
    "slow",
    "drop",
    "truncated",
    "data_null",
    "no_account",
    "missing_field",
    "extra_field",
    "wrong_type",
    "bad_uid",
    "internal_200",
    "success_false",
    # REST listings only (videos, live inputs): a malformed answer the tap must not trust.
    "missing_created",
    "duplicate_uid",
    "no_total",
)


@dataclass
class Fault:
    """A scripted fault: which requests get it and how."""

    kind: str
    at: list[int] = field(default_factory=list)  # 1-based request numbers
    # Count and affect only requests for this GraphQL dataset or REST resource (see REST_RESOURCES).
    dataset: str | None = None
    seconds: float = 0.0  # delay for "slow"; Retry-After value for "429_retry_after"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")


@dataclass
class ListingMiss:
    """A listing that leaves `items` out of its pages while its `total` still counts them."""

    items: int
    listings: int | None = None  # only the next this many listings miss them (None: every one)
    under_way: bool = field(default=True, init=False)  # the listing under way misses them


@dataclass(frozen=True)
class Budget:
    """A rate-limit budget: requests per sliding window (None = unlimited), then a lockout."""

    requests: int | None
    window: float
    lockout: float


HOURLY_DATASET_NAMES: tuple[str, ...] = (
    "streamCMCDAdaptiveGroups",
    "liveInputEventsAdaptiveGroups",
)


@dataclass
class HourlySettings:
    """`settings` of one hour-grained dataset, enforced; defaults play every unconfirmed reading.

    maxDuration 6 h (windows shorter than a day), notOlderThan 7 days (shorter than the older
    datasets' 90, and not on an hour boundary relative to a mid-hour "now"), maxPageSize 1000
    (a tap that hard-codes 10000 is refused).
    """

    enabled: bool = True  # False: every account answers enabled: false
    max_duration: int = 6 * 3600
    max_page_size: int = 1000
    max_number_of_fields: int = 30
    not_older_than: int = 7 * 86400
    available_fields_missing: list[str] = field(default_factory=list)
    no_data_accounts: set[str] = field(default_factory=set)  # enabled, but never any event


def _hourly_defaults() -> dict[str, HourlySettings]:
    return {name: HourlySettings() for name in HOURLY_DATASET_NAMES}


@dataclass
class StandinConfig:
    """Everything a stand-in server answers from; tests may mutate it between requests."""

    accounts: list[str]
    seed: int = 7
    today: datetime.date | None = None  # None = the real UTC date
    history_days: int = 100
    videos: int = 40
    rows_per_day: int = 300
    revision: int = 0
    revised_days: int = 3
    tokens: dict[str, list[str] | None] = field(default_factory=dict)
    api_keys: dict[tuple[str, str], list[str] | None] = field(default_factory=dict)
    max_page_size: int = 10000
    max_duration: int = 31 * 86400
    not_older_than: int = 90 * 86400
    max_number_of_fields: int = 30
    disabled: set[tuple[str, str]] = field(default_factory=set)
    available_fields_missing: dict[str, list[str]] = field(default_factory=dict)
    rate_limit_queries: int | None = 300
    rate_limit_window: float = 300.0
    rate_limit_lockout: float = 300.0
    rate_limit_mode: str = "429"
    rate_limit_retry_after: bool = False
    faults: list[Fault] = field(default_factory=list)
    fault_probability: float = 0.0
    fault_kinds: list[str] = field(default_factory=list)
    fault_seed: int = 0
    clock: Callable[[], float] = time.monotonic
    # Hour-grained datasets (streamCMCD, liveInputEvents): settings and event volumes.
    now: datetime.datetime | None = None  # None: `today` at 12:30 UTC, or the real time
    hourly: dict[str, HourlySettings] = field(default_factory=_hourly_defaults)
    cmcd_sessions_per_hour: int = 12  # mean viewing sessions per account and hour
    cmcd_viewers: int = 30  # distinct viewers per account
    live_inputs: int = 2  # live inputs per account, REST and analytics (data.live_input_uids)
    # Late-arriving hourly events: this share of them reaches the server 1..hourly_late_seconds
    # after it happened (0: every event at once), so an hour grows after it ended.
    hourly_late_seconds: int = 0
    hourly_late_fraction: float = 0.3
    # Query cost (issue 12): a query over more than `heavy_query_seconds` of time, or asking
    # more than `heavy_query_limit` rows, answers 429 `heavy_query_message` (None: no check).
    heavy_query_seconds: int | None = None
    heavy_query_limit: int | None = None
    heavy_query_message: str = "query consumed excessive resources, please try a smaller query"
    # Schema changes (issue 25), as if Cloudflare had retired them: dataset nodes gone from
    # `account` and `settings`, and per dataset the fields gone from its types, named as
    # availableFields names them ("dimensions.deviceBrowser", "sum.timeViewedMinutes", "count").
    # A query naming them fails GraphQL validation (HTTP 400, graphql-core's message).
    retired_datasets: set[str] = field(default_factory=set)
    retired_fields: dict[str, list[str]] = field(default_factory=dict)
    retired_settings_fields: set[str] = field(default_factory=set)  # of `Settings`: "maxDuration"
    retired_nodes: set[str] = field(default_factory=set)  # gone from `account`, kept in settings
    # Additions beyond the agreed interface:
    fast_path: bool = True  # False forces every query through the generic engine (tests)
    # Stream's REST catalog (catalog.py, rest.py):
    catalog_unwatched: int = 3  # library videos that have no analytics
    catalog_gone: int = 2  # analytics videos no longer in the library (deleted before)
    video_bounds: str = "exclusive"  # how `start`/`end` compare: "exclusive" or "inclusive"
    video_created_precision: str = "seconds"  # or "microseconds"
    storage_minutes_limit: int = 1_000_000  # totalStorageMinutesLimit
    analytics_only_tokens: set[str] = field(default_factory=set)  # tokens without Stream: Read
    deleted_videos: set[tuple[str, str]] = field(default_factory=set)  # (account, uid)
    renamed_videos: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # (account, uid) -> (new meta.name, new modified as RFC 3339)
    library_sizes: dict[str, int] = field(default_factory=dict)  # account -> videos in its
    # library (unwatched ones fill it up), instead of the analytics videos + catalog_unwatched
    deleted_live_inputs: set[tuple[str, str]] = field(default_factory=set)  # (account, uid)
    changed_live_inputs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (account, uid) -> {"name": new meta.name, "enabled": bool, "modified": RFC 3339}
    listing_misses: dict[tuple[str, str], ListingMiss] = field(default_factory=dict)
    # (account, "videos" or "live_inputs") -> items its listings leave out (catalog.py)
    rest_rate_limit_requests: int | None = 1200  # REST budget per window and credential
    rest_rate_limit_window: float = 300.0
    rest_rate_limit_lockout: float = 300.0

    def __post_init__(self) -> None:
        if self.video_bounds not in ("exclusive", "inclusive"):
            raise ValueError("video_bounds must be 'exclusive' or 'inclusive'")
        if self.video_created_precision not in ("seconds", "microseconds"):
            raise ValueError("video_created_precision must be 'seconds' or 'microseconds'")

    def graphql_budget(self) -> Budget:
        """The GraphQL query budget."""
        return Budget(self.rate_limit_queries, self.rate_limit_window, self.rate_limit_lockout)

    def rest_budget(self) -> Budget:
        """The REST request budget (separate from GraphQL's)."""
        return Budget(
            self.rest_rate_limit_requests, self.rest_rate_limit_window, self.rest_rate_limit_lockout
        )

    def current_day(self) -> datetime.date:
        """The server's "today" (UTC)."""
        if self.today is not None:
            return self.today
        if self.now is not None:
            return datetime.datetime.fromtimestamp(
                self.current_time(), datetime.timezone.utc
            ).date()
        return datetime.datetime.now(datetime.timezone.utc).date()

    def current_time(self) -> int:
        """The server's "now" in epoch seconds: the hourly datasets have events only before it."""
        if self.now is not None:
            now = self.now  # a naive datetime is taken as UTC
            aware = now if now.tzinfo is not None else now.replace(tzinfo=datetime.timezone.utc)
            return int(aware.timestamp())
        if self.today is not None:
            noon = datetime.datetime.combine(self.today, datetime.time(12, 30))
            return int(noon.replace(tzinfo=datetime.timezone.utc).timestamp())
        return int(time.time())

    def first_data_day(self) -> datetime.date:
        """The oldest day that has data at all (retention aside)."""
        return self.current_day() - datetime.timedelta(days=self.history_days - 1)

    def first_readable_day(self) -> datetime.date:
        """The oldest day a query may reach under `not_older_than`."""
        days = self.not_older_than // 86400
        return self.current_day() - datetime.timedelta(days=days - 1)

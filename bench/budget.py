"""The API budget on a compressed clock: a sync that needs several budgets' worth of queries.

The tap and an in-process stand-in share one simulated clock: the tap's RequestBudget sleeps by
advancing it, and every request takes a varying simulated time in flight (the stand-in sees it
arrive somewhere between the tap sending it and the answer coming back), so hours of pacing run
in seconds. The stand-in enforces Cloudflare's limit (queries per 300 s per credential, then a
5-minute lockout) and logs when each query arrived; the figures come from that log.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import random
import threading
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cloudflare_standin import Fault, StandinConfig, StandinServer
from cloudflare_standin.server import RequestLogEntry

from tap_cloudflare_stream.analytics.datasets import DATASETS
from tap_cloudflare_stream.cloudflare.budget import AccountBudgets, RequestBudget
from tap_cloudflare_stream.cloudflare.session import RetryPolicy
from tap_cloudflare_stream.tap import TapCloudflareStream

ACCOUNTS = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
TOKEN = "budget-token"
RATE_LIMITED = "rate limiter budget depleted"


class SimulatedClock:
    """A monotonic clock that only moves when told: sleeps advance it at once."""

    def __init__(self, max_latency: float, seed: int = 1) -> None:
        self.now = 0.0
        self.max_latency = max_latency
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def time(self) -> float:
        """The current simulated time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Wait by advancing the clock."""
        with self._lock:
            self.now += max(0.0, seconds)

    def in_flight(self) -> float:
        """The stand-in's clock: a request spends a random 0..max_latency s reaching it."""
        with self._lock:
            self.now += self._random.uniform(0.0, self.max_latency)
            return self.now


@dataclass
class BudgetResult:
    """What a compressed-clock sync sent, as the stand-in logged it.

    GraphQL figures (`requests`, `max_in_any_window`) leave out the catalog streams' REST
    requests, which spend from their own budget (1,200 per 5 minutes) and are in `rest_requests`.
    With `account_based`, `max_in_any_window` is the most any one account's budget held.
    """

    budget: int
    window_seconds: float
    accounts: int
    streams: int
    page_size: int | None
    account_based: bool
    requests: int
    data_requests: int
    rest_requests: int
    max_in_any_window: int
    refusals: int
    simulated_seconds: float
    tap_waited_seconds: float
    rows: int
    error: str | None

    @property
    def ok(self) -> bool:
        """No refusal, never more than the budget in any window, and the sync finished."""
        return self.error is None and self.refusals == 0 and self.max_in_any_window <= self.budget

    def as_dict(self) -> dict[str, Any]:
        """The figures, for results.json."""
        return {**asdict(self), "ok": self.ok}


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most requests any `window` seconds hold (Cloudflare forgets one `window` s later)."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def graphql_peak(log: Sequence[RequestLogEntry], window: float, per_account: bool) -> int:
    """The most GraphQL requests in any `window` s: of the user, or of any one account."""
    graphql = [entry for entry in log if entry.kind != "rest"]
    if not per_account:
        return max_in_window([entry.time for entry in graphql], window)
    accounts = {str(entry.variables.get("accountTag")) for entry in graphql}
    return max(
        (
            max_in_window(
                [e.time for e in graphql if str(e.variables.get("accountTag")) == account], window
            )
            for account in accounts
        ),
        default=0,
    )


def select(catalog: dict[str, Any], streams: Collection[str]) -> dict[str, Any]:
    """The catalog with only `streams` selected."""
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def simulate(
    *,
    budget: int = 300,
    window: float = 300.0,
    days: int = 30,
    rows_per_day: int = 40,
    page_size: int | None = 10,
    accounts: Sequence[str] = ACCOUNTS,
    max_latency: float = 0.4,
    streams: Collection[str] | None = None,
    now: datetime.datetime | None = None,
    state: dict[str, Any] | None = None,
    account_based: bool = False,
    settings: dict[str, Any] | None = None,
    faults: Sequence[Fault] = (),
) -> BudgetResult:
    """Sync `streams` (default: every analytics stream) of every account on one token.

    Paced by `requests_per_5_minutes` (per account with `account_based`). `now` fixes the time
    of day for the stand-in and the tap (default: the real time); `state` is the run's input
    state (default: none, so `days` days are read); `settings` adds tap settings.
    """
    clock = SimulatedClock(max_latency)
    config = StandinConfig(
        accounts=list(accounts),
        rows_per_day=rows_per_day,
        videos=12,
        tokens={TOKEN: None},
        rate_limit_queries=budget,
        rate_limit_window=window,
        rate_limit_lockout=300.0,
        clock=clock.in_flight,
        today=None if now is None else now.date(),
        now=now,
        faults=list(faults),
    )
    server = StandinServer(config)
    url = server.start()
    today = config.current_day()
    tap_config: dict[str, Any] = {
        "account_ids": list(accounts),
        "api_token": TOKEN,
        "api_url": url,
        "requests_per_5_minutes": budget,
        "account_based_rate_limit": account_based,
        **(settings or {}),
    }
    if page_size is not None:
        tap_config["page_size"] = page_size
    if state is None:
        tap_config["start_date"] = (today - datetime.timedelta(days=days - 1)).isoformat()
        tap_config["end_date"] = today.isoformat()
    selected = [d.stream_name for d in DATASETS] if streams is None else list(streams)
    # A refusal would be retried after real-time backoff sleeps; fail fast instead: a refusal
    # is the finding, and the log shows it.
    tries, RetryPolicy.MAX_TRIES = RetryPolicy.MAX_TRIES, 1
    error: str | None = None
    paced = RequestBudget(budget, window, clock=clock.time, sleep=clock.sleep)
    per_account = AccountBudgets(budget, window, clock=clock.time, sleep=clock.sleep)
    try:
        catalog = TapCloudflareStream(config=tap_config, validate_config=False).catalog_dict
        tap = TapCloudflareStream(
            config=tap_config,
            catalog=select(catalog, selected),
            state=state,
            validate_config=True,
        )
        if now is not None:
            tap.parts.clock = lambda: now
        # The run's budgets, on the simulated clock: shared, or one per account.
        tap.api.graphql.budget = paced
        if account_based:
            tap.api.graphql.account_budgets = per_account
        with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
            tap.sync_all()
    except Exception as exc:  # reported: a failed run is not ok
        error = f"{type(exc).__name__}: {exc}"
    finally:
        RetryPolicy.MAX_TRIES = tries
        server.stop()
    log = server.request_log
    graphql = [entry for entry in log if entry.kind != "rest"]
    times = [entry.time for entry in log]
    return BudgetResult(
        budget=budget,
        window_seconds=window,
        accounts=len(accounts),
        streams=len(selected),
        page_size=page_size,
        account_based=account_based,
        requests=len(graphql),
        data_requests=sum(1 for entry in graphql if entry.kind == "data"),
        rest_requests=len(log) - len(graphql),
        max_in_any_window=graphql_peak(log, window, account_based),
        refusals=sum(1 for entry in log if _rate_limited(entry.error)),
        simulated_seconds=round(max(times) - min(times), 1) if times else 0.0,
        tap_waited_seconds=round(paced.waited_seconds + per_account.waited_seconds, 1),
        rows=sum(entry.rows for entry in graphql if entry.kind == "data"),
        error=error,
    )


def _rate_limited(error: str | None) -> bool:
    """Whether a logged error is a rate-limit refusal (of the user or of an account)."""
    return error is not None and (RATE_LIMITED in error or "has exceeded its rate limit" in error)


if __name__ == "__main__":
    print(simulate().as_dict())

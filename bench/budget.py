"""The API budget on a compressed clock: a sync that needs several budgets' worth of queries.

The tap and an in-process stand-in share one simulated clock: the tap's RequestBudget sleeps by
advancing it, and every request takes a varying simulated time in flight (the stand-in sees it
arrive somewhere between the tap sending it and the answer coming back), so hours of pacing run
in seconds. The stand-in enforces Cloudflare's limit (queries per 300 s per credential, then a
5-minute lockout) and logs when each query arrived; the figures come from that log.
"""

from __future__ import annotations

import contextlib
import io
import random
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cloudflare_standin import StandinConfig, StandinServer

from tap_cloudflare_stream.analytics.datasets import DATASETS
from tap_cloudflare_stream.cloudflare.budget import RequestBudget
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
    """What a compressed-clock sync sent, as the stand-in logged it."""

    budget: int
    window_seconds: float
    accounts: int
    streams: int
    page_size: int
    requests: int
    data_requests: int
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


def simulate(
    *,
    budget: int = 300,
    window: float = 300.0,
    days: int = 30,
    rows_per_day: int = 40,
    page_size: int = 10,
    accounts: Sequence[str] = ACCOUNTS,
    max_latency: float = 0.4,
) -> BudgetResult:
    """Sync every stream of every account on one token, paced by `requests_per_5_minutes`."""
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
    )
    server = StandinServer(config)
    url = server.start()
    today = config.current_day()
    tap_config = {
        "account_ids": list(accounts),
        "api_token": TOKEN,
        "api_url": url,
        "page_size": page_size,
        "requests_per_5_minutes": budget,
        "start_date": (today.fromordinal(today.toordinal() - days + 1)).isoformat(),
        "end_date": today.isoformat(),
    }
    # A refusal would be retried after real-time backoff sleeps; fail fast instead: a refusal
    # is the finding, and the log shows it.
    tries, RetryPolicy.MAX_TRIES = RetryPolicy.MAX_TRIES, 1
    error: str | None = None
    try:
        tap = TapCloudflareStream(config=tap_config, validate_config=True)
        paced = RequestBudget(budget, window, clock=clock.time, sleep=clock.sleep)
        tap.api.graphql.budget = paced  # the run's shared budget, on the simulated clock
        with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
            tap.sync_all()
    except Exception as exc:  # reported: a failed run is not ok
        error = f"{type(exc).__name__}: {exc}"
    finally:
        RetryPolicy.MAX_TRIES = tries
        server.stop()
    log = server.request_log
    times = [entry.time for entry in log]
    return BudgetResult(
        budget=budget,
        window_seconds=window,
        accounts=len(accounts),
        streams=len(DATASETS),
        page_size=page_size,
        requests=len(log),
        data_requests=sum(1 for entry in log if entry.kind == "data"),
        max_in_any_window=max_in_window(times, window),
        refusals=sum(1 for entry in log if RATE_LIMITED in (entry.error or "")),
        simulated_seconds=round(max(times) - min(times), 1) if times else 0.0,
        tap_waited_seconds=round(paced.waited_seconds, 1),
        rows=sum(entry.rows for entry in log if entry.kind == "data"),
        error=error,
    )


if __name__ == "__main__":
    print(simulate().as_dict())

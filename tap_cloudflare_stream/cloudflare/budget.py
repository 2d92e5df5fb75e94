"""Client-side request budgets: Cloudflare counts requests per user over 5 minutes.

GraphQL Analytics allows 300 queries and the REST API 1,200 requests per 5 minutes per user;
each family of streams spends from its own budget, shared by every stream and account of a run.
With account-based rate limiting (`X-Rate-Limit-Type: account-based`) Cloudflare counts GraphQL
queries per account instead: `AccountBudgets` keeps one budget per account.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator

WINDOW_SECONDS = 300.0
REST_REQUESTS_PER_5_MINUTES = 1200


class RequestBudget:
    """Sliding-window limiter: never more than `limit` requests in any `window` seconds.

    Cloudflare counts queries per user over 5 minutes and locks a client out for 5 minutes once
    the budget is spent, so pacing ourselves is far cheaper than being refused.

    Cloudflare counts a query when it arrives, some time after the tap sent it and before the
    answer came back. A request sent through `request()` is therefore counted from when its
    answer came back: a new request waits until that moment lies a whole window behind it, so
    however long each request was in flight, Cloudflare's window holds no more than `limit`.
    """

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        # One [time] cell per request in the window, restamped when its answer arrives.
        self._sent: collections.deque[list[float]] = collections.deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> list[float]:
        """Block until one more request fits in the budget, then count it from now.

        Returns the request's time cell, for `settle()`.
        """
        if self.limit <= 0:
            return [0.0]
        with self._lock:
            now = self._clock()
            while True:
                while self._sent and self._sent[0][0] + self.window <= now:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    stamp = [now]
                    self._sent.append(stamp)
                    return stamp
                deadline = self._sent[0][0] + self.window
                self.waited_seconds += deadline - now
                self._sleep(deadline - now)
                # A clock that rounds (or a fake one) must not leave us just short of it.
                now = max(self._clock(), deadline)

    def settle(self, stamp: list[float]) -> None:
        """Count an acquired request from now, when its answer (or failure) came back."""
        if self.limit <= 0:
            return
        with self._lock:
            stamp[0] = max(stamp[0], self._clock())

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Acquire for one request, and count it from when it ends."""
        stamp = self.acquire()
        try:
            yield
        finally:
            self.settle(stamp)


class AccountBudgets:
    """One `RequestBudget` of `limit` per account, made on the account's first request."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._budgets: dict[str, RequestBudget] = {}
        self._lock = threading.Lock()

    def of(self, account: str) -> RequestBudget:
        """The account's budget."""
        with self._lock:
            budget = self._budgets.get(account)
            if budget is None:
                budget = RequestBudget(self.limit, self.window, self._clock, self._sleep)
                self._budgets[account] = budget
            return budget

    @property
    def waited_seconds(self) -> float:
        """Seconds every account's budget waited, in all."""
        with self._lock:
            return sum(budget.waited_seconds for budget in self._budgets.values())

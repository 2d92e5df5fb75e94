"""A client-side budget of requests per 5 minutes, shared by every stream and account of a run."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

WINDOW_SECONDS = 300.0


class RequestBudget:
    """Sliding-window limiter: never more than `limit` requests in any `window` seconds.

    Cloudflare counts queries per user over 5 minutes and locks a client out for 5 minutes once
    the budget is spent, so pacing ourselves is far cheaper than being refused.
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
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Block until one more request fits in the budget, then count it."""
        if self.limit <= 0:
            return
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                wait = self._sent[0] + self.window - now
                self.waited_seconds += wait
                self._sleep(wait)

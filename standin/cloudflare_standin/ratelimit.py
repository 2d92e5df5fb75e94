"""Cloudflare's rate limiting: a budget per window and credential, then a lockout.

GraphQL (queries) and REST (requests) each have their own RateLimiter and Budget.
"""

from __future__ import annotations

import threading
from collections import deque

from .config import Budget


class RateLimiter:
    """Sliding-window budget per credential, with a lockout once it is spent."""

    def __init__(self) -> None:
        self._spent: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget every credential's spending and lockout."""
        with self._lock:
            self._spent.clear()
            self._locked_until.clear()

    def lockout_left(self, budget: Budget, credential: str, now: float) -> float | None:
        """Seconds left in the credential's lockout, or None when it may query."""
        if budget.requests is None:
            return None
        with self._lock:
            until = self._locked_until.get(credential)
            if until is None:
                return None
            if now >= until:
                del self._locked_until[credential]
                return None
            return until - now

    def spend(self, budget: Budget, credential: str, now: float, queries: int) -> float | None:
        """Count `queries`; past the budget start a lockout and return its length, else None."""
        if budget.requests is None or queries <= 0:
            return None
        with self._lock:
            spent = self._spent.setdefault(credential, deque())
            while spent and spent[0] <= now - budget.window:
                spent.popleft()
            if len(spent) + queries > budget.requests:
                spent.clear()
                self._locked_until[credential] = now + budget.lockout
                return budget.lockout
            spent.extend([now] * queries)
            return None

    def remaining(self, budget: Budget, credential: str, now: float) -> int:
        """Queries left in the current window (what `viewer.budget` answers)."""
        if budget.requests is None:
            return 2**31
        with self._lock:
            spent = self._spent.get(credential, deque())
            live = sum(1 for moment in spent if moment > now - budget.window)
            return max(0, budget.requests - live)

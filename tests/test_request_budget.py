"""`RequestBudget` and `AccountBudgets` on a fake clock: who waits, how long, from when.

tests/test_budget.py shows whole syncs paced under the stand-in's limit; these pin the window
arithmetic itself, fast enough to run for every mutant of budget.py (docs/mutation.md).
"""

from __future__ import annotations

from tap_cloudflare_stream.cloudflare.budget import (
    REST_REQUESTS_PER_5_MINUTES,
    WINDOW_SECONDS,
    AccountBudgets,
    RequestBudget,
)


class FakeClock:
    """A clock that only moves when slept on (or told to)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def budget(limit: int, clock: FakeClock, window: float = 60.0) -> RequestBudget:
    return RequestBudget(limit, window, clock=clock.time, sleep=clock.sleep)


def test_cloudflares_windows() -> None:
    assert (WINDOW_SECONDS, REST_REQUESTS_PER_5_MINUTES) == (300.0, 1200)
    assert RequestBudget(5).window == 300.0


def test_the_limit_goes_out_at_once_and_the_next_waits_for_the_first_to_leave_the_window() -> None:
    clock = FakeClock()
    limiter = budget(3, clock)
    for _ in range(3):
        limiter.acquire()
    assert clock.sleeps == []
    clock.now += 10.0
    limiter.acquire()
    assert clock.sleeps == [50.0]  # the first went at 1000: it leaves the window at 1060
    assert clock.now == 1060.0
    assert limiter.waited_seconds == 50.0
    limiter.acquire()  # the second and third also went at 1000
    limiter.acquire()
    assert clock.sleeps == [50.0]
    limiter.acquire()  # the fourth went at 1060
    assert clock.sleeps == [50.0, 60.0]
    assert limiter.waited_seconds == 110.0


def test_a_request_exactly_one_window_later_does_not_wait() -> None:
    clock = FakeClock()
    limiter = budget(1, clock)
    limiter.acquire()
    clock.now += 60.0
    limiter.acquire()
    assert clock.sleeps == []


def test_a_request_is_counted_from_when_its_answer_came_back() -> None:
    clock = FakeClock()
    limiter = budget(1, clock)
    with limiter.request():
        clock.now += 25.0  # in flight for 25 s
    limiter.acquire()
    assert clock.sleeps == [60.0]  # until 1025 + 60, not 1000 + 60
    assert clock.now == 1085.0


def test_settling_never_moves_a_stamp_back() -> None:
    clock = FakeClock()
    limiter = budget(1, clock)
    stamp = limiter.acquire()
    clock.now -= 5.0  # a clock that went back (or rounded down)
    limiter.settle(stamp)
    assert stamp == [1000.0]


def test_a_clock_that_falls_short_of_the_deadline_does_not_loop_or_overfill() -> None:
    clock = FakeClock()
    limiter = RequestBudget(1, 60.0, clock=clock.time, sleep=lambda seconds: None)  # never moves
    limiter.acquire()
    stamp = limiter.acquire()
    assert stamp == [1060.0]
    assert limiter.waited_seconds == 60.0


def test_a_limit_of_zero_turns_the_budget_off() -> None:
    clock = FakeClock()
    limiter = budget(0, clock)
    for _ in range(1000):
        with limiter.request():
            pass
    assert clock.sleeps == []
    assert limiter.waited_seconds == 0.0


def test_each_account_has_its_own_budget_made_on_first_use() -> None:
    clock = FakeClock()
    budgets = AccountBudgets(2, 60.0, clock=clock.time, sleep=clock.sleep)
    first = budgets.of("a")
    assert budgets.of("a") is first
    assert (first.limit, first.window) == (2, 60.0)
    for _ in range(2):
        budgets.of("a").acquire()
        budgets.of("b").acquire()
    assert clock.sleeps == []  # two each, not four from one budget
    budgets.of("a").acquire()
    assert clock.sleeps == [60.0]  # the budget slept on the run's clock
    clock.now += 1.0
    budgets.of("b").acquire()
    assert budgets.waited_seconds == 60.0  # b's window had passed too
    assert AccountBudgets(7).of("a").window == 300.0

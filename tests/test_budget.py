"""The client-side request budget keeps a big sync inside Cloudflare's query limit.

Behaviour, not timing: the tap and the stand-in share a simulated clock (sleeps advance it,
requests spend a random time in flight), and the stand-in enforces the limit and logs when each
query arrived.
"""

from __future__ import annotations

import contextlib
import io

import pytest
import requests
from cloudflare_standin import Fault

from bench.budget import SimulatedClock, max_in_window
from tap_cloudflare_stream.cloudflare.answers import (
    ANALYTICS_PERMISSION,
    CloudflareRateLimitError,
    classify,
)
from tap_cloudflare_stream.cloudflare.budget import AccountBudgets, RequestBudget
from tap_cloudflare_stream.cloudflare.session import CloudflareAPI, RetryPolicy
from tap_cloudflare_stream.settings import parse_settings
from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.conftest import StartStandin
from tests.standin import ACCOUNT_A, ACCOUNT_B, NOW, days_ago, tap_config, utc_today

WINDOW = 300.0
RATE_LIMITED = "rate limiter budget depleted"


def test_a_sync_needing_several_budgets_is_paced_and_never_refused(
    start_standin: StartStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 40
    clock = SimulatedClock(max_latency=0.4, seed=5)
    server = start_standin(
        clock=clock.in_flight,
        rate_limit_queries=budget,
        rate_limit_window=WINDOW,
        rate_limit_lockout=300.0,
    )
    # A refusal ends the run at once instead of waiting out real-time backoff.
    monkeypatch.setattr(RetryPolicy, "MAX_TRIES", 1)
    config = tap_config(
        server.url,
        start_date=days_ago(9).isoformat(),
        page_size=10,
        requests_per_5_minutes=budget,
    )
    tap = TapCloudflareStream(config=config, validate_config=True)
    tap.parts.clock = lambda: NOW  # the tests' clock, as the stand-in's
    # Every stream and account of the run spends from this one budget.
    tap.api.graphql.budget = RequestBudget(budget, WINDOW, clock=clock.time, sleep=clock.sleep)
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
        tap.sync_all()

    log = [e for e in server.request_log if e.kind != "rest"]  # GraphQL: REST has its own budget
    assert {e.variables.get("accountTag") for e in log} == {ACCOUNT_A, ACCOUNT_B}
    assert len({e.dataset for e in log if e.kind == "data"}) == 6  # 4 daily, 2 hourly
    assert len(log) > 3 * budget, "the run must need several budgets' worth of queries"
    assert [e for e in log if RATE_LIMITED in (e.error or "")] == []
    assert max_in_window([e.time for e in log], WINDOW) <= budget
    # It paced itself rather than finishing early: n requests need (n - 1) // budget windows.
    assert log[-1].time - log[0].time >= WINDOW * ((len(log) - 1) // budget)
    assert utc_today().isoformat() in {
        e.variables["filter"].get("date_leq") for e in log if e.kind == "data"
    }


def test_refused_and_retried_requests_of_every_analytics_stream_spend_from_the_budget(
    start_standin: StartStandin,
) -> None:
    budget = 30
    clock = SimulatedClock(max_latency=0.4, seed=3)
    server = start_standin(
        clock=clock.in_flight,
        rate_limit_queries=budget,
        rate_limit_window=WINDOW,
        rate_limit_lockout=300.0,
        # Refused as too heavy (the tap narrows the window and asks again) ...
        heavy_query_seconds=2 * 86400,
        # ... and failed by a server fault (the tap retries the same page within seconds).
        faults=[Fault("502_html", at=[3, 40, 90])],
    )
    config = tap_config(
        server.url,
        start_date=days_ago(9).isoformat(),
        page_size=10,
        requests_per_5_minutes=budget,
    )
    tap = TapCloudflareStream(config=config, validate_config=True)
    tap.parts.clock = lambda: NOW
    tap.api.graphql.budget = RequestBudget(budget, WINDOW, clock=clock.time, sleep=clock.sleep)
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
        tap.sync_all()

    log = [e for e in server.request_log if e.kind != "rest"]
    assert len({e.dataset for e in log if e.kind == "data"}) == 6  # 4 daily, 2 hourly
    assert len(log) > 3 * budget
    heavy = [e for e in log if "excessive resources" in (e.error or "")]
    faulted = [e for e in log if e.fault == "502_html"]
    assert heavy, "the run must have been refused as too heavy"
    assert len(faulted) == 3, "the run must have retried"
    assert [e for e in log if RATE_LIMITED in (e.error or "")] == []
    # Cloudflare counts every query it receives: refused and retried ones fit the budget too.
    assert max_in_window([e.time for e in log], WINDOW) <= budget


def test_a_request_counts_from_when_its_answer_came_back() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    budget = RequestBudget(2, 10.0, clock=lambda: now[0], sleep=sleep)
    with budget.request():
        now[0] = 4.0  # four seconds in flight: Cloudflare may have counted it at 4
    with budget.request():
        now[0] = 5.0
    budget.acquire()
    # The first request ended at 4, so the third goes at 14 (not at 10, its send time + 10).
    assert now[0] == 14.0
    assert sleeps == [9.0]


def test_a_zero_budget_never_waits() -> None:
    def sleep(seconds: float) -> None:
        raise AssertionError("slept")

    budget = RequestBudget(0, clock=lambda: 0.0, sleep=sleep)
    for _ in range(1000):
        with budget.request():
            pass


def test_each_api_has_its_budget_and_zero_turns_every_budget_off() -> None:
    api = CloudflareAPI({"Authorization": "Bearer t"}, 300)
    assert (api.graphql.budget.limit, api.rest.budget.limit) == (300, 1200)
    off = CloudflareAPI({"Authorization": "Bearer t"}, 0)
    assert (off.graphql.budget.limit, off.rest.budget.limit) == (0, 0)


def test_account_based_limiting_keeps_one_budget_per_account(
    start_standin: StartStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 20
    clock = SimulatedClock(max_latency=0.4, seed=9)
    # The stand-in counts per user, or per account when asked with X-Rate-Limit-Type.
    server = start_standin(
        clock=clock.in_flight,
        rate_limit_queries=budget,
        rate_limit_window=WINDOW,
        rate_limit_lockout=300.0,
    )
    monkeypatch.setattr(RetryPolicy, "MAX_TRIES", 1)  # a refusal ends the run at once
    config = tap_config(
        server.url,
        start_date=days_ago(9).isoformat(),
        page_size=10,
        requests_per_5_minutes=budget,
        account_based_rate_limit=True,
    )
    tap = TapCloudflareStream(config=config, validate_config=True)
    # One budget per account, on the simulated clock.
    tap.api.graphql.account_budgets = AccountBudgets(
        budget, WINDOW, clock=clock.time, sleep=clock.sleep
    )
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
        tap.sync_all()

    log = server.request_log
    assert [e for e in log if e.status != 200] == []
    for account in (ACCOUNT_A, ACCOUNT_B):
        times = [e.time for e in log if e.variables.get("accountTag") == account]
        assert len(times) > 2 * budget
        assert max_in_window(times, WINDOW) <= budget
    # Both accounts' budgets were in use at once: more than one user's budget in a window.
    assert max_in_window([e.time for e in log], WINDOW) > budget


def test_the_account_budget_refusal_is_a_rate_limit() -> None:
    response = requests.Response()
    response.status_code = 200
    message = f"Account {ACCOUNT_A} has exceeded its rate limit. Please try again after 5 minutes."
    error = classify(response, [message], "account a, stream s", ANALYTICS_PERMISSION)
    assert isinstance(error, CloudflareRateLimitError)


def test_the_default_budget_leaves_headroom_and_more_than_cloudflare_allows_is_warned() -> None:
    base = {"account_ids": [ACCOUNT_A], "api_token": "t"}
    today = utc_today()
    default = parse_settings(base, today)
    assert 0 < default.requests_per_5_minutes < 300
    assert default.warnings == ()
    assert parse_settings({**base, "requests_per_5_minutes": 300}, today).warnings == ()
    (warning,) = parse_settings({**base, "requests_per_5_minutes": 400}, today).warnings
    assert "requests_per_5_minutes 400" in warning
    assert "account_based_rate_limit" in warning
    account_based = {**base, "requests_per_5_minutes": 400, "account_based_rate_limit": True}
    assert parse_settings(account_based, today).warnings == ()

"""Faults, lockouts, give-ups, bad answers and kills: every row arrives, or the run fails clearly
and the next run resumes without loss. Scenarios come from tests/reliability_scenarios.py.

Waits run on a compressed clock shared by the stand-in and the tap, with the tap's real retry
policy (1 s doubling to 60 s for faults, 60 s or Retry-After for rate limits, 8 tries).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import socket
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import Fault

from tap_cloudflare_stream.cloudflare.session import RetryPolicy
from tests.conftest import StartStandin
from tests.reliability_scenarios import DOC, Scenario, of, rendered
from tests.reliability_support import (
    DAY,
    MINUTES_NODE,
    MINUTES_VIEWED,
    SECRET_TOKEN,
    STANDIN_CREDENTIALS,
    TAP_COMMAND,
    CompressedClock,
    assert_no_secrets,
    compress_time,
    interrupt_cli,
    invoke_tap,
    sync_streams,
    wait_until,
    write_json,
)
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    by_key,
    catalog_for,
    days_ago,
    expected_records,
    key,
    tap_config,
    utc_today,
)

RATE_LIMITED = "rate limiter budget depleted, try again after 5 minutes"
RATE_LIMIT_FAULTS = {"429", "ratelimit_200", "busy", "busy_200"}
RETRY_AFTER = 17.0
FIRST_DAYS_AGO = 4
SLOW_ANSWER_SECONDS = 8.0
SLOW_TIMEOUT_SECONDS = 2
FAULTED_PAGE = 5  # the 5th data request: in the second window, after a STATE was written


def first_day() -> str:
    return days_ago(FIRST_DAYS_AGO).isoformat()


def tap_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """One account, lookback 0 (so a resume re-reads nothing it need not), the test token."""
    config = tap_config(
        url,
        account_ids=[ACCOUNT_A],
        api_token=SECRET_TOKEN,
        start_date=first_day(),
        lookback_days=0,
        page_size=25,
    )
    config.update(overrides)
    return config


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> CompressedClock:
    """A compressed clock the tap's retry waits and request budget run on."""
    fake = CompressedClock()
    compress_time(monkeypatch, fake)
    return fake


def start(start_standin: StartStandin, **overrides: Any) -> Any:
    """A stand-in with 2-day windows, so a run has several windows and STATE messages."""
    options: dict[str, Any] = {
        **STANDIN_CREDENTIALS,
        "accounts": [ACCOUNT_A],
        "max_duration": 2 * DAY,
    }
    options.update(overrides)
    return start_standin(**options)


def expected(server: Any, accounts: tuple[str, ...] = (ACCOUNT_A,)) -> list[dict[str, Any]]:
    rows = expected_records(
        server.config, MINUTES_VIEWED, accounts, days_ago(FIRST_DAYS_AGO), utc_today()
    )
    assert rows, "the stand-in should hold rows in this range"
    return rows


def in_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: key(MINUTES_VIEWED, r))


def by_number(server: Any) -> list[Any]:
    return sorted(server.request_log, key=lambda e: e.number)


# Transient faults


@pytest.mark.parametrize("scenario", of("fault"), ids=lambda s: s.id)
def test_a_transient_fault_is_retried_and_every_row_arrives(
    scenario: Scenario,
    start_standin: StartStandin,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock: CompressedClock,
) -> None:
    kind = scenario.fault
    assert kind is not None
    if scenario.id == "settings_500":
        fault = Fault(kind, at=[1])  # the first request of a run is the settings query
    else:
        seconds = {"429_retry_after": RETRY_AFTER, "slow": SLOW_ANSWER_SECONDS}.get(kind, 1.0)
        fault = Fault(kind, at=[FAULTED_PAGE], dataset=MINUTES_NODE, seconds=seconds)
    if kind == "slow":
        # The stand-in answers the faulted request after 8 s (real time) and the tap gives up
        # on it after 2 s: wide margins both ways, so a loaded machine neither times out an
        # ordinary request nor gets the slow answer in time.
        monkeypatch.setattr(RetryPolicy, "REQUEST_TIMEOUT_SECONDS", SLOW_TIMEOUT_SECONDS)
    server = start(start_standin, faults=[fault])
    caplog.set_level(logging.DEBUG)

    run = sync_streams(tap_settings(server.url))

    assert run.error is None, run.error
    got = run.records[MINUTES_VIEWED]
    assert in_order(got) == expected(server), "rows lost or repeated"
    # The stand-in logs a timed-out request once it has answered into the closed connection.
    wait_until(lambda: any(e.fault == kind for e in server.request_log), timeout=30)
    log = by_number(server)
    faulted = [e for e in log if e.fault == kind]
    assert len(faulted) == 1
    retry = log[log.index(faulted[0]) + 1]
    assert (retry.kind, retry.variables) == (faulted[0].kind, faulted[0].variables), "not a retry"
    assert (retry.status, retry.error, retry.fault) == (200, None, None)
    # One wait, as the policy says (backoff adds up to 1 s of jitter).
    wait = 60.0 if kind in RATE_LIMIT_FAULTS else RETRY_AFTER if kind == "429_retry_after" else 1.0
    assert len(clock.sleeps) == 1
    assert wait <= clock.sleeps[0] < wait + 1
    assert "Retrying account" in caplog.text
    assert_no_secrets(run.stdout, caplog.text)


# Cloudflare's lockout


def lockouts(log: list[Any], seconds: float) -> list[list[Any]]:
    """The requests of each lockout, from the refusal that starts it to its end.

    The fake clock stands still between waits, so requests before the first refusal can share
    its time: a lockout starts at that refusal's request number.
    """
    found: list[list[Any]] = []
    for entry in log:
        if entry.error == RATE_LIMITED and (not found or entry.time >= found[-1][0].time + seconds):
            found.append([entry])
        elif found and entry.time < found[-1][0].time + seconds:
            found[-1].append(entry)
    return found


@pytest.mark.parametrize("scenario", of("lockout"), ids=lambda s: s.id)
def test_a_lockout_is_waited_out_not_hammered(
    scenario: Scenario,
    start_standin: StartStandin,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock: CompressedClock,
) -> None:
    budget, lockout = 10, 300.0
    server = start(
        start_standin,
        clock=clock,
        rate_limit_queries=budget,
        rate_limit_window=300.0,
        rate_limit_lockout=lockout,
        **scenario.config,
    )
    client_budget = budget if scenario.id == "client_budget" else 0
    caplog.set_level(logging.DEBUG)

    run = sync_streams(tap_settings(server.url, page_size=10, requests_per_5_minutes=client_budget))

    assert run.error is None, run.error
    assert in_order(run.records[MINUTES_VIEWED]) == expected(server)
    log = by_number(server)
    assert len(log) > 2 * budget, "the run must need more than two budgets' worth of queries"
    refused = [e for e in log if e.error == RATE_LIMITED]
    assert_no_secrets(run.stdout, caplog.text)
    if client_budget:
        assert refused == [], "the tap's own limiter should keep it inside the budget"
        for entry in log:
            assert sum(entry.time <= e.time < entry.time + 300 for e in log) <= budget
        assert clock.now - log[0].time >= 300 * ((len(log) - 1) // budget)
        return

    periods = lockouts(log, lockout)
    assert len(periods) >= 2
    for during in periods:
        assert all(e.error == RATE_LIMITED for e in during)
        if scenario.config["rate_limit_retry_after"]:
            assert len(during) == 1, "Retry-After says when; one request per lockout"
        else:
            assert len(during) <= 6, "at most about one request a minute while locked out"
        after = log[log.index(during[-1]) + 1]
        assert after.time >= during[0].time + lockout
        assert (after.status, after.error) == (200, None)
    # The waits are the policy's: Retry-After where given, else a minute per refusal.
    wait = lockout if scenario.config["rate_limit_retry_after"] else 60.0
    assert clock.sleeps
    assert all(wait <= s < wait + 1 for s in clock.sleeps)
    assert sum(clock.sleeps) > lockout * len(periods)


# Failures: one line, exit 1, and a resume that loses nothing


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/client/v4/graphql"


@pytest.mark.parametrize("scenario", of("fatal"), ids=lambda s: s.id)
def test_a_failure_is_one_line_and_the_next_run_resumes_without_loss(
    scenario: Scenario,
    start_standin: StartStandin,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock: CompressedClock,
) -> None:
    tries = RetryPolicy.MAX_TRIES
    faults = []
    if scenario.fault is not None:
        at = (
            list(range(FAULTED_PAGE, FAULTED_PAGE + tries))
            if scenario.id == "gave_up"
            else [FAULTED_PAGE]
        )
        faults = [Fault(scenario.fault, at=at, dataset=MINUTES_NODE)]
    server = start(start_standin, faults=faults)
    config = tap_settings(server.url)
    if scenario.id == "unreachable":
        config["api_url"] = closed_port_url()
    caplog.set_level(logging.DEBUG)

    run = invoke_tap(config)

    assert run.exit_code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    line = errors[0].getMessage()
    assert "\n" not in line
    assert errors[0].exc_info is None, "no traceback"
    for fragment in scenario.says:
        assert fragment in line, f"{fragment!r} missing from: {line}"
    assert_no_secrets(run.stdout, caplog.text)

    if scenario.id == "unreachable":
        assert run.records == {}
        assert len(clock.sleeps) == tries - 1
        return
    assert f"account {ACCOUNT_A}" in line
    if scenario.id == "gave_up":
        attempts = [e for e in server.request_log if e.fault == scenario.fault]
        assert len(attempts) == tries
        assert len({str(e.variables) for e in attempts}) == 1, "all tries ask for the same page"
        waits = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
        assert len(clock.sleeps) == len(waits)
        assert all(w <= s < w + 1 for w, s in zip(waits, clock.sleeps, strict=True))
    else:
        assert clock.sleeps == [], "an answer the tap cannot read is not retried"

    before = run.records.get(MINUTES_VIEWED, [])
    assert before, "the failure comes after the first window's rows"
    assert run.last_state is not None
    server.config.faults = []
    resumed = sync_streams(config, state=run.last_state)
    assert resumed.error is None
    delivered = before + resumed.records[MINUTES_VIEWED]
    assert by_key(MINUTES_VIEWED, delivered) == by_key(MINUTES_VIEWED, expected(server))
    assert len(resumed.records[MINUTES_VIEWED]) < len(expected(server)), "resumed, not restarted"


# Answers with an unexpected shape that the tap handles


@pytest.mark.parametrize("scenario", of("response"), ids=lambda s: s.id)
def test_an_odd_answer_is_handled_without_dropping_rows(
    scenario: Scenario, start_standin: StartStandin, caplog: pytest.LogCaptureFixture
) -> None:
    assert scenario.fault is not None
    fault = Fault(scenario.fault, at=[FAULTED_PAGE], dataset=MINUTES_NODE)
    server = start(start_standin, faults=[fault])
    caplog.set_level(logging.DEBUG)

    run = sync_streams(tap_settings(server.url))

    assert run.error is None, run.error
    assert_no_secrets(run.stdout, caplog.text)
    assert [e.fault for e in server.request_log].count(scenario.fault) == 1
    got = in_order(run.records[MINUTES_VIEWED])
    want = expected(server)
    if scenario.id == "extra_field":
        assert got == want
        return
    # bad_uid: the stand-in renamed one row's uid; that row arrives as sent, no other changes.
    assert len(got) == len(want)
    only_got = [r for r in got if r not in want]
    only_want = [r for r in want if r not in got]
    assert len(only_got) == len(only_want) == 1
    assert only_got[0]["uid"] == "not-a-uid!"
    assert {**only_got[0], "uid": only_want[0]["uid"]} == only_want[0]


# Interrupted runs: SIGKILL the real CLI at seeded points


KILL_STREAMS = (MINUTES_VIEWED, "video_quality_events")


def kill_after(config_path: str, catalog_path: str, messages: int, stderr: Path) -> list[str]:
    """Run the CLI, read `messages` lines of its stdout, SIGKILL it; return the lines read."""
    text, returncode = interrupt_cli(
        [*TAP_COMMAND, "--config", config_path, "--catalog", catalog_path],
        messages,
        send=signal.SIGKILL,
        stderr=stderr,
        log_level="DEBUG",
        read_rest=False,
    )
    assert returncode == -signal.SIGKILL
    assert_no_secrets(text, stderr.read_text())
    return text.splitlines(keepends=True)


@pytest.mark.parametrize("scenario", of("interrupt"), ids=lambda s: s.id)
def test_a_killed_run_resumes_from_its_last_state_without_losing_rows(
    scenario: Scenario, start_standin: StartStandin, tmp_path: Path
) -> None:
    assert scenario.id == "sigkill"
    server = start(start_standin, accounts=[ACCOUNT_A, ACCOUNT_B])
    accounts = (ACCOUNT_A, ACCOUNT_B)
    config = tap_settings(server.url, account_ids=list(accounts), page_size=9)
    catalog = catalog_for(config, KILL_STREAMS)
    config_path = write_json(tmp_path / "config.json", config)
    catalog_path = write_json(tmp_path / "catalog.json", catalog)
    want = {
        stream: expected_records(
            server.config, stream, accounts, days_ago(FIRST_DAYS_AGO), utc_today()
        )
        for stream in KILL_STREAMS
    }
    total = sum(len(rows) for rows in want.values())
    # Seeded kill points over the whole run, plus one before any STATE.
    points = [1, *sorted(random.Random(20261127).sample(range(2, total), 4))]
    mid_window_with_state = 0

    for point in points:
        stderr = tmp_path / f"stderr-{point}.txt"
        lines = kill_after(config_path, catalog_path, point, stderr)
        messages = [json.loads(line) for line in lines]
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        mid_window_with_state += bool(states) and messages[-1]["type"] == "RECORD"
        resumed = sync_streams(config, KILL_STREAMS, state=states[-1] if states else None)
        assert resumed.error is None
        for stream in KILL_STREAMS:
            before = [
                m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream
            ]
            delivered = before + resumed.records.get(stream, [])
            assert by_key(stream, delivered) == by_key(stream, want[stream]), (stream, point)
    assert mid_window_with_state >= 2, "kills should land mid-window after a STATE"


# The docs table


def test_docs_table_is_current() -> None:
    document = DOC.read_text(encoding="utf-8")
    assert document == rendered(document), (
        "docs/reliability.md is stale: python -m tests.reliability_scenarios --write"
    )

"""Credentials never leave the tap: not in stdout, stderr, STATE or any log, at DEBUG level.

Every scenario runs with distinctive credentials (tests/reliability_support.py) and checks its
output for them, whole or in part: the in-process fault, lockout and failure scenarios check
their Singer messages and every log record at DEBUG, the configuration errors and the killed
runs check the real CLI at LOGLEVEL=DEBUG. This module adds refused credentials and full CLI
runs through faults with each authentication method.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import Fault

from tests.conftest import StartStandin
from tests.reliability_scenarios import GROUPS, Scenario, of
from tests.reliability_support import (
    DAY,
    MINUTES_NODE,
    MINUTES_VIEWED,
    SECRET_EMAIL,
    SECRET_KEY,
    SECRET_TOKEN,
    STANDIN_CREDENTIALS,
    assert_no_secrets,
    assert_one_error_line,
    catalog_for,
    log_levels,
    resolve,
    run_cli,
)
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    by_key,
    days_ago,
    expected_records,
    tap_config,
    utc_today,
)


def cli_config(url: str, **overrides: Any) -> dict[str, Any]:
    config = tap_config(
        url,
        account_ids=[ACCOUNT_A],
        api_token=SECRET_TOKEN,
        start_date=days_ago(2).isoformat(),
        page_size=25,
    )
    for name, value in overrides.items():
        if value is None:
            config.pop(name, None)
        else:
            config[name] = resolve(value)
    return config


def records_in(stdout: str) -> list[dict[str, Any]]:
    messages = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return [m["record"] for m in messages if m["type"] == "RECORD"]


@pytest.mark.parametrize("scenario", of("auth"), ids=lambda s: s.id)
def test_refused_credentials_fail_with_one_line_that_does_not_echo_them(
    scenario: Scenario, start_standin: StartStandin, tmp_path: Path
) -> None:
    standin: dict[str, Any] = dict(STANDIN_CREDENTIALS)
    accounts = [ACCOUNT_A]
    refused = ACCOUNT_A
    if scenario.id == "token_without_access":
        standin["tokens"] = {SECRET_TOKEN: [ACCOUNT_A]}
        accounts, refused = [ACCOUNT_A, ACCOUNT_B], ACCOUNT_B
    server = start_standin(**standin, max_duration=2 * DAY)
    config = cli_config(server.url, account_ids=accounts, **scenario.config)

    done = run_cli(
        tmp_path, config, catalog=catalog_for(config, [MINUTES_VIEWED]), log_level="DEBUG"
    )

    assert done.returncode == 1
    line = assert_one_error_line(done.stderr)
    assert f"account {refused}" in line
    for fragment in scenario.says:
        assert fragment in line, f"{fragment!r} missing from: {line}"
    assert_no_secrets(done.stdout, done.stderr)
    assert any(level == "DEBUG" for level, _ in log_levels(done.stderr)), "DEBUG was not on"
    got = records_in(done.stdout)
    assert {r["account_id"] for r in got} == ({ACCOUNT_A} if refused == ACCOUNT_B else set())
    # Refused once, not retried.
    assert [e.status for e in server.request_log if e.status != 200] in ([401], [403])


@pytest.mark.parametrize("auth", ["token", "global_key"])
def test_a_run_through_faults_at_debug_level_writes_no_credential(
    auth: str, start_standin: StartStandin, tmp_path: Path
) -> None:
    # Short real waits: Retry-After 0, then a broken body retried after about a second.
    faults = [
        Fault("429_retry_after", at=[2], dataset=MINUTES_NODE, seconds=0),
        Fault("truncated", at=[4], dataset=MINUTES_NODE),
    ]
    server = start_standin(
        **STANDIN_CREDENTIALS, accounts=[ACCOUNT_A], max_duration=2 * DAY, faults=faults
    )
    changes: dict[str, Any] = {}
    if auth == "global_key":
        changes = {"api_token": None, "api_email": SECRET_EMAIL, "api_key": SECRET_KEY}
    config = cli_config(server.url, **changes)

    done = run_cli(
        tmp_path, config, catalog=catalog_for(config, [MINUTES_VIEWED]), log_level="DEBUG"
    )

    assert done.returncode == 0, done.stderr
    assert_no_secrets(done.stdout, done.stderr)
    assert done.stderr.count("Retrying account") == 2
    assert any(level == "DEBUG" for level, _ in log_levels(done.stderr))
    assert '"type":"STATE"' in done.stdout.replace(" ", "")
    expected = expected_records(
        server.config, MINUTES_VIEWED, [ACCOUNT_A], days_ago(2), utc_today()
    )
    assert by_key(MINUTES_VIEWED, records_in(done.stdout)) == by_key(MINUTES_VIEWED, expected)
    # Replaced answers skip authentication; every other request carried the chosen method.
    credentials = {e.credential for e in server.request_log if e.fault != "429_retry_after"}
    assert credentials == {"token#1" if auth == "token" else "key#1"}


def test_every_scenario_group_runs_and_looks_for_leaked_credentials() -> None:
    from tests import test_config_errors as config
    from tests import test_reliability as run

    tests: dict[str, Callable[..., None]] = {
        "fault": run.test_a_transient_fault_is_retried_and_every_row_arrives,
        "lockout": run.test_a_lockout_is_waited_out_not_hammered,
        "fatal": run.test_a_failure_is_one_line_and_the_next_run_resumes_without_loss,
        "response": run.test_an_odd_answer_is_handled_without_dropping_rows,
        "interrupt": run.test_a_killed_run_resumes_from_its_last_state_without_losing_rows,
        "config": config.test_bad_setting_fails_with_one_line_naming_it,
        "auth": test_refused_credentials_fail_with_one_line_that_does_not_echo_them,
    }
    assert {*tests, "secrets"} == set(GROUPS)
    for group, test in tests.items():
        assert "assert_no_secrets(" in inspect.getsource(test), group
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
        if marks:  # the parametrized tests run every scenario of their group
            assert list(marks[0].args[1]) == of(group), group
        else:
            assert len(of(group)) == 1, group

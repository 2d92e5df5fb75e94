"""Credentials never leave the tap: not in stdout, stderr, STATE or any log record.

Every scenario runs with distinctive credentials, and the helpers that run the tap
(tests/reliability_support.py) look for them, whole or in part, in everything a run wrote: the
in-process runs (faults, lockouts, failures, odd answers; the API token only) in their Singer
messages and every log record at DEBUG, the CLI runs (bad settings, refused credentials, killed
runs) in stdout and stderr, with LOGLEVEL=DEBUG where the test sets it. This module adds refused
credentials and CLI runs through faults with each authentication method at DEBUG, and proves
that the helpers catch a leak and that every scenario is a collected test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import Fault

from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.conftest import StartStandin
from tests.reliability_scenarios import GROUPS, SCENARIOS, Scenario, of
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
    invoke_tap,
    log_levels,
    resolve,
    run_cli,
    sync_streams,
)
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    by_key,
    catalog_for,
    days_ago,
    expected_records,
    tap_config,
    utc_today,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_MODULES = ("test_reliability.py", "test_config_errors.py", "test_secrets.py")


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


def test_every_scenario_is_a_test_that_runs(tmp_path: Path) -> None:
    # What pytest collects, not what the source says: each scenario of each group is the
    # parameter of a collected test.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + [str(ROOT / "tests" / name) for name in SCENARIO_MODULES],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    collected = {
        line.rsplit("[", 1)[1].rstrip("]") for line in done.stdout.splitlines() if "[" in line
    }
    not_run = [s.id for s in SCENARIOS if s.group != "secrets" and s.id not in collected]
    assert not_run == [], f"scenarios no test runs: {not_run}"
    assert set(GROUPS) == {s.group for s in SCENARIOS}


def test_a_leaked_credential_fails_every_kind_of_run(
    start_standin: StartStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scenarios run the tap through these helpers, which look for the credentials in all it
    # wrote. A tap that leaks the token only in a DEBUG log record (in-process) or only on
    # stderr (the CLI) must fail them.
    server = start_standin(**STANDIN_CREDENTIALS, accounts=[ACCOUNT_A], max_duration=2 * DAY)
    config = cli_config(server.url)
    real_discover = TapCloudflareStream.discover_streams

    def leaky_discover(tap: TapCloudflareStream) -> list[Any]:
        tap.logger.debug("using token %s", tap.config["api_token"])
        return real_discover(tap)

    with monkeypatch.context() as patch:
        patch.setattr(TapCloudflareStream, "discover_streams", leaky_discover)
        with pytest.raises(AssertionError, match="a credential leaked"):
            sync_streams(config)
        with pytest.raises(AssertionError, match="a credential leaked"):
            invoke_tap(config)
    assert sync_streams(config).records, "without the leak the same run passes"

    (tmp_path / "sitecustomize.py").write_text(
        f"import sys\nsys.stderr.write({SECRET_TOKEN[4:]!r} + '\\n')\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(AssertionError, match="a credential leaked"):
        run_cli(tmp_path, config, catalog=catalog_for(config, [MINUTES_VIEWED]))

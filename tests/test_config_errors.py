"""Bad configuration stops the real CLI with one line that names the setting and the fix.

"One line" is checked precisely (see assert_one_error_line): every non-empty stderr line is a
log line, exactly one is at ERROR level and it is the last, the others are the SDK's INFO
start-up lines; no traceback; stdout is empty (no SCHEMA, RECORD or STATE). The runs use
LOGLEVEL=DEBUG and distinctive credentials, and no credential may appear in any output. Every
run has a recording proxy in its environment (http_proxy, https_proxy, no no_proxy): it must
receive nothing, so no request left the tap, whatever host api_url names.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from tap_cloudflare_stream.settings import parse_settings
from tests.reliability_scenarios import Scenario, of
from tests.reliability_support import (
    SECRET_TOKEN,
    RecordingProxy,
    assert_no_secrets,
    assert_one_error_line,
    log_levels,
    resolve,
    run_cli,
)
from tests.standin import ACCOUNT_A

# Nothing listens here: a configuration error must stop the tap before any request.
UNUSED_URL = "http://127.0.0.1:9/client/v4/graphql"


def bad_config(scenario: Scenario) -> dict[str, Any]:
    """A valid configuration with the scenario's change (None removes a setting)."""
    config: dict[str, Any] = {
        "account_ids": [ACCOUNT_A],
        "api_token": SECRET_TOKEN,
        "api_url": UNUSED_URL,
        "start_date": "2026-01-01",
    }
    today = datetime.datetime.now(datetime.timezone.utc).date()
    future = (today + datetime.timedelta(days=30)).isoformat()
    for name, value in scenario.config.items():
        if value is None:
            config.pop(name, None)
        else:
            config[name] = future if value == "FUTURE" else resolve(value)
    return config


@pytest.mark.parametrize("scenario", of("config"), ids=lambda s: s.id)
def test_bad_setting_fails_with_one_line_naming_it(scenario: Scenario, tmp_path: Path) -> None:
    with RecordingProxy() as proxy:
        done = run_cli(tmp_path, bad_config(scenario), log_level="DEBUG", proxy=proxy.url)

    assert proxy.requests == [], "a request left the tap before the settings were checked"

    assert done.returncode == 1, done.stderr
    assert done.stdout == "", "nothing may be written to stdout (no SCHEMA, RECORD or STATE)"
    line = assert_one_error_line(done.stderr)
    assert "Invalid configuration:" in line
    for fragment in scenario.says:
        assert fragment in line, f"{fragment!r} missing from: {line}"
    # The SDK's start-up lines are the only others.
    assert [level for level, _ in log_levels(done.stderr)] == ["INFO", "INFO", "ERROR"]
    assert_no_secrets(done.stdout, done.stderr)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8787/client/v4/graphql",
        "http://127.0.0.1:8787/client/v4/graphql",
        "http://127.45.6.7:8787/client/v4/graphql",
        "http://[::1]:8787/client/v4/graphql",
        "https://api.cloudflare.com/client/v4/graphql",
        "https://127.attacker.example/graphql",  # https: encrypted whatever the host
    ],
)
def test_plain_http_is_accepted_for_loopback_addresses_only(url: str) -> None:
    config = {"account_ids": [ACCOUNT_A], "api_token": SECRET_TOKEN, "api_url": url}
    assert parse_settings(config, datetime.date(2026, 1, 1)).api_url == url

"""`parse_settings` in process: each refusal's exact line, the edges it accepts, the defaults.

tests/test_config_errors.py runs the same refusals through the real CLI (one ERROR line, no
request, no secret); this module pins what each line says and where each range starts and
ends, fast enough to run for every mutant of settings.py (docs/mutation.md).
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest

from tap_cloudflare_stream.settings import (
    DEFAULT_API_URL,
    SettingsError,
    TapSettings,
    parse_settings,
)
from tests.standin import ACCOUNT_A, ACCOUNT_B

TODAY = datetime.date(2026, 3, 10)
TOKEN = "tok-3n8Qx"


def parse(**changes: Any) -> TapSettings:
    """Settings of a valid configuration with `changes` (None removes a setting)."""
    config: dict[str, Any] = {"account_ids": [ACCOUNT_A], "api_token": TOKEN}
    for name, value in changes.items():
        if value is None:
            config.pop(name, None)
        else:
            config[name] = value
    return parse_settings(config, TODAY)


def refusal(**changes: Any) -> str:
    with pytest.raises(SettingsError) as raised:
        parse(**changes)
    return str(raised.value)


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"account_ids": None},
            "account_ids is missing or empty: list your Cloudflare account tags (the "
            "32-character Account ID on the dashboard).",
        ),
        ({"account_ids": " , "}, "account_ids is missing or empty: list your Cloudflare"),
        ({"account_ids": 7}, "account_ids must be a list of Cloudflare account tags."),
        (
            {"account_ids": [ACCOUNT_A, 7]},
            "account_ids[1] (a value of 0 characters) is not a Cloudflare account tag: expected "
            "32 hexadecimal characters (the Account ID on the dashboard).",
        ),
        ({"account_ids": ["abc"]}, "account_ids[0] (a value of 3 characters) is not a"),
        (
            {"account_ids": [ACCOUNT_A, ACCOUNT_A.upper()]},
            f"account_ids lists {ACCOUNT_A} twice: list each account once.",
        ),
        (
            {"api_token": None},
            "no credentials: set api_token (an API token with Account Analytics: Read), or "
            "api_email and api_key.",
        ),
        (
            {"api_key": "k"},
            "both api_token and api_email/api_key are set: keep one authentication method "
            "(api_token is recommended).",
        ),
        (
            {"api_email": "e@example.com"},
            "both api_token and api_email/api_key are set: keep one",
        ),
        (
            {"api_token": None, "api_key": "k"},
            "api_key is set without api_email: set api_email to the e-mail of the user that "
            "owns the global API key, or use api_token instead.",
        ),
        (
            {"api_token": None, "api_email": "e@example.com"},
            "api_email is set without api_key: set api_key (the global API key), or use "
            "api_token instead.",
        ),
        (
            {"api_token": "tok en"},
            "api_token contains spaces, line breaks or non-ASCII characters: paste it again "
            "exactly as Cloudflare shows it.",
        ),
        ({"api_token": "tokén"}, "api_token contains spaces, line breaks or non-ASCII"),
        ({"api_token": 12345}, "api_token must be a string; put the value in quotes."),
        (
            {"start_date": "2026-02-30"},
            "start_date '2026-02-30' is not a date: use YYYY-MM-DD.",
        ),
        ({"end_date": "soon"}, "end_date 'soon' is not a date: use YYYY-MM-DD."),
        (
            {"start_date": "2026-03-11"},
            "start_date 2026-03-11 is in the future (today is 2026-03-10 UTC): set a past date "
            "or leave it unset.",
        ),
        (
            {"start_date": "2026-03-01", "end_date": "2026-02-28"},
            "end_date 2026-02-28 is before start_date 2026-03-01: set an end_date on or after "
            "start_date, or leave it unset for today.",
        ),
        (
            {"lookback_days": -1},
            "lookback_days must be between 0 and 90 (days re-read before the bookmark; "
            "Cloudflare keeps 90 days).",
        ),
        ({"lookback_days": 91}, "lookback_days must be between 0 and 90"),
        ({"lookback_days": "two"}, "lookback_days must be a whole number, got 'two'."),
        ({"lookback_days": 2.5}, "lookback_days must be a whole number, got 2.5."),
        ({"lookback_days": True}, "lookback_days must be a whole number, got True."),
        (
            {"hourly_lookback_hours": 0},
            "hourly_lookback_hours must be between 1 and 168, got 0 (hours re-read before the "
            "bookmark of the hour-grained streams; leave it unset for 3).",
        ),
        ({"hourly_lookback_hours": 169}, "hourly_lookback_hours must be between 1 and 168"),
        (
            {"page_size": 0},
            "page_size must be between 1 and 10000, got 0; leave it unset to use the dataset's "
            "maximum.",
        ),
        ({"page_size": 10001}, "page_size must be between 1 and 10000, got 10001;"),
        ({"requests_per_5_minutes": -1}, "requests_per_5_minutes must be 0 (off) or more."),
        (
            {"account_based_rate_limit": "yes"},
            "account_based_rate_limit must be true or false, got 'yes'.",
        ),
        ({"emit_activate_version_messages": 1}, "emit_activate_version_messages must be true"),
        (
            {"api_url": "ftp://example.com/graphql"},
            f"api_url must be an http(s) URL such as {DEFAULT_API_URL}; leave it unset for "
            "Cloudflare.",
        ),
        ({"api_url": "https:///graphql"}, "api_url must be an http(s) URL such as"),
        (
            {"api_url": "https://example.com/graphql?x=1"},
            "api_url must not carry a query string or credentials.",
        ),
        ({"api_url": "https://u@example.com/graphql"}, "api_url must not carry a query"),
        ({"api_url": "https://:p@example.com/graphql"}, "api_url must not carry a query"),
        (
            {"api_url": "https://example.com/client/v4"},
            f"api_url must end with /graphql, as {DEFAULT_API_URL} does: the Stream REST "
            "streams read from the same base without it.",
        ),
        (
            {"api_url": "http://example.com/graphql"},
            "api_url must use https (plain http would send the credentials in clear text); "
            "http is accepted only for a stand-in on this machine: localhost, 127.x.x.x or "
            "[::1].",
        ),
        ({"api_url": "http://10.0.0.1/graphql"}, "api_url must use https"),
        ({"api_url": "https://example.com/graphqlX"}, "api_url must end with /graphql"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value[:40],
)
def test_each_refusal_is_one_line_naming_the_setting_and_the_fix(
    changes: dict[str, Any], line: str
) -> None:
    assert refusal(**changes).startswith(line)


def test_the_defaults() -> None:
    settings = parse()
    assert settings == TapSettings(
        account_ids=(ACCOUNT_A,),
        auth_headers={"Authorization": f"Bearer {TOKEN}"},
        start_date=None,
        end_date=None,
        lookback_days=2,
        api_url=DEFAULT_API_URL,
        page_size=None,
        requests_per_5_minutes=240,
        account_based_rate_limit=False,
        warnings=(),
        emit_activate_version_messages=False,
        hourly_lookback_hours=3,
    )
    assert settings.rest_url == "https://api.cloudflare.com/client/v4"


@pytest.mark.parametrize(
    "changes",
    [
        {"lookback_days": 0},
        {"lookback_days": 90},
        {"hourly_lookback_hours": 1},
        {"hourly_lookback_hours": 168},
        {"page_size": 1},
        {"page_size": 10000},
        {"requests_per_5_minutes": 0},
        {"start_date": TODAY.isoformat()},
        {"start_date": "2026-03-01", "end_date": "2026-03-01"},
        {"api_url": "http://localhost:8787/client/v4/graphql/"},
    ],
    ids=lambda changes: ",".join(f"{k}={v}" for k, v in changes.items()),
)
def test_the_ends_of_each_range_are_accepted(changes: dict[str, Any]) -> None:
    settings = parse(**changes)
    for name, value in changes.items():
        got = getattr(settings, name)
        assert (got.isoformat() if isinstance(got, datetime.date) else got) == value


def test_values_as_meltano_passes_them_from_the_environment_are_read() -> None:
    settings = parse(
        account_ids=f" {ACCOUNT_A.upper()} ,{ACCOUNT_B}, ",
        lookback_days=" 7 ",
        hourly_lookback_hours="12",
        page_size="500",
        requests_per_5_minutes="0",
        account_based_rate_limit=" TRUE ",
        emit_activate_version_messages="False",
        start_date="",
        api_token=f"  {TOKEN}\n",
    )
    assert settings.account_ids == (ACCOUNT_A, ACCOUNT_B)
    assert (settings.lookback_days, settings.hourly_lookback_hours) == (7, 12)
    assert (settings.page_size, settings.requests_per_5_minutes) == (500, 0)
    assert settings.account_based_rate_limit is True
    assert settings.emit_activate_version_messages is False
    assert settings.start_date is None
    assert settings.auth_headers == {"Authorization": f"Bearer {TOKEN}"}


def test_an_empty_boolean_or_number_setting_is_its_default() -> None:
    settings = parse(account_based_rate_limit="", emit_activate_version_messages="", page_size="")
    assert settings.account_based_rate_limit is False
    assert settings.emit_activate_version_messages is False
    assert settings.page_size is None
    assert parse(lookback_days="").lookback_days == 2


def test_a_negative_number_in_a_string_is_read_as_a_number() -> None:
    assert refusal(lookback_days="-3").startswith("lookback_days must be between 0 and 90")
    assert refusal(lookback_days="X3") == "lookback_days must be a whole number, got 'X3'."


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-01-31", datetime.date(2026, 1, 31)),
        ("2026-01-31T23:30:00Z", datetime.date(2026, 1, 31)),
        ("2026-01-31T23:30:00-02:00", datetime.date(2026, 2, 1)),
        ("2026-02-01T00:30:00+02:00", datetime.date(2026, 1, 31)),
        ("2026-01-31T23:30:00", datetime.date(2026, 1, 31)),
        ("2026-01-31Z", datetime.date(2026, 1, 31)),
    ],
)
def test_a_date_time_counts_as_its_utc_date(text: str, day: datetime.date) -> None:
    assert parse(start_date=text, end_date=text).start_date == day
    assert parse(end_date=text).end_date == day


def test_a_date_time_counts_as_its_utc_date_on_a_machine_away_from_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "PST+08")  # POSIX rule, needs no tz database: UTC-8
    time.tzset()
    try:
        assert parse(start_date="2026-01-31T23:30:00-02:00").start_date == datetime.date(2026, 2, 1)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_global_api_key_pair_is_sent_as_two_headers() -> None:
    settings = parse(api_token=None, api_email=" e@example.com ", api_key="k3y")
    assert settings.auth_headers == {"X-Auth-Email": "e@example.com", "X-Auth-Key": "k3y"}


@pytest.mark.parametrize(
    ("budget", "account_based", "warned"),
    [(300, False, False), (301, False, True), (301, True, False), (0, False, False)],
)
def test_a_budget_above_cloudflares_is_warned_about_unless_counted_per_account(
    budget: int, account_based: bool, warned: bool
) -> None:
    settings = parse(requests_per_5_minutes=budget, account_based_rate_limit=account_based)
    assert settings.warnings == (
        (
            f"requests_per_5_minutes {budget} is above Cloudflare's 300 queries per 5 minutes "
            "per user, which locks the user out for 5 minutes at a time: set it to 240 or less, "
            "or turn on account_based_rate_limit if Cloudflare counts your queries per account.",
        )
        if warned
        else ()
    )

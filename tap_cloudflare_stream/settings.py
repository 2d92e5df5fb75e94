"""The tap's settings: their JSON schema, and checks that turn bad input into one-line errors."""

from __future__ import annotations

import datetime
import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4/graphql"
DEFAULT_LOOKBACK_DAYS = 2
# Hour-grained streams re-read this many hours before their bookmark (docs/cloudflare/API-NOTES.md,
# "How late hourly data settles"): late events land within minutes; 3 hours is a wide margin
# that keeps a scheduled day at ceil(24 h / maxDuration) + 2 windows per stream.
DEFAULT_HOURLY_LOOKBACK_HOURS = 3
MAX_HOURLY_LOOKBACK_HOURS = 168
# Cloudflare allows 300 per user: the default leaves room for other clients of the same user.
DEFAULT_REQUESTS_PER_5_MINUTES = 240
CLOUDFLARE_REQUESTS_PER_5_MINUTES = 300
MAX_PAGE_SIZE = 10000
ACCOUNT_TAG = re.compile(r"[0-9a-f]{32}")
VISIBLE_ASCII = re.compile(r"[!-~]+")
MAX_LOOKBACK_DAYS = 90

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "account_ids",
        th.ArrayType(th.StringType),
        required=True,
        title="Account IDs",
        description="Cloudflare account tags (32 hex characters, the Account ID on the dashboard). "
        "Each is its own state partition.",
    ),
    th.Property(
        "api_token",
        th.StringType,
        secret=True,
        title="API token",
        description="API token, sent as a Bearer token: Account Analytics: Read for the analytics "
        "streams, Stream: Read for videos, live_inputs and storage_usage. Use this or api_email "
        "with api_key.",
    ),
    th.Property(
        "api_email",
        th.StringType,
        secret=True,
        title="API e-mail",
        description="E-mail of the user that owns api_key (global API key authentication).",
    ),
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        title="Global API key",
        description="Global API key, sent with api_email. Use this pair or api_token.",
    ),
    th.Property(
        "start_date",
        th.StringType,
        title="Start date",
        description="First day to read when there is no state (YYYY-MM-DD, or a date-time whose "
        "UTC date is used). Default and floor: the oldest day inside the dataset's retention "
        "(today - 89 for 90 days).",
    ),
    th.Property(
        "end_date",
        th.StringType,
        title="End date",
        description="Last day to read, inclusive (YYYY-MM-DD). Default: today (UTC).",
    ),
    th.Property(
        "lookback_days",
        th.IntegerType,
        default=DEFAULT_LOOKBACK_DAYS,
        title="Lookback days",
        description="Days before the bookmark that the day-grained streams read again, since "
        "Cloudflare revises recent days. 0 re-reads only the bookmarked day.",
    ),
    th.Property(
        "hourly_lookback_hours",
        th.IntegerType,
        default=DEFAULT_HOURLY_LOOKBACK_HOURS,
        title="Hourly lookback hours",
        description="Hours before the bookmark that the hour-grained streams (cmcd_hourly, "
        "live_input_events_hourly) read again, for events that reach Cloudflare after their hour "
        f"ended; the bookmarked hour itself is always read again. 1-{MAX_HOURLY_LOOKBACK_HOURS}.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        title="API URL",
        description="GraphQL endpoint (https; plain http only on this machine, for the local "
        "stand-in). Change it only for a proxy or the stand-in. The Stream REST streams (videos, "
        "live_inputs, storage_usage) read from its path without the final /graphql.",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        title="Page size",
        description="Rows per request, 1-10000. Default: the dataset's maxPageSize; a larger "
        "value is lowered to it with a warning.",
    ),
    th.Property(
        "requests_per_5_minutes",
        th.IntegerType,
        default=DEFAULT_REQUESTS_PER_5_MINUTES,
        title="Requests per 5 minutes",
        description="Client-side GraphQL budget shared by every stream of a run (per account "
        "with account_based_rate_limit). Cloudflare allows 300 queries per 5 minutes per user; "
        "the default 240 leaves room for other clients of the same user, and a value above 300 "
        "is warned about. 0 turns every client-side budget off (GraphQL and REST).",
    ),
    th.Property(
        "account_based_rate_limit",
        th.BooleanType,
        default=False,
        title="Account-based rate limit",
        description="Send X-Rate-Limit-Type: account-based, so that Cloudflare counts queries "
        "per account instead of per user, and keep one requests_per_5_minutes budget per "
        "account. Use it when one token reads many accounts.",
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=False,
        title="Emit ACTIVATE_VERSION messages",
        description="true: videos and live_inputs send ACTIVATE_VERSION when every account was "
        "listed completely, so a target with activate_version (target-postgres, "
        "target-snowflake) marks or removes items no longer listed. Only safe in runs over "
        "every account whose rows the table holds. The dbt models need no such message: they "
        "take each account's latest complete listing (listing_id, catalog_listings).",
    ),
).to_dict()


class SettingsError(ValueError):
    """A setting is wrong; the message names it and says how to fix it."""


@dataclass(frozen=True)
class TapSettings:
    """Settings after validation, with defaults applied."""

    account_ids: tuple[str, ...]
    auth_headers: Mapping[str, str]
    start_date: datetime.date | None
    end_date: datetime.date | None
    lookback_days: int
    api_url: str
    page_size: int | None
    requests_per_5_minutes: int
    account_based_rate_limit: bool = False
    warnings: tuple[str, ...] = ()
    emit_activate_version_messages: bool = False
    hourly_lookback_hours: int = DEFAULT_HOURLY_LOOKBACK_HOURS

    @property
    def rest_url(self) -> str:
        """The Stream REST base: api_url's path without the final /graphql (checked)."""
        return self.api_url.rstrip("/").removesuffix("/graphql")


def _text(config: Mapping[str, Any], name: str) -> str | None:
    value = config.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SettingsError(f"{name} must be a string; put the value in quotes.")
    return value


def _integer(config: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be a whole number, got {value!r}.")
    return value


def _boolean(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be true or false, got {value!r}.")
    return value


def _date(config: Mapping[str, Any], name: str) -> datetime.date | None:
    text = _text(config, name)
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.date.fromisoformat(text)
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SettingsError(f"{name} {text!r} is not a date: use YYYY-MM-DD.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.date()


def _account_ids(config: Mapping[str, Any]) -> tuple[str, ...]:
    value = config.get("account_ids")
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not value:
        raise SettingsError(
            "account_ids is missing or empty: list your Cloudflare account tags "
            "(the 32-character Account ID on the dashboard)."
        )
    if not isinstance(value, list):
        raise SettingsError("account_ids must be a list of Cloudflare account tags.")
    tags: list[str] = []
    for i, tag in enumerate(value):
        normalised = tag.strip().lower() if isinstance(tag, str) else ""
        if not ACCOUNT_TAG.fullmatch(normalised):
            # The value is not echoed: a key pasted into the wrong setting must not be printed.
            length = len(tag) if isinstance(tag, str) else 0
            raise SettingsError(
                f"account_ids[{i}] (a value of {length} characters) is not a Cloudflare account "
                "tag: expected 32 hexadecimal characters (the Account ID on the dashboard)."
            )
        if normalised in tags:
            raise SettingsError(f"account_ids lists {normalised} twice: list each account once.")
        tags.append(normalised)
    return tuple(tags)


def _credential(config: Mapping[str, Any], name: str) -> str | None:
    value = _text(config, name)
    if value is None:
        return None
    value = value.strip()
    # A header must be visible ASCII; anything else would fail later in a traceback that
    # quotes the header, secret included.
    if not VISIBLE_ASCII.fullmatch(value):
        raise SettingsError(
            f"{name} contains spaces, line breaks or non-ASCII characters: paste it again "
            "exactly as Cloudflare shows it."
        )
    return value


def _auth_headers(config: Mapping[str, Any]) -> dict[str, str]:
    token = _credential(config, "api_token")
    email = _credential(config, "api_email")
    key = _credential(config, "api_key")
    if token and (email or key):
        raise SettingsError(
            "both api_token and api_email/api_key are set: keep one authentication method "
            "(api_token is recommended)."
        )
    if token:
        return {"Authorization": f"Bearer {token}"}
    if key and not email:
        raise SettingsError(
            "api_key is set without api_email: set api_email to the e-mail of the user that "
            "owns the global API key, or use api_token instead."
        )
    if email and not key:
        raise SettingsError(
            "api_email is set without api_key: set api_key (the global API key), or use "
            "api_token instead."
        )
    if email and key:
        return {"X-Auth-Email": email, "X-Auth-Key": key}
    raise SettingsError(
        "no credentials: set api_token (an API token with Account Analytics: Read), "
        "or api_email and api_key."
    )


def _api_url(config: Mapping[str, Any]) -> str:
    url = _text(config, "api_url") or DEFAULT_API_URL
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(
            f"api_url must be an http(s) URL such as {DEFAULT_API_URL}; leave it unset for "
            "Cloudflare."
        )
    if parsed.query or parsed.username or parsed.password:
        raise SettingsError("api_url must not carry a query string or credentials.")
    if not parsed.path.rstrip("/").endswith("/graphql"):
        raise SettingsError(
            f"api_url must end with /graphql, as {DEFAULT_API_URL} does: the Stream REST "
            "streams read from the same base without it."
        )
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        raise SettingsError(
            "api_url must use https (plain http would send the credentials in clear text); "
            "http is accepted only for a stand-in on this machine: localhost, 127.x.x.x or [::1]."
        )
    return url


def _is_loopback(host: str) -> bool:
    """Exactly `localhost` or a loopback IP literal; a name like 127.0.0.1.example.com is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_settings(config: Mapping[str, Any], today: datetime.date) -> TapSettings:
    """Validate the configuration; raises SettingsError with a one-line, secret-free message."""
    account_ids = _account_ids(config)
    auth_headers = _auth_headers(config)
    start_date = _date(config, "start_date")
    end_date = _date(config, "end_date")
    if start_date and start_date > today:
        raise SettingsError(
            f"start_date {start_date} is in the future (today is {today} UTC): set a past date "
            "or leave it unset."
        )
    if start_date and end_date and end_date < start_date:
        raise SettingsError(
            f"end_date {end_date} is before start_date {start_date}: set an end_date on or "
            "after start_date, or leave it unset for today."
        )
    lookback_days = _integer(config, "lookback_days", DEFAULT_LOOKBACK_DAYS)
    if lookback_days is None or not 0 <= lookback_days <= MAX_LOOKBACK_DAYS:
        raise SettingsError(
            f"lookback_days must be between 0 and {MAX_LOOKBACK_DAYS} (days re-read before the "
            "bookmark; Cloudflare keeps 90 days)."
        )
    hourly_lookback_hours = _integer(config, "hourly_lookback_hours", DEFAULT_HOURLY_LOOKBACK_HOURS)
    if hourly_lookback_hours is None or not (
        1 <= hourly_lookback_hours <= MAX_HOURLY_LOOKBACK_HOURS
    ):
        raise SettingsError(
            f"hourly_lookback_hours must be between 1 and {MAX_HOURLY_LOOKBACK_HOURS}, got "
            f"{hourly_lookback_hours} (hours re-read before the bookmark of the hour-grained "
            f"streams; leave it unset for {DEFAULT_HOURLY_LOOKBACK_HOURS})."
        )
    page_size = _integer(config, "page_size", None)
    if page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE:
        raise SettingsError(
            f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}; leave it unset "
            "to use the dataset's maximum."
        )
    budget = _integer(config, "requests_per_5_minutes", DEFAULT_REQUESTS_PER_5_MINUTES)
    if budget is None or budget < 0:
        raise SettingsError("requests_per_5_minutes must be 0 (off) or more.")
    account_based = _boolean(config, "account_based_rate_limit", False)
    warnings: list[str] = []
    if budget > CLOUDFLARE_REQUESTS_PER_5_MINUTES and not account_based:
        warnings.append(
            f"requests_per_5_minutes {budget} is above Cloudflare's "
            f"{CLOUDFLARE_REQUESTS_PER_5_MINUTES} queries per 5 minutes per user, which locks "
            f"the user out for 5 minutes at a time: set it to {DEFAULT_REQUESTS_PER_5_MINUTES} "
            "or less, or turn on account_based_rate_limit if Cloudflare counts your queries "
            "per account."
        )
    return TapSettings(
        account_ids=account_ids,
        auth_headers=auth_headers,
        start_date=start_date,
        end_date=end_date,
        lookback_days=lookback_days,
        api_url=_api_url(config),
        page_size=page_size,
        requests_per_5_minutes=budget,
        account_based_rate_limit=account_based,
        warnings=tuple(warnings),
        emit_activate_version_messages=_boolean(config, "emit_activate_version_messages", False),
        hourly_lookback_hours=hourly_lookback_hours,
    )

"""Cloudflare's error messages, their HTTP statuses and the errors body shape."""

from __future__ import annotations

import datetime
from typing import Any

UNAUTHORIZED = "Unauthorized"
NOT_AUTHORIZED_ACCOUNT = "not authorized for that account"
RATE_LIMITED = "rate limiter budget depleted, try again after 5 minutes"


def account_rate_limited(account: str) -> str:
    """The refusal under account-based limiting (`extensions.code: "budget"`)."""
    return f"Account {account} has exceeded its rate limit. Please try again after 5 minutes."


BUSY = "too many queries in progress, please try again in a few seconds"
INTERNAL = "Internal server error"


class StandinError(Exception):
    """An error Cloudflare would answer, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def timestamp() -> str:
    """Wall-clock time as Cloudflare stamps errors (RFC 3339, UTC)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_entry(
    message: str, path: list[str | int] | None = None, code: str | None = None
) -> dict[str, Any]:
    """One element of `errors`: message, path, extensions.timestamp (and code if any)."""
    extensions: dict[str, Any] = {"timestamp": timestamp()}
    if code is not None:
        extensions["code"] = code
    return {"message": message, "path": path, "extensions": extensions}


def error_body(
    message: str, path: list[str | int] | None = None, code: str | None = None
) -> dict[str, Any]:
    """A whole errors response: data null and one error."""
    return {"data": None, "errors": [error_entry(message, path, code)]}


def limit_error(max_page_size: int) -> StandinError:
    """`limit` out of (0, maxPageSize]."""
    return StandinError(400, f"limit must be positive number and not greater than {max_page_size}")


def range_error(requested: int | None, max_duration: int) -> StandinError:
    """Date range wider than maxDuration (requested None: no lower date bound at all)."""
    asked = "unbounded" if requested is None else f"{requested}s"
    return StandinError(
        400, f"query time range is too large: {asked} requested, maximum is {max_duration}s"
    )


def too_old_error(not_older_than: int) -> StandinError:
    """Date range reaching before notOlderThan."""
    return StandinError(400, f"cannot request data older than {not_older_than}s")


HEAVY_MESSAGES = (
    "query consumed excessive resources, please try a smaller query",
    "limit reached, please try reduced time period",
    "in combination, your request queries too many nodes, zones and accounts",
)


def heavy_error(message: str) -> StandinError:
    """A query Cloudflare finds too heavy (HTTP 429, like the docs list these messages)."""
    return StandinError(429, message)


def fields_error(max_fields: int) -> StandinError:
    """More fields selected than maxNumberOfFields."""
    return StandinError(400, f"number of fields can't be more than {max_fields}")


def no_access_error(path: str) -> StandinError:
    """A dataset the account may not query (settings say enabled: false)."""
    return StandinError(403, f"does not have access to the path {path}")


# --- REST (v4) envelopes -------------------------------------------------------------------------

REST_AUTH = (10000, "Authentication error")
REST_RATE_LIMITED = (971, "Please wait and consider throttling your request speed")
REST_NO_ROUTE = (7000, "No route for that URI")
REST_INTERNAL = (10001, "Internal server error")  # the code is the stand-in's own
REST_BUSY = (10001, BUSY)  # the code is the stand-in's own
REST_BAD_PARAM = 10005  # the stand-in's code for a bad query parameter


def rest_body(result: Any, **extra: Any) -> dict[str, Any]:
    """A successful REST envelope."""
    return {"success": True, "errors": [], "messages": [], "result": result, **extra}


def rest_error_body(code: int, message: str) -> dict[str, Any]:
    """A failed REST envelope: success false, result null, one error."""
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }

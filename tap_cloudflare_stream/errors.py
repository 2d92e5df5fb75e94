"""How Cloudflare's answers map to retry-or-fail, with messages a user can act on."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import TypeVar

import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_cloudflare_stream.responses import Answer, error_messages

T = TypeVar("T")

# Cloudflare words rate limiting and overload in several ways, in any HTTP status
# (graphql-api/limits and graphql-api/errors; an HTTP 200 carrying them was reported in 2026).
RATE_LIMIT_MARKERS = (
    "rate limiter budget depleted",
    "too many queries in progress",
    "quota exceeded",
    "limit reached, please try reduced time period",
    "your request queries too many nodes",
    "query consumed excessive resources",
)
TRANSIENT_MARKERS = ("unable to execute query", "internal server error")
AUTH_MARKERS = (
    "unauthorized",
    "not authorized",
    "does not have access",
    "authentication",
    "forbidden",
)
MAX_RETRY_AFTER_SECONDS = 330.0
AUTH_FIX = (
    "check api_token (it needs the Account Analytics: Read permission for this account) "
    "or api_email/api_key"
)


class TapUserError(Exception):
    """An error the user can fix; the CLI prints its message as one line, no traceback."""


class CloudflareRateLimitError(RetriableAPIError):
    """Cloudflare refused the request for rate or load; wait (Retry-After if given) and retry."""

    def __init__(self, message: str, response: requests.Response | None, retry_after: float | None):
        super().__init__(message, response)
        self.retry_after = retry_after


class CloudflareTransientError(RetriableAPIError):
    """A server fault or a broken body; retried within seconds."""


class CloudflareAuthError(FatalAPIError, TapUserError):
    """The credentials cannot read the account."""


class CloudflareQueryError(FatalAPIError, TapUserError):
    """Cloudflare rejected the query itself (limits, validation)."""


class CloudflareResponseError(FatalAPIError, TapUserError):
    """The response has a shape the tap cannot read without losing rows."""


def retry_after_seconds(response: requests.Response) -> float | None:
    """The Retry-After header in seconds, if present and numeric."""
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    # Cloudflare's lockout lasts 5 minutes: a larger value is a proxy's mistake, not a plan.
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def classify(
    response: requests.Response, messages: list[str], where: str
) -> RetriableAPIError | FatalAPIError:
    """Turn an error response (any status, with or without GraphQL errors) into an exception.

    `where` names the account and dataset, so that the one-line error says what failed.
    """
    status = response.status_code
    text = "; ".join(messages) if messages else f"HTTP {status} {response.reason}"
    lowered = text.lower()
    if status == HTTPStatus.TOO_MANY_REQUESTS or any(m in lowered for m in RATE_LIMIT_MARKERS):
        return CloudflareRateLimitError(
            f"Cloudflare rate limit for {where}: {text}",
            response,
            retry_after_seconds(response),
        )
    if (
        status >= HTTPStatus.INTERNAL_SERVER_ERROR
        or status == HTTPStatus.REQUEST_TIMEOUT
        or any(m in lowered for m in TRANSIENT_MARKERS)
    ):
        return CloudflareTransientError(f"Cloudflare server error for {where}: {text}", response)
    if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN) or any(
        m in lowered for m in AUTH_MARKERS
    ):
        return CloudflareAuthError(f"Cloudflare refused {where}: {text}; {AUTH_FIX}.")
    if status < HTTPStatus.BAD_REQUEST or status in (
        HTTPStatus.NOT_FOUND,
        HTTPStatus.METHOD_NOT_ALLOWED,
    ):
        return CloudflareQueryError(
            f"api_url answered HTTP {status} {response.reason} for {where}: check api_url "
            "(https://api.cloudflare.com/client/v4/graphql, or the final URL of a proxy)."
        )
    return CloudflareQueryError(
        f"Cloudflare rejected the query for {where}: {text}; "
        "check start_date, end_date and page_size, or report it if the settings look right."
    )


def read_answer(response: requests.Response, decode: Callable[[bytes], Answer[T]], where: str) -> T:
    """Decode an answer, or raise what its status, body or errors mean; never an empty page."""
    if response.status_code != HTTPStatus.OK:
        raise classify(response, error_messages(response.content) or [], where)
    try:
        answer = decode(response.content)
    except msgspec.ValidationError as exc:  # a DecodeError too: it must come first
        if messages := error_messages(response.content):
            raise classify(response, messages, where) from None
        msg = f"Cloudflare sent an unexpected response for {where}: {exc}"
        raise CloudflareResponseError(msg) from None
    except msgspec.DecodeError:
        msg = f"Cloudflare sent a broken (truncated or non-JSON) body for {where}"
        raise CloudflareTransientError(msg, response) from None
    if answer.errors:
        raise classify(response, answer.errors, where)
    if answer.content is not None:
        return answer.content
    if answer.data_present:
        raise CloudflareAuthError(
            f"Cloudflare returned no account for {where}: check the account tag and that the "
            "credentials can read it (Account Analytics: Read)."
        )
    # `data: null` without errors is not an empty page: retry it, then fail.
    raise CloudflareTransientError(
        f"Cloudflare answered without data or errors for {where}", response
    )

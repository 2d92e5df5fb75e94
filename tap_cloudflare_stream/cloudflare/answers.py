"""What each Cloudflare answer means: data, or an outcome (wait, retry, narrow, fail) to act on.

Both API families answer errors in an `errors` list of `{message}` objects, in any HTTP status;
`outcome` sorts them, `classify` turns an outcome into the exception the retry policy acts on.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Generic, TypeVar

import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

T = TypeVar("T")

# Cloudflare words rate limiting and overload in several ways, in any HTTP status
# (graphql-api/limits and graphql-api/errors; an HTTP 200 carrying them was reported in 2026).
RATE_LIMIT_MARKERS = (
    "rate limiter budget depleted",
    "too many queries in progress",
    "quota exceeded",
    "consider throttling your request speed",  # REST (v4) code 971, in any HTTP status
    # Account-based limiting (`extensions.code: "budget"`): "Account <tag> has exceeded its
    # rate limit. Please try again after 5 minutes."
    "has exceeded its rate limit",
)
# The query asks for too much at once: a narrower one (fewer days, a smaller page) would pass.
NARROW_MARKERS = (
    "limit reached, please try reduced time period",
    "your request queries too many nodes",
    "query consumed excessive resources",
)
# The query starts before the retention floor: read from the floor instead.
TOO_OLD_MARKER = "cannot request data older than"
# GraphQL validation: the query names something the schema does not have (graphql-js and
# graphql-core wordings, and Cloudflare's "unknown field"; graphql-api/errors).
SCHEMA_MARKERS = (
    "cannot query field",
    "unknown field",
    "unknown argument",
    "unknown type",
    "is not defined by type",
    "does not exist in",
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
# The API token permission each API family needs: a refusal names its own.
ANALYTICS_PERMISSION = "Account Analytics: Read"  # GraphQL Analytics
STREAM_PERMISSION = "Stream: Read"  # Stream's REST catalog


class ErrorEntry(msgspec.Struct):
    """One entry of an `errors` list (GraphQL or REST); only the message matters to the tap."""

    message: str = ""


class _Envelope(msgspec.Struct):
    """The outer shape of any answer, read when the typed decode fails."""

    errors: list[ErrorEntry] | None = None


class RestEnvelope(msgspec.Struct):
    """Cloudflare's REST (v4) envelope; `result` stays plain JSON for the caller to read."""

    success: bool | None = None
    errors: list[ErrorEntry] | None = None
    result: Any = None
    total: int | None = None


@dataclass
class Answer(Generic[T]):
    """A decoded answer: its content (None without data or account), and its error messages."""

    content: T | None
    errors: list[str]
    data_present: bool


def decode_rest_envelope(content: bytes) -> Answer[RestEnvelope]:
    """A REST answer: the envelope, its error messages, or no data (retried, then an error)."""
    envelope = msgspec.json.decode(content, type=RestEnvelope)
    messages = [e.message for e in envelope.errors or [] if e.message]
    if envelope.success is False and messages:
        return Answer(None, messages, False)
    if envelope.success is not True or envelope.result is None:
        return Answer(None, [], False)  # `success: false` without errors, or `result: null`
    return Answer(envelope, [], True)


def error_messages(content: bytes) -> list[str] | None:
    """The error messages of a JSON body, or None if it is not a JSON error envelope."""
    try:
        envelope = msgspec.json.decode(content, type=_Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return [e.message for e in envelope.errors or []]


class Outcome(enum.Enum):
    """What to do about an answer that carries no data."""

    WAIT_AND_RETRY = "rate limited: wait (Retry-After, else a minute), then retry"
    RETRY_SOON = "a fault: retry within seconds"
    NARROW_QUERY = "too much at once: ask for less"
    FAIL = "fail with a message the user can act on"


def outcome(status: int, lowered_text: str) -> Outcome:
    """Sort an error answer by its HTTP status and (lower-cased) messages."""
    # Cloudflare sends a heavy query's refusal with HTTP 429 too: the message decides.
    if any(m in lowered_text for m in NARROW_MARKERS):
        return Outcome.NARROW_QUERY
    if status == HTTPStatus.TOO_MANY_REQUESTS or any(m in lowered_text for m in RATE_LIMIT_MARKERS):
        return Outcome.WAIT_AND_RETRY
    if (
        status >= HTTPStatus.INTERNAL_SERVER_ERROR
        or status == HTTPStatus.REQUEST_TIMEOUT
        or any(m in lowered_text for m in TRANSIENT_MARKERS)
    ):
        return Outcome.RETRY_SOON
    return Outcome.FAIL


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
    """Cloudflare rejected the query itself (limits, validation); `messages` are its own."""

    def __init__(self, message: str, messages: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.messages = messages


class CloudflareNarrowQueryError(FatalAPIError, TapUserError):
    """The query asked for too much at once: a narrower one (fewer days, a smaller page) may pass.

    Not retried as it is: the dataset stream narrows the query and goes on.
    """


class CloudflareTooOldError(CloudflareQueryError):
    """The query starts before Cloudflare's retention floor (which moves while a run reads)."""


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
    response: requests.Response, messages: list[str], where: str, permission: str
) -> RetriableAPIError | FatalAPIError:
    """Turn an error response (any status, with or without GraphQL errors) into an exception.

    `where` names the account and dataset, so that the one-line error says what failed;
    `permission` is what the API family needs, named when Cloudflare refuses the credentials.
    """
    status = response.status_code
    text = "; ".join(messages) if messages else f"HTTP {status} {response.reason}"
    lowered = text.lower()
    kind = outcome(status, lowered)
    if kind is Outcome.NARROW_QUERY:
        return CloudflareNarrowQueryError(f"Cloudflare found the query too heavy, {where}: {text}")
    if kind is Outcome.WAIT_AND_RETRY:
        return CloudflareRateLimitError(
            f"Cloudflare rate limit for {where}: {text}",
            response,
            retry_after_seconds(response),
        )
    if kind is Outcome.RETRY_SOON:
        return CloudflareTransientError(f"Cloudflare server error for {where}: {text}", response)
    if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN) or any(
        m in lowered for m in AUTH_MARKERS
    ):
        return CloudflareAuthError(
            f"Cloudflare refused {where}: {text}; check api_token (it needs the {permission} "
            "permission for this account) or api_email/api_key."
        )
    if TOO_OLD_MARKER in lowered:
        return CloudflareTooOldError(
            f"Cloudflare refused {where}: {text}; the data asked for is older than it keeps."
        )
    # A redirect, 404 or 405 means the URL is wrong; an HTTP 200 with errors is Cloudflare's.
    if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST or status in (
        HTTPStatus.NOT_FOUND,
        HTTPStatus.METHOD_NOT_ALLOWED,
    ):
        return CloudflareQueryError(
            f"api_url answered HTTP {status} {response.reason} for {where}: check api_url "
            "(https://api.cloudflare.com/client/v4/graphql, or the final URL of a proxy)."
        )
    # The first line of each message: a validation error may go on with the query's text.
    first_lines = "; ".join(dict.fromkeys(m.strip().split("\n", 1)[0] for m in messages))
    hint = (
        "the tap's query no longer matches Cloudflare's schema: upgrade tap-cloudflare-stream, "
        "or report it"
        if any(m in lowered for m in SCHEMA_MARKERS)
        else "check start_date, end_date and page_size, or report it if the settings look right"
    )
    return CloudflareQueryError(
        f"Cloudflare rejected the query for {where}: {first_lines or text}; {hint}.",
        tuple(messages),
    )


def read_answer(
    response: requests.Response, decode: Callable[[bytes], Answer[T]], where: str, permission: str
) -> T:
    """Decode an answer, or raise what its status, body or errors mean; never an empty page.

    `permission` is the API token permission of the family that answered (named when refused).
    """
    if response.status_code != HTTPStatus.OK:
        raise classify(response, error_messages(response.content) or [], where, permission)
    try:
        answer = decode(response.content)
    except msgspec.ValidationError as exc:  # a DecodeError too: it must come first
        if messages := error_messages(response.content):
            raise classify(response, messages, where, permission) from None
        msg = f"Cloudflare sent an unexpected response for {where}: {exc}"
        raise CloudflareResponseError(msg) from None
    except msgspec.DecodeError:
        msg = f"Cloudflare sent a broken (truncated or non-JSON) body for {where}"
        raise CloudflareTransientError(msg, response) from None
    if answer.errors:
        raise classify(response, answer.errors, where, permission)
    if answer.content is not None:
        return answer.content
    if answer.data_present:
        raise CloudflareAuthError(
            f"Cloudflare returned no account for {where}: check the account tag and that the "
            f"credentials can read it ({permission})."
        )
    # `data: null` without errors is not an empty page: retry it, then fail.
    raise CloudflareTransientError(
        f"Cloudflare answered without data or errors for {where}", response
    )

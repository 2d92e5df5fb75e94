"""Cloudflare's answers are classified into retry-with-wait, retry-soon and fail-now."""

from __future__ import annotations

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_cloudflare_stream.cloudflare.answers import (
    ANALYTICS_PERMISSION,
    CloudflareAuthError,
    CloudflareNarrowQueryError,
    CloudflareQueryError,
    CloudflareRateLimitError,
    CloudflareTooOldError,
    CloudflareTransientError,
    Outcome,
    classify,
    outcome,
)


def _response(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = "reason"
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (429, "rate limiter budget depleted, try again after 5 minutes", CloudflareRateLimitError),
        (200, "rate limiter budget depleted, try again after 5 minutes", CloudflareRateLimitError),
        (503, "too many queries in progress", CloudflareRateLimitError),
        (
            200,
            "quota exceeded, please repeat your request in the next minute",
            CloudflareRateLimitError,
        ),
        (503, "unable to execute query", CloudflareTransientError),
        (502, "", CloudflareTransientError),
        (200, "Internal server error", CloudflareTransientError),
        (401, "Unauthorized", CloudflareAuthError),
        (403, "not authorized for that account", CloudflareAuthError),
        (200, "does not have access to the path", CloudflareAuthError),
        (400, 'unknown field "foo"', CloudflareQueryError),
        (400, "query time range is too large", CloudflareQueryError),
        (408, "", CloudflareTransientError),
        (404, "", CloudflareQueryError),
        (302, "", CloudflareQueryError),
    ],
)
def test_classification(status: int, message: str, expected: type[Exception]) -> None:
    error = classify(
        _response(status), [message] if message else [], "account a, stream s", ANALYTICS_PERMISSION
    )
    assert type(error) is expected
    assert "account a, stream s" in str(error)


def test_retry_after_is_read_from_the_header() -> None:
    error = classify(_response(429, {"Retry-After": "17"}), [], "x", ANALYTICS_PERMISSION)
    assert isinstance(error, CloudflareRateLimitError)
    assert error.retry_after == 17.0
    no_header = classify(_response(429), [], "x", ANALYTICS_PERMISSION)
    assert isinstance(no_header, CloudflareRateLimitError)
    assert no_header.retry_after is None


def test_auth_errors_say_how_to_fix_them() -> None:
    error = classify(
        _response(403), ["not authorized for that account"], "account a", ANALYTICS_PERMISSION
    )
    assert "Account Analytics: Read" in str(error)


@pytest.mark.parametrize("status", [302, 404, 405])
def test_a_wrong_api_url_is_named_as_such(status: int) -> None:
    assert "check api_url" in str(
        classify(_response(status), [], "account a", ANALYTICS_PERMISSION)
    )


def test_retry_after_is_capped_near_the_five_minute_lockout() -> None:
    error = classify(_response(429, {"Retry-After": "86400"}), [], "x", ANALYTICS_PERMISSION)
    assert isinstance(error, CloudflareRateLimitError)
    assert error.retry_after == 330.0


@pytest.mark.parametrize(
    "message",
    [
        "limit reached, please try reduced time period",
        "your request queries too many nodes",
        "query consumed excessive resources",
    ],
)
@pytest.mark.parametrize("status", [200, 429, 503])
def test_a_query_asking_too_much_is_told_apart_from_a_rate_limit_and_not_waited_on(
    status: int, message: str
) -> None:
    assert outcome(status, message) is Outcome.NARROW_QUERY
    error = classify(_response(status), [message], "x", ANALYTICS_PERMISSION)
    assert type(error) is CloudflareNarrowQueryError
    assert not isinstance(error, RetriableAPIError)


def test_data_older_than_the_retention_is_told_apart() -> None:
    error = classify(
        _response(400), ["cannot request data older than 604800s"], "x", ANALYTICS_PERMISSION
    )
    assert type(error) is CloudflareTooOldError


def test_an_unknown_error_in_an_http_200_is_a_rejected_query_not_a_wrong_url() -> None:
    error = classify(
        _response(200), ['unknown field "foo"'], "account a, stream s", ANALYTICS_PERMISSION
    )
    assert type(error) is CloudflareQueryError
    assert "Cloudflare rejected the query for account a, stream s" in str(error)
    assert "check api_url" not in str(error)

"""`read_answer` and `classify` answer by answer: which exception, which line, which wait.

tests/test_errors.py and tests/test_reliability.py send these answers through whole syncs; this
module pins each decision on a bare response, fast enough to run for every mutant of
answers.py (docs/mutation.md).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_cloudflare_stream.cloudflare.answers import (
    ANALYTICS_PERMISSION,
    STREAM_PERMISSION,
    Answer,
    CloudflareAuthError,
    CloudflareNarrowQueryError,
    CloudflareQueryError,
    CloudflareRateLimitError,
    CloudflareResponseError,
    CloudflareTooOldError,
    CloudflareTransientError,
    ErrorEntry,
    RestEnvelope,
    TapUserError,
    decode_rest_envelope,
    error_messages,
    read_answer,
    retry_after_seconds,
)

WHERE = "account a1, dataset d"
REASONS = {200: "OK", 301: "Moved Permanently", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
           399: "", 300: "Multiple Choices"}  # fmt: skip


class Page(msgspec.Struct):
    """A stand-in page type: `rows` of plain JSON."""

    rows: list[Any]


def decode_page(content: bytes) -> Answer[Page]:
    page = msgspec.json.decode(content, type=Page)
    return Answer(page, [], True)


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer.reason = REASONS[status]
    answer._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer.headers.update(headers or {})
    return answer


def errors(*messages: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": m} for m in messages]}


def raised(answer: requests.Response, permission: str = ANALYTICS_PERMISSION) -> Exception:
    with pytest.raises((RetriableAPIError, FatalAPIError)) as caught:
        read_answer(answer, decode_page, WHERE, permission)
    return caught.value


def test_a_page_is_decoded() -> None:
    assert read_answer(response(200, {"rows": [1, 2]}), decode_page, WHERE, "p") == Page([1, 2])


@pytest.mark.parametrize(
    ("status", "body", "kind", "line"),
    [
        # Too heavy: narrowed, whatever the status.
        (200, errors("limit reached, please try reduced time period"), CloudflareNarrowQueryError,
         "Cloudflare found the query too heavy, account a1, dataset d: limit reached, please "
         "try reduced time period"),
        (429, errors("Your request queries too many nodes"), CloudflareNarrowQueryError,
         "Cloudflare found the query too heavy, account a1, dataset d: Your request queries too "
         "many nodes"),
        (200, errors("query consumed excessive resources"), CloudflareNarrowQueryError, None),
        # Rate limited: waited out.
        (429, None, CloudflareRateLimitError,
         "Cloudflare rate limit for account a1, dataset d: HTTP 429 Too Many Requests"),
        (200, errors("rate limiter budget depleted"), CloudflareRateLimitError,
         "Cloudflare rate limit for account a1, dataset d: rate limiter budget depleted"),
        (200, errors("Too many queries in progress"), CloudflareRateLimitError, None),
        (400, errors("quota exceeded"), CloudflareRateLimitError, None),
        (200, errors("Please consider throttling your request speed"), CloudflareRateLimitError,
         None),
        (200, errors("Account x has exceeded its rate limit."), CloudflareRateLimitError, None),
        # Faults: retried soon.
        (500, None, CloudflareTransientError,
         "Cloudflare server error for account a1, dataset d: HTTP 500 Internal Server Error"),
        (500, errors("boom"), CloudflareTransientError,
         "Cloudflare server error for account a1, dataset d: boom"),
        (503, b"<html>busy</html>", CloudflareTransientError, None),
        (408, None, CloudflareTransientError, None),
        (200, errors("unable to execute query"), CloudflareTransientError, None),
        (200, errors("Internal server error", "second"), CloudflareTransientError,
         "Cloudflare server error for account a1, dataset d: Internal server error; second"),
        # Refused credentials name the family's permission.
        (401, None, CloudflareAuthError,
         "Cloudflare refused account a1, dataset d: HTTP 401 Unauthorized; check api_token (it "
         "needs the Account Analytics: Read permission for this account) or api_email/api_key."),
        (403, errors("nope"), CloudflareAuthError, None),
        (200, errors("not authorized for that account"), CloudflareAuthError, None),
        (200, errors("Unauthorized"), CloudflareAuthError, None),
        (200, errors("user does not have access"), CloudflareAuthError, None),
        (400, errors("Authentication error"), CloudflareAuthError, None),
        (200, errors("Forbidden"), CloudflareAuthError, None),
        # Older than Cloudflare keeps.
        (400, errors("cannot request data older than 90 days"), CloudflareTooOldError,
         "Cloudflare refused account a1, dataset d: cannot request data older than 90 days; "
         "the data asked for is older than it keeps."),
        # A wrong URL.
        (404, b"not found", CloudflareQueryError,
         "api_url answered HTTP 404 Not Found for account a1, dataset d: check api_url "
         "(https://api.cloudflare.com/client/v4/graphql, or the final URL of a proxy)."),
        (405, None, CloudflareQueryError, "api_url answered HTTP 405 Method Not Allowed"),
        (301, None, CloudflareQueryError, "api_url answered HTTP 301 Moved Permanently"),
        (300, None, CloudflareQueryError, "api_url answered HTTP 300 Multiple Choices"),
        (399, None, CloudflareQueryError, "api_url answered HTTP 399 "),
        # The query itself: Cloudflare's own words, first lines once each, and a hint.
        (400, errors("Cannot query field \"x\" on type \"Y\".\nquery { x }",
                     "Cannot query field \"x\" on type \"Y\".\nagain"), CloudflareQueryError,
         "Cloudflare rejected the query for account a1, dataset d: Cannot query field \"x\" on "
         "type \"Y\".; the tap's query no longer matches Cloudflare's schema: upgrade "
         "tap-cloudflare-stream, or report it."),
        (400, errors("Syntax Error: Unexpected Name \"x\".\n\nquery {\n  x\n}"),
         CloudflareQueryError,
         "Cloudflare rejected the query for account a1, dataset d: Syntax Error: Unexpected Name "
         "\"x\".; check start_date"),
        (200, errors("Unknown argument limit"), CloudflareQueryError, "schema: upgrade"),
        (200, errors("unknown field foo"), CloudflareQueryError, "schema: upgrade"),
        (200, errors("Unknown type Foo"), CloudflareQueryError, "schema: upgrade"),
        (200, errors("field x is not defined by type Y"), CloudflareQueryError, "schema: upgrade"),
        (200, errors("dataset does not exist in this zone"), CloudflareQueryError,
         "schema: upgrade"),
        (400, errors("  bad filter  "), CloudflareQueryError,
         "Cloudflare rejected the query for account a1, dataset d: bad filter; check "
         "start_date, end_date and page_size, or report it if the settings look right."),
        (400, None, CloudflareQueryError,
         "Cloudflare rejected the query for account a1, dataset d: HTTP 400 Bad Request; check"),
        # Bodies the tap cannot read.
        (200, b'{"rows": [1', CloudflareTransientError,
         "Cloudflare sent a broken (truncated or non-JSON) body for account a1, dataset d"),
        (200, {"rows": "many"}, CloudflareResponseError,
         "Cloudflare sent an unexpected response for account a1, dataset d: Expected `array`, "
         "got `str` - at `$.rows`"),
    ],
)  # fmt: skip
def test_each_answer_raises_what_it_means(
    status: int, body: Any, kind: type[Exception], line: str | None
) -> None:
    error = raised(response(status, body))
    assert type(error) is kind
    if line is not None:
        assert line in str(error), str(error)
    assert isinstance(error, RetriableAPIError) == (
        kind in (CloudflareRateLimitError, CloudflareTransientError)
    )
    assert isinstance(error, TapUserError) != isinstance(error, RetriableAPIError)
    if isinstance(error, RetriableAPIError):  # singer-sdk's backoff log names its status
        assert error.response is not None
        assert error.response.status_code == status


def test_the_rest_family_names_its_own_permission() -> None:
    error = raised(response(401), STREAM_PERMISSION)
    assert "it needs the Stream: Read permission for this account" in str(error)


def test_a_query_error_keeps_cloudflares_messages() -> None:
    error = raised(response(400, errors("a\nb", "c")))
    assert isinstance(error, CloudflareQueryError)
    assert error.messages == ("a\nb", "c")
    assert str(error).startswith("Cloudflare rejected the query for account a1, dataset d: a; c;")


def test_errors_beside_a_readable_page_still_raise() -> None:
    def with_errors(content: bytes) -> Answer[Page]:
        return Answer(Page([]), ["rate limiter budget depleted"], True)

    with pytest.raises(CloudflareRateLimitError):
        read_answer(response(200, {"rows": []}), with_errors, WHERE, "p")


def test_data_without_the_account_is_an_auth_error_and_no_data_is_retried() -> None:
    def no_account(content: bytes) -> Answer[Page]:
        return Answer(None, [], True)

    def no_data(content: bytes) -> Answer[Page]:
        return Answer(None, [], False)

    with pytest.raises(CloudflareAuthError) as refused:
        read_answer(response(200, {}), no_account, WHERE, STREAM_PERMISSION)
    assert str(refused.value) == (
        "Cloudflare returned no account for account a1, dataset d: check the account tag and "
        "that the credentials can read it (Stream: Read)."
    )
    with pytest.raises(CloudflareTransientError) as retried:
        read_answer(response(200, {}), no_data, WHERE, "p")
    assert (
        str(retried.value) == "Cloudflare answered without data or errors for account a1, dataset d"
    )


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("12", 12.0),
        ("2.5", 2.5),
        ("-4", 0.0),
        ("330", 330.0),
        ("3600", 330.0),
    ],
)
def test_retry_after_is_read_in_seconds_within_a_lockout(
    header: str | None, seconds: float | None
) -> None:
    answer = response(429, None, {} if header is None else {"Retry-After": header})
    assert retry_after_seconds(answer) == seconds
    error = raised(answer)
    assert isinstance(error, CloudflareRateLimitError)
    assert error.retry_after == seconds
    assert error.response is answer


@pytest.mark.parametrize(
    ("body", "content", "messages", "data_present"),
    [
        ({"success": True, "errors": [], "result": [1], "total": 1}, True, [], True),
        ({"success": True, "result": {}}, True, [], True),
        ({"success": False, "errors": [{"code": 1, "message": "m"}, {"message": ""}]}, False,
         ["m"], False),
        ({"success": False, "errors": []}, False, [], False),
        ({"success": True, "result": None}, False, [], False),
        ({"result": [1]}, False, [], False),
        # Only `success: false` makes the errors an error: with success, the result is data.
        ({"success": True, "errors": [{"message": "w"}], "result": [1]}, True, [], True),
        ({"errors": [{"message": "m"}], "result": [1]}, False, [], False),
    ],
)  # fmt: skip
def test_the_rest_envelope(
    body: dict[str, Any], content: bool, messages: list[str], data_present: bool
) -> None:
    answer = decode_rest_envelope(json.dumps(body).encode())
    assert (answer.content is not None, answer.errors, answer.data_present) == (
        content,
        messages,
        data_present,
    )
    if content:
        listed = body.get("errors")
        assert answer.content == RestEnvelope(
            success=True,
            errors=None if listed is None else [ErrorEntry(e["message"]) for e in listed],
            result=body["result"],
            total=body.get("total"),
        )


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        (b'{"errors": [{"message": "a"}, {"message": "b"}]}', ["a", "b"]),
        (b'{"errors": null}', []),
        (b"{}", []),
        (b"<html>", None),
        (b'{"errors": "no"}', None),
    ],
)
def test_error_messages_of_any_body(body: bytes, messages: list[str] | None) -> None:
    assert error_messages(body) == messages

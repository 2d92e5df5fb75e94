"""The run's connection to Cloudflare: credentials, the retry policy, a budgeted session per API.

The tap builds one `CloudflareAPI` per run. Each API family has its own `CloudflareSession`
(GraphQL Analytics: 300 requests per 5 minutes per user; REST: 1,200), so every request a
stream or the settings query sends carries the credentials and spends from the right budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import backoff
import msgspec
import requests
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from tap_cloudflare_stream.cloudflare.answers import (
    ANALYTICS_PERMISSION,
    STREAM_PERMISSION,
    CloudflareRateLimitError,
)
from tap_cloudflare_stream.cloudflare.budget import (
    REST_REQUESTS_PER_5_MINUTES,
    AccountBudgets,
    RequestBudget,
)

if TYPE_CHECKING:
    from backoff.types import Details

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class CloudflareAuthenticator(APIAuthenticatorBase):
    """Adds the configured credential headers (Bearer token, or e-mail and global key)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__()
        self.auth_headers.update(headers)


class RetryPolicy:
    """When to retry, and how long to wait (DECISIONS.md); used for every request of the tap.

    Faults are retried from about a second, doubling; rate limits honour Retry-After or wait a
    minute, so 8 tries outlast Cloudflare's 5-minute lockout.
    """

    MAX_TRIES = 8
    FIRST_RETRY_SECONDS = 1.0
    LONGEST_RETRY_SECONDS = 60.0
    RATE_LIMIT_RETRY_SECONDS = 60.0
    REQUEST_TIMEOUT_SECONDS = 60
    RETRIED = (
        ConnectionResetError,
        RetriableAPIError,
        requests.exceptions.Timeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    )

    @classmethod
    def waits(cls) -> Generator[float, Any, None]:
        """The waits between tries; backoff sends each failure's exception in."""
        exception = yield 0.0  # primed by backoff before the first failure
        next_fault_wait = cls.FIRST_RETRY_SECONDS
        while True:
            if isinstance(exception, CloudflareRateLimitError):
                retry_after = exception.retry_after
                wait = cls.RATE_LIMIT_RETRY_SECONDS if retry_after is None else retry_after
            else:
                wait = next_fault_wait
                next_fault_wait = min(next_fault_wait * 2, cls.LONGEST_RETRY_SECONDS)
            exception = yield wait

    @classmethod
    def max_tries(cls) -> int:
        """Tries before giving up, read when a request starts."""
        return cls.MAX_TRIES

    @classmethod
    def retrying(cls, func: F, where: Callable[[], str], logger: logging.Logger) -> F:
        """Wrap `func` in retries: one WARNING per retry naming `where()`, nothing on giving up.

        singer-sdk's request_decorator, without backoff's own log lines: giving up is the CLI's
        one ERROR line (tap.invoke), not a second.
        """

        def on_backoff(details: Details) -> None:
            exception = details.get("exception")
            reason = (
                exception if isinstance(exception, RetriableAPIError) else type(exception).__name__
            )
            logger.warning(
                "Retrying %s in %.1f s (attempt %d of %d failed): %s",
                where(),
                details.get("wait") or 0.0,
                details.get("tries", 0),
                cls.MAX_TRIES,
                reason,
            )

        decorated: F = backoff.on_exception(
            cls.waits,
            cls.RETRIED,
            max_tries=cls.max_tries,
            on_backoff=on_backoff,
            jitter=backoff.random_jitter,
            logger=None,
        )(func)
        return decorated


class CloudflareSession(requests.Session):
    """A session for one API family: its credentials, and every attempt spends from its budget."""

    def __init__(
        self,
        auth_headers: Mapping[str, str],
        budget: RequestBudget,
        permission: str,
        account_budgets: AccountBudgets | None = None,
    ) -> None:
        super().__init__()
        self.auth = CloudflareAuthenticator(auth_headers)
        self.permission = permission  # the API token permission this family needs
        self.budget = budget
        self.account_budgets = account_budgets
        if account_budgets is not None:
            self.headers["X-Rate-Limit-Type"] = "account-based"

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Every attempt, retries included, spends from the run's shared budget (or, with
        # account-based limiting, from the budget of the account the query names).
        budget = self.budget
        if self.account_budgets is not None:
            budget = self.account_budgets.of(_account_of(request))
        with budget.request():
            return super().send(request, **kwargs)

    def call(
        self,
        url: str,
        payload: dict[str, Any],
        read: Callable[[requests.Response], T],
        where: str,
        logger: logging.Logger,
    ) -> T:
        """POST `payload` outside a stream (the settings query), retried as a stream's pages are.

        `read` turns the answer into its content or raises what it means (answers.read_answer).
        """
        prepared = self.prepare_request(requests.Request("POST", url, json=payload))

        def attempt() -> T:
            # A redirect to another host would carry X-Auth-Key along: a 3xx is an answer.
            response = self.send(
                prepared, timeout=RetryPolicy.REQUEST_TIMEOUT_SECONDS, allow_redirects=False
            )
            return read(response)

        return RetryPolicy.retrying(attempt, lambda: where, logger)()


class CloudflareAPI:
    """The run's sessions: `graphql` (Analytics) and `rest` (Stream's catalog), one per budget.

    `requests_per_5_minutes` paces GraphQL (per account when `account_based`); 0 turns every
    client-side budget off.
    """

    def __init__(
        self,
        auth_headers: Mapping[str, str],
        requests_per_5_minutes: int,
        *,
        account_based: bool = False,
    ) -> None:
        rest_limit = REST_REQUESTS_PER_5_MINUTES if requests_per_5_minutes > 0 else 0
        self.graphql = CloudflareSession(
            auth_headers,
            RequestBudget(requests_per_5_minutes),
            ANALYTICS_PERMISSION,
            AccountBudgets(requests_per_5_minutes) if account_based else None,
        )
        self.rest = CloudflareSession(auth_headers, RequestBudget(rest_limit), STREAM_PERMISSION)


class _Variables(msgspec.Struct):
    accountTag: str = ""  # noqa: N815 (GraphQL's name)


class _Query(msgspec.Struct):
    variables: _Variables | None = None


def _account_of(request: requests.PreparedRequest) -> str:
    """The account a GraphQL request names (its `accountTag` variable), or "" if none."""
    body = request.body
    if not body:
        return ""
    try:
        query = msgspec.json.decode(body, type=_Query)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ""
    return query.variables.accountTag if query.variables else ""

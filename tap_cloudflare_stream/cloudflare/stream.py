"""What every Cloudflare stream shares, whatever its API: sessions, retries, one-line errors,
one partition per account, and each answer decoded once."""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import requests
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_cloudflare_stream.cloudflare.session import (
    CloudflareAuthenticator,
    CloudflareSession,
    RetryPolicy,
)

if TYPE_CHECKING:
    from tap_cloudflare_stream.run import RunParts

_TToken = TypeVar("_TToken")
_TPage = TypeVar("_TPage")


class CloudflareRequests(RESTStream[_TToken], Generic[_TToken, _TPage]):
    """Mix in before a singer-sdk HTTP stream: its requests go through `session`, retried.

    Subclasses set `parts` (the run's `RunParts`) and `_account` (the account being read), name
    their `session` (one of the run's `CloudflareAPI` sessions) and decode an answer into a
    page in `read_page` (answers.read_answer). Each answer is decoded once, inside the retried
    call (`validate_response`), so that errors in an HTTP 200 are retried or fail like any
    other; `page()` gives parse_response and the paginator the decoded page.
    """

    # A redirect to another host would carry X-Auth-Key along (requests strips only
    # Authorization): a 3xx is reported as a wrong api_url instead.
    allow_redirects = False
    parts: RunParts
    _account = ""  # the account being read
    _page: tuple[requests.Response, _TPage] | None = None  # the last answer, decoded

    @property
    @abc.abstractmethod
    def session(self) -> CloudflareSession:
        """The session of this stream's API family: credentials, budget, permission."""

    @abc.abstractmethod
    def read_page(self, response: requests.Response) -> _TPage:
        """Decode an answer, or raise what it means (answers.read_answer)."""

    @property
    def where(self) -> str:
        """Names what is being read (account, stream) in messages; never a credential."""
        return f"account {self._account}, stream {self.name}"

    @override
    @property
    def partitions(self) -> list[dict[str, Any]]:
        return [{"account_id": account} for account in self.parts.settings.account_ids]

    @override
    def validate_response(self, response: requests.Response) -> None:
        self._page = (response, self.read_page(response))

    def page(self, response: requests.Response) -> _TPage:
        """The decoded answer (decoded now if validate_response has not seen it)."""
        if self._page is None or self._page[0] is not response:
            self.validate_response(response)
        assert self._page is not None
        return self._page[1]

    @override
    @property
    def requests_session(self) -> requests.Session:
        return self.session

    @override
    @property
    def authenticator(self) -> CloudflareAuthenticator:
        assert isinstance(self.session.auth, CloudflareAuthenticator)
        return self.session.auth

    @override
    @property
    def timeout(self) -> int:
        return RetryPolicy.REQUEST_TIMEOUT_SECONDS

    @override
    def request_decorator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return RetryPolicy.retrying(func, lambda: self.where, self.logger)

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        # singer-sdk logs this at ERROR before re-raising; the error itself becomes the run's
        # one ERROR line (tap.invoke), which names the account and stream.
        if level > logging.DEBUG and message.startswith("An unhandled error occurred"):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

"""What every Cloudflare stream shares, whatever its API: sessions, retries, one-line errors."""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_cloudflare_stream.cloudflare.session import (
    CloudflareAuthenticator,
    CloudflareSession,
    RetryPolicy,
)

_TToken = TypeVar("_TToken")


class CloudflareRequests(RESTStream[_TToken], abc.ABC):
    """Mix in before a singer-sdk HTTP stream: its requests go through `session`, retried.

    Subclasses name their `session` (one of the run's `CloudflareAPI` sessions) and classify
    answers in `validate_response` (answers.read_answer).
    """

    # A redirect to another host would carry X-Auth-Key along (requests strips only
    # Authorization): a 3xx is reported as a wrong api_url instead.
    allow_redirects = False

    @property
    @abc.abstractmethod
    def session(self) -> CloudflareSession:
        """The session of this stream's API family: credentials and budget."""

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """Names what is being read (account, stream) in messages; never a credential."""

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

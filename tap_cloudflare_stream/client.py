"""The base stream: one Cloudflare dataset, read per account, with retries and error handling."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import backoff
import requests
from singer_sdk import typing as th
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from tap_cloudflare_stream.datasets import Dataset
from tap_cloudflare_stream.errors import (
    CloudflareRateLimitError,
    CloudflareResponseError,
    read_answer,
)
from tap_cloudflare_stream.pagination import SeekPaginator, SeekToken
from tap_cloudflare_stream.queries import dataset_query, order_by, page_filter, settings_query
from tap_cloudflare_stream.record_path import LeanRecordStream
from tap_cloudflare_stream.responses import (
    DatasetLimits,
    DatasetPageDecoder,
    decode_settings,
)
from tap_cloudflare_stream.windows import Window

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_cloudflare_stream.tap import TapCloudflareStream

_JSON_TYPES = {"string": th.StringType, "integer": th.IntegerType, "number": th.NumberType}


def stream_schema(dataset: Dataset) -> dict[str, Any]:
    """The JSON schema of a dataset's records, from its declaration."""
    properties = [
        th.Property("account_id", th.StringType, required=True, description="Account tag."),
        th.Property("date", th.DateType, required=True, description="Day of the events (UTC)."),
    ]
    properties += [
        th.Property(d.column, _JSON_TYPES[d.json_type], required=True, description=d.field)
        for d in dataset.dimensions
    ]
    properties += [
        th.Property(
            m.column,
            _JSON_TYPES[m.json_type],
            required=True,
            description=m.field if m.block is None else f"{m.block}.{m.field}",
        )
        for m in dataset.metrics
    ]
    return th.PropertiesList(*properties).to_dict()


class CloudflareAuthenticator(APIAuthenticatorBase):
    """Adds the configured credential headers (Bearer token, or e-mail and global key)."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__()
        self.auth_headers.update(headers)


class CloudflareStream(LeanRecordStream):
    """Reads one dataset at its finest grain for each configured account."""

    replication_key = "date"
    is_sorted = True
    # A redirect to another host would carry X-Auth-Key along (requests strips only
    # Authorization): a 3xx is reported as a wrong api_url instead.
    allow_redirects = False

    # Retry policy (DECISIONS.md): faults retried from about a second, doubling; rate limits
    # honour Retry-After or wait a minute, so 8 tries outlast Cloudflare's 5-minute lockout.
    MAX_TRIES = 8
    FIRST_RETRY_SECONDS = 1.0
    LONGEST_RETRY_SECONDS = 60.0
    RATE_LIMIT_RETRY_SECONDS = 60.0
    REQUEST_TIMEOUT_SECONDS = 60

    def __init__(self, tap: TapCloudflareStream, dataset: Dataset) -> None:
        self.dataset = dataset
        super().__init__(tap, name=dataset.stream_name, schema=stream_schema(dataset))
        self.primary_keys = list(dataset.primary_key)
        self._decoder = DatasetPageDecoder(dataset)
        self._query = dataset_query(dataset)
        self._order_by = order_by(dataset)
        self._account = ""
        self._page_size = 0
        self.rows_read = 0  # rows received for the current account, for progress lines
        self._window: Window | None = None
        self._last_page: tuple[requests.Response, list[Any]] | None = None

    @property
    def cloudflare_tap(self) -> TapCloudflareStream:
        """The tap, typed: it holds the settings, the request budget and the limits cache."""
        return cast("TapCloudflareStream", self._tap)

    @override
    @property
    def url_base(self) -> str:
        return self.cloudflare_tap.settings.api_url

    @override
    @property
    def partitions(self) -> list[dict[str, Any]]:
        return [{"account_id": account} for account in self.cloudflare_tap.settings.account_ids]

    @override
    @cached_property
    def authenticator(self) -> CloudflareAuthenticator:
        return CloudflareAuthenticator(dict(self.cloudflare_tap.settings.auth_headers))

    @override
    @property
    def timeout(self) -> int:
        return self.REQUEST_TIMEOUT_SECONDS

    @property
    def where(self) -> str:
        """Names the account and stream in messages; never a credential."""
        return f"account {self._account}, stream {self.name}"

    # Requests

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: SeekToken | None
    ) -> dict[str, Any]:
        # GraphQLStream would send these as URL parameters too; everything travels as variables.
        return {}

    @override
    def prepare_request_payload(
        self, context: Context | None, next_page_token: SeekToken | None
    ) -> dict[str, Any]:
        assert next_page_token is not None, "every page has a window"
        window = next_page_token.window
        return {
            "query": self._query,
            "variables": {
                "accountTag": self._account,
                "filter": page_filter(
                    self.dataset, window.first_day, window.last_day, next_page_token.after
                ),
                "limit": self._page_size,
                "orderBy": self._order_by,
            },
        }

    @override
    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        # Every attempt, retries included, spends from the run's shared budget.
        with self.cloudflare_tap.budget.request():
            return super()._request(prepared_request, context)

    # Responses

    @override
    def validate_response(self, response: requests.Response) -> None:
        # Decoded once here, inside the retried call, so that errors in an HTTP 200 are retried
        # or fail like any other; parse_response and the paginator read the cached page.
        self._last_page = (response, read_answer(response, self._decoder.decode, self.where))

    def _groups(self, response: requests.Response) -> list[Any]:
        if self._last_page is None or self._last_page[0] is not response:
            self.validate_response(response)
        assert self._last_page is not None
        return self._last_page[1]

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        self.mark_extracted()
        groups = self._groups(response)
        self.rows_read += len(groups)
        return self._decoder.records(groups, self._account)

    def _last_key(self, response: requests.Response) -> tuple[Any, ...] | None:
        groups = self._groups(response)
        return self._decoder.seek_key(groups[-1]) if groups else None

    def _rows_in(self, response: requests.Response) -> int:
        return len(self._groups(response))

    @override
    def get_new_paginator(self) -> SeekPaginator:
        assert self._window is not None, "get_records sets the window"
        return SeekPaginator(self._window, self._page_size, self._last_key, self._rows_in)

    # Retries

    @override
    def request_decorator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # singer-sdk's decorator, without backoff's own log lines: each retry is logged once by
        # backoff_handler, and giving up is the CLI's one ERROR line (tap.invoke), not a second.
        return backoff.on_exception(
            self.backoff_wait_generator,
            (
                ConnectionResetError,
                RetriableAPIError,
                requests.exceptions.Timeout,
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ),
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=None,
        )(func)

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        # singer-sdk logs this at ERROR before re-raising; the error itself becomes the run's
        # one ERROR line (tap.invoke), which names the account and stream.
        if level > logging.DEBUG and message.startswith("An unhandled error occurred"):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    @override
    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        def waits() -> Generator[float, Any, None]:
            exception = yield 0.0  # primed by backoff before the first failure
            next_fault_wait = self.FIRST_RETRY_SECONDS
            while True:
                if isinstance(exception, CloudflareRateLimitError):
                    retry_after = exception.retry_after
                    wait = self.RATE_LIMIT_RETRY_SECONDS if retry_after is None else retry_after
                else:
                    wait = next_fault_wait
                    next_fault_wait = min(next_fault_wait * 2, self.LONGEST_RETRY_SECONDS)
                exception = yield wait

        return waits()

    @override
    def backoff_max_tries(self) -> int:
        return self.MAX_TRIES

    @override
    def backoff_handler(self, details: Details) -> None:
        exception = details.get("exception")
        reason = exception if isinstance(exception, RetriableAPIError) else type(exception).__name__
        self.logger.warning(
            "Retrying %s in %.1f s (attempt %d of %d failed): %s",
            self.where,
            details.get("wait") or 0.0,
            details.get("tries", 0),
            self.MAX_TRIES,
            reason,
        )

    # Settings

    def dataset_limits(self, context: Context) -> DatasetLimits:
        """This dataset's limits for the account, from one settings query per account and run."""
        account = context["account_id"]
        cache = self.cloudflare_tap.limits_cache
        if account not in cache:
            datasets = [s.dataset for s in self.cloudflare_tap.dataset_streams if s.selected]
            payload = {"query": settings_query(datasets), "variables": {"accountTag": account}}
            request = self.build_prepared_request(
                method="POST", url=self.get_url(context), json=payload, headers=self.http_headers
            )
            read_settings = cast("Any", self.request_decorator)(self._settings_request)
            cache[account] = read_settings(request, context)
        limits = cache[account].get(self.dataset.node)
        if limits is None:
            msg = f"Cloudflare sent no settings for {self.dataset.node} ({self.where})"
            raise CloudflareResponseError(msg)
        return limits

    def _settings_request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> dict[str, DatasetLimits]:
        with self.cloudflare_tap.budget.request():
            response = self.requests_session.send(
                self.authenticator(prepared_request),
                timeout=self.timeout,
                allow_redirects=self.allow_redirects,
            )
        return read_answer(response, decode_settings, f"account {self._account}, settings")

"""The base stream: one Cloudflare dataset, read per account, with retries and error handling."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Generator, Iterable
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

import backoff
import msgspec
import requests
from singer_sdk import typing as th
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform, StreamMap
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import GraphQLStream
from typing_extensions import override

from tap_cloudflare_stream.datasets import Dataset
from tap_cloudflare_stream.errors import (
    CloudflareAuthError,
    CloudflareRateLimitError,
    CloudflareResponseError,
    CloudflareTransientError,
    classify,
)
from tap_cloudflare_stream.pagination import SeekPaginator, SeekToken
from tap_cloudflare_stream.queries import dataset_query, order_by, page_filter, settings_query
from tap_cloudflare_stream.responses import (
    DatasetLimits,
    DatasetPageDecoder,
    Page,
    decode_settings,
    error_messages,
)
from tap_cloudflare_stream.windows import Window
from tap_cloudflare_stream.writer import RecordBufferingWriter

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


class CloudflareStream(GraphQLStream[SeekToken]):
    """Reads one dataset at its finest grain for each configured account."""

    replication_key = "date"
    is_sorted = True
    # Pages are decoded into typed structs, so records already match the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

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
        self._window: Window | None = None
        self._last_page: tuple[requests.Response, Page] | None = None
        # The record path (see _generate_record_messages): set once per run, page and date.
        self._record_maps: list[tuple[str, StreamMap | None]] | None = None
        self._time_extracted = datetime.datetime.now(datetime.timezone.utc)
        self._bookmarked_date: Any = None

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
        if response.status_code != HTTPStatus.OK:
            raise classify(response, error_messages(response.content) or [], self.where)
        try:
            page = self._decoder.decode(response.content)
        except msgspec.ValidationError as exc:  # a DecodeError too: it must come first
            if messages := error_messages(response.content):
                raise classify(response, messages, self.where) from None
            msg = f"Cloudflare sent an unexpected response for {self.where}: {exc}"
            raise CloudflareResponseError(msg) from None
        except msgspec.DecodeError:
            msg = f"Cloudflare sent a broken (truncated or non-JSON) body for {self.where}"
            raise CloudflareTransientError(msg, response) from None
        if page.errors:
            raise classify(response, page.errors, self.where)
        if page.groups is None:
            raise self._missing_data_error(response, page)
        self._last_page = (response, page)

    def _missing_data_error(self, response: requests.Response, page: Page) -> Exception:
        if page.data_present:
            return CloudflareAuthError(
                f"Cloudflare returned no account {self._account} for stream {self.name}: check "
                "the account tag and that the credentials can read it (Account Analytics: Read)."
            )
        # `data: null` without errors is not an empty page; retry it, then fail.
        return CloudflareTransientError(
            f"Cloudflare answered without data or errors for {self.where}", response
        )

    def _groups(self, response: requests.Response) -> list[Any]:
        if self._last_page is None or self._last_page[0] is not response:
            self.validate_response(response)
        assert self._last_page is not None
        groups = self._last_page[1].groups
        assert groups is not None
        return groups

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        # One page is extracted at one moment: its records share one time_extracted.
        self._time_extracted = datetime.datetime.now(datetime.timezone.utc)
        return self._decoder.records(self._groups(response), self._account)

    def _last_key(self, response: requests.Response) -> tuple[Any, ...] | None:
        groups = self._groups(response)
        return self._decoder.seek_key(groups[-1]) if groups else None

    def _rows_in(self, response: requests.Response) -> int:
        return len(self._groups(response))

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        try:
            yield from super().request_records(context)
        finally:
            # The writer batches RECORD lines: they go out when a window's pages stop, however
            # they stop (a STATE after the window would flush them too).
            writer = self._tap.message_writer
            if isinstance(writer, RecordBufferingWriter):
                writer.flush()

    @override
    def get_new_paginator(self) -> SeekPaginator:
        assert self._window is not None, "get_records sets the window"
        self._bookmarked_date = None  # a new window (or account): bookmark its first record
        return SeekPaginator(self._window, self._page_size, self._last_key, self._rows_in)

    # The record path. singer-sdk runs several generic steps for every record; for these
    # records most are no-ops, and together they cost more than decoding the page. Each
    # override below skips only a step that cannot change the output, and falls back to
    # singer-sdk's own code whenever a configuration could make the step matter.

    @override
    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        maps = self._record_maps
        if maps is None:
            maps = self._record_maps = self._lean_record_maps()
        if not maps:  # deselected properties or type conformance: singer-sdk's full path
            yield from super()._generate_record_messages(record)
            return
        # Records are built from the schema's own columns with typed values, every property
        # is selected and type conformance is off, so selection and conformance are no-ops.
        for alias, stream_map in maps:
            mapped = record if stream_map is None else stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=self._time_extracted,
                )

    def _lean_record_maps(self) -> list[tuple[str, StreamMap | None]]:
        """The stream maps as (alias, map or None for a plain copy), or [] if not lean."""
        if self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE:
            return []
        if not all(self.mask[("properties", name)] for name in self.schema["properties"]):
            return []
        return [
            (
                stream_map.stream_alias,
                None
                if type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
                else stream_map,
            )
            for stream_map in self.stream_maps
        ]

    @override
    def _process_record(
        self,
        record: dict[str, Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # Without child streams this only copies the partition keys into the record, and
        # records already carry their partition key, account_id.
        if self.child_streams or (
            partition_context and not partition_context.keys() <= record.keys()
        ):
            super()._process_record(record, child_context, partition_context)

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        # Records come sorted by date, thousands per date: once a window has bookmarked a
        # date, the same date again leaves the state as it is.
        date = latest_record.get(self.replication_key or "")
        if date is None or date != self._bookmarked_date:
            super()._increment_stream_state(latest_record, context=context)
            self._bookmarked_date = date

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
            datasets = [stream.dataset for stream in self.cloudflare_tap.dataset_streams]
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
                self.authenticator(prepared_request), timeout=self.timeout
            )
        where = f"account {self._account}, settings"
        if response.status_code != HTTPStatus.OK:
            raise classify(response, error_messages(response.content) or [], where)
        try:
            limits, errors, data_present = decode_settings(response.content)
        except msgspec.ValidationError as exc:  # a DecodeError too: it must come first
            if messages := error_messages(response.content):
                raise classify(response, messages, where) from None
            msg = f"Cloudflare sent an unexpected settings response for {where}: {exc}"
            raise CloudflareResponseError(msg) from None
        except msgspec.DecodeError:
            msg = f"Cloudflare sent a broken body for {where}"
            raise CloudflareTransientError(msg, response) from None
        if errors:
            raise classify(response, errors, where)
        if limits is None:
            raise self._missing_data_error(response, Page(None, [], data_present))
        return limits

"""The stream of one Analytics dataset: which days each account reads, in windows, page by page.

A `DatasetStream` is a thin reader over its `Dataset` declaration: the declaration gives the
query, schema, seek key and decoder; the run's `RunParts` give settings, the GraphQL session
and the accounts' limits; `CloudflareRequests` sends and retries; `LeanRecordStream` writes records.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import typing as th
from singer_sdk.streams import GraphQLStream
from typing_extensions import override

from tap_cloudflare_stream.analytics.datasets import Dataset, Metric
from tap_cloudflare_stream.analytics.decoding import DatasetPageDecoder
from tap_cloudflare_stream.analytics.pagination import SeekPaginator, SeekToken
from tap_cloudflare_stream.analytics.queries import dataset_query, order_by, page_filter
from tap_cloudflare_stream.analytics.windows import (
    Window,
    oldest_readable_day,
    split_windows,
    utc_today,
)
from tap_cloudflare_stream.cloudflare.answers import read_answer
from tap_cloudflare_stream.cloudflare.stream import CloudflareRequests
from tap_cloudflare_stream.records.record_path import LeanRecordStream

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_cloudflare_stream.cloudflare.session import CloudflareSession
    from tap_cloudflare_stream.run import RunParts
    from tap_cloudflare_stream.settings import TapSettings

_JSON_TYPES = {"string": th.StringType, "integer": th.IntegerType, "number": th.NumberType}


def stream_schema(dataset: Dataset) -> dict[str, Any]:
    """The JSON schema of a dataset's records, from its declaration."""
    time = dataset.time_key
    properties = [
        th.Property("account_id", th.StringType, required=True, description="Account tag."),
        th.Property(
            time.field,
            th.DateType if time.json_format == "date" else th.DateTimeType,
            required=True,
            description=time.description,
        ),
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
            description=metric_description(m),
        )
        for m in dataset.metrics
    ]
    return th.PropertiesList(*properties).to_dict()


def metric_description(metric: Metric) -> str:
    """A metric column's description; Cloudflare's counts and sums are already extrapolated."""
    source = metric.field if metric.block is None else f"{metric.block}.{metric.field}"
    if metric.field == "sampleInterval":
        return (
            f"{source}: average sampling interval of the group's events (1 = every event "
            "recorded, 10 = about one in ten). It says how much the row's counts and sums are "
            "estimates; they are already extrapolated, so do not multiply them by it."
        )
    if metric.block in (None, "sum"):
        return (
            f"{source}: Cloudflare's estimate for all events, already extrapolated when they "
            "were sampled (do not multiply by sample_interval)."
        )
    return f"{source}: average over the group's events."


class DatasetStream(
    CloudflareRequests[SeekToken], LeanRecordStream[SeekToken], GraphQLStream[SeekToken]
):
    """One Stream dataset as an incremental stream with a date bookmark per account."""

    is_sorted = True

    def __init__(self, tap: Tap, dataset: Dataset, parts: RunParts) -> None:
        self.dataset = dataset
        self.parts = parts
        super().__init__(tap, name=dataset.stream_name, schema=stream_schema(dataset))
        self.replication_key = dataset.time_key.field
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
    def tap_settings(self) -> TapSettings:
        """The run's validated settings."""
        return self.parts.settings

    @override
    @property
    def session(self) -> CloudflareSession:
        return self.parts.api.graphql

    @override
    @property
    def url_base(self) -> str:
        return self.tap_settings.api_url

    @override
    @property
    def partitions(self) -> list[dict[str, Any]]:
        return [{"account_id": account} for account in self.tap_settings.account_ids]

    @override
    @property
    def where(self) -> str:
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

    # Windows

    def _first_day(self, bookmark: datetime.date | None, oldest: datetime.date) -> datetime.date:
        """Bookmark less lookback when there is state, else start_date, else the oldest day."""
        settings = self.tap_settings
        if bookmark:
            first = bookmark - datetime.timedelta(days=settings.lookback_days)
            if settings.start_date:
                first = max(first, settings.start_date)
        else:
            first = settings.start_date or oldest
        if first < oldest:
            self.logger.warning(
                "%s: %s..%s is older than Cloudflare keeps this dataset and can no longer be "
                "read; starting at %s.",
                self.where,
                first,
                oldest - datetime.timedelta(days=1),
                oldest,
            )
            first = oldest
        return first

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None, "streams are partitioned by account"
        settings = self.tap_settings
        self._account = context["account_id"]
        limits = self.parts.account_limits.of(self._account, self.dataset, self.logger)
        if not limits.enabled:
            self.logger.warning(
                "%s: Cloudflare says %s is not enabled for this account; skipping it.",
                self.where,
                self.dataset.node,
            )
            return
        self.warn_missing_fields(limits.available_fields)
        self._page_size = self.page_size_for(limits.max_page_size)

        today = utc_today()
        oldest = oldest_readable_day(today, limits.not_older_than)
        last = min(settings.end_date or today, today)
        state = self.get_context_state(context)
        bookmark_value = state.get("replication_key_value")
        bookmark = datetime.date.fromisoformat(str(bookmark_value)[:10]) if bookmark_value else None
        first = self._first_day(bookmark, oldest)
        windows = split_windows(first, last, limits.max_duration)
        if not windows:
            self.logger.info("%s: nothing to read (%s is after %s).", self.where, first, last)
            return
        if bookmark:
            # The lookback re-reads days below the bookmark on purpose. Lowering the bookmark to
            # where this run starts keeps singer-sdk's sort check meaningful, and a run that
            # dies before its first record still resumes without a gap. Written as a plain
            # date, so that a date-time bookmark (set by hand, say) compares with record dates.
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = min(first, bookmark).isoformat()
        yield from self._read_windows(context, windows)
        if bookmark and state.get("replication_key_value", "") < bookmark.isoformat():
            # Days past the old bookmark had no rows: keep it, or each run would start earlier.
            state["replication_key_value"] = bookmark.isoformat()

    def _read_windows(self, context: Context, windows: list[Window]) -> Iterable[dict[str, Any]]:
        """Read the windows in order, writing STATE after each one."""
        self.rows_read = 0
        for number, window in enumerate(windows, start=1):
            self.logger.info(
                "%s: reading %s (window %d of %d, %d rows per page; %d rows so far).",
                self.where,
                window,
                number,
                len(windows),
                self._page_size,
                self.rows_read,
            )
            self._window = window
            yield from self.request_records(context)
            # A STATE message per window, so an interrupted run resumes near where it stopped.
            self._write_state_message()
        self.logger.info(
            "%s: done, %d rows in %d windows.", self.where, self.rows_read, len(windows)
        )

    def page_size_for(self, max_page_size: int) -> int:
        """The configured page size, lowered to the dataset's maxPageSize if above it."""
        wanted = self.tap_settings.page_size
        if wanted is None:
            return max_page_size
        if wanted > max_page_size:
            self.logger.warning(
                "%s: page_size %d is above this dataset's maxPageSize; using %d.",
                self.where,
                wanted,
                max_page_size,
            )
            return max_page_size
        return wanted

    def warn_missing_fields(self, available: list[str]) -> None:
        """Warn (never drop a column) when settings do not list a field the tap asks for."""
        if not available:
            return
        listed = set(available)
        asked = [("dimensions", f) for f in self.dataset.key_fields]
        asked += [(m.block or "", m.field) for m in self.dataset.metrics]
        missing = [
            field
            for block, field in asked
            if field not in listed and f"{block}.{field}" not in listed
        ]
        if missing:
            self.logger.warning(
                "%s: Cloudflare's availableFields for %s does not list %s; asking for them anyway.",
                self.where,
                self.dataset.node,
                ", ".join(missing),
            )

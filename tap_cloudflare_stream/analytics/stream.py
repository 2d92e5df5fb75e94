"""The stream of one Analytics dataset: which days or hours each account reads, window by window.

A `DatasetStream` is a thin reader over its `Dataset` declaration: the declaration gives the
query, schema, seek key and decoder; the run's `RunParts` give settings, the GraphQL session
and the accounts' limits; `CloudflareRequests` sends and retries; `LeanRecordStream` writes records.
"""

from __future__ import annotations

import datetime
from collections import deque
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
    DAY,
    UTC,
    Window,
    day_start,
    floor,
    oldest_readable,
    split_windows,
)
from tap_cloudflare_stream.cloudflare.answers import (
    CloudflareNarrowQueryError,
    CloudflareQueryError,
    CloudflareTooOldError,
    TapUserError,
    read_answer,
)
from tap_cloudflare_stream.cloudflare.columns import column_type
from tap_cloudflare_stream.cloudflare.stream import CloudflareRequests
from tap_cloudflare_stream.records.record_path import LeanRecordStream

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_cloudflare_stream.cloudflare.session import CloudflareSession
    from tap_cloudflare_stream.run import RunParts
    from tap_cloudflare_stream.settings import TapSettings


def stream_schema(dataset: Dataset) -> dict[str, Any]:
    """The JSON schema of a dataset's records, from its declaration."""
    time = dataset.time_key
    properties = [
        th.Property("account_id", th.StringType, required=True, description="Account tag."),
        th.Property(
            time.column,
            column_type(time.json_format).schema,
            required=True,
            description=time.description,
        ),
    ]
    properties += [
        th.Property(d.column, column_type(d.json_type).schema, required=True, description=d.field)
        for d in dataset.dimensions
    ]
    properties += [
        th.Property(
            m.column,
            column_type(m.json_type).schema,
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
    unit = f", in {metric.unit}" if metric.unit else ""
    if metric.block in (None, "sum"):
        return (
            f"{source}: Cloudflare's estimate for all events{unit}, already extrapolated when "
            "they were sampled (do not multiply by sample_interval)."
        )
    if metric.block == "quantiles":
        return f"{source}: percentile over the group's events{unit} (not additive)."
    return f"{source}: average over the group's events{unit}."


class DatasetStream(
    CloudflareRequests[SeekToken, list[Any]],
    LeanRecordStream[SeekToken],
    GraphQLStream[SeekToken],
):
    """One Stream dataset as an incremental stream with a day or hour bookmark per account."""

    is_sorted = True

    def __init__(self, tap: Tap, dataset: Dataset, parts: RunParts) -> None:
        self.dataset = dataset
        self.parts = parts
        super().__init__(tap, name=dataset.stream_name, schema=stream_schema(dataset))
        self.replication_key = dataset.time_key.column
        self.primary_keys = list(dataset.primary_key)
        self.run_audit = parts.audit  # counted by the day of the time key
        self._decoder = DatasetPageDecoder(dataset)
        self._query = dataset_query(dataset)
        self._order_by = order_by(dataset)
        self._page_size = 0
        self.rows_read = 0  # rows received for the current account, for progress lines
        self._not_older_than = 0
        self._first_token: SeekToken | None = None
        self._paginator: SeekPaginator | None = None

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
        return {
            "query": self._query,
            "variables": {
                "accountTag": self._account,
                "filter": page_filter(self.dataset, next_page_token.window, next_page_token.after),
                "limit": self._page_size,
                "orderBy": self._order_by,
            },
        }

    # Responses

    @override
    def read_page(self, response: requests.Response) -> list[Any]:
        return read_answer(response, self._decoder.decode, self.where, self.session.permission)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        self.mark_extracted()
        groups = self.page(response)
        self.rows_read += len(groups)
        return self._decoder.records(groups, self._account)

    def _last_key(self, response: requests.Response) -> tuple[Any, ...] | None:
        groups = self.page(response)
        return self._decoder.seek_key(groups[-1]) if groups else None

    def _rows_in(self, response: requests.Response) -> int:
        return len(self.page(response))

    @override
    def get_new_paginator(self) -> SeekPaginator:
        assert self._first_token is not None, "get_records sets the first page"
        self._paginator = SeekPaginator(
            self._first_token, self._page_size, self._last_key, self._rows_in
        )
        return self._paginator

    # Windows

    def _bookmark(self, value: Any) -> datetime.datetime | None:
        """A bookmark as the start of its step; a date or any ISO time parses (set by hand, say)."""
        if not value:
            return None
        text = str(value)
        try:
            if len(text) == len("YYYY-MM-DD"):
                moment = day_start(datetime.date.fromisoformat(text))
            else:
                moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
        except ValueError:
            msg = (
                f"the state's bookmark {text!r} for {self.where} is not a date or a time: "
                "fix it or remove it from the state"
            )
            raise TapUserError(msg) from None
        return floor(moment.astimezone(UTC), self.dataset.time_key.step)

    def _start(
        self, bookmark: datetime.datetime | None, oldest: datetime.datetime
    ) -> datetime.datetime:
        """Bookmark less lookback when there is state, else start_date, else the oldest step."""
        settings = self.tap_settings
        start_date = day_start(settings.start_date) if settings.start_date else None
        if bookmark:
            first = bookmark - self._lookback()
            if start_date:
                first = max(first, start_date)
        else:
            first = start_date or oldest
        if first < oldest:
            self.logger.warning(
                "%s: %s is older than Cloudflare keeps this dataset and can no longer be "
                "read; starting at %s.",
                self.where,
                Window(first, oldest, self.dataset.time_key.step),
                self.dataset.time_key.render(oldest),
            )
            first = oldest
        return first

    def _lookback(self) -> datetime.timedelta:
        """What is read again before the bookmark: lookback_days, or for hours the hours setting.

        The bookmarked step itself is always read again: it was the current, incomplete one
        when the last run read it.
        """
        if self.dataset.time_key.step >= DAY:
            return datetime.timedelta(days=self.tap_settings.lookback_days)
        return datetime.timedelta(hours=self.tap_settings.hourly_lookback_hours)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None, "streams are partitioned by account"
        settings = self.tap_settings
        self._account = context["account_id"]
        changes = self.parts.schema_changes
        if changes.skips(self.dataset):
            return  # retired, or missing a field: warned once, not asked again this run
        limits = self.parts.account_limits.of(self._account, self.dataset, self.logger)
        if limits is None:
            return  # Cloudflare retired the dataset; SchemaChanges warned once for the run
        if not limits.enabled:
            self.logger.warning(
                "%s: Cloudflare says %s is not enabled for this account; skipping it.",
                self.where,
                self.dataset.node,
            )
            return
        self.check_field_count(limits.max_number_of_fields)
        self.warn_missing_fields(limits.available_fields)
        self._page_size = self.page_size_for(limits.max_page_size)
        self._not_older_than = limits.not_older_than

        key = self.dataset.time_key
        now = self.parts.clock()
        oldest = oldest_readable(now, limits.not_older_than, key.step)
        # The current step is read too (incomplete), and read again by the next run.
        stop = floor(now, key.step) + key.step
        if settings.end_date:
            stop = min(stop, day_start(settings.end_date) + DAY)
        state = self.get_context_state(context)
        bookmark = self._bookmark(state.get("replication_key_value"))
        start = self._start(bookmark, oldest)
        # Hours break at multiples of maxDuration, so that a day costs the same at any time.
        windows = split_windows(start, stop, limits.max_duration, key.step, aligned=key.step < DAY)
        if not windows:
            self.logger.info(
                "%s: nothing to read (%s is after %s).",
                self.where,
                key.render(start),
                key.render(stop - key.step),
            )
            return
        saved = {k: state[k] for k in ("replication_key", "replication_key_value") if k in state}
        if bookmark:
            # The lookback re-reads steps below the bookmark on purpose. Lowering the bookmark
            # to where this run starts keeps singer-sdk's sort check meaningful, and a run that
            # dies before its first record still resumes without a gap. Written as the records
            # write it, so that a bookmark set by hand in another form compares with records.
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = key.render(min(start, bookmark))
        try:
            yield from self._read_windows(context, windows)
        except CloudflareQueryError as exc:
            if not changes.absorb(self.dataset, self._account, exc, self.logger):
                raise
            # A retired dataset or a missing field: the stream's state stays as it was.
            state.pop("replication_key", None)
            state.pop("replication_key_value", None)
            state.update(saved)
            return
        after_run = self._bookmark(state.get("replication_key_value"))
        if bookmark and (after_run is None or after_run < bookmark):
            # Steps past the old bookmark had no rows: keep it, or each run would start earlier.
            state["replication_key_value"] = key.render(bookmark)

    def _read_windows(self, context: Context, windows: list[Window]) -> Iterable[dict[str, Any]]:
        """Read the windows in order, writing STATE after each; narrow a query too heavy."""
        self.rows_read = 0
        pending = deque(SeekToken(window) for window in windows)
        number = 0
        while pending:
            token = self._inside_retention(pending.popleft())
            if token is None:
                continue
            number += 1
            self.logger.info(
                "%s: reading %s (window %d of %d, %d rows per page; %d rows so far).",
                self.where,
                token.window,
                number,
                number + len(pending),
                self._page_size,
                self.rows_read,
            )
            self._first_token = token
            try:
                yield from self.request_records(context)
            except CloudflareNarrowQueryError as exc:
                # Pages already read stay read: go on from the page that was refused.
                pending.extendleft(reversed(self._narrowed(self._failed_token(), exc)))
                number -= 1
                continue
            except CloudflareTooOldError:
                # The retention floor moved while reading (a run crossing midnight, or the hour
                # for hour-grained datasets): go on from the new floor, or fail if it did not.
                failed = self._failed_token()
                moved = self._inside_retention(failed)
                if moved == failed:
                    raise
                if moved is not None:
                    pending.appendleft(moved)
                number -= 1
                continue
            # A STATE after each window, as the cadence allows (records/state.py), so that an
            # interrupted run resumes near where it stopped.
            self.write_state_message()
        self.logger.info("%s: done, %d rows in %d windows.", self.where, self.rows_read, number)

    def _failed_token(self) -> SeekToken:
        assert self._paginator is not None, "a page was asked for"
        return self._paginator.current_value

    def _inside_retention(self, token: SeekToken) -> SeekToken | None:
        """The token's window from the retention floor as of now; None if it is all older."""
        window = token.window
        oldest = oldest_readable(self.parts.clock(), self._not_older_than, window.step)
        if window.start >= oldest:
            return token
        key = self.dataset.time_key
        if window.end <= oldest:
            self.logger.warning(
                "%s: %s has just left Cloudflare's retention; skipping it.", self.where, window
            )
            return None
        self.logger.warning(
            "%s: Cloudflare's retention floor moved to %s while reading; reading %s from there.",
            self.where,
            key.render(oldest),
            window,
        )
        return SeekToken(Window(oldest, window.end, window.step), token.after)

    def _narrowed(self, token: SeekToken, exc: CloudflareNarrowQueryError) -> list[SeekToken]:
        """A narrower query for what `token` asked: half the window, else half the page."""
        window = token.window
        grain = "day" if window.step >= DAY else "hour"
        if window.steps > 1:
            first, second = window.halves()
            self.logger.warning(
                "%s: Cloudflare found %s too heavy (%s); reading it as %s and %s.",
                self.where,
                window,
                exc,
                first,
                second,
            )
            return [SeekToken(first, token.after), SeekToken(second, token.after)]
        if self._page_size > 1:
            self._page_size //= 2
            self.logger.warning(
                "%s: Cloudflare found %s too heavy (%s) one %s at a time; asking %d rows a page.",
                self.where,
                window,
                exc,
                grain,
                self._page_size,
            )
            return [token]
        msg = (
            f"{exc}; the tap narrowed the query to one {grain} ({window}) and 1-row pages and "
            "Cloudflare still refused it: try again later, or report it"
        )
        raise CloudflareNarrowQueryError(msg) from None

    def check_field_count(self, max_fields: int) -> None:
        """Fail before asking when the query selects more fields than Cloudflare allows."""
        asked = self.dataset.field_count
        if asked > max_fields:
            msg = (
                f"{self.where}: the tap asks for {asked} fields of {self.dataset.node} and "
                f"Cloudflare allows this account {max_fields} (maxNumberOfFields): deselect "
                f"stream {self.name}, or report it"
            )
            raise CloudflareQueryError(msg)

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
                "%s: Cloudflare's availableFields for %s does not list %s; asking for them anyway. "
                "If Cloudflare retired them, this stream's query fails (the others go on): "
                "upgrade tap-cloudflare-stream, or deselect stream %s.",
                self.where,
                self.dataset.node,
                ", ".join(missing),
                self.name,
            )

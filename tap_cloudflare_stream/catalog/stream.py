"""The stream of one Stream REST resource: per account, every item, as its declaration says.

A `CatalogStream` reads its `Resource` (resources.py) over the run's REST session: the
credentials, the REST budget (1,200 requests per 5 minutes), retries and the classification of
answers are the GraphQL streams' (`CloudflareRequests`, `answers.read_answer`). Three things are
its own:

- **Permission.** A token without Stream: Read gets HTTP 403: the account is skipped for this
  stream with one WARNING, and the run goes on (the analytics streams need another permission).
- **Deletions.** A versioned resource (videos, live inputs) is a full table. Its records carry
  this run's table version, and once every account has been listed completely the stream sends
  ACTIVATE_VERSION: a target that supports it (target-postgres `activate_version`) then marks
  every row of an older version, i.e. every item no longer listed, as deleted. singer-sdk would
  send it before the records; sending it after them means a run that fails, or skips an account
  (403), deletes nothing.
- **Counts.** `include_counts=true` gives Cloudflare's `total`; a listing of another size is a
  WARNING naming the account and both numbers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_cloudflare_stream.catalog.pagination import PAGE_LIMIT, CreatedCursorPaginator
from tap_cloudflare_stream.catalog.resources import Resource
from tap_cloudflare_stream.cloudflare.answers import (
    CloudflareResponseError,
    RestEnvelope,
    decode_rest_envelope,
    read_answer,
)
from tap_cloudflare_stream.cloudflare.stream import CloudflareRequests
from tap_cloudflare_stream.records.record_path import LeanRecordStream

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_cloudflare_stream.cloudflare.session import CloudflareSession
    from tap_cloudflare_stream.run import RunParts

PERMISSION = "Stream: Read"
Token = str | None  # the next `start` of List videos; None for the first page


@dataclass(frozen=True)
class CatalogPage:
    """One answer: its items, where the declaration says they are, and Cloudflare's total."""

    items: list[Mapping[str, Any]]
    total: int | None


class StreamReadDeniedError(FatalAPIError):
    """HTTP 403: the credentials may not read this resource of the account."""


class CatalogStream(
    CloudflareRequests[Token, CatalogPage], LeanRecordStream[Token], RESTStream[Token]
):
    """One Stream REST resource, partitioned by account."""

    page_limit = PAGE_LIMIT  # videos per List videos request

    def __init__(self, tap: Tap, resource: Resource, parts: RunParts) -> None:
        self.resource = resource
        self.parts = parts
        super().__init__(tap, name=resource.stream_name, schema=resource.schema())
        self.path = resource.path
        self.primary_keys = list(resource.primary_key)
        self.replication_key = resource.read_date  # None: a full table
        self.run_audit = parts.audit
        self.audit_by_listing = resource.versioned  # a listing of the whole library
        self._paginator: CreatedCursorPaginator | None = None
        self._total: int | None = None
        self._listed = 0
        self._pages = 0
        self._skipped: list[str] = []
        self._versioned = False  # this sync sends ACTIVATE_VERSION after its records

    @override
    @property
    def session(self) -> CloudflareSession:
        return self.parts.api.rest

    @override
    @property
    def url_base(self) -> str:
        return self.parts.settings.rest_url

    @override
    @property
    def emit_activate_version_messages(self) -> bool:
        # singer-sdk would send ACTIVATE_VERSION before the records; this stream sends it after
        # them, in after_records, and only when every account was listed.
        return False

    @override
    @property
    def audit_column(self) -> str | None:
        # Records that carry their listing's id (`listing_id`) are counted per listing; without
        # the column, a run's listing of an account counts as one listing.
        if self.audit_by_listing:
            return "listing_id" if "listing_id" in self.schema["properties"] else None
        return self.replication_key

    @property
    def tracks_deletions(self) -> bool:
        """Whether this run sends ACTIVATE_VERSION (emit_activate_version_messages, default on)."""
        return self.resource.versioned and self.parts.settings.emit_activate_version_messages

    def _backfill(self) -> bool:
        """A run with an end_date and no saved state of this stream: a backfill or a heal.

        Such a run (`meltano run --full-refresh` with start and end dates, as the heal command
        of docs/audit.md for one account) may list only some accounts, and a table version
        covers the whole table: activating it would mark every other account as deleted.
        """
        saved = self.tap_state.get("bookmarks", {}).get(self.name, {})
        return self.parts.settings.end_date is not None and not saved.get("partitions")

    # Requests

    @override
    def get_url_params(self, context: Context | None, next_page_token: Token) -> dict[str, Any]:
        params: dict[str, Any] = dict(self.resource.params)
        if self.resource.created_cursor:
            params["limit"] = str(self.page_limit)
            if next_page_token is not None:
                params["start"] = next_page_token
        return params

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[Token]:
        if not self.resource.created_cursor:
            self._paginator = None
            return cast("BaseAPIPaginator[Token]", SinglePagePaginator())
        self._paginator = CreatedCursorPaginator(self.page_limit, self._items, lambda: self.where)
        return self._paginator

    # Responses

    @override
    def read_page(self, response: requests.Response) -> CatalogPage:
        if response.status_code == HTTPStatus.FORBIDDEN:
            raise StreamReadDeniedError(f"HTTP 403 for {self.where}", response)
        envelope = read_answer(response, decode_rest_envelope, self.where, self.session.permission)
        return CatalogPage(self._items_of(envelope), envelope.total)

    def _items(self, response: requests.Response) -> list[Mapping[str, Any]]:
        return self.page(response).items

    def _items_of(self, envelope: RestEnvelope) -> list[Mapping[str, Any]]:
        """The items of an answer, where the declaration says they are."""
        result = envelope.result
        items: Any
        if self.resource.single:
            items = [result]
        elif self.resource.items_at is not None:
            items = result.get(self.resource.items_at) if isinstance(result, dict) else None
            if isinstance(result, dict) and isinstance(result.get("total"), int):
                envelope.total = result["total"]
        else:
            items = result
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            shape = "an object" if self.resource.single else f"a list of {self.resource.item_name}s"
            raise CloudflareResponseError(
                f"Cloudflare sent an unexpected result ({type(result).__name__}) for "
                f"{self.where}: expected {shape}."
            )
        return items

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        self.mark_extracted()
        page = self.page(response)
        items = page.items
        if self._pages == 0:
            self._total = page.total  # of the whole listing: the first page has no start
        self._pages += 1
        if self._paginator is not None:
            items = self._paginator.fresh(items)
        self._listed += len(items)
        today = self.parts.clock().date()  # the run's clock: storage_usage's `date`
        try:
            return [self.resource.record(self._account, item, today) for item in items]
        except ValueError as exc:
            raise CloudflareResponseError(f"Cloudflare sent {exc} for {self.where}") from None

    # Accounts and the run

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None, "streams are partitioned by account"
        self._account = context["account_id"]
        self._total, self._listed, self._pages = None, 0, 0
        self.logger.info("%s: listing %s.", self.where, self.resource.path.rsplit("/", 1)[-1])
        try:
            yield from self.request_records(context)
        except StreamReadDeniedError:
            self._skipped.append(self._account)
            self.logger.warning(
                "%s: skipped: the credentials lack the %s permission for this account (HTTP 403). "
                "The analytics streams are not affected; add %s to the API token to sync %s.",
                self.where,
                PERMISSION,
                PERMISSION,
                self.name,
            )
            return
        self.logger.info(
            "%s: done, %s in %d request%s.",
            self.where,
            self.resource.items(self._listed),
            self._pages,
            "" if self._pages == 1 else "s",
        )
        if self._total is not None and self._total != self._listed:
            self.logger.warning(
                "%s: listed %s but Cloudflare's total is %d (added or deleted during the "
                "listing?); the next run lists the whole library again.",
                self.where,
                self.resource.items(self._listed),
                self._total,
            )

    @override
    def before_records(self, context: Context | None, *, write_messages: bool) -> None:
        self._versioned = self.tracks_deletions and context is None and write_messages
        if self._versioned and self._backfill():
            self._versioned = False
            self.logger.info(
                "stream %s: an end_date and no saved state (a backfill, or a heal): no "
                "ACTIVATE_VERSION, so the accounts this run does not list keep their rows current.",
                self.name,
            )
        if self._versioned:
            self.stream_version = int(time.time() * 1000)  # records carry it
        self._skipped = []

    @override
    def after_records(self, context: Context | None, *, write_messages: bool) -> None:
        if not self._versioned or not self.selected:
            return
        assert self.stream_version is not None
        if self._skipped:
            self.logger.warning(
                "stream %s: not activating this run's table version, since account(s) %s were "
                "skipped: rows that are no longer listed stay current until a run lists every "
                "account.",
                self.name,
                ", ".join(self._skipped),
            )
            return
        self.write_activate_version_message(self.stream_version)

"""The stream of one Stream REST resource: per account, every item, as its declaration says.

A `CatalogStream` reads its `Resource` (resources.py) over the run's REST session: the
credentials, the REST budget (1,200 requests per 5 minutes), retries and the classification of
answers are the GraphQL streams' (`CloudflareRequests`, `answers.read_answer`). What is its own:

- **Listings.** A versioned resource (videos, live inputs) is listed whole for each account, as
  a `Listing` (listings.py): every record carries the listing's `listing_id`, and after its
  records the listing's `catalog_listings` row says whether it was complete: every page read,
  every answer well-formed (each item once, `created` on every video, a `total`), and as many
  items as Cloudflare's `total`. A count that disagrees is normal when a video is uploaded or
  deleted meanwhile: the account is listed once more, and the first listing is recorded as
  incomplete ("re-listed"). A listing that stays incomplete gets one WARNING naming the account,
  the stream and why; the models then treat nothing of that account as deleted.
- **Permission.** A token without Stream: Read gets HTTP 403: the account is skipped for this
  stream with one WARNING (an incomplete listing), and the run goes on (the analytics streams
  need another permission).
- **ACTIVATE_VERSION**, when `emit_activate_version_messages` is on: records carry this run's
  table version, and after the last account the stream sends ACTIVATE_VERSION, only if every
  configured account's listing was complete (else one WARNING saying why not). singer-sdk would
  send it before the records; after them, a run that fails, skips an account or lists one
  incompletely deletes nothing. Batch mode sends none: BATCH files carry no version.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_cloudflare_stream.catalog.listings import Listing, ListingsStream
from tap_cloudflare_stream.catalog.pagination import (
    PAGE_LIMIT,
    CreatedCursorPaginator,
    created_of,
)
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

    def __init__(
        self, tap: Tap, resource: Resource, parts: RunParts, listings: ListingsStream
    ) -> None:
        self.resource = resource
        self.parts = parts
        self.listings = listings
        super().__init__(tap, name=resource.stream_name, schema=resource.schema())
        self.path = resource.path
        self.primary_keys = list(resource.primary_key)
        self.replication_key = resource.read_date  # None: a full table
        self._paginator: CreatedCursorPaginator | None = None
        self._listing: Listing | None = None  # the listing under way
        self._pages = 0
        self._finished: list[Listing] = []  # this sync's listings, in order
        self._held: list[Listing] = []  # batch mode: rows waiting for their BATCH messages
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
        # them, in after_records, and only when every account was listed completely.
        return False

    @property
    def tracks_deletions(self) -> bool:
        """Whether ACTIVATE_VERSION is asked for (emit_activate_version_messages, default off)."""
        return self.resource.versioned and self.parts.settings.emit_activate_version_messages

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
        if self._paginator is not None:
            items = self._paginator.fresh(items)
        listing = self._listing
        if listing is not None:
            if self._pages == 0:
                listing.total = page.total  # of the whole listing: the first page has no start
            items = self._new_items(listing, items)
        self._pages += 1
        today = self.parts.clock().date()  # the run's clock: storage_usage's `date`
        listed = listing.listing_id if listing is not None else None
        try:
            return [self.resource.record(self._account, item, today, listed) for item in items]
        except ValueError as exc:
            raise CloudflareResponseError(f"Cloudflare sent {exc} for {self.where}") from None

    def _new_items(
        self, listing: Listing, items: list[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        """The items the listing has not listed yet; a repeat or a video without `created` is
        noted as a problem of the listing (the overlap of pages was dropped already)."""
        fresh = []
        for item in items:
            uid = item.get("uid")
            if isinstance(uid, str) and uid in listing.listed:
                listing.problems.append(f"Cloudflare listed {self.resource.item_name} {uid} twice")
                continue
            if self.resource.created_cursor and created_of(item) is None:
                listing.problems.append(
                    f"Cloudflare sent {self.resource.item_name} {uid} without a usable created "
                    f"({item.get('created')!r}), which the listing pages by"
                )
            if isinstance(uid, str):
                listing.listed.add(uid)
            fresh.append(item)
        return fresh

    # Accounts and the run

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None, "streams are partitioned by account"
        self._account = context["account_id"]
        if not self.resource.versioned:
            yield from self._read_once(context)
            return
        listing = self.listings.start(self.name, self._account)
        yield from self._list(context, listing)
        if self._relist(listing):
            self._finish(listing)
            listing = self.listings.start(self.name, self._account)
            yield from self._list(context, listing)
            if listing.reason is not None and listing.finished_at is not None:
                listing.reason += " (listed twice)"
        self._finish(listing, warn=listing.finished_at is not None)

    def _read_once(self, context: Context) -> Iterator[dict[str, Any]]:
        """A resource that is not listed (storage use): its records, or the 403 skip."""
        self._listing, self._pages = None, 0
        try:
            yield from self.request_records(context)
        except StreamReadDeniedError:
            self._warn_denied()

    def _list(self, context: Context, listing: Listing) -> Iterator[dict[str, Any]]:
        """The listing's records; afterwards, it is finished and says why if incomplete."""
        self._listing, self._pages = listing, 0
        noun = self.resource.path.rsplit("/", 1)[-1]
        self.logger.info("%s: listing %s (listing %s).", self.where, noun, listing.listing_id)
        try:
            yield from self.request_records(context)
        except StreamReadDeniedError:
            self._warn_denied()
            listing.reason = f"skipped: no {PERMISSION} permission (HTTP 403)"
            return
        listing.finished_at = datetime.datetime.now(datetime.timezone.utc)
        listing.items_listed = len(listing.listed)
        self.logger.info(
            "%s: done, %s in %d request%s.",
            self.where,
            self.resource.items(listing.items_listed),
            self._pages,
            "" if self._pages == 1 else "s",
        )
        if listing.problems:
            problems = list(dict.fromkeys(listing.problems))  # each once, the first few named
            more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
            listing.reason = "; ".join(problems[:3]) + more
        elif listing.total is None:
            listing.reason = "Cloudflare sent no total to check the listing against"
        elif listing.total != listing.items_listed:
            listing.reason = (
                f"listed {self.resource.items(listing.items_listed)} but Cloudflare's total "
                f"is {listing.total}"
            )

    def _relist(self, listing: Listing) -> bool:
        """Whether to list the account once more: only the count disagreed with `total`."""
        if listing.finished_at is None or listing.complete:
            return False  # skipped (403), or complete
        if listing.problems or listing.total is None:
            return False  # a malformed answer: listing again would not mend it
        self.logger.info(
            "%s: %s (added or deleted during the listing?): listing it again.",
            self.where,
            listing.reason,
        )
        listing.reason = f"re-listed: {listing.reason}"
        return True

    def _finish(self, listing: Listing, *, warn: bool = False) -> None:
        """Record the listing (its row follows its records); `warn` when it is incomplete."""
        self._listing = None
        listing.listed = set()  # its count is kept; a large library's uids need not be
        self._finished.append(listing)
        if warn and not listing.complete:
            self.logger.warning(
                "%s: incomplete listing %s: %s; nothing of this account is treated as deleted "
                "until a listing is complete.",
                self.where,
                listing.listing_id,
                listing.reason,
            )
        if self.in_batch_sync:
            self._held.append(listing)  # after the BATCH messages naming its records
        else:
            self.listings.write(listing)
            self.flush_output()  # now: no STATE may follow to flush it (the run's end does not)

    def _warn_denied(self) -> None:
        self.logger.warning(
            "%s: skipped: the credentials lack the %s permission for this account (HTTP 403). "
            "The analytics streams are not affected; add %s to the API token to sync %s.",
            self.where,
            PERMISSION,
            PERMISSION,
            self.name,
        )

    @override
    def before_records(self, context: Context | None, *, write_messages: bool) -> None:
        self._finished, self._held = [], []
        self._versioned = self.tracks_deletions and context is None and write_messages
        if self._versioned:
            self.stream_version = int(time.time() * 1000)  # records carry it
        elif self.tracks_deletions and not write_messages:
            self.logger.warning(
                "stream %s: emit_activate_version_messages is ignored in batch mode: BATCH files "
                "carry no table version, so no ACTIVATE_VERSION is sent. The listing_id column "
                "and catalog_listings still tell the current items (docs/deletions.md).",
                self.name,
            )

    @override
    def after_batches(self, context: Context | None) -> None:
        self.listings.write(*self._held)  # in one batch file, after the BATCH messages
        self._held = []

    @override
    def after_records(self, context: Context | None, *, write_messages: bool) -> None:
        if not self._versioned or not self.selected:
            return
        assert self.stream_version is not None
        incomplete = [listing for listing in self._final_listings() if not listing.complete]
        if incomplete:
            self.logger.warning(
                "stream %s: ACTIVATE_VERSION not sent: the listing of %s was incomplete, so rows "
                "no longer listed stay as they are until a run lists every account completely.",
                self.name,
                ", ".join(f"account {x.account_id} ({x.reason})" for x in incomplete),
            )
            return
        self.write_activate_version_message(self.stream_version)

    def _final_listings(self) -> list[Listing]:
        """Each account's last listing of this sync."""
        last = {listing.account_id: listing for listing in self._finished}
        return list(last.values())

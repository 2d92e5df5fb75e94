"""Listings: what each read of a catalog list saw, and the `catalog_listings` stream of them.

A listing is one read of a versioned resource's whole list for one account (every page of List
videos, or the one answer of List live inputs). Each record it yields carries its `listing_id`,
the listing's UTC start as fixed-width text (`20261206T041714.123456Z`): compared as text, ids
sort in the order the listings started, on every warehouse. When the listing ends, one
`catalog_listings` row, written after its records, says how many items it listed, Cloudflare's
`total`, and whether it was complete (every page read, every answer well-formed, and the count
equal to `total`) or why not. The models take each account's latest complete listing as its
current catalog; an incomplete one deletes nothing (docs/deletions.md).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_cloudflare_stream.sdk_seam import SeamPushStream

if TYPE_CHECKING:
    from singer_sdk import Tap

STREAM_NAME = "catalog_listings"
_UTC = datetime.timezone.utc


def listing_id(moment: datetime.datetime) -> str:
    """`20261206T041714.123456Z`: a UTC time as fixed-width text that sorts as time does."""
    return moment.astimezone(_UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Listing:
    """One listing of one stream for one account, filled in as its pages arrive."""

    stream: str
    account_id: str
    started_at: datetime.datetime
    listed: set[str] = field(default_factory=set)  # uids listed so far, while it runs
    items_listed: int = 0  # distinct items, once it ended
    total: int | None = None  # Cloudflare's total, from the first page
    problems: list[str] = field(default_factory=list)  # what was malformed, in the answers
    finished_at: datetime.datetime | None = None
    reason: str | None = None  # why it is incomplete; None: complete

    @property
    def listing_id(self) -> str:
        """The id every record of the listing carries."""
        return listing_id(self.started_at)

    @property
    def complete(self) -> bool:
        """Finished, with no reason against it."""
        return self.finished_at is not None and self.reason is None

    def record(self) -> dict[str, Any]:
        """The listing's `catalog_listings` row."""
        return {
            "stream": self.stream,
            "account_id": self.account_id,
            "listing_id": self.listing_id,
            "started_at": _rfc3339(self.started_at),
            "finished_at": _rfc3339(self.finished_at) if self.finished_at else None,
            "items_listed": self.items_listed,
            "cloudflare_total": self.total,
            "complete": self.complete,
            "reason": self.reason,
        }


SCHEMA = th.PropertiesList(
    th.Property("stream", th.StringType, required=True, description="videos or live_inputs."),
    th.Property("account_id", th.StringType, required=True),
    th.Property(
        "listing_id",
        th.StringType,
        required=True,
        description="The listing's UTC start as sortable text (20261206T041714.123456Z); the "
        "listing_id of the items it listed.",
    ),
    th.Property("started_at", th.DateTimeType, required=True),
    th.Property("finished_at", th.DateTimeType, description="Null when it was skipped."),
    th.Property("items_listed", th.IntegerType, required=True, description="Distinct items."),
    th.Property(
        "cloudflare_total", th.IntegerType, description="Cloudflare's total; null when absent."
    ),
    th.Property(
        "complete",
        th.BooleanType,
        required=True,
        description="Every page read and well-formed, and items_listed equal to "
        "cloudflare_total: the account's current catalog is what it listed.",
    ),
    th.Property("reason", th.StringType, description="Why it is incomplete; null if complete."),
).to_dict()


class ListingsStream(SeamPushStream):
    """`catalog_listings`: one row per listing, written by the catalog streams as they list."""

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap, name=STREAM_NAME, schema=SCHEMA)
        self.primary_keys = ["stream", "account_id", "listing_id"]
        self._last: datetime.datetime | None = None

    @override
    @property
    def emit_activate_version_messages(self) -> bool:
        # Listings are history, never versions of one table: no row of it is ever "deleted".
        return False

    def start(self, stream: str, account: str) -> Listing:
        """A new listing, started now: its id is later than any this process gave before."""
        now = datetime.datetime.now(_UTC)  # the wall clock, like a record's time_extracted
        if self._last is not None and now <= self._last:
            now = self._last + datetime.timedelta(microseconds=1)
        self._last = now
        return Listing(stream, account, now)

    def write(self, *listings: Listing) -> None:
        """Write the listings' rows now, when the stream is selected."""
        if self.selected and listings:
            self.write_records([listing.record() for listing in listings])

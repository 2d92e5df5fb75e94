"""The run's audit: how many RECORD messages the tap wrote, per stream, account, day and listing.

Streams count what they write (records/record_path.py) and hand their counts over here at the
end of each window or account; the `sync_audit` stream (audit/stream.py) writes them last. The
run's start is read from the wall clock, as the records' `time_extracted` is, and floored to
the second: every record of the run was extracted at or after it, even in a target that keeps
whole seconds, so a warehouse can tell this run's rows from older ones (docs/audit.md).
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

UTC = datetime.timezone.utc
# A listing's id: its start as fixed-width UTC text, which sorts as the listings started.
LISTING_ID_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def listing_id_of(moment: datetime.datetime) -> str:
    """A moment as a listing id, `20261206T041714.123456Z`: UTC text that sorts as time does.

    A listing's records carry it (catalog/listings.py), and the audit counts them under it.
    """
    return moment.astimezone(UTC).strftime(LISTING_ID_FORMAT)


class AuditRow(NamedTuple):
    """One row of `sync_audit`'s counts: its key and the RECORD messages written."""

    stream: str
    account_id: str
    day: str  # YYYY-MM-DD
    listing_id: str
    rows_emitted: int


class RunAudit:
    """The counts of one run, its id and its start."""

    def __init__(self, started_at: datetime.datetime | None = None) -> None:
        moment = started_at or datetime.datetime.now(UTC)
        self.run_id = uuid.uuid4().hex
        self.started_at = moment.astimezone(UTC).replace(microsecond=0)
        # Streams without listings count as one reading per run, with this as their listing id.
        self.listing_id = listing_id_of(self.started_at)
        self._counts: Counter[tuple[str, str, str, str]] = Counter()

    def add(
        self, account_id: str, stream: str, counts: Mapping[Any, int], *, by_listing: bool
    ) -> None:
        """Counts of one stream and account: value of the column counted by -> messages.

        The value is a date or a date-time (the day is its UTC date), or with `by_listing` a
        listing id (the day is the listing's start date); None counts as this run's.
        """
        for value, rows in counts.items():
            if by_listing:
                listing = str(value) if value else self.listing_id
                day = _listing_day(listing) or self.started_at.date().isoformat()
            else:
                listing = self.listing_id
                day = str(value)[:10] if value else self.started_at.date().isoformat()
            self._counts[(stream, account_id, day, listing)] += rows

    def rows(self) -> Iterator[AuditRow]:
        """Every count, in key order."""
        for key in sorted(self._counts):
            yield AuditRow(*key, self._counts[key])


def _listing_day(listing_id: str) -> str | None:
    """The start date of a listing id in LISTING_ID_FORMAT, else None."""
    digits = listing_id[:8]
    if len(digits) != len("YYYYMMDD") or not digits.isdigit():
        return None
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"

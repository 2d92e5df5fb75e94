"""The `created` cursor: every video of a library exactly once, however `start` is read.

List videos has no page token: a client asks `asc=true` pages of up to 1,000 and moves `start`
("created after") forward. Many videos can share one `created` second, a page can end inside
such a tie group, and Cloudflare has not said whether `start` is inclusive or exclusive. So the
next `start` is the page's greatest `created` **minus one unit** of its precision (1 s for whole
seconds, 1 µs with fractions): the next page then begins at or before the tail tie group under
both readings, never after it. Videos listed twice are those of the overlap (created at or after
the new `start`); the paginator remembers their uids and the stream drops them. A page that is
full and yet does not move `start` forward (more videos in one second than a page holds) is an
error: moving on would skip videos. A video without a usable `created` is not used for the next
`start` (the stream reports it: the listing is then incomplete); a full page where no video has
one ends the listing there.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests
from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from tap_cloudflare_stream.cloudflare.answers import CloudflareResponseError

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROS = 1_000_000
PAGE_LIMIT = 1000  # Cloudflare's maximum (and default) page of List videos


def parse_created(text: str) -> tuple[int, bool]:
    """(epoch microseconds, whether the text has a fraction) of an RFC 3339 timestamp."""
    raw = text.strip()
    moment = datetime.datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "zZ" else raw)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    delta = moment - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * _MICROS + delta.microseconds
    return micros, "." in raw[19:]


def format_created(micros: int, fraction: bool) -> str:
    """RFC 3339 in UTC (`Z`), with six fraction digits when `fraction`."""
    moment = _EPOCH + datetime.timedelta(microseconds=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if fraction else f"{text}Z"


class CreatedCursorPaginator(BaseAPIPaginator[str | None]):
    """Pages of List videos in ascending `created` order; the token is the next `start`."""

    def __init__(
        self,
        limit: int,
        page_of: Callable[[requests.Response], list[Mapping[str, Any]]],
        where: Callable[[], str],
    ) -> None:
        super().__init__(None)
        self.limit = limit
        self._page_of = page_of
        self._where = where
        self._start: int | None = None  # the current `start`, epoch microseconds
        self._overlap: set[str] = set()  # uids already listed at or after the current `start`

    def fresh(self, items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The items of the current page that an earlier page has not listed."""
        return [item for item in items if item.get("uid") not in self._overlap]

    @override
    def get_next(self, response: requests.Response) -> str | None:
        items = self._page_of(response)
        if len(items) < self.limit:
            return None  # a short page: the list has ended, under either reading of `start`
        dated = [(item, stamp) for item in items if (stamp := created_of(item)) is not None]
        if not dated:
            return None  # nothing to go on from: the listing ends here, incomplete
        stamps = [stamp for _, stamp in dated]
        last = max(micros for micros, _ in stamps)
        fraction = any(has_fraction for _, has_fraction in stamps)  # else whole seconds
        start = last - (1 if fraction else _MICROS)
        if self._start is not None and start <= self._start:
            raise CloudflareResponseError(
                f"More than {self.limit} videos share created {format_created(last, fraction)} "
                f"for {self._where()}: one List videos page cannot hold them, and moving on "
                "would skip videos. Please report it."
            )
        self._overlap = {str(item.get("uid")) for item, (micros, _) in dated if micros >= start}
        self._start = start
        return format_created(start, fraction)


def created_of(item: Mapping[str, Any]) -> tuple[int, bool] | None:
    """An item's `created` as parse_created gives it, or None when it has no usable one."""
    created = item.get("created")
    if not isinstance(created, str):
        return None
    try:
        return parse_created(created)
    except ValueError:
        return None

"""Seek pagination over a dataset's total order, one window of days or hours at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests
from singer_sdk.pagination import BaseAPIPaginator

from tap_cloudflare_stream.analytics.queries import SeekKey
from tap_cloudflare_stream.analytics.windows import Window


@dataclass(frozen=True)
class SeekToken:
    """Where the next page starts: a window, and the key of the last row already read."""

    window: Window
    after: SeekKey | None = None


class SeekPaginator(BaseAPIPaginator[SeekToken]):
    """Asks for rows after the last row's whole key until a page comes back short.

    A page exactly as long as the limit may be followed by more rows, so one more page is asked
    for; that page may be empty, which ends this window only (each window has its own paginator).
    """

    def __init__(
        self,
        first: SeekToken,
        page_size: int,
        last_key: Callable[[requests.Response], SeekKey | None],
        rows_in: Callable[[requests.Response], int],
    ) -> None:
        super().__init__(first)
        self._page_size = page_size
        self._last_key = last_key
        self._rows_in = rows_in

    def get_next(self, response: requests.Response) -> SeekToken | None:
        """Continue after the last row if the page was full, else the window is done."""
        if self._rows_in(response) < self._page_size:
            return None
        return SeekToken(self.current_value.window, self._last_key(response))

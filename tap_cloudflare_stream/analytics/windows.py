"""Which days a run reads, and how they are cut into windows Cloudflare accepts."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

DAY_SECONDS = 86400


@dataclass(frozen=True)
class Window:
    """An inclusive range of days read by one series of pages."""

    first_day: datetime.date
    last_day: datetime.date

    def __str__(self) -> str:
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"


def utc_today() -> datetime.date:
    """Today in UTC: Cloudflare's retention and the default end date count from it."""
    return datetime.datetime.now(datetime.timezone.utc).date()


def oldest_readable_day(today: datetime.date, not_older_than_seconds: int) -> datetime.date:
    """The first full UTC day inside the retention: for 90 days, today - 89."""
    days = max(1, not_older_than_seconds // DAY_SECONDS)
    return today - datetime.timedelta(days=days - 1)


def split_windows(
    first_day: datetime.date, last_day: datetime.date, max_duration_seconds: int
) -> list[Window]:
    """Cut [first_day, last_day] into consecutive windows no wider than maxDuration."""
    width = datetime.timedelta(days=max(1, max_duration_seconds // DAY_SECONDS))
    windows = []
    start = first_day
    while start <= last_day:
        end = min(start + width - datetime.timedelta(days=1), last_day)
        windows.append(Window(start, end))
        start = end + datetime.timedelta(days=1)
    return windows

"""Which time a run reads, and how it is cut into windows Cloudflare accepts.

Times are aware UTC datetimes; a dataset's grain (`step`: a day or an hour) makes whole steps
of the retention floor, the windows and the bookmarks. A window is half-open, [start, end).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

DAY = datetime.timedelta(days=1)
UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The steps in [start, end), read by one series of pages."""

    start: datetime.datetime
    end: datetime.datetime
    step: datetime.timedelta

    def __str__(self) -> str:
        if self.step >= DAY:  # days, inclusive: 2026-10-01..2026-10-03
            last = self.end - self.step
            return f"{self.start.date().isoformat()}..{last.date().isoformat()}"
        return f"{self.start:%Y-%m-%dT%H:%MZ}..{self.end:%Y-%m-%dT%H:%MZ}"

    @property
    def steps(self) -> int:
        """How many steps (days or hours) the window holds."""
        return (self.end - self.start) // self.step

    def halves(self) -> tuple[Window, Window]:
        """The window cut in two at a step boundary (it must hold two steps or more)."""
        middle = self.start + (self.steps // 2) * self.step
        return Window(self.start, middle, self.step), Window(middle, self.end, self.step)


def utc_now() -> datetime.datetime:
    """The current time in UTC: Cloudflare's retention and the default end count from it."""
    return datetime.datetime.now(UTC)


def day_start(day: datetime.date) -> datetime.datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.datetime.combine(day, datetime.time(), UTC)


def floor(moment: datetime.datetime, step: datetime.timedelta) -> datetime.datetime:
    """The start of the step (UTC day or hour) that holds `moment`."""
    return _EPOCH + ((moment - _EPOCH) // step) * step


def oldest_readable(
    now: datetime.datetime, not_older_than_seconds: int, step: datetime.timedelta
) -> datetime.datetime:
    """The first full step inside the retention.

    Days: for 90 days, today - 89. Shorter steps: `notOlderThan` to the second, rounded up to
    the next step (now 12:30 and 7 days: 13:00 seven days ago).
    """
    if step >= DAY:
        days = max(1, not_older_than_seconds // int(DAY.total_seconds()))
        return floor(now, DAY) - (days - 1) * DAY
    edge = now - datetime.timedelta(seconds=not_older_than_seconds)
    start = floor(edge, step)
    return start if start == edge else start + step


def split_windows(
    start: datetime.datetime,
    end: datetime.datetime,
    max_duration_seconds: int,
    step: datetime.timedelta,
    *,
    aligned: bool = False,
) -> list[Window]:
    """Cut [start, end) into consecutive windows of whole steps no wider than maxDuration.

    Unaligned (days), the first window starts at `start`: a scheduled day is one window.
    Aligned (hours), windows break at multiples of their width since the epoch (6 h: 00:00,
    06:00, 12:00, 18:00 UTC), so every run cuts a day the same way: a day is
    ceil(24 h / maxDuration) windows, and a range that starts mid-window adds one short window.
    """
    width = max(1, int(max_duration_seconds // step.total_seconds())) * step
    windows = []
    while start < end:
        stop = floor(start, width) + width if aligned else start + width
        stop = min(stop, end)
        windows.append(Window(start, stop, step))
        start = stop
    return windows


def utc_today() -> datetime.date:
    """Today in UTC."""
    return utc_now().date()

"""Numbers and times as the page prints them: for people, units in the column headers."""

from __future__ import annotations

import datetime

MISSING = "\u2013"  # an en dash: no value (e.g. a ratio without a denominator)


def count(value: float | None) -> str:
    """A whole number with thousands separators: 12,345."""
    return MISSING if value is None else f"{value:,.0f}"


def decimal(value: float | None, places: int = 2) -> str:
    """A number with `places` decimals and thousands separators: 1,234.57."""
    return MISSING if value is None else f"{value:,.{places}f}"


def percent(value: float | None, places: int = 0) -> str:
    """A ratio as a percentage: 0.4567 -> 46%."""
    return MISSING if value is None else f"{value * 100:,.{places}f}%"


def day(value: datetime.date | None) -> str:
    """A UTC day: 2026-12-06."""
    return MISSING if value is None else value.isoformat()


def hour(value: datetime.datetime | None) -> str:
    """The start of a UTC hour: 2026-12-06 04:00."""
    return MISSING if value is None else value.strftime("%Y-%m-%d %H:%M")


def month(value: datetime.date | None) -> str:
    """A calendar month: 2026-12."""
    return MISSING if value is None else value.strftime("%Y-%m")


def account(account_id: str) -> str:
    """An account tag shortened for a legend or a table cell: 01234567…."""
    return account_id if len(account_id) <= 9 else f"{account_id[:8]}…"


def iso_utc(value: datetime.date | datetime.datetime) -> str:
    """A date or time as the charts read it: ISO 8601 in UTC, never the browser's zone."""
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    return value.isoformat()


def first_line(error: BaseException) -> str:
    """An error's first line, for a one-line message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

"""Days and windows: retention floor, maxDuration-wide windows, the last one ending at the end."""

from __future__ import annotations

import datetime

from tap_cloudflare_stream.analytics.windows import Window, oldest_readable_day, split_windows

D = datetime.date


def test_oldest_readable_day_is_today_minus_89_for_90_days() -> None:
    assert oldest_readable_day(D(2026, 11, 27), 90 * 86400) == D(2026, 8, 30)


def test_windows_are_consecutive_and_max_duration_wide() -> None:
    windows = split_windows(D(2026, 1, 1), D(2026, 3, 5), 31 * 86400)
    assert windows == [
        Window(D(2026, 1, 1), D(2026, 1, 31)),
        Window(D(2026, 2, 1), D(2026, 3, 3)),
        Window(D(2026, 3, 4), D(2026, 3, 5)),
    ]


def test_single_day_and_empty_ranges() -> None:
    assert split_windows(D(2026, 1, 1), D(2026, 1, 1), 86400) == [
        Window(D(2026, 1, 1), D(2026, 1, 1))
    ]
    assert split_windows(D(2026, 1, 2), D(2026, 1, 1), 86400) == []

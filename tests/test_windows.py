"""Days and hours: retention floor, maxDuration-wide windows, the last one ending at the end."""

from __future__ import annotations

import datetime
import itertools

from tap_cloudflare_stream.analytics.windows import Window, oldest_readable, split_windows

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


def T(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime.datetime:  # noqa: N802
    return datetime.datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def test_oldest_readable_day_is_today_minus_89_for_90_days() -> None:
    assert oldest_readable(T(27, 12, 30), 90 * 86400, DAY) == T(27) - 89 * DAY


def test_oldest_readable_day_counts_whole_days_from_today_at_any_time_of_day() -> None:
    # At midnight too (not the day 90 days back to the second), and with a spare hour.
    assert oldest_readable(T(27), 90 * 86400, DAY) == T(27) - 89 * DAY
    assert oldest_readable(T(27, 0, 30), 90 * 86400 + 3600, DAY) == T(27) - 89 * DAY
    # A retention under two days keeps today only; none at all still reads today.
    assert oldest_readable(T(27, 23, 59), 86400, DAY) == T(27)
    assert oldest_readable(T(27, 23, 59), 2 * 86400 - 1, DAY) == T(27)
    assert oldest_readable(T(27, 23, 59), 0, DAY) == T(27)


def test_oldest_readable_hour_is_the_first_full_hour_inside_not_older_than() -> None:
    assert oldest_readable(T(27, 12, 30), 7 * 86400, HOUR) == T(20, 13)
    assert oldest_readable(T(27, 12, 0, 0), 7 * 86400, HOUR) == T(20, 12)
    assert oldest_readable(T(27, 12, 0, 1), 7 * 86400, HOUR) == T(20, 13)
    assert oldest_readable(T(27, 12, 30), 5400, HOUR) == T(27, 11)  # 90 minutes


def test_day_windows_are_consecutive_and_max_duration_wide() -> None:
    windows = split_windows(T(1) - 60 * DAY, T(1) + 4 * DAY, 31 * 86400, DAY)
    assert [w.steps for w in windows] == [31, 31, 2]
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert str(windows[-1]) == "2026-11-03..2026-11-04"


def test_hour_windows_are_shorter_than_a_day_when_max_duration_is() -> None:
    windows = split_windows(T(1, 1), T(1, 14), 6 * 3600, HOUR)
    assert windows == [
        Window(T(1, 1), T(1, 7), HOUR),
        Window(T(1, 7), T(1, 13), HOUR),
        Window(T(1, 13), T(1, 14), HOUR),
    ]
    assert str(windows[0]) == "2026-11-01T01:00Z..2026-11-01T07:00Z"


def test_single_step_empty_ranges_and_halves() -> None:
    assert split_windows(T(1), T(2), 86400, DAY) == [Window(T(1), T(2), DAY)]
    assert split_windows(T(2), T(1), 86400, DAY) == []
    first, second = Window(T(1), T(1, 5), HOUR).halves()
    assert (first.steps, second.steps, first.end) == (2, 3, T(1, 2))


def test_aligned_hour_windows_break_at_multiples_of_max_duration() -> None:
    # A scheduled day from 09:00 to 13:00 the next day: a short first window up to 12:00, then
    # whole 6-hour windows, then the current hour.
    windows = split_windows(T(1, 9), T(2, 13), 6 * 3600, HOUR, aligned=True)
    assert [(w.start, w.end) for w in windows] == [
        (T(1, 9), T(1, 12)),
        (T(1, 12), T(1, 18)),
        (T(1, 18), T(2)),
        (T(2), T(2, 6)),
        (T(2, 6), T(2, 12)),
        (T(2, 12), T(2, 13)),
    ]
    # A scheduled day's 28 hours (24, 3 of lookback, the current one) at any time of day:
    # 4 whole windows and the two partial ones at the ends, which merge when the range starts
    # early enough in its window.
    for hour in range(24):
        start = T(1, hour)
        count = len(split_windows(start, start + 28 * HOUR, 6 * 3600, HOUR, aligned=True))
        assert count == (5 if hour % 6 < 3 else 6), hour

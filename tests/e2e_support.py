"""What the end-to-end tests compare a warehouse's tables with, shared by every warehouse.

One `TableCheck` per selected stream: its columns, primary key, the kind of each column
(`date`, `text`, `integer`, `float`, `json`, `timestamp`) and a function giving the stand-in's
truth over a date range. The day-grained analytics streams are built from the output contract
in tests/standin.py; a stream added to the catalog (e.g. `videos`) adds one TableCheck.

The warehouse end-to-end tests share one shape: a stand-in that revises its recent days
(`revising_standin`), the tap's settings for it (`tap_env`), a first run, then `revise` and a
second run whose changed rows `assert_revised` checks.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cloudflare_standin import HourlySettings, StandinConfig

from tests.standin import ACCOUNT_A, ACCOUNT_B, CONTRACT, UTC, expected_records, utc_today

Row = tuple[Any, ...]
LOOKBACK = 2  # the tap's lookback_days in the end-to-end tests
INTEGER_COLUMNS = {
    "views",
    "buffer_events",
    "quality_changes",
    "events",
    "time_viewed_minutes",
    "minutes_viewed",
    "quality_resolution",
}
FLOAT_COLUMNS = {"sample_interval"}


def columns_of(stream: str) -> list[str]:
    """Every column of an analytics stream, key columns first."""
    _, dimensions, metrics = CONTRACT[stream]
    return ["account_id", "date", *(c for c, _ in dimensions), *(c for c, _ in metrics)]


def normalise(value: Any) -> Any:
    """Comparable values: dates as ISO strings, numbers as rounded floats or ints."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return round(float(value), 9)
    return value


def expected_rows(
    config: StandinConfig, stream: str, first: datetime.date, last: datetime.date
) -> set[Row]:
    """The stand-in's truth for an analytics stream over [first, last], as table rows."""
    records = expected_records(config, stream, config.accounts, first, last)
    columns = columns_of(stream)
    return {tuple(normalise(r[c]) for c in columns) for r in records}


def bookmarks(state: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(stream, account) -> bookmark from Meltano's stored state."""
    singer_state = state.get("singer_state", state)
    found = {}
    for stream, entry in singer_state.get("bookmarks", {}).items():
        for partition in entry.get("partitions", []):
            found[(stream, partition["context"]["account_id"])] = partition.get(
                "replication_key_value"
            )
    return found


@dataclass(frozen=True)
class TableCheck:
    """A selected stream as a warehouse table: columns, key, kinds, and the expected rows."""

    stream: str
    columns: Sequence[str]
    key: Sequence[str]
    kinds: dict[str, str]
    expected: Callable[[StandinConfig, datetime.date, datetime.date], set[Row]]

    def key_of(self, row: Row) -> Row:
        """The primary-key part of a row (in `columns` order)."""
        return tuple(row[self.columns.index(c)] for c in self.key)


def analytics_check(stream: str) -> TableCheck:
    """The TableCheck of a day-grained analytics stream, from the output contract."""
    _, dimensions, _ = CONTRACT[stream]
    columns = columns_of(stream)
    kinds = {
        c: "date"
        if c == "date"
        else "integer"
        if c in INTEGER_COLUMNS
        else "float"
        if c in FLOAT_COLUMNS
        else "text"
        for c in columns
    }

    def expected(config: StandinConfig, first: datetime.date, last: datetime.date) -> set[Row]:
        return expected_rows(config, stream, first, last)

    return TableCheck(
        stream, columns, ["account_id", "date", *(c for c, _ in dimensions)], kinds, expected
    )


# The streams the catalog selects today. Add the catalog stream `videos` here when it lands.
TABLE_CHECKS = [analytics_check(stream) for stream in CONTRACT]


def assert_rows_exact(check: TableCheck, rows: Iterable[Row], want: set[Row]) -> set[Row]:
    """A table holds exactly `want`, each row once and each key once; returns the rows."""
    rows = [tuple(normalise(v) for v in row) for row in rows]
    unique = set(rows)
    stream = check.stream
    assert len(rows) == len(unique), f"{stream}: {len(rows) - len(unique)} duplicate rows"
    keys = {check.key_of(row) for row in rows}
    assert len(keys) == len(rows), f"{stream}: {len(rows) - len(keys)} duplicate keys"
    assert want, f"{stream}: the stand-in has no rows, so the comparison proves nothing"
    missing_rows, extra_rows = want - unique, unique - want
    assert not missing_rows, f"{stream}: {len(missing_rows)} rows missing, e.g. " + str(
        sorted(missing_rows, key=repr)[:2]
    )
    assert not extra_rows, f"{stream}: {len(extra_rows)} unexpected rows, e.g. " + str(
        sorted(extra_rows, key=repr)[:2]
    )
    return unique


def revising_standin(
    token: str, seed: int, rows_per_day: int, videos: int, hourly_days: int = 30
) -> StandinConfig:
    """Two accounts whose last 3 days Cloudflare revises; "today" is yesterday (the tests').

    The hour-grained datasets keep `hourly_days` of events, so the tap, which runs on the wall
    clock, reads them from its start_date.
    """
    return StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],
        seed=seed,
        today=utc_today() - datetime.timedelta(days=1),
        rows_per_day=rows_per_day,
        videos=videos,
        revised_days=3,
        tokens={token: None},
        rate_limit_queries=None,
        hourly={
            name: HourlySettings(not_older_than=hourly_days * 86400)
            for name in ("streamCMCDAdaptiveGroups", "liveInputEventsAdaptiveGroups")
        },
    )


def tap_env(url: str, config: StandinConfig, start: datetime.date) -> dict[str, str]:
    """The tap's settings for a run over the stand-in at `url`, from `start` to the tests' today."""
    return {
        "TAP_CLOUDFLARE_STREAM_API_URL": url,
        "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps(config.accounts),
        "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
        # The tests' today, not the wall clock's: the tap runs in Meltano on the real clock.
        "TAP_CLOUDFLARE_STREAM_END_DATE": utc_today().isoformat(),
        "TAP_CLOUDFLARE_STREAM_LOOKBACK_DAYS": str(LOOKBACK),
        "TAP_CLOUDFLARE_STREAM_PAGE_SIZE": "100",  # several pages per window
    }


def revise(config: StandinConfig) -> datetime.date:
    """Cloudflare revises the recent days and a new day arrives (the tests' today).

    The hourly datasets' "now" becomes yesterday 23:30: more hours arrive, the 12:00 hour
    completes, and every hour stays in the wall clock's past.
    """
    assert config.today is not None
    config.revision += 1
    config.now = datetime.datetime.combine(config.today, datetime.time(23, 30), UTC)
    config.today += datetime.timedelta(days=1)
    return config.today


def assert_revised(
    check: TableCheck, before: set[Row], after: set[Row], today: datetime.date
) -> None:
    """A table after `revise` and a re-read: revised rows updated in place, the new day added."""
    changed = before - after
    assert changed, f"{check.stream}: the revision changed no row, so the test proves nothing"
    revised = {(today - datetime.timedelta(days=n)).isoformat() for n in range(3)}
    assert {check.key_of(r)[1] for r in changed} <= revised, check.stream
    assert {check.key_of(r) for r in changed} <= {check.key_of(r) for r in after}, (
        f"{check.stream}: revised rows were deleted instead of updated in place"
    )
    assert any(check.key_of(r)[1] == today.isoformat() for r in after), (
        f"{check.stream}: the new day {today} was not loaded"
    )

"""What the end-to-end tests compare a warehouse's tables with, shared by every warehouse.

One `TableCheck` per selected stream: its columns, primary key, the kind of each column
(`date`, `text`, `integer`, `float`, `json`, `timestamp`) and a function giving the stand-in's
truth over a date range. The day-grained analytics streams are built from the output contract
in tests/standin.py; a stream added to the catalog (e.g. `videos`) adds one TableCheck.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cloudflare_standin import StandinConfig

from tests.standin import CONTRACT, expected_records

Row = tuple[Any, ...]
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

"""What a section is made of: a chart spec, tables of figures as text, and problems."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudflare_stream_report import fmt

Row = dict[str, Any]
Format = Callable[[Any], str]

TOP_VIDEOS = 10  # rows of the top-videos chart and table
DELIVERY_VIDEOS = 5  # of those, the videos whose delivery is drawn hour by hour
WEEK_DAYS = 7
WEEK_HOURS = 7 * 24


@dataclass(frozen=True)
class Column:
    """A table column: its header (with the unit) and how a row's cell is written."""

    header: str
    cell: Callable[[Row], str]
    numeric: bool = True
    code: bool = False  # an identifier, in a monospace font


def num(header: str, key: str, write: Format) -> Column:
    """A column of numbers: the row's `key`, written by `write`."""
    return Column(header, lambda row: write(row[key]))


def text(header: str, key: str, write: Format = str, code: bool = False) -> Column:
    """A column of text: the row's `key`, written by `write`."""
    return Column(header, lambda row: write(row[key]), numeric=False, code=code)


def account(key: str = "account_id") -> Column:
    """The account, shortened (the page's header lists the full tags)."""
    return text("account", key, fmt.account)


@dataclass
class Table:
    """Figures as page text: what the chart draws, searchable and copyable."""

    key: str  # the table's id on the page
    caption: str
    columns: list[Column]
    rows: list[Row]
    folded: bool = True  # under the chart, in a <details> the reader opens

    def cells(self) -> list[list[str]]:
        """Every row's cells, as the page prints them."""
        return [[column.cell(row) for column in self.columns] for row in self.rows]


@dataclass
class Tile:
    """A headline figure."""

    key: str
    label: str
    value: str
    note: str


@dataclass
class Section:
    """One part of the page: a chart with its explanation and figures, or why it has none."""

    key: str
    title: str
    about: str = ""
    chart: dict[str, Any] | None = None
    tables: list[Table] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Video:
    """A video of the top list: its key and the label the charts show."""

    account_id: str
    uid: str
    label: str

    @property
    def key(self) -> str:
        """account_id/uid, the pair that identifies a video across accounts."""
        return f"{self.account_id}/{self.uid}"


@dataclass
class Findings:
    """What a section found that a later one uses."""

    top: list[Video] = field(default_factory=list)  # the top videos, most viewed first


def unique_labels(names: Iterable[tuple[str | None, str]]) -> list[str]:
    """Chart labels: the name (else the short uid), the uid added where two names collide."""
    pairs = list(names)
    base = [name or f"{uid[:8]}…" for name, uid in pairs]
    seen = Counter(base)
    return [b if seen[b] == 1 else f"{b} ({u[:6]})" for b, (_, u) in zip(base, pairs, strict=True)]


def epoch_ms(value: datetime.datetime) -> int:
    """A naive UTC time as epoch milliseconds (a chart scale's bound)."""
    return int(value.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)

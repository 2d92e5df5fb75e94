"""The report: headline figures, then the sections in order, each built even when another
cannot be.

Every figure is read from the dbt models (transform/models) and combined as docs/models.md
says: additive columns summed, ratios and means rebuilt from their summed parts.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import NamedTuple

import duckdb

from cloudflare_stream_report import (
    billing,
    daily,
    delivery,
    fmt,
    live_inputs,
    storage,
    top_videos,
)
from cloudflare_stream_report.parts import WEEK_DAYS, Findings, Section, Tile
from cloudflare_stream_report.warehouse import Status, Warehouse


class Part(NamedTuple):
    """A section of the page: its anchor, heading, the models it cannot do without, builder."""

    key: str
    title: str
    needs: tuple[str, ...]
    build: Callable[[Warehouse, Section, Findings], None]


PARTS = [
    Part("daily", "Views and minutes per day", ("account_daily",), daily.build),
    Part("top-videos", "Top videos, last 7 days", ("video_daily",), top_videos.build),
    Part("delivery", "Delivery quality by hour", ("video_delivery_hourly",), delivery.build),
    Part("live-inputs", "Live input health", ("live_input_hourly",), live_inputs.build),
    Part("storage", "Storage use over time", (), storage.build),  # either of two models
    Part("billing", "Estimated Stream bill", ("billing_monthly",), billing.build),
]

WEEK = f"""
WITH last AS (SELECT max(date) AS d FROM {{s}}.account_daily)
SELECT any_value(last.d) AS last, sum(views) AS views, sum(time_viewed_minutes) AS watched,
       sum(minutes_viewed) AS delivered
FROM {{s}}.account_daily, last WHERE date > last.d - {WEEK_DAYS}
"""
# Each account's storage as last read (account_daily carries it to the account's last day).
STORED = """
SELECT sum(total_storage_minutes) AS minutes, max(storage_read_on) AS read_on
FROM {s}.account_daily
WHERE (account_id, date) IN
    (SELECT (account_id, max(date)) FROM {s}.account_daily GROUP BY account_id)
"""
# The latest month in progress (an account whose data stops earlier has an earlier one).
BILL = """
SELECT sum(projected_cost_usd) AS usd, any_value(month) AS month FROM {s}.billing_monthly
WHERE in_progress AND month = (SELECT max(month) FROM {s}.billing_monthly WHERE in_progress)
"""


def sections(wh: Warehouse) -> list[Section]:
    """Every section; one whose models are missing, empty or unreadable says why."""
    found = Findings()
    out = []
    for part in PARTS:
        section = Section(part.key, part.title)
        section.problems = [wh.problem(model) for model in part.needs if wh.problem(model)]
        if not section.problems:
            try:
                part.build(wh, section, found)
            except duckdb.Error as error:  # e.g. a model built by another version of transform/
                section.chart, section.tables = None, []
                section.problems.append(f"could not read the models: {fmt.first_line(error)}")
        out.append(section)
    return out


def tiles(wh: Warehouse) -> list[Tile]:
    """The headline figures: the last 7 days, the storage as last read, the bill this month.

    No tiles when the models cannot be read as expected: the sections say why.
    """
    try:
        return _tiles(wh)
    except duckdb.Error:
        return []


def _tiles(wh: Warehouse) -> list[Tile]:
    """The tiles whose models are ready."""
    out: list[Tile] = []
    if wh.status("account_daily") is Status.READY:
        week = wh.rows(WEEK)[0]
        first = week["last"] - datetime.timedelta(days=WEEK_DAYS - 1)
        period = f"last 7 days, {fmt.day(first)} to {fmt.day(week['last'])}"
        out += [
            Tile("views-7d", "Views", fmt.count(week["views"]), period),
            Tile("watched-7d", "Minutes watched (player)", fmt.count(week["watched"]), period),
            Tile(
                "delivered-7d", "Minutes delivered (billed)", fmt.count(week["delivered"]), period
            ),
        ]
        stored = wh.rows(STORED)[0]
        if stored["read_on"] is not None:
            note = f"read on {fmt.day(stored['read_on'])}"
            out.append(Tile("stored", "Minutes stored", fmt.count(stored["minutes"]), note))
    if wh.status("billing_monthly") is Status.READY:
        bill = wh.rows(BILL)[0]
        if bill["usd"] is not None:
            note = f"{fmt.month(bill['month'])}, projected to its end"
            out.append(Tile("bill", "Bill this month (USD, est.)", fmt.decimal(bill["usd"]), note))
    return out

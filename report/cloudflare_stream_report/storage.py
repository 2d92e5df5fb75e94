"""Storage use over time: the library's minutes by creation day, and the storage readings."""

from __future__ import annotations

from typing import Any

import altair as alt

from cloudflare_stream_report import fmt
from cloudflare_stream_report.charts import WIDTH, compact, data, day_axis, spec
from cloudflare_stream_report.parts import Findings, Section, Table, account, num, text
from cloudflare_stream_report.warehouse import Status, Warehouse


def library(grain: str, expression: str) -> str:
    """The minutes of today's library added up by the day (or month) each video was created."""
    return f"""
SELECT *, sum(minutes) OVER (PARTITION BY account_id ORDER BY {grain}) AS cumulative
FROM (SELECT account_id, {expression} AS {grain}, count(*) AS videos,
             sum(duration) / 60 AS minutes
      FROM {{s}}.stg_videos WHERE duration IS NOT NULL AND created IS NOT NULL GROUP BY ALL)
ORDER BY {grain}, account_id
"""


# account_daily carries each reading forward: a reading's own day is its storage_read_on.
READINGS = """
SELECT account_id, date, total_storage_minutes AS minutes, total_storage_minutes_limit AS bought,
       total_storage_minutes / nullif(total_storage_minutes_limit, 0) AS used, video_count
FROM {s}.account_daily WHERE storage_read_on = date ORDER BY date, account_id
"""


def build(wh: Warehouse, section: Section, found: Findings) -> None:
    """A step line per account (the library) and dots (the readings), from either model."""
    catalog = wh.status("stg_videos") is Status.READY
    daily = wh.rows(library("date", "cast(created AS DATE)")) if catalog else []
    readings = wh.rows(READINGS) if wh.status("account_daily") is Status.READY else []
    if not catalog:
        section.problems.append(wh.problem("stg_videos"))
    if not readings:
        section.problems.append(
            wh.problem("account_daily") or "no storage reading: is the storage_usage stream loaded?"
        )
    if not (daily or readings):
        return
    days = [r["date"] for r in [*daily, *readings]]
    first, last = min(days), max(days)
    period = f"{fmt.day(first)} to {fmt.day(last)}"
    section.about = (
        f"From {period}. The line: the minutes of the videos in the library today, added up "
        "by the day each was created (analytics.stg_videos; videos deleted since are not in "
        "it). The dots: Cloudflare's storage readings, one per pipeline run "
        "(analytics.account_daily)."
    )
    line = [
        {"account": fmt.account(r["account_id"]), "date": fmt.iso_utc(r["date"]),
         "minutes": r["cumulative"], "kind": "library"}
        for r in daily
    ]  # fmt: skip
    ends = {point["account"]: point for point in line}  # each account's library today,
    line += [{**end, "date": fmt.iso_utc(last)} for end in ends.values()]  # drawn to the end
    dots: list[dict[str, Any]] = [
        {"account": fmt.account(r["account_id"]), "date": fmt.iso_utc(r["date"]),
         "minutes": r["minutes"], "bought": r["bought"], "kind": "reading"}
        for r in readings
    ]  # fmt: skip
    base = alt.Chart().encode(
        x=day_axis((last - first).days),
        y=alt.Y("minutes:Q", axis=compact("minutes stored")),
        color=alt.Color("account:N", title="account"),
    )
    tooltip = [
        alt.Tooltip("date:T", timeUnit="utcyearmonthdate", title="day (UTC)"),
        alt.Tooltip("account:N"),
        alt.Tooltip("minutes:Q", format=",.0f"),
    ]
    bought = alt.Tooltip("bought:Q", title="minutes bought", format=",.0f")
    layers = []  # only layers with data: an empty one has no extent to draw
    if line:
        layers.append(
            base.mark_line(interpolate="step-after", strokeWidth=2)
            .encode(tooltip=tooltip)
            .transform_filter("datum.kind === 'library'")
        )
    if dots:
        layers.append(
            base.mark_point(filled=True, size=90, shape="diamond")
            .encode(tooltip=[*tooltip, bought])
            .transform_filter("datum.kind === 'reading'")
        )
    title = alt.TitleParams(
        f"Per UTC day, {period}", subtitle="line: library; dots: storage readings"
    )
    chart = alt.layer(*layers, data=data(line + dots)).properties(
        width=WIDTH, height=220, title=title
    )
    section.chart = spec(chart, f"Minutes stored over time, {period}")
    if readings:
        section.tables.append(
            Table(
                "storage-readings",
                "Storage readings (analytics.account_daily)",
                [
                    text("read on (UTC)", "date", fmt.day),
                    account(),
                    num("minutes stored", "minutes", fmt.count),
                    num("minutes bought", "bought", fmt.count),
                    num("used", "used", lambda v: fmt.percent(v, 1)),
                    num("videos", "video_count", fmt.count),
                ],
                readings,
                folded=False,
            )
        )
    if catalog:
        section.tables.append(
            Table(
                "storage-library",
                "The library by month of creation (analytics.stg_videos, videos with a duration)",
                [
                    text("month", "month", fmt.month),
                    account(),
                    num("videos added", "videos", fmt.count),
                    num("minutes added", "minutes", fmt.count),
                    num("minutes at the month's end", "cumulative", fmt.count),
                ],
                wh.rows(library("month", "date_trunc('month', created)::DATE")),
            )
        )

"""The most viewed videos of the last 7 days, by name (video_daily)."""

from __future__ import annotations

import datetime

import altair as alt

from cloudflare_stream_report import fmt
from cloudflare_stream_report.charts import WIDTH, compact, data, spec
from cloudflare_stream_report.parts import (
    TOP_VIDEOS,
    WEEK_DAYS,
    Column,
    Findings,
    Section,
    Table,
    Video,
    account,
    num,
    text,
    unique_labels,
)
from cloudflare_stream_report.warehouse import Warehouse

# Over the week, each ratio is rebuilt from its summed parts (docs/models.md), never an average
# of the daily ratios. Videos are ranked by views, then minutes delivered.
SQL = f"""
WITH last AS (SELECT max(date) AS d FROM {{s}}.video_daily)
SELECT account_id, uid, any_value(name) AS name, any_value(last.d) AS last,
       coalesce(sum(views), 0) AS views,
       coalesce(sum(time_viewed_minutes), 0) AS watched,
       coalesce(sum(minutes_viewed), 0) AS delivered,
       sum(buffer_events) / nullif(sum(views), 0) AS buffers_per_view,
       sum(time_viewed_minutes) * 60 / nullif(sum(views), 0)
         / nullif(any_value(duration), 0) AS completion
FROM {{s}}.video_daily, last
WHERE date > last.d - {WEEK_DAYS}
GROUP BY account_id, uid
ORDER BY views DESC, delivered DESC, name, account_id, uid
LIMIT {TOP_VIDEOS}
"""
MEASURES = [  # (column, title, number format of the axis and tooltip)
    ("views", "views", ","),
    ("watched", "minutes watched", ","),
    ("completion", "completion", ".0%"),
    ("buffers_per_view", "buffer events per view", ".2f"),
]


def build(wh: Warehouse, section: Section, found: Findings) -> None:
    """Four bar charts side by side, one bar per video; the same figures in a table."""
    rows = wh.rows(SQL)
    last = rows[0]["last"]
    period = f"{fmt.day(last - datetime.timedelta(days=WEEK_DAYS - 1))} to {fmt.day(last)}"
    labels = unique_labels((r["name"], r["uid"]) for r in rows)
    found.top = [Video(r["account_id"], r["uid"], lb) for r, lb in zip(rows, labels, strict=True)]
    section.about = (
        f"The {len(rows)} most viewed videos of the 7 UTC days {period}, all accounts "
        "(analytics.video_daily). Completion is the average share of the video watched per "
        "view (watch time ÷ views ÷ duration; above 100% when viewers rewatch); buffer events "
        "per view are the week's buffer events over its views."
    )
    values = [
        {**{m: r[m] for m, _, _ in MEASURES}, "label": label,
         "account": fmt.account(r["account_id"])}
        for r, label in zip(rows, labels, strict=True)
    ]  # fmt: skip
    bars = [
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X(
                f"{measure}:Q",
                title=title,
                axis=compact(title) if number == "," else alt.Axis(format=number, tickCount=4),
            ),
            y=alt.Y(
                "label:N",
                sort=labels,
                title=None,
                axis=alt.Axis(labelLimit=230) if i == 0 else None,
            ),
            color=alt.Color("account:N", title="account"),
            tooltip=[
                alt.Tooltip("label:N", title="video"),
                alt.Tooltip("account:N"),
                alt.Tooltip(f"{measure}:Q", title=title, format=number),
            ],
        )
        .properties(width=(WIDTH - 170) // 4, height=24 * len(rows))
        for i, (measure, title, number) in enumerate(MEASURES)
    ]
    chart = alt.hconcat(*bars, data=data(values), spacing=12).properties(
        title=alt.TitleParams(f"Last 7 UTC days, {period}", subtitle="by views, all accounts")
    )
    section.chart = spec(chart, f"Top {len(rows)} videos by views, {period}")
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    section.tables.append(
        Table(
            "top-videos-table",
            f"Top {len(rows)} videos by views, {period} (analytics.video_daily)",
            [
                num("#", "rank", str),
                Column("video", lambda r: r["name"] or "(no name)", numeric=False),
                account(),
                text("uid", "uid", code=True),
                num("views", "views", fmt.count),
                num("minutes watched", "watched", fmt.count),
                num("minutes delivered", "delivered", fmt.count),
                num("completion", "completion", fmt.percent),
                num("buffer events / view", "buffers_per_view", fmt.decimal),
            ],
            rows,
            folded=False,
        )
    )

"""Views and minutes per UTC day, per account (account_daily)."""

from __future__ import annotations

import altair as alt

from cloudflare_stream_report import fmt
from cloudflare_stream_report.charts import WIDTH, compact, data, day_axis, spec
from cloudflare_stream_report.parts import Findings, Section, Table, account, num, text
from cloudflare_stream_report.warehouse import Warehouse

MEASURES = [  # (column, chart title)
    ("views", "views"),
    ("time_viewed_minutes", "minutes watched (Stream Player)"),
    ("minutes_viewed", "minutes delivered (billed)"),
]


def build(wh: Warehouse, section: Section, found: Findings) -> None:
    """One line per account in three charts: views, minutes watched, minutes delivered."""
    rows = wh.rows(
        "SELECT account_id, date, views, time_viewed_minutes, minutes_viewed "
        "FROM {s}.account_daily ORDER BY date, account_id"
    )
    first, last = rows[0]["date"], rows[-1]["date"]
    period = f"{fmt.day(first)} to {fmt.day(last)}"
    section.about = (
        f"Each UTC day from {period}, per account (analytics.account_daily). Views and "
        "minutes watched count the Stream Player only; minutes delivered are what Cloudflare "
        "bills, from any player. The last day may still be in progress."
    )
    values = [
        {**{m: r[m] for m, _ in MEASURES}, "date": fmt.iso_utc(r["date"]),
         "account": fmt.account(r["account_id"])}
        for r in rows
    ]  # fmt: skip
    charts = [
        alt.Chart()
        .mark_line(point=alt.OverlayMarkDef(size=14), strokeWidth=1.8)
        .encode(
            x=day_axis((last - first).days),
            y=alt.Y(f"{measure}:Q", axis=compact()),
            color=alt.Color("account:N", title="account"),
            tooltip=[
                alt.Tooltip("date:T", timeUnit="utcyearmonthdate", title="day (UTC)"),
                alt.Tooltip("account:N"),
                alt.Tooltip(f"{measure}:Q", title=title, format=","),
            ],
        )
        .properties(width=WIDTH, height=110, title=title)
        for measure, title in MEASURES
    ]
    chart = alt.vconcat(*charts, data=data(values), spacing=18).properties(
        title=alt.TitleParams(f"Per UTC day, {period}", subtitle="by account")
    )
    section.chart = spec(chart, f"Views and minutes per UTC day and account, {period}")
    section.tables.append(
        Table(
            "daily-figures",
            f"Per day and account, {period} (analytics.account_daily)",
            [
                text("day (UTC)", "date", fmt.day),
                account(),
                num("views", "views", fmt.count),
                num("minutes watched", "time_viewed_minutes", fmt.count),
                num("minutes delivered", "minutes_viewed", fmt.count),
            ],
            rows,
        )
    )

"""The Stream bill estimated per month and account (billing_monthly)."""

from __future__ import annotations

from typing import Any

import altair as alt

from cloudflare_stream_report import fmt
from cloudflare_stream_report.charts import WIDTH, data, spec
from cloudflare_stream_report.parts import Column, Findings, Section, Table, account, num
from cloudflare_stream_report.warehouse import Warehouse

SQL = """
SELECT account_id, month, in_progress, days_counted, days_in_month, minutes_delivered,
       delivery_cost_usd, storage_cost_usd, cost_usd,
       CASE WHEN in_progress THEN projected_cost_usd END AS projected
FROM {s}.billing_monthly ORDER BY month, account_id
"""


def build(wh: Warehouse, section: Section, found: Findings) -> None:
    """Bars per month and account, delivery solid and storage light; the projection dashed."""
    rows = wh.rows(SQL)
    period = f"{fmt.month(rows[0]['month'])} to {fmt.month(rows[-1]['month'])}"
    section.about = (
        f"Each UTC month from {period}, per account (analytics.billing_monthly): minutes "
        "delivered at the list price per 1,000 minutes (solid), plus the storage bought "
        "(light). The month in progress is projected linearly to its end (dashed outline). "
        "An estimate, before Cloudflare's invoice: no bundles, contract terms, taxes or credits."
    )
    values: list[dict[str, Any]] = []
    for r in rows:
        common = {
            "month": fmt.month(r["month"]),
            "account": fmt.account(r["account_id"]),
            "delivery": r["delivery_cost_usd"],
            "storage": r["storage_cost_usd"],
            "cost": r["cost_usd"],
            "projected": r["projected"],
        }
        values.append({**common, "part": "delivery", "usd": r["delivery_cost_usd"]})
        values.append({**common, "part": "storage", "usd": r["storage_cost_usd"] or 0.0})
    x = alt.X("month:O", title=None, axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("account:N")
    tooltip = [alt.Tooltip("month:O"), alt.Tooltip("account:N")] + [
        alt.Tooltip(f"{name}:Q", title=f"{name} (USD)", format=",.2f")
        for name in ("delivery", "storage", "cost", "projected")
    ]
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            x=x,
            xOffset=offset,
            y=alt.Y("sum(usd):Q", title="USD", axis=alt.Axis(format="$,.0f")),
            color=alt.Color("account:N", title="account"),
            opacity=alt.Opacity(
                "part:N", sort=["delivery", "storage"], scale=alt.Scale(range=[1.0, 0.4])
            ),
            order=alt.Order("part:N", sort="ascending"),
            tooltip=tooltip,
        )
    )
    projected = (
        alt.Chart()
        .mark_bar(fillOpacity=0, strokeWidth=1.5, strokeDash=[4, 3])
        .encode(
            x=x,
            xOffset=offset,
            y=alt.Y("projected:Q"),
            stroke=alt.Stroke("account:N", legend=None),
            tooltip=tooltip,
        )
        .transform_filter("datum.part === 'delivery' && isValid(datum.projected)")
    )
    months = len({v["month"] for v in values})
    chart = (
        alt.layer(bars, projected, data=data(values))
        .properties(width=min(WIDTH, 150 * months), height=220)
        .properties(
            title=alt.TitleParams(
                f"Per UTC month, {period}",
                subtitle="USD at list prices, by account; light: storage; dashed: projected",
            )
        )
    )
    section.chart = spec(chart, f"Estimated Stream bill per month, {period}")
    section.tables.append(
        Table(
            "billing-table",
            f"Per month and account, {period} (analytics.billing_monthly, USD)",
            [
                Column(
                    "month",
                    lambda r: (
                        fmt.month(r["month"]) + (" (in progress)" if r["in_progress"] else "")
                    ),
                    numeric=False,
                ),
                account(),
                Column("days counted", lambda r: f"{r['days_counted']} of {r['days_in_month']}"),
                num("minutes delivered", "minutes_delivered", fmt.count),
                num("delivery (USD)", "delivery_cost_usd", fmt.decimal),
                num("storage (USD)", "storage_cost_usd", fmt.decimal),
                num("total (USD)", "cost_usd", fmt.decimal),
                num("projected (USD)", "projected", fmt.decimal),
            ],
            rows,
            folded=False,
        )
    )

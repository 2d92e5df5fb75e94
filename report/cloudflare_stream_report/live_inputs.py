"""Live input health hour by hour: ingest bit rate and upload speed (live_input_hourly)."""

from __future__ import annotations

import datetime

import altair as alt

from cloudflare_stream_report import fmt
from cloudflare_stream_report.charts import data, diverging, heatmap, hour_axis, spec
from cloudflare_stream_report.parts import (
    WEEK_HOURS,
    Column,
    Findings,
    Section,
    Table,
    account,
    epoch_ms,
    num,
    text,
    unique_labels,
)
from cloudflare_stream_report.warehouse import Warehouse

# `hours`: the last WEEK_HOURS hours the model holds.
WINDOW = f"""
WITH last AS (SELECT max(datetime_hour) AS h FROM {{s}}.live_input_hourly),
hours AS (
  SELECT i.*, last.h AS last FROM {{s}}.live_input_hourly AS i, last
  WHERE datetime_hour > last.h - INTERVAL {WEEK_HOURS} HOUR)
"""
HOURS = """
SELECT account_id, input_id, any_value(name) OVER (PARTITION BY account_id, input_id) AS name,
       datetime_hour, last, segments, bit_rate_bps / 1e6 AS mbps, avg_upload_duration_ratio AS ratio
FROM hours ORDER BY account_id, name NULLS LAST, input_id, datetime_hour
"""
# bit_rate_bps adds up over inputs, not hours: it is averaged over the hours the input sent.
# The upload ratio is a per-segment mean: weighted by segments.
TOTALS = """
SELECT account_id, input_id, count(*) AS hours, sum(segments) AS segments,
       avg(bit_rate_bps) / 1e6 AS mbps,
       sum(avg_upload_duration_ratio * segments) / nullif(sum(segments), 0) AS ratio,
       count(*) FILTER (WHERE avg_upload_duration_ratio > 1) AS slow_hours,
       max(datetime_hour) AS last_hour
FROM hours GROUP BY ALL
"""


def build(wh: Warehouse, section: Section, found: Findings) -> None:
    """Two heatmaps, a row per input and a cell per hour: bit rate, upload time ÷ duration."""
    rows = wh.rows(WINDOW + HOURS)
    last = rows[0]["last"]
    start = last - datetime.timedelta(hours=WEEK_HOURS - 1)
    period = f"{fmt.hour(start)} to {fmt.hour(last)} UTC"
    inputs = list(dict.fromkeys((r["account_id"], r["input_id"], r["name"]) for r in rows))
    labels = unique_labels((name, uid) for _, uid, name in inputs)
    label_of = {(a, uid): label for (a, uid, _), label in zip(inputs, labels, strict=True)}
    section.about = (
        f"Hour by hour from {period} (the last {WEEK_HOURS} hours loaded), every live input "
        "(analytics.live_input_hourly). Bit rate: the hour's mean ingest bit rate. Upload "
        "time ÷ duration: how long a segment took to upload over how long it plays; above 1 "
        "(orange) ingest is slower than real time. A blank cell: the input sent nothing."
    )
    values = [
        {"label": label_of[(r["account_id"], r["input_id"])], "segments": r["segments"],
         "hour": fmt.iso_utc(r["datetime_hour"]), "mbps": r["mbps"], "ratio": r["ratio"]}
        for r in rows
    ]  # fmt: skip
    x = hour_axis(epoch_ms(start), epoch_ms(last + datetime.timedelta(hours=1)))
    common = [
        alt.Tooltip("label:N", title="input"),
        alt.Tooltip("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),
        alt.Tooltip("segments:Q", format=","),
    ]
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    chart = (
        alt.vconcat(
            heatmap(x, labels, field="mbps", title="bit rate (Mbit/s)",
                    scale=alt.Scale(scheme="blues"), value_format=".1f",
                    tooltip=[*common, alt.Tooltip("mbps:Q", title="Mbit/s", format=".2f")]),
            heatmap(x, labels, field="ratio", title="upload time ÷ duration",
                    scale=diverging("blueorange", 1.0, ratios), value_format=".2f",
                    tooltip=[*common, alt.Tooltip("ratio:Q", title="upload ÷ duration",
                                                  format=".2f")]),
            data=data(values),
            spacing=16,
        )
        .resolve_scale(color="independent")
        .properties(title=alt.TitleParams(f"Per UTC hour, {period}", subtitle="every live input"))
    )  # fmt: skip
    section.chart = spec(chart, f"Live input bit rate and upload speed per hour, {period}")
    totals = wh.rows(WINDOW + TOTALS)
    order = [(a, uid) for a, uid, _ in inputs]
    totals.sort(key=lambda r: order.index((r["account_id"], r["input_id"])))
    section.tables.append(
        Table(
            "live-inputs-table",
            f"Per input, {period} (analytics.live_input_hourly; bit rate averaged over the "
            "hours it sent, upload time ÷ duration weighted by segments)",
            [
                Column("input", lambda r: label_of[(r["account_id"], r["input_id"])], False),
                account(),
                text("uid", "input_id", code=True),
                num("hours sending", "hours", fmt.count),
                num("segments", "segments", fmt.count),
                num("bit rate (Mbit/s)", "mbps", fmt.decimal),
                num("upload ÷ duration", "ratio", fmt.decimal),
                num("hours above 1", "slow_hours", fmt.count),
                text("last hour (UTC)", "last_hour", fmt.hour),
            ],
            totals,
            folded=False,
        )
    )

"""Delivery quality hour by hour for the top videos, from CMCD (video_delivery_hourly)."""

from __future__ import annotations

import datetime

import altair as alt

from cloudflare_stream_report import fmt
from cloudflare_stream_report.charts import data, heatmap, hour_axis, spec
from cloudflare_stream_report.parts import (
    DELIVERY_VIDEOS,
    WEEK_HOURS,
    Column,
    Findings,
    Section,
    Table,
    Video,
    account,
    epoch_ms,
    num,
    unique_labels,
)
from cloudflare_stream_report.warehouse import Warehouse

# `hours`: the last WEEK_HOURS hours the model holds, for the videos listed in the parameter.
WINDOW = f"""
WITH last AS (SELECT max(datetime_hour) AS h FROM {{s}}.video_delivery_hourly),
hours AS (
  SELECT d.*, last.h AS last FROM {{s}}.video_delivery_hourly AS d, last
  WHERE datetime_hour > last.h - INTERVAL {WEEK_HOURS} HOUR
    AND list_contains(?, account_id || '/' || video_id))
"""
HOURS = """
SELECT account_id, video_id, datetime_hour, last, requests, rebuffering_ratio,
       avg_startup_milliseconds, avg_encoded_bitrate_kbps
FROM hours ORDER BY datetime_hour, account_id, video_id
"""
# Over the hours: the additive columns summed, the ratio and means rebuilt from their parts.
TOTALS = """
SELECT account_id, video_id, count(*) AS hours, sum(requests) AS requests,
       sum(milliseconds_viewed) / 60000 AS minutes,
       sum(buffer_starvation_milliseconds) / nullif(sum(milliseconds_viewed), 0) AS ratio,
       sum(avg_startup_milliseconds * requests) / nullif(sum(requests), 0) AS startup,
       sum(avg_encoded_bitrate_kbps * requests) / nullif(sum(requests), 0) AS bitrate,
       sum(avg_measured_throughput_kbps * requests) / nullif(sum(requests), 0) AS throughput
FROM hours GROUP BY ALL
"""
# When video_daily gives no top list: the videos with the most requests.
BUSIEST = f"""
WITH last AS (SELECT max(datetime_hour) AS h FROM {{s}}.video_delivery_hourly)
SELECT account_id, video_id FROM {{s}}.video_delivery_hourly, last
WHERE datetime_hour > last.h - INTERVAL {WEEK_HOURS} HOUR
GROUP BY ALL ORDER BY sum(requests) DESC, account_id, video_id LIMIT {DELIVERY_VIDEOS}
"""
MAPS = [  # (field, title, colour scale, number format): one heatmap each
    ("rebuffering_ratio", "rebuffering ratio", alt.Scale(scheme="oranges"), ".0%"),
    ("avg_startup_milliseconds", "startup (ms)", alt.Scale(scheme="purples"), ",.0f"),
    ("avg_encoded_bitrate_kbps", "encoded bitrate (kbit/s)", alt.Scale(scheme="blues"), ",.0f"),
]


def build(wh: Warehouse, section: Section, found: Findings) -> None:
    """Three heatmaps (a row per video, a cell per hour) and the figures over the whole period."""
    videos = found.top[:DELIVERY_VIDEOS]
    chosen = f"the {DELIVERY_VIDEOS} most viewed videos of the last 7 days (above)"
    if not videos:
        chosen = f"the {DELIVERY_VIDEOS} videos with the most requests (no top list)"
        busiest = wh.rows(BUSIEST)
        labels = unique_labels((None, r["video_id"]) for r in busiest)
        videos = [
            Video(r["account_id"], r["video_id"], label)
            for r, label in zip(busiest, labels, strict=True)
        ]
    by_key = {video.key: video for video in videos}
    rows = wh.rows(WINDOW + HOURS, [list(by_key)])
    if not rows:
        section.problems.append(f"no CMCD rows in the last {WEEK_HOURS} hours for {chosen}")
        return
    for row in rows:
        row["label"] = by_key[f"{row['account_id']}/{row['video_id']}"].label
    last = rows[0]["last"]
    start = last - datetime.timedelta(hours=WEEK_HOURS - 1)
    period = f"{fmt.hour(start)} to {fmt.hour(last)} UTC"
    section.about = (
        f"Hour by hour from {period} (the last {WEEK_HOURS} hours loaded), for {chosen}, from "
        "the players' CMCD reports (analytics.video_delivery_hourly). Rebuffering ratio: time "
        "spent stalled over time watched. Startup: the initial stall spread over every "
        "request of the hour (compare it between videos and hours). Bitrate: the encoded "
        "bitrate players chose, in kbit/s. A blank cell: no requests that hour."
    )
    values = [
        {**{f: r[f] for f, _, _, _ in MAPS}, "label": r["label"], "requests": r["requests"],
         "hour": fmt.iso_utc(r["datetime_hour"])}
        for r in rows
    ]  # fmt: skip
    x = hour_axis(epoch_ms(start), epoch_ms(last + datetime.timedelta(hours=1)))
    common = [
        alt.Tooltip("label:N", title="video"),
        alt.Tooltip("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),
        alt.Tooltip("requests:Q", format=","),
    ]
    maps = [
        heatmap(
            x,
            [video.label for video in videos],
            field=name,
            title=title,
            scale=scale,
            value_format=number,
            tooltip=[*common, alt.Tooltip(f"{name}:Q", title=title, format=number)],
        )
        for name, title, scale, number in MAPS
    ]
    chart = (
        alt.vconcat(*maps, data=data(values), spacing=16)
        .resolve_scale(color="independent")
        .properties(title=alt.TitleParams(f"Per UTC hour, {period}", subtitle=chosen))
    )
    section.chart = spec(chart, f"Delivery quality per hour for the top videos, {period}")
    totals = wh.rows(WINDOW + TOTALS, [list(by_key)])
    order = list(by_key)
    totals.sort(key=lambda r: order.index(f"{r['account_id']}/{r['video_id']}"))
    section.tables.append(
        Table(
            "delivery-table",
            f"Over the {WEEK_HOURS} hours, {period} (analytics.video_delivery_hourly; means "
            "weighted by requests)",
            [
                Column(
                    "video",
                    lambda r: by_key[f"{r['account_id']}/{r['video_id']}"].label,
                    numeric=False,
                ),
                account(),
                num("hours with requests", "hours", fmt.count),
                num("requests", "requests", fmt.count),
                num("minutes watched", "minutes", fmt.count),
                num("rebuffering ratio", "ratio", lambda v: fmt.percent(v, 2)),
                num("startup (ms)", "startup", fmt.count),
                num("encoded bitrate (kbit/s)", "bitrate", fmt.count),
                num("throughput (kbit/s)", "throughput", fmt.count),
            ],
            totals,
            folded=False,
        )
    )

"""The charts' shared look (colour-blind-safe colours, number formats) and chart shapes."""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable
from typing import Any, Literal

import altair as alt

# Okabe & Ito's palette, distinguishable with every common colour-vision deficiency; yellow,
# the one weak on white, comes last.
OKABE_ITO = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#000000",
    "#F0E442",
]
WIDTH = 880  # px: the charts fit the page's 1040-px column on a 1280-px laptop screen
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

CONFIG: dict[str, Any] = {
    "font": FONT,
    "range": {"category": OKABE_ITO},
    "view": {"stroke": None},
    "axis": {
        "labelFontSize": 12,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "gridColor": "#e6e6e6",
        "labelColor": "#333",
        "titleColor": "#333",
    },
    "legend": {
        "labelFontSize": 12,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "orient": "top",
        "labelLimit": 260,
    },
    "title": {
        "fontSize": 13,
        "fontWeight": "normal",
        "anchor": "start",
        "color": "#333",
        "subtitleFontSize": 12,
        "subtitleColor": "#555",
    },
    "header": {"labelFontSize": 12},
    "numberFormat": ",.0f",
}


def spec(chart: alt.TopLevelMixin, description: str) -> dict[str, Any]:
    """The chart's Vega-Lite spec (validated by altair) with the page's look."""
    out: dict[str, Any] = chart.to_dict()
    out["config"] = CONFIG
    out["description"] = description  # the SVG's accessible name
    return out


def data(rows: list[dict[str, Any]]) -> alt.InlineData:
    """Rows as inline data: dates already ISO strings; a NaN or infinity becomes null."""
    return alt.InlineData(values=[{k: _json_value(v) for k, v in row.items()} for row in rows])


def _json_value(value: Any) -> Any:
    """A value JSON can hold: DECIMAL as a float, a non-finite float as None."""
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def day_axis(days: int, title: str | None = None) -> alt.X:
    """A UTC day on the x axis; a period over a year is labelled by month and year."""
    return alt.X(
        "date:T",
        timeUnit="utcyearmonthdate",
        title=title,
        axis=alt.Axis(
            format="%b %d" if days <= 366 else "%b %Y",
            labelAngle=0,
            labelOverlap=True,
            labelFlush=False,
        ),
    )


def compact(title: str | None = None) -> alt.Axis:
    """A quantity axis labelled for people: 0, 10k, 20k, 1.5M."""
    return alt.Axis(title=title, labelExpr="datum.value === 0 ? '0' : format(datum.value, '~s')")


def hour_axis(start_ms: int, end_ms: int) -> alt.X:
    """A UTC hour on the x axis, over the whole period (hours without rows stay blank)."""
    return alt.X(
        "hour:T",
        timeUnit="utcyearmonthdatehours",
        title="hour (UTC)",
        scale=alt.Scale(domain=[start_ms, end_ms]),
        axis=alt.Axis(format="%b %d", tickCount="day", labelAngle=0, grid=False),
    )


def diverging(scheme: Literal["blueorange"], mid: float, values: Iterable[float]) -> alt.Scale:
    """A diverging colour scale centred on `mid`, its domain reaching `mid` on both sides."""
    found = list(values)
    return alt.Scale(scheme=scheme, domain=[min([*found, mid]), max([*found, mid])], domainMid=mid)


def heatmap(
    x: alt.X,
    labels: list[str],
    *,
    field: str,
    title: str,
    scale: alt.Scale,
    value_format: str,
    tooltip: list[alt.Tooltip],
) -> alt.Chart:
    """One row per item (video, input), one cell per hour, the cell's colour its value.

    The rows come from the parent chart's data; a cell without a value is left blank.
    """
    chart: alt.Chart = (
        alt.Chart()
        .mark_rect()
        .encode(
            x=x,
            y=alt.Y("label:N", sort=labels, title=None, axis=alt.Axis(labelLimit=240)),
            color=alt.Color(
                f"{field}:Q",
                scale=scale,
                title=title,
                legend=alt.Legend(format=value_format, orient="right", gradientLength=90),
            ),
            tooltip=tooltip,
        )
        .transform_filter(f"isValid(datum['{field}'])")
        .properties(width=WIDTH - 200, height=max(22 * len(labels), 60), title=title)
    )
    return chart

"""The HTML page: sections, figures as text, and the charting JavaScript inlined once.

The page makes no request of any kind: Vega, Vega-Lite and vega-embed come inlined from
vl-convert-python's bundle, the data is inside each chart's spec, and a Content-Security-Policy
forbids loading anything (`default-src 'none'`), so even a mistake could not reach a network.
"""

from __future__ import annotations

import datetime
import functools
import html
import json
from importlib import resources
from typing import Any

import altair as alt
import vl_convert

from cloudflare_stream_report.parts import Section, Table, Tile

# Vega compiles its expressions with `new Function`: 'unsafe-eval'. Nothing may be fetched.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data:"
)

RENDER = """
(function () {
  var charts = Array.prototype.slice.call(document.querySelectorAll(".chart[data-spec]"));
  var drawn = charts.map(function (el) {
    try {
      var spec = JSON.parse(document.getElementById(el.dataset.spec).textContent);
      return vegaEmbed(el, spec, {renderer: "svg", actions: false}).then(
        function () { el.dataset.state = "drawn"; },
        function (error) { fail(el, error); throw error; });
    } catch (error) { fail(el, error); return Promise.reject(error); }
  });
  function fail(el, error) {
    el.dataset.state = "failed";
    el.innerHTML = "";
    var p = document.createElement("p");
    p.className = "chart-error";
    p.textContent = "This chart could not be drawn: " + error;
    el.appendChild(p);
  }
  Promise.allSettled(drawn).then(function (results) {
    var ok = results.every(function (r) { return r.status === "fulfilled"; });
    document.body.dataset.charts = ok ? "drawn" : "failed";
  });
})();
"""


@functools.cache
def javascript() -> tuple[str, str]:
    """(the Vega-Lite version altair writes, the bundle of Vega, Vega-Lite and vega-embed)."""
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])  # v6.4.1 -> 6.4
    bundle = vl_convert.javascript_bundle("window.vegaEmbed = vegaEmbed;", vl_version=version)
    return version, bundle.replace("</script", "<\\/script")


def _e(text: object) -> str:
    """Text escaped for HTML (element content and attribute values)."""
    return html.escape(str(text), quote=True)


def _json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def table_html(table: Table) -> str:
    """A table of figures: page text, numbers right-aligned."""

    def cls(i: int) -> str:
        column = table.columns[i]
        return ' class="num"' if column.numeric else (' class="uid"' if column.code else "")

    head = "".join(f"<th{cls(i)}>{_e(c.header)}</th>" for i, c in enumerate(table.columns))
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(i)}>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in table.cells()
    )
    out = (
        f'<div class="table-wrap"><table id="{_e(table.key)}"><caption>{_e(table.caption)}'
        f"</caption><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>"
    )
    if table.folded:
        return f"<details><summary>The figures ({len(table.rows)} rows)</summary>{out}</details>"
    return out


def section_html(section: Section) -> str:
    """A section: heading, what it shows, the chart, its figures, and any problem."""
    parts = [f'<section id="{_e(section.key)}"><h2>{_e(section.title)}</h2>']
    if section.about:
        parts.append(f'<p class="about">{_e(section.about)}</p>')
    parts += [f'<p class="problem">{_e(problem)}</p>' for problem in section.problems]
    if section.chart is not None:
        key = f"spec-{section.key}"
        label = section.chart.get("description", section.title)
        parts.append(
            f'<div class="chart" id="chart-{_e(section.key)}" data-spec="{key}" role="figure" '
            f'aria-label="{_e(label)}"></div>'
            f'<script type="application/json" id="{key}">{_json(section.chart)}</script>'
        )
    parts += [table_html(table) for table in section.tables]
    parts.append("</section>")
    return "\n".join(parts)


def tiles_html(tiles: list[Tile]) -> str:
    """The headline figures."""
    if not tiles:
        return ""
    cells = "".join(
        f'<div class="tile" id="tile-{_e(t.key)}"><div class="label">{_e(t.label)}</div>'
        f'<div class="value">{_e(t.value)}</div><div class="note">{_e(t.note)}</div></div>'
        for t in tiles
    )
    return f'<div class="tiles">{cells}</div>'


def page(
    *,
    source: str,
    schema: str,
    accounts: list[str],
    tiles: list[Tile],
    sections: list[Section],
    models: Table,
    problems: list[str],
    now: datetime.datetime,
) -> str:
    """The whole page."""
    css = resources.files("cloudflare_stream_report").joinpath("report.css").read_text()
    charts = any(section.chart is not None for section in sections)
    scripts = ""
    credits = ""
    if charts:
        version, bundle = javascript()
        scripts = f"<script>\n{bundle}\n</script>\n<script>{RENDER}</script>"
        credits = (
            f" Charts: Vega-Lite {version}, Vega {vl_convert.get_vega_version()} and vega-embed "
            f"{vl_convert.get_vega_embed_version()} (BSD-3-Clause, © the University of "
            "Washington Interactive Data Lab), inlined in this file."
        )
    names = ", ".join(f"{a[:8]}… = {a}" for a in accounts) or "none found"
    notice = ""
    if problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in problems)
        notice = (
            '<div class="problems" id="problems"><h2>Some models could not be read</h2>'
            f"<ul>{items}</ul></div>"
        )
    nav = "".join(f'<a href="#{_e(s.key)}">{_e(s.title)}</a>' for s in sections)
    body = "\n".join(section_html(section) for section in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cloudflare Stream report</title>
<style>
{css}</style>
</head>
<body>
<header>
<h1>Cloudflare Stream report</h1>
<p class="meta">From the dbt models in schema <code>{_e(schema)}</code> of
<code>{_e(source)}</code>, made {_e(now.strftime("%Y-%m-%d %H:%M"))} UTC. Accounts: {_e(names)}.
Times are UTC.</p>
{tiles_html(tiles)}
{notice}
<nav>{nav}<a href="#models">Models read</a></nav>
</header>
<main>
{body}
<section id="models"><h2>Models read</h2>
<p class="about">The tables this page was made from, and how many rows each had.</p>
{table_html(models)}
</section>
</main>
<footer>Made by cloudflare_stream_report (tap-cloudflare-stream) from the dbt models only; it
opens offline and requests nothing.{_e(credits)}</footer>
{scripts}
</body>
</html>
"""

"""Read the models, build the page, write it."""

from __future__ import annotations

import datetime
from pathlib import Path

from cloudflare_stream_report import fmt, page, report
from cloudflare_stream_report.parts import Table, num, text
from cloudflare_stream_report.warehouse import MODELS, Status, Warehouse


def models_table(wh: Warehouse) -> Table:
    """Each model the page reads: ready, empty or missing, and its rows."""
    rows = [
        {"model": f"{wh.schema}.{model}", "status": wh.status(model).value, "rows": wh.count(model)}
        for model in MODELS
    ]
    columns = [text("model", "model", code=True), text("status", "status"),
               num("rows", "rows", fmt.count)]  # fmt: skip
    return Table("models-table", f"Models in {wh.path}", columns, rows, folded=False)


def accounts(wh: Warehouse) -> list[str]:
    """The accounts found in the models."""
    ready = [model for model in MODELS if wh.status(model) is Status.READY]
    union = " UNION ".join(f"SELECT account_id FROM {wh.table(model)}" for model in ready)
    return [r["account_id"] for r in wh.rows(f"{union} ORDER BY 1")] if ready else []


def build_page(wh: Warehouse, now: datetime.datetime | None = None) -> str:
    """The report of a warehouse, as HTML."""
    return page.page(
        source=str(wh.path),
        schema=wh.schema,
        accounts=accounts(wh),
        tiles=report.tiles(wh),
        sections=report.sections(wh),
        models=models_table(wh),
        problems=[wh.problem(model) for model in MODELS if wh.problem(model)],
        now=now or datetime.datetime.now(datetime.timezone.utc),
    )


def write_report(db: Path, out: Path, schema: str = "analytics") -> Path:
    """Write the report of the DuckDB file `db` to `out` (replaced whole); the path written."""
    wh = Warehouse(db, schema)
    try:
        html = build_page(wh)
    finally:
        wh.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(out)
    return out

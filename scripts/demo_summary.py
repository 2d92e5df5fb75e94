"""Helpers of scripts/demo: the demo environment's settings, and a summary of the DuckDB file.

- `python scripts/demo_summary.py demo-setting account_ids`: a demo setting (lists joined by ",")
- `python scripts/demo_summary.py summary [--db PATH] [--require-models]`: what the pipeline
  loaded (raw tables), then figures read from the dbt models that dbt-duckdb:build made
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import duckdb
import yaml

ROOT = Path(__file__).resolve().parent.parent
STREAMS = ("video_playback_events", "video_buffer_events", "video_quality_events", "minutes_viewed")
# The Stream REST catalog streams, and the listings of videos and live inputs they record.
CATALOG = ("videos", "live_inputs", "storage_usage", "catalog_listings")
HOURLY_STREAMS = ("cmcd_hourly", "live_input_events_hourly")


def demo_plugin_config(plugin: str) -> dict[str, Any]:
    """A plugin's config in meltano.yml's demo environment."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for environment in project["environments"]:
        if environment["name"] != "demo":
            continue
        for plugins in environment["config"]["plugins"].values():
            for entry in plugins:
                if entry["name"] == plugin:
                    return dict(entry.get("config", {}))
    raise SystemExit(f"meltano.yml: no {plugin} in the demo environment")


def utility_setting(plugin: str, name: str) -> str:
    """A utility's setting default in meltano.yml (e.g. the schema dbt-duckdb builds in)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for entry in project["plugins"]["utilities"]:
        if entry["name"] == plugin:
            return str(next(s["value"] for s in entry["settings"] if s["name"] == name))
    raise SystemExit(f"meltano.yml: no utility {plugin}")


def duckdb_path() -> Path:
    """The DuckDB file the demo loads: TARGET_DUCKDB_PATH, else the demo environment's path."""
    raw = os.environ.get("TARGET_DUCKDB_PATH") or demo_plugin_config("target-duckdb")["path"]
    return Path(raw.replace("$MELTANO_PROJECT_ROOT", str(ROOT)))


def primary_key(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """A table's primary key columns, as DuckDB declares them."""
    row = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [schema, table],
    ).fetchone()
    return list(row[0]) if row else []


def table_counts(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[int, int]:
    """(rows, distinct primary keys) of a table."""
    # A table made by hand (the dbt tests' fixtures) may declare no key: whole rows, then.
    keys = ", ".join(f'"{c}"' for c in primary_key(con, schema, table)) or "*"
    row = con.execute(
        f"SELECT (SELECT count(*) FROM {schema}.{table}), "
        f"(SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {schema}.{table}))"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """True when the DuckDB file has the table (or view)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def print_models(con: duckdb.DuckDBPyConnection, models: str) -> None:
    """The demo's figures, read from the dbt models (transform/), over the last 7 loaded days."""
    row = con.execute(f"SELECT max(date) FROM {models}.video_daily").fetchone()
    last = row[0] if row else None
    if last is None:
        print(f"\n{models}.video_daily is empty.")
        return
    week = "date > ?::DATE - 7"
    print(f"\nTop 5 videos, last 7 days to {last} ({models}.video_daily; name, else uid):")
    print(f"  {'video':<34}{'views':>8}{'player min':>12}{'billed min':>12}"
          f"{'buffer/view':>13}{'completion':>12}")  # fmt: skip
    for video, views, player, billed, buffers, completion in con.execute(
        "SELECT coalesce(any_value(name), uid), sum(views), sum(time_viewed_minutes), "
        "sum(minutes_viewed), sum(buffer_events) / nullif(sum(views), 0), "
        # completion over the week, rebuilt from additive parts, not an average of ratios
        "sum(time_viewed_minutes) * 60 / nullif(sum(views), 0) / any_value(duration) "
        f"FROM {models}.video_daily WHERE {week} "
        "GROUP BY account_id, uid ORDER BY 4 DESC, 2 DESC, 1 LIMIT 5",
        [last],
    ).fetchall():
        print(f"  {video:<34}{int(views):>8}{int(player):>12}{int(billed):>12}"
              f"{_fmt(buffers, '.2f'):>13}{_fmt(completion, '.0%'):>12}")  # fmt: skip

    print(f"\nPer day, last 7 days ({models}.account_daily, all accounts):")
    print(f"  {'date':<12}{'views':>8}{'player min':>12}{'billed min':>12}{'videos':>8}"
          f"{'stored min':>12}")  # fmt: skip
    for date, views, player, billed, videos, stored in con.execute(
        "SELECT date, sum(views), sum(time_viewed_minutes), sum(minutes_viewed), "
        f"sum(videos_watched), sum(total_storage_minutes) FROM {models}.account_daily "
        f"WHERE {week} GROUP BY date ORDER BY date",
        [last],
    ).fetchall():
        print(f"  {date!s:<12}{int(views):>8}{int(player):>12}{int(billed):>12}{int(videos):>8}"
              f"{_fmt(stored, '.0f'):>12}")  # fmt: skip

    print(f"\nRebuffering by video, last 7 days ({models}.video_delivery_daily, CMCD):")
    rows = con.execute(
        "SELECT coalesce(any_value(name), video_id), sum(requests), "
        "sum(milliseconds_viewed) / 60000, "
        "sum(buffer_starvation_milliseconds) / nullif(sum(milliseconds_viewed), 0), "
        # a mean over the week: the daily means weighted by their requests (kbps, as CMCD)
        "sum(avg_encoded_bitrate_kbps * requests) / nullif(sum(requests), 0) "
        f"FROM {models}.video_delivery_daily WHERE {week} "
        "GROUP BY account_id, video_id ORDER BY 4 DESC NULLS LAST, 1 LIMIT 5",
        [last],
    ).fetchall()
    if not rows:
        print("  (no rows: cmcd_hourly is not loaded)")
    else:
        print(f"  {'video':<34}{'requests':>10}{'watch min':>11}{'rebuffering':>13}"
              f"{'kbit/s':>9}")  # fmt: skip
    for video, requests, minutes, ratio, kbps in rows:
        print(f"  {video:<34}{int(requests):>10}{_fmt(minutes, '.0f'):>11}"
              f"{_fmt(ratio, '.2%'):>13}{_fmt(kbps, '.0f'):>9}")  # fmt: skip

    print(f"\nEstimated Stream bill ({models}.billing_monthly, list prices, USD):")
    print(f"  {'account':<10}{'month':<9}{'delivered min':>15}{'delivery':>10}{'storage':>10}"
          f"{'total':>10}{'projected':>11}")  # fmt: skip
    for account, month, in_progress, minutes, delivery, storage, total, projected in con.execute(
        "SELECT account_id, month, in_progress, minutes_delivered, delivery_cost_usd, "
        f"storage_cost_usd, cost_usd, projected_cost_usd FROM {models}.billing_monthly "
        "ORDER BY month DESC, account_id LIMIT 4"
    ).fetchall():
        mark = "*" if in_progress else " "
        print(f"  {account[:8]:<10}{month:%Y-%m}{mark:<2}{minutes:>15}{delivery:>10.2f}"
              f"{_fmt(storage, '.2f'):>10}{total:>10.2f}{projected:>11.2f}")  # fmt: skip
    print("  (* in progress: projected linearly to the month's end; storage is the storage bought)")


def print_audit(con: duckdb.DuckDBPyConnection, models: str) -> int:
    """The warehouse reconciled with the tap's audit (sync_audit): 1 if a gap is open."""
    found = con.execute(
        f"SELECT count(*), sum(rows_emitted), sum(rows_found) FROM {models}.audit_reconciliation"
    ).fetchone()
    gaps = con.execute(
        f"SELECT stream, account_id, first_day, last_day, missing_rows FROM {models}.audit_gaps"
    ).fetchall()
    assert found is not None
    counts, emitted, held = found
    print(
        f"\nAudit ({models}.audit_reconciliation, the latest count of each of {counts} stream, "
        f"account and day): the tap emitted {emitted or 0} rows; the warehouse holds "
        f"{held or 0} rows of those days (more where a later run re-read part of a day)."
    )
    for stream, account, first, last, missing in gaps:
        print(f"  !! gap: {stream}, account {account}, {first}..{last}: {missing} rows missing")
    if not gaps:
        print(f"No gaps ({models}.audit_gaps is empty): nothing was lost on the way in.")
    return 1 if gaps else 0


def _fmt(value: object, spec: str) -> str:
    """A number formatted, or '-' when it is null."""
    return "-" if value is None else format(value, spec)


def summary(db: Path, schema: str, models: str, require_models: bool = False) -> int:
    """Print rows per stream, then the models' figures; 1 if anything is off."""
    if not db.exists():
        print(f"{db} does not exist: run ./scripts/demo first.", file=sys.stderr)
        return 1
    con = duckdb.connect(str(db), read_only=True)
    problems = 0
    print(f"\nDuckDB file: {db}  (schema {schema})\n")
    print(f"{'stream':<26}{'rows':>8}{'distinct keys':>15}{'days':>6}  {'first':<12}{'last':<12}")
    grains = [(s, "date", "") for s in STREAMS]
    grains += [(s, "datetime_hour", " (hours)") for s in HOURLY_STREAMS]
    for stream, time, unit in grains:
        rows, keys = table_counts(con, schema, stream)
        row = con.execute(
            f"SELECT count(DISTINCT {time}), min({time})::DATE, max({time})::DATE "
            f"FROM {schema}.{stream}"
        ).fetchone()
        assert row is not None
        steps, first, last = row
        line = f"{stream:<26}{rows:>8}{keys:>15}{steps:>6}  {first!s:<12}{last!s:<12}{unit}"
        print(line.rstrip())
        if rows != keys:
            print(f"  !! {stream} has {rows - keys} duplicate rows", file=sys.stderr)
            problems += 1
        if rows == 0:
            problems += 1
    print(f"\n{'catalog stream':<24}{'rows':>10}{'distinct keys':>15}")
    for stream in CATALOG:
        rows, keys = (
            table_counts(con, schema, stream) if table_exists(con, schema, stream) else (0, 0)
        )
        print(f"{stream:<24}{rows:>10}{keys:>15}")
        if rows != keys:
            print(f"  !! {stream} has {rows - keys} duplicate rows", file=sys.stderr)
            problems += 1
        if rows == 0:
            problems += 1
    if not problems:
        print("No duplicates: every table has exactly one row per primary key.")

    if table_exists(con, models, "audit_gaps"):
        problems += print_audit(con, models)
    if table_exists(con, models, "video_daily"):
        print_models(con, models)
    else:
        print(
            f"\nThe models ({models}.video_daily ...) are not built: run "
            "`meltano --environment=demo run dbt-duckdb:build`."
        )
        if require_models:
            problems += 1
    print(
        '\nQuery it yourself: .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{db}', read_only=True).sql('FROM {models}.video_daily'))\""
    )
    con.close()
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    setting = commands.add_parser("demo-setting", help="a tap setting of the demo environment")
    setting.add_argument("name")
    report = commands.add_parser("summary", help="summarise the demo's DuckDB file")
    report.add_argument("--db", type=Path, help="DuckDB file (default: the demo's)")
    report.add_argument(
        "--require-models", action="store_true", help="fail when the dbt models are not built"
    )
    args = parser.parse_args(argv)

    if args.command == "demo-setting":
        value = demo_plugin_config("tap-cloudflare-stream")[args.name]
        print(",".join(value) if isinstance(value, list) else value)
        return 0
    schema = demo_plugin_config("target-duckdb").get("default_target_schema", "cloudflare_stream")
    models = utility_setting("dbt-duckdb", "schema")
    return summary(args.db or duckdb_path(), schema, models, args.require_models)


if __name__ == "__main__":
    sys.exit(main())

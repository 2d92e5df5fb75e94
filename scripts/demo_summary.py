"""Helpers of scripts/demo: the demo environment's settings, and a summary of the DuckDB file.

- `python scripts/demo_summary.py demo-setting account_ids`: a demo setting (lists joined by ",")
- `python scripts/demo_summary.py summary [--db PATH]`: what the pipeline loaded
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
    keys = ", ".join(f'"{c}"' for c in primary_key(con, schema, table))
    row = con.execute(
        f"SELECT (SELECT count(*) FROM {schema}.{table}), "
        f"(SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {schema}.{table}))"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def summary(db: Path, schema: str) -> int:
    """Print rows per stream, the top videos and views per day; 1 if anything is off."""
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
    if not problems:
        print("No duplicates: every table has exactly one row per primary key.")

    print("\nTop 5 videos by minutes viewed (minutes_viewed, all accounts and days):")
    print(f"  {'uid':<34}{'minutes':>10}{'events':>10}")
    for uid, minutes, events in con.execute(
        f"SELECT uid, sum(minutes_viewed), sum(events) FROM {schema}.minutes_viewed "
        "GROUP BY uid ORDER BY 2 DESC, uid LIMIT 5"
    ).fetchall():
        print(f"  {uid:<34}{int(minutes):>10}{int(events):>10}")

    print("\nViews per day, last 7 days (video_playback_events, all accounts):")
    print(f"  {'date':<12}{'views':>10}{'minutes':>10}")
    recent = con.execute(
        f"SELECT date, sum(views), sum(time_viewed_minutes) FROM {schema}.video_playback_events "
        "GROUP BY date ORDER BY date DESC LIMIT 7"
    ).fetchall()
    for date, views, minutes in reversed(recent):
        print(f"  {date!s:<12}{int(views):>10}{int(minutes):>10}")
    print(
        '\nQuery it yourself: .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{db}', read_only=True).sql('FROM {schema}.minutes_viewed'))\""
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
    args = parser.parse_args(argv)

    if args.command == "demo-setting":
        value = demo_plugin_config("tap-cloudflare-stream")[args.name]
        print(",".join(value) if isinstance(value, list) else value)
        return 0
    schema = demo_plugin_config("target-duckdb").get("default_target_schema", "cloudflare_stream")
    return summary(args.db or duckdb_path(), schema)


if __name__ == "__main__":
    sys.exit(main())

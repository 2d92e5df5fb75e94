"""The demo's pipeline: real Meltano, tap-cloudflare-stream -> target-duckdb, twice.

Runs `meltano --environment=demo run tap-cloudflare-stream target-duckdb` as ./scripts/demo
does (API URL from TAP_CLOUDFLARE_STREAM_API_URL), into a temporary DuckDB file and with its
own Meltano state, so the user's demo is left alone. Checks that every stand-in row arrives,
with empty dimension values rendered as "(empty)" by the demo's stream maps (DuckDB's primary
key refuses the NULL target-duckdb would make of them), and that a second, incremental run
after Cloudflare revised recent days leaves one row per key with the revised values. The
catalog streams arrive whole too (the demo's stream maps write their timestamps without the
final Z, or target-duckdb would lose the first row of each batch). tests/test_dbt_models.py
checks that the summary names the top videos (through the dbt models).
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import yaml
from cloudflare_standin import (
    HourlySettings,
    StandinConfig,
    StandinServer,
    expected_live_inputs,
    expected_videos,
)

from tests.catalog_contract import live_input_record, video_record
from tests.fixtures_meltano import ROOT, MeltanoProject, require_plugins, windows_read
from tests.standin import (
    CONTRACT,
    HOURLY_CONTRACT,
    HOURLY_STREAMS,
    STREAMS,
    UTC,
    expected_hourly,
    expected_records,
    utc_today,
)

SCHEMA = "cloudflare_stream"
EMPTY = "(empty)"


def demo_tap_config() -> dict[str, Any]:
    """The tap's config in meltano.yml's demo environment."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    demo = next(e for e in project["environments"] if e["name"] == "demo")
    tap = next(
        p for p in demo["config"]["plugins"]["extractors"] if p["name"] == "tap-cloudflare-stream"
    )
    return dict(tap["config"])


def expected_rows(
    config: StandinConfig, stream: str, first: datetime.date, last: datetime.date
) -> set[tuple[Any, ...]]:
    """The stand-in's rows as the demo loads them: empty strings rendered as "(empty)"."""
    _, dimensions, metrics = CONTRACT[stream]
    columns = ["account_id", "date", *(c for c, _ in dimensions), *(c for c, _ in metrics)]
    rows = set()
    for record in expected_records(config, stream, config.accounts, first, last):
        values = [EMPTY if record[c] == "" else record[c] for c in columns]
        rows.add(tuple(round(v, 9) if isinstance(v, float) else v for v in values))
    return rows


def loaded_rows(path: Path, stream: str) -> list[tuple[Any, ...]]:
    """Every row of a table in the demo's DuckDB file."""
    _, dimensions, metrics = CONTRACT[stream]
    columns = ["account_id", "date", *(c for c, _ in dimensions), *(c for c, _ in metrics)]
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(columns)} FROM {SCHEMA}.{stream}").fetchall()
    return [
        tuple(
            round(v, 9) if isinstance(v, float) else int(v) if isinstance(v, int) else v
            for v in row
        )
        for row in rows
    ]


def assert_loaded(
    path: Path, config: StandinConfig, first: datetime.date, last: datetime.date
) -> None:
    """Each table holds exactly the stand-in's rows, each once, none lost to empty values."""
    for stream in STREAMS:
        rows = loaded_rows(path, stream)
        assert len(rows) == len(set(rows)), f"{stream}: duplicate rows"
        want = expected_rows(config, stream, first, last)
        assert any(EMPTY in row for row in want), f"{stream}: no empty values to test with"
        assert set(rows) == want, (
            f"{stream}: {len(want - set(rows))} rows missing, {len(set(rows) - want)} unexpected"
        )


def assert_catalog_loaded(path: Path, config: StandinConfig) -> None:
    """videos and live_inputs hold every item of the library, each once, names intact."""
    with duckdb.connect(str(path), read_only=True) as con:
        videos = con.execute(
            f"SELECT account_id, uid, name, created::VARCHAR FROM {SCHEMA}.videos"
        ).fetchall()
        inputs = con.execute(f"SELECT account_id, uid, name FROM {SCHEMA}.live_inputs").fetchall()
    want_videos = [video_record(a, v) for a in config.accounts for v in expected_videos(config, a)]
    assert sorted(videos) == sorted(
        # DuckDB shows a timestamp as "YYYY-MM-DD HH:MM:SS"; the library's are whole seconds.
        (r["account_id"], r["uid"], r["name"], r["created"].replace("T", " ").rstrip("Z"))
        for r in want_videos
    )
    want_inputs = [
        live_input_record(a, live)
        for a in config.accounts
        for live in expected_live_inputs(config, a)
    ]
    assert sorted(inputs) == sorted((r["account_id"], r["uid"], r["name"]) for r in want_inputs)


def _hour_text(value: Any) -> str:
    """A loaded datetime_hour as the API prints it (DuckDB gives a timestamp back)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return str(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def assert_hourly_loaded(
    path: Path, config: StandinConfig, start: datetime.datetime, end: datetime.datetime
) -> None:
    """Each hour-grained table holds exactly the stand-in's groups for [start, end), once."""
    for stream in HOURLY_STREAMS:
        _, dimensions, metrics = HOURLY_CONTRACT[stream]
        columns = ["account_id", "datetime_hour", *(c for c, _ in dimensions)]
        columns += [c for c, _ in metrics]
        with duckdb.connect(str(path), read_only=True) as con:
            loaded = con.execute(f"SELECT {', '.join(columns)} FROM {SCHEMA}.{stream}").fetchall()
        rows = [
            tuple(
                _hour_text(v) if i == 1 else round(v, 9) if isinstance(v, float) else v
                for i, v in enumerate(row)
            )
            for row in loaded
        ]
        assert len(rows) == len(set(rows)), f"{stream}: duplicate rows"
        want = {
            tuple(
                EMPTY if r[c] == "" else round(r[c], 9) if isinstance(r[c], float) else r[c]
                for c in columns
            )
            for r in expected_hourly(config, stream, config.accounts, start, end)
        }
        assert want, f"{stream}: the stand-in should hold rows"
        assert set(rows) == want, (
            f"{stream}: {len(want - set(rows))} rows missing, {len(set(rows) - want)} unexpected"
            f", e.g. {sorted(want - set(rows))[:1]}"
        )


def test_demo_pipeline_into_duckdb_twice(meltano_project: MeltanoProject, tmp_path: Path) -> None:
    require_plugins("tap-cloudflare-stream", "target-duckdb")
    demo = demo_tap_config()
    today = utc_today() - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=6)
    config = StandinConfig(
        accounts=list(demo["account_ids"]),
        seed=5,
        today=today,
        rows_per_day=60,
        videos=10,
        tokens={demo["api_token"]: None},
        rate_limit_queries=None,
        # The tap runs on the wall clock here: a long retention keeps its first hour at
        # start_date, and the stand-in's "now" (yesterday 12:30) is always in its past.
        hourly={
            name: HourlySettings(not_older_than=30 * 86400)
            for name in ("streamCMCDAdaptiveGroups", "liveInputEventsAdaptiveGroups")
        },
    )
    hours_from = datetime.datetime.combine(start, datetime.time(), UTC)
    warehouse = tmp_path / "warehouse.duckdb"
    with StandinServer(config) as server:
        env = {
            "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
            "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
            # The tests' today, not the wall clock's: the tap runs in Meltano on the real clock.
            "TAP_CLOUDFLARE_STREAM_END_DATE": utc_today().isoformat(),
            "TARGET_DUCKDB_PATH": str(warehouse),
        }
        pipeline = ("tap-cloudflare-stream", "target-duckdb")
        args = ("--environment=demo", "run", "--no-install", *pipeline)

        meltano_project.meltano(*args, env=env)
        assert_loaded(warehouse, config, start, today)
        assert_catalog_loaded(warehouse, config)
        noon = datetime.datetime.combine(today, datetime.time(12, 30), UTC)  # the stand-in's now
        assert_hourly_loaded(warehouse, config, hours_from, noon)

        config.revision += 1
        config.today = today + datetime.timedelta(days=1)
        # Hours after 12:30 yesterday arrive, the 12:00 hour completes; still in the past.
        config.now = datetime.datetime.combine(today, datetime.time(23, 30), UTC)
        log = meltano_project.meltano(*args, env=env)
        resume = today - datetime.timedelta(days=int(demo.get("lookback_days", 2)))
        assert set(windows_read(log)) == {f"{resume}..{utc_today()}"}, windows_read(log)
        assert_loaded(warehouse, config, start, config.today)
        assert_hourly_loaded(warehouse, config, hours_from, config.now)

    # The demo's summary reads the same file and finds no duplicates.
    summary = subprocess.run(
        [sys.executable, str(ROOT / "scripts/demo_summary.py"), "summary", "--db", str(warehouse)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert summary.returncode == 0, summary.stdout + summary.stderr
    assert "No duplicates" in summary.stdout
    for stream in (*STREAMS, *HOURLY_STREAMS, "videos", "live_inputs", "storage_usage"):
        assert stream in summary.stdout
    # Meltano's state holds one bookmark per stream and account, each at the last day read.
    state = meltano_project.state("demo", "demo:tap-cloudflare-stream-to-target-duckdb")
    assert bookmarks(state) == {
        (stream, account): config.today.isoformat()
        for stream in STREAMS
        for account in config.accounts
    }


def bookmarks(state: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(stream, account_id) -> the date bookmark of that partition, from Meltano's state."""
    found: dict[tuple[str, str], str] = {}
    for stream, bookmark in state["singer_state"]["bookmarks"].items():
        if stream not in STREAMS:  # catalog (full tables, read-day bookmark) and hourly streams
            continue
        for partition in bookmark.get("partitions", []):
            assert partition["replication_key"] == "date", partition
            account = partition["context"]["account_id"]
            assert (stream, account) not in found, f"two partitions for {stream}, {account}"
            found[stream, account] = partition["replication_key_value"]
    return found

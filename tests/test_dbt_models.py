"""The dbt project (transform/) built by Meltano after the loader, on DuckDB and PostgreSQL.

- DuckDB, as the demo runs it: `meltano run tap-cloudflare-stream target-duckdb
  dbt-duckdb:build`. Every stream is loaded by the tap (names, durations, storage, CMCD). Then
  the hourly tables are replaced by a few hand-made rows whose delivery figures the test knows
  (tests/fixtures_dbt.py) and `meltano run dbt-duckdb:build` runs again; the demo's summary
  prints from the models.
- PostgreSQL: `meltano run tap-cloudflare-stream target-postgres` into a real server, a video is
  deleted from the library, then `... target-postgres dbt-postgres:build`: the deleted video's
  row is soft-deleted (_sdc_deleted_at) and the models leave it out.

Each time `dbt build` runs the project's own data tests (grain, not null, relationships,
accepted values, totals equal to the raw rows), and the test compares video_daily with the
stand-in's truth, row by row.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from cloudflare_standin import StandinConfig, StandinServer, expected_videos
from cloudflare_standin.data import account_videos

from tests.fixtures_dbt import (
    PendingTables,
    create_pending_tables,
    expected_delivery_hourly,
    expected_storage,
    expected_video_daily,
    loaded_catalog,
    rounded,
)
from tests.fixtures_meltano import ROOT, MeltanoProject, require_plugins
from tests.fixtures_pg import PostgresServer
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today

RAW = "cloudflare_stream"
MODELS = "analytics"  # the dbt utilities' `schema` setting in meltano.yml
VIDEO_DAILY = [
    "account_id", "date", "uid", "name", "creator", "duration", "in_catalog", "views",
    "time_viewed_minutes", "minutes_viewed", "buffer_events", "quality_changes",
    "buffer_events_per_view", "completion_estimate",
]  # fmt: skip
Query = Callable[[str], list[tuple[Any, ...]]]
# The hourly tables get hand-made rows in the PostgreSQL test (tests/fixtures_dbt.py,
# `create_pending_tables`), so that pipeline leaves the hourly streams out (Meltano's select_filter
# extra). The hourly streams
# themselves are checked end to end in tests/test_hourly.py and the DuckDB/PostgreSQL e2e tests.
HOURLY_STREAMS = ("cmcd_hourly", "live_input_events_hourly")
WITHOUT_HOURLY_STREAMS = {
    "TAP_CLOUDFLARE_STREAM__SELECT_FILTER": json.dumps([f"!{s}" for s in HOURLY_STREAMS])
}


def dbt_env(plugin: str, tmp_path: Path) -> dict[str, str]:
    """A dbt utility's target and log folders in the test's own folder (its settings' variables)."""
    prefix = plugin.upper().replace("-", "_")
    return {f"{prefix}_TARGET_PATH": str(tmp_path / plugin), f"{prefix}_LOG_PATH": str(tmp_path)}


def assert_dbt_passed(log: str) -> None:
    """dbt build ran every model and test, none failed or was skipped."""
    done = [line for line in log.splitlines() if "Done. PASS=" in line]
    assert done, "dbt build did not finish"
    assert "WARN=0 ERROR=0 SKIP=0" in done[-1], done[-1]


def assert_video_daily(query: Query, expected: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    """video_daily holds exactly the expected rows, each once, every column equal."""
    rows = query(f"SELECT {', '.join(VIDEO_DAILY)} FROM {MODELS}.video_daily")
    got = {tuple(row[:3]): dict(zip(VIDEO_DAILY[3:], row[3:], strict=True)) for row in rows}
    assert len(got) == len(rows), "video_daily has duplicate keys"
    assert set(got) == set(expected), (
        f"{len(set(expected) - set(got))} rows missing, {len(set(got) - set(expected))} extra"
    )
    for key, want in expected.items():
        have = {column: rounded(value) for column, value in got[key].items()}
        assert have == {column: rounded(want[column]) for column in have}, key


def assert_catalog_used(query: Query, pending: PendingTables, config: StandinConfig) -> None:
    """Delivery and storage models against the hand-made raw rows; names of deleted videos null."""
    delivery = {
        tuple(row[:3]): tuple(rounded(v) for v in row[3:])
        for row in query(
            "SELECT account_id, datetime_hour, video_id, requests, milliseconds_viewed, "
            f"rebuffering_ratio, avg_encoded_bitrate FROM {MODELS}.video_delivery_hourly"
        )
    }
    want = {
        key: tuple(rounded(v) for v in values.values())
        for key, values in expected_delivery_hourly(pending.cmcd).items()
    }
    assert delivery == want

    for account in config.accounts:
        for day, total, count in query(
            "SELECT date, total_storage_minutes, video_count FROM "
            f"{MODELS}.account_daily WHERE account_id = '{account}'"
        ):
            want_total, want_count = expected_storage(pending.storage, account, day)
            assert (rounded(total), count) == (rounded(want_total), want_count), (account, day)
    stored = query(f"SELECT count(*) FROM {MODELS}.account_daily WHERE video_count IS NOT NULL")
    assert stored[0][0] > 0, "no day shows a storage reading"
    deleted = query(f"SELECT count(*), sum(views) FROM {MODELS}.video_daily WHERE NOT in_catalog")
    assert deleted[0][0] > 0, "no deleted video to test with"
    assert deleted[0][1] > 0, "the deleted videos' views were lost"


def summary(warehouse: Path) -> str:
    """The demo's summary of a DuckDB file (it must read the models)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/demo_summary.py"), "summary", "--db",
         str(warehouse), "--require-models"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_dbt_build_on_duckdb_as_the_demo_runs_it(
    meltano_project: MeltanoProject, tmp_path: Path
) -> None:
    require_plugins("tap-cloudflare-stream", "target-duckdb", "dbt-duckdb")
    today = utc_today() - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=4)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],  # the demo environment's accounts
        seed=31,
        today=today,
        rows_per_day=40,
        videos=8,
        tokens={"demo-token": None},
        rate_limit_queries=None,
    )
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
        "TARGET_DUCKDB_PATH": str(warehouse),
        "DBT_DUCKDB_PATH": str(warehouse),
        **dbt_env("dbt-duckdb", tmp_path),
    }

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    with StandinServer(config) as server:
        env["TAP_CLOUDFLARE_STREAM_API_URL"] = server.url
        log = meltano_project.meltano(
            "--environment=demo", "run", "--no-install",
            "tap-cloudflare-stream", "target-duckdb", "dbt-duckdb:build", env=env,
        )  # fmt: skip
    assert_dbt_passed(log)
    assert "is not loaded" not in log  # every raw table, the hourly ones too, came from the tap
    catalog, _ = loaded_catalog(config, utc_today())
    assert_video_daily(query, expected_video_daily(config, start, today, catalog))
    assert "%" in summary(warehouse).split("Rebuffering by video")[1]

    # The CMCD and live-input tables are replaced by a few hand-made rows whose delivery figures
    # the test knows (tests/fixtures_dbt.py), and the models are built again.
    with duckdb.connect(str(warehouse)) as con:
        for table in HOURLY_STREAMS:
            con.execute(f"DROP TABLE {RAW}.{table}")

        def execute(sql: str, rows: Sequence[Sequence[Any]]) -> None:
            if rows:
                con.executemany(sql, rows)
            else:
                con.execute(sql)

        pending = create_pending_tables(execute, "duckdb", RAW, config, utc_today())
    log = meltano_project.meltano(
        "--environment=demo", "run", "--no-install", "dbt-duckdb:build", env=env
    )
    assert_dbt_passed(log)
    assert "is not loaded" not in log
    assert_video_daily(query, expected_video_daily(config, start, today, pending.catalog))
    assert_catalog_used(query, pending, config)

    printed = summary(warehouse)
    top = printed.split("Top 5 videos")[1].split("\n\n")[0]
    names = {name for name, _, _ in pending.catalog.values() if name}
    assert any(name in top for name in names), top
    rebuffering = printed.split("Rebuffering by video")[1]
    assert "%" in rebuffering, rebuffering


def test_dbt_build_on_postgres(
    meltano_project: MeltanoProject, postgres_server: PostgresServer, postgres_database: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    require_plugins("tap-cloudflare-stream", "target-postgres", "dbt-postgres")
    today = utc_today() - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=5)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],
        seed=37,
        today=today,
        rows_per_day=30,
        videos=8,
        tokens={"test-token": None},  # the test environment's api_token
        rate_limit_queries=None,
    )

    def query(sql: str) -> list[tuple[Any, ...]]:
        with postgres_server.connect(postgres_database) as conn:
            return conn.execute(sql).fetchall()

    with StandinServer(config) as server:
        env = {
            **WITHOUT_HOURLY_STREAMS,
            "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
            "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps(config.accounts),
            "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
            **dbt_env("dbt-postgres", tmp_path),
        }
        for prefix in ("TARGET_POSTGRES", "DBT_POSTGRES"):
            env[f"{prefix}_HOST"] = postgres_server.host
            env[f"{prefix}_PORT"] = str(postgres_server.port)
            env[f"{prefix}_USER"] = postgres_server.user
            env[f"{prefix}_PASSWORD"] = postgres_server.password
        env["TARGET_POSTGRES_DATABASE"] = env["DBT_POSTGRES_DBNAME"] = postgres_database
        pipeline = ("--environment=test", "run", "--no-install")
        meltano_project.meltano(*pipeline, "tap-cloudflare-stream", "target-postgres", env=env)
        # A watched video is deleted from the library: the next run soft-deletes its row.
        gone = sorted(expected_video_uids(config, ACCOUNT_A))[0]
        server.delete_video(ACCOUNT_A, gone)

        with postgres_server.connect(postgres_database) as conn:

            def execute(sql: str, rows: Sequence[Sequence[Any]]) -> None:
                with conn.cursor() as cursor:
                    if rows:
                        cursor.executemany(sql, rows)
                    else:
                        cursor.execute(sql)

            pending = create_pending_tables(execute, "postgres", RAW, config, utc_today())
        log = meltano_project.meltano(
            *pipeline, "tap-cloudflare-stream", "target-postgres", "dbt-postgres:build", env=env
        )
    assert postgres_server.password not in log, "the database password leaked into the log"
    assert_dbt_passed(log)
    assert "is not loaded" not in log
    soft_deleted = query(f"SELECT uid FROM {RAW}.videos WHERE _sdc_deleted_at IS NOT NULL")
    assert soft_deleted == [(gone,)]
    assert (ACCOUNT_A, gone) not in pending.catalog
    assert_video_daily(query, expected_video_daily(config, start, today, pending.catalog))
    assert_catalog_used(query, pending, config)


def expected_video_uids(config: StandinConfig, account: str) -> set[str]:
    """The uids of the account's videos that have analytics and are in the library."""
    watched = set(account_videos(config.seed, account, config.videos).uids)
    return watched & {video["uid"] for video in expected_videos(config, account)}

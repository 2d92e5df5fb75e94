"""The dbt project (transform/) built by Meltano after the loader, on DuckDB and PostgreSQL.

- DuckDB, as the demo runs it: `meltano run tap-cloudflare-stream target-duckdb
  dbt-duckdb:build`. Every stream, the hour-grained ones too, comes from the stand-in through
  the real tap and target; the demo's summary prints from the models.
- PostgreSQL: `meltano run tap-cloudflare-stream target-postgres` into a real server, a video is
  deleted from the library, then `... target-postgres dbt-postgres:build`: the deleted video's
  row stays in the raw table, unmarked (ACTIVATE_VERSION is off by default), and the models
  leave it out (its listing is older than the account's latest complete one).

Each time `dbt build` runs the project's own data tests, and every model is read back from the
warehouse and compared, row by row, with the stand-in's truth (tests/fixtures_dbt.py): the
daily streams' rows, the catalog, and for the CMCD and live-input models the generated events.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from cloudflare_standin import (
    HOURLY_DATASETS,
    HourlySettings,
    StandinConfig,
    StandinServer,
    expected_videos,
)
from cloudflare_standin.data import account_videos

from tests.fixtures_dbt import (
    TRUTH,
    Loaded,
    assert_dbt_passed,
    assert_model,
    dbt_env,
    expected_billing_monthly,
)
from tests.fixtures_meltano import ROOT, MeltanoProject, require_plugins
from tests.fixtures_pg import PostgresServer
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today

RAW = "cloudflare_stream"
Query = Callable[[str], list[tuple[Any, ...]]]


def assert_models_hold_the_truth(query: Query, loaded: Loaded) -> None:
    """Every mart equals the stand-in's truth; the deleted videos' views stay, unnamed."""
    for model, truth in TRUTH.items():
        assert_model(query, model, truth(loaded))
    deleted = query("SELECT count(*), sum(views) FROM analytics.video_daily WHERE NOT in_catalog")
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
    # From before the last month's end: billing_monthly has a whole month and one in progress.
    start = utc_today().replace(day=1) - datetime.timedelta(days=2)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],  # the demo environment's accounts
        seed=31,
        today=today,
        rows_per_day=20,
        videos=8,
        tokens={"demo-token": None},
        rate_limit_queries=None,
        # The hourly datasets keep 40 days here, so they are read from start_date too.
        hourly={name: HourlySettings(not_older_than=40 * 86400) for name in HOURLY_DATASETS},
        cmcd_sessions_per_hour=4,
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
    loaded = Loaded(config, first=start, read_on=utc_today())
    assert_models_hold_the_truth(query, loaded)
    months = expected_billing_monthly(loaded).values()
    assert [m["in_progress"] for m in months].count(False) >= 1, "no whole month to test"

    printed = summary(warehouse)
    audit = re.search(r"the tap emitted (\d+) rows; the warehouse holds (\d+) rows of", printed)
    assert audit, printed
    assert audit[1] == audit[2], printed
    assert "No gaps" in printed
    top = printed.split("Top 5 videos")[1].split("\n\n")[0]
    names = {video["name"] for video in loaded.videos().values()}
    assert any(name in top for name in names if name), top
    # CMCD bitrates are kbps: the stand-in's ladder is 400 to 6,000 kbit/s.
    rebuffering = printed.split("Rebuffering by video")[1].splitlines()[2:]
    rates = [int(line.split()[-1]) for line in rebuffering if re.search(r"%\s+\d+$", line)]
    assert rates, printed
    assert all(400 <= rate <= 6000 for rate in rates), rebuffering


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
        log = meltano_project.meltano(
            *pipeline, "tap-cloudflare-stream", "target-postgres", "dbt-postgres:build", env=env
        )
    assert postgres_server.password not in log, "the database password leaked into the log"
    assert_dbt_passed(log)
    assert "is not loaded" not in log
    kept = query(f"SELECT uid, _sdc_deleted_at FROM {RAW}.videos WHERE uid = '{gone}'")
    assert kept == [(gone, None)], "the raw row stays, unmarked"
    assert query(f"SELECT count(*) FROM analytics.stg_videos WHERE uid = '{gone}'") == [(0,)]
    loaded = Loaded(config, first=start, read_on=utc_today())
    assert (ACCOUNT_A, gone) not in loaded.videos()
    assert_models_hold_the_truth(query, loaded)


def expected_video_uids(config: StandinConfig, account: str) -> set[str]:
    """The uids of the account's videos that have analytics and are in the library."""
    watched = set(account_videos(config.seed, account, config.videos).uids)
    return watched & {video["uid"] for video in expected_videos(config, account)}

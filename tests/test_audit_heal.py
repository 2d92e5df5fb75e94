"""A gap between the tap and the warehouse: dbt finds it, README's heal command fills it.

The real pipeline (Meltano, the tap, the real target, dbt) loads a warehouse from the stand-in,
then rows of one (stream, account, day) are deleted from a raw table, on a day older than the
lookback, so the next scheduled run would never read it again:

- DuckDB (the demo's pipeline): `meltano invoke dbt-duckdb build` fails and its log names the
  stream, the account and the day; README's heal command, run as written, restores exactly the
  stand-in's rows; `meltano state get` of the scheduled job is unchanged.
- The heal script of the example workflow (examples/github-actions/heal_gaps.py) on the same
  DuckDB file: what it cannot heal (a gap older than Cloudflare's retention, a past day of
  storage_usage, a broken audit table) is said, with why, and nothing is read or moved.
- PostgreSQL (target-postgres keeps `_sdc_extracted_at`: the reconciliation is exact, rows of
  the audited run only): the heal of one account leaves every other account's catalog current
  (no ACTIVATE_VERSION from a one-account run).

The scheduled workflow healing a loader's lost batch by itself is tests/test_scheduled_runs.py.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cloudflare_standin import HourlySettings, StandinConfig, StandinServer, expected_videos

from tests.fixtures_meltano import ROOT, MeltanoProject, require_plugins
from tests.fixtures_pg import PostgresServer
from tests.standin import ACCOUNT_A, ACCOUNT_B, UTC, utc_today
from tests.test_e2e_duckdb import assert_hourly_loaded, assert_loaded, demo_tap_config

RAW = "cloudflare_stream"
DUCKDB_STATE_ID = "demo:tap-cloudflare-stream-to-target-duckdb"
HEAL_SCRIPT = ROOT / "examples" / "github-actions" / "heal_gaps.py"
LISTED = ("videos", "live_inputs", "catalog_listings")  # reconciled by listing_id


def readme_heal_command(first: datetime.date, last: datetime.date, account: str, loader: str,
                        dbt: str) -> str:  # fmt: skip
    """README's heal command, with a gap's values filled in."""
    lines = (ROOT / "README.md").read_text().splitlines()
    command = next(line for line in lines if "meltano run --full-refresh --no-state-update" in line)
    for placeholder, value in {
        "<first day>": first.isoformat(),
        "<last day>": last.isoformat(),
        "<account>": account,
        "<loader>": loader,
        "<dbt utility>": dbt,
    }.items():
        assert placeholder in command, f"README's heal command has no {placeholder}"
        command = command.replace(placeholder, value)
    return command


def gap_lines(log: str) -> list[str]:
    """The gaps dbt's reconciliation logged ("Gap: stream ..., account ..., days: ...")."""
    return re.findall(r"Gap: stream \S+, account \S+, [0-9.-]+", log)


# --- DuckDB ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuckdbRun:
    """A demo pipeline's warehouse and Meltano state after one scheduled run, to copy."""

    folder: Path
    config: StandinConfig
    start: datetime.date
    today: datetime.date


@pytest.fixture(scope="module")
def duckdb_run(tmp_path_factory: pytest.TempPathFactory) -> DuckdbRun:
    """One scheduled run of the demo's pipeline, dbt included, from a stand-in."""
    require_plugins("tap-cloudflare-stream", "target-duckdb", "dbt-duckdb")
    folder = tmp_path_factory.mktemp("scheduled")
    demo = demo_tap_config()
    today = utc_today() - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=6)
    config = StandinConfig(
        accounts=list(demo["account_ids"]),
        seed=29,
        today=today,
        rows_per_day=25,
        videos=6,
        tokens={demo["api_token"]: None},
        rate_limit_queries=None,
        hourly={
            name: HourlySettings(not_older_than=30 * 86400)
            for name in ("streamCMCDAdaptiveGroups", "liveInputEventsAdaptiveGroups")
        },
    )
    project = MeltanoProject(system_db=folder / "meltano.db")
    with StandinServer(config) as server:
        project.meltano(
            "--environment=demo", "run", "--no-install",
            "tap-cloudflare-stream", "target-duckdb", "dbt-duckdb:build",
            env={**duckdb_env(folder), "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
                 "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
                 "TAP_CLOUDFLARE_STREAM_END_DATE": utc_today().isoformat()},
        )  # fmt: skip
    return DuckdbRun(folder, config, start, today)


def duckdb_env(folder: Path) -> dict[str, str]:
    """Where the loader and dbt find the DuckDB file, and where dbt writes its files."""
    warehouse = str(folder / "warehouse.duckdb")
    return {
        "TARGET_DUCKDB_PATH": warehouse,
        "DBT_DUCKDB_PATH": warehouse,
        "DBT_DUCKDB_TARGET_PATH": str(folder / "target"),
        "DBT_DUCKDB_LOG_PATH": str(folder / "logs"),
    }


def copy_run(run: DuckdbRun, tmp_path: Path) -> MeltanoProject:
    """The scheduled run's warehouse and system database, copied for one test."""
    for name in ("warehouse.duckdb", "meltano.db"):
        shutil.copy(run.folder / name, tmp_path / name)
    return MeltanoProject(system_db=tmp_path / "meltano.db")


def execute(warehouse: Path, *statements: str) -> None:
    """Change the warehouse by hand."""
    with duckdb.connect(str(warehouse)) as con:
        for statement in statements:
            con.execute(statement)


def test_a_gap_in_duckdb_fails_dbt_build_and_readmes_heal_command_fills_it_exactly(
    duckdb_run: DuckdbRun, tmp_path: Path
) -> None:
    project = copy_run(duckdb_run, tmp_path)
    env = duckdb_env(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    lookback = int(demo_tap_config().get("lookback_days", 2))
    lost_day = duckdb_run.start + datetime.timedelta(days=1)
    assert lost_day < duckdb_run.today - datetime.timedelta(days=lookback)  # never read again
    execute(
        warehouse,
        f"DELETE FROM {RAW}.video_playback_events "
        f"WHERE account_id = '{ACCOUNT_A}' AND date = '{lost_day}'",
    )
    state = project.state("demo", DUCKDB_STATE_ID)
    assert state, "the scheduled run saved no state"
    with duckdb.connect(str(warehouse), read_only=True) as con:  # no _sdc_extracted_at here
        counted_by = con.execute(
            "SELECT DISTINCT counted_by FROM analytics.audit_reconciliation "
            f"WHERE stream NOT IN {LISTED}"
        )
        assert counted_by.fetchall() == [("day_rows",)]  # the catalog: by listing_id

    build = project.run("--environment=demo", "invoke", "dbt-duckdb", "build", env=env, check=False)
    log = build.stdout + build.stderr
    assert build.returncode != 0, log[-3000:]
    assert gap_lines(log) == [f"Gap: stream video_playback_events, account {ACCOUNT_A}, {lost_day}"]
    assert "FAIL 1 audited_rows_are_in_the_warehouse" in log
    summary = subprocess.run(
        [sys.executable, str(ROOT / "scripts/demo_summary.py"), "summary", "--db", str(warehouse)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert summary.returncode == 1  # the demo's summary reads the gap from the models too
    assert f"!! gap: video_playback_events, account {ACCOUNT_A}, {lost_day}..{lost_day}" in (
        summary.stdout
    )

    with StandinServer(duckdb_run.config) as server:
        heal = project.shell(
            readme_heal_command(lost_day, lost_day, ACCOUNT_A, "target-duckdb", "dbt-duckdb"),
            env={**env, "TAP_CLOUDFLARE_STREAM_API_URL": server.url},
        )
        days_read = {
            (entry.variables.get("filter", {}).get("date_geq"), entry.variables.get("accountTag"))
            for entry in server.request_log
            if entry.kind == "data" and entry.dataset == "videoPlaybackEventsAdaptiveGroups"
        }
    log = heal.stdout + heal.stderr
    assert heal.returncode == 0, log[-3000:]
    assert days_read == {(lost_day.isoformat(), ACCOUNT_A)}  # that day of that account only
    assert "PASS audited_rows_are_in_the_warehouse" in log
    assert_loaded(warehouse, duckdb_run.config, duckdb_run.start, duckdb_run.today)
    hours_from = datetime.datetime.combine(duckdb_run.start, datetime.time(), UTC)
    noon = datetime.datetime.combine(duckdb_run.today, datetime.time(12, 30), UTC)
    assert_hourly_loaded(warehouse, duckdb_run.config, hours_from, noon)
    assert project.state("demo", DUCKDB_STATE_ID) == state


def run_heal_script(project: MeltanoProject, env: dict[str, str]) -> tuple[int, str]:
    """The workflow's heal step against the demo environment's DuckDB pipeline."""
    done = project.shell(
        f"{sys.executable} {HEAL_SCRIPT} --environment demo --loader target-duckdb "
        "--dbt dbt-duckdb",
        env=env,
    )
    return done.returncode, done.stdout + done.stderr


def said(log: str) -> list[str]:
    """The heal script's own lines."""
    return [line for line in log.splitlines() if line.startswith("[heal_gaps]")]


def test_the_heal_script_says_what_it_cannot_heal_and_why_and_reads_nothing(
    duckdb_run: DuckdbRun, tmp_path: Path
) -> None:
    project = copy_run(duckdb_run, tmp_path)
    env = duckdb_env(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    state = project.state("demo", DUCKDB_STATE_ID)
    today = datetime.datetime.now(UTC).date()  # the script's today: the wall clock's
    old = today - datetime.timedelta(days=120)
    yesterday = duckdb_run.today - datetime.timedelta(days=0)
    # An audited day Cloudflare no longer keeps, and a storage reading of a past day, both lost.
    execute(
        warehouse,
        f"INSERT INTO {RAW}.sync_audit SELECT * REPLACE ('{old}' AS day, 'old-run' AS run_id) "
        f"FROM {RAW}.sync_audit WHERE stream = 'minutes_viewed' AND account_id = '{ACCOUNT_B}' "
        "LIMIT 1",
        f"INSERT INTO {RAW}.sync_audit SELECT * REPLACE ('{yesterday}' AS day, 'past-run' AS "
        f"run_id) FROM {RAW}.sync_audit WHERE stream = 'storage_usage' "
        f"AND account_id = '{ACCOUNT_B}'",
    )
    with StandinServer(duckdb_run.config) as server:
        env["TAP_CLOUDFLARE_STREAM_API_URL"] = server.url
        status, log = run_heal_script(project, env)
        assert not server.request_log, "the script read Cloudflare for gaps it cannot heal"
    lines = said(log)
    assert status == 1, log[-3000:]
    assert any(
        f"stream minutes_viewed, account {ACCOUNT_B}, {old}" in line
        and "older than Cloudflare keeps (90 days" in line
        for line in lines
    ), lines
    assert any(
        f"stream storage_usage, account {ACCOUNT_B}, {yesterday}" in line
        and "storage use only for the current day" in line
        for line in lines
    ), lines
    assert not [line for line in lines if "Healing" in line]
    assert "set the dbt var audit_ignore_days_before" in lines[-1]
    # Accepting the loss: audits of days before the var's date are no longer reconciled.
    accepted = project.run(
        "--environment=demo", "invoke", "dbt-duckdb", "test", "--select",
        "audited_rows_are_in_the_warehouse", "--vars", f"{{audit_ignore_days_before: '{today}'}}",
        env=env, check=False,
    )  # fmt: skip
    assert accepted.returncode == 0, (accepted.stdout + accepted.stderr)[-3000:]

    # A broken audit table (a column gone): nothing can be found, so nothing is healed.
    execute(
        warehouse,
        f"CREATE TABLE {RAW}.broken AS SELECT * EXCLUDE (rows_emitted) FROM {RAW}.sync_audit",
        f"DROP TABLE {RAW}.sync_audit",
        f"ALTER TABLE {RAW}.broken RENAME TO sync_audit",
    )
    with StandinServer(duckdb_run.config) as server:
        env["TAP_CLOUDFLARE_STREAM_API_URL"] = server.url
        status, log = run_heal_script(project, env)
        assert not server.request_log
    assert status == 1, log[-3000:]
    assert said(log)[-1].startswith(
        "[heal_gaps] Cannot heal anything: the audit could not be read through dbt-duckdb ("
    ), said(log)
    assert "sync_audit table with the tap's columns" in said(log)[-1]
    assert project.state("demo", DUCKDB_STATE_ID) == state


# --- PostgreSQL ------------------------------------------------------------------------------


def test_a_heal_in_postgres_is_exact_and_keeps_every_other_accounts_catalog_current(
    meltano_project: MeltanoProject,
    postgres_server: PostgresServer,
    postgres_database: str,
) -> None:
    require_plugins("tap-cloudflare-stream", "target-postgres", "dbt-postgres")
    today = utc_today()
    start = today - datetime.timedelta(days=5)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],
        seed=37,
        today=today,
        rows_per_day=20,
        videos=5,
        tokens={"test-token": None},
        rate_limit_queries=None,
    )
    connection = {
        "TARGET_POSTGRES_HOST": postgres_server.host,
        "TARGET_POSTGRES_PORT": str(postgres_server.port),
        "TARGET_POSTGRES_USER": postgres_server.user,
        "TARGET_POSTGRES_PASSWORD": postgres_server.password,
        "TARGET_POSTGRES_DATABASE": postgres_database,
        "DBT_POSTGRES_HOST": postgres_server.host,
        "DBT_POSTGRES_PORT": str(postgres_server.port),
        "DBT_POSTGRES_USER": postgres_server.user,
        "DBT_POSTGRES_PASSWORD": postgres_server.password,
        "DBT_POSTGRES_DBNAME": postgres_database,
        "MELTANO_ENVIRONMENT": "test",
    }
    lost_day = start + datetime.timedelta(days=1)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with postgres_server.connect(postgres_database) as conn:
            cursor = conn.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []

    rows_sql = (
        "SELECT account_id, date, uid, client_country_name, media_type, creator, minutes_viewed, "
        f"events FROM {RAW}.minutes_viewed"
    )

    with StandinServer(config) as server:
        env = {
            **connection,
            "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
            "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps(config.accounts),
        }
        meltano_project.meltano(
            "run", "--no-install", "tap-cloudflare-stream", "target-postgres", "dbt-postgres:build",
            env={**env, "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat()},
        )  # fmt: skip
        before = query(rows_sql)
        # target-postgres keeps _sdc_extracted_at: every stream is counted exactly, the rows
        # of the audited run only.
        counted_by = query(
            f"SELECT DISTINCT stream IN {LISTED}, counted_by FROM analytics.audit_reconciliation"
        )
        assert sorted(counted_by) == [(False, "extracted_at"), (True, "listing_id")]
        query(
            f"DELETE FROM {RAW}.minutes_viewed WHERE account_id = '{ACCOUNT_A}' "
            f"AND date = '{lost_day}'"
        )
        state = meltano_project.state("test", "test:tap-cloudflare-stream-to-target-postgres")
        build = meltano_project.run(
            "invoke", "dbt-postgres", "test", "--select", "audited_rows_are_in_the_warehouse",
            env=env, check=False,
        )  # fmt: skip
        assert build.returncode != 0
        found = gap_lines(build.stdout + build.stderr)
        assert found == [f"Gap: stream minutes_viewed, account {ACCOUNT_A}, {lost_day}"]

        heal = meltano_project.shell(
            readme_heal_command(lost_day, lost_day, ACCOUNT_A, "target-postgres", "dbt-postgres"),
            env=env,
        )
        assert heal.returncode == 0, (heal.stdout + heal.stderr)[-3000:]

    after = query(rows_sql)
    assert any(row[1] == lost_day for row in before), "the lost day had no rows"
    assert sorted(after) == sorted(before)  # every row back, once, with the same values
    # The heal listed account A's catalog only, and sent no ACTIVATE_VERSION: account B's
    # videos (and A's) are all current.
    # videos are all current: stg_videos, each account's latest complete listing, has every one.
    current = query("SELECT account_id, uid FROM analytics.stg_videos")
    want = {(a, v["uid"]) for a in config.accounts for v in expected_videos(config, a)}
    assert sorted(current) == sorted(want)
    assert meltano_project.state("test", "test:tap-cloudflare-stream-to-target-postgres") == state


def current_videos(warehouse: Path) -> list[tuple[str, str]]:
    """stg_videos read back: each account's current videos."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT account_id, uid FROM analytics.stg_videos").fetchall()
    return sorted((str(a), str(u)) for a, u in rows)


def test_the_catalog_is_reconciled_exactly_by_listing_and_a_heal_lists_one_account_again(
    duckdb_run: DuckdbRun, tmp_path: Path
) -> None:
    project = copy_run(duckdb_run, tmp_path)
    env = duckdb_env(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    config = duckdb_run.config
    want = sorted((a, v["uid"]) for a in config.accounts for v in expected_videos(config, a))
    assert current_videos(warehouse) == want
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the tap's own listing_id
        counted_by = dict(
            con.execute(
                "SELECT DISTINCT stream, counted_by FROM analytics.audit_reconciliation"
            ).fetchall()
        )
        (listing,) = con.execute(
            f"SELECT max(listing_id) FROM {RAW}.catalog_listings "
            f"WHERE stream = 'videos' AND account_id = '{ACCOUNT_B}'"
        ).fetchone() or (None,)
    assert {
        s: counted_by[s] for s in ("videos", "live_inputs", "catalog_listings")
    } == dict.fromkeys(("videos", "live_inputs", "catalog_listings"), "listing_id")
    assert listing is not None
    day = f"{listing[:4]}-{listing[4:6]}-{listing[6:8]}"  # the listing's start date

    def check() -> tuple[int, str]:
        done = project.run(
            "--environment=demo", "invoke", "dbt-duckdb", "test", "--select",
            "audited_rows_are_in_the_warehouse", env=env, check=False,
        )  # fmt: skip
        return done.returncode, done.stdout + done.stderr

    # Account B's latest listing row lost, and one of its videos left with an older listing:
    # both gaps named, exactly (one row each); B's current catalog is wrong meanwhile.
    execute(
        warehouse,
        f"DELETE FROM {RAW}.catalog_listings WHERE listing_id = '{listing}'",
        f"UPDATE {RAW}.videos SET listing_id = '20000101T000000.000000Z' "
        f"WHERE rowid = (SELECT min(rowid) FROM {RAW}.videos WHERE account_id = '{ACCOUNT_B}')",
    )
    status, log = check()
    assert status != 0
    assert sorted(gap_lines(log)) == [
        f"Gap: stream catalog_listings, account {ACCOUNT_B}, {day}",
        f"Gap: stream videos, account {ACCOUNT_B}, {day}",
    ], log[-3000:]
    assert re.search(rf"Gap: stream videos, account {ACCOUNT_B}, {day}: 1 of the \d+ rows", log)
    assert re.search(rf"Gap: stream catalog_listings, account {ACCOUNT_B}, {day}: 1 of the 1 ", log)

    # README's heal command for B lists B again (no ACTIVATE_VERSION); A's catalog is untouched
    # and stays current, B's is current again, and dbt build passes.
    with StandinServer(config) as server:
        heal = project.shell(
            readme_heal_command(
                datetime.date.fromisoformat(day), datetime.date.fromisoformat(day), ACCOUNT_B,
                "target-duckdb", "dbt-duckdb",
            ),
            env={**env, "TAP_CLOUDFLARE_STREAM_API_URL": server.url},
        )  # fmt: skip
        listed = {
            entry.path.split("/accounts/")[1].split("/")[0]
            for entry in server.request_log
            if entry.kind == "rest"
        }
    assert heal.returncode == 0, (heal.stdout + heal.stderr)[-3000:]
    assert listed == {ACCOUNT_B}
    assert "PASS audited_rows_are_in_the_warehouse" in heal.stdout + heal.stderr
    assert current_videos(warehouse) == want

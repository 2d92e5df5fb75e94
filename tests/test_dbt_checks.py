"""The dbt project's own checks, and the project used as a dbt package, on a loaded warehouse.

One real pipeline (`meltano run tap-cloudflare-stream target-duckdb dbt-duckdb:build`, the
demo environment) loads a DuckDB file from the stand-in and builds the models. Then, on copies
of that file:

- each singular test and each custom generic test of transform/tests is shown able to fail:
  the loaded data is broken on purpose the way that test guards against, and `dbt test`
  fails on exactly that test, every other one passing;
- transform/ is installed the way a user installs it (packages.yml, a git URL with
  `subdirectory: transform`, `dbt deps`) into a throwaway dbt project whose own DuckDB file
  attaches the loaded one, and `dbt build` builds it with the vars a user sets.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from cloudflare_standin import StandinConfig, StandinServer

from tests.fixtures_dbt import TRUTH, Loaded, assert_model, expected_account_daily, same
from tests.fixtures_meltano import PLUGIN_EXECUTABLES, ROOT, MeltanoProject, require_plugins
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today

DBT = PLUGIN_EXECUTABLES["dbt-duckdb"] / "dbt"
RAW = "cloudflare_stream"


@dataclass(frozen=True)
class LoadedWarehouse:
    """A DuckDB file the demo pipeline loaded and built the models in, and what it loaded."""

    path: Path
    loaded: Loaded


@pytest.fixture(scope="module")
def loaded_warehouse(tmp_path_factory: pytest.TempPathFactory) -> LoadedWarehouse:
    """The demo pipeline's DuckDB file (raw tables and models), loaded once for the module."""
    require_plugins("tap-cloudflare-stream", "target-duckdb", "dbt-duckdb")
    folder = tmp_path_factory.mktemp("loaded")
    today = utc_today() - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=3)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],  # the demo environment's accounts
        seed=43,
        today=today,
        rows_per_day=30,
        videos=8,
        tokens={"demo-token": None},
        rate_limit_queries=None,
    )
    warehouse = folder / "warehouse.duckdb"
    project = MeltanoProject(system_db=folder / "meltano.db")
    with StandinServer(config) as server:
        project.meltano(
            "--environment=demo", "run", "--no-install",
            "tap-cloudflare-stream", "target-duckdb", "dbt-duckdb:build",
            env={"TAP_CLOUDFLARE_STREAM_API_URL": server.url,
                 "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
                 "TARGET_DUCKDB_PATH": str(warehouse), "DBT_DUCKDB_PATH": str(warehouse),
                 "DBT_DUCKDB_TARGET_PATH": str(folder / "target"),
                 "DBT_DUCKDB_LOG_PATH": str(folder)},
        )  # fmt: skip
    return LoadedWarehouse(warehouse, Loaded(config, first=start, read_on=utc_today()))


def dbt(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run dbt-duckdb's dbt (the Meltano utility's own install) in `cwd`."""
    return subprocess.run(
        [str(DBT), *args], cwd=cwd, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **env},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def failing_tests(warehouse: Path, tmp_path: Path) -> set[str]:
    """The data tests of transform/ that `dbt test` finds failing on this DuckDB file."""
    done = dbt(
        ["test", "--project-dir", str(ROOT / "transform"), "--profiles-dir",
         str(ROOT / "transform/profiles/duckdb"), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path)],
        cwd=tmp_path, env={"DBT_DUCKDB_PATH": str(warehouse)},
    )  # fmt: skip
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert all(r["status"] in ("pass", "fail") for r in results), done.stdout[-3000:]
    assert len(results) > 20, done.stdout[-3000:]
    return {r["unique_id"].split(".")[2] for r in results if r["status"] == "fail"}


# Each check of transform/tests, and the loaded data broken the way it guards against (DuckDB
# statements on a copy of the warehouse, after the models were built).
BREAKS: dict[str, list[str]] = {
    # A raw row loaded after the models were built (or lost by them): a total no longer adds
    # up. Quality changes are only in video_daily, so no other check sees it.
    "metrics_add_up_to_raw_rows": [
        f"INSERT INTO {RAW}.video_quality_events SELECT * REPLACE (99999 AS quality_resolution) "
        f"FROM {RAW}.video_quality_events LIMIT 1"
    ],
    # Views moved to a day of their own: every account's total is unchanged, one day is not.
    "account_daily_matches_raw_days": [
        f"UPDATE {RAW}.video_playback_events SET date = '2000-01-03' "
        f"WHERE rowid = (SELECT min(rowid) FROM {RAW}.video_playback_events)"
    ],
    # A loader without primary keys (append-only) loads one listing's row of a live input
    # twice (rows of different listings are fine: the newest counts): the current catalog has
    # a duplicate key. unique_key is the project's own generic test.
    "unique_key_stg_live_inputs_account_id__uid": [
        f"CREATE TABLE {RAW}.keyless AS SELECT * FROM {RAW}.live_inputs",
        f"DROP TABLE {RAW}.live_inputs",
        f"ALTER TABLE {RAW}.keyless RENAME TO live_inputs",
        f"INSERT INTO {RAW}.live_inputs SELECT * FROM {RAW}.live_inputs LIMIT 1",
    ],
}


@pytest.mark.parametrize("check", sorted(BREAKS))
def test_each_dbt_check_fails_on_broken_data(
    loaded_warehouse: LoadedWarehouse, tmp_path: Path, check: str
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"  # the same name: DuckDB's catalog is the file's
    shutil.copy(loaded_warehouse.path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for statement in BREAKS[check]:
            con.execute(statement)
    assert failing_tests(warehouse, tmp_path) == {check}


def test_every_custom_check_is_shown_failing() -> None:
    """Every singular test and custom generic test of transform/tests has a break above."""
    singular = {p.stem for p in (ROOT / "transform/tests").glob("*.sql")}
    generic = {p.stem for p in (ROOT / "transform/tests/generic").glob("*.sql")}
    covered = {name for name in BREAKS if name in singular}
    covered |= {g for g in generic for name in BREAKS if name.startswith(f"{g}_")}
    assert covered == singular | generic


def test_transform_installs_as_a_dbt_package_into_a_users_project(
    loaded_warehouse: LoadedWarehouse, tmp_path: Path
) -> None:
    """packages.yml with a git URL and `subdirectory: transform`, as docs/models.md says.

    The repository is this worktree's transform/ committed to a throwaway git repository (a
    `file://` URL works offline). The user's DuckDB file attaches the loaded one as `cf_raw`,
    and the user's vars say where the raw tables are, the prices and the empty-uid marker.
    """
    repo = tmp_path / "tap-cloudflare-stream"
    shutil.copytree(
        ROOT / "transform", repo / "transform",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "package-lock.yml"),
    )  # fmt: skip
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run([*git, *command], cwd=repo, check=True, capture_output=True)

    raw = tmp_path / "raw.duckdb"
    shutil.copy(loaded_warehouse.path, raw)
    loaded = loaded_warehouse.loaded
    day = loaded.first + datetime.timedelta(days=1)
    with duckdb.connect(str(raw)) as con:  # a video whose uid a stream map wrote as "n/a"
        con.execute(
            f"INSERT INTO {RAW}.minutes_viewed (account_id, date, uid, client_country_name, "
            "media_type, creator, minutes_viewed, events) "
            "VALUES (?, ?, 'n/a', 'ZZ', 'x', 'x', 7, 1)",
            [ACCOUNT_A, day.isoformat()],
        )
        con.execute("DROP SCHEMA analytics CASCADE")  # only the raw tables stay

    user = tmp_path / "my_project"
    user.mkdir()
    write_yaml(user / "packages.yml", {"packages": [
        {"git": f"file://{repo}", "revision": "main", "subdirectory": "transform"}]})  # fmt: skip
    write_yaml(user / "dbt_project.yml", {
        "name": "my_project", "version": "1.0.0", "config-version": 2, "profile": "my_profile",
        "vars": {"cloudflare_stream": {
            "cloudflare_stream_source_database": "cf_raw",
            "cloudflare_stream_source_schema": RAW,
            "stream_usd_per_1000_minutes_delivered": 2,
            "empty_uid_marker": "n/a",
        }},
    })  # fmt: skip
    write_yaml(user / "profiles.yml", {"my_profile": {"target": "dev", "outputs": {"dev": {
        "type": "duckdb", "path": str(user / "mine.duckdb"), "schema": "analytics",
        "attach": [{"path": str(raw), "alias": "cf_raw", "read_only": True}],
    }}}})  # fmt: skip
    env = {"DBT_PROFILES_DIR": str(user)}
    deps = dbt(["deps"], cwd=user, env=env)
    assert deps.returncode == 0, deps.stdout + deps.stderr
    build = dbt(["build"], cwd=user, env=env)
    assert build.returncode == 0, build.stdout[-4000:]
    assert "is not loaded" not in build.stdout  # the vars found every raw table
    assert "ERROR=0 SKIP=0" in build.stdout

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(user / "mine.duckdb"), read_only=True) as con:
            return con.execute(sql).fetchall()

    assert_model(query, "video_delivery_hourly", TRUTH["video_delivery_hourly"](loaded))
    # "n/a" is the marker: its minutes count, it is not a video watched.
    truth = expected_account_daily(loaded)[(ACCOUNT_A, day)]
    got = query(
        "SELECT minutes_viewed, videos_watched FROM analytics.account_daily "
        f"WHERE account_id = '{ACCOUNT_A}' AND date = DATE '{day}'"
    )
    assert got == [(truth["minutes_viewed"] + 7, truth["videos_watched"])]
    # Delivery at the user's price, 2 USD per 1,000 minutes.
    for minutes, cost in query(
        "SELECT minutes_delivered, delivery_cost_usd FROM analytics.billing_monthly"
    ):
        assert same(cost, minutes * 2 / 1000)


def write_yaml(path: Path, value: dict[str, Any]) -> None:
    """A YAML file of a throwaway dbt project."""
    path.write_text(yaml.safe_dump(value, sort_keys=False))

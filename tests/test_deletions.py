"""Deletions you can trust: each account's current catalog, the same on every warehouse.

One scenario, played through real Meltano with ACTIVATE_VERSION at its default (off) on each
warehouse of the table below, over three accounts A, B and C:

1. every account is listed;
2. two videos are deleted in A, one is renamed in B and one deleted in C (and live inputs the
   same way: one deleted in A, one renamed and turned off in B, one deleted in C), then a run
   covers account A only;
3. a run covers every account;
4. B's listings miss three videos (one live input) while Cloudflare's `total` still counts them,
   and one more of B's videos is deleted.

After each step the models are read back: `stg_videos` and `stg_live_inputs` hold exactly each
account's current catalog. After 2, A's two videos are gone and all of B's and C's are still
current; after 3, everything is exact and the rename shows; after 4, B is unchanged (its
deleted video too: an incomplete listing deletes nothing) and a WARNING names B and both
counts. DuckDB and PostgreSQL run `meltano run tap-cloudflare-stream <loader> dbt-<x>:build`;
Snowflake and BigQuery (their emulators) load with `meltano run`, then `meltano invoke
dbt-<x> build --select stg_videos stg_live_inputs`: the same SQL, the rest of the build left
out for time. PostgreSQL plays it twice: with RECORD messages, and with the tap in batch mode
(rows in batch files, no table version: the models are right all the same).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cloudflare_standin import (
    ListingMiss,
    StandinConfig,
    StandinServer,
    expected_live_inputs,
    expected_videos,
)

from tests.fixtures_dbt import assert_dbt_passed, dbt_env
from tests.fixtures_meltano import MeltanoProject, require_plugins
from tests.fixtures_pg import PostgresServer
from tests.fixtures_warehouses import Warehouse
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today

ACCOUNT_C = "00112233445566778899aabbccddeeff"
ACCOUNTS = [ACCOUNT_A, ACCOUNT_B, ACCOUNT_C]
CATALOG = ["videos", "live_inputs", "storage_usage", "catalog_listings"]
Catalog = dict[tuple[str, str], Any]  # (account, uid) -> what the warehouse must show
Rows = list[tuple[Any, ...]]


@dataclass
class ScenarioWarehouse:
    """A warehouse the scenario runs on: how Meltano loads it, and how to read it back."""

    environment: str  # meltano.yml's environment (its token and stream maps)
    token: str  # that environment's api_token
    loader: str
    env: dict[str, str]
    dbt: str  # the dbt utility that builds the models on the warehouse
    # Reads the models back: {model: columns} -> rows.
    read_models: Callable[[dict[str, list[str]]], dict[str, Rows]]
    # After the load, `dbt build` of the catalog models alone (`--select`), not `<dbt>:build`
    # in `meltano run`: on the emulators a whole build is most of the test's time.
    select: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def pipeline(self) -> list[str]:
        """The plugins of `meltano run`."""
        return [
            "tap-cloudflare-stream",
            self.loader,
            *([] if self.select else [f"{self.dbt}:build"]),
        ]

    def current(self) -> tuple[Catalog, Catalog]:
        """(videos, live inputs) the models say are current, by (account, uid)."""
        read = self.read_models(
            {
                "stg_videos": ["account_id", "uid", "name"],
                "stg_live_inputs": ["account_id", "uid", "name", "enabled"],
            }
        )
        return keyed(read["stg_videos"], "stg_videos"), keyed(
            read["stg_live_inputs"], "stg_live_inputs"
        )


def select(model: str, columns: list[str]) -> str:
    """The columns of a model in the analytics schema."""
    return f"SELECT {', '.join(columns)} FROM analytics.{model}"


def keyed(rows: Rows, model: str) -> Catalog:
    """Rows (account_id, uid, values...) by (account_id, uid); fails on a duplicate key."""
    found = {(row[0], row[1]): row[2] if len(row) == 3 else tuple(row[2:]) for row in rows}
    assert len(found) == len(rows), f"{model} has duplicate keys"
    return found


def truth(config: StandinConfig, accounts: list[str]) -> tuple[Catalog, Catalog]:
    """The stand-in's library now: (videos: name, live inputs: (name, enabled))."""
    videos, inputs = {}, {}
    for account in accounts:
        for video in expected_videos(config, account):
            meta = video.get("meta")
            videos[(account, video["uid"])] = meta.get("name") if isinstance(meta, dict) else None
        for item in expected_live_inputs(config, account):
            inputs[(account, item["uid"])] = (item["meta"].get("name"), item["enabled"])
    return videos, inputs


def of(catalog: Catalog, *accounts: str) -> Catalog:
    """The part of a catalog of these accounts."""
    return {key: value for key, value in catalog.items() if key[0] in accounts}


def play_deletion_scenario(meltano_project: MeltanoProject, warehouse: ScenarioWarehouse) -> None:
    """The four steps of the module docstring on one warehouse, read back after each."""
    require_plugins("tap-cloudflare-stream", warehouse.loader, warehouse.dbt)
    config = StandinConfig(
        accounts=ACCOUNTS,
        seed=47,
        today=utc_today(),
        rows_per_day=5,
        videos=6,
        live_inputs=3,
        tokens={warehouse.token: None},
        rate_limit_queries=None,
    )
    with StandinServer(config) as server:

        def run(accounts: list[str]) -> str:
            env = {
                "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
                "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps(accounts),
                "TAP_CLOUDFLARE_STREAM__SELECT_FILTER": json.dumps(CATALOG),
                **warehouse.env,
            }
            log = meltano_project.meltano(
                f"--environment={warehouse.environment}", "run", "--no-install",
                *warehouse.pipeline(), env=env,
            )  # fmt: skip
            if warehouse.select:
                log += meltano_project.meltano(
                    f"--environment={warehouse.environment}", "invoke", warehouse.dbt, "build",
                    "--select", *warehouse.select, env=env,
                )  # fmt: skip
            assert_dbt_passed(log)
            warehouse.logs.append(log)
            return log

        def assert_current(videos: Catalog, inputs: Catalog, step: str) -> None:
            got_videos, got_inputs = warehouse.current()
            assert got_videos == videos, (step, diff(got_videos, videos))
            assert got_inputs == inputs, (step, diff(got_inputs, inputs))

        # 1. Every account is listed.
        run(ACCOUNTS)
        step1 = truth(config, ACCOUNTS)
        assert_current(*step1, "step 1")

        # 2. Deletions and a rename in three accounts; a run over account A only.
        videos = {a: [v["uid"] for v in expected_videos(config, a)] for a in ACCOUNTS}
        inputs = {a: [i["uid"] for i in expected_live_inputs(config, a)] for a in ACCOUNTS}
        for uid in videos[ACCOUNT_A][:2]:
            server.delete_video(ACCOUNT_A, uid)
        server.rename_video(ACCOUNT_B, videos[ACCOUNT_B][1], "Renamed in B")
        server.delete_video(ACCOUNT_C, videos[ACCOUNT_C][-1])
        server.delete_live_input(ACCOUNT_A, inputs[ACCOUNT_A][0])
        enabled = {i["uid"]: i["enabled"] for i in expected_live_inputs(config, ACCOUNT_B)}
        changed = inputs[ACCOUNT_B][1]
        server.change_live_input(ACCOUNT_B, changed, name="Studio B2", enabled=not enabled[changed])
        server.delete_live_input(ACCOUNT_C, inputs[ACCOUNT_C][2])
        run([ACCOUNT_A])
        now_videos, now_inputs = truth(config, ACCOUNTS)
        assert_current(
            {**of(now_videos, ACCOUNT_A), **of(step1[0], ACCOUNT_B, ACCOUNT_C)},
            {**of(now_inputs, ACCOUNT_A), **of(step1[1], ACCOUNT_B, ACCOUNT_C)},
            "step 2",
        )
        assert len(of(step1[0], ACCOUNT_A)) - len(of(now_videos, ACCOUNT_A)) == 2

        # 3. Every account again: everything exact, the rename shows.
        run(ACCOUNTS)
        step3 = truth(config, ACCOUNTS)
        assert_current(*step3, "step 3")
        assert step3[0][(ACCOUNT_B, videos[ACCOUNT_B][1])] == "Renamed in B"
        assert step3[1][(ACCOUNT_B, changed)] == ("Studio B2", not enabled[changed])

        # 4. B's listings miss items its total counts; one more of B's videos is deleted.
        config.listing_misses = {
            (ACCOUNT_B, "videos"): ListingMiss(3),
            (ACCOUNT_B, "live_inputs"): ListingMiss(1),
        }
        server.delete_video(ACCOUNT_B, videos[ACCOUNT_B][0])
        log = run(ACCOUNTS)
        assert_current(*step3, "step 4")  # B unchanged: nothing deleted, nothing missed lost
        total = len(of(truth(config, ACCOUNTS)[0], ACCOUNT_B))
        said = warnings_about(log, ACCOUNT_B, "videos")
        assert said, log[-3000:]
        assert all(
            f"listed {total - 3} videos but Cloudflare's total is {total} (listed twice)" in line
            for line in said
        ), said
        assert warnings_about(log, ACCOUNT_B, "live_inputs")
        assert not warnings_about(log, ACCOUNT_A, "videos")
        assert not warnings_about(log, ACCOUNT_C, "videos")


def warnings_about(log: str, account: str, stream: str) -> list[str]:
    """The incomplete-listing WARNING lines Meltano logged for an account and stream."""
    pattern = re.compile(
        rf"\[warning\s*\].*account {account}, stream {stream}: incomplete listing .*"
    )
    return [line for line in log.splitlines() if pattern.search(line)]


def diff(got: Catalog, want: Catalog) -> dict[str, Any]:
    """What a failed comparison should show."""
    return {
        "missing": sorted(set(want) - set(got))[:5],
        "extra": sorted(set(got) - set(want))[:5],
        "different": {k: (got[k], want[k]) for k in set(got) & set(want) if got[k] != want[k]},
    }


# --- the warehouses --------------------------------------------------------------------------


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> ScenarioWarehouse:
    """The demo's DuckDB pipeline, dbt-duckdb on the same file."""
    path = tmp_path / "warehouse.duckdb"

    def read_models(tables: dict[str, list[str]]) -> dict[str, Rows]:
        with duckdb.connect(str(path), read_only=True) as con:
            return {t: con.execute(select(t, c)).fetchall() for t, c in tables.items()}

    return ScenarioWarehouse(
        environment="demo",
        token="demo-token",
        loader="target-duckdb",
        dbt="dbt-duckdb",
        read_models=read_models,
        env={
            "TARGET_DUCKDB_PATH": str(path),
            "DBT_DUCKDB_PATH": str(path),
            **dbt_env("dbt-duckdb", tmp_path),
        },
    )


@pytest.fixture
def postgres_warehouse(
    postgres_server: PostgresServer, postgres_database: str, tmp_path: Path
) -> ScenarioWarehouse:
    """target-postgres into the tests' PostgreSQL server, dbt-postgres on it."""

    def read_models(tables: dict[str, list[str]]) -> dict[str, Rows]:
        with postgres_server.connect(postgres_database) as conn:
            return {t: conn.execute(select(t, c)).fetchall() for t, c in tables.items()}

    env = dbt_env("dbt-postgres", tmp_path)
    for prefix in ("TARGET_POSTGRES", "DBT_POSTGRES"):
        env[f"{prefix}_HOST"] = postgres_server.host
        env[f"{prefix}_PORT"] = str(postgres_server.port)
        env[f"{prefix}_USER"] = postgres_server.user
        env[f"{prefix}_PASSWORD"] = postgres_server.password
    env["TARGET_POSTGRES_DATABASE"] = env["DBT_POSTGRES_DBNAME"] = postgres_database
    return ScenarioWarehouse(
        environment="test",
        token="test-token",
        loader="target-postgres",
        dbt="dbt-postgres",
        read_models=read_models,
        env=env,
    )


@pytest.fixture
def postgres_batch_warehouse(
    postgres_warehouse: ScenarioWarehouse, tmp_path: Path
) -> Iterator[ScenarioWarehouse]:
    """The same, with the tap in batch mode: rows in batch files, no RECORD messages."""
    batches = tmp_path / "batches"
    batches.mkdir()
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": batches.as_uri(), "prefix": "batch-"},
    }
    postgres_warehouse.env["TAP_CLOUDFLARE_STREAM_BATCH_CONFIG"] = json.dumps(batch_config)
    yield postgres_warehouse
    assert len(list(batches.iterdir())) >= 4, "no batch files: batch mode was not on"


def emulated(warehouse: Warehouse) -> ScenarioWarehouse:
    """A Snowflake or BigQuery target and its dbt adapter against the emulator."""

    def read_models(tables: dict[str, list[str]]) -> dict[str, Rows]:
        read = warehouse.read(tables, schema=warehouse.models_schema)
        return {name: rows for name, (_, rows) in read.items()}

    return ScenarioWarehouse(
        environment="warehouse-test",
        token="test-token",
        loader=warehouse.loader,
        dbt=warehouse.dbt,
        read_models=read_models,
        select=["stg_videos", "stg_live_inputs"],
        env=warehouse.env,
    )


@pytest.fixture
def snowflake_scenario(snowflake_warehouse: Warehouse) -> ScenarioWarehouse:
    """target-snowflake against fakesnow."""
    return emulated(snowflake_warehouse)


@pytest.fixture
def bigquery_scenario(bigquery_warehouse: Warehouse) -> ScenarioWarehouse:
    """target-bigquery against bqemulator."""
    return emulated(bigquery_warehouse)


# One entry per warehouse: the fixture that sets it up.
WAREHOUSES = [
    "duckdb_warehouse",
    "postgres_warehouse",
    "postgres_batch_warehouse",
    "snowflake_scenario",
    "bigquery_scenario",
]


@pytest.mark.parametrize("warehouse_fixture", WAREHOUSES)
def test_each_accounts_current_catalog_on_every_warehouse(
    meltano_project: MeltanoProject, request: pytest.FixtureRequest, warehouse_fixture: str
) -> None:
    warehouse: ScenarioWarehouse = request.getfixturevalue(warehouse_fixture)
    play_deletion_scenario(meltano_project, warehouse)

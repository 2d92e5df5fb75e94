"""Snowflake and BigQuery for end-to-end tests: the real targets and dbt against local emulators.

- `snowflake_warehouse`: a fakesnow server (tests/emulators/fakesnow_main.py, run by
  .venv-fakesnow, one in-memory DuckDB) on a free loopback port, stopped after the test. The
  tap loads through `target-snowflake--emulated` (meltano.yml): the unmodified target in its
  own venv with a test-only shim that gives its connections the server's host and port
  (tests/emulators/client_shim). dbt-snowflake reaches the server through its profile's
  `host`, `port` and `protocol`.
- `bigquery_warehouse`: bqemulator started as a local process on free loopback ports
  (tests/emulators/bqemulator_main.py, with its gaps filled), stopped after the test; the
  unmodified target-bigquery and dbt-bigquery reach it through BIGQUERY_EMULATOR_HOST and a
  fake credentials file whose token never expires (so google-auth never refreshes).

Both are read back through the warehouse's own client (tests/emulators/readback.py, run by the
loader's venv Python). `run_twice_with_revision` is the end-to-end test both warehouses share:
two pipeline runs, the second followed by `dbt build`, and every model compared with the
stand-in's truth (`TRUTH`, tests/fixtures_dbt.py, the one the DuckDB and PostgreSQL tests use).
scripts/setup-warehouses installs everything; without it the tests skip (fail under CI=true).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import StandinServer

from tests.e2e_support import (
    LOOKBACK,
    TABLE_CHECKS,
    Row,
    TableCheck,
    assert_revised,
    assert_rows_exact,
    bookmarks,
    revise,
    revising_standin,
    tap_env,
)
from tests.fixtures_dbt import (
    TRUTH,
    Loaded,
    assert_dbt_passed,
    compare_model,
    dbt_env,
    model_columns,
)
from tests.fixtures_meltano import (
    EXECUTABLE_NAMES,
    PLUGIN_EXECUTABLES,
    ROOT,
    MeltanoProject,
    require_plugins,
    windows_read,
)
from tests.fixtures_pg import free_port, missing
from tests.standin import utc_today

EMULATORS = ROOT / "tests" / "emulators"
BQEMULATOR_PYTHON = ROOT / ".venv-bqemulator" / "bin" / "python"
FAKESNOW_PYTHON = ROOT / ".venv-fakesnow" / "bin" / "python"
ENVIRONMENT = "warehouse-test"  # meltano.yml
BIGQUERY_PROJECT = "warehouse-test"  # the target's `project` in that environment
TOKEN = "test-token"  # the tap's api_token in that environment


@dataclass
class Warehouse:
    """A target and a dbt adapter pointed at a local emulator, and how to read it back."""

    loader: str  # the Meltano plugin that loads the raw tables
    dbt: str  # the Meltano utility that builds the models
    kind: str  # readback.py's reader
    schema: str  # the schema (Snowflake) or dataset (BigQuery) the raw tables land in
    models_schema: str  # the dbt utility's schema (dataset) setting in meltano.yml
    env: dict[str, str]  # variables for `meltano run` and the read-back
    types: dict[str, set[str]]  # column kind -> the warehouse types that are right for it
    config: str = field(default="", repr=False)  # the target's warehouse-test config (JSON)

    def read(
        self, tables: Mapping[str, Sequence[str]], schema: str | None = None
    ) -> dict[str, tuple[dict[str, str], list[Row]]]:
        """(column types, rows) of each table {name: columns}, through the warehouse's client."""
        python = PLUGIN_EXECUTABLES[self.loader] / "python"
        spec = {
            "schema": schema or self.schema,
            "tables": {t: list(c) for t, c in tables.items()},
        }
        result = subprocess.run(
            [str(python), str(EMULATORS / "readback.py"), self.kind],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**base_env(), **self.env},
        )
        assert result.returncode == 0, f"read-back failed:\n{result.stderr[-3000:]}"
        read: dict[str, Any] = json.loads(result.stdout)
        return {
            name: (table["types"], [tuple(row) for row in table["rows"]])
            for name, table in read.items()
        }

    def target_config(self, meltano_project: MeltanoProject) -> dict[str, Any]:
        """The target's configuration in the warehouse-test environment, asked from Meltano."""
        if not self.config:  # asked once
            printed = meltano_project.run(
                f"--environment={ENVIRONMENT}",
                "config",
                "--unsafe",
                "print",
                self.loader,
                lock=False,  # reads the configuration, writes no run files
            ).stdout
            self.config = printed[printed.index("{") :]
        config: dict[str, Any] = json.loads(self.config)
        return config

    def load(self, meltano_project: MeltanoProject, messages: list[dict[str, Any]]) -> None:
        """Pipe Singer messages through the target, with its warehouse-test configuration."""
        result = run_target(
            self.loader, self.target_config(meltano_project), messages, {**base_env(), **self.env}
        )
        assert result.returncode == 0, f"{self.loader} failed:\n{result.stderr[-3000:]}"


def run_target(
    loader: str, config: dict[str, Any], messages: list[dict[str, Any]], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run an installed target's executable on Singer messages with a configuration."""
    config_file = Path(tempfile.mkdtemp(prefix="target-config-")) / "config.json"
    config_file.write_text(json.dumps(config))
    try:
        return subprocess.run(
            [
                str(PLUGIN_EXECUTABLES[loader] / EXECUTABLE_NAMES[loader]),
                "--config",
                str(config_file),
            ],
            input="".join(json.dumps(m) + "\n" for m in messages),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )
    finally:
        shutil.rmtree(config_file.parent, ignore_errors=True)


def base_env() -> dict[str, str]:
    """The few variables of ours a child process needs (no pipeline settings)."""
    return {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}


@contextlib.contextmanager
def _emulator(
    argv: list[str], url: str, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Run an emulator process (`env` on top of the base) until the test ends; ready once `url`
    answers at all."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**base_env(), **(env or {})},
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[1]} exited {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # an HTTP answer, even an error: the server is up
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{argv[1]} did not answer at {url}:\n{log.read_text()}"
                    ) from None
                time.sleep(0.3)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def snowflake_warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """target-snowflake--emulated and dbt-snowflake against a fakesnow server for this test."""
    require_plugins("target-snowflake--emulated", "dbt-snowflake")
    if not FAKESNOW_PYTHON.exists():
        missing("fakesnow is not installed (.venv-fakesnow): run scripts/setup-warehouses")
    port = free_port()
    argv = [str(FAKESNOW_PYTHON), str(EMULATORS / "fakesnow_main.py"), str(port)]
    with _emulator(argv, f"http://127.0.0.1:{port}/", tmp_path / "fakesnow.log"):
        yield Warehouse(
            loader="target-snowflake--emulated",
            dbt="dbt-snowflake",
            kind="snowflake",
            schema="CLOUDFLARE_STREAM",
            models_schema="ANALYTICS",
            env={
                "FAKESNOW_SERVER": f"http://127.0.0.1:{port}",  # the target's shim
                "DBT_SNOWFLAKE_PORT": str(port),  # dbt-snowflake's port setting
                **dbt_env("dbt-snowflake", tmp_path),
            },
            types={
                "date": {"DATE"},
                "text": {"TEXT", "VARCHAR"},
                "integer": {"NUMBER(0)"},
                "float": {"FLOAT", "DOUBLE"},
                "json": {"VARIANT", "OBJECT"},
                "timestamp": {"TIMESTAMP_NTZ", "TIMESTAMP_TZ"},
            },
        )


def _fake_credentials(path: Path) -> Path:
    """An authorized_user credentials file with a token that never expires."""
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "emulator",
                "client_secret": "emulator",
                "refresh_token": "emulator",
                "token": "emulator",
                "expiry": "2999-01-01T00:00:00Z",
            }
        )
    )
    return path


@pytest.fixture
def bigquery_warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """target-bigquery and dbt-bigquery against a bqemulator process started for this test."""
    with running_bqemulator(tmp_path) as warehouse:
        yield warehouse


@contextlib.contextmanager
def running_bqemulator(tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[Warehouse]:
    """bqemulator started with `env` on top (a fault, bqemulator_main.py), stopped afterwards."""
    require_plugins("target-bigquery", "dbt-bigquery")
    if not BQEMULATOR_PYTHON.exists():
        missing("bqemulator is not installed (.venv-bqemulator): run scripts/setup-warehouses")
    rest, grpc = free_port(), free_port()
    argv = [str(BQEMULATOR_PYTHON), str(EMULATORS / "bqemulator_main.py"), "start",
            "--rest-host", "127.0.0.1", "--rest-port", str(rest),
            "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc),
            "--project", BIGQUERY_PROJECT, "--ephemeral", "--log-level", "warning"]  # fmt: skip
    host = f"http://127.0.0.1:{rest}"
    ready = f"{host}/bigquery/v2/projects/{BIGQUERY_PROJECT}/datasets"
    with _emulator(argv, ready, tmp_path / "bqemulator.log", env):
        yield Warehouse(
            loader="target-bigquery",
            dbt="dbt-bigquery",
            kind="bigquery",
            schema="cloudflare_stream",
            models_schema="analytics",
            env={
                "BIGQUERY_EMULATOR_HOST": host,
                "GOOGLE_APPLICATION_CREDENTIALS": str(_fake_credentials(tmp_path / "adc.json")),
                "BIGQUERY_PROJECT": BIGQUERY_PROJECT,
                **dbt_env("dbt-bigquery", tmp_path),
            },
            types={
                "date": {"DATE"},
                "text": {"STRING"},
                "integer": {"INTEGER", "INT64"},
                "float": {"FLOAT", "FLOAT64"},
                "json": {"JSON"},
                "timestamp": {"TIMESTAMP"},
            },
        )


def assert_types(warehouse: Warehouse, check: TableCheck, types: dict[str, str]) -> None:
    """Every column of a table exists with a type right for its kind."""
    for column in check.columns:
        assert column in types, f"{check.stream}: no column {column} in {sorted(types)}"
        kind = check.kinds[column]
        assert types[column] in warehouse.types[kind], (
            f"{check.stream}.{column} is {types[column]}, want one of {warehouse.types[kind]}"
        )


def analytics_bookmarks(state: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The date bookmarks of the checked (analytics) streams: the catalog streams keep none."""
    checked = {check.stream for check in TABLE_CHECKS}
    return {key: mark for key, mark in bookmarks(state).items() if key[0] in checked}


# --- The models, read back and compared with the stand-in's truth ------------------------------


def assert_models(warehouse: Warehouse, loaded: Loaded) -> None:
    """Every model in TRUTH, read back, holds exactly its truth: each key once, columns equal."""
    truth = {model: expected(loaded) for model, expected in TRUTH.items()}
    tables = {model: model_columns(model, want) for model, want in truth.items()}
    read = warehouse.read(tables, schema=warehouse.models_schema)
    errors = [e for m, want in truth.items() for e in compare_model(m, read[m][1], want)]
    assert not errors, "\n".join(errors)


def run_twice_with_revision(meltano_project: MeltanoProject, warehouse: Warehouse) -> None:
    """`meltano run tap-cloudflare-stream <target>` twice over the stand-in, then dbt, checked.

    1. A first run from start_date: every table holds exactly the stand-in's rows, each key once,
       with the documented column types (so `""` stays `""`, never NULL).
    2. Cloudflare revises the last days and a new day arrives; the second run re-reads the
       lookback days and builds the models (`... <target> <dbt>:build`): revised metrics are
       updated in place (same keys, no duplicates), the new day is added and nothing else
       changes; every dbt test passes and each model holds exactly the stand-in's truth.
    """
    require_plugins("tap-cloudflare-stream", warehouse.loader, warehouse.dbt)
    config = revising_standin(TOKEN, seed=29, rows_per_day=20, videos=6)
    today = config.today
    assert today is not None
    start = today - datetime.timedelta(days=4)
    state_id = f"{ENVIRONMENT}:tap-cloudflare-stream-to-{warehouse.loader}"
    with StandinServer(config) as server:
        env = {**tap_env(server.url, config, start), **warehouse.env}

        def run(*then: str) -> str:
            pipeline = ("run", "--no-install", "tap-cloudflare-stream", warehouse.loader, *then)
            return meltano_project.meltano(f"--environment={ENVIRONMENT}", *pipeline, env=env)

        def tables(last: datetime.date) -> dict[str, set[Row]]:
            loaded = {}
            read = warehouse.read({check.stream: check.columns for check in TABLE_CHECKS})
            for check in TABLE_CHECKS:
                types, rows = read[check.stream]
                assert_types(warehouse, check, types)
                want = check.expected(config, start, last)
                loaded[check.stream] = assert_rows_exact(check, rows, want)
            return loaded

        # 1. First run: everything from start_date.
        log = run()
        assert TOKEN not in log, "the API token leaked into the log"
        assert set(windows_read(log)) == {f"{start}..{utc_today()}"}, windows_read(log)
        first = tables(today)
        for check in TABLE_CHECKS:
            assert any("" in row for row in first[check.stream]), (
                f"{check.stream}: no empty strings"
            )
        marks = analytics_bookmarks(meltano_project.state(ENVIRONMENT, state_id))
        assert set(marks.values()) == {today.isoformat()}, marks

        # 2. Revised recent days and a new day; the run re-reads from bookmark - lookback, then
        # dbt builds the models and runs their data tests.
        new_day = revise(config)
        log = run(f"{warehouse.dbt}:build")
        resume = today - datetime.timedelta(days=LOOKBACK)
        assert set(windows_read(log)) == {f"{resume}..{utc_today()}"}, windows_read(log)
        second = tables(new_day)
        for check in TABLE_CHECKS:
            assert_revised(check, first[check.stream], second[check.stream], new_day)
        marks = analytics_bookmarks(meltano_project.state(ENVIRONMENT, state_id))
        assert set(marks.values()) == {new_day.isoformat()}, marks

    assert_dbt_passed(log)
    unloaded = [line for line in log.splitlines() if "is not loaded" in line]
    assert not unloaded, unloaded  # every raw table came from the tap
    # What the runs read: the daily streams from start_date to the revised today, the catalog as
    # the stand-in has it now and storage on the day the tap ran, the hourly ones from
    # start_date 00:00 to the stand-in's hourly "now" (revise() moved it).
    assert_models(warehouse, Loaded(config, first=start, read_on=utc_today()))

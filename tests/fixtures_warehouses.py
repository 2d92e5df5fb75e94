"""Snowflake and BigQuery for end-to-end tests: the real targets against local emulators.

- `snowflake_warehouse`: fakesnow (DuckDB files in a temporary folder) runs in-process inside
  the unmodified target-snowflake: a `.pth` file that scripts/setup-warehouses puts in the
  target's venv applies fakesnow's patch and a small stage layer when FAKESNOW_DB_PATH is set
  (tests/emulators/fakesnow_harness.py).
- `bigquery_warehouse`: bqemulator started as a local process on free loopback ports
  (tests/emulators/bqemulator_main.py, with two gaps fixed), stopped after the test; the
  unmodified target-bigquery reaches it through BIGQUERY_EMULATOR_HOST and a fake credentials
  file whose token never expires (so google-auth never refreshes).

Both are read back through the warehouse's own client (tests/emulators/readback.py, run by the
target's venv Python). scripts/setup-warehouses installs everything; without it the tests skip
(fail under CI=true).
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
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import StandinConfig, StandinServer

from tests.e2e_support import TABLE_CHECKS, Row, TableCheck, assert_rows_exact, bookmarks
from tests.fixtures_meltano import (
    PLUGIN_EXECUTABLES,
    ROOT,
    MeltanoProject,
    require_plugins,
    windows_read,
)
from tests.fixtures_pg import free_port, missing
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today

EMULATORS = ROOT / "tests" / "emulators"
BQEMULATOR_PYTHON = ROOT / ".venv-bqemulator" / "bin" / "python"
ENVIRONMENT = "warehouse-test"  # meltano.yml
BIGQUERY_PROJECT = "warehouse-test"  # the target's `project` in that environment
TOKEN = "test-token"  # the tap's api_token in that environment
LOOKBACK = 2


@dataclass
class Warehouse:
    """A target pointed at a local emulator: what `meltano run` needs and how to read back."""

    loader: str  # the Meltano plugin
    kind: str  # readback.py's reader
    schema: str  # the schema (Snowflake) or dataset (BigQuery) the tables land in
    env: dict[str, str]  # variables for `meltano run` and the read-back
    types: dict[str, set[str]]  # column kind -> the warehouse types that are right for it
    config: str = ""  # the target's configuration in the warehouse-test environment (JSON)

    def read(
        self, tables: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[dict[str, str], list[Row]]]:
        """(column types, rows) of each table {name: columns}, through the warehouse's client."""
        python = PLUGIN_EXECUTABLES[self.loader] / "python"
        spec = {"schema": self.schema, "tables": {t: list(c) for t, c in tables.items()}}
        result = subprocess.run(
            [str(python), str(EMULATORS / "readback.py"), self.kind],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**_base_env(), **self.env},
        )
        assert result.returncode == 0, f"read-back failed:\n{result.stderr[-3000:]}"
        read: dict[str, Any] = json.loads(result.stdout)
        return {
            name: (table["types"], [tuple(row) for row in table["rows"]])
            for name, table in read.items()
        }

    def load(self, meltano_project: MeltanoProject, messages: list[dict[str, Any]]) -> None:
        """Pipe Singer messages through the target, with its warehouse-test configuration."""
        if not self.config:  # the environment's configuration, asked from Meltano once
            printed = meltano_project.run(
                f"--environment={ENVIRONMENT}",
                "config",
                "--unsafe",
                "print",
                self.loader,
                lock=False,  # reads the configuration, writes no run files
            ).stdout
            self.config = printed[printed.index("{") :]
        config_file = Path(tempfile.mkdtemp(prefix="target-config-")) / "config.json"
        config_file.write_text(self.config)
        result = subprocess.run(
            [str(PLUGIN_EXECUTABLES[self.loader] / self.loader), "--config", str(config_file)],
            input="".join(json.dumps(m) + "\n" for m in messages),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**_base_env(), **self.env},
        )
        shutil.rmtree(config_file.parent, ignore_errors=True)
        assert result.returncode == 0, f"{self.loader} failed:\n{result.stderr[-3000:]}"


def _base_env() -> dict[str, str]:
    """The few variables of ours a child process needs (no pipeline settings)."""
    return {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}


@pytest.fixture
def snowflake_warehouse(tmp_path: Path) -> Warehouse:
    """target-snowflake with fakesnow in-process; its databases in a temporary folder."""
    require_plugins("target-snowflake")
    venv = PLUGIN_EXECUTABLES["target-snowflake"].parent
    if not (venv / ".fakesnow-stamp").exists():
        missing(
            "fakesnow is not installed in target-snowflake's venv: run scripts/setup-warehouses"
        )
    databases = tmp_path / "fakesnow"
    databases.mkdir()
    return Warehouse(
        loader="target-snowflake",
        kind="snowflake",
        schema="CLOUDFLARE_STREAM",
        env={"FAKESNOW_DB_PATH": str(databases)},
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


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"bqemulator exited {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"bqemulator did not answer at {url}:\n{log.read_text()[-3000:]}")


@pytest.fixture
def bigquery_warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """target-bigquery against a bqemulator process started for this test."""
    with running_bqemulator(tmp_path) as warehouse:
        yield warehouse


@contextlib.contextmanager
def running_bqemulator(tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[Warehouse]:
    """bqemulator started with `env` on top (a fault, bqemulator_main.py), stopped afterwards."""
    require_plugins("target-bigquery")
    if not BQEMULATOR_PYTHON.exists():
        missing("bqemulator is not installed (.venv-bqemulator): run scripts/setup-warehouses")
    rest, grpc = free_port(), free_port()
    log = tmp_path / "bqemulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BQEMULATOR_PYTHON), str(EMULATORS / "bqemulator_main.py"), "start",
             "--rest-host", "127.0.0.1", "--rest-port", str(rest),
             "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc),
             "--project", BIGQUERY_PROJECT, "--ephemeral", "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**_base_env(), **(env or {})},
        )  # fmt: skip
    try:
        host = f"http://127.0.0.1:{rest}"
        _wait_until_up(f"{host}/bigquery/v2/projects/{BIGQUERY_PROJECT}/datasets", process, log)
        yield Warehouse(
            loader="target-bigquery",
            kind="bigquery",
            schema="cloudflare_stream",
            env={
                "BIGQUERY_EMULATOR_HOST": host,
                "GOOGLE_APPLICATION_CREDENTIALS": str(_fake_credentials(tmp_path / "adc.json")),
                "BIGQUERY_PROJECT": BIGQUERY_PROJECT,
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
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def run_twice_with_revision(meltano_project: MeltanoProject, warehouse: Warehouse) -> None:
    """`meltano run tap-cloudflare-stream <target>` twice over the stand-in, checked each time.

    1. A first run from start_date: every table holds exactly the stand-in's rows, each key once,
       with the documented column types (so `""` stays `""`, never NULL).
    2. Cloudflare revises the last days and a new day arrives; the second run re-reads the
       lookback days: revised metrics are updated in place (same keys, no duplicates), the new
       day is added and nothing else changes.
    """
    require_plugins("tap-cloudflare-stream", warehouse.loader)
    today = utc_today() - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=4)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],
        seed=29,
        today=today,
        rows_per_day=20,
        videos=6,
        revised_days=3,
        tokens={TOKEN: None},
        rate_limit_queries=None,
    )
    state_id = f"{ENVIRONMENT}:tap-cloudflare-stream-to-{warehouse.loader}"
    with StandinServer(config) as server:
        env = {
            "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
            "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps(config.accounts),
            "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
            # The tests' today, not the wall clock's: the tap runs in Meltano on the real clock.
            "TAP_CLOUDFLARE_STREAM_END_DATE": utc_today().isoformat(),
            "TAP_CLOUDFLARE_STREAM_LOOKBACK_DAYS": str(LOOKBACK),
            "TAP_CLOUDFLARE_STREAM_PAGE_SIZE": "100",  # several pages per window
            **warehouse.env,
        }

        def run() -> str:
            pipeline = ("run", "--no-install", "tap-cloudflare-stream", warehouse.loader)
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

        # 2. Revised recent days and a new day; the run re-reads from bookmark - lookback.
        config.revision += 1
        config.today = today + datetime.timedelta(days=1)
        log = run()
        resume = today - datetime.timedelta(days=LOOKBACK)
        assert set(windows_read(log)) == {f"{resume}..{utc_today()}"}, windows_read(log)
        second = tables(config.today)
        revised = {(config.today - datetime.timedelta(days=n)).isoformat() for n in range(3)}
        for check in TABLE_CHECKS:
            changed = first[check.stream] - second[check.stream]
            assert changed, f"{check.stream}: the revision changed no row: the test proves nothing"
            assert {check.key_of(r)[1] for r in changed} <= revised, check.stream
            updated_keys = {check.key_of(r) for r in second[check.stream]}
            assert {check.key_of(r) for r in changed} <= updated_keys, (
                f"{check.stream}: revised rows were deleted instead of updated in place"
            )
            assert any(r[1] == config.today.isoformat() for r in second[check.stream])
        marks = analytics_bookmarks(meltano_project.state(ENVIRONMENT, state_id))
        assert set(marks.values()) == {config.today.isoformat()}, marks

"""Run the project's real Meltano (./.venv-meltano) against the project's meltano.yml.

Each test gets its own Meltano system database (MELTANO_DATABASE_URI in a temporary folder), so
its state never touches the demo's .meltano/meltano.db, and state persists between the runs of
one test. The plugins are the project's installed ones (.meltano/); scripts/test installs them.

Meltano writes per-plugin run files (.meltano/run/<plugin>/state.json, tap.properties.json)
under fixed names, so two Meltano commands in one project must not overlap: each one here holds
an exclusive lock on .meltano/run.lock (pytest-xdist workers wait for each other), which
scripts/demo takes too.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_pg import missing

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
RUN_LOCK = ROOT / ".meltano" / "run.lock"
PLUGIN_EXECUTABLES = {
    "tap-cloudflare-stream": ROOT / ".meltano/extractors/tap-cloudflare-stream/venv/bin",
    "target-duckdb": ROOT / ".meltano/loaders/target-duckdb/venv/bin",
    "target-postgres": ROOT / ".meltano/loaders/target-postgres/venv/bin",
    "target-snowflake": ROOT / ".meltano/loaders/target-snowflake/venv/bin",
    # the warehouse tests' twin with the fakesnow shim (meltano.yml, inherit_from)
    "target-snowflake--emulated": ROOT / ".meltano/loaders/target-snowflake--emulated/venv/bin",
    "target-bigquery": ROOT / ".meltano/loaders/target-bigquery/venv/bin",
    "dbt-duckdb": ROOT / ".meltano/utilities/dbt-duckdb/venv/bin",
    "dbt-postgres": ROOT / ".meltano/utilities/dbt-postgres/venv/bin",
    "dbt-snowflake": ROOT / ".meltano/utilities/dbt-snowflake/venv/bin",
    "dbt-bigquery": ROOT / ".meltano/utilities/dbt-bigquery/venv/bin",
}
# A plugin's executable: its name, "dbt" for dbt, its parent's for an inherit_from twin.
EXECUTABLE_NAMES = {
    name: "dbt" if name.startswith("dbt-") else name.split("--")[0] for name in PLUGIN_EXECUTABLES
}
# Variables from the caller's shell that would change what a test's pipeline does.
_SCRUBBED = re.compile(r"^(TAP_CLOUDFLARE_STREAM_|TARGET_|MELTANO_|DBT_)")


@dataclass
class MeltanoProject:
    """The project's meltano.yml with a private system database."""

    system_db: Path
    logs: list[str] = field(default_factory=list)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a meltano command: ours, minus pipeline settings, plus `extra`."""
        env = {k: v for k, v in os.environ.items() if not _SCRUBBED.match(k)}
        env.update(
            {
                "MELTANO_DATABASE_URI": f"sqlite:///{self.system_db}",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
                "NO_COLOR": "1",
            }
        )
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
        lock: bool = True,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `meltano ARGS` in the project root; fail the test, with an excerpt, if it fails.

        `lock=False` only for commands that write no run files (e.g. `config print`);
        `check=False` returns a failed command's result instead.
        """
        RUN_LOCK.parent.mkdir(exist_ok=True)
        with RUN_LOCK.open("a") as lock_file:
            if lock:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
            result = subprocess.run(
                [str(MELTANO), *args],
                cwd=ROOT,
                env=self.env(env),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        self.logs.append(result.stdout + result.stderr)
        if check and result.returncode != 0:
            excerpt = failure_excerpt(self.logs[-1])
            pytest.fail(f"meltano {' '.join(args)} exited {result.returncode}:\n{excerpt}")
        return result

    def shell(
        self, command: str, env: Mapping[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command line as a user types it (`meltano` on PATH), under the lock."""
        extra = {"PATH": f"{MELTANO.parent}{os.pathsep}{os.environ['PATH']}", **(env or {})}
        RUN_LOCK.parent.mkdir(exist_ok=True)
        with RUN_LOCK.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=ROOT,
                env=self.env(extra),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        self.logs.append(result.stdout + result.stderr)
        return result

    def meltano(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run `meltano ARGS`; its whole output (stdout and log)."""
        return self.logs[-1] if self.run(*args, env=env) else ""

    def state(self, environment: str, state_id: str) -> dict[str, Any]:
        """The state Meltano keeps for a state ID ({} when none)."""
        stdout = self.run(f"--environment={environment}", "state", "get", state_id).stdout
        start = stdout.find("{")
        if start < 0:
            return {}
        value, _ = json.JSONDecoder().raw_decode(stdout[start:])
        return dict(value)


def failure_excerpt(log: str, limit: int = 40) -> str:
    """The lines of a failed run's log that tell why: plugin errors first, then the end."""
    lines = [line for line in log.splitlines() if not line.startswith(("│", "╭", "╰"))]
    errors = [
        line
        for line in lines
        if re.search(r"error|exception|critical|traceback", line, re.IGNORECASE)
        and "meltano  " not in line
    ]
    return "\n".join(["-- plugin errors:", *errors[:limit], "-- end of log:", *lines[-limit:]])


def require_plugins(*names: str) -> None:
    """Skip (fail under CI) unless Meltano and these plugins are installed."""
    if not MELTANO.exists():
        missing(f"{MELTANO.relative_to(ROOT)} not found: run scripts/setup first")
    for name in names:
        if not (PLUGIN_EXECUTABLES[name] / EXECUTABLE_NAMES[name]).exists():
            missing(f"Meltano plugin {name} is not installed: run scripts/setup {name}")


@pytest.fixture
def meltano_project(tmp_path: Path) -> MeltanoProject:
    """The project's Meltano with a private system database (its own state)."""
    require_plugins("tap-cloudflare-stream")
    return MeltanoProject(system_db=tmp_path / "meltano.db")


def windows_read(log: str) -> list[str]:
    """The 'first..last' windows the tap logged reading, in order."""
    return re.findall(r"reading (\d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d)", log)

"""The emulator shims live only where production runs never go (issue 23, "Emulators kept apart").

The warehouse tests load Snowflake through `target-snowflake--emulated` (meltano.yml,
inherit_from): the same target in a venv of its own, plus a shim that sends its connections to
a fakesnow server when FAKESNOW_SERVER is set. Production runs use `target-snowflake`, whose
venv holds no emulator code. Before, fakesnow and a start-up hook sat in that production venv,
so a stray FAKESNOW_DB_PATH turned a production run into a local DuckDB write that exited 0.

Here every variable either hook ever answered to is set, a fakesnow server is running, and
the same configuration and records go to both plugins: the twin loads into the emulator (so the
variables are live), the production target goes to <account>.snowflakecomputing.com and fails
(no network here: a proxy that refuses), writing nothing locally, with no emulator module in
its venv.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.fixtures_meltano import PLUGIN_EXECUTABLES, MeltanoProject, require_plugins
from tests.fixtures_pg import free_port
from tests.fixtures_warehouses import Warehouse, base_env, run_target

ACCOUNT = "nowhere-emulator-check"  # not a Snowflake account: a production run must fail on it
STREAM = "emulator_probe"
MESSAGES: list[dict[str, Any]] = [
    {
        "type": "SCHEMA",
        "stream": STREAM,
        "schema": {"type": "object", "properties": {"uid": {"type": "string"}}},
        "key_properties": ["uid"],
    },
    {"type": "RECORD", "stream": STREAM, "record": {"uid": "a"}},
    {"type": "STATE", "value": {"probe": 1}},
]
EMULATOR_MODULES = ("fakesnow", "fakesnow_client", "fakesnow_harness")
PROBE = (
    "import importlib.util, json, sys; print(json.dumps({"
    f"'importable': [m for m in {EMULATOR_MODULES!r} if importlib.util.find_spec(m)], "
    "'loaded': sorted(m for m in sys.modules if 'fakesnow' in m)}))"
)


def emulator_code(plugin: str, env: dict[str, str]) -> dict[str, list[str]]:
    """The emulator modules a plugin's venv Python can import, and those loaded at its start."""
    result = subprocess.run(
        [str(PLUGIN_EXECUTABLES[plugin] / "python"), "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    found: dict[str, list[str]] = json.loads(result.stdout)
    return found


def test_production_target_snowflake_has_no_emulator_code(
    meltano_project: MeltanoProject, snowflake_warehouse: Warehouse, tmp_path: Path
) -> None:
    require_plugins("target-snowflake")
    local_files = tmp_path / "fakesnow-files"
    local_files.mkdir()
    env = {
        **base_env(),
        **snowflake_warehouse.env,  # FAKESNOW_SERVER: the running fakesnow server
        "FAKESNOW_DB_PATH": str(local_files),  # what the old hook wrote to
        "HTTPS_PROXY": f"http://127.0.0.1:{free_port()}",  # Snowflake's host: refused, fast
    }
    config = {**snowflake_warehouse.target_config(meltano_project), "account": ACCOUNT}

    twin = run_target("target-snowflake--emulated", config, MESSAGES, env)
    assert twin.returncode == 0, f"the emulated twin failed:\n{twin.stderr[-3000:]}"
    assert emulator_code("target-snowflake--emulated", env)["loaded"] == ["fakesnow_client"]

    production = run_target("target-snowflake", config, MESSAGES, env)
    assert production.returncode != 0, "target-snowflake reached an emulator and exited 0"
    assert f"{ACCOUNT}.snowflakecomputing.com" in production.stderr, production.stderr[-3000:]
    assert not any(local_files.iterdir()), "target-snowflake wrote local database files"
    assert emulator_code("target-snowflake", env) == {"importable": [], "loaded": []}

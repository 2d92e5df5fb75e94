"""End to end: real Meltano, the real target-snowflake and dbt-snowflake against fakesnow.

`meltano --environment=warehouse-test run tap-cloudflare-stream target-snowflake--emulated`
(meltanolabs-target-snowflake, load_method upsert, sent to a local fakesnow server by a
test-only twin) twice over the stand-in, the second time followed by `dbt-snowflake:build`.
Read back with snowflake-connector-python: exact rows, one row per key, documented types, `""`
kept, revised metrics updated in place by the target's MERGE, and every model equal to the
stand-in's truth. fakesnow runs the SQL in DuckDB and the stage (PUT/@~) is emulated
(tests/emulators/fakesnow_main.py): Snowflake's stage is not proven (docs/warehouses.md).
"""

from __future__ import annotations

from tests.fixtures_meltano import MeltanoProject
from tests.fixtures_warehouses import Warehouse, run_twice_with_revision


def test_meltano_run_into_snowflake_then_dbt_build(
    meltano_project: MeltanoProject, snowflake_warehouse: Warehouse
) -> None:
    run_twice_with_revision(meltano_project, snowflake_warehouse)

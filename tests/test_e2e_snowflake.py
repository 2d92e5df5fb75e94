"""End to end: real Meltano runs tap-cloudflare-stream into the real target-snowflake (fakesnow).

`meltano --environment=warehouse-test run tap-cloudflare-stream target-snowflake`
(meltanolabs-target-snowflake, load_method upsert) twice over the stand-in, read back with
snowflake-connector-python: exact rows, one row per key, documented types, `""` kept, revised
metrics updated in place by the target's MERGE. fakesnow runs the SQL in DuckDB and the stage
(PUT/@~) is emulated (tests/emulators/fakesnow_harness.py): Snowflake's stage is not proven.
"""

from __future__ import annotations

from tests.fixtures_meltano import MeltanoProject
from tests.fixtures_warehouses import Warehouse, run_twice_with_revision


def test_meltano_run_into_snowflake(
    meltano_project: MeltanoProject, snowflake_warehouse: Warehouse
) -> None:
    run_twice_with_revision(meltano_project, snowflake_warehouse)

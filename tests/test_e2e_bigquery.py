"""End to end: real Meltano, the real target-bigquery and dbt-bigquery against bqemulator.

`meltano --environment=warehouse-test run tap-cloudflare-stream target-bigquery`
(z3-target-bigquery, batch_job, denormalized, upsert) twice over the stand-in, the second time
followed by `dbt-bigquery:build`. Read back with google-cloud-bigquery: exact rows, one row per
key, documented types, `""` kept, revised metrics updated in place by the target's MERGE, and
every model equal to the stand-in's truth. Rows are always read back: a failed load job can
leave the target exiting 0.
"""

from __future__ import annotations

from tests.fixtures_meltano import MeltanoProject
from tests.fixtures_warehouses import Warehouse, run_twice_with_revision


def test_meltano_run_into_bigquery_then_dbt_build(
    meltano_project: MeltanoProject, bigquery_warehouse: Warehouse
) -> None:
    run_twice_with_revision(meltano_project, bigquery_warehouse)

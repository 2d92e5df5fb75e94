"""End to end: real Meltano runs tap-cloudflare-stream into the real target-bigquery (bqemulator).

`meltano --environment=warehouse-test run tap-cloudflare-stream target-bigquery`
(z3-target-bigquery, batch_job, denormalized, upsert) twice over the stand-in, read back with
google-cloud-bigquery: exact rows, one row per key, documented types, `""` kept, revised metrics
updated in place by the target's MERGE. Rows are always read back: a failed load job can leave
the target exiting 0.
"""

from __future__ import annotations

from tests.fixtures_meltano import MeltanoProject
from tests.fixtures_warehouses import Warehouse, run_twice_with_revision


def test_meltano_run_into_bigquery(
    meltano_project: MeltanoProject, bigquery_warehouse: Warehouse
) -> None:
    run_twice_with_revision(meltano_project, bigquery_warehouse)

"""What each warehouse target does with ACTIVATE_VERSION: how a deleted row shows.

A full-table stream (the catalog stream `videos`, when it lands) sends ACTIVATE_VERSION around
each complete read; a row missing from the new version was deleted at the source. A tiny
hand-written Singer stream goes through the real target twice (version 1: three rows; version
2: two of them, one metric changed), then is read back with the warehouse's own client:

- target-snowflake (add_record_metadata, process_activate_version_messages, hard_delete off):
  the missing row stays with `_sdc_deleted_at` set; current rows have it NULL.
- target-bigquery (z3, 0.7.2): ignores ACTIVATE_VERSION. The missing row stays as it was; only
  its `_sdc_table_version` (older than the others') tells it is no longer current.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures_meltano import MeltanoProject
from tests.fixtures_warehouses import Warehouse

STREAM = "deletion_probe"
SCHEMA = {
    "type": "object",
    "properties": {
        "uid": {"type": "string"},
        "views": {"type": ["integer", "null"]},
    },
}


def version(number: int, rows: dict[str, int]) -> list[dict[str, Any]]:
    """One complete read of the stream as a table version."""
    activate = {"type": "ACTIVATE_VERSION", "stream": STREAM, "version": number}
    return [
        {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["uid"]},
        activate,
        *(
            {
                "type": "RECORD",
                "stream": STREAM,
                "record": {"uid": u, "views": v},
                "version": number,
            }
            for u, v in rows.items()
        ),
        activate,
        {"type": "STATE", "value": {"version": number}},
    ]


def load_two_versions(meltano_project: MeltanoProject, warehouse: Warehouse) -> dict[str, Any]:
    """Load version 1 ("", a, b) then version 2 ("", a changed); rows by uid."""
    warehouse.load(meltano_project, version(1, {"": 1, "a": 2, "b": 3}))
    warehouse.load(meltano_project, version(2, {"": 1, "a": 20}))
    columns = ["uid", "views", "_sdc_deleted_at", "_sdc_table_version"]
    _, rows = warehouse.read({STREAM: columns})[STREAM]
    by_uid = {row[0]: dict(zip(columns, row, strict=True)) for row in rows}
    assert len(by_uid) == len(rows), f"duplicate keys: {rows}"
    assert set(by_uid) == {"", "a", "b"}, by_uid
    assert by_uid["a"]["views"] == 20, "the changed row was not updated in place"
    return by_uid


def test_snowflake_marks_a_row_missing_from_the_new_version_deleted(
    meltano_project: MeltanoProject, snowflake_warehouse: Warehouse
) -> None:
    rows = load_two_versions(meltano_project, snowflake_warehouse)
    assert rows["b"]["_sdc_deleted_at"] is not None, rows
    assert rows[""]["_sdc_deleted_at"] is None, rows
    assert rows["a"]["_sdc_deleted_at"] is None, rows


def test_bigquery_keeps_a_row_missing_from_the_new_version_with_its_old_version(
    meltano_project: MeltanoProject, bigquery_warehouse: Warehouse
) -> None:
    rows = load_two_versions(meltano_project, bigquery_warehouse)
    assert rows["b"]["_sdc_deleted_at"] is None, (
        "target-bigquery now handles deletions: update README"
    )
    assert rows["b"]["_sdc_table_version"] < rows["a"]["_sdc_table_version"], rows
    assert rows[""]["_sdc_table_version"] == rows["a"]["_sdc_table_version"], rows

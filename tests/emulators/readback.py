"""Reads tables back through the warehouse's own client, for the end-to-end tests.

Run by a target's venv Python (it has the client): `python readback.py snowflake|bigquery`
with `{"schema": …, "tables": {table: [column, …]}}` on stdin; prints
`{table: {"types": {column: type}, "rows": [[value, …], …]}}` as JSON, dates and timestamps as
ISO strings, numbers as numbers, JSON columns as parsed values, NULL as null.
- snowflake: snowflake-connector-python, sent to the fakesnow server named by FAKESNOW_SERVER
  by target-snowflake--emulated's shim (client_shim/fakesnow_client.py, as for the target);
  identifiers upper case;
- bigquery: google-cloud-bigquery with BIGQUERY_EMULATOR_HOST and GOOGLE_APPLICATION_CREDENTIALS,
  project from BIGQUERY_PROJECT.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from decimal import Decimal
from typing import Any


def _value(value: Any, json_column: bool) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if json_column and isinstance(value, str):
        return json.loads(value)
    return value


def snowflake(schema: str, tables: dict[str, list[str]]) -> dict[str, Any]:
    """Types (data_type, with scale for NUMBER) and rows of each table."""
    import snowflake.connector  # type: ignore[import-not-found]

    conn = snowflake.connector.connect(
        account="fakesnow", user="fake", password="fake", database="WAREHOUSE", schema=schema
    )
    cur = conn.cursor()
    out: dict[str, Any] = {}
    for table, columns in tables.items():
        cur.execute(
            "SELECT column_name, data_type, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            (schema.upper(), table.upper()),
        )
        types = {
            name.lower(): f"{kind}({scale})" if kind == "NUMBER" else kind
            for name, kind, scale in cur.fetchall()
        }
        select = ", ".join(f'"{c.upper()}"' for c in columns)
        cur.execute(f'SELECT {select} FROM "{schema.upper()}"."{table.upper()}"')
        json_columns = [types.get(c) in {"VARIANT", "OBJECT"} for c in columns]
        rows = [
            [_value(v, j) for v, j in zip(row, json_columns, strict=True)] for row in cur.fetchall()
        ]
        out[table] = {"types": types, "rows": rows}
    return out


def bigquery(schema: str, tables: dict[str, list[str]]) -> dict[str, Any]:
    """Field types and rows of each table."""
    from google.cloud import bigquery as bq  # type: ignore[import-not-found]

    client = bq.Client(project=os.environ["BIGQUERY_PROJECT"])
    out: dict[str, Any] = {}
    for table, columns in tables.items():
        fields = client.get_table(f"{client.project}.{schema}.{table}").schema
        types = {f.name: f.field_type for f in fields}
        select = ", ".join(f"`{c}`" for c in columns)
        result = client.query(f"SELECT {select} FROM `{schema}.{table}`").result()
        json_columns = [types.get(c) == "JSON" for c in columns]
        rows = [
            [_value(v, j) for v, j in zip(row.values(), json_columns, strict=True)]
            for row in result
        ]
        out[table] = {"types": types, "rows": rows}
    return out


if __name__ == "__main__":
    spec = json.load(sys.stdin)
    reader = {"snowflake": snowflake, "bigquery": bigquery}[sys.argv[1]]
    json.dump(reader(spec["schema"], spec["tables"]), sys.stdout)

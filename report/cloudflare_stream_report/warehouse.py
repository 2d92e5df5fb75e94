"""The DuckDB file, read only: which models are there, and their rows."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from cloudflare_stream_report.fmt import first_line

# The models the report reads (transform/models), in the schema dbt builds them in.
MODELS = (
    "account_daily",
    "video_daily",
    "video_delivery_hourly",
    "live_input_hourly",
    "billing_monthly",
    "stg_videos",
)


# What fills a model, for the message when it is empty.
FED_BY = {
    "account_daily": "the daily streams (video_playback_events, minutes_viewed …)",
    "video_daily": "the daily streams (video_playback_events, minutes_viewed …)",
    "video_delivery_hourly": "the cmcd_hourly stream",
    "live_input_hourly": "the live_input_events_hourly stream",
    "billing_monthly": "account_daily (the daily streams)",
    "stg_videos": "the videos stream",
}


class WarehouseError(Exception):
    """The file cannot be read as a DuckDB database (one line, for the command line)."""


class Status(enum.Enum):
    """Whether a model can be read."""

    READY = "ready"
    EMPTY = "empty"
    MISSING = "missing"


class Warehouse:
    """A read-only connection to a DuckDB file and the schema of the models."""

    def __init__(self, path: Path, schema: str = "analytics") -> None:
        if not path.is_file():
            raise WarehouseError(f"{path}: no such DuckDB file (run the pipeline first)")
        try:
            self._con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            raise WarehouseError(f"{path}: cannot open it read-only: {first_line(error)}") from None
        self.path = path
        self.schema = schema
        self._status: dict[str, Status] = {}

    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    def table(self, model: str) -> str:
        """The model's qualified, quoted name."""
        quoted = self.schema.replace('"', '""')
        return f'"{quoted}"."{model}"'

    def status(self, model: str) -> Status:
        """Whether the model exists and has rows."""
        if model not in self._status:
            found = self._con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [self.schema, model],
            ).fetchone()
            if not (found and found[0]):
                self._status[model] = Status.MISSING
            else:
                row = self._con.execute(f"SELECT EXISTS (FROM {self.table(model)})").fetchone()
                self._status[model] = Status.READY if row and row[0] else Status.EMPTY
        return self._status[model]

    def problem(self, model: str) -> str:
        """Why the model cannot be read ('' when it can)."""
        status = self.status(model)
        if status is Status.MISSING:
            return f"{self.schema}.{model} is missing: run dbt (meltano run dbt-duckdb:build)"
        if status is Status.EMPTY:
            return f"{self.schema}.{model} is empty: is {FED_BY[model]} loaded?"
        return ""

    def count(self, model: str) -> int | None:
        """The model's rows (None when it is missing)."""
        if self.status(model) is Status.MISSING:
            return None
        return int(self.rows(f"SELECT count(*) AS n FROM {self.table(model)}")[0]["n"])

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The query's rows as dicts; `{s}` in the SQL stands for the models' schema."""
        quoted = self.schema.replace('"', '""')
        cursor = self._con.execute(sql.replace("{s}", f'"{quoted}"'), list(params))
        names = [column[0] for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

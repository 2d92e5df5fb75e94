"""Starts bqemulator 1.4.0 for the BigQuery end-to-end test, with two gaps fixed (harness only).

Run by .venv-bqemulator's Python with bqemulator's own CLI arguments (`start --rest-port …`).
Before the CLI starts:
- DuckDB's spatial extension, which bqemulator loads at start, is installed from the
  duckdb-extension-spatial wheel (offline; otherwise DuckDB tries to download it);
- MERGE: z3-target-bigquery writes `UPDATE SET target.col = source.col`; DuckDB refuses
  qualified column names there ("Qualified column names in UPDATE .. SET not supported"), so the
  qualifier is dropped from the SET list, as BigQuery itself allows either form;
- load jobs: the target uploads gzipped NEWLINE_DELIMITED_JSON that bqemulator reads as plain
  JSON ("Malformed JSON"), so a gzipped file is read with DuckDB's gzip decompression.

And one fault a test can inject (off by default): with BQEMULATOR_FAIL_LOAD_JOBS=`<text>=<n>`,
the first n load jobs into a table whose reference contains <text> fail, as a BigQuery load
job can (`video_playback_events=1`: the first load job of that stream).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import duckdb  # type: ignore[import-not-found, unused-ignore]
import duckdb_extension_spatial  # type: ignore[import-not-found]
from bqemulator import cli  # type: ignore[import-not-found]
from bqemulator.domain.errors import InvalidQueryError  # type: ignore[import-not-found]
from bqemulator.jobs import executor  # type: ignore[import-not-found]
from bqemulator.sql.translator import SQLTranslator  # type: ignore[import-not-found]

_UPDATE_SET = re.compile(r"\bUPDATE SET (.*?) WHEN NOT MATCHED", re.IGNORECASE | re.DOTALL)
_QUALIFIED = re.compile(r"\btarget\.(`[^`]+`)\s*=")


def _install_spatial() -> None:
    """Install the spatial extension from the wheel's file."""
    folder = Path(duckdb_extension_spatial.__file__).parent
    extension = next(folder.rglob("spatial.duckdb_extension"))
    duckdb.connect().execute(f"INSTALL '{extension}'")


def _unqualified_update_set(sql: str) -> str:
    """`UPDATE SET target.`a` = …` becomes `UPDATE SET `a` = …` inside a MERGE."""
    return _UPDATE_SET.sub(
        lambda m: "UPDATE SET " + _QUALIFIED.sub(r"\1 =", m.group(1)) + " WHEN NOT MATCHED", sql
    )


class LoadFault:
    """The load jobs BQEMULATOR_FAIL_LOAD_JOBS makes fail: into tables matching, how many more."""

    def __init__(self, spec: str) -> None:
        table, _, count = spec.rpartition("=")
        self.table = table
        self.left = int(count) if table else 0

    def check(self, target_ref: str) -> None:
        """Fail this load job if it is one of those."""
        if self.left > 0 and self.table in target_ref:
            self.left -= 1
            msg = f"load job into {target_ref} failed (fault injected: BQEMULATOR_FAIL_LOAD_JOBS)"
            print(msg, file=sys.stderr, flush=True)  # the emulator's log: the fault fired
            raise InvalidQueryError(msg)


def _patch() -> None:
    fault = LoadFault(os.environ.get("BQEMULATOR_FAIL_LOAD_JOBS", ""))
    translate = SQLTranslator.translate

    def translate_merge(self: Any, bq_sql: str, *args: Any, **kwargs: Any) -> Any:
        return translate(self, _unqualified_update_set(bq_sql), *args, **kwargs)

    SQLTranslator.translate = translate_merge

    def load_json(path: str, target_ref: str, ctx: Any) -> None:
        fault.check(target_ref)
        with open(path, "rb") as file:
            gzipped = file.read(2) == b"\x1f\x8b"
        compression = "gzip" if gzipped else "none"
        ctx.engine.execute(
            f"COPY {target_ref} FROM ? (FORMAT JSON, COMPRESSION {compression})", [path]
        )

    executor._LOAD_FORMAT_HANDLERS["NEWLINE_DELIMITED_JSON"] = load_json
    executor._LOAD_FORMAT_HANDLERS["JSON"] = load_json


if __name__ == "__main__":
    _install_spatial()
    _patch()
    cli.main()

"""Runs the unmodified target-snowflake in-process under fakesnow (test harness only).

scripts/setup-warehouses adds fakesnow and a `.pth` file to the target's venv: at every start
of that venv's Python, when FAKESNOW_DB_PATH is set, the `.pth` imports this module, which
patches `snowflake.connector.connect` so the target talks to fakesnow (DuckDB files in that
folder, shared by every run of a test and by the read-back). Without the variable nothing
changes. (Meltano drops PYTHONPATH from a plugin's environment, so a sitecustomize cannot do it.)

fakesnow 0.12.1 lacks what the target's loading path uses, so a small stage layer stands in:
- `PUT 'file://…' '@~/target-snowflake/<id>'`: remembers the local batch files of stage <id>;
- `MERGE … USING (SELECT $1:col::TYPE … FROM '@~/target-snowflake/<id>'(file_format => f)
  QUALIFY … SEQ8() …)`: the stage becomes an inline VALUES table of the files' JSON lines in
  order (stage_seq stands for SEQ8()); that source is materialised into a table first, since
  fakesnow cannot MERGE from a subquery with QUALIFY;
- statements take turns (fakesnow's MERGE is not safe in parallel threads);
- `REMOVE '@~/…'`, `CREATE OR REPLACE FILE FORMAT`, `DROP FILE FORMAT`: succeed doing nothing.
So a test proves the target's types, casts, MERGE on keys and empty strings, not Snowflake's
stage itself.
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import os
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

_STAGE = re.compile(r"'@~/target-snowflake/([^'/]+)/?'")
_STAGE_SELECT = re.compile(r"'@~/target-snowflake/([^'/]+)'\s*\(\s*file_format\s*=>\s*[^)]*\)")
_MERGE_SOURCE = re.compile(
    r'merge into ((?:"[^"]+"\.){2})"[^"]+" d using \((select .*? = 1)\) s on ',
    re.IGNORECASE | re.DOTALL,
)
_NOPS = [
    r"\s*remove\s",
    r"\s*create\s+or\s+replace\s+file\s+format\s",
    r"\s*drop\s+file\s+format\s",
]


def _lines(uri: str) -> list[str]:
    """The JSON lines of a staged batch file (gzipped or not)."""
    path = Path(unquote(urlparse(uri).path))
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [line for line in data.decode().splitlines() if line.strip()]


def _literal(text: str) -> str:
    """A Snowflake string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _install(db_path: str) -> None:
    import fakesnow  # type: ignore[import-not-found]
    from fakesnow.cursor import FakeSnowflakeCursor  # type: ignore[import-not-found]

    staged: dict[str, list[str]] = {}
    lock = threading.RLock()
    execute = FakeSnowflakeCursor.execute

    def staged_execute(self: Any, command: str, params: Any = None, *args: Any, **kw: Any) -> Any:
        # fakesnow runs a MERGE as several statements through a fixed helper table: the target
        # drains streams in parallel threads, so statements take turns.
        with lock:
            return stage_layer(self, command, params, *args, **kw)

    def stage_layer(self: Any, command: str, params: Any = None, *args: Any, **kw: Any) -> Any:
        if re.match(r"\s*put\s", command, re.IGNORECASE) and (stage := _STAGE.search(command)):
            uri = next(iter(params.values())) if isinstance(params, dict) else params[0]
            staged.setdefault(stage.group(1), []).append(str(uri))
            command, params = "SELECT 'UPLOADED' AS status", None
        elif (merge := _MERGE_SOURCE.search(command)) and (stage := _STAGE_SELECT.search(command)):
            # fakesnow cannot MERGE from a subquery with QUALIFY: materialise the deduplicated
            # source rows first, then MERGE from that table.
            rows = [line for uri in staged.get(stage.group(1), []) for line in _lines(uri)]
            values = ", ".join(f"({_literal(line)}, {n})" for n, line in enumerate(rows))
            table = (
                "(SELECT PARSE_JSON(column1) AS stage_row, column2 AS stage_seq "
                f"FROM VALUES {values})"
            )
            source = merge.group(2).replace(stage.group(0), table)
            source = source.replace("$1:", "stage_row:").replace("SEQ8()", "stage_seq")
            # A session that found the schema already there has no current schema in fakesnow.
            execute(self, f"USE SCHEMA {merge.group(1).rstrip('.')}")
            # one table per stage: the target drains several streams in parallel threads
            table = merge.group(1) + re.sub(r"\W", "_", f"FS_STAGE_{stage.group(1)}").upper()
            execute(self, f"CREATE OR REPLACE TABLE {table} AS {source}")
            command = command[: merge.start(2) - 1] + table + command[merge.end(2) + 1 :]
            result = execute(self, command, params, *args, **kw)  # the target reads its counts
            self._conn.cursor().execute(f"DROP TABLE {table}")
            return result
        return execute(self, command, params, *args, **kw)

    FakeSnowflakeCursor.execute = staged_execute
    patch = contextlib.ExitStack()
    patch.enter_context(fakesnow.patch(db_path=db_path, nop_regexes=_NOPS))
    atexit.register(patch.close)  # closes DuckDB cleanly when the target exits


if os.environ.get("FAKESNOW_DB_PATH"):
    _install(os.environ["FAKESNOW_DB_PATH"])

"""Runs fakesnow 0.12.1 as a Snowflake server for the warehouse tests, with its gaps filled.

Run by .venv-fakesnow's Python: `python fakesnow_main.py PORT`. One in-memory DuckDB shared
by every session (the target's loads, dbt's builds, the read-backs) until the process stops.
Clients reach it with snowflake-connector-python's `host`, `port` and `protocol=http`: dbt's
profile takes them, and target-snowflake--emulated gets them from a shim
(tests/emulators/client_shim).

What fakesnow lacks, filled in here before its server handles a statement:
- `PUT 'file://…' '@~/target-snowflake/<id>'`: remembers the local batch files of stage <id>
  (the server runs on the client's machine, so it reads them where the target wrote them);
- `MERGE … USING (SELECT $1:col::TYPE … FROM '@~/target-snowflake/<id>'(file_format => f)
  QUALIFY … SEQ8() …)`: the stage becomes an inline VALUES table of the files' JSON lines in
  order (stage_seq stands for SEQ8()); that source is materialised into a table first, since
  fakesnow cannot MERGE from a subquery with QUALIFY;
- statements take turns (fakesnow's MERGE is not safe in parallel threads);
- `SHOW [TERSE] OBJECTS IN <db>.<schema>` (dbt lists a schema so): fakesnow takes the session's
  schema instead of the named one unless the statement says `IN SCHEMA`, which it then does;
- `REMOVE '@~/…'`, `CREATE OR REPLACE FILE FORMAT`, `DROP FILE FORMAT`: succeed doing nothing;
- results: a NULL timestamp reaches the client as NULL (fakesnow sends 1970-01-01 00:00:00).
So a test proves the target's types, casts, MERGE on keys and empty strings, not Snowflake's
stage itself.
"""

from __future__ import annotations

import gzip
import re
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import fakesnow.arrow  # type: ignore[import-not-found]
import fakesnow.server  # type: ignore[import-not-found]
import pyarrow as pa  # type: ignore[import-not-found]
import pyarrow.compute as pc  # type: ignore[import-not-found]
import uvicorn  # type: ignore[import-not-found]
from fakesnow.cursor import FakeSnowflakeCursor  # type: ignore[import-not-found]
from fakesnow.instance import FakeSnow  # type: ignore[import-not-found]

_PUT = re.compile(r"\s*put\s+'(file://[^']+)'\s+'@~/target-snowflake/([^'/]+)/?'", re.IGNORECASE)
_STAGE_SELECT = re.compile(r"'@~/target-snowflake/([^'/]+)'\s*\(\s*file_format\s*=>\s*[^)]*\)")
_MERGE_SOURCE = re.compile(
    r'merge into ((?:"[^"]+"\.){2})"[^"]+" d using \((select .*? = 1)\) s on ',
    re.IGNORECASE | re.DOTALL,
)
# (pattern, replacement) applied to every statement before fakesnow parses it
_REWRITES = [
    (
        re.compile(
            r"^(\s*show\s+(?:terse\s+)?objects\s+in\s+)(?!schema\s|database\s)(\S+\.)", re.I
        ),
        r"\1schema \2",
    ),
]
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


def _install_statement_layer() -> None:
    """Wrap fakesnow's cursor: the stage, the rewrites and the turns (module docstring)."""
    staged: dict[str, list[str]] = {}
    lock = threading.RLock()
    execute = FakeSnowflakeCursor.execute

    def staged_execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        # fakesnow runs a MERGE as several statements through a fixed helper table: the target
        # drains streams in parallel threads, so statements take turns.
        with lock:
            return stage_layer(self, command, *args, **kwargs)

    def stage_layer(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        for pattern, replacement in _REWRITES:
            command = pattern.sub(replacement, command)
        if put := _PUT.match(command):
            staged.setdefault(put.group(2), []).append(put.group(1))
            return execute(self, "SELECT 'UPLOADED' AS status")
        if (merge := _MERGE_SOURCE.search(command)) and (stage := _STAGE_SELECT.search(command)):
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
            result = execute(self, command, *args, **kwargs)  # the target reads its counts
            self._conn.cursor().execute(f"DROP TABLE {table}")
            return result
        return execute(self, command, *args, **kwargs)

    FakeSnowflakeCursor.execute = staged_execute


def _keep_null_timestamps() -> None:
    """fakesnow turns a timestamp column into Snowflake's (epoch, fraction) struct, nulls lost."""
    to_struct = fakesnow.arrow.timestamp_to_sf_struct

    def with_nulls(ts: Any) -> Any:
        if isinstance(ts, pa.ChunkedArray):
            ts = ts.combine_chunks()
        struct = to_struct(ts)
        if not ts.null_count:
            return struct
        children = [pc.fill_null(struct.field(i), 0) for i in range(struct.type.num_fields)]
        fields = [struct.type.field(i) for i in range(struct.type.num_fields)]
        return pa.StructArray.from_arrays(children, fields=fields, mask=ts.is_null())

    fakesnow.arrow.timestamp_to_sf_struct = with_nulls


def main(port: int) -> None:
    """Serve on 127.0.0.1:port until stopped."""
    _install_statement_layer()
    _keep_null_timestamps()
    # the server's shared in-memory instance, with the target's no-op statements
    fakesnow.server.shared_fs = FakeSnow(nop_regexes=_NOPS)
    uvicorn.run(fakesnow.server.app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]))

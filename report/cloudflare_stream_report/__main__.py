"""python -m cloudflare_stream_report WAREHOUSE.duckdb [--out PATH] [--schema analytics]

Writes a self-contained HTML report of the dbt models (transform/) in a DuckDB file the
pipeline loaded, and prints its path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cloudflare_stream_report.build import write_report
from cloudflare_stream_report.warehouse import WarehouseError


def main(argv: list[str] | None = None) -> int:
    """Command line: exit 0 with the page's path, 2 with one line when the file is unreadable."""
    parser = argparse.ArgumentParser(
        prog="python -m cloudflare_stream_report",
        description="Write a self-contained HTML report of the dbt models in a DuckDB file.",
    )
    parser.add_argument("warehouse", type=Path, help="the DuckDB file the pipeline loaded")
    parser.add_argument(
        "--out", type=Path, help="the page to write (default: report.html beside the file)"
    )
    parser.add_argument(
        "--schema", default="analytics", help="the schema dbt built the models in (analytics)"
    )
    args = parser.parse_args(argv)
    out = args.out or args.warehouse.with_name("report.html")
    try:
        written = write_report(args.warehouse, out, args.schema)
    except WarehouseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(written.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())

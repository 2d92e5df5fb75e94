"""A bare extractor: the floor the tap is measured against.

Plain `requests` and the standard library's `json` (or, with `--codec msgspec`, msgspec's
untyped JSON decode and encode: a stricter floor), no singer-sdk. It sends the tap's own queries
and variables (query text, whole-key seek filter, order, limit, windows come from the tap's
declarations, so both read exactly the same pages) and writes the same Singer messages: a SCHEMA,
one RECORD line per row, a STATE after each window. No retries, no validation, no rate limiting:
everything a tap does beyond this is overhead.

    python -m bench.bare_extractor --url URL --token T --account TAG --stream NAME \
        --start 2026-01-01 --end 2026-01-31 [--page-size 10000] [--window-days 31] \
        [--codec json|msgspec] > out
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import requests

from tap_cloudflare_stream.analytics.datasets import DATASETS
from tap_cloudflare_stream.analytics.queries import dataset_query, order_by, page_filter
from tap_cloudflare_stream.analytics.windows import DAY, day_start, split_windows

_JSON = {"string": "string", "integer": "integer", "number": "number"}


def _buffered_stdout() -> io.BufferedWriter:
    """stdout with a 64 KiB buffer, whatever PYTHONUNBUFFERED says."""
    sys.stdout.flush()
    return io.BufferedWriter(io.FileIO(sys.stdout.fileno(), "wb", closefd=False), 65536)


def _json_writer() -> tuple[Callable[[Any], None], Callable[[], None]]:
    out = io.TextIOWrapper(_buffered_stdout(), encoding="utf-8")
    write = out.write

    def emit(message: Any) -> None:
        write(json.dumps(message, separators=(",", ":")) + "\n")

    return emit, out.flush


def _msgspec_writer() -> tuple[Callable[[Any], None], Callable[[], None]]:
    out = _buffered_stdout()
    write, encode = out.write, msgspec.json.Encoder().encode

    def emit(message: Any) -> None:
        write(encode(message) + b"\n")

    return emit, out.flush


Writer = Callable[[], tuple[Callable[[Any], None], Callable[[], None]]]
CODECS: dict[str, tuple[Callable[[bytes], Any], Writer]] = {
    "json": (json.loads, _json_writer),
    "msgspec": (msgspec.json.decode, _msgspec_writer),
}


def _schema(stream: str) -> dict[str, Any]:
    dataset = next(d for d in DATASETS if d.stream_name == stream)
    properties: dict[str, Any] = {
        "account_id": {"type": "string"},
        "date": {"type": "string", "format": "date"},
    }
    properties.update({d.column: {"type": _JSON[d.json_type]} for d in dataset.dimensions})
    properties.update({m.column: {"type": _JSON[m.json_type]} for m in dataset.metrics})
    return {"type": "object", "properties": properties}


def extract(
    *,
    url: str,
    token: str,
    accounts: list[str],
    stream: str,
    first: datetime.date,
    last: datetime.date,
    page_size: int,
    window_days: int,
    codec: str = "json",
) -> int:
    """Write every row of the stream as Singer messages to stdout; return the row count."""
    dataset = next(d for d in DATASETS if d.stream_name == stream)
    query, order = dataset_query(dataset), order_by(dataset)
    dimensions = [("date", "date"), *((d.column, d.field) for d in dataset.dimensions)]
    metrics = [(m.column, m.block, m.field) for m in dataset.metrics]
    key_fields = dataset.key_fields
    loads, writer = CODECS[codec]
    emit, flush = writer()
    emit(
        {
            "type": "SCHEMA",
            "stream": stream,
            "schema": _schema(stream),
            "key_properties": list(dataset.primary_key),
            "bookmark_properties": ["date"],
        }
    )
    total = 0
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    for account in accounts:
        days = split_windows(day_start(first), day_start(last) + DAY, window_days * 86400, DAY)
        for window in days:
            after: tuple[Any, ...] | None = None
            while True:
                variables = {
                    "accountTag": account,
                    "filter": page_filter(dataset, window, after),
                    "limit": page_size,
                    "orderBy": order,
                }
                response = session.post(
                    url, json={"query": query, "variables": variables}, timeout=60
                )
                response.raise_for_status()
                body = loads(response.content)
                if body.get("errors"):
                    raise SystemExit(f"Cloudflare error: {body['errors'][0]['message']}")
                rows = body["data"]["viewer"]["accounts"][0][dataset.node]
                extracted = datetime.datetime.now(datetime.timezone.utc).isoformat()
                for group in rows:
                    values = group["dimensions"]
                    record = {column: values[field] for column, field in dimensions}
                    for column, block, field in metrics:
                        record[column] = group[field] if block is None else group[block][field]
                    record["account_id"] = account
                    emit(
                        {
                            "type": "RECORD",
                            "stream": stream,
                            "record": record,
                            "time_extracted": extracted,
                        }
                    )
                total += len(rows)
                if len(rows) < page_size:
                    break
                last_dimensions = rows[-1]["dimensions"]
                after = tuple(last_dimensions[field] for field in key_fields)
            if rows or after is not None:
                last_day = (window.end - DAY).date().isoformat()
                bookmark = rows[-1]["dimensions"]["date"] if rows else last_day
                state = {
                    "bookmarks": {
                        stream: {
                            "partitions": [
                                {
                                    "context": {"account_id": account},
                                    "replication_key": "date",
                                    "replication_key_value": bookmark,
                                }
                            ]
                        }
                    }
                }
                emit({"type": "STATE", "value": state})
    flush()
    return total


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, extract, and report the row count on stderr."""
    parser = argparse.ArgumentParser(prog="python -m bench.bare_extractor", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--account", action="append", required=True)
    parser.add_argument("--stream", default="video_playback_events")
    parser.add_argument("--start", type=datetime.date.fromisoformat, required=True)
    parser.add_argument("--end", type=datetime.date.fromisoformat, required=True)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--window-days", type=int, default=31)
    parser.add_argument("--codec", choices=sorted(CODECS), default="json")
    args = parser.parse_args(argv)
    rows = extract(
        url=args.url,
        token=args.token,
        accounts=args.account,
        stream=args.stream,
        first=args.start,
        last=args.end,
        page_size=args.page_size,
        window_days=args.window_days,
        codec=args.codec,
    )
    print(f"bare extractor: {rows} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

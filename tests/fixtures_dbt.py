"""The dbt project's tests: raw tables the tap does not load yet, and the models' expected rows.

UNTIL THE CATALOG STREAMS LAND: `videos`, `live_inputs` and `storage_usage` are not streams of
the tap yet, so `create_pending_tables` writes a few hand-made rows into them, following the
streams' documented contract (columns and types as the loaders make them). When those streams
exist, load them through the real pipeline instead, delete `create_pending_tables` and PENDING_*
below, and derive the expected catalog columns from the stand-in's catalog: the rest of this
module (the truth of the loaded streams, summed to each model's grain) stays as it is. The
hourly streams (`cmcd_hourly`, `live_input_events_hourly`) are loaded by the tap: their truth is
the stand-in's (`loaded_cmcd`).
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cloudflare_standin import StandinConfig
from cloudflare_standin.data import account_videos

from tests.standin import expected_hourly, expected_records

# execute(sql, rows): run a statement once, or once per row of parameters (?-placeholders).
Execute = Callable[[str, Sequence[Sequence[Any]]], None]

# Column types per loader flavour: "duckdb" as target-duckdb makes them (dates as VARCHAR),
# "postgres" as target-postgres does (with its _sdc_deleted_at metadata column).
_TYPES = {
    "duckdb": {"string": "VARCHAR", "float": "DOUBLE", "integer": "BIGINT", "date": "VARCHAR",
               "timestamp": "TIMESTAMP", "boolean": "BOOLEAN", "json": "JSON"},
    "postgres": {"string": "VARCHAR", "float": "DOUBLE PRECISION", "integer": "BIGINT",
                 "date": "DATE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN",
                 "json": "JSONB"},
}  # fmt: skip

PENDING_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "videos": [
        ("account_id", "string"), ("uid", "string"), ("name", "string"), ("creator", "string"),
        ("created", "timestamp"), ("modified", "timestamp"), ("uploaded", "timestamp"),
        ("duration", "float"), ("size", "integer"), ("width", "integer"), ("height", "integer"),
        ("ready_to_stream", "boolean"), ("ready_to_stream_at", "timestamp"),
        ("status_state", "string"), ("status_error_reason_code", "string"),
        ("live_input", "string"), ("clipped_from", "string"), ("require_signed_urls", "boolean"),
        ("scheduled_deletion", "timestamp"), ("thumbnail", "string"), ("preview", "string"),
        ("meta", "json"),
    ],
    "live_inputs": [
        ("account_id", "string"), ("uid", "string"), ("name", "string"),
        ("created", "timestamp"), ("modified", "timestamp"), ("enabled", "boolean"),
        ("delete_recording_after_days", "integer"), ("meta", "json"),
    ],
    "storage_usage": [
        ("account_id", "string"), ("date", "date"), ("total_storage_minutes", "float"),
        ("total_storage_minutes_limit", "float"), ("video_count", "integer"),
    ],
}  # fmt: skip


@dataclass
class PendingTables:
    """What create_pending_tables wrote: the catalog as the models must see it, and raw rows."""

    catalog: dict[tuple[str, str], tuple[str | None, str | None, float | None]]
    storage: list[dict[str, Any]]


def create_pending_tables(
    execute: Execute, flavour: str, schema: str, config: StandinConfig
) -> PendingTables:
    """Create and fill the raw tables of the not-yet-landed streams (see the module docstring).

    Per account, of the stand-in's videos (sorted uids): the first is deleted (no row), the
    second has duration -1, the third no name; with PostgreSQL the fourth is soft-deleted
    (_sdc_deleted_at set, as target-postgres marks rows ACTIVATE_VERSION dropped).
    """
    types = _TYPES[flavour]
    soft_delete = flavour == "postgres"
    execute(f"CREATE SCHEMA IF NOT EXISTS {schema}", [])
    for table, declared in PENDING_COLUMNS.items():
        ddl = [f"{name} {types[kind]}" for name, kind in declared]
        if soft_delete:
            ddl.append("_sdc_deleted_at TIMESTAMP")
        execute(f"CREATE TABLE {schema}.{table} ({', '.join(ddl)})", [])

    day = config.today
    assert day is not None, "the stand-in's today must be fixed"
    created = datetime.datetime(day.year, day.month, day.day) - datetime.timedelta(days=30)
    catalog: dict[tuple[str, str], tuple[str | None, str | None, float | None]] = {}
    videos: list[dict[str, Any]] = []
    for account in config.accounts:
        uids = sorted(account_videos(config.seed, account, config.videos).uids)
        for index, uid in enumerate(uids[1:], start=1):
            name = None if index == 2 else f"Video {index} ({account[:4]})"
            duration = -1.0 if index == 1 else 30.0 + 17.5 * index
            creator = f"creator-{index:02d}"
            deleted = created + datetime.timedelta(days=1) if soft_delete and index == 3 else None
            videos.append(
                {"account_id": account, "uid": uid, "name": name, "creator": creator,
                 "created": created, "modified": created, "uploaded": created,
                 "duration": duration, "size": 1000 * index, "width": 1920, "height": 1080,
                 "ready_to_stream": True, "ready_to_stream_at": created,
                 "status_state": "ready", "require_signed_urls": False,
                 "meta": json.dumps({"name": name} if name else {}), "_sdc_deleted_at": deleted}
            )  # fmt: skip
            if deleted is None:
                catalog[(account, uid)] = (name, creator, duration if duration >= 0 else None)

    first_account = config.accounts[0]
    # Storage is read on some days only: a day between readings shows the last one before it.
    storage = [
        {"account_id": first_account, "date": day - datetime.timedelta(days=n),
         "total_storage_minutes": 1000.0 + n, "total_storage_minutes_limit": 100_000.0,
         "video_count": 10 + n}
        for n in (5, 2)
    ]  # fmt: skip
    live_inputs = [
        {"account_id": first_account, "uid": "1" * 32, "name": "studio", "created": created,
         "modified": created, "enabled": True, "delete_recording_after_days": 30,
         "meta": json.dumps({"name": "studio"})}
    ]  # fmt: skip
    tables = {"videos": videos, "storage_usage": storage, "live_inputs": live_inputs}
    for table, rows in tables.items():
        columns = [name for name, _ in PENDING_COLUMNS[table]]
        if soft_delete:
            columns.append("_sdc_deleted_at")
        values = [[_as_loaded(row.get(c), flavour) for c in columns] for row in rows]
        placeholder = "?" if flavour == "duckdb" else "%s"
        execute(
            f"INSERT INTO {schema}.{table} ({', '.join(columns)}) "
            f"VALUES ({', '.join([placeholder] * len(columns))})",
            values,
        )
    return PendingTables(catalog=catalog, storage=storage)


def _as_loaded(value: Any, flavour: str) -> Any:
    """A value as the loader would store it (target-duckdb keeps dates as text)."""
    if flavour == "duckdb" and type(value) is datetime.date:
        return value.isoformat()
    return value


# --- The truth: the four loaded streams, summed to the models' grains --------------------------


def expected_video_daily(
    config: StandinConfig,
    first: datetime.date,
    last: datetime.date,
    catalog: dict[tuple[str, str], tuple[str | None, str | None, float | None]],
) -> dict[tuple[str, datetime.date, str], dict[str, Any]]:
    """video_daily as the stand-in's rows say it must be: (account, date, uid) -> columns."""
    sums: dict[tuple[str, datetime.date, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            ("views", "time_viewed_minutes", "minutes_viewed", "buffer_events", "quality_changes"),
            0,
        )
    )
    for stream, columns in [
        ("video_playback_events", ("views", "time_viewed_minutes")),
        ("video_buffer_events", ("buffer_events",)),
        ("video_quality_events", ("quality_changes",)),
        ("minutes_viewed", ("minutes_viewed",)),
    ]:
        for record in expected_records(config, stream, config.accounts, first, last):
            key = (
                record["account_id"],
                datetime.date.fromisoformat(record["date"]),
                record["uid"],
            )
            for column in columns:
                sums[key][column] += int(record[column])
    rows = {}
    for key, metrics in sums.items():
        name, creator, duration = catalog.get((key[0], key[2]), (None, None, None))
        views = metrics["views"]
        rows[key] = {
            "name": name,
            "creator": creator,
            "duration": duration,
            "in_catalog": (key[0], key[2]) in catalog,
            **metrics,
            "buffer_events_per_view": metrics["buffer_events"] / views if views else None,
            "completion_estimate": (
                metrics["time_viewed_minutes"] * 60 / views / duration
                if views and duration
                else None
            ),
        }
    return rows


def loaded_cmcd(
    config: StandinConfig, start: datetime.datetime, end: datetime.datetime
) -> list[dict[str, Any]]:
    """cmcd_hourly as the tap loads it for [start, end): the stand-in's groups, hours as loaded
    (naive UTC timestamps)."""
    rows = expected_hourly(config, "cmcd_hourly", config.accounts, start, end)
    for row in rows:
        hour = datetime.datetime.fromisoformat(row["datetime_hour"].replace("Z", "+00:00"))
        row["datetime_hour"] = hour.replace(tzinfo=None)
    return rows


def expected_delivery_hourly(
    cmcd: list[dict[str, Any]],
) -> dict[tuple[str, datetime.datetime, str], dict[str, Any]]:
    """video_delivery_hourly from raw cmcd rows: additive parts summed, ratios rebuilt."""
    parts: dict[tuple[str, datetime.datetime, str], list[float]] = defaultdict(lambda: [0.0] * 4)
    for row in cmcd:
        key = (row["account_id"], row["datetime_hour"], row["video_id"])
        part = parts[key]
        part[0] += row["requests"]
        part[1] += row["milliseconds_viewed"]
        part[2] += row["avg_buffer_starvation_duration"] * row["requests"]
        part[3] += row["avg_encoded_bitrate"] * row["requests"]
    return {
        key: {
            "requests": int(requests),
            "milliseconds_viewed": int(viewed),
            "rebuffering_ratio": starvation / viewed if viewed else None,
            "avg_encoded_bitrate": bitrate / requests,
        }
        for key, (requests, viewed, starvation, bitrate) in parts.items()
    }


def expected_storage(
    storage: list[dict[str, Any]], account: str, day: datetime.date
) -> tuple[float | None, int | None]:
    """(total_storage_minutes, video_count) last read on or before a day."""
    readings = sorted(
        (r["date"], r) for r in storage if r["account_id"] == account and r["date"] <= day
    )
    if not readings:
        return None, None
    reading = readings[-1][1]
    return reading["total_storage_minutes"], reading["video_count"]


def rounded(value: Any) -> Any:
    """A comparable value: floats (and decimals) to 9 significant places, bools kept."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    try:
        return float(f"{float(value):.9g}")
    except (TypeError, ValueError):
        return value

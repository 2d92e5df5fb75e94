"""The dbt models' truth: what each model must hold once the real pipeline loaded the stand-in.

Every expected row is computed from the stand-in's own data, never from the models' SQL: the
daily streams' rows (`expected_records`), the REST catalog (`expected_videos`,
`expected_live_inputs`, `expected_storage_usage`) and, for the hour-grained streams, the
generated events themselves (`delivery_totals`, `live_input_totals`). `compare_model` compares
a model's rows with them, row by row and column by column; `assert_model` queries the rows
(DuckDB, PostgreSQL), tests/fixtures_warehouses.py reads them back (Snowflake, BigQuery).
`dbt_env` and `assert_dbt_passed` serve every test that runs a dbt utility through Meltano.
"""

from __future__ import annotations

import calendar
import datetime
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudflare_standin import (
    StandinConfig,
    delivery_totals,
    expected_live_inputs,
    expected_storage_usage,
    expected_videos,
    live_input_totals,
)

from tests.standin import expected_records

Query = Callable[[str], list[tuple[Any, ...]]]
Rows = dict[tuple[Any, ...], dict[str, Any]]
MODELS = "analytics"  # the dbt utilities' `schema` setting in meltano.yml
# Cloudflare's list prices, the models' defaults: USD per 1,000 minutes delivered and stored.
USD_PER_1000_DELIVERED = 1.0
USD_PER_1000_STORED = 5.0
_FAR = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class Loaded:
    """What a pipeline run read from a stand-in (its catalog as the stand-in has it now)."""

    config: StandinConfig
    first: datetime.date  # start_date: the daily streams' first day, the hourly ones' 00:00
    read_on: datetime.date  # the day the tap ran: storage_usage's one reading

    @property
    def last(self) -> datetime.date:
        """The stand-in's today: the last day with data."""
        assert self.config.today is not None, "the stand-in's today must be fixed"
        return self.config.today

    @property
    def start(self) -> datetime.datetime:
        """00:00 UTC of the first day: where the hourly streams start."""
        return datetime.datetime.combine(self.first, datetime.time(), datetime.timezone.utc)

    def videos(self) -> Rows:
        """(account, uid) -> name, creator, duration of every current video."""
        out = {}
        for account in self.config.accounts:
            for video in expected_videos(self.config, account):
                duration = video.get("duration")
                meta = video.get("meta")
                out[(account, video["uid"])] = {
                    "name": meta.get("name") if isinstance(meta, dict) else None,
                    "creator": video.get("creator"),
                    "duration": duration if isinstance(duration, float) and duration >= 0 else None,
                }
        return out

    def live_inputs(self) -> Rows:
        """(account, input uid) -> name, enabled, delete_recording_after_days of every input."""
        return {
            (account, item["uid"]): {
                "name": item["meta"].get("name"),
                "enabled": item["enabled"],
                "delete_recording_after_days": item["deleteRecordingAfterDays"],
            }
            for account in self.config.accounts
            for item in expected_live_inputs(self.config, account)
        }


def expected_video_daily(loaded: Loaded) -> Rows:
    """video_daily: the four daily streams' rows summed per (account, date, uid)."""
    sums: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
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
        records = expected_records(
            loaded.config, stream, loaded.config.accounts, loaded.first, loaded.last
        )
        for record in records:
            key = (record["account_id"], datetime.date.fromisoformat(record["date"]), record["uid"])
            for column in columns:
                sums[key][column] += int(record[column])
    day_minutes: dict[tuple[str, datetime.date], int] = defaultdict(int)
    for (account, day, _), metrics in sums.items():
        day_minutes[(account, day)] += metrics["minutes_viewed"]
    videos = loaded.videos()
    rows = {}
    for key, metrics in sums.items():
        video = videos.get((key[0], key[2]), {})
        views, total = metrics["views"], day_minutes[key[:2]]
        duration = video.get("duration")
        rows[key] = {
            **{column: video.get(column) for column in ("name", "creator", "duration")},
            "in_catalog": (key[0], key[2]) in videos,
            **metrics,
            "share_of_minutes_viewed": metrics["minutes_viewed"] / total if total else None,
            "buffer_events_per_view": metrics["buffer_events"] / views if views else None,
            "completion_estimate": (
                metrics["time_viewed_minutes"] * 60 / views / duration
                if views and duration
                else None
            ),
        }
    return rows


def expected_account_daily(loaded: Loaded, empty_uids: Iterable[str] = ("", "(empty)")) -> Rows:
    """account_daily: the day's totals, and the one storage reading carried from its day on."""
    rows: Rows = {}
    for (account, day, uid), video in expected_video_daily(loaded).items():
        row = rows.setdefault(
            (account, day),
            {"views": 0, "time_viewed_minutes": 0, "minutes_viewed": 0, "videos_watched": 0},
        )
        for column in ("views", "time_viewed_minutes", "minutes_viewed"):
            row[column] += video[column]
        watched = video["views"] > 0 or video["minutes_viewed"] > 0
        row["videos_watched"] += int(watched and uid not in empty_uids)
    usage = {a: expected_storage_usage(loaded.config, a) for a in loaded.config.accounts}
    for account in loaded.config.accounts:  # the day storage_usage was read has a row
        rows.setdefault(
            (account, loaded.read_on),
            {"views": 0, "time_viewed_minutes": 0, "minutes_viewed": 0, "videos_watched": 0},
        )
    for (account, day), row in rows.items():
        read = day >= loaded.read_on  # the one reading, carried forward from its day
        row["total_storage_minutes"] = usage[account]["totalStorageMinutes"] if read else None
        row["total_storage_minutes_limit"] = (
            usage[account]["totalStorageMinutesLimit"] if read else None
        )
        row["video_count"] = usage[account]["videoCount"] if read else None
        row["storage_read_on"] = loaded.read_on if read else None
    return rows


def expected_billing_monthly(loaded: Loaded) -> Rows:
    """billing_monthly: account_daily's days per month, at the list prices, the last projected."""
    days = expected_account_daily(loaded)
    latest: dict[str, datetime.date] = {}
    for account, day in days:
        latest[account] = max(day, latest.get(account, day))
    rows: Rows = {}
    for (account, day), values in sorted(days.items()):
        month = day.replace(day=1)
        row = rows.setdefault(
            (account, month),
            {"first_loaded_day": day, "minutes_delivered": 0, "storage_read_on": None},
        )
        row["last_loaded_day"] = day
        row["minutes_delivered"] += values["minutes_viewed"]
        if values["storage_read_on"] is not None and values["storage_read_on"] >= month:
            for column in ("total_storage_minutes", "total_storage_minutes_limit"):
                row[column] = values[column]
            row["storage_read_on"] = values["storage_read_on"]
    for (account, month), row in rows.items():
        length = calendar.monthrange(month.year, month.month)[1]
        as_of = latest[account]
        in_progress = (as_of.year, as_of.month) == (month.year, month.month)
        counted = as_of.day if in_progress else length
        limit = row.get("total_storage_minutes_limit")
        storage_cost = limit / 1000 * USD_PER_1000_STORED if limit is not None else None
        delivery_cost = row["minutes_delivered"] / 1000 * USD_PER_1000_DELIVERED
        projected = row["minutes_delivered"] * length / counted
        row.update(
            in_progress=in_progress,
            days_in_month=length,
            days_counted=counted,
            total_storage_minutes=row.get("total_storage_minutes"),
            total_storage_minutes_limit=limit,
            delivery_cost_usd=delivery_cost,
            storage_cost_usd=storage_cost,
            cost_usd=delivery_cost + (storage_cost or 0),
            projected_minutes_delivered=projected,
            projected_cost_usd=projected / 1000 * USD_PER_1000_DELIVERED + (storage_cost or 0),
        )
    return rows


def _delivery_columns(totals: Any) -> dict[str, Any]:
    return {
        "requests": totals.requests,
        "milliseconds_viewed": totals.milliseconds_viewed,
        "buffer_starvation_milliseconds": totals.buffer_starvation_milliseconds,
        "rebuffering_ratio": (
            totals.buffer_starvation_milliseconds / totals.milliseconds_viewed
            if totals.milliseconds_viewed
            else None
        ),
        "avg_encoded_bitrate_kbps": totals.avg_encoded_bitrate_kbps,
        "avg_measured_throughput_kbps": totals.avg_measured_throughput_kbps,
        "avg_startup_milliseconds": totals.avg_startup_milliseconds,
    }


def expected_delivery_hourly(loaded: Loaded) -> Rows:
    """video_delivery_hourly: the CMCD events per (account, UTC hour, video)."""
    return {
        (account, _naive(hour), video): _delivery_columns(totals)
        for account in loaded.config.accounts
        for (hour, video), totals in delivery_totals(
            loaded.config, account, loaded.start, _FAR
        ).items()
    }


def expected_delivery_daily(loaded: Loaded) -> Rows:
    """video_delivery_daily: the CMCD events per (account, UTC day, video), with its name."""
    videos = loaded.videos()
    return {
        (account, day.date(), video): {
            "name": videos.get((account, video), {}).get("name"),
            **_delivery_columns(totals),
        }
        for account in loaded.config.accounts
        for (day, video), totals in delivery_totals(
            loaded.config, account, loaded.start, _FAR, period="day"
        ).items()
    }


def expected_live_input_hourly(loaded: Loaded) -> Rows:
    """live_input_hourly: the stored segments per (account, UTC hour, input), with its name."""
    inputs = loaded.live_inputs()
    return {
        (account, _naive(hour), input_id): {
            "name": inputs.get((account, input_id), {}).get("name"),
            "segments": totals.segments,
            "bit_rate_bps": totals.bit_rate_bps,
            "avg_gop_duration": totals.avg_gop_duration,
            "avg_gop_upload_time": totals.avg_gop_upload_time,
            "avg_upload_duration_ratio": totals.avg_upload_duration_ratio,
        }
        for account in loaded.config.accounts
        for (hour, input_id), totals in live_input_totals(
            loaded.config, account, loaded.start, _FAR
        ).items()
    }


def expected_stg_videos(loaded: Loaded) -> Rows:
    """stg_videos: the current videos, a duration not known yet (-1) as null."""
    return loaded.videos()


def expected_stg_live_inputs(loaded: Loaded) -> Rows:
    """stg_live_inputs: the current live inputs."""
    return loaded.live_inputs()


def _naive(moment: datetime.datetime) -> datetime.datetime:
    """A UTC time as the warehouses return a TIMESTAMP column (no zone)."""
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


# The models' grains, and what each is compared with (on every warehouse: DuckDB and
# PostgreSQL by `assert_model`, Snowflake and BigQuery read back by tests/fixtures_warehouses.py).
MODEL_KEYS = {
    "video_daily": ("account_id", "date", "uid"),
    "account_daily": ("account_id", "date"),
    "billing_monthly": ("account_id", "month"),
    "video_delivery_hourly": ("account_id", "datetime_hour", "video_id"),
    "video_delivery_daily": ("account_id", "date", "video_id"),
    "live_input_hourly": ("account_id", "datetime_hour", "input_id"),
    "stg_videos": ("account_id", "uid"),
    "stg_live_inputs": ("account_id", "uid"),
}
TRUTH: dict[str, Callable[[Loaded], Rows]] = {
    "video_daily": expected_video_daily,
    "account_daily": expected_account_daily,
    "billing_monthly": expected_billing_monthly,
    "video_delivery_hourly": expected_delivery_hourly,
    "video_delivery_daily": expected_delivery_daily,
    "live_input_hourly": expected_live_input_hourly,
    "stg_videos": expected_stg_videos,
    "stg_live_inputs": expected_stg_live_inputs,
}


def model_columns(model: str, expected: Rows) -> tuple[str, ...]:
    """The columns a model is read back by: its key, then every column its truth has, sorted."""
    columns = sorted({column for row in expected.values() for column in row})
    return (*MODEL_KEYS[model], *columns)


def compare_model(model: str, rows: Sequence[Sequence[Any]], expected: Rows) -> list[str]:
    """How a model's rows (in `model_columns` order) differ from its truth: none if equal.

    Equal: exactly the expected keys, each once, every column `same`. A warehouse's values are
    compared as the truth holds them (`_plain`), whether a driver returned Python dates and
    times or a read-back returned them as ISO text.
    """
    if not expected:
        return [f"{model}: the truth has no rows, so the comparison proves nothing"]
    names = model_columns(model, expected)
    width = len(MODEL_KEYS[model])
    like_key = next(iter(expected))
    got: Rows = {}
    for row in rows:
        key = tuple(_plain(v, like) for v, like in zip(row[:width], like_key, strict=True))
        got[key] = dict(zip(names[width:], row[width:], strict=True))
    missing = sorted(set(expected) - set(got), key=repr)
    extra = sorted(set(got) - set(expected), key=repr)
    wrong = []
    for key, want in expected.items():
        have = got.get(key, want)
        differ = {c: (have[c], v) for c, v in want.items() if not same(_plain(have[c], v), v)}
        if differ:
            wrong.append((key, differ))
    problems = {
        "duplicate keys": len(rows) - len(got),
        f"rows missing, e.g. {missing[:2]}": len(missing),
        f"rows the truth lacks, e.g. {extra[:2]}": len(extra),
        f"rows differ, e.g. {wrong[:2]} (key, {{column: (model, truth)}})": len(wrong),
    }
    return [f"{model}: {count} {what}" for what, count in problems.items() if count]


def assert_model(query: Query, model: str, expected: Rows) -> None:
    """The model, queried from the warehouse's `analytics` schema, holds exactly its truth."""
    rows = query(f"SELECT {', '.join(model_columns(model, expected))} FROM {MODELS}.{model}")
    errors = compare_model(model, rows, expected)
    assert not errors, "\n".join(errors)


def _plain(value: Any, like: Any) -> Any:
    """A warehouse's value as the truth holds one like `like` (dates, naive UTC times)."""
    if isinstance(like, datetime.datetime) and isinstance(value, str | datetime.datetime):
        moment = datetime.datetime.fromisoformat(value) if isinstance(value, str) else value
        return _naive(moment) if moment.tzinfo is not None else moment
    if isinstance(like, datetime.date) and isinstance(value, str):
        return datetime.date.fromisoformat(value)
    return value


def dbt_env(plugin: str, tmp_path: Path) -> dict[str, str]:
    """A dbt utility's target and log folders in the test's own folder (its settings' variables)."""
    prefix = plugin.upper().replace("-", "_")
    return {f"{prefix}_TARGET_PATH": str(tmp_path / plugin), f"{prefix}_LOG_PATH": str(tmp_path)}


def assert_dbt_passed(log: str) -> None:
    """dbt build ran every model and data test, none failed or was skipped."""
    done = [line for line in log.splitlines() if "Done. PASS=" in line]
    assert done, "dbt build did not finish"
    assert "WARN=0 ERROR=0 SKIP=0" in done[-1], done[-1]


def same(have: Any, want: Any) -> bool:
    """Equal, numbers within a relative 1e-9 (floats summed in another order)."""
    if have is None or want is None or isinstance(want, bool | str | datetime.date):
        return bool(have == want)
    return math.isclose(float(have), float(want), rel_tol=1e-9, abs_tol=1e-9)

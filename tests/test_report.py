"""The report page (report/, docs/report.md) of a warehouse the real pipeline loaded.

One pipeline run for the module (`meltano run tap-cloudflare-stream target-duckdb
dbt-duckdb:build` from the stand-in, the hour-grained streams included), then
`python -m cloudflare_stream_report` writes the page and headless Chromium renders it with the
network blocked: every chart is drawn, no request leaves the machine, and every figure on the
page equals the models', recomputed here from the models' rows. Bad input: a partly loaded
warehouse and an empty one still give a page that names what is missing; a file that is not
there gives one line.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cloudflare_standin import HOURLY_DATASETS, HourlySettings, StandinConfig, StandinServer

from tests.fixtures_browser import LOCAL, Rendered, render
from tests.fixtures_dbt import assert_dbt_passed, dbt_env
from tests.fixtures_meltano import MeltanoProject, require_plugins
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today

# The module's tests share one pipeline run: with pytest-xdist, scripts/test's --dist
# loadgroup keeps them on one worker.
pytestmark = pytest.mark.xdist_group("report")

MODELS = "analytics"
CHARTS = ["daily", "top-videos", "delivery", "live-inputs", "storage", "billing"]
EN_DASH = "\u2013"  # the page's "no value"


def make_report(warehouse: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """The documented command: python -m cloudflare_stream_report WAREHOUSE --out PAGE."""
    return subprocess.run(
        [sys.executable, "-m", "cloudflare_stream_report", str(warehouse), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def rows(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    """A query's rows as dicts, read from the DuckDB file."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [c[0] for c in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scalar(warehouse: Path, sql: str) -> Any:
    """The first value of a query's first row."""
    return next(iter(rows(warehouse, sql)[0].values()))


def number(cell: str) -> float | None:
    """A figure as the page prints it (1,234 / 12.5% / 0.61 / an en dash) as a number."""
    if cell == EN_DASH:
        return None
    return float(cell.replace(",", "").rstrip("%"))


def shows(cell: str, value: float | None, scale: float = 1.0) -> bool:
    """True when the cell is `value` times `scale` rounded to the cell's own decimals."""
    if value is None:
        return cell == EN_DASH
    decimals = len(cell.rstrip("%").split(".")[1]) if "." in cell else 0
    shown = number(cell)
    return shown is not None and abs(shown - value * scale) <= 0.5 * 10**-decimals + 1e-9


def assert_shows(cell: str, value: float | None, what: str, scale: float = 1.0) -> None:
    """The cell shows the model's value."""
    assert shows(cell, value, scale), f"{what}: the page shows {cell!r}, the models {value!r}"


def short(account_id: str) -> str:
    """An account as the page's cells show it."""
    return f"{account_id[:8]}…"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file loaded by the real pipeline from the stand-in, and its models built."""
    require_plugins("tap-cloudflare-stream", "target-duckdb", "dbt-duckdb")
    folder = tmp_path_factory.mktemp("report-pipeline")
    today = utc_today() - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=12)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],  # the demo environment's accounts
        seed=43,
        today=today,
        rows_per_day=20,
        videos=14,  # more than the 10 the page lists
        tokens={"demo-token": None},
        rate_limit_queries=None,
        hourly={name: HourlySettings(not_older_than=40 * 86400) for name in HOURLY_DATASETS},
        cmcd_sessions_per_hour=4,
    )
    path = folder / "warehouse.duckdb"
    env = {
        "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
        "TARGET_DUCKDB_PATH": str(path),
        "DBT_DUCKDB_PATH": str(path),
        **dbt_env("dbt-duckdb", folder),
    }
    project = MeltanoProject(system_db=folder / "meltano.db")
    with StandinServer(config) as server:
        env["TAP_CLOUDFLARE_STREAM_API_URL"] = server.url
        log = project.meltano(
            "--environment=demo", "run", "--no-install",
            "tap-cloudflare-stream", "target-duckdb", "dbt-duckdb:build", env=env,
        )  # fmt: skip
    assert_dbt_passed(log)
    return path


@pytest.fixture(scope="module")
def report(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page the command wrote for the warehouse."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = make_report(warehouse, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out.resolve()), "the command prints the page's path"
    return out


@pytest.fixture(scope="module")
def rendered(report: Path) -> Rendered:
    """The page as headless Chromium drew it, offline."""
    return render(report)


def test_the_page_draws_every_chart_offline(report: Path, rendered: Rendered) -> None:
    size = report.stat().st_size
    assert size < 2_000_000, f"the page is {size:,} bytes"
    assert rendered.state == "drawn"
    assert sorted(rendered.charts) == sorted(f"chart-{key}" for key in CHARTS)
    for name, chart in rendered.charts.items():
        assert chart["state"] == "drawn", name
        assert chart["svg"] == 1, f"{name} has no SVG"
        assert chart["marks"], f"{name} has no marks"
        assert all(chart["marks"]), f"{name} has a mark with no items"
    assert rendered.console == [], "the page logged errors or warnings"
    assert rendered.problems == []
    assert all(not s["problems"] for s in rendered.sections.values()), rendered.sections
    # Nothing but the file itself (and data: or blob: URLs inside it) was requested.
    assert rendered.requests, "no request recorded at all: the recorder is broken"
    assert [url for url in rendered.requests if not url.startswith(LOCAL)] == []


def test_each_chart_says_what_and_over_which_period(warehouse: Path, rendered: Rendered) -> None:
    about = {key: s["about"] for key, s in rendered.sections.items()}
    first = scalar(warehouse, f"SELECT min(date) FROM {MODELS}.account_daily")
    last = scalar(warehouse, f"SELECT max(date) FROM {MODELS}.account_daily")
    assert f"{first} to {last}" in about["daily"]
    last = scalar(warehouse, f"SELECT max(date) FROM {MODELS}.video_daily")
    assert f"{last - datetime.timedelta(days=6)} to {last}" in about["top-videos"]
    for key, model in (("delivery", "video_delivery_hourly"), ("live-inputs", "live_input_hourly")):
        last = scalar(warehouse, f"SELECT max(datetime_hour) FROM {MODELS}.{model}")
        first = last - datetime.timedelta(hours=167)
        assert f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC" in about[key]
    first = scalar(warehouse, f"SELECT min(month) FROM {MODELS}.billing_monthly")
    last = scalar(warehouse, f"SELECT max(month) FROM {MODELS}.billing_monthly")
    assert f"{first:%Y-%m} to {last:%Y-%m}" in about["billing"]
    assert all(about[key] for key in CHARTS)
    # The top videos' names are the chart's own labels, and page text in its table.
    names = [row[1] for row in rendered.tables["top-videos-table"]["rows"]]
    labels = set(rendered.charts["chart-top-videos"]["text"])
    assert [n for n in names if n != "(no name)" and n not in labels] == []


def test_the_charts_show_utc_in_any_time_zone(report: Path, rendered: Rendered) -> None:
    """A browser 14 hours ahead of UTC labels every axis, legend and title the same."""
    far = render(report, timezone="Pacific/Kiritimati")
    assert far.state == "drawn"
    for name, chart in rendered.charts.items():
        assert far.charts[name]["text"] == chart["text"], name


def table(rendered: Rendered, key: str) -> list[list[str]]:
    """A table's rows, each a list of its cells' text."""
    return rendered.tables[key]["rows"]


def week_of_videos(warehouse: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(account, uid) -> video_daily's last 7 days summed, with the name and duration."""
    videos: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"views": 0, "watched": 0, "delivered": 0, "buffers": 0}
    )
    last = scalar(warehouse, f"SELECT max(date) FROM {MODELS}.video_daily")
    for row in rows(warehouse, f"SELECT * FROM {MODELS}.video_daily"):
        if row["date"] > last - datetime.timedelta(days=7):
            video = videos[(row["account_id"], row["uid"])]
            video["views"] += row["views"] or 0
            video["watched"] += row["time_viewed_minutes"] or 0
            video["delivered"] += row["minutes_viewed"] or 0
            video["buffers"] += row["buffer_events"] or 0
            video["name"], video["duration"] = row["name"], row["duration"]
    return videos


def listed_videos(rendered: Rendered, warehouse: Path) -> list[tuple[str, str]]:
    """The (account, uid) of each row of the page's top-videos table, in its order."""
    accounts = {short(a): a for (a, _) in week_of_videos(warehouse)}
    return [(accounts[r[2]], r[3]) for r in table(rendered, "top-videos-table")]


def test_daily_figures_and_headline_equal_account_daily(
    warehouse: Path, rendered: Rendered
) -> None:
    daily = rows(warehouse, f"SELECT * FROM {MODELS}.account_daily ORDER BY date, account_id")
    assert len(table(rendered, "daily-figures")) == len(daily)
    columns = ("views", "time_viewed_minutes", "minutes_viewed")
    for cells, row in zip(table(rendered, "daily-figures"), daily, strict=True):
        assert cells[:2] == [str(row["date"]), short(row["account_id"])]
        for cell, column in zip(cells[2:], columns, strict=True):
            assert_shows(cell, row[column], f"{row['date']} {column}")
    # The headline: the last 7 days summed, and each account's storage as last read.
    last = max(row["date"] for row in daily)
    week = [row for row in daily if row["date"] > last - datetime.timedelta(days=7)]
    tiles = ("tile-views-7d", "tile-watched-7d", "tile-delivered-7d")
    for tile, column in zip(tiles, columns, strict=True):
        assert_shows(rendered.tiles[tile], sum(r[column] for r in week), tile)
    latest = {row["account_id"]: row for row in daily}  # each account's last day
    stored = sum(row["total_storage_minutes"] for row in latest.values())
    assert_shows(rendered.tiles["tile-stored"], stored, "minutes stored")


def test_top_videos_equal_video_daily(warehouse: Path, rendered: Rendered) -> None:
    videos = week_of_videos(warehouse)
    top = table(rendered, "top-videos-table")
    listed = listed_videos(rendered, warehouse)
    assert len(top) == 10 < len(videos)
    measures = ("views", "watched", "delivered", "completion", "buffer events per view")
    for rank, (cells, key) in enumerate(zip(top, listed, strict=True), start=1):
        video = videos[key]
        assert cells[:2] == [str(rank), video["name"] or "(no name)"]
        views, duration = video["views"], video["duration"]
        completion = video["watched"] * 60 / views / duration if views and duration else None
        per_view = video["buffers"] / views if views else None
        expected = [views, video["watched"], video["delivered"], completion, per_view]
        scales = [1, 1, 1, 100, 1]  # completion is a percentage
        for cell, value, scale, what in zip(cells[4:], expected, scales, measures, strict=True):
            assert_shows(cell, value, f"{cells[1]} {what}", scale)
    others = [v["views"] for k, v in videos.items() if k not in listed]
    assert min(videos[k]["views"] for k in listed) >= max(others), "a top video is missing"
    views = [videos[key]["views"] for key in listed]
    assert views == sorted(views, reverse=True)


def test_delivery_figures_equal_video_delivery_hourly(warehouse: Path, rendered: Rendered) -> None:
    videos = week_of_videos(warehouse)
    top5 = listed_videos(rendered, warehouse)[:5]
    last = scalar(warehouse, f"SELECT max(datetime_hour) FROM {MODELS}.video_delivery_hourly")
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    weighted = ("avg_startup_milliseconds", "avg_encoded_bitrate_kbps",
                "avg_measured_throughput_kbps")  # fmt: skip
    for row in rows(warehouse, f"SELECT * FROM {MODELS}.video_delivery_hourly"):
        key = (row["account_id"], row["video_id"])
        if key in top5 and row["datetime_hour"] > last - datetime.timedelta(hours=168):
            s = sums[key]
            s["hours"] += 1
            s["requests"] += row["requests"]
            s["ms"] += row["milliseconds_viewed"]
            s["stalled"] += row["buffer_starvation_milliseconds"]
            for measure in weighted:
                s[measure] += row[measure] * row["requests"]
    with_rows = [key for key in top5 if key in sums]  # in the top list's order
    assert len(with_rows) >= 3, "the top videos have CMCD rows in the stand-in"
    delivery = table(rendered, "delivery-table")
    assert len(delivery) == len(with_rows)
    for cells, key in zip(delivery, with_rows, strict=True):
        assert cells[:2] == [videos[key]["name"] or f"{key[1][:8]}…", short(key[0])]
        s = sums[key]
        means = [s[measure] / s["requests"] for measure in weighted]
        expected = [s["hours"], s["requests"], s["ms"] / 60000, s["stalled"] / s["ms"], *means]
        for cell, value, scale in zip(cells[2:], expected, [1, 1, 1, 100, 1, 1, 1], strict=True):
            assert_shows(cell, value, f"delivery of {cells[0]}", scale)


def test_live_input_figures_equal_live_input_hourly(warehouse: Path, rendered: Rendered) -> None:
    last = scalar(warehouse, f"SELECT max(datetime_hour) FROM {MODELS}.live_input_hourly")
    inputs: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows(warehouse, f"SELECT * FROM {MODELS}.live_input_hourly"):
        if row["datetime_hour"] > last - datetime.timedelta(hours=168):
            s = inputs[row["input_id"]]
            s["hours"] += 1
            s["segments"] += row["segments"]
            s["bps"] += row["bit_rate_bps"]
            s["ratio"] += row["avg_upload_duration_ratio"] * row["segments"]
            s["slow"] += row["avg_upload_duration_ratio"] > 1
    live = table(rendered, "live-inputs-table")
    assert len(inputs) >= 2
    assert sorted(r[2] for r in live) == sorted(inputs)
    for cells in live:
        s = inputs[cells[2]]
        expected = [s["hours"], s["segments"], s["bps"] / s["hours"] / 1e6,
                    s["ratio"] / s["segments"], s["slow"]]  # fmt: skip
        for cell, value in zip(cells[3:8], expected, strict=True):
            assert_shows(cell, value, f"live input {cells[0]}")


def test_storage_and_bill_equal_the_models(warehouse: Path, rendered: Rendered) -> None:
    daily = rows(warehouse, f"SELECT * FROM {MODELS}.account_daily ORDER BY date, account_id")
    readings = [row for row in daily if row["storage_read_on"] == row["date"]]
    assert readings, "the pipeline read storage_usage"
    for cells, row in zip(table(rendered, "storage-readings"), readings, strict=True):
        assert cells[:2] == [str(row["date"]), short(row["account_id"])]
        assert_shows(cells[2], row["total_storage_minutes"], "minutes stored")
        assert_shows(cells[3], row["total_storage_minutes_limit"], "minutes bought")
        assert_shows(cells[5], row["video_count"], "videos")

    bill = rows(warehouse, f"SELECT * FROM {MODELS}.billing_monthly ORDER BY month, account_id")
    assert len(table(rendered, "billing-table")) == len(bill)
    for cells, row in zip(table(rendered, "billing-table"), bill, strict=True):
        assert cells[0].startswith(f"{row['month']:%Y-%m}")
        assert ("in progress" in cells[0]) == row["in_progress"]
        assert cells[2] == f"{row['days_counted']} of {row['days_in_month']}"
        projected = row["projected_cost_usd"] if row["in_progress"] else None
        expected = (row["minutes_delivered"], row["delivery_cost_usd"], row["storage_cost_usd"],
                    row["cost_usd"], projected)  # fmt: skip
        for cell, value in zip(cells[3:], expected, strict=True):
            assert_shows(cell, value, f"bill {row['month']}")
    month = max(row["month"] for row in bill if row["in_progress"])
    this_month = [r["projected_cost_usd"] for r in bill if r["in_progress"] and r["month"] == month]
    assert_shows(rendered.tiles["tile-bill"], sum(this_month), "the bill this month")


def test_a_partly_loaded_warehouse_still_gives_a_page(warehouse: Path, tmp_path: Path) -> None:
    """Models missing, empty, or built by another version: the page says which, and why."""
    partial = tmp_path / "partial.duckdb"
    shutil.copy(warehouse, partial)
    with duckdb.connect(str(partial)) as con:
        con.execute(f"DROP TABLE {MODELS}.video_delivery_hourly")  # never built
        con.execute(f"DROP VIEW {MODELS}.stg_videos")
        con.execute(f"DELETE FROM {MODELS}.live_input_hourly")  # its stream not loaded
        con.execute(f"ALTER TABLE {MODELS}.billing_monthly DROP COLUMN projected_cost_usd")
    out = tmp_path / "report.html"
    result = make_report(partial, out)
    assert result.returncode == 0, result.stderr
    page = render(out)
    assert page.problems == [
        f"{MODELS}.video_delivery_hourly is missing: run dbt (meltano run dbt-duckdb:build)",
        f"{MODELS}.live_input_hourly is empty: is the live_input_events_hourly stream loaded?",
        f"{MODELS}.stg_videos is missing: run dbt (meltano run dbt-duckdb:build)",
    ]
    problems = {key: s["problems"] for key, s in page.sections.items()}
    assert problems["delivery"] == [page.problems[0]]
    assert problems["live-inputs"] == [page.problems[1]]
    assert problems["storage"] == [page.problems[2]]  # still drawn, from the readings
    assert len(problems["billing"]) == 1
    assert problems["billing"][0].startswith("could not read the models: Binder Error")
    assert "projected_cost_usd" in problems["billing"][0]
    # What could be drawn was, and nothing failed.
    assert page.state == "drawn"
    assert sorted(page.charts) == ["chart-daily", "chart-storage", "chart-top-videos"]
    assert all(chart["state"] == "drawn" for chart in page.charts.values())
    assert page.console == []
    models = {row[0]: row[1:] for row in page.tables["models-table"]["rows"]}
    assert models[f"{MODELS}.video_delivery_hourly"] == ["missing", EN_DASH]
    assert models[f"{MODELS}.live_input_hourly"] == ["empty", "0"]


def test_an_empty_warehouse_gives_a_page_that_names_every_model(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    out = tmp_path / "report.html"
    result = make_report(empty, out)
    assert result.returncode == 0, result.stderr
    page = render(out)
    missing = [p.split(" is ")[0] for p in page.problems]
    assert missing == [f"{MODELS}.{m}" for m in (
        "account_daily", "video_daily", "video_delivery_hourly", "live_input_hourly",
        "billing_monthly", "stg_videos")]  # fmt: skip
    assert page.charts == {}
    assert page.scripts == 0, "no chart, so no JavaScript"
    assert page.tiles == {}
    assert page.console == []
    assert out.stat().st_size < 20_000


def test_a_file_that_is_no_warehouse_gives_one_line(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    for path, says in ((tmp_path / "nowhere.duckdb", "no such DuckDB file"),
                       (text, "cannot open it read-only: IO Error")):  # fmt: skip
        result = make_report(path, out)
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: {path}: {says}")
        assert not out.exists(), "no page for a file that is not there"

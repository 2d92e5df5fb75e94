"""The demo environment under real Meltano: any selection of streams, and log levels kept.

Meltano reads the tap's log lines as singer-sdk's structured JSON (`structured-logging` in the
tap's capabilities), so a tap WARNING shows as `[warning  ]` and its one ERROR line as
`[error    ]` in Meltano's log, where users filter and alert on levels. The demo's stream maps
name every stream; a run that deselects some of them still works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from cloudflare_standin import StandinConfig, StandinServer

from tests.fixtures_meltano import ROOT, MeltanoProject, require_plugins
from tests.standin import HOURLY_STREAMS, STREAMS, days_ago, utc_today

SCHEMA = "cloudflare_stream"
CATALOG_STREAMS = ("videos", "live_inputs", "storage_usage", "catalog_listings")
ANALYTICS_STREAMS = (*STREAMS, *HOURLY_STREAMS)
# A Meltano console line: time, [level], the plugin's name, the message.
MELTANO_LINE = re.compile(r"^\S+ \[(?P<level>[a-z]+)\s*\] (?P<name>\S+)\s+(?P<message>.*)$")


def environments_with_stream_maps() -> list[str]:
    """The shipped environments whose tap config has stream maps."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return [
        env["name"]
        for env in project["environments"]
        for tap in env.get("config", {}).get("plugins", {}).get("extractors", [])
        if tap["name"] == "tap-cloudflare-stream" and tap.get("config", {}).get("stream_maps")
    ]


def demo_value(name: str) -> Any:
    """A setting of the tap in the demo environment."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    demo = next(e for e in project["environments"] if e["name"] == "demo")
    extractors = demo["config"]["plugins"]["extractors"]
    tap = next(p for p in extractors if p["name"] == "tap-cloudflare-stream")
    return tap["config"][name]


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    """A small stand-in with the demo's accounts and token, on the tests' clock."""
    config = StandinConfig(
        accounts=demo_value("account_ids"),
        tokens={demo_value("api_token"): None},
        rows_per_day=10,
        videos=4,
        rate_limit_queries=None,
        today=utc_today(),
    )
    with StandinServer(config) as server:
        yield server


def tap_lines(log: str) -> list[tuple[str, str]]:
    """(level, message) of every line Meltano logged for the tap."""
    return [
        (match["level"], match["message"])
        for line in log.splitlines()
        if (match := MELTANO_LINE.match(line)) and match["name"] == "tap-cloudflare-stream"
    ]


def run_demo(
    meltano_project: MeltanoProject,
    standin: StandinServer,
    tmp_path: Path,
    *,
    select_filter: list[str] | None = None,
    environment: str = "demo",
    **env: str,
) -> tuple[int, str, Path]:
    """`meltano --environment=ENV run tap-cloudflare-stream target-duckdb` against the stand-in."""
    warehouse = tmp_path / "warehouse.duckdb"
    variables = {
        "TAP_CLOUDFLARE_STREAM_API_URL": standin.url,
        "TAP_CLOUDFLARE_STREAM_START_DATE": days_ago(1).isoformat(),
        "TAP_CLOUDFLARE_STREAM_END_DATE": utc_today().isoformat(),
        "TARGET_DUCKDB_PATH": str(warehouse),
        **env,
    }
    if select_filter is not None:
        variables["TAP_CLOUDFLARE_STREAM__SELECT_FILTER"] = json.dumps(select_filter)
    done = meltano_project.run(
        f"--environment={environment}",
        "run",
        "--no-install",
        "tap-cloudflare-stream",
        "target-duckdb",
        env=variables,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, warehouse


def tables(warehouse: Path) -> set[str]:
    """The tables the run loaded into the tap's schema."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [SCHEMA]
        ).fetchall()
    return {name for (name,) in rows}


@pytest.mark.parametrize("environment", environments_with_stream_maps())
@pytest.mark.parametrize(
    "selection",
    [(CATALOG_STREAMS, ANALYTICS_STREAMS), (ANALYTICS_STREAMS, CATALOG_STREAMS)],
    ids=["without-catalog", "catalog-only"],
)
def test_stream_maps_work_with_any_selection_and_warnings_stay_warnings(
    meltano_project: MeltanoProject,
    standin: StandinServer,
    tmp_path: Path,
    environment: str,
    selection: tuple[tuple[str, ...], tuple[str, ...]],
) -> None:
    require_plugins("target-duckdb")
    deselected, loaded = selection
    status, log, warehouse = run_demo(
        meltano_project,
        standin,
        tmp_path,
        environment=environment,
        select_filter=[f"!{name}" for name in deselected],
    )
    assert status == 0, "\n".join(log.splitlines()[-30:])
    assert tables(warehouse) == set(loaded)
    levels = {level for level, _ in tap_lines(log)}
    assert "error" not in levels
    if "cmcd_hourly" in loaded:  # the demo's page_size is above the hourly datasets' maximum
        warned = [m for level, m in tap_lines(log) if "is above this dataset's maxPageSize" in m]
        assert warned
        assert all(
            level == "warning"
            for level, m in tap_lines(log)
            if "is above this dataset's maxPageSize" in m
        ), tap_lines(log)


def test_the_taps_error_line_is_an_error_in_meltanos_log(
    meltano_project: MeltanoProject, standin: StandinServer, tmp_path: Path
) -> None:
    require_plugins("target-duckdb")
    status, log, _ = run_demo(
        meltano_project, standin, tmp_path, TAP_CLOUDFLARE_STREAM_API_TOKEN="not-the-demo-token"
    )
    assert status != 0
    errors = [m for level, m in tap_lines(log) if level == "error"]
    assert len(errors) == 1, tap_lines(log)
    assert "Cloudflare refused" in errors[0]
    assert "Account Analytics: Read" in errors[0]
    assert not [m for _, m in tap_lines(log) if "Traceback" in m]

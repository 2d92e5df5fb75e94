"""The command line as a user runs it: --about, --discover (no API calls), catalog.json, --test,
and broken input files (one ERROR line, exit 1, like any other failure)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tap_cloudflare_stream.analytics.datasets import DATASETS
from tests.conftest import StartStandin
from tests.reliability_support import (
    SECRET_TOKEN,
    STANDIN_CREDENTIALS,
    WRONG_TOKEN,
    RecordingProxy,
    assert_no_secrets,
    assert_one_error_line,
    run_cli,
)
from tests.standin import ACCOUNT_A, CONTRACT, HOURLY_CONTRACT, catalog_for, days_ago, tap_config

ROOT = Path(__file__).resolve().parent.parent
TAP = [sys.executable, "-m", "tap_cloudflare_stream.tap"]
UNUSED_URL = "http://127.0.0.1:9/client/v4/graphql"


def _run(*args: str, config: Mapping[str, object] | None = None, tmp_path: Path) -> str:
    command = [*TAP, *args]
    if config is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        command += ["--config", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return done.stdout


def test_discover_prints_the_committed_catalog_without_calling_the_api(tmp_path: Path) -> None:
    # An unreachable endpoint: discovery must not need it (schemas are static).
    config = {
        "account_ids": ["0123456789abcdef0123456789abcdef"],
        "api_token": "unused",
        "api_url": "http://127.0.0.1:9/client/v4/graphql",
    }
    catalog = json.loads(_run("--discover", config=config, tmp_path=tmp_path))
    committed = json.loads((ROOT / "catalog.json").read_text())
    assert catalog == committed, (
        "catalog.json is stale: tap-cloudflare-stream --discover > catalog.json"
    )
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    catalog = {"videos", "live_inputs", "storage_usage", "catalog_listings"}
    assert set(streams) == {*CONTRACT, *HOURLY_CONTRACT, *catalog}
    for name, (time, json_format) in {
        **dict.fromkeys(CONTRACT, ("date", "date")),
        **dict.fromkeys(HOURLY_CONTRACT, ("datetime_hour", "date-time")),
    }.items():
        stream = streams[name]
        _, dimensions, metrics = {**CONTRACT, **HOURLY_CONTRACT}[name]
        assert stream["key_properties"] == ["account_id", time, *(c for c, _ in dimensions)]
        assert stream["replication_key"] == time
        assert stream["schema"]["properties"][time]["format"] == json_format
        columns = {"account_id", time, *(c for c, _ in dimensions), *(c for c, _ in metrics)}
        assert set(stream["schema"]["properties"]) == columns
    for name in ("videos", "live_inputs"):  # full tables whose deletions reach the warehouse
        assert streams[name]["key_properties"] == ["account_id", "uid"]
        assert streams[name].get("replication_key") is None
        assert streams[name]["schema"]["properties"]["created"]["format"] == "date-time"
        assert streams[name]["schema"]["properties"]["meta"]["type"] == ["object", "null"]
        assert streams[name]["schema"]["properties"]["listing_id"]["type"] == ["string"]
    listings = streams["catalog_listings"]
    assert listings["key_properties"] == ["stream", "account_id", "listing_id"]
    assert listings.get("replication_key") is None
    usage = streams["storage_usage"]
    assert usage["key_properties"] == ["account_id", "date"]
    assert usage["replication_key"] == "date"
    assert usage["schema"]["properties"]["date"]["format"] == "date"


def test_about_lists_every_setting_and_marks_secrets(tmp_path: Path) -> None:
    about = json.loads(_run("--about", "--format=json", tmp_path=tmp_path))
    properties = about["settings"]["properties"]
    for name in (
        "account_ids",
        "api_token",
        "api_email",
        "api_key",
        "start_date",
        "end_date",
        "lookback_days",
        "api_url",
        "page_size",
        "requests_per_5_minutes",
    ):
        assert name in properties, name
    for secret in ("api_token", "api_email", "api_key"):
        assert properties[secret].get("secret") is True
    assert about["settings"]["required"] == ["account_ids"]
    assert "state" in about["capabilities"]


def test_readme_settings_table_matches_about(tmp_path: Path) -> None:
    about = _run("--about", "--format=markdown", tmp_path=tmp_path)
    # About's settings table: from its header row to the first line that is not a table row.
    about_lines = about[about.index("| Setting | Required |") :].splitlines()
    about_table = [line for line in itertools.takewhile(lambda x: x.startswith("|"), about_lines)]
    readme = (ROOT / "README.md").read_text()
    readme_lines = readme[readme.index("| Setting | Required |") :].splitlines()
    readme_table = [line for line in itertools.takewhile(lambda x: x.startswith("|"), readme_lines)]
    assert len(about_table) > 10
    missing = [row for row in about_table if row not in readme_table]
    extra = [row for row in readme_table if row not in about_table]
    fix = (
        "README.md's settings table differs from `tap-cloudflare-stream --about "
        "--format=markdown`: replace the table under '## Settings' with about's.\n"
    )
    assert not missing, fix + "".join(f"add to README: {row}\n" for row in missing)
    assert not extra, fix + "".join(f"remove from README: {row}\n" for row in extra)
    assert readme_table == about_table, "same rows, different order: copy about's order"


def test_connection_test_passes_and_fails_like_a_run(
    start_standin: StartStandin, tmp_path: Path
) -> None:
    server = start_standin(**STANDIN_CREDENTIALS, accounts=[ACCOUNT_A])
    config = tap_config(
        server.url, account_ids=[ACCOUNT_A], api_token=SECRET_TOKEN, start_date="2026-01-01"
    )
    config["start_date"] = days_ago(1).isoformat()

    passed = run_cli(tmp_path, config, args=["--test"], log_level="DEBUG")
    assert passed.returncode == 0, passed.stderr
    assert '"type":"RECORD"' in passed.stdout.replace(" ", "")

    refused = run_cli(
        tmp_path, {**config, "api_token": WRONG_TOKEN}, args=["--test"], log_level="DEBUG"
    )
    assert refused.returncode == 1
    line = assert_one_error_line(refused.stderr)
    assert "Account Analytics: Read" in line
    assert_no_secrets(passed.stdout, passed.stderr, refused.stdout, refused.stderr)


@pytest.mark.parametrize(
    ("stream", "permission", "other"),
    [
        ("minutes_viewed", "Account Analytics: Read", "Stream: Read"),
        ("videos", "Stream: Read", "Account Analytics: Read"),
    ],
)
def test_a_refused_token_names_the_permission_of_its_api_family(
    start_standin: StartStandin, tmp_path: Path, stream: str, permission: str, other: str
) -> None:
    server = start_standin(**STANDIN_CREDENTIALS, accounts=[ACCOUNT_A])
    config = tap_config(server.url, account_ids=[ACCOUNT_A], api_token=WRONG_TOKEN)
    config["start_date"] = days_ago(1).isoformat()
    refused = run_cli(tmp_path, config, catalog=catalog_for(config, [stream]))
    assert refused.returncode == 1
    line = assert_one_error_line(refused.stderr)
    assert "HTTP 401" in line or "Unauthorized" in line or "Authentication error" in line, line
    assert f"account {ACCOUNT_A}" in line
    assert permission in line
    assert other not in line


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        ("state", "JSONDecodeError"),
        ("catalog", "TypeError"),
        ("config", "FileNotFoundError"),
    ],
)
def test_a_broken_input_file_is_one_error_line(broken: str, says: str, tmp_path: Path) -> None:
    config = {"account_ids": [ACCOUNT_A], "api_token": SECRET_TOKEN, "api_url": UNUSED_URL}
    files = {"state": "{not json", "catalog": '{"streams": 5}'}
    args: list[str] = []
    if broken in files:
        path = tmp_path / f"{broken}.json"
        path.write_text(files[broken])
        args = [f"--{broken}", str(path)]
    else:
        args = ["--config", str(tmp_path / "missing.json")]

    with RecordingProxy() as proxy:
        done = run_cli(tmp_path, config, args=args, log_level="DEBUG", proxy=proxy.url)

    assert done.returncode == 1
    assert done.stdout == ""
    line = assert_one_error_line(done.stderr)
    assert says in line
    assert proxy.requests == []
    assert_no_secrets(done.stderr)


def test_discovered_metric_columns_say_counts_and_sums_are_already_extrapolated(
    tmp_path: Path,
) -> None:
    # Cloudflare extrapolates count and sum from its sample; multiplying by sample_interval
    # again double-counts. The catalog is what users and loaders read about the columns.
    config = {"account_ids": [ACCOUNT_A], "api_token": "unused", "api_url": UNUSED_URL}
    catalog = json.loads(_run("--discover", config=config, tmp_path=tmp_path))
    checked = 0
    for entry in catalog["streams"]:
        for name, column in entry["schema"]["properties"].items():
            text = column.get("description", "")
            if name == "sample_interval":
                assert "do not multiply" in text, (entry["tap_stream_id"], text)
                checked += 1
            elif text.startswith(("count:", "sum.")):
                assert "already extrapolated" in text, (entry["tap_stream_id"], name, text)
                assert "do not multiply by sample_interval" in text, text
                checked += 1
    assert checked >= 2 * len(DATASETS)


def test_discovered_cmcd_columns_give_their_units(tmp_path: Path) -> None:
    # CMCD sends bitrate and throughput in kbps (Cloudflare's uint16 fields), durations in ms;
    # a user reading bits/s would be 1,000 times off.
    config = {"account_ids": [ACCOUNT_A], "api_token": "unused", "api_url": UNUSED_URL}
    catalog = json.loads(_run("--discover", config=config, tmp_path=tmp_path))
    cmcd = next(s for s in catalog["streams"] if s["tap_stream_id"] == "cmcd_hourly")
    described = {name: c["description"] for name, c in cmcd["schema"]["properties"].items()}
    for column in ("avg_encoded_bitrate", "avg_measured_throughput"):
        assert "in kbps" in described[column], described[column]
    for column in ("avg_buffer_starvation_duration", "buffer_starvation_duration_p90",
                   "initial_buffer_starvation_duration_p50"):  # fmt: skip
        assert "in milliseconds" in described[column], described[column]
    assert "percentile" in described["buffer_starvation_duration_p90"]

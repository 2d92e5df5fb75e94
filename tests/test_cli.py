"""The command line as a user runs it: --about, --discover (no API calls) and catalog.json."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.standin import CONTRACT, HOURLY_CONTRACT

ROOT = Path(__file__).resolve().parent.parent
TAP = [sys.executable, "-m", "tap_cloudflare_stream.tap"]


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
    assert set(streams) == {*CONTRACT, *HOURLY_CONTRACT}
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
    about = _run("--about", "--format=markdown", tmp_path=tmp_path).splitlines()
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| Setting | Required |") :].split("\n\n", 1)[0].splitlines()
    rows = [line for line in table[2:] if line.startswith("| ")]
    about_rows = [line for line in about if line.startswith("| ") and "| Setting |" not in line]
    assert rows == about_rows, "README's settings table differs from --about: paste it again"

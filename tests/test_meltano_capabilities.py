"""The advertised `batch` and `schema-flattening` capabilities, set the Meltano way.

`--about` advertises both; meltano.yml declares their settings. Here real Meltano invokes the
tap against the stand-in with them set as a user would (TAP_CLOUDFLARE_STREAM_* variables), and
the rows that come out, in batch files or RECORD lines, are exactly the stand-in's.
"""

from __future__ import annotations

import gzip
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudflare_standin import StandinConfig, StandinServer

from tests.fixtures_meltano import MeltanoProject
from tests.standin import (
    ACCOUNT_A,
    ACCOUNT_B,
    STREAMS,
    by_key,
    days_ago,
    expected_records,
    utc_today,
)

FIRST_DAYS_AGO = 3


@pytest.fixture
def server() -> Iterator[StandinServer]:
    """A stand-in that accepts the `test` environment's token."""
    standin = StandinServer(
        StandinConfig(
            accounts=[ACCOUNT_A, ACCOUNT_B],
            tokens={"test-token": None},
            rows_per_day=30,
            videos=8,
            rate_limit_queries=None,
        )
    )
    standin.start()
    yield standin
    standin.stop()


def invoke(project: MeltanoProject, server: StandinServer, **settings: str) -> list[dict[str, Any]]:
    """`meltano --environment=test invoke tap-cloudflare-stream` with settings from variables."""
    env = {
        "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
        "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps([ACCOUNT_A, ACCOUNT_B]),
        "TAP_CLOUDFLARE_STREAM_START_DATE": days_ago(FIRST_DAYS_AGO).isoformat(),
        **{f"TAP_CLOUDFLARE_STREAM_{name.upper()}": value for name, value in settings.items()},
    }
    dumped = project.run(
        "--environment=test", "invoke", "--dump=config", "tap-cloudflare-stream", env=env
    ).stdout
    config, _ = json.JSONDecoder().raw_decode(dumped[dumped.index("{") :])
    for name, value in settings.items():  # Meltano passes each one on to the tap
        assert config.get(name) == json.loads(value), name
    result = project.run("--environment=test", "invoke", "tap-cloudflare-stream", env=env)
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def want(server: StandinServer, stream: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The stand-in's rows of a stream, by primary key."""
    accounts = (ACCOUNT_A, ACCOUNT_B)
    rows = expected_records(server.config, stream, accounts, days_ago(FIRST_DAYS_AGO), utc_today())
    return by_key(stream, rows)


def test_batch_mode_under_meltano_writes_every_row_to_the_named_files(
    meltano_project: MeltanoProject, server: StandinServer, tmp_path: Path
) -> None:
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": tmp_path.as_uri(), "prefix": "batch-"},
        "batch_size": 100,
    }
    messages = invoke(meltano_project, server, batch_config=json.dumps(batch_config))

    assert not [m for m in messages if m["type"] == "RECORD"]
    rows: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        if message["type"] == "BATCH":
            for url in message["manifest"]:
                data = gzip.decompress(Path(urllib.parse.urlparse(url).path).read_bytes())
                rows.setdefault(message["stream"], []).extend(
                    json.loads(line) for line in data.splitlines()
                )
    for stream in STREAMS:
        assert by_key(stream, rows.get(stream, [])) == want(server, stream), stream
    # Every STATE follows a BATCH message (or ends a stream): none covers rows not yet named.
    kinds = [m["type"] for m in messages if m["type"] in ("BATCH", "STATE")]
    assert kinds[0] == "BATCH"


def test_schema_flattening_under_meltano_keeps_every_row(
    meltano_project: MeltanoProject, server: StandinServer
) -> None:
    messages = invoke(meltano_project, server, flattening_enabled="true", flattening_max_depth="3")

    schemas = {m["stream"]: m["schema"] for m in messages if m["type"] == "SCHEMA"}
    for stream in STREAMS:
        properties = schemas[stream]["properties"]
        assert all(spec.get("type") != "object" for spec in properties.values()), stream
        records = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]
        assert by_key(stream, records) == want(server, stream), stream

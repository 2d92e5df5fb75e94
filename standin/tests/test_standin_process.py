"""Data over time, the request log, the CLI, determinism across processes, packaging."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import requests

from cloudflare_standin import StandinServer, exact_rows
from cloudflare_standin.testing import (
    ACCOUNT,
    AUTH,
    FINEST,
    TODAY,
    FakeClock,
    base_config,
    dataset_query,
    post,
    rows_of,
    variables,
)

PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
STANDIN_DIR = Path(__file__).resolve().parents[1]
DAY = datetime.timedelta(days=1)


def by_day(
    config: object, start: datetime.date, end: datetime.date
) -> dict[str, list[dict[str, object]]]:
    rows = exact_rows(config, ACCOUNT, PLAYBACK, FINEST[PLAYBACK], start, end)  # type: ignore[arg-type]
    out: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        out.setdefault(row["dimensions"]["date"], []).append(row)
    return out


def test_revision_changes_only_recent_days() -> None:
    config = base_config(revised_days=3)
    before = by_day(config, TODAY - 6 * DAY, TODAY)
    config.revision = 1
    after = by_day(config, TODAY - 6 * DAY, TODAY)
    for offset in range(7):
        date = (TODAY - offset * DAY).isoformat()
        same_groups = [r["dimensions"] for r in before[date]] == [
            r["dimensions"] for r in after[date]
        ]
        assert same_groups
        if offset < 3:
            assert before[date] != after[date], date
        else:
            assert before[date] == after[date], date
    config.revision = 2
    assert by_day(config, TODAY, TODAY)[TODAY.isoformat()] != after[TODAY.isoformat()]


def test_today_moving_forward_adds_a_day_without_changing_old_ones() -> None:
    config = base_config()
    before = by_day(config, TODAY - 5 * DAY, TODAY + DAY)
    assert (TODAY + DAY).isoformat() not in before
    config.today = TODAY + DAY
    after = by_day(config, TODAY - 5 * DAY, TODAY + DAY)
    assert (TODAY + DAY).isoformat() in after
    for date, rows in before.items():
        assert after[date] == rows
    config.history_days = 10  # history length never changes a day's data
    assert by_day(config, TODAY - 5 * DAY, TODAY) == {
        d: r for d, r in after.items() if d <= TODAY.isoformat()
    }


def test_server_picks_up_config_changes(server: StandinServer) -> None:
    flt = {"date": TODAY.isoformat()}
    first = rows_of(post(server.url, dataset_query(PLAYBACK), variables(flt)), PLAYBACK)
    server.config.revision += 1
    second = rows_of(post(server.url, dataset_query(PLAYBACK), variables(flt)), PLAYBACK)
    assert [r["dimensions"] for r in first] == [r["dimensions"] for r in second]
    assert first != second
    server.config.seed += 1
    third = rows_of(post(server.url, dataset_query(PLAYBACK), variables(flt)), PLAYBACK)
    assert [r["dimensions"] for r in third] != [r["dimensions"] for r in second]


def test_request_log(make_server: Callable[..., StandinServer]) -> None:
    clock = FakeClock()
    server = make_server(clock=clock)
    values = variables({"date": TODAY.isoformat()}, 7, ["uid_ASC"])
    assert len(rows_of(post(server.url, dataset_query(PLAYBACK), values), PLAYBACK)) == 7
    clock.advance(2.5)
    post(server.url, dataset_query(PLAYBACK), variables({"date": TODAY.isoformat()}, 0))
    post(server.url, "query { viewer { budget } }")
    first, second, third = server.request_log
    assert (first.number, first.time, first.dataset, first.kind) == (1, 1000.0, PLAYBACK, "data")
    assert (first.limit, first.status, first.rows, first.fault, first.error) == (
        7,
        200,
        7,
        None,
        None,
    )
    assert first.variables == values
    assert first.credential == "token#1"
    assert (second.number, second.time, second.status, second.rows) == (2, 1002.5, 400, 0)
    assert second.error is not None
    assert second.error.startswith("limit must be positive")
    assert (third.kind, third.dataset, third.limit) == ("other", None, None)
    server.clear_log()
    assert server.request_log == []
    post(server.url, "query { viewer { budget } }")
    assert server.request_log[0].number == 4  # numbering goes on after clear_log
    server.reset()
    post(server.url, "query { viewer { budget } }")
    assert [e.number for e in server.request_log] == [1]


def test_keep_alive_session_reuses_one_connection(server: StandinServer) -> None:
    session = requests.Session()
    for _ in range(5):
        body = {
            "query": dataset_query(PLAYBACK),
            "variables": variables({"date": TODAY.isoformat()}, 3),
        }
        response = session.post(server.url, json=body, headers=AUTH, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(len(response.content))
    assert server.connections_accepted == 1


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STANDIN_DIR), env.get("PYTHONPATH")]))
    return env


DIGEST_SCRIPT = """
import datetime, hashlib, json
from cloudflare_standin import exact_rows
from cloudflare_standin.testing import ACCOUNT, FINEST, TODAY, base_config
rows = []
for dataset, dims in FINEST.items():
    start = TODAY - datetime.timedelta(days=2)
    rows += exact_rows(base_config(), ACCOUNT, dataset, dims + ["datetime"], start, TODAY)
print(hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest())
"""


def test_determinism_across_processes() -> None:
    outputs = set()
    for hash_seed in ("1", "2"):
        env = subprocess_env() | {"PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], env=env, capture_output=True,
                              text=True, timeout=60, check=True)  # fmt: skip
        outputs.add(done.stdout.strip())
    rows = []
    for dataset, dims in FINEST.items():
        rows += exact_rows(
            base_config(), ACCOUNT, dataset, [*dims, "datetime"], TODAY - 2 * DAY, TODAY
        )
    here = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    assert outputs == {here}


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    secret = "cli-secret-token-1234"
    api_key = "cli-secret-key-5678"
    log_file = tmp_path / "requests.jsonl"
    command = [
        sys.executable, "-m", "cloudflare_standin", "--port", "0", "--accounts", ACCOUNT,
        "--token", secret, "--api-email", "me@example.com", "--api-key", api_key,
        "--today", TODAY.isoformat(), "--rows-per-day", "40", "--videos", "5",
        "--no-rate-limit", "--log-file", str(log_file),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=subprocess_env())  # fmt: skip
    try:
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=30)
        url = first_line[0].strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/client/v4/graphql")
        headers = {"Authorization": f"Bearer {secret}"}
        response = post(
            url, dataset_query(PLAYBACK), variables({"date": TODAY.isoformat()}), headers=headers
        )
        assert response.status_code == 200
        assert rows_of(response, PLAYBACK)
        key_headers = {"X-Auth-Email": "me@example.com", "X-Auth-Key": api_key}
        assert post(url, "query { viewer { budget } }", headers=key_headers).status_code == 200
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert stdout == ""  # nothing after the URL line
    logged = log_file.read_text()
    entries = [json.loads(line) for line in logged.splitlines()]
    assert [e["credential"] for e in entries] == ["token#1", "key#1"]
    for text in (first_line[0], stdout, stderr, logged):
        assert secret not in text
        assert api_key not in text


def test_wheel_ships_the_schema(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(STANDIN_DIR / name, source / name)
    shutil.copytree(STANDIN_DIR / "cloudflare_standin", source / "cloudflare_standin",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("cloudflare_standin-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cloudflare_standin/schema.graphql" in names
    assert "cloudflare_standin/py.typed" in names

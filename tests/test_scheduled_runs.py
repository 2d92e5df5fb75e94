"""The scheduled pipeline, played for two days the way CI runs it, with state kept in S3.

The example workflow (examples/github-actions/cloudflare-stream-daily.yml) is read here, never
copied: its matrix gives the groups, its job `env` the environment, its steps the commands.
Each day, every group's job runs on a fresh "runner": a new copy of the project's files (what
actions/checkout gives: no .meltano, no system database, no plugin), where the job's `run:`
steps run as written, in bash, in order (`if: always()` steps after a failure too):
`meltano install ...`, `meltano --environment=prod run --state-id-suffix "$GROUP" ...`,
`meltano ... state get ...`. Day 2's jobs run at the same time, as a matrix does; day 1's
one at a time (an empty warehouse: concurrent first runs race to create the same tables).
Nothing passes from one runner to the next but the S3 bucket and the warehouse.

What the test supplies, and why (everything else is the workflow's):
- the secrets (`${{ secrets.* }}`): the stand-in's token and the state bucket's URI and keys;
- `pip install "meltano[s3]==X"`: the project's .venv-meltano, the same Meltano, put on PATH;
- LOADER=target-postgres and TARGET_POSTGRES_*: the warehouse is the project's throwaway
  PostgreSQL (the workflow's loader, target-snowflake, needs Snowflake);
- MELTANO_STATE_BACKEND_S3_ENDPOINT_URL: S3 is moto's server on loopback, a real S3 API;
- TAP_CLOUDFLARE_STREAM_API_URL and _START_DATE: Cloudflare is the stand-in, with 10 days
  of history instead of 90 to keep the runs small;
- TARGET_POSTGRES_BATCH_SIZE_ROWS: small batches, so the target confirms state mid-run.

Every group also lists its own accounts' video catalog (videos, live_inputs, storage_usage,
catalog_listings), with ACTIVATE_VERSION off as the workflow sets it: on day 2 a video has been
deleted from the library; the warehouse ends with no row marked deleted by the target, the
deleted video's row older than its account's latest complete listing, and every current video
of every account carrying that listing (what the dbt models read as current, docs/deletions.md).

Day 1: every group loads from start_date; one group's runner dies (SIGKILL of the whole job)
while its run waits on Cloudflare, after some state reached S3. Day 2 (Cloudflare revised
recent days, a new day arrived): each group reads only bookmark - lookback_days, the killed
group reads what it had not confirmed, and the warehouse ends with every row exactly once.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
import yaml
from cloudflare_standin import (
    Fault,
    HourlySettings,
    StandinConfig,
    StandinServer,
    expected_videos,
)
from moto.server import ThreadedMotoServer

from tests.e2e_support import expected_rows
from tests.fixtures_meltano import MELTANO, ROOT, require_plugins
from tests.fixtures_pg import PostgresServer
from tests.standin import CONTRACT, HOURLY_STREAMS, NOW, STREAMS, UTC, utc_today
from tests.test_e2e_postgres import table_rows

WORKFLOW = ROOT / "examples" / "github-actions" / "cloudflare-stream-daily.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
LOADER = "target-postgres"
TOKEN = "scheduled-run-token"
BUCKET = "meltano-state"
HISTORY_DAYS = 10
# The tap syncs the streams in catalog order: the killed runner dies once the first stream's
# rows reach the warehouse, while the last stream's first query hangs.
CATALOG = json.loads((ROOT / "catalog.json").read_text())
# The daily streams (the hourly ones sort first and are checked in tests/test_hourly.py).
SYNC_ORDER = [s["tap_stream_id"] for s in CATALOG["streams"] if s["tap_stream_id"] in CONTRACT]
FIRST_STREAM, KILLED_STREAM = SYNC_ORDER[0], SYNC_ORDER[-1]
# Variables of the test's own shell that must not leak into a runner.
SCRUBBED = re.compile(r"^(TAP_CLOUDFLARE_STREAM_|TARGET_|MELTANO_|AWS_)")


# --- the workflow, as written ----------------------------------------------------------------


@cache
def job() -> dict[str, Any]:
    """The workflow's single job."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert len(jobs) == 1, list(jobs)
    return dict(next(iter(jobs.values())))


def groups() -> list[dict[str, str]]:
    """The matrix: one entry per group of accounts."""
    return [dict(entry) for entry in job()["strategy"]["matrix"]["include"]]


def accounts_of(group: dict[str, str]) -> list[str]:
    """A matrix entry's accounts."""
    return list(json.loads(group["account_ids"]))


def fill(value: object, matrix: dict[str, str], secrets: dict[str, str]) -> str:
    """A workflow value with its `${{ matrix.* }}` and `${{ secrets.* }}` filled in."""

    def one(match: re.Match[str]) -> str:
        context, _, name = match.group(1).partition(".")
        if context == "matrix":
            return matrix[name]
        if context == "secrets":
            return secrets.get(name, "")  # GitHub gives "" for a secret that is not set
        raise AssertionError(f"this test cannot fill ${{{{ {match.group(1)} }}}} in the workflow")

    return EXPRESSION.sub(one, str(value))


def prod_lookback_days() -> int:
    """lookback_days of meltano.yml's prod environment, the one the workflow runs."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    prod = next(e for e in project["environments"] if e["name"] == "prod")
    tap = next(
        p for p in prod["config"]["plugins"]["extractors"] if p["name"] == "tap-cloudflare-stream"
    )
    return int(tap["config"]["lookback_days"])


def cloudflare_base(accounts: list[str], today: datetime.date) -> StandinConfig:
    """The stand-in's library settings of the test (seed and videos), before any deletion."""
    return StandinConfig(accounts=accounts, seed=31, today=today, videos=6)


def dataset_of(stream: str) -> str:
    """The GraphQL node a stream reads (tests/standin.py's contract)."""
    return CONTRACT[stream][0]


def state_id(group: str) -> str:
    """The state ID README promises a group: prod:tap-cloudflare-stream-to-<loader>:<group>."""
    return f"prod:tap-cloudflare-stream-to-{LOADER}:{group}"


# --- a fresh runner --------------------------------------------------------------------------


@dataclass
class StepRun:
    """One step of a job as it ran."""

    name: str
    script: str
    returncode: int
    output: str
    seconds: float


@dataclass
class Runner:
    """A fresh CI runner for one job: a copy of the project's files, and the job's env."""

    root: Path
    env: dict[str, str]
    steps: list[StepRun] = field(default_factory=list)

    @classmethod
    def checkout(cls, folder: Path, env: dict[str, str]) -> Runner:
        """Copy the files a clone would have (tracked, plus new files git does not ignore)."""
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        for name in filter(None, listed.split("\0")):
            source = ROOT / name
            if source.is_file():
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
        return cls(root=folder, env=env)

    def run_job(self, kill: Callable[[], bool] | None = None) -> None:
        """Run the job's steps as GitHub does; with `kill`, SIGKILL the job once it is true."""
        failed = False
        for step in job()["steps"]:
            name = str(step.get("name") or step.get("uses") or step.get("run"))
            if "uses" in step:
                # actions/checkout made self.root; actions/setup-python is this machine's Python.
                continue
            script = str(step["run"])
            if script.startswith("pip install"):
                assert script == f'pip install "meltano[s3]=={meltano_version()}"', script
                continue  # the project's .venv-meltano is that Meltano, already on PATH
            condition = step.get("if")
            assert condition in (None, "always()"), f"this test cannot evaluate if: {condition}"
            if failed and condition is None:
                continue
            killing = kill is not None and "--state-id-suffix" in script
            ran = self._bash(name, script, kill if killing else None)
            self.steps.append(ran)
            if ran.returncode == -signal.SIGKILL:
                return  # the runner is gone: nothing else runs
            failed = failed or ran.returncode != 0

    def _bash(self, name: str, script: str, kill: Callable[[], bool] | None) -> StepRun:
        """`bash --noprofile --norc -eo pipefail -c SCRIPT`, GitHub's shell for `run:`."""
        log = self.root / f".step-{len(self.steps)}.log"
        began = time.monotonic()
        with log.open("wb") as sink:
            process = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=self.root,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a kill takes the whole job
            )
            deadline = time.monotonic() + 300
            while process.poll() is None and time.monotonic() < deadline:
                if kill is not None and kill():
                    break
                time.sleep(0.2)
            if process.poll() is None:  # killed as planned, or still running at the deadline
                os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait(timeout=60)
        output = log.read_text(errors="replace")
        return StepRun(name, script, returncode, output, round(time.monotonic() - began, 1))

    def report(self) -> str:
        """Each step's name, exit status, time and the end of its output, for a failure."""
        return "\n".join(
            f"--- {s.name}: exit {s.returncode} after {s.seconds} s\n{s.output[-3000:]}"
            for s in self.steps
        )


@cache
def meltano_version() -> str:
    """The version of the project's Meltano (.venv-meltano)."""
    out = subprocess.run(
        [str(MELTANO), "--version"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    match = re.search(r"version (\S+)", out)
    assert match, out
    return match.group(1)


# --- S3 on loopback --------------------------------------------------------------------------


@dataclass
class S3:
    """moto's S3 server on loopback, and a client to look into the state bucket."""

    url: str
    client: Any

    def states(self) -> dict[str, dict[str, Any]]:
        """Every state in the bucket: state ID -> the singer state Meltano stored."""
        found: dict[str, dict[str, Any]] = {}
        listing = self.client.list_objects_v2(Bucket=BUCKET)
        for entry in listing.get("Contents", []):
            key = str(entry["Key"])
            if not key.endswith("/state.json"):
                continue
            body = self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            document = json.loads(body)
            merged: dict[str, Any] = {}
            for part in ("completed", "partial"):
                merged.update(document.get(part, {}).get("singer_state") or {})
            found[key.split("/")[-2]] = merged
        return found


@pytest.fixture
def s3() -> Iterator[S3]:
    """A real S3 API (moto in server mode) on a free loopback port, with the state bucket."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="state-key-id",
        aws_secret_access_key="state-secret",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield S3(url=url, client=client)
    finally:
        server.stop()


# --- what was read and loaded ----------------------------------------------------------------


def bookmarks(singer_state: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(stream, account) -> bookmark, of the daily streams and storage_usage (not the hourly)."""
    found = {}
    for stream, entry in singer_state.get("bookmarks", {}).items():
        if stream in HOURLY_STREAMS:
            continue
        for partition in entry.get("partitions", []):
            value = partition.get("replication_key_value")
            if value:
                found[(stream, partition["context"]["account_id"])] = value
    return found


def _find(value: Any, key: str) -> Any:
    """The first value of `key` anywhere in nested dicts and lists."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def first_days_read(server: StandinServer) -> dict[tuple[str, str], str]:
    """(dataset, account) -> the earliest day the job asked Cloudflare for."""
    first: dict[tuple[str, str], str] = {}
    for entry in server.request_log:
        day, account = _find(entry.variables, "date_geq"), _find(entry.variables, "accountTag")
        if entry.kind == "data" and day and entry.dataset:
            where = (entry.dataset, str(account))
            first[where] = min(first.get(where, day), day)
    return first


def state_get_output(runner: Runner) -> dict[str, Any]:
    """The state the job's `meltano state get` step printed."""
    output = next(s.output for s in runner.steps if " state get " in s.script)
    start = output.find("{")
    assert start >= 0, output[-2000:]
    value, _ = json.JSONDecoder().raw_decode(output[start:])
    return dict(value.get("singer_state", value))


# --- the two days ----------------------------------------------------------------------------


def test_two_scheduled_days_on_fresh_runners_with_state_in_s3(
    s3: S3, postgres_server: PostgresServer, postgres_database: str, tmp_path: Path
) -> None:
    require_plugins(LOADER)
    lookback = prod_lookback_days()
    matrix = groups()
    analytics = matrix  # every group runs every stream
    assert len(analytics) >= 2, "the workflow fans out over fewer than two groups"
    everyone = [a for g in analytics for a in accounts_of(g)]
    killed = analytics[-1]["group"]
    day1 = utc_today() - datetime.timedelta(days=1)
    day2 = utc_today()
    start = day1 - datetime.timedelta(days=HISTORY_DAYS - 1)
    secrets = {
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "MELTANO_STATE_BACKEND_URI": f"s3://{BUCKET}/scheduled",
        "MELTANO_STATE_AWS_ACCESS_KEY_ID": "state-key-id",
        "MELTANO_STATE_AWS_SECRET_ACCESS_KEY": "state-secret",
    }

    gone = (everyone[0], expected_videos(cloudflare_base(everyone, day1), everyone[0])[0]["uid"])

    def cloudflare(today: datetime.date, revision: int, faults: list[Fault]) -> StandinConfig:
        return StandinConfig(
            deleted_videos={gone} if today == day2 else set(),
            accounts=everyone,
            seed=31,
            today=today,
            rows_per_day=12,
            videos=6,
            revision=revision,
            revised_days=3,
            tokens={TOKEN: None},
            rate_limit_queries=None,
            faults=faults,
            # "now" never after the real clock the jobs' taps read (today 12:30 may be ahead).
            now=min(datetime.datetime.combine(today, datetime.time(12, 30), UTC), NOW),
            # The hourly streams: 2 days kept, day-wide windows, so a job's requests stay well
            # inside the workflow's 90 per 5 minutes (7 days in 6-hour windows would not).
            hourly={
                name: HourlySettings(max_duration=86400, not_older_than=2 * 86400)
                for name in ("streamCMCDAdaptiveGroups", "liveInputEventsAdaptiveGroups")
            },
        )

    def loaded_accounts(stream: str) -> set[str]:
        """The accounts that have rows in a stream's table (none before it exists)."""
        try:
            return {row[0] for row in table_rows(postgres_server, postgres_database, stream)}
        except psycopg.errors.UndefinedTable:
            return set()

    def play_day(
        day: int, today: datetime.date, revision: int, at_once: int
    ) -> dict[str, tuple[Runner, StandinServer]]:
        """Every group's job of one day, `at_once` at a time, each on a fresh runner."""

        def one(group: dict[str, str]) -> tuple[Runner, StandinServer]:
            kill_this = day == 1 and group["group"] == killed
            # The killed job's query for its last stream hangs, as a stalled network would.
            # Every try hangs (the tap times out and retries), so the run cannot end by itself.
            tries = list(range(1, 21))
            hang = [Fault("slow", dataset=dataset_of(KILLED_STREAM), at=tries, seconds=600)]
            server = StandinServer(cloudflare(today, revision, hang if kill_this else []))
            server.start()
            env = {k: v for k, v in os.environ.items() if not SCRUBBED.match(k)}
            env.update({k: fill(v, group, secrets) for k, v in job()["env"].items()})
            env.update(
                {
                    "PATH": f"{MELTANO.parent}{os.pathsep}{os.environ['PATH']}",
                    "LOADER": LOADER,
                    "TARGET_POSTGRES_HOST": postgres_server.host,
                    "TARGET_POSTGRES_PORT": str(postgres_server.port),
                    "TARGET_POSTGRES_USER": postgres_server.user,
                    "TARGET_POSTGRES_PASSWORD": postgres_server.password,
                    "TARGET_POSTGRES_DATABASE": postgres_database,
                    "TARGET_POSTGRES_BATCH_SIZE_ROWS": "50",
                    "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
                    "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
                    "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL": s3.url,
                    "AWS_DEFAULT_REGION": "us-east-1",
                }
            )
            folder = tmp_path / f"day{day}-{group['group']}-{uuid.uuid4().hex[:6]}"
            runner = Runner.checkout(folder, env)

            def loaded_some_rows() -> bool:
                return bool(loaded_accounts(FIRST_STREAM) & set(accounts_of(group)))

            runner.run_job(kill=loaded_some_rows if kill_this else None)
            server.stop()
            return runner, server

        with ThreadPoolExecutor(at_once) as pool:
            done = list(pool.map(one, matrix))
        return {g["group"]: r for g, r in zip(matrix, done, strict=True)}

    # Day 1: a first run everywhere; the killed group's runner dies mid-run. One job at a time:
    # on an empty warehouse, jobs that create the same schema and tables at once can race in
    # PostgreSQL (CREATE ... IF NOT EXISTS is not safe against a concurrent CREATE).
    first = play_day(1, day1, revision=0, at_once=1)
    for group in matrix:
        runner, server = first[group["group"]]
        rest = {e.path.split("/")[4] for e in server.request_log if e.kind == "rest"}
        assert rest == set(accounts_of(group)), "a group read another group's catalog"
        ran = {s.name: s.returncode for s in runner.steps}
        if group["group"] == killed:
            assert list(ran.values())[-1] == -signal.SIGKILL, runner.report()
            continue
        assert set(ran.values()) == {0}, runner.report()
    states = s3.states()
    finished = {state_id(g["group"]) for g in matrix if g["group"] != killed}
    assert finished <= set(states) <= finished | {state_id(killed)}, sorted(states)
    for group in analytics:
        marks = bookmarks(states.get(state_id(group["group"]), {}))
        assert {a for _, a in marks} <= set(accounts_of(group)), f"{group}: another's state"
        if group["group"] == killed:
            # singer-sdk targets confirm state at the end of a run, or every 5 minutes: a run
            # killed sooner leaves rows in the warehouse that no saved state covers.
            assert KILLED_STREAM not in {s for s, _ in marks}, marks
            continue
        every = {(s, a): day1.isoformat() for s in STREAMS for a in accounts_of(group)}
        every.update({("storage_usage", a): utc_today().isoformat() for a in accounts_of(group)})
        assert marks == every
        runner, _ = first[group["group"]]
        assert bookmarks(state_get_output(runner)) == every, "state get did not read S3"
    lost = set(accounts_of(analytics[-1]))
    assert loaded_accounts(FIRST_STREAM) & lost, "the killed run loaded nothing: it proves little"
    assert not loaded_accounts(KILLED_STREAM) & lost, "the killed run finished its last stream"

    # Day 2: Cloudflare revised recent days and a new day arrived; fresh runners again.
    second = play_day(2, day2, revision=1, at_once=len(matrix))  # all at once, as a matrix runs
    for group in analytics:
        runner, server = second[group["group"]]
        assert {s.returncode for s in runner.steps} == {0}, runner.report()
        rest = {e.path.split("/")[4] for e in server.request_log if e.kind == "rest"}
        assert rest == set(accounts_of(group)), "a group read another group's catalog"
        read = first_days_read(server)
        assert {a for _, a in read} == set(accounts_of(group)), read
        confirmed = bookmarks(states.get(state_id(group["group"]), {}))
        for (dataset, account), day in read.items():
            stream = next(s for s in STREAMS if dataset_of(s) == dataset)
            bookmark = confirmed.get((stream, account))
            if bookmark is None:  # never confirmed: read from start_date, losing nothing
                assert day == start.isoformat(), (group["group"], stream, account, day)
            else:  # only the lookback window
                since = datetime.date.fromisoformat(bookmark) - datetime.timedelta(days=lookback)
                assert day == since.isoformat(), (group["group"], stream, account, day)
        every = {(s, a): day2.isoformat() for s in STREAMS for a in accounts_of(group)}
        every.update({("storage_usage", a): utc_today().isoformat() for a in accounts_of(group)})
        assert bookmarks(state_get_output(runner)) == every

    states = s3.states()
    assert set(states) == {state_id(g["group"]) for g in matrix}, sorted(states)
    for group in analytics:
        every = {(s, a): day2.isoformat() for s in STREAMS for a in accounts_of(group)}
        every.update({("storage_usage", a): utc_today().isoformat() for a in accounts_of(group)})
        assert bookmarks(states[state_id(group["group"])]) == every

    # No secret in any job's output.
    for runner, _ in [*first.values(), *second.values()]:
        for secret in (
            TOKEN,
            postgres_server.password,
            secrets["MELTANO_STATE_AWS_SECRET_ACCESS_KEY"],
        ):
            assert all(secret not in s.output for s in runner.steps), "a secret reached a log"

    # The warehouse: every group's rows, each once, with day 2's revised values.
    truth = cloudflare(day2, 1, [])
    for stream in STREAMS:
        rows = table_rows(postgres_server, postgres_database, stream)
        assert len(rows) == len(set(rows)), f"{stream}: duplicate rows"
        want = expected_rows(truth, stream, start, day2)
        assert set(rows) == want, (
            f"{stream}: {len(want - set(rows))} rows missing, {len(set(rows) - want)} extra"
        )

    # The catalog, each group listing its own accounts, ACTIVATE_VERSION off: no row is marked
    # deleted; each account's current videos carry its latest complete listing, and the video
    # deleted before day 2 carries an older one.
    with postgres_server.connect(postgres_database) as conn:
        videos = conn.execute(
            "SELECT account_id, uid, listing_id, _sdc_deleted_at FROM cloudflare_stream.videos"
        ).fetchall()
        listings = conn.execute(
            "SELECT account_id, max(listing_id) FROM cloudflare_stream.catalog_listings "
            "WHERE stream = 'videos' AND complete GROUP BY account_id"
        ).fetchall()
    latest = {str(account): str(listing) for account, listing in listings}
    assert set(latest) == set(everyone), latest
    assert all(deleted_at is None for *_, deleted_at in videos), "a target marked a row deleted"
    current = {(a, u) for a, u, listing, _ in videos if str(listing) >= latest[str(a)]}
    assert current == {(a, v["uid"]) for a in everyone for v in expected_videos(truth, a)}
    assert {(a, u) for a, u, _, _ in videos} - current == {gone}

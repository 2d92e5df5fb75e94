"""BigQuery: a load job fails, z3-target-bigquery exits 0, the workflow's steps find and heal it.

The real `meltano --environment=warehouse-test run tap-cloudflare-stream target-bigquery`
(z3-target-bigquery 0.7.2, batch_job, upsert) against bqemulator, with one load job made to
fail in the emulator (tests/emulators/bqemulator_main.py, BQEMULATOR_FAIL_LOAD_JOBS). The
target puts the job back for a retry, but at the end of the run its workers stop before taking
it: it exits 0, logs nothing about it, and Meltano saves the state past the lost rows. Read
back with google-cloud-bigquery, the raw table lacks them and `sync_audit` says how many the
tap emitted, day by day. Then, in the same emulator, the example workflow's step after the
load (examples/github-actions/heal_gaps.py, with dbt-bigquery) finds the gap through dbt,
runs the heal command for it and reconciles again: the rows are exact afterwards, each key
once, and the scheduled state is as the load saved it.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections import Counter
from pathlib import Path

from cloudflare_standin import StandinConfig, StandinServer

from tests.e2e_support import TABLE_CHECKS, assert_rows_exact, bookmarks
from tests.fixtures_meltano import MeltanoProject
from tests.fixtures_warehouses import ENVIRONMENT, TOKEN, running_bqemulator
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today
from tests.test_audit_heal import HEAL_SCRIPT, said

LOST = "video_playback_events"  # its load job fails
KEPT = "minutes_viewed"  # loads as usual


def test_a_failed_load_job_leaves_the_target_exiting_0_and_the_audit_shows_the_gap(
    meltano_project: MeltanoProject, tmp_path: Path
) -> None:
    today = utc_today()
    start = today - datetime.timedelta(days=3)
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],
        seed=41,
        today=today,
        rows_per_day=15,
        videos=4,
        tokens={TOKEN: None},
        rate_limit_queries=None,
    )
    fault = {"BQEMULATOR_FAIL_LOAD_JOBS": f"{LOST}=1"}  # one load job fails
    checks = {check.stream: check for check in TABLE_CHECKS if check.stream in (LOST, KEPT)}
    state_id = f"{ENVIRONMENT}:tap-cloudflare-stream-to-target-bigquery"
    with running_bqemulator(tmp_path, fault) as warehouse, StandinServer(config) as server:
        env = {
            **warehouse.env,
            "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
            "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps(config.accounts),
            "TAP_CLOUDFLARE_STREAM_START_DATE": start.isoformat(),
            "TAP_CLOUDFLARE_STREAM__SELECT_FILTER": json.dumps([LOST, KEPT, "sync_audit"]),
        }
        run = meltano_project.run(  # fails the test unless Meltano and the target exit 0
            f"--environment={ENVIRONMENT}", "run", "--no-install",
            "tap-cloudflare-stream", "target-bigquery", env=env,
        )  # fmt: skip
        read = warehouse.read(
            {
                "sync_audit": ["stream", "account_id", "day", "rows_emitted"],
                LOST: ["account_id", "date"],
                KEPT: ["account_id", "date"],
            }
        )
        state = meltano_project.state(ENVIRONMENT, state_id)
        # The workflow's step after the load, as its job runs it (the loader's dbt utility).
        heal = meltano_project.shell(
            f"{sys.executable} {HEAL_SCRIPT} --environment {ENVIRONMENT} "
            "--loader target-bigquery --dbt dbt-bigquery",
            env=env,
        )
        healed = warehouse.read({stream: check.columns for stream, check in checks.items()})
    assert run.returncode == 0
    fired = (tmp_path / "bqemulator.log").read_text().count("fault injected")
    assert fired == 1, "the emulator's fault did not fire as set"
    marks = bookmarks(state)
    assert {marks[(LOST, a)] for a in config.accounts} == {today.isoformat()}, marks

    _, audit_rows = read["sync_audit"]
    audited: dict[str, Counter[tuple[str, str]]] = {LOST: Counter(), KEPT: Counter()}
    for stream, account, day, rows in audit_rows:
        audited[stream][(account, str(day)[:10])] += int(rows)
    assert sum(audited[LOST].values()) > 0
    missing: dict[tuple[str, str], int] = {}
    for stream in (LOST, KEPT):
        _, rows = read[stream]
        loaded = Counter((account, str(day)[:10]) for account, day in rows)
        missing = {key: n - loaded[key] for key, n in audited[stream].items() if loaded[key] < n}
        if stream == KEPT:
            assert not missing, f"{stream}: rows missing although its loads succeeded"
        else:
            assert missing, f"{stream}: no row missing: the failed load job proves nothing"
            lost = missing

    # The heal step found each lost (account, days) through dbt, healed it and reconciled.
    log = heal.stdout + heal.stderr
    assert heal.returncode == 0, log[-3000:]
    for account in {account for account, _ in lost}:
        days = sorted(day for a, day in lost if a == account)
        span = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
        assert f"Gap: stream {LOST}, account {account}, {span}:" in log, log[-3000:]
    assert said(log)[-1] == "[heal_gaps] Healed: every gap read again is filled.", said(log)
    assert TOKEN not in log
    # Exact rows, each key once; the scheduled state as the load saved it.
    for stream, check in checks.items():
        _, rows = healed[stream]
        assert_rows_exact(check, rows, check.expected(config, start, today))
    assert meltano_project.state(ENVIRONMENT, state_id) == state

"""BigQuery: a load job fails, z3-target-bigquery still exits 0, and the audit shows the gap.

The real `meltano --environment=warehouse-test run tap-cloudflare-stream target-bigquery`
(z3-target-bigquery 0.7.2, batch_job, upsert) against bqemulator, with one load job made to
fail in the emulator (tests/emulators/bqemulator_main.py, BQEMULATOR_FAIL_LOAD_JOBS). The
target puts the job back for a retry, but at the end of the run its workers stop before taking
it: it exits 0, logs nothing about it, and Meltano saves the state past the lost rows. Read
back with google-cloud-bigquery, the raw table lacks them and `sync_audit` says how many the
tap emitted, day by day: the gap dbt's reconciliation reports.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from pathlib import Path

from cloudflare_standin import StandinConfig, StandinServer

from tests.e2e_support import bookmarks
from tests.fixtures_meltano import MeltanoProject
from tests.fixtures_warehouses import ENVIRONMENT, TOKEN, running_bqemulator
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today

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
    assert run.returncode == 0
    fired = (tmp_path / "bqemulator.log").read_text().count("fault injected")
    assert fired == 1, "the emulator's fault did not fire as set"
    state = meltano_project.state(
        ENVIRONMENT, f"{ENVIRONMENT}:tap-cloudflare-stream-to-target-bigquery"
    )
    marks = bookmarks(state)
    assert {marks[(LOST, a)] for a in config.accounts} == {today.isoformat()}, marks

    _, audit_rows = read["sync_audit"]
    audited: dict[str, Counter[tuple[str, str]]] = {LOST: Counter(), KEPT: Counter()}
    for stream, account, day, rows in audit_rows:
        audited[stream][(account, str(day)[:10])] += int(rows)
    assert sum(audited[LOST].values()) > 0
    for stream in (LOST, KEPT):
        _, rows = read[stream]
        loaded = Counter((account, str(day)[:10]) for account, day in rows)
        missing = {key: n - loaded[key] for key, n in audited[stream].items() if loaded[key] < n}
        if stream == KEPT:
            assert not missing, f"{stream}: rows missing although its loads succeeded"
        else:
            assert missing, f"{stream}: no row missing: the failed load job proves nothing"

"""ACTIVATE_VERSION turned on, into the real PostgreSQL through real Meltano (target-postgres).

The models need no ACTIVATE_VERSION (tests/test_deletions.py); a user who wants target-postgres
to mark (soft delete) or remove (hard delete) deleted items turns
`emit_activate_version_messages` on. Read back from the raw tables:

- a run over every account marks or removes exactly the items deleted since the last run;
- a run in which one account's listing is incomplete sends no ACTIVATE_VERSION (a WARNING says
  why), so nothing is marked or removed, not even an item deleted meanwhile;
- a library of 12,000 videos (more than one target-postgres batch of 10,000 rows) with hard
  delete: exactly the deleted videos are removed, every other one stays.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudflare_standin import (
    ListingMiss,
    StandinConfig,
    StandinServer,
    expected_live_inputs,
    expected_videos,
)

from tests.fixtures_meltano import MeltanoProject, require_plugins
from tests.fixtures_pg import PostgresServer
from tests.standin import ACCOUNT_A, ACCOUNT_B, utc_today
from tests.test_deletions import ACCOUNT_C, CATALOG

ACCOUNTS = [ACCOUNT_A, ACCOUNT_B, ACCOUNT_C]
Keys = set[tuple[str, str]]


class Pipeline:
    """`meltano --environment=test run tap-cloudflare-stream target-postgres`, ACTIVATE_VERSION
    on, over the catalog streams of a stand-in; the raw tables read back."""

    def __init__(
        self,
        meltano_project: MeltanoProject,
        server: StandinServer,
        postgres_server: PostgresServer,
        database: str,
        *,
        hard_delete: bool,
    ) -> None:
        self.project, self.server = meltano_project, server
        self.postgres_server, self.database = postgres_server, database
        self.env = {
            "TAP_CLOUDFLARE_STREAM_API_URL": server.url,
            "TAP_CLOUDFLARE_STREAM_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
            "TAP_CLOUDFLARE_STREAM__SELECT_FILTER": json.dumps(CATALOG),
            "TARGET_POSTGRES_HOST": postgres_server.host,
            "TARGET_POSTGRES_PORT": str(postgres_server.port),
            "TARGET_POSTGRES_USER": postgres_server.user,
            "TARGET_POSTGRES_PASSWORD": postgres_server.password,
            "TARGET_POSTGRES_DATABASE": database,
            "TARGET_POSTGRES_HARD_DELETE": "true" if hard_delete else "false",
        }

    def run(self, accounts: list[str]) -> str:
        """One run over these accounts; Meltano's log."""
        env = {**self.env, "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps(accounts)}
        return self.project.meltano(
            "--environment=test", "run", "--no-install", "tap-cloudflare-stream",
            "target-postgres", env=env,
        )  # fmt: skip

    def rows(self, table: str) -> tuple[Keys, Keys]:
        """(keys of rows not marked deleted, keys of rows marked deleted) of a raw table."""
        with self.postgres_server.connect(self.database) as conn:
            rows: list[Any] = conn.execute(
                f"SELECT account_id, uid, _sdc_deleted_at FROM cloudflare_stream.{table}"
            ).fetchall()
        keys = [(str(a), str(u)) for a, u, _ in rows]
        assert len(keys) == len(set(keys)), f"{table}: duplicate keys"
        return (
            {(str(a), str(u)) for a, u, d in rows if d is None},
            {(str(a), str(u)) for a, u, d in rows if d is not None},
        )


def library(config: StandinConfig, accounts: list[str]) -> tuple[Keys, Keys]:
    """The stand-in's (videos, live inputs) now, as (account, uid) keys."""
    return (
        {(a, v["uid"]) for a in accounts for v in expected_videos(config, a)},
        {(a, i["uid"]) for a in accounts for i in expected_live_inputs(config, a)},
    )


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft-delete", "hard-delete"])
def test_activate_version_marks_exactly_the_deleted_and_waits_for_complete_listings(
    meltano_project: MeltanoProject,
    postgres_server: PostgresServer,
    postgres_database: str,
    hard_delete: bool,
) -> None:
    require_plugins("tap-cloudflare-stream", "target-postgres")
    config = StandinConfig(
        accounts=ACCOUNTS,
        seed=53,
        today=utc_today(),
        rows_per_day=5,
        videos=6,
        live_inputs=3,
        tokens={"test-token": None},
        rate_limit_queries=None,
    )
    with StandinServer(config) as server:
        pipeline = Pipeline(
            meltano_project, server, postgres_server, postgres_database, hard_delete=hard_delete
        )
        pipeline.run(ACCOUNTS)
        videos, inputs = library(config, ACCOUNTS)
        assert pipeline.rows("videos") == (videos, set())
        assert pipeline.rows("live_inputs") == (inputs, set())

        # Deleted at Cloudflare: two videos of A, one of C, a live input of B.
        uids = {a: sorted(v["uid"] for v in expected_videos(config, a)) for a in ACCOUNTS}
        gone = {(ACCOUNT_A, uids[ACCOUNT_A][0]), (ACCOUNT_A, uids[ACCOUNT_A][3])}
        gone.add((ACCOUNT_C, uids[ACCOUNT_C][-1]))
        for account, uid in gone:
            server.delete_video(account, uid)
        gone_input = (ACCOUNT_B, expected_live_inputs(config, ACCOUNT_B)[0]["uid"])
        server.delete_live_input(*gone_input)

        # 1. A run over every account: exactly those are marked, or removed.
        log = pipeline.run(ACCOUNTS)
        assert "ACTIVATE_VERSION not sent" not in log
        expected = {"videos": (videos - gone, gone), "live_inputs": (inputs - {gone_input},
                                                                     {gone_input})}  # fmt: skip
        for table, (current, deleted) in expected.items():
            if hard_delete:
                assert pipeline.rows(table) == (current, set()), table
            else:
                assert pipeline.rows(table) == (current, deleted), table
        after_first = {table: pipeline.rows(table) for table in expected}

        # 2. C's listing misses three videos its total counts, and one more of B's is deleted:
        #    no ACTIVATE_VERSION for videos, so nothing of it is marked or removed.
        config.listing_misses = {(ACCOUNT_C, "videos"): ListingMiss(3)}
        server.delete_video(ACCOUNT_B, uids[ACCOUNT_B][2])
        log = pipeline.run(ACCOUNTS)
        said = [line for line in log.splitlines() if "ACTIVATE_VERSION not sent" in line]
        assert len(said) == 1, said
        assert "[warning" in said[0]
        assert (
            f"stream videos: ACTIVATE_VERSION not sent: the listing of account {ACCOUNT_C} ("
            in (said[0])
        )
        assert "Cloudflare's total is" in said[0]
        assert pipeline.rows("videos") == after_first["videos"]
        assert pipeline.rows("live_inputs") == after_first["live_inputs"]


def test_a_library_larger_than_a_loader_batch_loses_no_current_video_with_hard_delete(
    meltano_project: MeltanoProject, postgres_server: PostgresServer, postgres_database: str
) -> None:
    require_plugins("tap-cloudflare-stream", "target-postgres")
    config = StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],
        seed=59,
        today=utc_today(),
        rows_per_day=2,
        videos=6,
        live_inputs=1,
        library_sizes={ACCOUNT_A: 12_000},
        tokens={"test-token": None},
        rate_limit_queries=None,
    )
    accounts = [ACCOUNT_A, ACCOUNT_B]
    with StandinServer(config) as server:
        pipeline = Pipeline(
            meltano_project, server, postgres_server, postgres_database, hard_delete=True
        )
        pipeline.run(accounts)
        videos, _ = library(config, accounts)
        assert len(videos) > 12_000
        assert pipeline.rows("videos") == (videos, set())

        # Deleted: videos on the first page, at both sides of page ends, mid-library, the last.
        ordered = [v["uid"] for v in expected_videos(config, ACCOUNT_A)]
        gone = {(ACCOUNT_A, ordered[i]) for i in (0, 999, 1000, 6001, 10_500, 11_999)}
        gone.add((ACCOUNT_B, expected_videos(config, ACCOUNT_B)[1]["uid"]))
        for account, uid in gone:
            server.delete_video(account, uid)
        log = pipeline.run(accounts)
        assert "ACTIVATE_VERSION not sent" not in log
        # The premise: target-postgres wrote the listing in more than one batch.
        assert "Target sink for 'videos' is full" in log, "one batch: the test proves little"
        assert pipeline.rows("videos") == (videos - gone, set())
        assert library(config, accounts)[0] == videos - gone

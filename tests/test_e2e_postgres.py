"""End to end: real Meltano runs tap-cloudflare-stream into a real PostgreSQL server.

`meltano --environment=test run tap-cloudflare-stream target-postgres` (MeltanoLabs'
target-postgres) against the stand-in, three times in one test, with Meltano's state kept in
the test's own system database between runs:

1. a first full run: every table holds exactly the stand-in's rows, with the primary keys and
   column types a warehouse user expects;
2. a second run re-reads the lookback days: nothing changes, no duplicates;
3. Cloudflare revises recent days and a new day arrives: the third run updates the revised rows
   and adds the new day.

The catalog streams ride along: after the first run `videos`, `live_inputs` and `storage_usage`
hold exactly the stand-in's library; before the second a video is renamed and another deleted,
and after it the renamed one shows its new name and the deleted one is no longer current
(here with ACTIVATE_VERSION turned on, so target-postgres soft-deletes it: `_sdc_deleted_at` is
set; tests/test_deletions.py shows the default, where the dbt models decide).
"""

from __future__ import annotations

import datetime
from typing import Any

from cloudflare_standin import (
    StandinConfig,
    StandinServer,
    expected_live_inputs,
    expected_storage_usage,
    expected_videos,
)

from tests.catalog_contract import live_input_record, storage_record, video_record
from tests.e2e_support import (
    LOOKBACK,
    TABLE_CHECKS,
    assert_revised,
    bookmarks,
    columns_of,
    expected_rows,
    normalise,
    revise,
    revising_standin,
    tap_env,
)
from tests.fixtures_meltano import MeltanoProject, require_plugins, windows_read
from tests.fixtures_pg import PostgresServer
from tests.standin import ACCOUNT_B, CONTRACT, HOURLY_STREAMS, STREAMS, utc_today

ENVIRONMENT = "test"
STATE_ID = "test:tap-cloudflare-stream-to-target-postgres"
SCHEMA = "cloudflare_stream"
TOKEN = "test-token"  # the test environment's api_token in meltano.yml
INTEGER_TYPES = {"bigint", "integer", "smallint"}
TEXT_TYPES = {"character varying", "text"}
FLOAT_TYPES = {"double precision", "numeric", "real"}
COUNT_COLUMNS = {"views", "buffer_events", "quality_changes", "events"}


def table_rows(pg: PostgresServer, database: str, stream: str) -> list[tuple[Any, ...]]:
    """Every row of a loaded table (a list: duplicates would show)."""
    columns = ", ".join(f'"{c}"' for c in columns_of(stream))
    with pg.connect(database) as conn:
        rows = conn.execute(f"SELECT {columns} FROM {SCHEMA}.{stream}").fetchall()
    return [tuple(normalise(v) for v in row) for row in rows]


def assert_tables_match(
    pg: PostgresServer,
    database: str,
    config: StandinConfig,
    first: datetime.date,
    last: datetime.date,
) -> dict[str, set[tuple[Any, ...]]]:
    """Every table holds exactly the stand-in's rows over [first, last], each once."""
    loaded: dict[str, set[tuple[Any, ...]]] = {}
    for stream in STREAMS:
        rows = table_rows(pg, database, stream)
        unique = set(rows)
        assert len(rows) == len(unique), f"{stream}: {len(rows) - len(unique)} duplicate rows"
        want = expected_rows(config, stream, first, last)
        assert want, f"{stream}: the stand-in has no rows over {first}..{last}"
        missing_rows = want - unique
        extra_rows = unique - want
        assert not missing_rows, f"{stream}: {len(missing_rows)} rows missing, e.g. " + str(
            sorted(missing_rows)[:2]
        )
        assert not extra_rows, f"{stream}: {len(extra_rows)} unexpected rows, e.g. " + str(
            sorted(extra_rows)[:2]
        )
        loaded[stream] = unique
    return loaded


def assert_warehouse_schema(pg: PostgresServer, database: str) -> None:
    """Primary keys as the streams declare them; dates as date, counts as integers."""
    with pg.connect(database) as conn:
        for stream in STREAMS:
            _, dimensions, _ = CONTRACT[stream]
            types: dict[str, str] = dict(
                conn.execute(  # type: ignore[arg-type]
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s",
                    (SCHEMA, stream),
                ).fetchall()
            )
            assert set(columns_of(stream)) <= set(types), f"{stream}: columns {types}"
            assert types["date"] == "date", f"{stream}.date is {types['date']}"
            assert types["account_id"] in TEXT_TYPES
            for column in columns_of(stream):
                if column in COUNT_COLUMNS or column in {
                    "time_viewed_minutes",
                    "minutes_viewed",
                    "quality_resolution",
                }:
                    assert types[column] in INTEGER_TYPES, f"{stream}.{column}: {types[column]}"
            if "sample_interval" in types:
                assert types["sample_interval"] in FLOAT_TYPES
            for column, _ in dimensions:
                if column != "quality_resolution":
                    assert types[column] in TEXT_TYPES, f"{stream}.{column}: {types[column]}"

            key = [
                row[0]
                for row in conn.execute(
                    "SELECT kcu.column_name FROM information_schema.table_constraints tc "
                    "JOIN information_schema.key_column_usage kcu "
                    "  ON kcu.constraint_name = tc.constraint_name "
                    " AND kcu.table_schema = tc.table_schema "
                    "WHERE tc.table_schema = %s AND tc.table_name = %s "
                    "  AND tc.constraint_type = 'PRIMARY KEY' ORDER BY kcu.ordinal_position",
                    (SCHEMA, stream),
                ).fetchall()
            ]
            assert key == ["account_id", "date", *(c for c, _ in dimensions)], (stream, key)


def current_catalog(pg: PostgresServer, database: str, stream: str) -> dict[tuple[str, str], Any]:
    """(account, uid) -> (name, meta, created) of the rows not deleted; fails on duplicates."""
    with pg.connect(database) as conn:
        rows = conn.execute(
            f"SELECT account_id, uid, name, meta, created, _sdc_deleted_at FROM {SCHEMA}.{stream}"
        ).fetchall()
    keys = [(str(row[0]), str(row[1])) for row in rows]
    assert len(keys) == len(set(keys)), f"{stream}: duplicate rows"
    # target-postgres keeps a date-time as `timestamp` (without time zone), in UTC.
    return {
        key: (row[2], row[3], normalise(row[4]))
        for key, row in zip(keys, rows, strict=True)
        if row[5] is None
    }


def catalog_truth(config: StandinConfig, stream: str) -> dict[tuple[str, str], Any]:
    """What current_catalog must show: the stand-in's library now."""
    made = video_record if stream == "videos" else live_input_record
    found = expected_videos if stream == "videos" else expected_live_inputs
    out = {}
    for account in config.accounts:
        for item in found(config, account):
            record = made(account, item)
            created = datetime.datetime.fromisoformat(record["created"].replace("Z", "+00:00"))
            naive = created.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            out[(account, record["uid"])] = (record["name"], record["meta"], naive.isoformat())
    return out


def assert_catalog_matches(pg: PostgresServer, database: str, config: StandinConfig) -> None:
    """videos and live_inputs hold exactly the current library; storage_usage today's reading."""
    for stream in ("videos", "live_inputs"):
        assert current_catalog(pg, database, stream) == catalog_truth(config, stream), stream
    day = datetime.datetime.now(datetime.timezone.utc).date()
    with pg.connect(database) as conn:
        usage = conn.execute(
            f"SELECT account_id, date, total_storage_minutes, total_storage_minutes_limit, "
            f"video_count FROM {SCHEMA}.storage_usage"
        ).fetchall()
    want = [storage_record(a, expected_storage_usage(config, a), day) for a in config.accounts]
    assert sorted(tuple(normalise(v) for v in row) for row in usage) == sorted(
        tuple(normalise(v) for v in record.values()) for record in want
    )


def test_meltano_run_into_postgres(
    meltano_project: MeltanoProject, postgres_server: PostgresServer, postgres_database: str
) -> None:
    require_plugins("tap-cloudflare-stream", "target-postgres")
    config = revising_standin(TOKEN, seed=23, rows_per_day=30, videos=8)
    today = config.today
    assert today is not None
    start = today - datetime.timedelta(days=9)
    with StandinServer(config) as server:
        env = {
            **tap_env(server.url, config, start),
            "TAP_CLOUDFLARE_STREAM_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
            "TARGET_POSTGRES_HOST": postgres_server.host,
            "TARGET_POSTGRES_PORT": str(postgres_server.port),
            "TARGET_POSTGRES_USER": postgres_server.user,
            "TARGET_POSTGRES_PASSWORD": postgres_server.password,
            "TARGET_POSTGRES_DATABASE": postgres_database,
        }

        def run() -> str:
            pipeline = ("run", "--no-install", "tap-cloudflare-stream", "target-postgres")
            return meltano_project.meltano(f"--environment={ENVIRONMENT}", *pipeline, env=env)

        # 1. First run: everything from start_date.
        log = run()
        assert postgres_server.password not in log, "the database password leaked into the log"
        assert TOKEN not in log, "the API token leaked into the log"
        assert set(windows_read(log)) == {f"{start}..{utc_today()}"}, windows_read(log)
        first = assert_tables_match(postgres_server, postgres_database, config, start, today)
        assert_warehouse_schema(postgres_server, postgres_database)
        assert_catalog_matches(postgres_server, postgres_database, config)
        marks = bookmarks(meltano_project.state(ENVIRONMENT, STATE_ID))
        daily = {key: mark for key, mark in marks.items() if key[0] in STREAMS}
        assert daily == {(s, a): today.isoformat() for s in STREAMS for a in config.accounts}
        # The hourly streams keep the last hour read (the stand-in's "now" is 12:30 that day).
        hourly = {key: mark for key, mark in marks.items() if key[0] in HOURLY_STREAMS}
        assert set(hourly) == {(s, a) for s in HOURLY_STREAMS for a in config.accounts}
        assert all(mark.startswith(f"{today.isoformat()}T") for mark in hourly.values())

        # Between runs a video is renamed and another deleted (in Cloudflare's library).
        library = expected_videos(config, ACCOUNT_B)
        gone, renamed = library[0]["uid"], library[-1]["uid"]
        server.delete_video(ACCOUNT_B, gone)
        server.rename_video(ACCOUNT_B, renamed, "Renamed: Q3 keynote")

        # 2. Same data again: the run starts at bookmark - lookback and changes nothing.
        log = run()
        resume = today - datetime.timedelta(days=LOOKBACK)
        assert set(windows_read(log)) == {f"{resume}..{utc_today()}"}, windows_read(log)
        second = assert_tables_match(postgres_server, postgres_database, config, start, today)
        assert second == first
        assert_catalog_matches(postgres_server, postgres_database, config)
        videos = current_catalog(postgres_server, postgres_database, "videos")
        assert (ACCOUNT_B, gone) not in videos, "the deleted video is still current"
        assert videos[(ACCOUNT_B, renamed)][0] == "Renamed: Q3 keynote"
        with postgres_server.connect(postgres_database) as conn:
            row = conn.execute(
                f"SELECT _sdc_deleted_at FROM {SCHEMA}.videos WHERE uid = %s", (gone,)
            ).fetchone()
        assert row is not None, "soft deletion keeps the row, marked"
        assert row[0] is not None

        # 3. Cloudflare revises recent days and a new day arrives.
        new_day = revise(config)
        assert new_day == utc_today()
        log = run()
        third = assert_tables_match(postgres_server, postgres_database, config, start, new_day)
        for check in TABLE_CHECKS:
            assert_revised(check, first[check.stream], third[check.stream], new_day)
        marks = bookmarks(meltano_project.state(ENVIRONMENT, STATE_ID))
        assert {mark for (s, _), mark in marks.items() if s in STREAMS} == {new_day.isoformat()}
        # storage_usage: one reading per account and day, bookmarked by the day it was read.
        assert {marks[("storage_usage", a)] for a in config.accounts} == {utc_today().isoformat()}

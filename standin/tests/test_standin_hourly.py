"""The hour-grained datasets: event data, grouping and aggregation, seek paging, settings."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from cloudflare_standin import (
    Fault,
    HourlySettings,
    StandinServer,
    delivery_totals,
    exact_hourly_rows,
    hourly_events,
    live_input_totals,
    live_input_uids,
)
from cloudflare_standin.__main__ import _parser, config_from_args
from cloudflare_standin.data import account_videos
from cloudflare_standin.testing import (
    ACCOUNT,
    CMCD,
    HOURLY_DIMENSIONS,
    HOURLY_FIELDS,
    LIVE,
    OTHER_ACCOUNT,
    SETTINGS_QUERY,
    TODAY,
    base_config,
    hourly_query,
    hourly_seek_filter,
    post,
    rfc3339,
    rows_of,
    running,
    variables,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 10, 1, 12, 30, tzinfo=UTC)  # base_config's "now": TODAY at 12:30
HOUR = datetime.timedelta(hours=1)
START = datetime.datetime(2026, 10, 1, 6, tzinfo=UTC)


def at(hours: float) -> datetime.datetime:
    """START plus some hours."""
    return START + datetime.timedelta(hours=hours)


def ask(server: StandinServer, dataset: str, flt: dict[str, Any], *,
        dimensions: list[str] | None = None, metrics: str | None = None,
        order: list[str] | None = None, limit: int = 1000,
        account: str = ACCOUNT) -> Any:  # fmt: skip
    """POST an hourly query; the response."""
    query = hourly_query(dataset, dimensions, metrics)
    return post(server.url, query, variables(flt, limit, order, account))


def window(start: datetime.datetime, end: datetime.datetime) -> dict[str, str]:
    """A [start, end) datetimeHour filter."""
    return {"datetimeHour_geq": rfc3339(start), "datetimeHour_lt": rfc3339(end)}


# --- a brute-force reference on the raw events ------------------------------------------------


def _truncate(second: int, step: int) -> str:
    return rfc3339(datetime.datetime.fromtimestamp(second - second % step, UTC))


_STEPS = {"datetime": 1, "datetimeMinute": 60, "datetimeFifteenMinutes": 900, "datetimeHour": 3600}


def _percentile(values: list[float], percent: int) -> float:
    """Smallest value with at least `percent`% of the values at or below it."""
    return float(
        min(v for v in values if sum(x <= v for x in values) * 100 >= percent * len(values))
    )


def _metric(field: str, events: list[dict[str, Any]]) -> Any:
    block, _, leaf = field.partition(".")
    if field == "count":
        return len(events)
    if field == "sum.millisecondsViewed":
        return sum(e["millisecondsViewed"] for e in events)
    if field == "uniq.viewers":
        return len({e["viewer"] for e in events})
    if field == "avg.bitRateHour":
        return sum(e["gopByteSize"] for e in events) * 8 / 3600
    if field == "max.latestDatetime":
        return rfc3339(datetime.datetime.fromtimestamp(max(e["datetime"] for e in events), UTC))
    if block == "quantiles":
        column, percent = leaf.rsplit("P", 1)
        return _percentile([e[column] for e in events], int(percent))
    values = [e[leaf] for e in events]
    return {"avg": sum(values) / len(values), "max": max(values), "min": min(values)}[block]


def reference(
    dataset: str, dimensions: list[str], fields: list[str], start: datetime.datetime,
    end: datetime.datetime, keep: Callable[[dict[str, Any]], bool] = lambda e: True,
    account: str = ACCOUNT,
) -> list[dict[str, Any]]:  # fmt: skip
    """Groups computed naively from the raw events, sorted by the dimensions."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for event in hourly_events(base_config(), account, dataset, start, end):
        if keep(event):
            key = tuple(
                _truncate(event["datetime"], _STEPS[d]) if d in _STEPS else event[d]
                for d in dimensions
            )
            groups.setdefault(key, []).append(event)
    rows = []
    for key in sorted(groups):
        row: dict[str, Any] = {}
        if dimensions:
            row["dimensions"] = dict(zip(dimensions, key, strict=True))
        for field in fields:
            block, _, leaf = field.partition(".")
            value = _metric(field, groups[key])
            if leaf:
                row.setdefault(block, {})[leaf] = value
            else:
                row[field] = value
        rows.append(row)
    return rows


def _close(answer: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(answer) == len(expected)
    for got, want in zip(answer, expected, strict=True):
        for key, value in want.items():
            if isinstance(value, dict):
                assert got[key].keys() == value.keys()
                for leaf, item in value.items():
                    if isinstance(item, float):
                        assert got[key][leaf] == pytest.approx(item, rel=1e-12), (key, leaf)
                    else:
                        assert got[key][leaf] == item, (key, leaf)
            else:
                assert got[key] == value


# --- data --------------------------------------------------------------------------------------


def test_events_join_the_catalog_and_look_like_cmcd_and_ingest() -> None:
    config = base_config()
    cmcd = hourly_events(config, ACCOUNT, CMCD, at(0), at(6))
    live = hourly_events(config, ACCOUNT, LIVE, at(0), at(6))
    uids = set(account_videos(config.seed, ACCOUNT, config.videos).uids)
    assert {e["videoId"] for e in cmcd} <= uids
    assert {e["streamType"] for e in cmcd} == {"l", "v"}
    assert {e["streamingFormat"] for e in cmcd} == {"h", "d"}
    starvation = [e["bufferStarvationDuration"] for e in cmcd]
    assert 0.6 < starvation.count(0) / len(starvation) < 0.99  # many zeros, some not
    assert len({e["viewer"] for e in cmcd}) < len({e["sessionId"] for e in cmcd})
    assert {e["inputId"] for e in live} == set(live_input_uids(7, ACCOUNT, 2))
    assert {e["eventCode"] for e in live} >= {"ok", "slow_upload"}
    assert live_input_uids(7, ACCOUNT, 2) != live_input_uids(7, OTHER_ACCOUNT, 2)


def test_an_hour_depends_only_on_seed_account_dataset_and_hour() -> None:
    hour = (at(2), at(3))
    later = base_config(today=TODAY + datetime.timedelta(days=3), history_days=10)
    for dataset in (CMCD, LIVE):
        events = hourly_events(base_config(), ACCOUNT, dataset, *hour)
        assert events == hourly_events(later, ACCOUNT, dataset, *hour)
        assert events != hourly_events(base_config(seed=8), ACCOUNT, dataset, *hour)
        assert events != hourly_events(base_config(), OTHER_ACCOUNT, dataset, *hour)


# --- grouping and aggregation ------------------------------------------------------------------

ALL_CMCD = [*HOURLY_FIELDS[CMCD], "avg.bufferLength", "quantiles.bufferStarvationDurationP75",
            "max.latestDatetime"]  # fmt: skip
ALL_LIVE = [*HOURLY_FIELDS[LIVE], "avg.bitRate", "max.gopDuration", "min.gopUploadTime"]


def _selection(fields: list[str]) -> str:
    blocks: dict[str, list[str]] = {}
    parts = []
    for field in dict.fromkeys(fields):
        block, _, leaf = field.partition(".")
        if leaf:
            blocks.setdefault(block, []).append(leaf)
        else:
            parts.append(field)
    parts += [f"{block} {{ {' '.join(leaves)} }}" for block, leaves in blocks.items()]
    return " ".join(parts)


@pytest.mark.parametrize(
    ("dataset", "dimensions", "fields"),
    [
        (CMCD, HOURLY_DIMENSIONS[CMCD], ALL_CMCD),
        (CMCD, ["datetimeHour"], ALL_CMCD),
        (CMCD, ["country", "streamType"], ALL_CMCD),
        (CMCD, [], ALL_CMCD),
        (LIVE, HOURLY_DIMENSIONS[LIVE], ALL_LIVE),
        (LIVE, ["datetimeFifteenMinutes", "eventCode"], ALL_LIVE),
        (LIVE, ["inputId"], ALL_LIVE),
    ],
)
def test_groups_match_a_brute_force_reference(
    server: StandinServer, dataset: str, dimensions: list[str], fields: list[str]
) -> None:
    fields = list(dict.fromkeys(fields))
    order = [f"{name}_ASC" for name in dimensions]
    response = ask(server, dataset, window(at(0), at(6)), dimensions=dimensions,
                   metrics=_selection(fields), order=order or None)  # fmt: skip
    rows = rows_of(response, dataset)
    _close(rows, reference(dataset, dimensions, fields, at(0), at(6)))
    assert rows == exact_hourly_rows(
        server.config, ACCOUNT, dataset, dimensions, at(0), at(6), fields
    )


def test_filters_on_time_to_the_second_and_and_or_of_dimensions(server: StandinServer) -> None:
    low, high = at(1) + datetime.timedelta(seconds=930), at(4) + datetime.timedelta(seconds=17)
    flt = {
        "datetime_geq": rfc3339(low),
        "AND": [{"datetime_lt": rfc3339(high)}],
        "OR": [{"country": "US"}, {"country": "GB", "streamingFormat": "d"}],
    }
    rows = rows_of(ask(server, CMCD, flt, dimensions=["datetimeHour"], metrics="count"), CMCD)

    def keep(e: dict[str, Any]) -> bool:
        return bool(e["country"] == "US" or (e["country"] == "GB" and e["streamingFormat"] == "d"))

    expected = reference(CMCD, ["datetimeHour"], ["count"], low, high, keep)
    assert rows == expected
    assert len(rows) >= 2
    single = {"datetimeHour": rfc3339(at(3)), "inputId_gt": ""}
    answer = rows_of(ask(server, LIVE, single, dimensions=["datetimeHour"], metrics="count"), LIVE)
    assert answer == reference(LIVE, ["datetimeHour"], ["count"], at(3), at(4))


def test_order_by_metric_and_descending_dimension(server: StandinServer) -> None:
    order = ["count_DESC", "country_DESC"]
    rows = rows_of(
        ask(
            server, CMCD, window(at(0), at(6)), dimensions=["country"], metrics="count", order=order
        ),
        CMCD,
    )
    expected = reference(CMCD, ["country"], ["count"], at(0), at(6))
    expected.sort(key=lambda r: r["dimensions"]["country"], reverse=True)
    expected.sort(key=lambda r: r["count"], reverse=True)
    assert rows == expected
    assert len(rows) > 3


# --- seek paging -----------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", [CMCD, LIVE])
def test_seek_paging_reaches_every_group_once(
    make_server: Callable[..., StandinServer], dataset: str
) -> None:
    server = make_server()
    server.config.hourly[dataset].max_page_size = 4
    dims = HOURLY_DIMENSIONS[dataset]
    order = [f"{name}_ASC" for name in dims]
    for account in (ACCOUNT, OTHER_ACCOUNT):
        for start in (at(-6), at(0)):  # two 6-hour windows
            end = start + 6 * HOUR
            seen: list[dict[str, Any]] = []
            last = None
            while True:
                flt = hourly_seek_filter(dims, start, end, last)
                page = rows_of(ask(server, dataset, flt, order=order, limit=4, account=account),
                               dataset)  # fmt: skip
                seen += page
                if len(page) < 4:
                    break
                last = page[-1]["dimensions"]
            truth = exact_hourly_rows(server.config, account, dataset, dims, start, end,
                                      HOURLY_FIELDS[dataset])  # fmt: skip
            assert seen == truth
            assert len(truth) > 8


# --- settings and limits -----------------------------------------------------------------------


def _error(response: Any) -> tuple[int, str]:
    body = response.json()
    assert body["data"] is None
    return response.status_code, body["errors"][0]["message"]


def test_settings_are_per_dataset_and_per_account(
    make_server: Callable[..., StandinServer],
) -> None:
    server = make_server(disabled={(OTHER_ACCOUNT, LIVE)})
    server.config.hourly[CMCD] = HourlySettings(
        max_duration=3600, max_page_size=5, max_number_of_fields=12, not_older_than=86400
    )
    settings = {}
    for account in (ACCOUNT, OTHER_ACCOUNT):
        body = post(server.url, SETTINGS_QUERY, {"accountTag": account}).json()
        settings[account] = body["data"]["viewer"]["accounts"][0]["settings"]
    cmcd = settings[ACCOUNT][CMCD]
    assert (cmcd["enabled"], cmcd["maxDuration"], cmcd["maxPageSize"], cmcd["maxNumberOfFields"],
            cmcd["notOlderThan"]) == (True, 3600, 5, 12, 86400)  # fmt: skip
    live = settings[ACCOUNT][LIVE]
    assert (live["maxDuration"], live["maxPageSize"], live["notOlderThan"]) == (21600, 1000, 604800)
    assert "dimensions.datetimeHour" in live["availableFields"]
    assert "avg.bitRateHour" in live["availableFields"]
    assert settings[OTHER_ACCOUNT][LIVE]["enabled"] is False
    assert settings[OTHER_ACCOUNT][CMCD]["enabled"] is True


def test_a_disabled_dataset_is_refused_and_an_account_without_data_answers_nothing(
    make_server: Callable[..., StandinServer],
) -> None:
    server = make_server(disabled={(OTHER_ACCOUNT, LIVE)})
    refused = ask(server, LIVE, window(at(0), at(6)), account=OTHER_ACCOUNT)
    assert _error(refused) == (
        403, "does not have access to the path viewer.accounts.0.liveInputEventsAdaptiveGroups"
    )  # fmt: skip
    assert rows_of(ask(server, LIVE, window(at(0), at(6))), LIVE)
    server.config.hourly[CMCD].enabled = False
    for account in (ACCOUNT, OTHER_ACCOUNT):
        assert _error(ask(server, CMCD, window(at(0), at(6)), account=account))[0] == 403
    server.config.hourly[LIVE].no_data_accounts.add(ACCOUNT)
    assert rows_of(ask(server, LIVE, window(at(0), at(6))), LIVE) == []


def test_max_duration_may_be_shorter_than_a_day(server: StandinServer) -> None:
    assert rows_of(ask(server, CMCD, window(at(0), at(6))), CMCD)
    assert _error(ask(server, CMCD, window(at(0), at(6) + datetime.timedelta(seconds=1)))) == (
        400, "query time range is too large: 25200s requested, maximum is 21600s"
    )  # fmt: skip
    leq = {"datetimeHour_geq": rfc3339(at(0)), "datetimeHour_leq": rfc3339(at(6))}
    assert _error(ask(server, CMCD, leq))[1].startswith("query time range is too large: 25200s")
    assert _error(ask(server, CMCD, {"datetimeHour_lt": rfc3339(at(6))}))[1].startswith(
        "query time range is too large: unbounded"
    )
    open_end = {"datetimeHour_geq": rfc3339(NOW - 5 * HOUR)}  # up to now: 5 h
    assert rows_of(ask(server, CMCD, open_end), CMCD)


def test_not_older_than_is_honoured_to_the_second(server: StandinServer) -> None:
    oldest = NOW - datetime.timedelta(days=7)  # 12:30 seven days ago
    first_full_hour = oldest + datetime.timedelta(minutes=30)
    assert rows_of(ask(server, LIVE, window(first_full_hour, first_full_hour + 6 * HOUR)), LIVE)
    to_the_second = {"datetime_geq": rfc3339(oldest), "datetime_lt": rfc3339(oldest + 6 * HOUR)}
    assert rows_of(ask(server, LIVE, to_the_second), LIVE)
    too_old = {"datetime_geq": rfc3339(oldest - datetime.timedelta(seconds=1)),
               "datetime_lt": rfc3339(oldest + HOUR)}  # fmt: skip
    assert _error(ask(server, LIVE, too_old)) == (400, "cannot request data older than 604800s")
    hour_started_before = window(oldest - datetime.timedelta(minutes=30), oldest + 5 * HOUR)
    assert _error(ask(server, LIVE, hour_started_before))[0] == 400


def test_number_of_fields_and_limit_are_checked(server: StandinServer) -> None:
    fields = len(HOURLY_FIELDS[CMCD]) + len(HOURLY_DIMENSIONS[CMCD])  # what the tap asks: 19
    server.config.hourly[CMCD].max_number_of_fields = fields
    assert rows_of(ask(server, CMCD, window(at(0), at(6))), CMCD)
    server.config.hourly[CMCD].max_number_of_fields = fields - 1
    assert _error(ask(server, CMCD, window(at(0), at(6)))) == (
        400, f"number of fields can't be more than {fields - 1}"
    )  # fmt: skip
    assert _error(ask(server, LIVE, window(at(0), at(6)), limit=1001)) == (
        400, "limit must be positive number and not greater than 1000"
    )  # fmt: skip
    assert _error(ask(server, LIVE, window(at(0), at(6)), limit=0))[0] == 400


def test_fields_the_stand_in_does_not_compute_answer_a_clear_error(server: StandinServer) -> None:
    for dataset, metrics in (
        (CMCD, "confidence(level: 0.95) { count { estimate } }"),
        (LIVE, "count avg { bitRateMinute }"),
    ):
        status, message = _error(ask(server, dataset, window(at(0), at(1)), metrics=metrics))
        assert status == 400
        assert "the stand-in does not serve it" in message
    status, message = _error(ask(server, CMCD, window(at(0), at(1)), dimensions=["sessionId"]))
    assert status == 400
    assert 'unknown field "dimensions.sessionId"' in message


# --- the current hour --------------------------------------------------------------------------


def test_the_current_hour_is_incomplete_and_grows_with_the_clock(server: StandinServer) -> None:
    dims = ["datetimeHour"]
    hours = window(NOW - 3 * HOUR, NOW + 3 * HOUR)

    def read() -> dict[str, Any]:
        answer = ask(server, CMCD, hours, dimensions=dims, metrics="count max { latestDatetime }")
        rows = rows_of(answer, CMCD)
        assert max(row["max"]["latestDatetime"] for row in rows) < rfc3339(server.config.now or NOW)
        return {row["dimensions"]["datetimeHour"]: row["count"] for row in rows}

    before = read()
    current = rfc3339(NOW - datetime.timedelta(minutes=30))
    assert max(before) == current  # nothing at or after now
    complete = base_config(now=NOW + 2 * HOUR)
    full = exact_hourly_rows(complete, ACCOUNT, CMCD, dims, NOW - 3 * HOUR, NOW + HOUR, ["count"])
    full_counts = {row["dimensions"]["datetimeHour"]: row["count"] for row in full}
    assert 0 < before[current] < full_counts[current]
    server.config.now = NOW + datetime.timedelta(minutes=45)  # 13:15: the 12:00 hour is whole
    after = read()
    assert after[current] == full_counts[current]
    older = {hour: n for hour, n in before.items() if hour < current}
    assert older == {hour: n for hour, n in after.items() if hour < current}


def test_late_events_make_an_hour_grow_after_it_ended() -> None:
    dims = ["datetimeHour"]
    config = base_config(now=NOW, hourly_late_seconds=3 * 3600, hourly_late_fraction=0.5)
    ended = (at(1), at(6))  # 07:00 to 11:00: all ended before now (12:30)

    def counts(now: datetime.datetime) -> dict[str, int]:
        config.now = now
        rows = exact_hourly_rows(config, ACCOUNT, CMCD, dims, *ended, ["count"])
        return {row["dimensions"]["datetimeHour"]: row["count"] for row in rows}

    at_now, settled = counts(NOW), counts(NOW + 4 * HOUR)
    on_time = {
        row["dimensions"]["datetimeHour"]: row["count"]
        for row in exact_hourly_rows(base_config(now=NOW), ACCOUNT, CMCD, dims, *ended, ["count"])
    }
    assert settled == on_time  # every event arrives in the end
    # Hours that ended less than 3 hours ago may still grow; older ones are whole.
    late = [hour for hour in settled if at_now.get(hour, 0) < settled[hour]]
    assert late
    assert min(late) >= rfc3339(at(3))
    # Served like the truth: a query sees what has arrived.
    with running(config) as server:
        config.now = NOW
        answer = ask(server, CMCD, window(*ended), dimensions=dims, metrics="count")
        served = {row["dimensions"]["datetimeHour"]: row["count"] for row in rows_of(answer, CMCD)}
    assert served == at_now
    args = _parser().parse_args(["--accounts", ACCOUNT, "--hourly-late-seconds", "600"])
    assert config_from_args(args).hourly_late_seconds == 600


def test_the_older_datasets_refuse_blocks_they_do_not_compute(server: StandinServer) -> None:
    from cloudflare_standin.testing import dataset_query

    playback = "videoPlaybackEventsAdaptiveGroups"
    query = dataset_query(playback, metrics="count confidence(level: 0.95) { count { estimate } }")
    flt = {"date_geq": "2026-09-30", "date_leq": "2026-10-01"}
    status, message = _error(post(server.url, query, variables(flt)))
    assert status == 400
    assert message == 'unknown field "confidence": the stand-in does not serve it'


def test_command_line_sets_now_and_both_hourly_datasets_settings() -> None:
    args = _parser().parse_args(
        ["--accounts", ACCOUNT, "--now", "2026-10-01T12:30:00Z", "--hourly-max-duration", "3600",
         "--hourly-not-older-than", "86400", "--hourly-max-page-size", "5",
         "--hourly-max-fields", "9", "--hourly-disabled", LIVE]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.current_time() == int(NOW.timestamp())
    assert config.hourly[CMCD] == HourlySettings(
        max_duration=3600, not_older_than=86400, max_page_size=5, max_number_of_fields=9
    )
    assert config.hourly[LIVE].enabled is False
    defaults = config_from_args(_parser().parse_args(["--accounts", ACCOUNT]))
    assert defaults.hourly == {CMCD: HourlySettings(), LIVE: HourlySettings()}


def test_the_bad_uid_fault_damages_the_hourly_ids(
    make_server: Callable[..., StandinServer],
) -> None:
    server = make_server(faults=[Fault("bad_uid", at=[1, 2])])
    for dataset, key in ((CMCD, "videoId"), (LIVE, "inputId")):
        first = rows_of(ask(server, dataset, window(at(0), at(6))), dataset)[0]["dimensions"]
        assert first[key] == "not-a-uid!"
        assert "uid" not in first


# --- the truth helpers (truth.py): what models are compared with ------------------------------


def test_delivery_totals_are_what_the_api_answers_per_hour_and_video(server: StandinServer) -> None:
    """Counted from the events, they agree with the API's groups of (datetimeHour, videoId)."""
    metrics = ("count sum { millisecondsViewed } avg { bufferStarvationDuration encodedBitrate "
               "initialBufferStarvationDuration measuredThroughput }")  # fmt: skip
    answer = rows_of(
        ask(server, CMCD, window(START, at(6)), dimensions=["datetimeHour", "videoId"],
            metrics=metrics),
        CMCD,
    )  # fmt: skip
    totals = delivery_totals(server.config, ACCOUNT, START, at(6))
    assert len(answer) == len(totals) > 6
    for row in answer:
        hour = datetime.datetime.fromisoformat(row["dimensions"]["datetimeHour"])
        truth = totals[(hour, row["dimensions"]["videoId"])]
        count, avg = row["count"], row["avg"]
        assert truth.requests == count
        assert truth.milliseconds_viewed == row["sum"]["millisecondsViewed"]
        assert truth.buffer_starvation_milliseconds == pytest.approx(
            avg["bufferStarvationDuration"] * count
        )
        assert truth.avg_encoded_bitrate_kbps == pytest.approx(avg["encodedBitrate"])
        assert 400 <= truth.avg_encoded_bitrate_kbps <= 6000  # the ladder, in kbps
        assert truth.avg_measured_throughput_kbps == pytest.approx(avg["measuredThroughput"])
        assert truth.avg_startup_milliseconds == pytest.approx(
            avg["initialBufferStarvationDuration"]
        )


def test_delivery_totals_per_day_add_up_the_hours(server: StandinServer) -> None:
    start = datetime.datetime(2026, 9, 29, tzinfo=UTC)
    hours = delivery_totals(server.config, ACCOUNT, start, NOW)
    days = delivery_totals(server.config, ACCOUNT, start, NOW, period="day")
    assert {day.date() for day, _ in days} == {start.date(), at(-30).date(), NOW.date()}
    for (day, video), totals in days.items():
        parts = [t for (hour, v), t in hours.items() if v == video and hour.date() == day.date()]
        assert totals.requests == sum(t.requests for t in parts)
        assert totals.encoded_bitrate_kbps_sum == sum(t.encoded_bitrate_kbps_sum for t in parts)


def test_live_input_totals_are_what_the_api_answers_per_hour_and_input(
    server: StandinServer,
) -> None:
    """The bit rate is avg.bitRateHour grouped by (datetimeHour, inputId): bits over 3,600 s."""
    metrics = "count avg { bitRateHour gopDuration gopUploadTime uploadDurationRatio }"
    answer = rows_of(
        ask(server, LIVE, window(START, at(6)), dimensions=["datetimeHour", "inputId"],
            metrics=metrics),
        LIVE,
    )  # fmt: skip
    totals = live_input_totals(server.config, ACCOUNT, START, at(6))
    assert len(answer) == len(totals) > 2
    for row in answer:
        hour = datetime.datetime.fromisoformat(row["dimensions"]["datetimeHour"])
        truth = totals[(hour, row["dimensions"]["inputId"])]
        assert truth.segments == row["count"]
        assert truth.bit_rate_bps == pytest.approx(row["avg"]["bitRateHour"])
        assert truth.avg_gop_duration == pytest.approx(row["avg"]["gopDuration"])
        assert truth.avg_gop_upload_time == pytest.approx(row["avg"]["gopUploadTime"])
        assert truth.avg_upload_duration_ratio == pytest.approx(row["avg"]["uploadDurationRatio"])

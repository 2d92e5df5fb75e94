"""Stream's REST catalog: envelopes, paging by `start` under both readings, ties at page ends,
counts, permissions, the REST budget, faults, the delete/rename/change hooks, listings that
miss items while `total` counts them, and a library of 12,000 videos."""

from __future__ import annotations

import collections
import datetime
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from cloudflare_standin import (
    Fault,
    ListingMiss,
    StandinServer,
    expected_live_inputs,
    expected_storage_usage,
    expected_videos,
    live_input_uids,
)
from cloudflare_standin.data import CREATORS, account_videos
from cloudflare_standin.testing import (
    ACCOUNT,
    AUTH,
    OTHER_ACCOUNT,
    TODAY,
    TOKEN,
    FakeClock,
    admin,
    base_config,
    dataset_query,
    post,
    rest_get,
    rows_of,
    variables,
)

VIDEOS = f"accounts/{ACCOUNT}/stream"
LIVE = f"accounts/{ACCOUNT}/stream/live_inputs"
STORAGE = f"accounts/{ACCOUNT}/stream/storage-usage"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
ANALYTICS_ONLY = "analytics-only-token"


def body_of(response: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert body["success"] is True, body
    assert body["errors"] == [], body
    return body


def failure(response: requests.Response, status: int) -> dict[str, Any]:
    """The one error of a failed envelope with this HTTP status."""
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False
    assert body["result"] is None
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    assert isinstance(error["code"], int)
    assert error["message"]
    return error


def seconds_of(created: str) -> str:
    return created[:19]


def list_every_video(server: StandinServer, descending: bool = False) -> Iterator[dict[str, Any]]:
    """Page like a careful client: the next bound is the last `created` minus one second, so
    the last page's tie group comes again under either reading; callers dedupe by uid."""
    import datetime

    bound: str | None = None
    while True:
        params: dict[str, Any] = {"include_counts": "true"}
        if descending:
            params.update({"end": bound} if bound else {})
        else:
            params.update({"asc": "true", **({"start": bound} if bound else {})})
        body = body_of(rest_get(server, VIDEOS, params))
        yield from body["result"]
        if body["range"] == 0:
            return
        last = datetime.datetime.fromisoformat(body["result"][-1]["created"][:19])
        step = datetime.timedelta(seconds=1 if descending else -1)
        bound = (last + step).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def big(make_server: Callable[..., StandinServer]) -> Callable[..., StandinServer]:
    def start(**overrides: Any) -> StandinServer:
        return make_server(videos=2500, catalog_unwatched=120, **overrides)

    return start


# --- envelopes and data -----------------------------------------------------------------------


def test_list_videos_envelope_and_fields(server: StandinServer) -> None:
    body = body_of(rest_get(server, VIDEOS))
    assert set(body) == {"success", "errors", "messages", "result", "range"}
    videos = body["result"]
    assert videos == list(reversed(expected_videos(server.config, ACCOUNT)))  # newest first
    for video in videos:
        assert re.fullmatch(r"[0-9a-f]{32}", video["uid"])
        assert RFC3339.match(video["created"])
        assert video["status"]["state"]
        if video["status"]["state"] != "ready":
            assert video["duration"] == -1
    assert body["range"] == 0


def test_library_has_absent_null_and_unknown_fields() -> None:
    videos = expected_videos(base_config(videos=300, catalog_unwatched=100), ACCOUNT)
    assert any("meta" not in v for v in videos)
    assert any(v.get("meta") is None and "meta" in v for v in videos)
    assert any(v.get("meta") == {} for v in videos)
    assert any(v.get("creator") is None for v in videos)
    assert any("size" not in v for v in videos)
    assert any(v.get("duration") is None for v in videos)
    assert any(v.get("duration") == -1 for v in videos)
    assert any("experimentalCaptions" in v for v in videos)
    assert any(v["liveInput"] is not None for v in videos)
    assert {v["status"]["state"] for v in videos} >= {"ready", "error", "pendingupload"}


def test_catalog_uids_join_analytics_with_some_deleted_and_some_unwatched() -> None:
    config = base_config(videos=50, catalog_unwatched=7, catalog_gone=3)
    analytics = set(account_videos(config.seed, ACCOUNT, config.videos).uids)
    library = {v["uid"] for v in expected_videos(config, ACCOUNT)}
    assert len(analytics - library) == 3
    assert len(library - analytics) == 7
    assert len(library & analytics) == 47
    # Analytics videos keep their creator ("" becomes null in the catalog).
    videos = account_videos(config.seed, ACCOUNT, config.videos)
    pairs = zip(videos.uids, videos.creator_index, strict=True)
    creators = {uid: CREATORS[index] or None for uid, index in pairs}
    for video in expected_videos(config, ACCOUNT):
        if video["uid"] in creators:
            assert video["creator"] == creators[video["uid"]]
            assert video["status"]["state"] == "ready"


def test_libraries_are_deterministic_across_processes() -> None:
    code = (
        "import json; from cloudflare_standin import expected_videos;"
        "from cloudflare_standin.testing import base_config, ACCOUNT;"
        "print(json.dumps(expected_videos(base_config(videos=300), ACCOUNT)))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            text=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_live_inputs_envelope_and_uids(server: StandinServer) -> None:
    body = body_of(rest_get(server, LIVE))
    result = body["result"]
    assert set(result) == {"liveInputs", "range"}
    assert result["liveInputs"] == expected_live_inputs(server.config, ACCOUNT)
    assert [i["uid"] for i in result["liveInputs"]] == list(
        live_input_uids(server.config.seed, ACCOUNT, 2)
    )
    counted = body_of(rest_get(server, LIVE, {"include_counts": "true"}))["result"]
    assert counted["total"] == 2
    assert counted["range"] == 0
    server.config.live_inputs = 0
    assert body_of(rest_get(server, LIVE))["result"]["liveInputs"] == []


def test_storage_usage_matches_the_library(server: StandinServer) -> None:
    result = body_of(rest_get(server, STORAGE))["result"]
    videos = expected_videos(server.config, ACCOUNT)
    assert result == expected_storage_usage(server.config, ACCOUNT)
    assert result["videoCount"] == len(videos)
    minutes = sum(v["duration"] for v in videos if isinstance(v.get("duration"), float)
                  and v["duration"] > 0) / 60  # fmt: skip
    assert result["totalStorageMinutes"] == pytest.approx(minutes, abs=1e-3)
    assert result["creator"] is None
    creator = next(v["creator"] for v in videos if v.get("creator"))
    mine = body_of(rest_get(server, STORAGE, {"creator": creator}))["result"]
    assert mine["creator"] == creator
    assert mine["videoCount"] == sum(1 for v in videos if v.get("creator") == creator)


# --- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bounds", ["exclusive", "inclusive"])
@pytest.mark.parametrize("descending", [False, True])
def test_paging_by_created_reaches_every_video_under_both_readings(
    big: Callable[..., StandinServer], bounds: str, descending: bool
) -> None:
    server = big(video_bounds=bounds)
    expected = expected_videos(server.config, ACCOUNT)
    assert len(expected) > 2500
    seen = collections.Counter(v["uid"] for v in list_every_video(server, descending))
    assert set(seen) == {v["uid"] for v in expected}
    assert max(seen.values()) > 1  # the careful client did see tie groups twice


def test_ties_straddle_page_ends_from_both_directions(big: Callable[..., StandinServer]) -> None:
    server = big()
    expected = expected_videos(server.config, ACCOUNT)
    ascending = body_of(rest_get(server, VIDEOS, {"asc": "true"}))["result"]
    assert ascending == expected[:1000]
    assert ascending[-1]["created"] == expected[1000]["created"]
    newest = body_of(rest_get(server, VIDEOS))["result"]
    assert newest == list(reversed(expected))[:1000]
    assert newest[-1]["created"] == expected[-1001]["created"]
    # Within one second the order is by uid (ascending, or descending when newest first).
    group = [v["uid"] for v in ascending if v["created"] == ascending[-1]["created"]]
    assert group == sorted(group)
    # A bound at that second drops the tie group (exclusive) or keeps it (inclusive).
    second = ascending[-1]["created"]
    ties = sum(1 for v in expected if v["created"] == second)
    later = sum(1 for v in expected if v["created"] > second)
    exclusive = body_of(rest_get(server, VIDEOS, {"start": second, "include_counts": "true"}))
    assert exclusive["total"] == later
    server.config.video_bounds = "inclusive"
    inclusive = body_of(rest_get(server, VIDEOS, {"after": second, "include_counts": "true"}))
    assert inclusive["total"] == later + ties
    before = body_of(rest_get(server, VIDEOS, {"before": second, "include_counts": "true"}))
    assert before["total"] == len(expected) - later


@pytest.mark.parametrize(
    ("precision", "unit"),
    [
        ("seconds", datetime.timedelta(seconds=1)),
        ("microseconds", datetime.timedelta(microseconds=1)),
    ],
)
def test_each_page_end_has_a_video_one_created_unit_before_the_last(
    big: Callable[..., StandinServer], precision: str, unit: datetime.timedelta
) -> None:
    """The edge a cursor of "last created minus one unit" must dedupe under an inclusive start."""
    server = big(video_created_precision=precision)
    expected = expected_videos(server.config, ACCOUNT)
    created = [datetime.datetime.fromisoformat(v["created"]) for v in expected]
    for end in (1000, 2000, len(expected) - 1000, len(expected) - 2000):
        assert created[end - 1] - unit in created[: end - 1], (precision, end)
    ascending = body_of(rest_get(server, VIDEOS, {"asc": "true"}))["result"]
    page = [datetime.datetime.fromisoformat(v["created"]) for v in ascending]
    assert page[-2] == page[-1] - unit if precision == "microseconds" else page[-1] - unit in page


def test_a_naive_cursor_loses_videos_under_the_exclusive_reading(
    big: Callable[..., StandinServer],
) -> None:
    server = big(video_bounds="exclusive")
    seen: set[str] = set()
    start: str | None = None
    while True:
        params = {"asc": "true", **({"start": start} if start else {})}
        page = body_of(rest_get(server, VIDEOS, params))
        seen.update(v["uid"] for v in page["result"])
        if page["range"] == 0:
            break
        start = page["result"][-1]["created"]
    assert len(seen) < len(expected_videos(server.config, ACCOUNT))


def test_counts_range_and_limit(big: Callable[..., StandinServer]) -> None:
    server = big()
    total = len(expected_videos(server.config, ACCOUNT))
    plain = body_of(rest_get(server, VIDEOS, {"limit": "10"}))
    assert "total" not in plain
    assert len(plain["result"]) == 10
    assert plain["range"] == total - 10
    counted = body_of(rest_get(server, VIDEOS, {"include_counts": "true", "limit": 1000}))
    assert counted["total"] == total
    assert counted["range"] == total - 1000
    filtered = body_of(rest_get(server, VIDEOS, {"include_counts": "true", "status": "error"}))
    errors = [v for v in expected_videos(server.config, ACCOUNT)
              if v["status"]["state"] == "error"]  # fmt: skip
    assert filtered["total"] == len(errors) > 0
    live = body_of(rest_get(server, VIDEOS, {"type": "live"}))["result"]
    assert live
    assert all(v["liveInput"] for v in live)
    vod = body_of(rest_get(server, VIDEOS, {"type": "vod", "limit": 50}))["result"]
    assert all(v["liveInput"] is None for v in vod)


def test_microsecond_precision(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(videos=300, video_created_precision="microseconds")
    expected = expected_videos(server.config, ACCOUNT)
    assert all(re.search(r"\.\d{6}Z$", v["created"]) for v in expected)
    assert [v["created"] for v in expected] == sorted(v["created"] for v in expected)
    middle = expected[150]["created"]
    after = body_of(rest_get(server, VIDEOS, {"asc": "true", "start": middle}))["result"]
    assert after == [v for v in expected if v["created"] > middle]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "1001"},
        {"limit": "0"},
        {"limit": "ten"},
        {"asc": "yes"},
        {"include_counts": "1"},
        {"start": "yesterday"},
        {"end": "2024-01-01"},
        {"status": "done"},
        {"type": "movie"},
    ],
)
def test_bad_parameters_answer_400(server: StandinServer, params: dict[str, str]) -> None:
    error = failure(rest_get(server, VIDEOS, params), 400)
    assert next(iter(params)) in error["message"]


def test_unknown_rest_paths_and_methods(server: StandinServer) -> None:
    assert failure(rest_get(server, f"accounts/{ACCOUNT}/stream/nope"), 404)["code"] == 7000
    assert requests.get(server.url, timeout=10).status_code == 405
    response = requests.post(f"{server.rest_url}/{VIDEOS}", headers=AUTH, timeout=10)
    assert response.status_code == 404


# --- credentials, budget, faults, log ------------------------------------------------------------


def test_analytics_only_token_gets_403_on_rest_but_reads_graphql(
    make_server: Callable[..., StandinServer],
) -> None:
    server = make_server(
        tokens={TOKEN: None, ANALYTICS_ONLY: None}, analytics_only_tokens={ANALYTICS_ONLY}
    )
    headers = {"Authorization": f"Bearer {ANALYTICS_ONLY}"}
    for path in (VIDEOS, LIVE, STORAGE):
        error = failure(rest_get(server, path, headers=headers), 403)
        assert error == {"code": 10000, "message": "Authentication error"}
    query = dataset_query(PLAYBACK)
    assert rows_of(post(server.url, query, variables({"date": TODAY.isoformat()}), headers),
                   PLAYBACK)  # fmt: skip
    body_of(rest_get(server, VIDEOS))  # the full token still reads the catalog
    assert ANALYTICS_ONLY not in str(server.request_log)


def test_unknown_missing_and_scoped_credentials(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(
        tokens={TOKEN: None, "scoped": [ACCOUNT]}, api_keys={("me@example.com", "key"): None}
    )
    assert failure(rest_get(server, VIDEOS, headers={"Authorization": "Bearer x"}), 401)
    assert failure(rest_get(server, VIDEOS, headers={}), 401)
    scoped = {"Authorization": "Bearer scoped"}
    body_of(rest_get(server, VIDEOS, headers=scoped))
    assert failure(rest_get(server, f"accounts/{OTHER_ACCOUNT}/stream", headers=scoped), 403)
    assert failure(rest_get(server, f"accounts/{'ab' * 16}/stream"), 403)
    key = {"X-Auth-Email": "me@example.com", "X-Auth-Key": "key"}
    body_of(rest_get(server, VIDEOS, headers=key))
    assert [e.credential for e in server.request_log] == [
        "unknown", "none", "token#2", "token#2", "token#1", "key#1"
    ]  # fmt: skip


@pytest.mark.parametrize("retry_after", [False, True])
def test_rest_budget_is_separate_from_graphql(
    make_server: Callable[..., StandinServer], retry_after: bool
) -> None:
    clock = FakeClock()
    server = make_server(
        clock=clock,
        rest_rate_limit_requests=3,
        rate_limit_queries=2,
        rate_limit_retry_after=retry_after,
    )
    for _ in range(3):
        body_of(rest_get(server, VIDEOS, {"limit": 1}))
    refused = rest_get(server, VIDEOS, {"limit": 1})
    assert failure(refused, 429)["code"] == 971
    assert ("Retry-After" in refused.headers) is retry_after
    query, values = dataset_query(PLAYBACK), variables({"date": TODAY.isoformat()})
    assert rows_of(post(server.url, query, values), PLAYBACK)  # GraphQL budget untouched
    clock.advance(299)
    assert rest_get(server, STORAGE).status_code == 429  # still locked out
    clock.advance(2)
    body_of(rest_get(server, STORAGE))


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("429", 429, 971),
        ("ratelimit_200", 200, 971),
        ("busy", 503, 10001),
        ("success_false", 200, 10001),
        ("internal_200", 200, 10001),
        ("no_account", 403, 10000),
    ],
)
def test_envelope_faults(
    make_server: Callable[..., StandinServer], kind: str, status: int, code: int
) -> None:
    server = make_server(faults=[Fault(kind, at=[2], dataset="videos")])
    body_of(rest_get(server, STORAGE))  # request 1 overall, not a videos request
    body_of(rest_get(server, VIDEOS))
    assert failure(rest_get(server, VIDEOS), status)["code"] == code
    body_of(rest_get(server, VIDEOS))
    assert [e.fault for e in server.request_log] == [None, None, kind, None]


def test_html_retry_after_and_data_null_faults(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(
        faults=[
            Fault("502_html", at=[1]),
            Fault("429_retry_after", at=[2], seconds=4),
            Fault("data_null", at=[3]),
        ]
    )
    html = rest_get(server, VIDEOS)
    assert html.status_code == 502
    assert html.headers["Content-Type"].startswith("text/html")
    limited = rest_get(server, VIDEOS)
    assert limited.headers["Retry-After"] == "4"
    null = rest_get(server, VIDEOS).json()
    assert null["success"] is True
    assert null["result"] is None
    assert server.request_log[2].error == "result is null"


@pytest.mark.parametrize("kind", ["drop", "truncated"])
def test_transport_faults(make_server: Callable[..., StandinServer], kind: str) -> None:
    server = make_server(faults=[Fault(kind, at=[1])])
    with pytest.raises((requests.exceptions.RequestException, ValueError)):
        rest_get(server, VIDEOS).json()
    body_of(rest_get(server, VIDEOS))


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("missing_field", lambda first, rest: "uid" not in first),
        ("extra_field", lambda first, rest: all(v["unexpected"] == 1 for v in [first, *rest])),
        ("wrong_type", lambda first, rest: first["uid"] == 12345),
        ("bad_uid", lambda first, rest: first["uid"] == "not-a-uid!"),
    ],
)
def test_mangling_faults(
    make_server: Callable[..., StandinServer],
    kind: str,
    check: Callable[[dict[str, Any], list[dict[str, Any]]], bool],
) -> None:
    server = make_server(faults=[Fault(kind, at=[1])])
    first, *rest = body_of(rest_get(server, VIDEOS))["result"]
    assert check(first, rest)
    assert body_of(rest_get(server, VIDEOS))["result"] == list(
        reversed(expected_videos(server.config, ACCOUNT))
    )


def test_request_log_records_rest_requests(server: StandinServer) -> None:
    rest_get(server, VIDEOS, {"asc": "true", "limit": "5", "start": "2024-01-01T00:00:00Z"})
    post(server.url, dataset_query(PLAYBACK), variables({"date": TODAY.isoformat()}))
    rest, graphql = server.request_log
    assert (rest.number, rest.method, rest.kind, rest.dataset) == (1, "GET", "rest", "videos")
    assert rest.path.startswith(f"/client/v4/{VIDEOS}?asc=true&limit=5&start=2024-01-01")
    assert rest.variables == {"asc": "true", "limit": "5", "start": "2024-01-01T00:00:00Z"}
    assert (rest.limit, rest.rows, rest.status) == (5, 5, 200)
    assert (graphql.number, graphql.method, graphql.kind) == (2, "POST", "data")


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("missing_created", lambda body, items: "created" not in items[0]),
        ("duplicate_uid", lambda body, items: items[-1] == items[6] and body["total"] == 13),
        ("no_total", lambda body, items: "total" not in body and len(items) == 13),
    ],
)
def test_listing_faults_on_videos(
    make_server: Callable[..., StandinServer],
    kind: str,
    check: Callable[[dict[str, Any], list[dict[str, Any]]], bool],
) -> None:
    server = make_server(faults=[Fault(kind, at=[1], dataset="videos")])
    params = {"asc": "true", "include_counts": "true"}
    damaged = body_of(rest_get(server, VIDEOS, params))
    videos = expected_videos(server.config, ACCOUNT)
    assert len(videos) == 13  # 12 analytics videos, 2 of them gone, and 3 unwatched
    assert check(damaged, damaged["result"])
    assert len(damaged["result"]) == 13 + (kind == "duplicate_uid")
    again = body_of(rest_get(server, VIDEOS, params))  # only the scripted request is damaged
    assert (again["result"], again["total"]) == (videos, 13)


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("missing_created", lambda result: "created" not in result["liveInputs"][0]),
        ("duplicate_uid", lambda result: result["liveInputs"][-1] == result["liveInputs"][1]),
        ("no_total", lambda result: "total" not in result),
    ],
)
def test_listing_faults_on_live_inputs(
    make_server: Callable[..., StandinServer],
    kind: str,
    check: Callable[[dict[str, Any]], bool],
) -> None:
    server = make_server(live_inputs=3, faults=[Fault(kind, at=[1], dataset="live_inputs")])
    damaged = body_of(rest_get(server, LIVE, {"include_counts": "true"}))["result"]
    assert check(damaged)
    again = body_of(rest_get(server, LIVE, {"include_counts": "true"}))["result"]
    assert again["liveInputs"] == expected_live_inputs(server.config, ACCOUNT)
    assert again["total"] == 3


def test_a_listing_can_miss_videos_while_total_counts_them(
    big: Callable[..., StandinServer],
) -> None:
    server = big(listing_misses={(ACCOUNT, "videos"): ListingMiss(3)})
    everything = expected_videos(server.config, ACCOUNT)
    listed = {v["uid"] for v in list_every_video(server)}
    missed = {v["uid"] for v in everything} - listed
    assert len(missed) == 3
    assert listed < {v["uid"] for v in everything}
    middle = [v["uid"] for v in everything][len(everything) // 2 - 3 : len(everything) // 2 + 3]
    assert missed <= set(middle)  # from the middle of the library, not at either end
    first = body_of(rest_get(server, VIDEOS, {"asc": "true", "include_counts": "true"}))
    assert first["total"] == len(everything)  # the total still counts them
    assert first["range"] == len(everything) - 3 - 1000
    other = f"accounts/{OTHER_ACCOUNT}/stream"
    assert len(body_of(rest_get(server, other, {"include_counts": "true"}))["result"]) == 1000


def test_a_listing_miss_can_last_for_some_listings_only(
    make_server: Callable[..., StandinServer],
) -> None:
    server = make_server(
        live_inputs=4,
        listing_misses={
            (ACCOUNT, "videos"): ListingMiss(2, listings=1),
            (ACCOUNT, "live_inputs"): ListingMiss(1, listings=2),
        },
    )
    videos = expected_videos(server.config, ACCOUNT)
    params = {"asc": "true", "include_counts": "true"}
    first = body_of(rest_get(server, VIDEOS, params))
    assert (len(first["result"]), first["total"]) == (len(videos) - 2, len(videos))
    # A later page of the same listing (it has a start) misses them too; the next listing not.
    later = body_of(rest_get(server, VIDEOS, {**params, "start": "2000-01-01T00:00:00Z"}))
    assert len(later["result"]) == len(videos) - 2
    assert body_of(rest_get(server, VIDEOS, params))["result"] == videos
    inputs = expected_live_inputs(server.config, ACCOUNT)
    counts = [
        (len(r["liveInputs"]), r["total"])
        for r in (
            body_of(rest_get(server, LIVE, {"include_counts": "true"}))["result"] for _ in range(3)
        )
    ]
    assert counts == [(3, 4), (3, 4), (4, 4)]
    assert len(inputs) == 4


def test_library_sizes_make_one_account_large(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(library_sizes={ACCOUNT: 12_000})
    assert len(expected_videos(server.config, OTHER_ACCOUNT)) == 13  # the others unchanged
    everything = expected_videos(server.config, ACCOUNT)
    assert len(everything) == 12_000
    listed = collections.Counter(v["uid"] for v in list_every_video(server))
    assert set(listed) == {v["uid"] for v in everything}
    watched = set(account_videos(server.config.seed, ACCOUNT, server.config.videos).uids)
    assert len(watched & set(listed)) == 10  # the analytics videos still join, 2 gone
    with pytest.raises(ValueError, match="below its 10 watched videos"):
        expected_videos(base_config(library_sizes={ACCOUNT: 5}), ACCOUNT)


# --- changes between runs -----------------------------------------------------------------------


def test_delete_and_rename_in_process(server: StandinServer) -> None:
    before = expected_videos(server.config, ACCOUNT)
    gone, renamed = before[0]["uid"], before[1]["uid"]
    usage = body_of(rest_get(server, STORAGE))["result"]
    server.delete_video(ACCOUNT, gone)
    server.rename_video(ACCOUNT, renamed, "Renamed \u00e9", modified="2026-11-01T10:00:00Z")
    listed = {v["uid"]: v for v in body_of(rest_get(server, VIDEOS))["result"]}
    assert gone not in listed
    assert listed[renamed]["meta"]["name"] == "Renamed \u00e9"
    assert listed[renamed]["modified"] == "2026-11-01T10:00:00Z"
    assert list(listed.values()) == list(reversed(expected_videos(server.config, ACCOUNT)))
    assert body_of(rest_get(server, STORAGE))["result"]["videoCount"] == usage["videoCount"] - 1
    assert OTHER_ACCOUNT not in {a for a, _ in server.config.deleted_videos}
    with pytest.raises(KeyError):
        server.delete_video(ACCOUNT, gone)  # already gone
    with pytest.raises(KeyError):
        server.rename_video(OTHER_ACCOUNT, renamed, "x")  # another account's video


def test_delete_and_change_live_inputs_in_process(server: StandinServer) -> None:
    server.config.live_inputs = 3
    gone, changed, kept = (i["uid"] for i in expected_live_inputs(server.config, ACCOUNT))
    was_enabled = expected_live_inputs(server.config, ACCOUNT)[1]["enabled"]
    server.delete_live_input(ACCOUNT, gone)
    server.change_live_input(
        ACCOUNT, changed, name="Studio Z", enabled=not was_enabled, modified="2026-11-02T08:00:00Z"
    )
    result = body_of(rest_get(server, LIVE, {"include_counts": "true"}))["result"]
    listed = {i["uid"]: i for i in result["liveInputs"]}
    assert set(listed) == {changed, kept}
    assert result["total"] == 2
    assert listed[changed]["meta"]["name"] == "Studio Z"
    assert listed[changed]["enabled"] is (not was_enabled)
    assert listed[changed]["modified"] == "2026-11-02T08:00:00Z"
    server.change_live_input(ACCOUNT, changed, enabled=was_enabled)  # the name stays
    again = {i["uid"]: i for i in expected_live_inputs(server.config, ACCOUNT)}[changed]
    assert (again["meta"]["name"], again["enabled"]) == ("Studio Z", was_enabled)
    assert RFC3339.match(again["modified"])
    assert result["liveInputs"][0] is not None
    with pytest.raises(KeyError):
        server.delete_live_input(ACCOUNT, gone)  # already gone
    with pytest.raises(KeyError):
        server.change_live_input(OTHER_ACCOUNT, kept, name="x")  # another account's input


def test_delete_and_rename_through_the_admin_hook_of_a_process() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudflare_standin", "--port", "0", "--accounts", ACCOUNT,
         "--token", TOKEN, "--analytics-only-token", ANALYTICS_ONLY, "--video-bounds",
         "inclusive", "--catalog-unwatched", "5"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()

        def listed() -> dict[str, dict[str, Any]]:
            return {v["uid"]: v for v in body_of(rest_get(url, VIDEOS))["result"]}

        config = base_config(accounts=[ACCOUNT], videos=40, catalog_unwatched=5)
        assert set(listed()) == {v["uid"] for v in expected_videos(config, ACCOUNT)}
        first, second, *_ = listed()
        assert admin(url, "delete-video", account=ACCOUNT, uid=first) == {"ok": True}
        admin(url, "rename-video", account=ACCOUNT, uid=second, name="New name")
        now = listed()
        assert first not in now
        assert now[second]["meta"]["name"] == "New name"
        assert RFC3339.match(now[second]["modified"])
        with pytest.raises(RuntimeError, match="has no video"):
            admin(url, "delete-video", account=ACCOUNT, uid=first)
        inputs = {i["uid"] for i in body_of(rest_get(url, LIVE))["result"]["liveInputs"]}
        gone, changed = sorted(inputs)
        assert admin(url, "delete-live-input", account=ACCOUNT, uid=gone) == {"ok": True}
        admin(url, "change-live-input", account=ACCOUNT, uid=changed, name="On air",
              enabled=False)  # fmt: skip
        [now_input] = body_of(rest_get(url, LIVE))["result"]["liveInputs"]
        assert (now_input["uid"], now_input["meta"]["name"], now_input["enabled"]) == (
            changed,
            "On air",
            False,
        )
        with pytest.raises(RuntimeError, match="has no live input"):
            admin(url, "delete-live-input", account=ACCOUNT, uid=gone)
        analytics_only = {"Authorization": f"Bearer {ANALYTICS_ONLY}"}
        assert rest_get(url, VIDEOS, headers=analytics_only).status_code == 403
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0

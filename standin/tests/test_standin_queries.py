"""Query answers against an independent reference computed from exact_rows."""

from __future__ import annotations

import datetime
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import requests

from cloudflare_standin import DATASETS, StandinServer, engine, exact_rows
from cloudflare_standin.testing import (
    ACCOUNT,
    AUTH,
    FINEST,
    TODAY,
    base_config,
    dataset_query,
    post,
    rows_of,
    seek_filter,
    variables,
)

STEPS = {
    "datetime": 1,
    "datetimeMinute": 60,
    "datetimeFiveMinutes": 300,
    "datetimeFifteenMinutes": 900,
    "datetimeHalfOfHour": 1800,
    "datetimeHour": 3600,
}
WINDOW_START = TODAY - datetime.timedelta(days=6)


def epoch(text: str) -> int:
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp())


def rfc3339(seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def truth(dataset: str) -> tuple[dict[str, Any], ...]:
    """Finest rows of the test window (the datetime dimension makes them unique)."""
    dims = [*FINEST[dataset], "datetime"]
    return tuple(exact_rows(base_config(), ACCOUNT, dataset, dims, WINDOW_START, TODAY))


def value(row: dict[str, Any], field: str) -> Any:
    if field in STEPS:
        seconds = epoch(row["dimensions"]["datetime"])
        return seconds - seconds % STEPS[field]
    return row["dimensions"][field]


def like(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    )


def compare(op: str, have: Any, wanted: Any) -> bool:
    """One filter operator, written independently of the engine."""
    if op in ("like", "notlike"):
        return (like(wanted).fullmatch(have) is not None) == (op == "like")
    if op in ("in", "notin"):
        return (have in wanted) == (op == "in")
    if op == "":
        return bool(have == wanted)
    if op == "neq":
        return bool(have != wanted)
    if op == "gt":
        return bool(have > wanted)
    if op == "geq":
        return bool(have >= wanted)
    if op == "lt":
        return bool(have < wanted)
    assert op == "leq"
    return bool(have <= wanted)


def matches(row: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, wanted in flt.items():
        if key == "AND":
            if not all(matches(row, sub) for sub in wanted):
                return False
            continue
        if key == "OR":
            if wanted and not any(matches(row, sub) for sub in wanted):
                return False
            continue
        field, _, op = key.partition("_")
        have = value(row, field)
        if field in STEPS:
            wanted = [epoch(w) for w in wanted] if isinstance(wanted, list) else epoch(wanted)
        if not compare(op, have, wanted):
            return False
    return True


def by_position(position: int) -> Callable[[dict[str, Any]], Any]:
    return lambda group: group["_key"][position]


def reference(
    dataset: str, dims: list[str], flt: dict[str, Any], order: list[str], limit: int
) -> list[dict[str, Any]]:
    """Group, aggregate, order and cut the finest rows as the API should."""
    spec = DATASETS[dataset]
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for row in truth(dataset):
        if not matches(row, flt):
            continue
        acc = groups.setdefault(tuple(value(row, d) for d in dims), [0, 0, []])
        acc[0] += row["count"]
        if spec.sum_metrics:
            acc[1] += row["sum"][spec.sum_metrics[0]]
        if spec.has_avg:
            acc[2].append(row["avg"]["sampleInterval"])
    out = []
    for key, (count, total, intervals) in groups.items():
        item: dict[str, Any] = {
            "dimensions": {
                d: rfc3339(v) if d in STEPS else v for d, v in zip(dims, key, strict=False)
            },
            "count": count,
            "_key": key,
        }
        if spec.sum_metrics:
            item["sum"] = {spec.sum_metrics[0]: total}
        if spec.has_avg:
            item["avg"] = {"sampleInterval": math.fsum(intervals) / len(intervals)}
        out.append(item)
    keys = [(o.rsplit("_", 1)[0], o.endswith("_DESC")) for o in order]
    keys += [(d, False) for d in dims if d not in {k for k, _ in keys}]
    for field, descending in reversed(keys):
        if field == "count":
            out.sort(key=lambda g: g["count"], reverse=descending)
        elif field.startswith("sum_"):
            out.sort(key=lambda g: g["sum"][spec.sum_metrics[0]], reverse=descending)
        elif field == "avg_sampleInterval":
            out.sort(key=lambda g: g["avg"]["sampleInterval"], reverse=descending)
        else:
            out.sort(key=by_position(dims.index(field)), reverse=descending)
    for item in out:
        del item["_key"]
    return out[:limit]


def random_condition(rng: random.Random, dataset: str) -> dict[str, Any]:
    """One filter condition over a random field and operator, with plausible values."""
    rows = truth(dataset)
    fields = [*list(FINEST[dataset]), "datetime", "datetimeHour", "datetimeFiveMinutes"]
    field = rng.choice(fields)
    sample = [value(rng.choice(rows), field) for _ in range(3)]
    if field in STEPS:
        sample = [rfc3339(v) for v in sample]
    elif field != "qualityResolution" and field != "date":
        sample += ["", "M", "zz"]
    ops = ["", "_neq", "_gt", "_geq", "_lt", "_leq", "_in", "_notin"]
    if isinstance(sample[0], str) and field != "date" and field not in STEPS:
        ops += ["_like", "_notlike"]
    op = rng.choice(ops)
    pick = rng.choice(sample)
    if op in ("_in", "_notin"):
        return {field + op: rng.sample(sample, rng.randint(1, 3))}
    if op in ("_like", "_notlike"):
        text = str(pick)
        pattern = rng.choice(
            [text[:1] + "%", "%" + text[-1:], "_" * len(text), "%", text[:2] + "_%"]
        )
        return {field + op: pattern}
    return {field + op: pick}


def random_filter(rng: random.Random, dataset: str) -> dict[str, Any]:
    start = WINDOW_START + datetime.timedelta(days=rng.randint(0, 4))
    end = start + datetime.timedelta(days=rng.randint(0, 2))
    flt: dict[str, Any] = {"date_geq": start.isoformat(), "date_leq": end.isoformat()}
    for _ in range(rng.randint(0, 2)):
        flt.update(random_condition(rng, dataset))
    shape = rng.random()
    if shape < 0.3:
        flt["OR"] = [random_condition(rng, dataset) for _ in range(rng.randint(1, 3))]
    elif shape < 0.5:
        flt["AND"] = [
            {"OR": [random_condition(rng, dataset), random_condition(rng, dataset)]},
            random_condition(rng, dataset),
        ]
    return flt


def random_query(rng: random.Random) -> tuple[str, list[str], dict[str, Any], list[str], int]:
    dataset = rng.choice(list(DATASETS))
    spec = DATASETS[dataset]
    pool = [*list(FINEST[dataset]), rng.choice(spec.datetime_dimensions)]
    dims = rng.sample(pool, rng.randint(0, 4))
    orderable = dims + ["count"] + [f"sum_{m}" for m in spec.sum_metrics]
    if spec.has_avg:
        orderable.append("avg_sampleInterval")
    order = [
        f"{f}_{rng.choice(['ASC', 'DESC'])}"
        for f in rng.sample(orderable, rng.randint(0, min(3, len(orderable))))
    ]
    limit = rng.choice([1, 5, 37, 200, 10000])
    return dataset, dims, random_filter(rng, dataset), order, limit


def test_random_queries_match_reference(server: StandinServer) -> None:
    rng = random.Random(20261001)
    session = requests.Session()
    seen_rows = 0
    for _ in range(160):
        dataset, dims, flt, order, limit = random_query(rng)
        body = {"query": dataset_query(dataset, dims), "variables": variables(flt, limit, order)}
        response = session.post(server.url, json=body, headers=AUTH, timeout=30)
        got = rows_of(response, dataset)
        want = reference(dataset, dims, flt, order, limit)
        if not dims:
            for item in want:
                del item["dimensions"]
        assert got == want, (dataset, dims, flt, order, limit)
        seen_rows += len(got)
    assert seen_rows > 1000  # the generator does not only produce empty answers


def test_no_dimensions_is_one_total_group(server: StandinServer) -> None:
    dataset = "videoPlaybackEventsAdaptiveGroups"
    flt = {"date_geq": WINDOW_START.isoformat(), "date_leq": TODAY.isoformat()}
    got = rows_of(post(server.url, dataset_query(dataset, []), variables(flt)), dataset)
    rows = truth(dataset)
    assert got == [
        {
            "count": sum(r["count"] for r in rows),
            "sum": {"timeViewedMinutes": sum(r["sum"]["timeViewedMinutes"] for r in rows)},
            "avg": {
                "sampleInterval": math.fsum(r["avg"]["sampleInterval"] for r in rows) / len(rows)
            },
        }
    ]


def test_aliases_fragments_and_directives(server: StandinServer) -> None:
    dataset = "streamMinutesViewedAdaptiveGroups"
    query = """query Q($accountTag: string!, $filter: AccountStreamMinutesViewedAdaptiveGroupsFilter_InputObject!, $skip: Boolean!) {
      viewer { accounts(filter: {accountTag: $accountTag}) {
        rows: streamMinutesViewedAdaptiveGroups(filter: $filter, limit: 3, orderBy: [uid_ASC]) {
          views: count __typename
          ...Dims
          sum @skip(if: $skip) { minutesViewed }
        } } } }
      fragment Dims on AccountStreamMinutesViewedAdaptiveGroups { dimensions { video: uid date } }"""  # noqa: E501
    flt = {"date": TODAY.isoformat()}
    response = post(server.url, query, {"accountTag": ACCOUNT, "filter": flt, "skip": True})
    body = response.json()
    assert response.status_code == 200, body
    rows = body["data"]["viewer"]["accounts"][0]["rows"]
    want = reference(dataset, ["uid", "date"], flt, ["uid_ASC"], 3)
    assert [list(r) for r in rows] == [["views", "__typename", "dimensions"]] * 3
    assert rows[0]["__typename"] == "AccountStreamMinutesViewedAdaptiveGroups"
    assert [r["dimensions"]["video"] for r in rows] == [w["dimensions"]["uid"] for w in want]
    assert [r["views"] for r in rows] == [w["count"] for w in want]


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_seek_pagination_with_tiny_pages_is_exact(server: StandinServer, dataset: str) -> None:
    dims = FINEST[dataset]
    start, end = (TODAY - datetime.timedelta(days=2)).isoformat(), TODAY.isoformat()
    order = [f"{d}_ASC" for d in dims]
    session = requests.Session()
    fetched: list[dict[str, Any]] = []
    last = None
    while True:
        flt = seek_filter(dims, start, end, last)
        body = {"query": dataset_query(dataset), "variables": variables(flt, 7, order)}
        page = rows_of(session.post(server.url, json=body, headers=AUTH, timeout=30), dataset)
        fetched.extend(page)
        if len(page) < 7:
            break
        last = page[-1]["dimensions"]
    want = exact_rows(
        server.config, ACCOUNT, dataset, dims, TODAY - datetime.timedelta(days=2), TODAY
    )
    assert fetched == want
    assert len(want) > 100


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_fast_path_equals_generic_path(
    server: StandinServer, dataset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Counter[str]()
    real = engine._run_fast

    def counting(*args: Any) -> Any:
        calls["fast"] += 1
        return real(*args)

    monkeypatch.setattr(engine, "_run_fast", counting)
    rng = random.Random(dataset)
    dims = FINEST[dataset]
    rows = truth(dataset)
    order = [f"{d}_ASC" for d in dims]
    start, end = (
        (TODAY - datetime.timedelta(days=3)).isoformat(),
        (TODAY - datetime.timedelta(days=1)).isoformat(),
    )
    odd_values: dict[str, list[Any]] = defaultdict(lambda: ["", "ZZ", "A", "m"])
    odd_values["qualityResolution"] = [0, 500, 9999]
    odd_values["date"] = [start, end, (TODAY - datetime.timedelta(days=2)).isoformat()]
    for _ in range(25):
        cursor = dict(rng.choice(rows)["dimensions"])
        if rng.random() < 0.4:
            field = rng.choice(dims)
            cursor[field] = rng.choice(odd_values[field])
        depth = rng.randint(1, len(dims))
        flt = seek_filter(dims[:depth], start, end, cursor)
        limit = rng.choice([1, 13, 400])
        query = {"query": dataset_query(dataset), "variables": variables(flt, limit, order)}
        server.config.fast_path = True
        fast = rows_of(requests.post(server.url, json=query, headers=AUTH, timeout=30), dataset)
        server.config.fast_path = False
        generic = rows_of(requests.post(server.url, json=query, headers=AUTH, timeout=30), dataset)
        assert fast == generic, (cursor, depth, limit)
    assert calls["fast"] == 25


def test_data_is_skewed_and_realistic() -> None:
    config = base_config(rows_per_day=300, videos=40)
    dataset = "videoPlaybackEventsAdaptiveGroups"
    rows = exact_rows(
        config, ACCOUNT, dataset, FINEST[dataset], TODAY - datetime.timedelta(days=9), TODAY
    )
    per_video_day = Counter((r["dimensions"]["date"], r["dimensions"]["uid"]) for r in rows)
    assert max(per_video_day.values()) > 50  # a heavy video overflows a small page
    assert min(per_video_day.values()) <= 2
    videos_per_day = Counter(date for date, _ in per_video_day)
    assert min(videos_per_day.values()) < 40  # some videos have no events some days
    assert any(r["dimensions"]["clientCountryName"] == "" for r in rows)
    assert any(r["dimensions"]["deviceBrowser"] == "" for r in rows)
    assert any(r["count"] == 0 for r in rows)
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["dimensions"]["uid"]) for r in rows)
    per_video = exact_rows(config, ACCOUNT, dataset, ["uid"], TODAY, TODAY)
    assert any(not float(r["avg"]["sampleInterval"]).is_integer() for r in per_video)
    minutes = exact_rows(
        config, ACCOUNT, "streamMinutesViewedAdaptiveGroups", ["creator"], TODAY, TODAY
    )
    assert "" in {r["dimensions"]["creator"] for r in minutes}

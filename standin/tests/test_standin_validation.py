"""Strict validation: what Cloudflare's schema rejects answers 400 with an errors body."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from cloudflare_standin import StandinServer
from cloudflare_standin.testing import ACCOUNT, AUTH, TODAY, dataset_query, post, variables

PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
DAY = TODAY.isoformat()


def assert_rejected(response: requests.Response, fragment: str = "") -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == 400, body
    assert body["data"] is None
    assert body["errors"], body
    error = body["errors"][0]
    assert set(error) == {"message", "path", "extensions"}
    assert "timestamp" in error["extensions"]
    assert fragment in error["message"], error["message"]
    return body


def test_valid_query_passes(server: StandinServer) -> None:
    response = post(server.url, dataset_query(PLAYBACK), variables({"date": DAY}, 5))
    assert response.status_code == 200
    assert response.json()["errors"] is None


def test_graphql_builtin_string_is_not_cloudflares_string(server: StandinServer) -> None:
    query = dataset_query(PLAYBACK).replace("$accountTag: string!", "$accountTag: String!")
    assert_rejected(post(server.url, query, variables({"date": DAY})), "String!")


def test_unknown_field(server: StandinServer) -> None:
    query = dataset_query(PLAYBACK, ["date", "videoTitle"])
    assert_rejected(post(server.url, query, variables({"date": DAY})), "videoTitle")


def test_unknown_filter_key(server: StandinServer) -> None:
    flt = {"date": DAY, "uid_startswith": "a"}
    assert_rejected(post(server.url, dataset_query(PLAYBACK), variables(flt)), "uid_startswith")


@pytest.mark.parametrize("order", ["dimensions_date_ASC", "date_asc", "timeViewedMinutes_DESC"])
def test_bad_enum_value(server: StandinServer, order: str) -> None:
    response = post(server.url, dataset_query(PLAYBACK), variables({"date": DAY}, 5, [order]))
    assert_rejected(response, order)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("limit", "5"),
        ("limit", 5.5),
        ("limit", -1),
        ("limit", True),
        ("accountTag", 1234),
        ("filter", {"date": "2026/10/01"}),
        ("filter", {"date": 20261001}),
        ("filter", {"date": "2026-02-30"}),
        ("filter", {"date": DAY, "uid": 5}),
        ("filter", {"date": DAY, "datetime_geq": "2026-10-01 00:00:00"}),
    ],
)
def test_wrong_variable_types(server: StandinServer, name: str, bad: Any) -> None:
    values = variables({"date": DAY}, 5)
    values[name] = bad
    assert_rejected(post(server.url, dataset_query(PLAYBACK), values))


def test_quality_resolution_is_uint64(server: StandinServer) -> None:
    dataset = "videoQualityEventsAdaptiveGroups"
    bad = variables({"date": DAY, "qualityResolution": "720"})
    assert_rejected(post(server.url, dataset_query(dataset), bad))
    good = variables({"date": DAY, "qualityResolution": 720})
    assert post(server.url, dataset_query(dataset), good).status_code == 200


def test_wrong_literal_types(server: StandinServer) -> None:
    query = (
        'query { viewer { accounts(filter: {accountTag: "%s"}) { '
        'videoPlaybackEventsAdaptiveGroups(filter: {date: "%s"}, limit: "10") { count } } } }'
    )
    assert_rejected(post(server.url, query % (ACCOUNT, DAY)))
    assert post(server.url, query.replace('"10"', "10") % (ACCOUNT, DAY)).status_code == 200


def test_missing_required_argument(server: StandinServer) -> None:
    query = (
        'query { viewer { accounts(filter: {accountTag: "%s"}) { '
        'videoPlaybackEventsAdaptiveGroups(filter: {date: "%s"}) { count } } } }'
    )
    assert_rejected(post(server.url, query % (ACCOUNT, DAY)), "limit")


def test_malformed_query(server: StandinServer) -> None:
    assert_rejected(post(server.url, "query { viewer { accounts("), "Syntax Error")


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"variables": {}}', b'{"query": 5}'])
def test_malformed_body(server: StandinServer, raw: bytes) -> None:
    response = requests.post(server.url, data=raw, headers=AUTH, timeout=10)
    assert_rejected(response, "error parsing")


def test_other_paths_and_methods(server: StandinServer) -> None:
    assert requests.get(server.url, headers=AUTH, timeout=10).status_code == 405
    other = server.url.replace("/graphql", "/other")
    assert requests.post(other, json={"query": "{viewer{budget}}"}, timeout=10).status_code == 404
    assert server.request_log == []

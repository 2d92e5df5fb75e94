"""Settings, Cloudflare's limits and authentication errors."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest

from cloudflare_standin import DATASETS, HOURLY_DATASETS, StandinServer
from cloudflare_standin.testing import (
    ACCOUNT,
    OTHER_ACCOUNT,
    SETTINGS_QUERY,
    TODAY,
    TOKEN,
    dataset_query,
    post,
    rows_of,
    variables,
)

PLAYBACK = "videoPlaybackEventsAdaptiveGroups"


def day(offset: int) -> str:
    return (TODAY - datetime.timedelta(days=offset)).isoformat()


def error_of(response: object, status: int) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == status, body  # type: ignore[attr-defined]
    assert body["data"] is None
    message: str = body["errors"][0]["message"]
    return message


def test_settings_answer_the_configured_limits(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(
        max_page_size=500,
        disabled={(ACCOUNT, "videoQualityEventsAdaptiveGroups")},
        available_fields_missing={PLAYBACK: ["dimensions.deviceOs"]},
    )
    response = post(server.url, SETTINGS_QUERY, {"accountTag": ACCOUNT})
    body = response.json()
    assert response.status_code == 200
    assert body["errors"] is None
    settings = body["data"]["viewer"]["accounts"][0]["settings"]
    assert set(settings) == set(DATASETS) | set(HOURLY_DATASETS)
    playback = settings[PLAYBACK]
    assert playback["enabled"] is True
    assert playback["maxPageSize"] == 500
    assert playback["maxDuration"] == 31 * 86400
    assert playback["notOlderThan"] == 90 * 86400
    assert playback["maxNumberOfFields"] == 30
    assert "dimensions.uid" in playback["availableFields"]
    assert "sum.timeViewedMinutes" in playback["availableFields"]
    assert "dimensions.deviceOs" not in playback["availableFields"]
    assert "dimensions.deviceOs" in settings["videoBufferEventsAdaptiveGroups"]["availableFields"]
    assert settings["videoQualityEventsAdaptiveGroups"]["enabled"] is False
    assert server.request_log[-1].kind == "settings"


@pytest.mark.parametrize("limit", [0, 10001])
def test_limit_out_of_range(server: StandinServer, limit: int) -> None:
    response = post(server.url, dataset_query(PLAYBACK), variables({"date": day(0)}, limit))
    message = error_of(response, 400)
    assert message.startswith("limit must be positive number and not greater than 10000")


def test_limit_caps_rows(server: StandinServer) -> None:
    rows = rows_of(
        post(server.url, dataset_query(PLAYBACK), variables({"date": day(0)}, 10000)), PLAYBACK
    )
    response = post(server.url, dataset_query(PLAYBACK), variables({"date": day(0)}, 10))
    assert rows_of(response, PLAYBACK) == rows[:10]


def test_range_of_31_days_is_allowed_and_32_is_not(server: StandinServer) -> None:
    ok = variables({"date_geq": day(30), "date_leq": day(0)}, 1)
    assert post(server.url, dataset_query(PLAYBACK), ok).status_code == 200
    ok_exclusive = variables({"date_gt": day(31), "date_lt": day(-1)}, 1)
    assert post(server.url, dataset_query(PLAYBACK), ok_exclusive).status_code == 200
    wide = variables({"date_geq": day(31), "date_leq": day(0)}, 1)
    message = error_of(post(server.url, dataset_query(PLAYBACK), wide), 400)
    assert message.startswith("query time range is too large")


def test_or_branches_do_not_widen_the_range(server: StandinServer) -> None:
    flt = {
        "date_geq": day(5),
        "date_leq": day(0),
        "OR": [{"date_gt": day(60)}, {"date_lt": day(80)}],
    }
    assert post(server.url, dataset_query(PLAYBACK), variables(flt, 1)).status_code == 200


def test_and_lists_narrow_the_range(server: StandinServer) -> None:
    flt = {"AND": [{"date_geq": day(10)}, {"date_leq": day(5)}]}
    assert post(server.url, dataset_query(PLAYBACK), variables(flt, 1)).status_code == 200


def test_missing_lower_date_bound(server: StandinServer) -> None:
    response = post(server.url, dataset_query(PLAYBACK), variables({"date_leq": day(0)}, 1))
    assert error_of(response, 400).startswith("query time range is too large")
    response = post(server.url, dataset_query(PLAYBACK), variables({"uid": "x"}, 1))
    assert error_of(response, 400).startswith("query time range is too large")


def test_data_older_than_retention(server: StandinServer) -> None:
    ok = variables({"date_geq": day(89), "date_leq": day(80)}, 1)
    assert post(server.url, dataset_query(PLAYBACK), ok).status_code == 200
    old = variables({"date_geq": day(90), "date_leq": day(80)}, 1)
    message = error_of(post(server.url, dataset_query(PLAYBACK), old), 400)
    assert message.startswith("cannot request data older than")


def test_too_many_fields(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(max_number_of_fields=8)
    query = dataset_query(PLAYBACK)  # 3 metrics + 6 dimensions
    message = error_of(post(server.url, query, variables({"date": day(0)})), 400)
    assert message.startswith("number of fields can't be more than 8")
    fewer = dataset_query(PLAYBACK, ["date", "uid", "clientCountryName"])
    assert post(server.url, fewer, variables({"date": day(0)})).status_code == 200


def test_disabled_dataset(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(disabled={(ACCOUNT, PLAYBACK)})
    message = error_of(post(server.url, dataset_query(PLAYBACK), variables({"date": day(0)})), 403)
    assert message.startswith("does not have access to the path")
    other = variables({"date": day(0)}, account=OTHER_ACCOUNT)
    assert post(server.url, dataset_query(PLAYBACK), other).status_code == 200


def test_order_by_a_field_that_is_not_grouped(server: StandinServer) -> None:
    query = dataset_query(PLAYBACK, ["date"])
    response = post(server.url, query, variables({"date": day(0)}, 5, ["uid_ASC"]))
    assert error_of(response, 400).startswith('cannot order by "uid"')


def test_no_credentials(server: StandinServer) -> None:
    response = post(server.url, dataset_query(PLAYBACK), variables({"date": day(0)}), headers={})
    assert error_of(response, 401) == "Unauthorized"
    assert server.request_log[-1].credential == "none"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"X-Auth-Email": "a@example.com", "X-Auth-Key": "wrong"},
        {"X-Auth-Email": "a@example.com"},
    ],
)
def test_unknown_credentials(
    make_server: Callable[..., StandinServer], headers: dict[str, str]
) -> None:
    server = make_server(api_keys={("a@example.com", "global-key"): None})
    response = post(
        server.url, dataset_query(PLAYBACK), variables({"date": day(0)}), headers=headers
    )
    assert error_of(response, 401) == "Unauthorized"


def test_global_api_key(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(api_keys={("a@example.com", "global-key"): [ACCOUNT]})
    headers = {"X-Auth-Email": "a@example.com", "X-Auth-Key": "global-key"}
    response = post(
        server.url, dataset_query(PLAYBACK), variables({"date": day(0)}), headers=headers
    )
    assert response.status_code == 200
    assert server.request_log[-1].credential == "key#1"
    other = variables({"date": day(0)}, account=OTHER_ACCOUNT)
    response = post(server.url, dataset_query(PLAYBACK), other, headers=headers)
    assert error_of(response, 403) == "not authorized for that account"


def test_token_limited_to_accounts(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(tokens={"first": None, "second": [OTHER_ACCOUNT]})
    headers = {"Authorization": "Bearer second"}
    response = post(
        server.url, dataset_query(PLAYBACK), variables({"date": day(0)}), headers=headers
    )
    assert error_of(response, 403) == "not authorized for that account"
    assert server.request_log[-1].credential == "token#2"
    other = variables({"date": day(0)}, account=OTHER_ACCOUNT)
    assert post(server.url, dataset_query(PLAYBACK), other, headers=headers).status_code == 200


def test_unknown_account(server: StandinServer) -> None:
    response = post(
        server.url, dataset_query(PLAYBACK), variables({"date": day(0)}, account="f" * 32)
    )
    assert error_of(response, 403) == "not authorized for that account"

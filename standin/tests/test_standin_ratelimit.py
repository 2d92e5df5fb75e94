"""Rate limiting with a fake clock: budget per window and credential, lockout, modes."""

from __future__ import annotations

from collections.abc import Callable

import requests

from cloudflare_standin import StandinServer
from cloudflare_standin.testing import (
    ACCOUNT,
    OTHER_ACCOUNT,
    SETTINGS_QUERY,
    TODAY,
    TOKEN,
    FakeClock,
    dataset_query,
    post,
    variables,
)

PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
MESSAGE = "rate limiter budget depleted, try again after 5 minutes"


def query(
    server: StandinServer, token: str = TOKEN
) -> tuple[int, dict[str, object], dict[str, str]]:
    response = post(server.url, dataset_query(PLAYBACK), variables({"date": TODAY.isoformat()}, 5),
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return response.status_code, response.json(), dict(response.headers)


def limited(
    make_server: Callable[..., StandinServer], **overrides: object
) -> tuple[StandinServer, FakeClock]:
    clock = FakeClock()
    settings: dict[str, object] = {
        "rate_limit_queries": 3, "rate_limit_window": 10.0, "rate_limit_lockout": 20.0,
        "clock": clock, "tokens": {TOKEN: None, "other": None},
    }  # fmt: skip
    settings.update(overrides)
    return make_server(**settings), clock


def test_budget_then_lockout_then_recovery(make_server: Callable[..., StandinServer]) -> None:
    server, clock = limited(make_server)
    for _ in range(3):
        assert query(server)[0] == 200
        clock.advance(1)
    status, body, headers = query(server)
    assert status == 429
    assert body["data"] is None
    assert body["errors"][0]["message"] == MESSAGE  # type: ignore[index]
    assert "Retry-After" not in headers
    clock.advance(19)  # still inside the 20 s lockout
    assert query(server)[0] == 429
    clock.advance(1.5)
    assert query(server)[0] == 200
    statuses = [entry.status for entry in server.request_log]
    assert statuses == [200, 200, 200, 429, 429, 200]
    assert server.request_log[3].error == MESSAGE
    assert server.request_log[3].rows == 0


def test_window_slides(make_server: Callable[..., StandinServer]) -> None:
    server, clock = limited(make_server)
    for _ in range(3):
        assert query(server)[0] == 200
    clock.advance(10.5)  # the three queries left the window
    for _ in range(3):
        assert query(server)[0] == 200
    assert query(server)[0] == 429


def test_budget_is_per_credential(make_server: Callable[..., StandinServer]) -> None:
    server, _ = limited(make_server)
    for _ in range(3):
        assert query(server)[0] == 200
    assert query(server)[0] == 429
    assert query(server, token="other")[0] == 200


def test_retry_after_header(make_server: Callable[..., StandinServer]) -> None:
    server, clock = limited(make_server, rate_limit_retry_after=True)
    for _ in range(3):
        query(server)
    assert query(server)[2]["Retry-After"] == "20"
    clock.advance(7.2)
    assert query(server)[2]["Retry-After"] == "13"  # seconds left, rounded up


def test_mode_200(make_server: Callable[..., StandinServer]) -> None:
    server, _ = limited(make_server, rate_limit_mode="200")
    for _ in range(3):
        query(server)
    status, body, _ = query(server)
    assert status == 200
    assert body["data"] is None
    assert body["errors"][0]["message"] == MESSAGE  # type: ignore[index]


def test_settings_count_once_and_budget_field(make_server: Callable[..., StandinServer]) -> None:
    server, _ = limited(make_server)
    response = post(server.url, SETTINGS_QUERY, {"accountTag": ACCOUNT})
    assert response.status_code == 200
    budget_query = "query { viewer { budget } }"
    assert post(server.url, budget_query).json()["data"]["viewer"]["budget"] == 2
    assert query(server)[0] == 200
    assert query(server)[0] == 200
    assert query(server)[0] == 429


def test_account_based_limits_carry_code_budget(make_server: Callable[..., StandinServer]) -> None:
    server, _ = limited(make_server, rate_limit_queries=0)
    response = post(server.url, dataset_query(PLAYBACK), variables({"date": TODAY.isoformat()}),
                    headers={"Authorization": f"Bearer {TOKEN}",
                             "X-Rate-Limit-Type": "account-based"})  # fmt: skip
    assert response.status_code == 429
    assert response.json()["errors"][0]["extensions"]["code"] == "budget"


def test_account_based_limits_keep_one_budget_per_account(
    make_server: Callable[..., StandinServer],
) -> None:
    server, _ = limited(make_server, accounts=[ACCOUNT, OTHER_ACCOUNT])
    account_based = {"Authorization": f"Bearer {TOKEN}", "X-Rate-Limit-Type": "account-based"}

    def ask(account: str) -> requests.Response:
        flt = {"date": TODAY.isoformat()}
        return post(server.url, dataset_query(PLAYBACK), variables(flt, 5, account=account),
                    headers=account_based)  # fmt: skip

    for _ in range(3):
        assert ask(ACCOUNT).status_code == 200
    refused = ask(ACCOUNT)
    assert refused.status_code == 429
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "budget"
    assert error["message"] == (
        f"Account {ACCOUNT} has exceeded its rate limit. Please try again after 5 minutes."
    )
    # The other account has its own budget, and the user-wide budget was not spent.
    assert all(ask(OTHER_ACCOUNT).status_code == 200 for _ in range(3))
    assert query(server)[0] == 200


def test_no_limit(make_server: Callable[..., StandinServer]) -> None:
    server, _ = limited(make_server, rate_limit_queries=None)
    assert all(query(server)[0] == 200 for _ in range(8))

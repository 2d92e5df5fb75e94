"""The run's sessions one request at a time: retry waits, budgets per family, who is charged.

tests/test_reliability.py and tests/test_budget.py show these through whole syncs against the
stand-in; this module pins each rule on its own, fast enough to run for every mutant of
session.py (docs/mutation.md). Requests go to a local HTTP server, not a mock.
"""

from __future__ import annotations

import http.server
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tap_cloudflare_stream.cloudflare.answers import (
    ANALYTICS_PERMISSION,
    STREAM_PERMISSION,
    Answer,
    CloudflareRateLimitError,
    CloudflareTransientError,
    read_answer,
)
from tap_cloudflare_stream.cloudflare.budget import AccountBudgets, RequestBudget
from tap_cloudflare_stream.cloudflare.session import CloudflareAPI, CloudflareSession, RetryPolicy

HEADERS = {"Authorization": "Bearer tok"}


def waits(*failures: Exception) -> list[float]:
    """The waits RetryPolicy.waits gives after each failure, as backoff drives it."""
    generator = RetryPolicy.waits()
    assert next(generator) == 0.0
    return [generator.send(failure) for failure in failures]


def rate_limited(retry_after: float | None) -> CloudflareRateLimitError:
    return CloudflareRateLimitError("limited", None, retry_after)


def test_faults_wait_from_one_second_doubling_up_to_a_minute() -> None:
    fault = CloudflareTransientError("fault")
    assert waits(*[fault] * 9) == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_a_rate_limit_waits_its_retry_after_or_a_minute_and_leaves_the_fault_waits_alone() -> None:
    fault = ConnectionResetError()
    assert waits(fault, rate_limited(12.5), rate_limited(None), fault, rate_limited(0.0)) == [
        1.0,
        12.5,
        60.0,
        2.0,
        0.0,
    ]


def test_eight_tries_outlast_a_five_minute_lockout() -> None:
    assert RetryPolicy.max_tries() == 8
    assert sum(waits(*[rate_limited(None)] * 7)) > 300
    assert RetryPolicy.REQUEST_TIMEOUT_SECONDS == 60


class Server(http.server.ThreadingHTTPServer):
    """Answers each POST with the next (status, body) of `answers`; records what it got."""

    def __init__(self, answers: list[tuple[int, dict[str, Any]]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers = answers
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/graphql"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw.decode()}
        self.server.received.append((dict(self.headers), body))
        status, answer = self.server.answers.pop(0)
        content = json.dumps(answer).encode()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/elsewhere")  # followed, it would be a GET: 501
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def start(*answers: tuple[int, dict[str, Any]]) -> Server:
        server = Server(list(answers))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def decode(content: bytes) -> Answer[Any]:
    return Answer(json.loads(content), [], True)


def call(session: CloudflareSession, server: Server, payload: dict[str, Any]) -> Any:
    return session.call(
        server.url,
        payload,
        lambda response: read_answer(response, decode, "the settings query", session.permission),
        "the settings query",
        logging.getLogger("test-session"),
    )


def test_every_attempt_spends_from_the_budget_and_carries_the_credentials(
    serve: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(RetryPolicy, "FIRST_RETRY_SECONDS", 0.01)
    server = serve((503, {}), (503, {}), (200, {"ok": True}))
    budget = RequestBudget(10)
    session = CloudflareSession(HEADERS, budget, ANALYTICS_PERMISSION)
    with caplog.at_level(logging.WARNING, "test-session"):
        assert call(session, server, {"query": "q"}) == {"ok": True}
    assert len(budget._sent) == 3  # refused attempts count too
    assert [headers["Authorization"] for headers, _ in server.received] == ["Bearer tok"] * 3
    assert all("X-Rate-Limit-Type" not in headers for headers, _ in server.received)
    assert [re.sub(r"in \d+\.\d s", "in W s", r.getMessage()) for r in caplog.records] == [
        f"Retrying the settings query in W s (attempt {n} of 8 failed): Cloudflare server "
        "error for the settings query: HTTP 503 Service Unavailable"
        for n in (1, 2)
    ]


def test_a_redirect_is_an_answer_not_followed(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RetryPolicy, "FIRST_RETRY_SECONDS", 0.01)
    server = serve(*[(302, {})] * 8)
    session = CloudflareSession(HEADERS, RequestBudget(100), STREAM_PERMISSION)
    with pytest.raises(Exception, match="api_url answered HTTP 302 Found for the settings query"):
        call(session, server, {"query": "q"})
    assert len(server.received) == 1


def test_account_based_limiting_charges_the_account_the_query_names(serve: Any) -> None:
    a, b = "a" * 32, "b" * 32
    server = serve(*[(200, {"ok": True})] * 4)
    api = CloudflareAPI(HEADERS, 5, account_based=True)
    session = api.graphql
    assert session.account_budgets is not None
    for account in (a, a, b):
        call(session, server, {"query": "q", "variables": {"accountTag": account}})
    call(session, server, {"query": "settings without variables"})
    budgets = session.account_budgets
    assert [len(budgets.of(x)._sent) for x in (a, b, "")] == [2, 1, 1]
    assert len(session.budget._sent) == 0
    assert {headers["X-Rate-Limit-Type"] for headers, _ in server.received} == {"account-based"}


def test_each_family_has_its_own_budget_and_permission() -> None:
    api = CloudflareAPI(HEADERS, 240)
    assert (api.graphql.budget.limit, api.rest.budget.limit) == (240, 1200)
    assert (api.graphql.permission, api.rest.permission) == (
        ANALYTICS_PERMISSION,
        STREAM_PERMISSION,
    )
    assert api.graphql.account_budgets is None
    assert api.rest.account_budgets is None
    assert "X-Rate-Limit-Type" not in api.graphql.headers
    off = CloudflareAPI(HEADERS, 0, account_based=True)
    assert (off.graphql.budget.limit, off.rest.budget.limit) == (0, 0)
    assert isinstance(off.graphql.account_budgets, AccountBudgets)
    assert off.graphql.account_budgets.limit == 0
    assert off.graphql.headers["X-Rate-Limit-Type"] == "account-based"
    assert "X-Rate-Limit-Type" not in off.rest.headers


def test_a_request_that_cannot_be_read_is_charged_to_no_account(serve: Any) -> None:
    server = serve((200, {"ok": True}))
    session = CloudflareAPI(HEADERS, 5, account_based=True).graphql
    prepared = requests.Request("POST", server.url, data=b"not json").prepare()
    session.send(prepared, timeout=10)
    assert session.account_budgets is not None
    assert len(session.account_budgets.of("")._sent) == 1

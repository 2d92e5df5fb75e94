"""Every fault kind answers as specified, scripted by request number or seeded at random."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from cloudflare_standin import Fault, StandinServer
from cloudflare_standin.testing import AUTH, TODAY, dataset_query, post, rows_of, variables

PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
BUFFER = "videoBufferEventsAdaptiveGroups"
QUERY = dataset_query(PLAYBACK)
VARIABLES = variables({"date": TODAY.isoformat()}, 20)


def faulty(make_server: Callable[..., StandinServer], kind: str, **fields: Any) -> StandinServer:
    return make_server(faults=[Fault(kind, at=[2], **fields)])


def correct_rows(server: StandinServer) -> list[dict[str, Any]]:
    return rows_of(post(server.url, QUERY, VARIABLES), PLAYBACK)


@pytest.mark.parametrize(
    ("kind", "status"), [("500_html", 500), ("502_html", 502), ("503_html", 503)]
)
def test_html_edge_errors(
    make_server: Callable[..., StandinServer], kind: str, status: int
) -> None:
    server = faulty(make_server, kind)
    assert post(server.url, QUERY, VARIABLES).status_code == 200
    response = post(server.url, QUERY, VARIABLES)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"Error code {status}" in response.text
    assert post(server.url, QUERY, VARIABLES).status_code == 200
    assert [e.fault for e in server.request_log] == [None, kind, None]
    assert server.request_log[1].status == status


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("429", 429, "rate limiter budget depleted, try again after 5 minutes"),
        ("ratelimit_200", 200, "rate limiter budget depleted, try again after 5 minutes"),
        ("busy", 503, "too many queries in progress"),
        ("busy_200", 200, "too many queries in progress"),
        ("internal_200", 200, "Internal server error"),
    ],
)
def test_error_bodies(
    make_server: Callable[..., StandinServer], kind: str, status: int, message: str
) -> None:
    server = faulty(make_server, kind)
    correct_rows(server)
    response = post(server.url, QUERY, VARIABLES)
    body = response.json()
    assert response.status_code == status
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith(message)
    assert "timestamp" in body["errors"][0]["extensions"]
    assert "Retry-After" not in response.headers
    assert server.request_log[1].fault == kind
    assert server.request_log[1].error is not None


def test_429_with_retry_after(make_server: Callable[..., StandinServer]) -> None:
    server = faulty(make_server, "429_retry_after", seconds=7)
    correct_rows(server)
    response = post(server.url, QUERY, VARIABLES)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_data_null_and_no_account(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(faults=[Fault("data_null", at=[1]), Fault("no_account", at=[2])])
    first = post(server.url, QUERY, VARIABLES)
    assert (first.status_code, first.json()) == (200, {"data": None, "errors": None})
    second = post(server.url, QUERY, VARIABLES)
    assert second.json() == {"data": {"viewer": {"accounts": []}}, "errors": None}


def test_slow(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(faults=[Fault("slow", at=[1], seconds=0.6)])
    with pytest.raises(requests.exceptions.ReadTimeout):
        post(server.url, QUERY, VARIABLES, timeout=0.2)
    assert correct_rows(server)


def raw_exchange(server: StandinServer) -> tuple[bytes, bytes]:
    """Send one request on a raw socket; return (headers, body bytes received until close)."""
    address = urlsplit(server.url)
    body = json.dumps({"query": QUERY, "variables": VARIABLES}).encode()
    request = (
        f"POST {address.path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    assert address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    return head, payload


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return int(value)
    raise AssertionError("no Content-Length")


def test_drop(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(faults=[Fault("drop", at=[1, 2])])
    head, payload = raw_exchange(server)
    assert head.startswith(b"HTTP/1.1 200")
    assert 0 < len(payload) < content_length(head)
    broken = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    with pytest.raises(broken):
        post(server.url, QUERY, VARIABLES)
    assert correct_rows(server)
    assert [e.fault for e in server.request_log] == ["drop", "drop", None]


def test_truncated(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(faults=[Fault("truncated", at=[1, 2])])
    head, payload = raw_exchange(server)
    assert head.startswith(b"HTTP/1.1 200")
    assert len(payload) == content_length(head)
    with pytest.raises(json.JSONDecodeError):
        json.loads(payload)
    response = post(server.url, QUERY, VARIABLES)
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_mangled_rows(make_server: Callable[..., StandinServer]) -> None:
    server = make_server(
        faults=[
            Fault("missing_field", at=[2]),
            Fault("extra_field", at=[3]),
            Fault("wrong_type", at=[4]),
            Fault("bad_uid", at=[5]),
        ]
    )
    good = correct_rows(server)
    missing, extra, wrong, bad = (correct_rows(server) for _ in range(4))
    assert "count" not in missing[0]
    assert missing[1:] == good[1:]
    assert extra == [{**row, "unexpected": 1} for row in good]
    assert wrong[0]["count"] == "abc"
    assert wrong[1:] == good[1:]
    assert bad[0]["dimensions"]["uid"] == "not-a-uid!"
    assert bad[1:] == good[1:]


def test_fault_for_one_dataset_counts_its_requests(
    make_server: Callable[..., StandinServer],
) -> None:
    server = make_server(faults=[Fault("502_html", at=[2], dataset=BUFFER)])
    buffer_query = dataset_query(BUFFER)
    statuses = []
    for query in (QUERY, buffer_query, QUERY, buffer_query, buffer_query):
        statuses.append(post(server.url, query, VARIABLES).status_code)
    assert statuses == [200, 200, 200, 502, 200]


def test_random_faults_are_seeded(make_server: Callable[..., StandinServer]) -> None:
    def run() -> list[str | None]:
        server = make_server(fault_probability=0.5, fault_kinds=["502_html", "busy", "extra_field"],
                             fault_seed=3)  # fmt: skip
        for _ in range(12):
            post(server.url, QUERY, VARIABLES)
        return [entry.fault for entry in server.request_log]

    first, second = run(), run()
    assert first == second
    assert {"502_html", "busy", "extra_field"} & set(first)
    assert None in first


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("teapot")

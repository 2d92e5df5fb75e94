"""Shared fixtures: a local stand-in of Cloudflare's GraphQL Analytics API on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cloudflare_standin import StandinConfig, StandinServer

from tests.standin import ACCOUNT_A, ACCOUNT_B, API_KEY, EMAIL, NOW, TODAY, TOKEN

StartStandin = Callable[..., StandinServer]


@pytest.fixture
def start_standin() -> Iterator[StartStandin]:
    """Start stand-ins with small data (override any StandinConfig field); stopped afterwards."""
    servers: list[StandinServer] = []

    def start(**overrides: Any) -> StandinServer:
        options: dict[str, Any] = {
            "accounts": [ACCOUNT_A, ACCOUNT_B],
            "seed": 11,
            "rows_per_day": 40,
            "videos": 12,
            "tokens": {TOKEN: None},
            "api_keys": {(EMAIL, API_KEY): None},
            "rate_limit_queries": None,
            # The tests' clock, never the wall clock's date.
            "today": TODAY,
            "now": NOW,
        }
        options.update(overrides)
        server = StandinServer(StandinConfig(**options))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# End-to-end fixtures (real PostgreSQL, real Meltano), kept in their own modules.
from tests.fixtures_meltano import meltano_project  # noqa: E402, F401
from tests.fixtures_pg import postgres_database, postgres_server  # noqa: E402, F401
from tests.fixtures_warehouses import bigquery_warehouse, snowflake_warehouse  # noqa: E402, F401

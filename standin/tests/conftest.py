"""Fixtures: stand-in servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudflare_standin import StandinConfig, StandinServer
from cloudflare_standin.testing import base_config


@pytest.fixture
def make_server() -> Iterator[Callable[..., StandinServer]]:
    """Start servers from config overrides; stop them at teardown."""
    started: list[StandinServer] = []

    def start(config: StandinConfig | None = None, **overrides: Any) -> StandinServer:
        server = StandinServer(config if config is not None else base_config(**overrides))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., StandinServer]) -> StandinServer:
    """A started server with the base configuration."""
    return make_server()

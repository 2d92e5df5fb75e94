"""Sends every snowflake-connector-python connection of this venv to a local fakesnow server.

Test harness only, installed into `target-snowflake--emulated` (meltano.yml) and nowhere else.
fakesnow_client.pth calls `install` at interpreter start when FAKESNOW_SERVER is set (e.g.
`http://127.0.0.1:8123`): each connection then gets that host, port and protocol, which
meltanolabs-target-snowflake has no settings for. The account, user and password stay as
configured (fakesnow accepts any).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse


def install(server: str) -> None:
    """Patch SnowflakeConnection so that it connects to `server` (http://host:port)."""
    from snowflake.connector import connection  # type: ignore[import-not-found]

    url = urlparse(server)
    if url.scheme != "http" or not url.hostname or not url.port:
        raise SystemExit(f"FAKESNOW_SERVER={server!r}: expected http://HOST:PORT")
    init = connection.SnowflakeConnection.__init__

    def to_server(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.update(host=url.hostname, port=url.port, protocol="http")
        init(self, *args, **kwargs)

    connection.SnowflakeConnection.__init__ = to_server

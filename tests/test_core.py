"""singer-sdk's standard tap tests, run against the local stand-in."""

from __future__ import annotations

import atexit

from cloudflare_standin import StandinConfig, StandinServer
from singer_sdk.testing import get_tap_test_class

from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.standin import ACCOUNT_A, ACCOUNT_B, TOKEN, days_ago, tap_config

# The factory needs the configuration when the module is imported, so the stand-in starts here.
_STANDIN = StandinServer(
    StandinConfig(
        accounts=[ACCOUNT_A, ACCOUNT_B],
        rows_per_day=30,
        videos=8,
        tokens={TOKEN: None},
        rate_limit_queries=None,
    )
)
_STANDIN.start()
atexit.register(_STANDIN.stop)

TestTapCloudflareStream = get_tap_test_class(
    tap_class=TapCloudflareStream,
    config=tap_config(_STANDIN.url, start_date=days_ago(3).isoformat(), page_size=50),
)

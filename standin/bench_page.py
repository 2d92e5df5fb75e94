"""Time 10,000-row pages of the tap's query shape out of a >= 1,000,000-row window."""

from __future__ import annotations

import datetime
import sys
import time
from typing import Any

import requests

from cloudflare_standin import StandinConfig, StandinServer
from cloudflare_standin.testing import ACCOUNT, FINEST, TODAY, dataset_query, seek_filter

PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
ORDER = [f"{name}_ASC" for name in FINEST[PLAYBACK]]


def main() -> int:
    """Serve 34,000 rows a day; page through a 31-day window at 10,000 rows a page."""
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    config = StandinConfig(accounts=[ACCOUNT], today=TODAY, rows_per_day=34_000,
                           tokens={"bench": None}, rate_limit_queries=None)  # fmt: skip
    start, end = (TODAY - datetime.timedelta(days=30)).isoformat(), TODAY.isoformat()
    with StandinServer(config) as server, requests.Session() as session:
        session.headers["Authorization"] = "Bearer bench"
        last = None
        timings = []
        total = 0
        for _ in range(pages):
            variables = {"accountTag": ACCOUNT, "limit": 10_000, "orderBy": ORDER,
                         "filter": seek_filter(FINEST[PLAYBACK], start, end, last)}  # fmt: skip
            began = time.perf_counter()
            response = session.post(
                server.url, json={"query": dataset_query(PLAYBACK), "variables": variables}
            )
            rows = response.json()["data"]["viewer"]["accounts"][0][PLAYBACK]
            timings.append(time.perf_counter() - began)
            total += len(rows)
            if len(rows) < 10_000:
                break
            last = rows[-1]["dimensions"]
        window_rows = sum(
            len(server_day(config, day))
            for day in (TODAY - datetime.timedelta(days=n) for n in range(31))
        )
    warm = sorted(timings[1:]) or timings
    print(f"window rows (31 days): {window_rows:,}")
    print(f"pages: {len(timings)}, rows fetched: {total:,}")
    print(f"first page (cold, generates ~1 day): {timings[0]:.3f} s")
    print(f"10,000-row page: median {warm[len(warm) // 2]:.3f} s, max {max(timings):.3f} s")
    return 0


def server_day(config: StandinConfig, day: datetime.date) -> Any:
    """One day's stored rows (for the window's size)."""
    from cloudflare_standin.data import STORE
    from cloudflare_standin.datasets import DATASETS

    return STORE.day(config, ACCOUNT, DATASETS[PLAYBACK], day)


if __name__ == "__main__":
    sys.exit(main())

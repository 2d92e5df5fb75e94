"""Time a demo-sized backfill of both hourly datasets: 2 accounts, 30 days, 6-hour windows.

Pages use the hourly streams' query shape (tests' `hourly_query`, `hourly_seek_filter`) with
the default settings (maxDuration 6 h, maxPageSize 1000) and notOlderThan raised to 31 days.
"""

from __future__ import annotations

import datetime
import sys
import time

import requests

from cloudflare_standin import StandinConfig, StandinServer
from cloudflare_standin.testing import (
    ACCOUNT,
    HOURLY_DIMENSIONS,
    OTHER_ACCOUNT,
    TODAY,
    hourly_query,
    hourly_seek_filter,
)


def main() -> int:
    """Read every window of both datasets for two accounts; print page timings."""
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    config = StandinConfig(accounts=[ACCOUNT, OTHER_ACCOUNT], today=TODAY,
                           tokens={"bench": None}, rate_limit_queries=None)  # fmt: skip
    for settings in config.hourly.values():
        settings.not_older_than = 31 * 86400
    now = datetime.datetime.fromtimestamp(config.current_time(), datetime.timezone.utc)
    first = now.replace(minute=0, second=0) - datetime.timedelta(days=days)
    timings: list[float] = []
    rows_total = 0
    began_all = time.perf_counter()
    with StandinServer(config) as server, requests.Session() as session:
        session.headers["Authorization"] = "Bearer bench"
        for dataset, dims in HOURLY_DIMENSIONS.items():
            order = [f"{name}_ASC" for name in dims]
            for account in config.accounts:
                start = first
                while start < now:
                    end = start + datetime.timedelta(hours=6)
                    last = None
                    while True:
                        flt = hourly_seek_filter(dims, start, end, last)
                        variables = {"accountTag": account, "limit": 1000, "orderBy": order,
                                     "filter": flt}  # fmt: skip
                        began = time.perf_counter()
                        response = session.post(
                            server.url,
                            json={"query": hourly_query(dataset), "variables": variables},
                        )
                        rows = response.json()["data"]["viewer"]["accounts"][0][dataset]
                        timings.append(time.perf_counter() - began)
                        rows_total += len(rows)
                        if len(rows) < 1000:
                            break
                        last = rows[-1]["dimensions"]
                    start = end
    ordered = sorted(timings)
    print(f"{days} days x 2 accounts x 2 datasets: {len(timings)} pages, {rows_total:,} rows")
    print(f"page: median {ordered[len(ordered) // 2]:.4f} s, max {ordered[-1]:.4f} s")
    print(f"total: {time.perf_counter() - began_all:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

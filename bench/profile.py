"""Where the tap's time goes: cProfile over an in-process sync against a stand-in process.

    python -m bench.profile [--days 7] [--rows-per-day 15000] [--top 25]

The stand-in runs in its own process, so the profile holds only the tap (and the time it waits
for answers, under socket recv_into). Singer output goes to /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import os
import pstats
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.harness import StandinProcess, catalog, tap_config
from tap_cloudflare_stream.analytics.windows import utc_today
from tap_cloudflare_stream.tap import TapCloudflareStream


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Point file descriptor 1 (and so sys.stdout) at /dev/null for the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Profile one sync and print the functions that took the most time of their own."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--rows-per-day", type=int, default=15_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    today = utc_today()
    first = today - datetime.timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory(prefix="tap-cloudflare-stream-profile-") as tmp:
        workdir = Path(tmp)
        selected = catalog(workdir)
        standin = StandinProcess(args.rows_per_day, today, workdir / "requests.jsonl")
        try:
            standin.warm_up(first, today)
            tap = TapCloudflareStream(
                config=tap_config(standin.url, first, today), catalog=selected
            )
            profiler = cProfile.Profile()
            with stdout_to_devnull():
                profiler.runcall(tap.sync_all)
        finally:
            standin.stop()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.strip_dirs().sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long a scheduled day's run takes for N accounts under the request budget.

    python -m bench.daily                          # from the project root, in .venv
    python -m bench.daily --accounts 10 100 --budget 90 300
    python -m bench.daily --days 90               # a first run: 90 days, 3 windows per stream

A day's run after the first reads bookmark - lookback_days .. today for every stream and
account (prod's lookback_days of 3: 5 days, one window, one page per stream and account here).
It runs on bench/budget.py's compressed clock: the tap's RequestBudget waits by advancing a
simulated clock, each request spends a random 0-0.4 s in flight, and the stand-in enforces
Cloudflare's 300 queries per 5 minutes. "API time" is that simulated time (waits plus
latency); the CPU the tap spends on rows comes on top (see README, Performance).
"""

from __future__ import annotations

import argparse

from bench.budget import simulate

LOOKBACK_DAYS = 3  # meltano.yml, environment prod


def main() -> None:
    """Print one line per (accounts, budget)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--budget", type=int, nargs="+", default=[300, 90])
    parser.add_argument("--rows-per-day", type=int, default=200)
    parser.add_argument("--days", type=int, default=LOOKBACK_DAYS + 2, help="days read")
    args = parser.parse_args()
    print("| accounts | budget | requests | max in any 300 s | refused | API time |")
    print("|---:|---:|---:|---:|---:|---:|")
    for accounts in args.accounts:
        for budget in args.budget:
            result = simulate(
                budget=budget,
                days=args.days,
                rows_per_day=args.rows_per_day,
                page_size=10000,
                accounts=[f"{n:032x}" for n in range(1, accounts + 1)],
            )
            assert result.error is None, result.error
            minutes = result.simulated_seconds / 60
            print(
                f"| {accounts} | {budget} | {result.requests} | {result.max_in_any_window} "
                f"| {result.refusals} | {minutes:.1f} min |",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""What a scheduled day costs: requests per account, and how long N accounts take under a budget.

    python -m bench.daily                              # both tables (about 8 minutes)
    python -m bench.daily --accounts 10 100 --budget 90
    python -m bench.daily --first-run --accounts 10    # no state: 90 days and the hourly retention

A scheduled day's run starts from the state a run 24 hours earlier left: each daily stream's
bookmark is yesterday, each hourly stream's the hour of 24 hours ago. It reads bookmark -
lookback_days (3, as meltano.yml's prod) to today, and the hours from bookmark -
hourly_lookback_hours (3, the default) to the current hour, with the stand-in's maxDuration
(31 days; 6 hours for the hourly datasets) and data that fits a page.

The first table counts requests per account at several times of day (the hourly windows break
at 00:00, 06:00, 12:00 and 18:00 UTC, so a day is 5 or 6 hourly windows per stream). The second
runs every analytics stream for N accounts at 12:30, a 6-window time, on bench/budget.py's
compressed clock: the tap's budgets wait by advancing a simulated clock, each request spends a
random 0-0.4 s in flight, and the stand-in enforces Cloudflare's limit (per user, or per account
with account_based_rate_limit). "API time" is that simulated time, waits plus latency; the CPU
the tap spends on rows comes on top (README, Performance).
"""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from bench.budget import BudgetResult, simulate
from tap_cloudflare_stream.analytics.datasets import DATASETS
from tap_cloudflare_stream.analytics.windows import DAY, UTC, floor
from tap_cloudflare_stream.catalog.resources import RESOURCES

LOOKBACK_DAYS = 3  # meltano.yml, environment prod
HOUR = datetime.timedelta(hours=1)
DAILY = tuple(d.stream_name for d in DATASETS if d.time_key.step >= DAY)
HOURLY = tuple(d.stream_name for d in DATASETS if d.time_key.step < DAY)
CATALOG = tuple(r.stream_name for r in RESOURCES)
FAMILIES = {
    "daily streams": DAILY,
    "hourly streams": HOURLY,
    "catalog streams": CATALOG,
    "every stream": DAILY + HOURLY + CATALOG,
}
TIMES = ("00:10", "05:50", "06:10", "12:30", "18:10", "23:50")
WALL_TIME_AT = "12:30"


def at(clock_time: str, day: datetime.date | None = None) -> datetime.datetime:
    """Today (UTC) at HH:MM."""
    hour, minute = (int(part) for part in clock_time.split(":"))
    day = day or datetime.datetime.now(UTC).date()
    return datetime.datetime.combine(day, datetime.time(hour, minute), UTC)


def scheduled_state(accounts: list[str], now: datetime.datetime) -> dict[str, Any]:
    """The state a run 24 hours before `now` left: yesterday, and the hour of 24 hours ago."""
    before = now - DAY
    marks = {stream: before.date().isoformat() for stream in DAILY}
    marks.update({stream: f"{floor(before, HOUR):%Y-%m-%dT%H:%M:%SZ}" for stream in HOURLY})
    return {
        "bookmarks": {
            stream: {
                "partitions": [
                    {
                        "context": {"account_id": account},
                        "replication_key": "date" if stream in DAILY else "datetime_hour",
                        "replication_key_value": mark,
                    }
                    for account in accounts
                ]
            }
            for stream, mark in marks.items()
        }
    }


def accounts_of(count: int) -> list[str]:
    """`count` distinct account tags."""
    return [f"{n:032x}" for n in range(1, count + 1)]


def day_run(
    accounts: int,
    budget: int,
    now: datetime.datetime,
    streams: tuple[str, ...],
    *,
    account_based: bool = False,
    first_run_days: int | None = None,
    rows_per_day: int = 200,
) -> BudgetResult:
    """One scheduled day's run (or, with `first_run_days`, a first run) of `streams`."""
    tags = accounts_of(accounts)
    result = simulate(
        budget=budget,
        accounts=tags,
        rows_per_day=rows_per_day,
        page_size=None,  # each dataset's maxPageSize
        streams=streams,
        now=now,
        state=None if first_run_days else scheduled_state(tags, now),
        days=first_run_days or 1,
        account_based=account_based,
        settings={"lookback_days": LOOKBACK_DAYS},
    )
    assert result.error is None, result.error
    return result


def requests_table(times: tuple[str, ...]) -> None:
    """GraphQL (and REST) requests of one account's scheduled day, by stream family and time."""
    print("Requests per account and scheduled day (GraphQL; REST for the catalog), at UTC:")
    print("| streams | " + " | ".join(times) + " |")
    print("|---|" + "---:|" * len(times))
    for family, streams in FAMILIES.items():
        cells = []
        for clock_time in times:
            result = day_run(1, 300, at(clock_time), streams)
            parts = [str(result.requests)] if result.requests else []
            parts += [f"{result.rest_requests} REST"] if result.rest_requests else []
            cells.append(" + ".join(parts))
        print(f"| {family} | " + " | ".join(cells) + " |", flush=True)
    print()


def wall_table(
    accounts: list[int], budgets: list[int], first_run_days: int | None, rows_per_day: int
) -> None:
    """API time of the analytics streams for N accounts, per budget, per user and per account."""
    what = f"a first run ({first_run_days} days)" if first_run_days else "a scheduled day"
    print(f"Every analytics stream, {what}, at {WALL_TIME_AT} UTC, one token:")
    print(
        "| accounts | requests_per_5_minutes | limits | GraphQL requests "
        "| most in any 300 s | refused | API time |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|")
    for count in accounts:
        for budget in budgets:
            for account_based in (False, True):
                result = day_run(
                    count,
                    budget,
                    at(WALL_TIME_AT),
                    DAILY + HOURLY,
                    account_based=account_based,
                    first_run_days=first_run_days,
                    rows_per_day=rows_per_day,
                )
                limits = "per account" if account_based else "per user"
                print(
                    f"| {count} | {budget} | {limits} | {result.requests:,} "
                    f"| {result.max_in_any_window} | {result.refusals} "
                    f"| {result.simulated_seconds / 60:.1f} min |",
                    flush=True,
                )
    print()


def main() -> None:
    """Print the requests table and the API-time table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--budget", type=int, nargs="+", default=[300, 90])
    parser.add_argument("--times", nargs="+", default=list(TIMES), help="UTC HH:MM")
    parser.add_argument("--rows-per-day", type=int, default=200)
    parser.add_argument(
        "--first-run", action="store_true", help="no state: read 90 days (API-time table only)"
    )
    parser.add_argument("--skip-requests", action="store_true", help="skip the first table")
    args = parser.parse_args()
    if not (args.skip_requests or args.first_run):
        requests_table(tuple(args.times))
    wall_table(args.accounts, args.budget, 90 if args.first_run else None, args.rows_per_day)


if __name__ == "__main__":
    main()

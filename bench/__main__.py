"""Benchmark: the tap against a bare extractor, its requests, its memory, and its API budget.

    python -m bench                 # from the project root, in the project's virtualenv
    python -m bench --repeat 3      # best of three runs per extractor (less noise)
    python -m bench --budget-only   # only the budget simulations (requests_per_5_minutes 300, 90)

A stand-in of Cloudflare's API runs in its own process with one account whose
video_playback_events hold about 15,000 rows a day. Each extractor runs as its own process,
writing to /dev/null; its CPU (user + sys) comes from os.wait4 and its peak RSS from its own
VmHWM (wait4's ru_maxrss would include this process's peak, inherited at fork), so the
stand-in's CPU and memory are never counted. The extractors:

- tap: the real CLI, `tap-cloudflare-stream --config ... --catalog ...` (one stream selected);
- bare (json): bench/bare_extractor.py, plain requests + json, the same queries and pages;
- bare (msgspec): the same with msgspec's untyped JSON, a stricter floor.

Each reads about 100,000 rows (7 days, one window) and about 1,000,000 rows (70 days, three
windows), 10,000 rows a page. Requests are read from the stand-in's request log. Then a
compressed-clock sync shows the request budget at work (bench/budget.py). Figures are printed
and written to bench/results.json with the commit they ran on, and the docs' figures blocks
are rewritten from them (bench/figures.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import budget as budget_sim
from bench import figures
from bench.harness import (
    ACCOUNT,
    ROOT,
    STREAM,
    TOKEN,
    PeakMemory,
    StandinProcess,
    catalog,
    tap_command,
)
from bench.harness import tap_config as make_tap_config
from tap_cloudflare_stream.analytics.windows import utc_today

EXTRACTORS = ("tap", "bare (json)", "bare (msgspec)")
BUDGETS = (300, 90)  # requests_per_5_minutes of the budget simulations
_RECORD_COUNT = re.compile(rb'METRIC: \{"type":"counter","metric":"record_count","value":(\d+)')
_BARE_COUNT = re.compile(rb"bare extractor: (\d+) rows")


@dataclass
class Run:
    """One extractor process reading one range: its cost and its requests."""

    extractor: str
    size: str
    rows: int
    cpu_seconds: float
    user_seconds: float
    sys_seconds: float
    peak_rss_mb: float
    wall_seconds: float
    data_requests: int
    fewest_data_requests: int
    other_requests: int
    windows: int
    rows_served: int

    @property
    def rows_per_cpu_second(self) -> float:
        """Rows per CPU-second of the extractor's process."""
        return self.rows / self.cpu_seconds


def fewest_requests(entries: list[dict[str, Any]], page_size: int) -> tuple[int, int, int]:
    """(fewest data requests, windows, rows served) for the data pages in `entries`.

    A window of n rows needs ceil(n / page_size) pages, and when n is an exact multiple of the
    page size (0 included) one more, the page that comes back short and says the window ended:
    that is n // page_size + 1 in every case. Nothing can learn that a window ended with fewer.
    """
    rows: dict[tuple[str, str, str], int] = {}
    for entry in entries:
        if entry["kind"] == "data" and entry["status"] == 200:
            window = entry["variables"]["filter"]
            key = (entry["variables"]["accountTag"], window["date_geq"], window["date_leq"])
            rows[key] = rows.get(key, 0) + entry["rows"]
    return sum(n // page_size + 1 for n in rows.values()), len(rows), sum(rows.values())


def measure(
    command: list[str], stderr_path: Path
) -> tuple[resource.struct_rusage, float, float, bytes]:
    """Run a process with stdout to /dev/null; its rusage, peak MB, wall seconds and stderr."""
    with stderr_path.open("wb") as stderr, open(os.devnull, "wb") as devnull:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=devnull, stderr=stderr, cwd=ROOT)
        with PeakMemory(process.pid) as peak:
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
    output = stderr_path.read_bytes()
    if process.returncode != 0:
        tail = output.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{tail}")
    return usage, peak.megabytes, wall, output


def run_one(
    *,
    extractor: str,
    size: str,
    days: tuple[datetime.date, datetime.date],
    standin: StandinProcess,
    workdir: Path,
    page_size: int,
) -> Run:
    """Run one extractor over one range of days and read its figures."""
    first, last = days
    if extractor == "tap":
        config = workdir / "tap-config.json"
        config.write_text(
            json.dumps({**make_tap_config(standin.url, first, last), "page_size": page_size})
        )
        command = [
            *tap_command(),
            "--config",
            str(config),
            "--catalog",
            str(workdir / "catalog.json"),
        ]
    else:
        codec = "msgspec" if "msgspec" in extractor else "json"
        command = [
            sys.executable,
            "-m",
            "bench.bare_extractor",
            "--url",
            standin.url,
            "--token",
            TOKEN,
            "--account",
            ACCOUNT,
            "--stream",
            STREAM,
            "--start",
            first.isoformat(),
            "--end",
            last.isoformat(),
            "--page-size",
            str(page_size),
            "--codec",
            codec,
        ]
    before = standin.log_size()
    usage, peak_mb, wall, stderr = measure(command, workdir / "stderr.log")
    entries = standin.log_since(before)
    counts = _RECORD_COUNT if extractor == "tap" else _BARE_COUNT
    rows = sum(int(n) for n in counts.findall(stderr))
    fewest, windows, served = fewest_requests(entries, page_size)
    data = sum(1 for e in entries if e["kind"] == "data")
    return Run(
        extractor=extractor,
        size=size,
        rows=rows,
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
        user_seconds=round(usage.ru_utime, 3),
        sys_seconds=round(usage.ru_stime, 3),
        peak_rss_mb=round(peak_mb, 1),
        wall_seconds=round(wall, 2),
        data_requests=data,
        fewest_data_requests=fewest,
        other_requests=len(entries) - data,
        windows=windows,
        rows_served=served,
    )


def best(runs: list[Run]) -> dict[tuple[str, str], Run]:
    """The run with the least CPU for each (extractor, size)."""
    chosen: dict[tuple[str, str], Run] = {}
    for run in runs:
        key = (run.extractor, run.size)
        if key not in chosen or run.cpu_seconds < chosen[key].cpu_seconds:
            chosen[key] = run
    return chosen


def run_budget() -> list[dict[str, Any]]:
    """Run the compressed-clock budget simulation at 300 and 90 and print its figures."""
    print()
    print("Request budget on a compressed clock (bench/budget.py) ...", flush=True)
    results = []
    for limit in BUDGETS:
        result = budget_sim.simulate(budget=limit)
        line = figures.budget_line(result.as_dict())
        print(line + ("" if result.error is None else f"; ERROR: {result.error}"), flush=True)
        results.append(result.as_dict())
    return results


def budget_only(output: Path) -> int:
    """Run the budget simulations alone and replace their figures in `output`."""
    ran_on = {**figures.commit_of(), "date": utc_today().isoformat()}  # the code measured
    budget = run_budget()
    results = json.loads(output.read_text()) if output.exists() else {}
    results["budget"] = budget
    results["budget_command"] = "python -m bench --budget-only"
    results["budget_run"] = ran_on
    write_results(output, results)
    return 0 if all(result["ok"] for result in budget) else 1


def write_results(output: Path, results: dict[str, Any]) -> None:
    """Write the figures, and rewrite the docs' figures blocks from bench/results.json."""
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nFigures written to {output}")
    if output.resolve() == figures.RESULTS:
        for path in figures.rewrite():
            print(f"Figures rewritten in {path.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write bench/results.json."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows-per-day", type=int, default=15_000)
    parser.add_argument("--days", type=int, default=70, help="days of the large run")
    parser.add_argument("--small-days", type=int, default=7, help="days of the small run")
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per extractor; best counts")
    parser.add_argument("--skip-budget", action="store_true", help="skip the budget simulation")
    parser.add_argument(
        "--budget-only",
        action="store_true",
        help="run only the budget simulations; replace the budget figures in --output",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    if args.budget_only:
        return budget_only(args.output)

    today = utc_today()
    ran_on = {**figures.commit_of(), "date": today.isoformat()}  # the code measured
    large = (today - datetime.timedelta(days=args.days - 1), today)
    small = (today - datetime.timedelta(days=args.small_days - 1), today)
    ranges = {"100k": small, "1M": large}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="tap-cloudflare-stream-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "catalog.json").write_text(json.dumps(catalog(workdir)))
        print(f"Starting the stand-in ({args.rows_per_day:,} rows a day) ...", flush=True)
        standin = StandinProcess(args.rows_per_day, today, workdir / "requests.jsonl")
        try:
            standin.warm_up(*large)
            for round_number in range(1, args.repeat + 1):
                for size, days in ranges.items():
                    for extractor in EXTRACTORS:
                        print(f"  round {round_number}: {extractor}, {size} ...", flush=True)
                        runs.append(
                            run_one(
                                extractor=extractor,
                                size=size,
                                days=days,
                                standin=standin,
                                workdir=workdir,
                                page_size=args.page_size,
                            )
                        )
        finally:
            standin.stop()

    chosen = best(runs)
    for run in chosen.values():
        if run.rows != run.rows_served:
            raise SystemExit(f"{run.extractor} emitted {run.rows} rows of {run.rows_served}")
    tap_big = chosen[("tap", "1M")]
    ratio_json = tap_big.rows_per_cpu_second / chosen[("bare (json)", "1M")].rows_per_cpu_second
    ratio_msgspec = (
        tap_big.rows_per_cpu_second / chosen[("bare (msgspec)", "1M")].rows_per_cpu_second
    )
    tap_requests_ok = all(
        chosen[("tap", size)].data_requests == chosen[("tap", size)].fewest_data_requests
        for size in ranges
    )

    budget = None if args.skip_budget else run_budget()

    results = {
        "command": "python -m bench" + (f" --repeat {args.repeat}" if args.repeat > 1 else ""),
        **ran_on,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "parameters": {
            "stream": STREAM,
            "rows_per_day": args.rows_per_day,
            "days": {"100k": args.small_days, "1M": args.days},
            "page_size": args.page_size,
            "repeat": args.repeat,
        },
        "runs": [
            {**asdict(run), "rows_per_cpu_second": round(run.rows_per_cpu_second)}
            for run in chosen.values()
        ],
        "tap_vs_bare_json": round(ratio_json, 3),
        "tap_vs_bare_msgspec": round(ratio_msgspec, 3),
        "tap_requests_are_fewest_possible": tap_requests_ok,
        "budget": budget,
        "budget_command": "python -m bench",
        "budget_run": ran_on,
    }
    if budget is None:  # keep the last budget figures
        old = json.loads(args.output.read_text()) if args.output.exists() else {}
        results.update({k: old[k] for k in ("budget", "budget_command", "budget_run") if k in old})
    print()
    print(
        f"{STREAM}, 1 account, page size {args.page_size:,}, {args.rows_per_day:,} rows a day; "
        f"best of {args.repeat}; stand-in in its own process; output to /dev/null"
    )
    print()
    print(figures.extractors_table(results) + figures.verdicts(results))
    print(
        "(fewest = rows // page size + 1 per window: a window whose rows fill its last page "
        "exactly needs one more, empty, page to learn that it ended; the tap's other request "
        "is its one settings query per account)"
    )
    write_results(args.output, results)
    ok = ratio_json >= 0.6 and tap_big.peak_rss_mb < 150 and tap_requests_ok
    return 0 if ok and (budget is None or all(result["ok"] for result in budget)) else 1


if __name__ == "__main__":
    sys.exit(main())

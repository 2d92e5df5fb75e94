"""Benchmark: output and CPU per account as the accounts grow (40, 400, 2,000).

    python -m bench.scale                              # this tree's tap
    python -m bench.scale --tree /tmp/base --label before --counts 40,400
                                                       # another checkout's tap, same command

A stand-in (its own process, no rate limit) serves N accounts with a few rows a day; the tap
reads one day of the four daily streams for every account (`requests_per_5_minutes: 0`). The
tap's stdout is read by this process, which counts RECORD and STATE bytes; the tap's CPU comes
from os.wait4 on its process and its peak memory from its own VmHWM (/proc/<pid>/status, read
while it runs), never the stand-in's. Figures are stored under the label, with the commit of
the tree measured, in bench/scale.json, and the docs' figures blocks rewritten from them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import figures
from bench.harness import ROOT, TOKEN, PeakMemory

COUNTS = "40,400,2000"
STREAMS = ("video_playback_events", "minutes_viewed", "video_buffer_events", "video_quality_events")


def accounts(count: int) -> list[str]:
    """`count` distinct account tags."""
    return [f"{number:032x}" for number in range(1, count + 1)]


def start_standin(tags: list[str], today: datetime.date, workdir: Path) -> subprocess.Popen[bytes]:
    """The stand-in in its own process; returns it once its URL is read (set as .url)."""
    accounts_file = ",".join(tags)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloudflare_standin",
            "--port",
            "0",
            "--accounts",
            accounts_file,
            "--token",
            TOKEN,
            "--rows-per-day",
            "3",
            "--videos",
            "3",
            "--history-days",
            "5",
            "--today",
            today.isoformat(),
            "--no-rate-limit",
        ],
        stdout=subprocess.PIPE,
        stderr=(workdir / "standin.stderr").open("wb"),
        cwd=ROOT,
    )
    assert process.stdout is not None
    process.url = process.stdout.readline().decode().strip()  # type: ignore[attr-defined]
    return process


def run_tap(tree: Path, config: Path, catalog: Path, workdir: Path) -> dict[str, Any]:
    """Run one tap process; count its output by message type; return its figures."""
    env = {**os.environ, "PYTHONPATH": str(tree), "LOGLEVEL": "WARNING"}
    command = [
        sys.executable, "-m", "tap_cloudflare_stream.tap",
        "--config", str(config), "--catalog", str(catalog),
    ]  # fmt: skip
    began = time.perf_counter()
    with (workdir / "tap.stderr").open("wb") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=tree
        )
        sizes = {"RECORD": 0, "STATE": 0, "other": 0}
        counts = {"RECORD": 0, "STATE": 0, "other": 0}
        assert process.stdout is not None
        with PeakMemory(process.pid) as peak:
            for line in process.stdout:
                kind = "RECORD" if line.startswith(b'{"type":"RECORD"') else "other"
                if kind == "other" and line.startswith(b'{"type":"STATE"'):
                    kind = "STATE"
                sizes[kind] += len(line)
                counts[kind] += 1
            _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the tap failed: {(workdir / 'tap.stderr').read_text()[-2000:]}")
    return {
        "record_bytes": sizes["RECORD"],
        "state_bytes": sizes["STATE"],
        "other_bytes": sizes["other"],
        "records": counts["RECORD"],
        "states": counts["STATE"],
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_memory_mb": round(peak.megabytes, 1),
        "wall_seconds": round(time.perf_counter() - began, 1),
    }


def catalog_for(tree: Path, config: Path) -> dict[str, Any]:
    """The tree's discovered catalog with the four daily streams selected."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    found = subprocess.run(
        [sys.executable, "-m", "tap_cloudflare_stream.tap", "--config", str(config), "--discover"],
        check=True,
        capture_output=True,
        env=env,
        cwd=tree,  # `python -m` puts the working directory first on sys.path
    )
    catalog: dict[str, Any] = json.loads(found.stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in STREAMS
    return catalog


def measure(tree: Path, count: int, workdir: Path) -> dict[str, Any]:
    """One run over `count` accounts."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    tags = accounts(count)
    standin = start_standin(tags, today, workdir)
    try:
        config = workdir / "config.json"
        config.write_text(
            json.dumps(
                {
                    "account_ids": tags,
                    "api_token": TOKEN,
                    "api_url": standin.url,  # type: ignore[attr-defined]
                    "start_date": today.isoformat(),
                    "end_date": today.isoformat(),
                    "requests_per_5_minutes": 0,
                }
            )
        )
        catalog = workdir / "catalog.json"
        catalog.write_text(json.dumps(catalog_for(tree, config)))
        return {"accounts": count, **run_tap(tree, config, catalog, workdir)}
    finally:
        standin.terminate()
        standin.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """Measure each account count, print the table, append the figures to bench/scale.json."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose tap to run")
    parser.add_argument("--label", default="after")
    parser.add_argument("--counts", default=COUNTS)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "scale.json")
    args = parser.parse_args(argv)
    ran_on = {**figures.commit_of(args.tree), "date": datetime.date.today().isoformat()}
    runs = []
    for count in (int(n) for n in args.counts.split(",")):
        print(f"  {args.label}: {count} accounts ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="tap-cloudflare-stream-scale-") as tmp:
            runs.append(measure(args.tree.resolve(), count, Path(tmp)))
        print(f"    {runs[-1]}", flush=True)
    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    counts = "" if args.counts == COUNTS else f" --counts {args.counts}"
    command = f"python -m bench.scale{counts}"
    results[args.label] = {
        **ran_on,
        "command": command,
        "runs": runs,
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(figures.scale_table(results))
    if args.output.resolve() == figures.SCALE:
        for path in figures.rewrite():
            print(f"Figures rewritten in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

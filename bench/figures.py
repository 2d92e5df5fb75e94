"""The docs' benchmark figures, written from the committed results and checked against them.

    python -m bench.figures           # rewrite every figures block of README.md and docs/
    python -m bench.figures --check   # exit 1, naming the block, when one differs

A figures block is the text between `<!-- figures: NAME -->` and `<!-- /figures -->` in a
Markdown file. Its text is rendered here from bench/results.json (`python -m bench`),
bench/scale.json (`python -m bench.scale`) or bench/daily.json (`python -m bench.daily`), each
of which records the commit it ran on. The
benchmarks rewrite the blocks after writing their results, so a figure in the docs is never
typed by hand; tests/test_doc_figures.py fails when a block differs from the results.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
SCALE = ROOT / "bench" / "scale.json"
DAILY = ROOT / "bench" / "daily.json"
BLOCK = re.compile(r"(<!-- figures: ([a-z-]+) -->\n)(.*?)(<!-- /figures -->)", re.DOTALL)
SIZES = ("100k", "1M")
EXTRACTORS = ("tap", "bare (json)", "bare (msgspec)")


def commit_of(tree: Path = ROOT) -> dict[str, Any]:
    """The commit a benchmark runs on, and whether the code had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tree, capture_output=True, text=True, check=True
        ).stdout.strip()

    # Results and docs do not change what is measured: a tree dirty only there is clean.
    changes = git("status", "--porcelain", "--", ".", ":!bench/*.json", ":!*.md")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changes)}


def _runs(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(run["extractor"], run["size"]): run for run in results["runs"]}


def _ran_on(results: dict[str, Any]) -> str:
    dirty = " plus uncommitted changes" if results.get("dirty") else ""
    return f"commit {results['commit'][:10]}{dirty}, {results['date']}"


def extractors_table(results: dict[str, Any]) -> str:
    """The tap and the bare extractors side by side, as `python -m bench` prints them."""
    head = (
        f"{'extractor':<15} {'rows':>10} {'CPU s':>7} {'rows/CPU-s':>11} {'peak RSS':>9} "
        f"{'wall s':>7} {'data req':>9} {'fewest':>7} {'other req':>9} {'windows':>7}"
    )
    lines = [head, "-" * len(head)]
    runs = _runs(results)
    for size in SIZES:
        for extractor in EXTRACTORS:
            run = runs[(extractor, size)]
            lines.append(
                f"{extractor:<15} {run['rows']:>10,} {run['cpu_seconds']:>7.2f} "
                f"{run['rows_per_cpu_second']:>11,.0f} {run['peak_rss_mb']:>6.1f} MB "
                f"{run['wall_seconds']:>7.2f} {run['data_requests']:>9} "
                f"{run['fewest_data_requests']:>7} {run['other_requests']:>9} {run['windows']:>7}"
            )
        lines.append("")
    return "\n".join(lines)


def verdicts(results: dict[str, Any]) -> str:
    """The ratios and the memory, with their targets."""
    runs = _runs(results)
    small, big = runs[("tap", "100k")], runs[("tap", "1M")]
    return "\n".join(
        [
            f"tap / bare (json)     rows per CPU-second, 1M rows: "
            f"{results['tap_vs_bare_json']:.0%}  (target >= 60%)",
            "tap / bare (msgspec)  rows per CPU-second, 1M rows: "
            f"{results['tap_vs_bare_msgspec']:.0%}",
            f"tap peak RSS: {small['peak_rss_mb']:.1f} MB at {small['rows']:,} rows, "
            f"{big['peak_rss_mb']:.1f} MB at {big['rows']:,} rows  (target < 150 MB, flat)",
            "tap data requests = fewest possible: "
            + ("yes" if results["tap_requests_are_fewest_possible"] else "NO"),
        ]
    )


def budget_line(result: dict[str, Any]) -> str:
    """One budget simulation's figures, as `python -m bench --budget-only` prints them."""
    return (
        f"  requests_per_5_minutes {result['budget']}; {result['accounts']} accounts x "
        f"{result['streams']} analytics streams on one token, page size {result['page_size']}, "
        "0-0.4 s in flight per request\n"
        f"  GraphQL requests {result['requests']} ({result['data_requests']} data), rows "
        f"{result['rows']:,}; max in any {result['window_seconds']:.0f} s: "
        f"{result['max_in_any_window']}; refusals: {result['refusals']}; simulated duration "
        f"{result['simulated_seconds']:,.0f} s (tap waited {result['tap_waited_seconds']:,.0f} s)"
    )


def bench_output(results: dict[str, Any]) -> str:
    """docs/performance.md's results: the table, the verdicts and the budget runs."""
    budget = "\n".join(budget_line(result) for result in results["budget"])
    return (
        f"`{results['command']}` on {_ran_on(results)}, Python "
        f"{results['environment']['python']}, {results['environment']['cpus']} cores; the "
        f"budget lines from `{results['budget_command']}` on {_ran_on(results['budget_run'])}:\n"
        f"\n```\n{extractors_table(results)}{verdicts(results)}\n\n"
        f"Request budget on a compressed clock (bench/budget.py):\n{budget}\n```\n"
    )


def bench_summary(results: dict[str, Any]) -> str:
    """README's summary: one table and the sentences that read it."""
    runs = _runs(results)
    rows = [
        ("tap", runs[("tap", "100k")]),
        ("tap", runs[("tap", "1M")]),
        ("bare extractor, json", runs[("bare (json)", "1M")]),
        ("bare extractor, msgspec", runs[("bare (msgspec)", "1M")]),
    ]
    lines = [
        f"Figures from `{results['command']}` ({_ran_on(results)}; Python "
        f"{results['environment']['python']}, {results['environment']['cpus']} cores):",
        "",
        "| run | rows | CPU s | rows per CPU-second | peak RSS | data requests (fewest possible) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, run in rows:
        lines.append(
            f"| {name} | {run['rows']:,} | {run['cpu_seconds']:.2f} | "
            f"{run['rows_per_cpu_second']:,} | {run['peak_rss_mb']:.1f} MB | "
            f"{run['data_requests']} ({run['fewest_data_requests']}) |"
        )
    small, big = runs[("tap", "100k")], runs[("tap", "1M")]
    budgets = {result["budget"]: result for result in results["budget"]}
    high, low = budgets[300], budgets[90]
    lines += [
        "",
        f"- The tap reads **{results['tap_vs_bare_json']:.0%}** of the bare json extractor's rows "
        f"per CPU-second ({results['tap_vs_bare_msgspec']:.0%} of the msgspec one).",
        f"- Memory does not grow with the data: one page is held at a time "
        f"({small['peak_rss_mb']:.0f} MB at {small['rows']:,} rows, "
        f"{big['peak_rss_mb']:.0f} MB at {big['rows']:,}).",
        f"- Request budget (`{results['budget_command']}`): {high['accounts']} accounts "
        f"\N{MULTIPLICATION SIGN} {high['streams']} analytics streams on one token at "
        f"`page_size: {high['page_size']}` "
        f"need {high['requests']:,} GraphQL requests; with `requests_per_5_minutes` 300 (90) "
        f"the stand-in saw at most {high['max_in_any_window']} ({low['max_in_any_window']}) in "
        f"any 300 s and refused {high['refusals'] + low['refusals']}, and the run took "
        f"{high['simulated_seconds']:,.0f} ({low['simulated_seconds']:,.0f}) simulated seconds.",
    ]
    return "\n".join(lines) + "\n"


def scale_table(scale: dict[str, Any]) -> str:
    """docs/performance.md's many-accounts table, the tree before the change and this one."""
    lines = [
        "| accounts | tap | RECORD bytes | STATE bytes | STATE messages | tap CPU s "
        "| CPU ms per account | output bytes per account | peak memory |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    counts = sorted({run["accounts"] for label in scale.values() for run in label["runs"]})
    for count in counts:
        for label, measured in sorted(scale.items(), key=lambda item: item[1]["date"]):
            run = next((run for run in measured["runs"] if run["accounts"] == count), None)
            name = f"{label} ({_ran_on(measured)})"
            if run is None:
                lines.append(f"| {count:,} | {name} | not run | | | | | | |")
                continue
            output = run["record_bytes"] + run["state_bytes"] + run["other_bytes"]
            lines.append(
                f"| {count:,} | {name} | {run['record_bytes']:,} | {run['state_bytes']:,} "
                f"| {run['states']:,} | {run['cpu_seconds']:.2f} "
                f"| {1000 * run['cpu_seconds'] / count:.1f} | {output / count:,.0f} "
                f"| {run['peak_memory_mb']:.0f} MB |"
            )
    return "\n".join(lines) + "\n"


def daily_requests(measured: dict[str, Any]) -> str:
    """docs/scheduling.md's requests per account and day, by stream family and time of day."""
    lines = [
        f"`{measured['command']}` ({_ran_on(measured)}):",
        "",
        "| streams | " + " | ".join(measured["times"]) + " |",
        "|---|" + "---:|" * len(measured["times"]),
    ]
    lines += [
        f"| {family} | " + " | ".join(cells) + " |" for family, cells in measured["rows"].items()
    ]
    return "\n".join(lines) + "\n"


def daily_wall(measured: dict[str, Any]) -> str:
    """docs/scheduling.md's API time of N accounts, per budget and kind of rate limit."""
    lines = [
        f"`{measured['command']}` ({_ran_on(measured)}):",
        "",
        "| accounts | requests_per_5_minutes | limits | GraphQL requests | most in any 300 s "
        "| refused | API time |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in measured["rows"]:
        limits = "per account" if row["account_based"] else "per user"
        lines.append(
            f"| {row['accounts']} | {row['budget']} | {limits} | {row['requests']:,} "
            f"| {row['max_in_any_window']} | {row['refusals']} "
            f"| {row['simulated_minutes']:.1f} min |"
        )
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, tuple[Path, Callable[[dict[str, Any]], str]]] = {
    "bench-output": (RESULTS, bench_output),
    "bench-summary": (RESULTS, bench_summary),
    "scale-table": (SCALE, scale_table),
    "daily-requests": (DAILY, lambda daily: daily_requests(daily["requests"])),
    "daily-scheduled": (DAILY, lambda daily: daily_wall(daily["scheduled"])),
    "daily-first-run": (DAILY, lambda daily: daily_wall(daily["first-run"])),
    "daily-sizing": (DAILY, lambda daily: daily_wall(daily["sizing"])),
}


def documents(root: Path = ROOT) -> list[Path]:
    """The Markdown files that may hold figures blocks."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def render(name: str, root: Path = ROOT) -> str:
    """A block's text from the committed results."""
    source, renderer = RENDERERS[name]
    return renderer(json.loads((root / source.relative_to(ROOT)).read_text()))


def blocks(text: str) -> list[tuple[str, str]]:
    """(name, text) of each figures block of a document."""
    return [(match[2], match[3]) for match in BLOCK.finditer(text)]


def rewrite(root: Path = ROOT) -> list[Path]:
    """Rewrite every figures block from the results; return the files that changed."""
    changed = []
    for path in documents(root):
        text = path.read_text()
        new = BLOCK.sub(lambda m: m[1] + render(m[2], root) + m[4], text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def stale(root: Path = ROOT) -> list[str]:
    """`file: block` for each figures block that differs from the results."""
    return [
        f"{path.relative_to(root)}: {name}"
        for path in documents(root)
        for name, text in blocks(path.read_text())
        if text != render(name, root)
    ]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the docs' figures blocks, or with --check name the stale ones."""
    parser = argparse.ArgumentParser(prog="python -m bench.figures", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for line in found:
            print(f"stale figures: {line} (run `python -m bench.figures`)")
        return 1 if found else 0
    for path in rewrite():
        print(f"figures rewritten in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

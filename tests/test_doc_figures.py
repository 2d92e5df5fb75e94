"""The docs' benchmark figures are the committed results, measured on a commit of this history."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import figures
from bench.__main__ import measure

ROOT = Path(__file__).resolve().parent.parent


def test_every_figures_block_in_the_docs_is_rendered_from_the_committed_results() -> None:
    assert figures.stale() == [], "run `python -m bench.figures`, or the benchmark again"
    shown = {name for path in figures.documents() for name, _ in figures.blocks(path.read_text())}
    assert shown == set(figures.RENDERERS), "every benchmark's figures appear in the docs"


def test_a_figure_typed_over_in_a_doc_is_named(tmp_path: Path) -> None:
    for name in ("README.md", "docs", "bench/results.json", "bench/scale.json", "bench/daily.json"):
        source, copy = ROOT / name, tmp_path / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy)
    performance = tmp_path / "docs" / "performance.md"
    text = performance.read_text()
    block = dict(figures.blocks(text))["bench-output"]
    tap_line = next(line for line in block.splitlines() if line.startswith("tap "))
    performance.write_text(text.replace(tap_line, tap_line.replace("1", "2", 1)))
    assert figures.stale(tmp_path) == ["docs/performance.md: bench-output"]


def ran_on(results: dict[str, Any]) -> list[dict[str, Any]]:
    scale = json.loads(figures.SCALE.read_text())
    daily = json.loads(figures.DAILY.read_text())
    return [results, results["budget_run"], *scale.values(), *daily.values()]


def test_the_results_name_a_commit_of_this_history_and_a_clean_tree() -> None:
    for run in ran_on(json.loads(figures.RESULTS.read_text())):
        assert not run["dirty"], f"{run.get('command')}: measured with uncommitted changes"
        found = subprocess.run(
            ["git", "merge-base", "--is-ancestor", run["commit"], "HEAD"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        assert found.returncode == 0, f"{run['commit']} is not a commit before HEAD"


def test_peak_memory_is_the_extractors_own_not_the_benchmarks(tmp_path: Path) -> None:
    megabytes = 40
    held = bytearray(400 * 2**20)  # this process's peak, which a forked child's ru_maxrss keeps
    held[::4096] = b"x" * len(held[::4096])
    child = (
        f"b = bytearray({megabytes} * 2**20); b[::4096] = b'x' * len(b[::4096]); "
        "import time; time.sleep(0.5)"
    )
    _, peak, _, _ = measure([sys.executable, "-c", child], tmp_path / "stderr")
    assert megabytes < peak < 200

"""The tap works from a built wheel, not only from the source tree (pip install .)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_runs_discovery_on_its_own(tmp_path: Path) -> None:
    dist, target = tmp_path / "dist", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = dist.glob("tap_cloudflare_stream-*.whl")
    assert "tap_cloudflare_stream/tap.py" in zipfile.ZipFile(wheel).namelist()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), wheel],
        check=True,
        timeout=300,
        capture_output=True,
    )
    # Run from an empty folder with the wheel's copy first on the path, never the source tree.
    script = (
        "import tap_cloudflare_stream, sys; "
        "print(tap_cloudflare_stream.__file__, file=sys.stderr); "
        "from tap_cloudflare_stream.tap import TapCloudflareStream; TapCloudflareStream.cli()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--discover"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stderr.splitlines()[0].startswith(str(target))
    assert json.loads(done.stdout) == json.loads((ROOT / "catalog.json").read_text())

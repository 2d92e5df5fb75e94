"""Pieces shared by the benchmark and the profiler: a stand-in process, the tap's config."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from tap_cloudflare_stream.analytics.datasets import DATASETS, Dataset
from tap_cloudflare_stream.analytics.queries import dataset_query, order_by, page_filter
from tap_cloudflare_stream.analytics.windows import DAY, day_start, split_windows

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "bench-token"
STREAM = "video_playback_events"
WINDOW_DAYS = 31  # the stand-in's maxDuration, as Cloudflare documents it


def dataset(stream: str = STREAM) -> Dataset:
    """The declaration of a stream's dataset."""
    return next(d for d in DATASETS if d.stream_name == stream)


def tap_command() -> list[str]:
    """The tap's real command line, from the running interpreter's environment."""
    script = Path(sys.executable).parent / "tap-cloudflare-stream"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_cloudflare_stream.tap"]


class PeakMemory:
    """A process's own peak resident set (VmHWM), polled while the `with` block runs.

    os.wait4's ru_maxrss cannot serve: a child forked from this process starts with this
    process's peak, so a small extractor would report the benchmark's own memory.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self._status = Path(f"/proc/{pid}/status")
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self.megabytes = 0.0

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while True:
            try:
                status = self._status.read_text()
            except OSError:
                return  # the process ended
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.megabytes = max(self.megabytes, int(line.split()[1]) / 1024)
            if self._stop.wait(self._interval):
                return


class StandinProcess:
    """The stand-in in its own process (its CPU is not the extractor's), logging to a file."""

    def __init__(self, rows_per_day: int, today: datetime.date, log_path: Path) -> None:
        self.log_path = log_path
        self._stderr: IO[bytes] = (log_path.parent / "standin.stderr").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cloudflare_standin",
                "--port",
                "0",
                "--accounts",
                ACCOUNT,
                "--token",
                TOKEN,
                "--rows-per-day",
                str(rows_per_day),
                "--today",
                today.isoformat(),
                "--no-rate-limit",
                "--log-file",
                str(log_path),
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().decode().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"the stand-in did not start; see {self._stderr.name}")

    def log_size(self) -> int:
        """Request-log lines written so far."""
        if not self.log_path.exists():
            return 0
        with self.log_path.open("rb") as log:
            return sum(1 for _ in log)

    def log_since(self, lines: int) -> list[dict[str, Any]]:
        """Request-log entries after the first `lines`."""
        with self.log_path.open("rb") as log:
            return [json.loads(line) for number, line in enumerate(log) if number >= lines]

    def warm_up(self, first: datetime.date, last: datetime.date) -> None:
        """Have the stand-in build its rows before anything is measured (one tiny page a window)."""
        ds = dataset()
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            days = split_windows(day_start(first), day_start(last) + DAY, WINDOW_DAYS * 86400, DAY)
            for window in days:
                variables = {
                    "accountTag": ACCOUNT,
                    "filter": page_filter(ds, window, None),
                    "limit": 1,
                    "orderBy": order_by(ds),
                }
                payload = {"query": dataset_query(ds), "variables": variables}
                session.post(self.url, json=payload, timeout=600).raise_for_status()

    def stop(self) -> None:
        """Stop the server process."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


def tap_config(url: str, first: datetime.date, last: datetime.date) -> dict[str, Any]:
    """The tap's configuration for one benchmark run (requests_per_5_minutes left at 300)."""
    return {
        "account_ids": [ACCOUNT],
        "api_token": TOKEN,
        "api_url": url,
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
    }


def catalog(workdir: Path, streams: tuple[str, ...] = (STREAM,)) -> dict[str, Any]:
    """The tap's catalog (from `--discover`, which never calls the API) with `streams` selected."""
    config = workdir / "discover-config.json"
    config.write_text(json.dumps({"account_ids": [ACCOUNT], "api_token": TOKEN}))
    found = subprocess.run(
        [*tap_command(), "--config", str(config), "--discover"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(found.stdout)
    for entry in result["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return result

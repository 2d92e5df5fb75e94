"""Helpers for the reliability and security tests: a compressed clock, runs, secret checks.

Every way a test runs the tap here (`sync_streams`, `invoke_tap`, `run_cli`) looks for the
distinctive credentials in everything the run wrote (stdout, stderr, every log record at DEBUG)
and fails the test on a leak, so no scenario can forget to look.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tap_cloudflare_stream.cloudflare.budget import WINDOW_SECONDS, RequestBudget
from tap_cloudflare_stream.sdk_seam import ConfigInput
from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.standin import catalog_for

# Distinctive credentials: any of them in any output is a leak.
SECRET_TOKEN = "tok-SECRET-7f3Qz9Lw2Xv"
SECRET_EMAIL = "owner-SECRET-k4Tm@example.net"
SECRET_KEY = "key-SECRET-Vb81Rn0Pqs"
WRONG_TOKEN = "tok-WRONG-9hQe4Ns6Ty"
WRONG_KEY = "key-WRONG-Ux27Gc5Jdm"
SECRETS = (SECRET_TOKEN, SECRET_EMAIL, SECRET_KEY, WRONG_TOKEN, WRONG_KEY)
# The stand-in accepts these; each test picks which one the tap is given.
STANDIN_CREDENTIALS: dict[str, Any] = {
    "tokens": {SECRET_TOKEN: None},
    "api_keys": {(SECRET_EMAIL, SECRET_KEY): None},
}

DAY = 86400
MINUTES_VIEWED = "minutes_viewed"
MINUTES_NODE = "streamMinutesViewedAdaptiveGroups"

# One singer-sdk console log line: "2026-01-02 03:04:05,678 | LEVEL | logger | message".
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| (?P<level>[A-Z]+) +\| ")
TAP_COMMAND = (
    [str(Path(sys.executable).parent / "tap-cloudflare-stream")]
    if (Path(sys.executable).parent / "tap-cloudflare-stream").exists()
    else [sys.executable, "-m", "tap_cloudflare_stream.tap"]
)


class CompressedClock:
    """A fake monotonic clock whose sleep() advances it at once.

    Shared by the stand-in (its rate-limit windows and lockouts) and the tap (backoff waits and
    the request budget), so minutes of waiting take no real time and can be measured exactly.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        """The current fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock instead of waiting."""
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def compress_time(monkeypatch: pytest.MonkeyPatch, clock: CompressedClock) -> None:
    """Make the tap's retry waits and request budget run on `clock`.

    Only backoff's own `time` module reference is replaced: the stand-in's threads keep the
    real time.sleep (the "slow" fault needs it).
    """
    monkeypatch.setattr(
        "backoff._sync.time", types.SimpleNamespace(sleep=clock.sleep, monotonic=clock.monotonic)
    )
    # Wherever the tap builds its budget, it runs on the fake clock.
    real_init = RequestBudget.__init__

    def init(budget: RequestBudget, limit: int, window: float = WINDOW_SECONDS, **_: Any) -> None:
        real_init(budget, limit, window, clock=clock, sleep=clock.sleep)

    monkeypatch.setattr(RequestBudget, "__init__", init)


@dataclass
class Run:
    """What one run wrote: Singer messages, and how it ended."""

    messages: list[dict[str, Any]]
    error: BaseException | None = None
    exit_code: int | None = None
    stdout: str = ""
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records.setdefault(message["stream"], []).append(message["record"])

    @property
    def states(self) -> list[dict[str, Any]]:
        """Values of the STATE messages, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any] | None:
        """The last STATE written, if any."""
        return self.states[-1] if self.states else None


class _Stdout(io.TextIOWrapper):
    """A stdout stand-in with a binary buffer, which the tap's message writer uses."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")

    def text(self) -> str:
        """Everything written so far."""
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue().decode("utf-8")


def _messages(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sync_streams(
    config: dict[str, Any],
    streams: Sequence[str] = (MINUTES_VIEWED,),
    state: dict[str, Any] | None = None,
) -> Run:
    """Run a sync in-process for the selected streams; an exception ends it, as in production."""
    catalog = catalog_for(config, streams)
    stdout = _Stdout()
    error: BaseException | None = None
    with contextlib.redirect_stdout(stdout), debug_log() as log:
        try:
            TapCloudflareStream(
                config=config, state=state, catalog=catalog, validate_config=True
            ).sync_all()
        except Exception as exc:
            error = exc
    text = stdout.text()
    assert_no_secrets(text, log.getvalue(), str(error or ""))
    return Run(_messages(text), error=error, stdout=text)


def invoke_tap(
    config: dict[str, Any],
    streams: Sequence[str] = (MINUTES_VIEWED,),
    state: dict[str, Any] | None = None,
) -> Run:
    """Run the CLI's entry point in-process (so backoff sleeps can be compressed)."""
    catalog = json.dumps(catalog_for(config, streams))
    stdout = _Stdout()
    exit_code: int | None = 0
    with contextlib.redirect_stdout(stdout), debug_log() as log:
        try:
            TapCloudflareStream.invoke(
                config=ConfigInput(config=config),
                catalog=io.StringIO(catalog),
                state=None if state is None else io.StringIO(json.dumps(state)),
            )
        except SystemExit as exc:
            exit_code = exc.code if isinstance(exc.code, int) else 1
    text = stdout.text()
    assert_no_secrets(text, log.getvalue())
    return Run(_messages(text), exit_code=exit_code, stdout=text)


@contextlib.contextmanager
def debug_log() -> Iterator[io.StringIO]:
    """Every log record of an in-process run, at DEBUG, formatted with its exception if any."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def cli_env(log_level: str | None = None, proxy: str | None = None) -> dict[str, str]:
    """The environment for a CLI subprocess: no inherited tap or proxy settings.

    An optional LOGLEVEL; an optional `proxy` URL that every request of any scheme, to any
    host (loopback included: no_proxy is removed), goes through.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TAP_CLOUDFLARE_STREAM_")
        and name not in ("LOGLEVEL", "SINGER_SDK_LOG_CONFIG")
        and name.lower() not in PROXY_VARIABLES
    }
    if log_level is not None:
        env["LOGLEVEL"] = log_level
    if proxy is not None:
        for name in PROXY_VARIABLES[:3]:
            env[name] = env[name.upper()] = proxy
    return env


class RecordingProxy:
    """A loopback listener used as the HTTP(S) proxy: it records the first line of every request.

    With it in the environment, any request the tap makes (plain http to any host, or a CONNECT
    for https) arrives here, so `requests == []` proves that none was made.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                seen.append(self.rfile.readline(1024).decode("latin-1").strip())
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_json(path: Path, value: Any) -> str:
    """Write `value` as JSON; return the path as a string."""
    path.write_text(json.dumps(value))
    return str(path)


def run_cli(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    catalog: dict[str, Any] | None = None,
    log_level: str | None = None,
    timeout: float = 60,
    proxy: str | None = None,
    args: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `tap-cloudflare-stream --config file [--catalog file] [args]` to completion."""
    command = [*TAP_COMMAND, "--config", write_json(tmp_path / "config.json", config)]
    if catalog is not None:
        command += ["--catalog", write_json(tmp_path / "catalog.json", catalog)]
    done = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(log_level, proxy),
        check=False,
    )
    assert_no_secrets(done.stdout, done.stderr)
    return done


def interrupt_cli(
    command: list[str],
    stop_after: int,
    *,
    send: signal.Signals,
    stderr: Path,
    count_states: bool = False,
    log_level: str = "INFO",
    read_rest: bool = True,
) -> tuple[str, int]:
    """Run the CLI; once it wrote `stop_after` lines (STATE lines if `count_states`), `send`.

    Returns what the process wrote to stdout (to its end if `read_rest`, else up to the stop
    point) and its exit code.
    """
    with stderr.open("w") as sink:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=sink, env=cli_env(log_level)
        )
        assert process.stdout is not None
        watchdog = threading.Timer(90, process.kill)  # a hung tap must not hang the suite
        watchdog.start()
        out = bytearray()
        try:
            seen = 0
            while seen < stop_after:
                line = process.stdout.readline()
                assert line, "the tap ended before the stop point"
                out += line
                seen += 1 if not count_states or line.startswith(b'{"type":"STATE"') else 0
            process.send_signal(send)
            if read_rest:
                out += process.stdout.read()  # what it writes while stopping
        finally:
            watchdog.cancel()
            if process.poll() is None and send != signal.SIGTERM:
                process.kill()
            returncode = process.wait(timeout=60)
            process.stdout.close()
    return out.decode(), returncode


def log_levels(stderr: str) -> list[tuple[str, str]]:
    """(level, line) of every non-empty stderr line; level "" for a line that is no log line."""
    out = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        match = LOG_LINE.match(line)
        out.append((match["level"] if match else "", line))
    return out


def assert_one_error_line(stderr: str) -> str:
    """The one-line-error rule; returns the error line.

    Every non-empty stderr line is a log line (so no message spans lines and no traceback is
    printed); exactly one is at ERROR or CRITICAL level, and it is the last; all lines before it
    are at INFO or DEBUG (the SDK's start-up lines, and progress when the run got that far).
    """
    lines = log_levels(stderr)
    assert "Traceback" not in stderr, stderr
    assert all(level for level, _ in lines), f"a stderr line is not a log line:\n{stderr}"
    errors = [line for level, line in lines if level in ("ERROR", "CRITICAL")]
    assert len(errors) == 1, f"expected exactly one error line:\n{stderr}"
    assert lines[-1][1] == errors[0], f"the error line is not the last line:\n{stderr}"
    assert {level for level, _ in lines[:-1]} <= {"INFO", "DEBUG"}, stderr
    return errors[0]


# A credential shown in part (masked, cut) still leaks: look for each one's random part too.
SECRET_FRAGMENTS = (
    *SECRETS,
    "7f3Qz9Lw2Xv",
    "owner-SECRET-k4Tm",
    "Vb81Rn0Pqs",
    "9hQe4Ns6Ty",
    "Ux27Gc5Jdm",
)


def assert_no_secrets(*texts: str) -> None:
    """No distinctive credential, whole or in part, appears in any of `texts`."""
    for text in texts:
        for secret in SECRET_FRAGMENTS:
            assert secret not in text, f"a credential leaked: {secret!r} in output"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition set by another thread (the stand-in logs a slow request late)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


PLACEHOLDERS = {
    "SECRET_EMAIL": SECRET_EMAIL,
    "SECRET_KEY": SECRET_KEY,
    "WRONG_TOKEN": WRONG_TOKEN,
    "WRONG_KEY": WRONG_KEY,
}


def resolve(value: Any) -> Any:
    """A scenario's config value with its placeholders replaced by the distinctive secrets."""
    if isinstance(value, str):
        for placeholder, secret in PLACEHOLDERS.items():
            value = value.replace(placeholder, secret)
        return value
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value

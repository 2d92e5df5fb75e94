"""A page rendered in headless Chromium (Debian's `chromium`), driven by Playwright.

The browser runs with the network blocked three ways: a proxy that goes nowhere
(127.0.0.1:9), a host resolver that resolves nothing, and Playwright's offline mode. Every
request the page makes is recorded (and anything but file:, data:, blob: and about: aborted),
so a test can tell a page that renders from disk alone. Without Chromium the tests skip, except
under CI=true, where they fail: scripts/test installs it (apt-get install chromium).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Route, sync_playwright

from tests.fixtures_pg import missing

LOCAL = ("file:", "data:", "blob:", "about:")
# The flags that work on this machine (docs/report.md): no sandbox as root, no GPU, and none
# of Chromium's own background traffic (updates, sync, field trials).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]

# What the test reads off the rendered page, in one pass.
READ_PAGE = """() => {
  const text = (el) => el.textContent.trim();
  const charts = {};
  for (const el of document.querySelectorAll(".chart")) {
    charts[el.id] = {
      state: el.dataset.state || "",
      svg: el.querySelectorAll("svg").length,
      marks: Array.from(el.querySelectorAll("svg .role-mark"))
        .map((g) => g.querySelectorAll("path, rect, line").length),
      text: Array.from(el.querySelectorAll("svg text")).map(text),
    };
  }
  const tables = {};
  for (const t of document.querySelectorAll("table[id]")) {
    tables[t.id] = {
      head: Array.from(t.tHead.rows[0].cells).map(text),
      rows: Array.from(t.tBodies[0].rows).map((r) => Array.from(r.cells).map(text)),
    };
  }
  const tiles = {};
  for (const el of document.querySelectorAll(".tile")) {
    tiles[el.id] = text(el.querySelector(".value"));
  }
  const sections = {};
  for (const s of document.querySelectorAll("section[id]")) {
    const about = s.querySelector(".about");
    sections[s.id] = {
      about: about ? text(about) : "",
      problems: Array.from(s.querySelectorAll(".problem")).map(text),
    };
  }
  const problems = document.getElementById("problems");
  return {
    state: document.body.dataset.charts || "",
    scripts: document.scripts.length,
    charts, tables, tiles, sections,
    problems: problems ? Array.from(problems.querySelectorAll("li")).map(text) : [],
  };
}"""


@dataclass
class Rendered:
    """What a page showed once its charts were drawn (or failed)."""

    state: str  # "drawn", "failed", or "" for a page without charts
    scripts: int
    charts: dict[str, dict[str, Any]]  # id -> state, svg count, items per mark group, texts
    tables: dict[str, dict[str, list[Any]]]  # id -> head, rows (cells as the page shows them)
    tiles: dict[str, str]
    sections: dict[str, dict[str, Any]]  # id -> about, problems
    problems: list[str]  # the page's list of unreadable models
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console: list[str] = field(default_factory=list)  # console errors and warnings, page errors


def chromium() -> str:
    """The Chromium executable (skips, or fails under CI, without it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        missing("chromium not found: apt-get install chromium (scripts/test does, as root)")
    assert found
    return found


def render(
    page_file: Path, *, timezone: str = "UTC", width: int = 1280, timeout_ms: float = 60_000
) -> Rendered:
    """Open a page from disk, offline, wait until its charts are drawn, and read it.

    `timezone` is the browser's own time zone (an IANA name).
    """
    requests: list[str] = []
    console: list[str] = []

    def route(r: Route) -> None:
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:
            r.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            context = browser.new_context(
                offline=True, timezone_id=timezone, viewport={"width": width, "height": 900}
            )
            context.route("**/*", route)
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "console",
                lambda m: (
                    console.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            if page.evaluate("document.querySelectorAll('.chart').length"):
                page.wait_for_function("document.body.dataset.charts", timeout=timeout_ms)
            seen: dict[str, Any] = page.evaluate(READ_PAGE)
        finally:
            browser.close()
    return Rendered(**seen, requests=requests, console=console)

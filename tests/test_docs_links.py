"""Every relative link in README.md and docs/ names a file that exists, and a heading in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    found = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            found.add(slug)
    return found


def broken_links(paths: list[Path], root: Path = ROOT) -> list[str]:
    """`file: target` for each relative link whose file or heading does not exist."""
    broken = []
    for path in paths:
        for target in LINK.findall(FENCE.sub("", path.read_text())):
            if re.match(r"[a-z]+:", target) or target.startswith("/"):
                continue  # https:, mailto:, a copied page's links into its own site
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            missing = anchor and linked.suffix == ".md" and anchor not in anchors(linked)
            if not linked.exists() or missing:
                broken.append(f"{path.relative_to(root)}: {target}")
    return broken


def test_every_relative_link_in_the_docs_resolves() -> None:
    assert broken_links(documents()) == []


def test_a_missing_file_or_heading_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Read me\n\n## Quick start\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Title\n\n[ok](#title) [ok](../README.md#quick-start) [gone](#no-such-heading) "
        "[gone](../README.md#settings) [gone](other.md)\n"
    )
    assert broken_links([page], tmp_path) == [
        "docs/page.md: #no-such-heading",
        "docs/page.md: ../README.md#settings",
        "docs/page.md: other.md",
    ]

"""Every GitHub Actions workflow the project ships passes zizmor, the Actions security linter.

Users copy examples/github-actions/*.yml into the repository that holds their warehouse
credentials, and .github/workflows/release.yml publishes to PyPI: each action is pinned to a
commit SHA (its version in a `# vX.Y.Z` comment), no checkout persists its token, and
`zizmor --offline` reports nothing. zizmor comes from PyPI (the dev extra).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ZIZMOR = Path(sys.executable).parent / "zizmor"
USES = re.compile(r"^\s*-?\s*uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<comment>.*)$", re.M)
SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+\.\d+\.\d+\b")


def shipped_workflows() -> list[Path]:
    """Every workflow file in the repository: .github/workflows and the examples."""
    candidates = [
        *sorted((ROOT / ".github" / "workflows").glob("*.y*ml")),
        *sorted((ROOT / "examples").rglob("*.y*ml")),
    ]
    return [p for p in candidates if "jobs" in (yaml.safe_load(p.read_text()) or {})]


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    """`zizmor --offline PATHS` (no network: the pins are checked by the tests below)."""
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_the_shipped_workflows_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in shipped_workflows()}
    assert {
        ".github/workflows/release.yml",
        "examples/github-actions/cloudflare-stream-daily.yml",
    } <= names, names


def test_zizmor_finds_nothing_in_any_shipped_workflow() -> None:
    result = zizmor(*shipped_workflows())
    assert result.returncode == 0, f"zizmor --offline found problems:\n{result.stdout}"


def test_zizmor_flags_a_tag_pinned_checkout_that_keeps_its_token(tmp_path: Path) -> None:
    """The audit can fail: the example's old form (tag refs, persisted token) is flagged."""
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        "name: bad\non: push\npermissions: {}\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n      - run: echo hi\n"
    )
    result = zizmor(workflow)
    assert result.returncode != 0, result.stdout
    assert "unpinned-uses" in result.stdout, result.stdout
    assert "artipacked" in result.stdout, result.stdout


@pytest.mark.parametrize("path", shipped_workflows(), ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_sha_with_its_version_named(path: Path) -> None:
    uses = list(USES.finditer(path.read_text()))
    assert uses, f"{path.name} uses no action"
    for use in uses:
        assert SHA.match(use["ref"]), f"{path.name}: {use['action']}@{use['ref']} is not a SHA"
        assert VERSION_COMMENT.match(use["comment"]), (
            f"{path.name}: {use['action']}@{use['ref']} needs a `# vX.Y.Z` comment"
        )


def test_each_action_is_pinned_to_the_same_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in shipped_workflows():
        for use in USES.finditer(path.read_text()):
            pins.setdefault(use["action"], set()).add(f"{use['ref']}{use['comment']}".strip())
    differing = {action: refs for action, refs in pins.items() if len(refs) > 1}
    assert not differing, f"pin these actions to one commit everywhere: {differing}"


SECRET = re.compile(r"\$\{\{\s*secrets\.")
INSTALLS = re.compile(r"\b(pip|uv|meltano)\s+(install|sync)\b")


def secrets_out_of_place(workflow: dict[str, Any]) -> list[str]:
    """Where a workflow puts a secret that more than the step using it can read.

    A workflow's or a job's `env` reaches every step, `pip install` and `meltano install`
    (third-party code) among them; so does a step that installs something, whatever its env.
    """
    found = [f"workflow env: {name}" for name, value in (workflow.get("env") or {}).items()
             if SECRET.search(str(value))]  # fmt: skip
    for job_name, job in (workflow.get("jobs") or {}).items():
        for name, value in (job.get("env") or {}).items():
            if SECRET.search(str(value)):
                found.append(f"job {job_name} env: {name}")
        for step in job.get("steps") or []:
            secret = any(SECRET.search(str(v)) for v in (step.get("env") or {}).values())
            if secret and INSTALLS.search(str(step.get("run", ""))):
                found.append(f"job {job_name}, step {step.get('name')!r}: installs with a secret")
    return found


@pytest.mark.parametrize("path", shipped_workflows(), ids=lambda p: p.name)
def test_each_secret_is_only_in_the_steps_that_use_it(path: Path) -> None:
    assert secrets_out_of_place(yaml.safe_load(path.read_text())) == []


def test_a_secret_in_a_job_env_or_an_install_step_is_found() -> None:
    workflow = yaml.safe_load(
        """
        env: {TOKEN: "${{ secrets.TOKEN }}", PLAIN: "1"}
        jobs:
          load:
            env: {PASSWORD: "${{secrets.PASSWORD}}"}
            steps:
              - {name: install, run: "pip install x", env: {KEY: "${{ secrets.KEY }}"}}
              - {name: load, run: "meltano run tap target", env: {KEY: "${{ secrets.KEY }}"}}
        """
    )
    assert secrets_out_of_place(workflow) == [
        "workflow env: TOKEN",
        "job load env: PASSWORD",
        "job load, step 'install': installs with a secret",
    ]

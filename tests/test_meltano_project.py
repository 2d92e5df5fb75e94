"""meltano.yml and the scheduled-run example agree with the tap and with the installed Meltano.

- Every tap setting is defined in meltano.yml with a fitting `kind`; secrets are sensitive and
  `meltano config list` redacts them.
- The GitHub Actions example names only real things: plugins and environments of meltano.yml,
  settings' environment variables, meltano subcommands and flags of the installed Meltano; its
  secrets come from the secret store; each matrix group has its own state ID. Its meltano
  commands are run for real with --dry-run.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_cloudflare_stream.tap import TapCloudflareStream
from tests.fixtures_meltano import (
    MELTANO,
    PLUGIN_EXECUTABLES,
    ROOT,
    MeltanoProject,
    require_plugins,
)

# Settings singer-sdk adds to every tap (the class-level schema gains them once a tap has run).
SDK_BUILTIN_SETTINGS = {
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "batch_config",
}
WORKFLOW = ROOT / "examples" / "github-actions" / "cloudflare-stream-daily.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
ACCOUNT_TAG = re.compile(r"^[0-9a-f]{32}$")


@cache
def project() -> dict[str, Any]:
    """meltano.yml, parsed."""
    return dict(yaml.safe_load((ROOT / "meltano.yml").read_text()))


def plugins() -> dict[str, dict[str, Any]]:
    """Every plugin of meltano.yml by name."""
    return {p["name"]: p for group in project()["plugins"].values() for p in group}


def settings_of(plugin: str) -> dict[str, dict[str, Any]]:
    """A plugin's settings in meltano.yml by name."""
    return {s["name"]: s for s in plugins()[plugin].get("settings", [])}


def env_name(plugin: str, setting: str) -> str:
    """The environment variable Meltano reads a plugin setting from."""
    return re.sub(r"[^A-Z0-9]", "_", f"{plugin}_{setting}".upper())


@cache
def workflow() -> dict[str, Any]:
    """The example workflow, parsed (YAML 1.1 reads the key `on` as True)."""
    data = dict(yaml.safe_load(WORKFLOW.read_text()))
    if True in data:
        data["on"] = data.pop(True)
    return data


def job() -> dict[str, Any]:
    """The workflow's single job."""
    jobs = workflow()["jobs"]
    assert len(jobs) == 1, list(jobs)
    return dict(next(iter(jobs.values())))


def meltano_commands() -> list[list[str]]:
    """Every `meltano ...` command line the workflow runs, split into words.

    An expression becomes one word (${{ matrix.group }} -> ${{matrix.group}}), and the job's
    variables ($GROUP, $LOADER) are replaced by their values in the job's `env`.
    """

    def compact(text: str) -> str:
        return EXPRESSION.sub(lambda m: "${{" + m.group(1) + "}}", text)

    variables = {name: compact(str(value)) for name, value in job()["env"].items()}

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"the workflow uses ${name}, which its job env does not set"
        return variables[name]

    commands = []
    for step in job()["steps"]:
        for line in str(step.get("run", "")).splitlines():
            line = re.sub(r"\$(\w+)|\$\{(\w+)\}", expand, compact(line))  # noqa: PLW2901
            words = shlex.split(line)
            if words and words[0] == "meltano":
                commands.append(words)
    return commands


def tap_settings() -> dict[str, dict[str, Any]]:
    """The tap's own settings (JSON schema properties), singer-sdk's built-ins left out."""
    properties = TapCloudflareStream.config_jsonschema["properties"]
    return {k: v for k, v in properties.items() if k not in SDK_BUILTIN_SETTINGS}


@cache
def meltano_help(*subcommand: str) -> str:
    """`meltano [SUBCOMMAND] --help` of the installed Meltano."""
    result = subprocess.run(
        [str(MELTANO), *subcommand, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    return result.stdout


# --- meltano.yml against the tap -------------------------------------------------------------


def test_every_tap_setting_is_defined_with_its_kind() -> None:
    schema = tap_settings()
    defined = settings_of("tap-cloudflare-stream")
    assert {"stream_maps", "stream_map_config"} <= set(defined)
    assert set(schema) <= set(defined), f"missing in meltano.yml: {set(schema) - set(defined)}"
    for name, prop in schema.items():
        setting = defined[name]
        types = set(prop.get("type", []) if isinstance(prop.get("type"), list) else [prop["type"]])
        if prop.get("secret") or prop.get("writeOnly"):
            assert setting.get("sensitive") is True, name
            assert setting.get("kind") == "password", name
        elif "array" in types:
            assert setting.get("kind") == "array", name
        elif "integer" in types:
            assert setting.get("kind") == "integer", name
        elif "boolean" in types:
            assert setting.get("kind") == "boolean", name
        elif name.endswith("_date"):
            assert setting.get("kind") == "date_iso8601", name
        else:
            assert setting.get("kind") == "string", name
        if "default" in prop:
            assert setting.get("value") == prop["default"], name
    extractor = plugins()["tap-cloudflare-stream"]
    assert extractor["namespace"] == "tap_cloudflare_stream"
    assert extractor["executable"] == "tap-cloudflare-stream"
    assert {"catalog", "discover", "state", "about", "stream-maps"} <= set(
        extractor["capabilities"]
    )
    assert extractor["settings_group_validation"] == [
        ["account_ids", "api_token"],
        ["account_ids", "api_email", "api_key"],
    ]


def test_every_plugin_is_defined_inline() -> None:
    every = plugins()
    for name, plugin in every.items():
        # A twin (inherit_from) takes the rest from a parent defined here.
        parent = plugin.get("inherit_from")
        assert parent is None or "inherit_from" not in every[parent], name
        keys = ("pip_url",) if parent else ("namespace", "pip_url", "executable", "settings")
        for key in keys:
            assert plugin.get(key), f"{name}: no {key} (Meltano Hub cannot be reached)"


def test_target_postgres_settings_exist_in_the_installed_target() -> None:
    require_plugins("target-postgres")
    about = subprocess.run(
        [
            str(PLUGIN_EXECUTABLES["target-postgres"] / "target-postgres"),
            "--about",
            "--format=json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    known = set(json.loads(about)["settings"]["properties"])
    defined = set(settings_of("target-postgres"))
    assert defined <= known, f"not settings of target-postgres: {defined - known}"


def test_demo_stream_maps_cover_every_string_dimension() -> None:
    from tests.standin import CONTRACT

    demo = next(e for e in project()["environments"] if e["name"] == "demo")
    tap = next(
        p for p in demo["config"]["plugins"]["extractors"] if p["name"] == "tap-cloudflare-stream"
    )
    maps = tap["config"]["stream_maps"]
    for stream, (_, dimensions, _) in CONTRACT.items():
        strings = {c for c, _ in dimensions if c != "quality_resolution"}
        assert set(maps[stream]) == strings, stream
        for column in strings:
            assert maps[stream][column] == f"{column} or '(empty)'"


def test_config_list_redacts_secrets(meltano_project: MeltanoProject) -> None:
    secrets = {
        "TAP_CLOUDFLARE_STREAM_API_TOKEN": "tok-Secret-9f8e7d",
        "TAP_CLOUDFLARE_STREAM_API_EMAIL": "someone@example.com",
        "TAP_CLOUDFLARE_STREAM_API_KEY": "key-Secret-1a2b3c",
    }
    output = meltano_project.meltano(
        "--environment=prod", "config", "list", "--all", "tap-cloudflare-stream", env=secrets
    )
    for value in secrets.values():
        assert value not in output
    assert output.count("(redacted)") >= len(secrets)
    for name in tap_settings():
        variable = env_name("tap-cloudflare-stream", name)
        assert re.search(rf"^{name} .*\[env: {variable}\]", output, re.M), name


# --- the scheduled-run example -----------------------------------------------------------------


def test_workflow_runs_daily_with_a_matrix_of_account_groups() -> None:
    assert any("cron" in entry for entry in workflow()["on"]["schedule"])
    entries = job()["strategy"]["matrix"]["include"]
    assert len({g["group"] for g in entries}) == len(entries)
    # Each entry is a group of accounts running every stream, the catalog included: deletions
    # are decided per account (docs/deletions.md), so no entry lists every account.
    assert len(entries) >= 2
    seen: set[str] = set()
    for group in entries:
        assert "select_filter" not in group, group  # every stream in every group
        tags = json.loads(group["account_ids"])
        assert tags, group
        assert all(ACCOUNT_TAG.match(t) for t in tags), group
        assert not seen & set(tags), f"an account is in two groups: {seen & set(tags)}"
        seen |= set(tags)
    # ACTIVATE_VERSION covers a whole table: a group's run must not send it.
    assert job()["env"]["TAP_CLOUDFLARE_STREAM_EMIT_ACTIVATE_VERSION_MESSAGES"] == "false"


def test_workflow_commands_name_real_plugins_and_flags() -> None:
    require_plugins()
    environments = {e["name"] for e in project()["environments"]}
    commands = meltano_commands()
    assert commands, "the workflow runs no meltano command"
    ran = False
    for words in commands:
        rest = words[1:]
        while rest and rest[0].startswith("--"):
            option = rest.pop(0).split("=")[0]
            assert option in meltano_help(), option
            if option == "--environment":
                assert words[1].split("=")[1] in environments
        subcommand, args = rest[0], rest[1:]
        assert re.search(rf"^\s+{subcommand}\s", meltano_help(), re.M), subcommand
        if subcommand == "state":
            assert args[0] in meltano_help("state")
            continue
        flags = [a.split("=")[0] for a in args if a.startswith("-")]
        for flag in flags:
            assert flag in meltano_help(subcommand), f"meltano {subcommand} has no {flag}"
        names = [a for a in args if not a.startswith("-") and not EXPRESSION.search(a)]
        assert names, words
        for name in names:
            assert name in plugins(), f"{name} is not a plugin of meltano.yml"
        if subcommand == "run":
            ran = True
            assert "--state-id-suffix" in flags, "each group needs its own state ID"
            suffix = args[args.index("--state-id-suffix") + 1]
            assert EXPRESSION.fullmatch(suffix), suffix
            assert EXPRESSION.fullmatch(suffix).group(1) == "matrix.group"  # type: ignore[union-attr]
    assert ran, "the workflow never runs `meltano run`"


def test_workflow_environment_names_real_settings_and_keeps_secrets_secret() -> None:
    require_plugins()
    meltano_settings = subprocess.run(
        [str(MELTANO), "config", "list", "--all", "meltano"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    ).stdout
    known: dict[str, bool] = {}  # env var -> sensitive
    for plugin in plugins():
        for name, setting in settings_of(plugin).items():
            known[env_name(plugin, name)] = bool(setting.get("sensitive"))
    extras = subprocess.run(
        [str(MELTANO), "config", "list", "--all", "--extras", "tap-cloudflare-stream"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    ).stdout
    for variable in re.findall(r"\[env: (TAP_CLOUDFLARE_STREAM__[A-Z_]+)", extras):
        known[variable] = False  # Meltano's extras of the extractor (select_filter, ...)
    scripts = "\n".join(str(step.get("run", "")) for step in job()["steps"])
    for variable, value in job()["env"].items():
        if re.search(rf"\$\{{?{variable}\b", scripts):  # the steps' own variables: GROUP, LOADER
            assert "secrets." not in str(value), f"{variable} is on command lines: no secret"
            continue
        if variable.startswith("MELTANO_"):
            assert f"[env: {variable}]" in meltano_settings, f"Meltano has no {variable}"
            if "S3_AWS" in variable or variable.endswith("_URI"):
                assert str(value).startswith("${{ secrets."), variable
            continue
        assert variable in known, f"{variable} is not a setting of any plugin in meltano.yml"
        if known[variable]:
            assert str(value).startswith("${{ secrets."), f"{variable} must come from secrets"


def test_workflow_installs_the_meltano_the_project_uses() -> None:
    setup = (ROOT / "scripts" / "setup").read_text()
    version = re.search(r'MELTANO_VERSION="([^"]+)"', setup)
    assert version
    installs = [
        str(step["run"]) for step in job()["steps"] if "pip install" in str(step.get("run", ""))
    ]
    assert any(f"=={version.group(1)}" in line and "meltano[s3]" in line for line in installs)


def test_workflow_run_command_validates_with_meltano_dry_run(
    meltano_project: MeltanoProject, tmp_path: Path
) -> None:
    """The workflow's own `meltano run` line, with matrix values filled in, passes --dry-run."""
    group = job()["strategy"]["matrix"]["include"][0]
    env = {k: str(v) for k, v in job()["env"].items() if not EXPRESSION.search(str(v))}
    env["TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS"] = group["account_ids"]
    for words in meltano_commands():
        if "run" not in words:
            continue
        filled = [EXPRESSION.sub(lambda m: str(group[m.group(1).split(".")[1]]), w) for w in words]
        at = filled.index("run") + 1
        command = [*filled[1:at], "--dry-run", "--no-install", *filled[at:]]
        output = meltano_project.meltano(*command, env=env)
        assert "would have run block" in output, output[-2000:]


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.yml")))
def test_example_yaml_parses(path: Path) -> None:
    assert yaml.safe_load(path.read_text())

"""The Meltano Hub definition (plugin/extractors/tap-cloudflare-stream.yml) equals `--about`.

Both ways: every setting the tap reports is in the definition with the kind, label,
description, sensitivity and default the tap declares, and the definition has no setting the
tap does not know; the capabilities are the tap's. A failure names the file and gives the YAML
to add or remove, so a new setting is one paste away.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "plugin" / "extractors" / "tap-cloudflare-stream.yml"
TAP = Path(sys.executable).parent / "tap-cloudflare-stream"


@cache
def about() -> dict[str, Any]:
    """`tap-cloudflare-stream --about --format=json`, from the installed command."""
    out = subprocess.run(
        [str(TAP), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return dict(json.loads(out))


@cache
def hub() -> dict[str, Any]:
    """The Hub definition, parsed."""
    return dict(yaml.safe_load(HUB.read_text()))


def hub_entry(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The Hub setting a JSON-schema property of the tap's config calls for."""
    types = schema.get("type", [])
    types = set(types if isinstance(types, list) else [types])
    kind = next((k for k in ("array", "object", "boolean", "integer") if k in types), "string")
    if schema.get("secret"):
        kind = "password"
    elif kind == "string" and (name.endswith("_date") or schema.get("format") == "date"):
        kind = "date_iso8601"
    entry: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "label": schema.get("title", ""),
        "description": schema.get("description", ""),
    }
    if schema.get("secret"):
        entry["sensitive"] = True
    if "default" in schema:
        entry["value"] = schema["default"]
    return entry


def as_yaml(entries: list[dict[str, Any]]) -> str:
    """Entries as they are written in the definition's `settings:` list."""
    return str(yaml.safe_dump(entries, sort_keys=False, width=100, allow_unicode=True))


def test_every_setting_of_the_tap_is_in_the_hub_definition_as_declared() -> None:
    declared = {s["name"]: s for s in hub()["settings"]}
    wanted = {n: hub_entry(n, p) for n, p in about()["settings"]["properties"].items()}
    missing = [entry for name, entry in wanted.items() if name not in declared]
    assert not missing, f"add to the `settings:` of {HUB.relative_to(ROOT)}:\n{as_yaml(missing)}"
    differing = [entry for name, entry in wanted.items() if declared[name] != entry]
    assert not differing, (
        f"in {HUB.relative_to(ROOT)}, replace these settings with:\n{as_yaml(differing)}"
    )


def test_the_hub_definition_has_no_setting_the_tap_does_not_know() -> None:
    extra = sorted({s["name"] for s in hub()["settings"]} - set(about()["settings"]["properties"]))
    assert not extra, f"remove from {HUB.relative_to(ROOT)} (not settings of the tap): {extra}"


def test_capabilities_are_the_taps() -> None:
    assert sorted(hub()["capabilities"]) == sorted(about()["capabilities"]), (
        f"set `capabilities:` in {HUB.relative_to(ROOT)} to {sorted(about()['capabilities'])}"
    )


def test_identity_and_settings_group_validation_agree_with_meltano_yml() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    inline = next(
        p for p in project["plugins"]["extractors"] if p["name"] == "tap-cloudflare-stream"
    )
    definition = hub()
    assert definition["name"] == about()["name"] == inline["name"]
    assert definition["namespace"] == inline["namespace"]
    assert definition["executable"] == inline["executable"]
    assert definition["settings_group_validation"] == inline["settings_group_validation"]
    required = set(about()["settings"].get("required", []))
    settings = set(about()["settings"]["properties"])
    for group in definition["settings_group_validation"]:
        assert required <= set(group) <= settings, group
    assert set(inline["capabilities"]) <= set(definition["capabilities"])

"""The JSON Schemas editors check specs against: current, and agreeing with pulltheplug on what is valid,
read by a JSON Schema validator that is not pydantic (jsonschema)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pulltheplug.cli.schema_cmd import SCHEMA_KINDS, schema_text
from pulltheplug.errors import SpecError
from pulltheplug.spec import parse_spec
from pulltheplug.spec.campaign import load_campaign
from pulltheplug.ssh.inventory import load_inventory, parse_inventory

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
INVENTORIES = sorted((ROOT / "tests/ssh/examples").glob("own-*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


class Yaml12Loader(yaml.SafeLoader):
    """YAML as editors read it (1.2: `on:` and `off:` are strings, not booleans as in PyYAML's 1.1)."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "schema" / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)  # a valid 2020-12 schema, for any editor
    return jsonschema.Draft202012Validator(schema)


def schema_named_by(path: Path) -> Path:
    """The schema the file's first line points editors at (yaml-language-server's modeline)."""
    m = MODELINE.match(path.read_text().splitlines()[0])
    assert m, f"{path.name}: the first line is not `# yaml-language-server: $schema=...`"
    return (path.parent / m.group(1)).resolve()


@pytest.mark.parametrize("kind", SCHEMA_KINDS)
def test_the_committed_schemas_are_what_the_command_prints(kind: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pulltheplug", "schema", kind], capture_output=True, text=True,
                          check=True)
    assert done.stdout == schema_text(kind) == (ROOT / "schema" / f"{kind}.schema.json").read_text(), (
        f"schema/{kind}.schema.json is stale: pulltheplug schema {kind} > schema/{kind}.schema.json")


@pytest.mark.parametrize("path", SCENARIOS + INVENTORIES, ids=lambda p: p.name)
def test_every_example_names_its_schema_and_validates_against_it(path: Path) -> None:
    kind = "campaign" if path.name.startswith("campaign-") else "inventory" if path.name.startswith("own-") \
        else "spec"
    assert schema_named_by(path) == ROOT / "schema" / f"{kind}.schema.json"
    data = yaml.load(path.read_text(), Loader=Yaml12Loader)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(kind).iter_errors(data)]
    assert errors == []
    # and pulltheplug reads it too
    if kind == "campaign":
        load_campaign(path)
    elif kind == "inventory":
        load_inventory(path)
    else:
        parse_spec(path.read_text(), str(path))


def _spec(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "scenarios/nic-down.yaml").read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return data


@pytest.mark.parametrize(("changes", "where"), [
    ({"fault__kind": "unplug"}, "fault.kind"),            # not a fault
    ({"fault__duraton": "20s"}, "fault"),                 # a misspelt key
    ({"phases__steady": "ten seconds"}, "phases.steady"),  # not a duration
    ({"phases__steady": -1}, "phases.steady"),
    ({"load__rate": "fast"}, "load.rate"),
    ({"observe__interval": 10}, "observe.interval"),       # a duration over its field's bound (le 5 s)
    ({"fault__flap__period": 0}, "fault.flap.period"),     # and under it (gt 0)
])
def test_what_pulltheplug_refuses_the_schema_refuses_too(changes: dict[str, Any], where: str) -> None:
    data = _spec(**changes)
    errors = list(validator("spec").iter_errors(data))
    assert errors and any(".".join(map(str, e.absolute_path)).startswith(where) for e in errors), errors
    with pytest.raises(SpecError):
        parse_spec(yaml.safe_dump(data), "spec")


@pytest.mark.parametrize("changes", [
    {"workload__entry": "haproxy"},                  # the shorthand for {kind: haproxy}
    {"workload__entry": {"kind": "vip"}},
    {"observe__interval": "500ms"},
    {"fault__flap__period": 4},
])
def test_what_pulltheplug_accepts_the_schema_accepts(changes: dict[str, Any]) -> None:
    data = _spec(**changes)
    parse_spec(yaml.safe_dump(data), "spec")
    assert list(validator("spec").iter_errors(data)) == []


def test_the_inventory_schema_refuses_what_pulltheplug_refuses() -> None:
    for data in ({"hosts": {"pi1": None}}, {"hosts": [{"name": "pi1"}]}, {"hosts": {"pi1": {"address": "x",
                                                                                            "colour": "red"}}}):
        assert list(validator("inventory").iter_errors(data)) != []
        with pytest.raises(SpecError):
            parse_inventory(data, "inventory")
    good = {"hosts": {"pi1": {"address": "10.0.0.1", "power": {"kind": "command", "on": "a", "off": "b"}}}}
    assert list(validator("inventory").iter_errors(good)) == []
    parse_inventory(good, "inventory")


def test_durations_in_every_form_pulltheplug_takes_are_valid() -> None:
    for value in ("20s", "500ms", "2m", "1h", "1.5s", 30, 2.5):
        assert list(validator("spec").iter_errors(_spec(phases__steady=value))) == []
        parse_spec(yaml.safe_dump(_spec(phases__steady=value)), "spec")


def test_the_schemas_carry_descriptions_and_defaults() -> None:
    spec = json.loads(schema_text("spec"))
    phases = spec["$defs"]["PhaseSpec"]["properties"]
    assert phases["settle"]["default"] == 10.0 and "convergence" in phases["settle"]["description"]
    inventory = json.loads(schema_text("inventory"))
    assert "SSH agent" in inventory["$defs"]["Host"]["properties"]["key"]["description"]


def test_an_unknown_schema_is_one_line_and_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "pulltheplug", "schema", "playbook"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == "error: no schema 'playbook': pick one of spec, campaign, inventory"

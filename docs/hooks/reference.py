"""MkDocs hook: the reference pages, generated at every build, never committed, so they cannot go stale.

reference/spec.md, reference/campaign.md and reference/inventory.md come from the JSON Schema that
`pulltheplug schema KIND` prints (itself generated from the pydantic models that validate those files): one
table per object (key, type, default, description), nested objects linked to their own section. reference/cli.md
comes from the Typer application's click commands: every command, its arguments and options with their help.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from pulltheplug.cli.app import app  # the commands register themselves on its import
from pulltheplug.cli.schema_cmd import SchemaKind, schema_of

Schema = dict[str, Any]

PAGES: dict[SchemaKind, tuple[str, str]] = {
    "spec": ("Experiment spec", "The file `pulltheplug run SPEC.yaml` reads: one experiment (its cluster, "
             "workload, load, fault or schedule, phases, SLOs and analysis)."),
    "campaign": ("Campaign", "The file `pulltheplug campaign CAMPAIGN.yaml` reads: a fault x target x "
                 "repetition matrix run back to back on one lab."),
    "inventory": ("Inventory", "Your own hosts for the SSH backend (`cluster: {kind: ssh, hosts: FILE}`, "
                  "`pulltheplug cluster trust|form|check|leave FILE`)."),
}
DURATION_NOTE = ("A **duration** is a number of seconds or a string with a unit: `20s`, `500ms`, `2m`, `1h`.")
GENERIC_DURATION = "A number of seconds, or a string like"


def row(cells: list[str]) -> str:
    """A Markdown table row; a `|` inside a cell (`spec|campaign`) is escaped."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def anchor(name: str) -> str:
    return name.lower()


def is_duration(schema: Schema) -> bool:
    """pulltheplug's durations: a number of seconds, or a string matching the '20s' pattern."""
    options = schema.get("anyOf", [])
    return (len(options) == 2 and {o.get("type") for o in options} == {"number", "string"}
            and any("ms|s|m|h" in o.get("pattern", "") for o in options))


def def_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return f"`{text}`".replace("|", "\\|")


def bounds(schema: Schema) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is None and high is None:
        return ""
    left = "" if low is None else (f"> {low}" if "exclusiveMinimum" in schema else f">= {low}")
    right = "" if high is None else (f"< {high}" if "exclusiveMaximum" in schema else f"<= {high}")
    return " (" + ", ".join(part for part in (left, right) if part) + ")"


def type_of(schema: Schema) -> str:
    """A type as a reader says it, with links to the objects' sections: `duration`, `list of FaultSpec`, ..."""
    if "$ref" in schema:
        name = def_name(schema["$ref"])
        return f"[{name}](#{anchor(name)})"
    if is_duration(schema):
        return "[duration](#durations)"
    if "enum" in schema:
        return "one of " + ", ".join(code(v) for v in schema["enum"])
    if "const" in schema:
        return code(schema["const"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [o for o in schema[union] if o.get("type") != "null"]
            nullable = len(options) < len(schema[union])
            text = " or ".join(type_of(o) for o in options)
            return f"{text} or null" if nullable else text
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        if items and "enum" in items:
            return "list of: " + ", ".join(code(v) for v in items["enum"])
        return f"list of {type_of(items)}" if items else "list"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            inner = type_of(values)
            return f"map of string to ({inner})" if " or " in inner else f"map of string to {inner}"
        return "object"
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "string" and schema.get("format") == "path":
        return "path"
    if kind is None:
        return "any"
    return f"{kind}{bounds(schema)}"


def default_of(schema: Schema, required: bool) -> str:
    if required:
        return "required"
    if "default" not in schema:
        return ""
    value = schema["default"]
    if is_duration(schema) and isinstance(value, (int, float)):
        return code(f"{value:g}s")
    return code(value)


def description_of(schema: Schema, defs: dict[str, Schema]) -> str:
    text = schema.get("description", "")
    if not text and "$ref" in schema:
        text = defs.get(def_name(schema["$ref"]), {}).get("description", "")
    if text.startswith(GENERIC_DURATION):
        text = ""
    if schema.get("pattern") and not is_duration(schema):
        text = f"{text} Pattern: {code(schema['pattern'])}".strip()
    return " ".join(text.split()).replace("|", "\\|")


def refs_in(schema: Any) -> list[str]:
    """Every object a schema names, in the order it names them."""
    found: list[str] = []
    if isinstance(schema, dict):
        if "$ref" in schema:
            found.append(def_name(schema["$ref"]))
        for key, value in schema.items():
            if key != "$defs":
                found.extend(refs_in(value))
    elif isinstance(schema, list):
        for item in schema:
            found.extend(refs_in(item))
    return found


def table(schema: Schema, defs: dict[str, Schema]) -> list[str]:
    properties: dict[str, Schema] = schema.get("properties", {})
    if not properties:
        return [f"Type: {type_of(schema)}.", ""]
    required = set(schema.get("required", []))
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for key, prop in properties.items():
        lines.append(f"| `{key}` | {type_of(prop)} | {default_of(prop, key in required)} | "
                     f"{description_of(prop, defs)} |")  # each cell escaped where it is made
    return [*lines, ""]


def schema_page(kind: SchemaKind) -> str:
    """One kind's page: the top-level keys, then each object in the order a reader meets it."""
    schema = schema_of(kind)
    defs: dict[str, Schema] = schema.get("$defs", {})
    title, intro = PAGES[kind]
    lines = [f"# {title}", "", intro, "",
             f"Generated from `pulltheplug schema {kind}` at every build of this site. Editors can check a "
             f"file against that schema as you type: see [Editor support](../getting-started.md#editor-support).",
             "", "## Top level {#top-level}", ""]
    lines += table(schema, defs)
    order: list[str] = []
    used_at: dict[str, list[str]] = {}
    queue = deque(refs_in(schema.get("properties", {})) or refs_in(schema))
    while queue:
        name = queue.popleft()
        if name in order or name not in defs:
            continue
        order.append(name)
        queue.extend(refs_in(defs[name]))
    for name in order:
        for other in ["top level", *order]:
            body = schema if other == "top level" else defs[other]
            for key, prop in body.get("properties", {}).items():
                if name in refs_in(prop):
                    used_at.setdefault(name, []).append(
                        f"`{key}`" + ("" if other == "top level" else f" of [{other}](#{anchor(other)})"))
    for name in order:
        body = defs[name]
        lines += [f"## {name} {{#{anchor(name)}}}", ""]
        if body.get("description"):
            lines += [" ".join(body["description"].split()), ""]
        if name in used_at:
            lines += ["Used at: " + ", ".join(used_at[name]) + ".", ""]
        lines += table(body, defs)
    if any("(#durations)" in line for line in lines):
        lines += ["## Durations {#durations}", "", DURATION_NOTE, ""]
    return "\n".join(lines)


def option_row(param: Any) -> str:
    """A row for one argument or option (Typer carries a click of its own: read by duck typing)."""
    if param.param_type_name == "argument":
        name = f"`{getattr(param, 'metavar', None) or (param.name or '').upper()}`"
    else:
        name = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
    default = getattr(param.default, "value", param.default)  # an Enum's value
    if param.required:
        shown = "required"
    elif getattr(param, "is_flag", False):
        shown = "on" if default else "off"
    elif default in (None, ()) or callable(default):
        shown = ""
    else:
        shown = f"`{default}`"
    help_text = " ".join((getattr(param, "help", None) or "").split())
    return row([name, shown, help_text])


def command_sections(command: Any, path: list[str]) -> list[str]:
    lines: list[str] = []
    if path:
        ctx = command.context_class(command, info_name=" ".join(path))
        pieces = [re.sub(r"\{([^{}]*)\}", r"\1", piece) for piece in command.collect_usage_pieces(ctx)]
        usage = " ".join(["pulltheplug", *path, *pieces])
        level = "#" * min(len(path) + 1, 4)
        lines += [f"{level} `pulltheplug {' '.join(path)}` {{#{'-'.join(path)}}}", "",
                  f"```\n{usage}\n```", "", " ".join((command.help or "").split()), ""]
        params = [p for p in command.params if p.name != "help" and not getattr(p, "hidden", False)]
        if params:
            lines += ["| argument or option | default | help |", "| --- | --- | --- |"]
            lines += [option_row(p) for p in params] + [""]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            if not getattr(sub, "hidden", False):
                lines += command_sections(sub, [*path, name])
    return lines


def cli_page() -> str:
    root = typer.main.get_command(app)
    lines = ["# Command line", "", " ".join((root.help or "").split()), "",
             "Generated from the `pulltheplug` command itself at every build of this site; "
             "`pulltheplug COMMAND --help` says the same.", "",
             "Global options (before the command): `--debug` shows tracebacks instead of one-line errors, "
             "and pulltheplug's diagnostics; `--version` prints the version.", ""]
    return "\n".join(lines + command_sections(root, []))


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for kind in PAGES:
        files.append(File.generated(config, f"reference/{kind}.md", content=schema_page(kind)))
    files.append(File.generated(config, "reference/cli.md", content=cli_page()))
    return files

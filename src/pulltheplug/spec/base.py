"""What every spec shares: durations, the strict model, the kinds of faults and doors, and YAML validation
whose errors name the field and its line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationError,
)
from pydantic_core import CoreSchema

from pulltheplug.errors import SpecError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


PROBE_IMAGE = "pulltheplug/probe:1"  # built and imported on every lab node (lab/image.py), never pulled


def read_text(path: Path, cannot: str) -> str:
    """A file a user gave, as text; a SpecError `cannot: why` (e.g. "cannot read spec x.yaml: No such file or
    directory") when it cannot be read."""
    try:
        return path.read_text()
    except OSError as exc:
        raise SpecError(f"{cannot}: {exc.strerror}") from exc


def parse_duration(value: Any) -> float:
    """'500ms', '20s', '2m', or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '20s', '500ms', '2m'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError(f"{value!r} is not a duration: use a number of seconds or '20s', '500ms', '2m'")


_DURATION_TEXT = {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"}
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


class _DurationSchema:
    """What editors and JSON Schema validators accept for a duration: a number of seconds within the field's
    bounds, or a string with its unit (whose value a schema cannot bound: pulltheplug still checks it)."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        number = dict(handler(schema))
        for short, name in _BOUNDS.items():  # bounds given as Field(ge=...) beside a BeforeValidator
            if short in number:
                number.setdefault(name, number.pop(short))
        return {"anyOf": [number, _DURATION_TEXT],
                "description": "A number of seconds, or a string like '20s', '500ms', '2m', '1h'."}


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0), _DurationSchema()]
FaultKind = Literal["nic-down", "reboot", "power-loss", "freeze", "partition", "loss", "flap", "engine-crash",
                    "task-kill", "quorum-loss", "engine-upgrade", "none"]
# The container engines a lab node can run, by the Debian release they come from (lab/engines.py).
EngineRelease = Literal["bookworm", "trixie"]
FAULT_KINDS: tuple[str, ...] = ("nic-down", "reboot", "power-loss", "freeze", "none")
SEED_FAULTS: tuple[FaultKind, ...] = ("nic-down", "reboot", "power-loss")  # the seed's three experiments
TARGET_KEYWORDS: tuple[str, ...] = ("random", "random-worker", "random-manager", "leader", "follower", "door")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


EntryKind = Literal["nodes", "haproxy", "vip", "mesh", "service-dns"]


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    node, line = root, None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == key]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def validated(model: type[Strict], text: str, source: str) -> Any:
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{source}: the spec must be a mapping of sections")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(x for x in first["loc"] if not str(x).startswith("function-"))
        field = ".".join(str(x) for x in loc) or "spec"
        line = _line_of(root, loc)
        where = f"{source}:{line}" if line else source
        raise SpecError(f"{where}: {field}: {first['msg']}") from exc

"""Reading a Pulumi stack settings file (``stacks/Pulumi.<stack>.yaml``) with positions.

The CLI reads the file directly; the Pulumi program gets the same values from ``pulumi.Config``
and uses this module only to point its errors at the right line. Values are returned as plain
JSON-compatible Python (what Pulumi hands a program), positions as 1-based ``line:col``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from components.config.errors import ConfigIssue, Position, StackFileError

PROJECT = "edgefleet"
FLEET_KEY = f"{PROJECT}:fleet"

# Top-level keys Pulumi itself accepts in a stack settings file.
_STACK_FILE_KEYS = frozenset({"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"})

PathPart = str | int


@dataclass(frozen=True)
class ConfigValue:
    """One ``config:`` entry other than the fleet: a plain value or an encrypted ``secure:`` one."""

    key: str
    secure: bool
    value: Any  # the plain value, or the ciphertext for a secure value


@dataclass(frozen=True)
class StackSource:
    """What a stack settings file holds, with a way to locate any path in the fleet config."""

    file: str
    stack: str
    fleet: Any
    values: Mapping[str, ConfigValue]
    _fleet_node: Any = field(default=None, repr=False, compare=False)
    _fleet_key_pos: Position | None = field(default=None, repr=False, compare=False)

    def locate(self, path: Sequence[PathPart]) -> Position | None:
        """The position of ``path`` (relative to ``edgefleet:fleet``), or of its deepest ancestor."""
        node: Any = self._fleet_node
        best = self._fleet_key_pos
        for part in path:
            if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
                line, col = node.lc.key(part)
                best = Position(self.file, line + 1, col + 1)
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, col = node.lc.item(part)
                best = Position(self.file, line + 1, col + 1)
                node = node[part]
            else:
                break
        return best


def normalize_key(key: str) -> str:
    """Pulumi treats a config key without a namespace as the project's own."""
    return key if ":" in key else f"{PROJECT}:{key}"


def stack_name_from_path(path: Path) -> str:
    """``Pulumi.prod.yaml`` -> ``prod``; any other file name -> its stem."""
    name = path.name
    for suffix in (".yaml", ".yml"):
        if name.startswith("Pulumi.") and name.endswith(suffix):
            return name[len("Pulumi.") : -len(suffix)]
    return path.stem


def to_plain(node: Any) -> Any:
    """ruamel's round-trip objects to plain JSON-compatible values (what Pulumi passes a program)."""
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (dt.date, dt.datetime)):
        return node.isoformat()
    return str(node)


def display_path(path: Path) -> str:
    """A path relative to the working directory where possible (what SARIF and people want)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def read_stack_file(path: Path) -> StackSource:
    """Read a stack settings file; raise ``StackFileError`` with a one-line reason on any problem."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError.at(shown, "stack settings file not found; check the stack name or path") from None
    except IsADirectoryError:
        raise StackFileError.at(shown, "is a directory, not a stack settings file") from None
    except UnicodeDecodeError as exc:
        raise StackFileError.at(shown, f"is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise StackFileError.at(shown, f"cannot be read: {exc.strerror}") from None
    return parse_stack_text(text, shown, stack_name_from_path(path))


def parse_stack_text(text: str, file: str, stack: str) -> StackSource:
    """Parse the text of a stack settings file (see ``read_stack_file``)."""
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else None
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise StackFileError.at(file, f"invalid YAML: {reason}", pos) from None
    except YAMLError as exc:
        raise StackFileError.at(file, f"invalid YAML: {' '.join(str(exc).split())}") from None
    if doc is None:
        raise StackFileError.at(file, "the file is empty; it needs a `config:` mapping with an `edgefleet:fleet` key")
    if not isinstance(doc, CommentedMap):
        raise StackFileError.at(
            file,
            f"the file holds a {type(to_plain(doc)).__name__}, not a mapping; "
            "it needs a `config:` mapping with an `edgefleet:fleet` key",
            Position(file, 1, 1),
        )
    issues = [
        ConfigIssue(
            str(key),
            f"unknown top-level key in a stack settings file; allowed: {', '.join(sorted(_STACK_FILE_KEYS))}",
            Position(file, doc.lc.key(key)[0] + 1, doc.lc.key(key)[1] + 1),
        )
        for key in doc
        if key not in _STACK_FILE_KEYS
    ]
    if issues:
        raise StackFileError(issues)
    config = doc.get("config")
    if not isinstance(config, CommentedMap):
        pos = Position(file, doc.lc.key("config")[0] + 1, 1) if "config" in doc else None
        raise StackFileError.at("config", "missing or not a mapping; it needs an `edgefleet:fleet` key", pos)

    fleet_node: Any = None
    fleet_pos: Position | None = None
    values: dict[str, ConfigValue] = {}
    for raw_key, raw_value in config.items():
        key = normalize_key(str(raw_key))
        line, col = config.lc.key(raw_key)
        if key == FLEET_KEY:
            fleet_node, fleet_pos = raw_value, Position(file, line + 1, col + 1)
            continue
        if isinstance(raw_value, Mapping) and list(raw_value) == ["secure"]:
            values[key] = ConfigValue(key, True, to_plain(raw_value["secure"]))
        else:
            values[key] = ConfigValue(key, False, to_plain(raw_value))
    if fleet_pos is None:
        raise StackFileError.at(
            "config",
            f"no `{FLEET_KEY}` key; add the fleet config under it (see docs/fleet-config.md)",
            Position(file, config.lc.line + 1, config.lc.col + 1) if config.lc.line is not None else None,
        )
    return StackSource(
        file=file,
        stack=stack,
        fleet=to_plain(fleet_node),
        values=values,
        _fleet_node=fleet_node,
        _fleet_key_pos=fleet_pos,
    )

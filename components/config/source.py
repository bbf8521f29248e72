"""Reading a Pulumi stack settings file (``stacks/Pulumi.<stack>.yaml``) with positions.

The CLI reads the file directly; the Pulumi program gets the same values from ``pulumi.Config``
and uses this module only to point its errors at the right line. Values are returned as plain
JSON-compatible Python (what Pulumi hands a program), positions as 1-based ``line:col``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from components.config.errors import ConfigIssue, Position, StackFileError

PROJECT = "edgefleet"
FLEET_KEY = f"{PROJECT}:fleet"
# A stack may take its fleet from a shared fleet file instead (project-relative), and deploy a
# slice of it (components/config/slices.py).
FLEET_FILE_KEY = f"{PROJECT}:fleetFile"
SLICE_KEY = f"{PROJECT}:slice"

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
    """What a stack settings file holds, with a way to locate any path in the fleet config.

    ``file`` is where the fleet config was written: the stack settings file itself, or the shared
    fleet file its ``edgefleet:fleetFile`` names (``fleet_file``, as written). ``config_file`` is
    always the stack settings file.
    """

    file: str
    stack: str
    fleet: Any
    values: Mapping[str, ConfigValue]
    _fleet_node: Any = field(default=None, repr=False, compare=False)
    _fleet_key_pos: Position | None = field(default=None, repr=False, compare=False)
    _lines: tuple[str, ...] = field(default=(), repr=False, compare=False)
    fleet_file: str | None = None
    config_file: str = ""
    _config_node: Any = field(default=None, repr=False, compare=False)

    def locate_config(self, key: str, path: Sequence[PathPart] = ()) -> Position | None:
        """The position of ``path`` inside the stack file's config value ``key`` (or its deepest ancestor)."""
        config = self._config_node
        if not isinstance(config, CommentedMap):
            return None
        for raw_key in config:
            if normalize_key(str(raw_key)) == key:
                best = _pos(self.config_file, config.lc.key(raw_key))
                node = config[raw_key]
                for part in path:
                    if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
                        best = _pos(self.config_file, node.lc.key(part))
                        node = node[part]
                    elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                        best = _pos(self.config_file, node.lc.item(part))
                        node = node[part]
                    else:
                        break
                return best
        return None

    def raw_text(self, path: Sequence[PathPart]) -> str | None:
        """The scalar at ``path`` exactly as written in the file (``1.30``, not the float 1.3)."""
        node: Any = self._fleet_node
        for part in path[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        last = path[-1] if path else None
        try:
            if isinstance(node, CommentedMap) and isinstance(last, str) and last in node:
                line, col = node.lc.value(last)
            elif isinstance(node, CommentedSeq) and isinstance(last, int) and 0 <= last < len(node):
                line, col = node.lc.item(last)
            else:
                return None
        except (KeyError, IndexError, TypeError):
            return None
        if line is None or col is None or line >= len(self._lines):
            return None
        match = re.match(r"[^\s,\]}#]+", self._lines[line][col:])
        return match.group(0) if match else None

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


# Aliases can multiply a small file into a huge value ("billion laughs"): cap what one file expands to.
MAX_VALUES = 100_000


class _TooLarge(Exception):
    pass


def to_plain(node: Any, budget: list[int] | None = None) -> Any:
    """ruamel's round-trip objects to plain JSON-compatible values (what Pulumi passes a program)."""
    budget = budget if budget is not None else [MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if isinstance(node, Mapping):
        return {str(k): to_plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v, budget) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps timestamps as the text they were written as: Pulumi
    passes `2024-02-30` to a program as a string, and an impossible date must not crash us."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def _first_content_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "---", "%")):
            return number
    return 1


def _load(text: str, file: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else None
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise StackFileError.at(file, f"invalid YAML: {reason}", pos) from None
    except ReaderError as exc:  # a character YAML does not allow (NUL, most control characters)
        before = text[: exc.position]
        pos = Position(file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        raise StackFileError.at(
            file, f"invalid YAML: the character {exc.character!r} is not allowed in a YAML file", pos
        ) from None
    except YAMLError as exc:
        raise StackFileError.at(file, f"invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise StackFileError.at(file, "invalid YAML: nested too deeply", _deep_position(text, file)) from None
    except ValueError as exc:  # a scalar the YAML resolver accepted but cannot convert (a 5000-digit int)
        reason = " ".join(str(exc).split())[:120]
        raise StackFileError.at(
            file, f"invalid YAML: a value cannot be read ({reason})", _unreadable_int(text, file)
        ) from None


def _unreadable_int(text: str, file: str) -> Position | None:
    """Where the first integer scalar that Python cannot convert is (the loader does not say)."""
    try:
        root = YAML(typ="rt").compose(text)
    except (YAMLError, RecursionError, ValueError):
        return None
    stack = [root]
    while stack:
        node = stack.pop(0)
        if isinstance(node, ScalarNode):
            if node.tag == "tag:yaml.org,2002:int" and not _is_int(str(node.value)):
                return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)
        elif isinstance(node, MappingNode):
            stack[:0] = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            stack[:0] = list(node.value)
    return None


def _is_int(value: str) -> bool:
    for base in (10, 0):
        try:
            int(value.replace("_", ""), base)
        except ValueError:
            continue
        return True
    return False


def _deep_position(text: str, file: str, limit: int = 100) -> Position | None:
    """The first place where flow collections nest deeper than ``limit`` (quotes ignored)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for col, char in enumerate(line, start=1):
            if char == "#":
                break
            if char in "[{":
                depth += 1
                if depth > limit:
                    return Position(file, number, col)
            elif char in "]}":
                depth -= 1
    return None


def _pos(file: str, line_col: tuple[int, int] | list[int]) -> Position:
    return Position(file, line_col[0] + 1, line_col[1] + 1)


def display_path(path: Path) -> str:
    """A path relative to the working directory where possible (what SARIF and people want)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _read_text(path: Path, shown: str, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = "check the stack name or path" if what == "stack settings file" else "check the path"
        raise StackFileError.at(shown, f"{what} not found; {hint}") from None
    except IsADirectoryError:
        raise StackFileError.at(shown, f"is a directory, not a {what}") from None
    except UnicodeDecodeError as exc:
        raise StackFileError.at(shown, f"is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise StackFileError.at(shown, f"cannot be read: {exc.strerror}") from None


def project_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a ``Pulumi.yaml`` (else ``start``)."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return here


def read_stack_file(path: Path, project_dir: Path | None = None) -> StackSource:
    """Read a stack settings file; raise ``StackFileError`` with a one-line reason on any problem.

    A ``edgefleet:fleetFile`` in it is read relative to ``project_dir`` (default: the nearest
    directory above the file that holds a ``Pulumi.yaml``).
    """
    shown = display_path(path)
    text = _read_text(path, shown, "stack settings file")
    return parse_stack_text(text, shown, stack_name_from_path(path), project_dir or project_root(path.parent))


def parse_stack_text(text: str, file: str, stack: str, project_dir: Path | None = None) -> StackSource:
    """Parse the text of a stack settings file (see ``read_stack_file``)."""
    doc = _load(text, file)
    if doc is None:
        raise StackFileError.at(file, "the file is empty; it needs a `config:` mapping with an `edgefleet:fleet` key")
    if not isinstance(doc, CommentedMap):
        kind = "list" if isinstance(doc, list) else "single value"
        raise StackFileError.at(
            file,
            f"the file holds a {kind}, not a mapping; it needs a `config:` mapping with an `edgefleet:fleet` key",
            Position(file, _first_content_line(text), 1),
        )
    issues = [
        ConfigIssue(
            str(key),
            f"unknown top-level key in a stack settings file; allowed: {', '.join(sorted(_STACK_FILE_KEYS))}",
            _pos(file, doc.lc.key(key)),
        )
        for key in doc
        if key not in _STACK_FILE_KEYS
    ]
    if issues:
        raise StackFileError(issues)
    config = doc.get("config")
    config_pos = _pos(file, doc.lc.key("config")) if "config" in doc else None
    if not isinstance(config, CommentedMap):
        raise StackFileError.at("config", "missing or not a mapping; it needs an `edgefleet:fleet` key", config_pos)

    fleet_node: Any = None
    fleet_pos: Position | None = None
    values: dict[str, ConfigValue] = {}
    problems: list[ConfigIssue] = []
    try:
        for raw_key, raw_value in config.items():
            key = normalize_key(str(raw_key))
            here = _pos(file, config.lc.key(raw_key))
            if key == FLEET_KEY:
                if fleet_pos is not None:
                    problems.append(
                        ConfigIssue(
                            f"config.{raw_key}",
                            f"`{raw_key}` is `{FLEET_KEY}` again (a key without a namespace is the project's); "
                            "keep one",
                            here,
                        )
                    )
                fleet_node, fleet_pos = raw_value, here
                continue
            if isinstance(raw_value, Mapping) and "secure" in raw_value:
                secret = raw_value["secure"]
                if len(raw_value) != 1 or not isinstance(secret, str):
                    problems.append(
                        ConfigIssue(
                            f"config.{raw_key}",
                            "a secure value is `{secure: <ciphertext>}`; set it with `pulumi config set --secret`",
                            here,
                        )
                    )
                    continue
                values[key] = ConfigValue(key, True, secret)
            else:
                values[key] = ConfigValue(key, False, to_plain(raw_value))
        fleet_file = values.get(FLEET_FILE_KEY)
        if fleet_file is not None:
            where = _pos(file, _key_of(config, FLEET_FILE_KEY))
            if fleet_pos is not None:
                problems.append(
                    ConfigIssue(
                        f"config.{FLEET_FILE_KEY}",
                        f"a stack takes its fleet from `{FLEET_KEY}` or from `{FLEET_FILE_KEY}`, not both; remove one",
                        where,
                    )
                )
            if problems:
                raise StackFileError(problems)
            return read_fleet_file(
                project_dir or Path.cwd(),
                fleet_file,
                stack=stack,
                where=where,
                values=values,
                config_file=file,
                config=config,
            )
        if fleet_pos is None:
            raise StackFileError.at(
                "config",
                f"no `{FLEET_KEY}` key; add the fleet config under it, or name a shared fleet file with "
                f"`{FLEET_FILE_KEY}` (see docs/fleet-config.md)",
                config_pos,
            )
        if problems:
            raise StackFileError(problems)
    except _TooLarge:
        raise _too_large(file, "the config") from None
    except RecursionError:
        raise _too_deep(file) from None
    fleet = _plain_fleet(fleet_node, file, "the config")
    return StackSource(
        file=file,
        stack=stack,
        fleet=fleet,
        values=values,
        _fleet_node=fleet_node,
        _fleet_key_pos=fleet_pos,
        _lines=tuple(text.splitlines()),
        config_file=file,
        _config_node=config,
    )


def _plain_fleet(node: Any, file: str, what: str) -> Any:
    """The fleet's YAML as plain values, or a one-line error for a value too big or too deep."""
    try:
        return to_plain(node)
    except _TooLarge:
        raise _too_large(file, what) from None
    except RecursionError:
        raise _too_deep(file) from None


def _too_large(file: str, what: str) -> StackFileError:
    return StackFileError.at(
        file, f"{what} expands to more than {MAX_VALUES:,} values (YAML aliases?); it cannot be a fleet"
    )


def _too_deep(file: str) -> StackFileError:
    return StackFileError.at(file, "invalid YAML: nested too deeply")


def _key_of(config: CommentedMap, key: str) -> tuple[int, int]:
    for raw_key in config:
        if normalize_key(str(raw_key)) == key:
            found: tuple[int, int] = config.lc.key(raw_key)
            return found
    return (0, 0)


def fleet_file_path(project_dir: Path, written: str) -> Path | None:
    """Where ``edgefleet:fleetFile`` points: a relative path inside the project, else None."""
    relative = Path(written)
    if not written or relative.is_absolute() or ".." in relative.parts:
        return None
    return project_dir / relative


def _fleet_document(path: Path, shown: str) -> tuple[str, Any]:
    """The fleet file's text and round-trip document. Every slice of a fleet reads the same file
    (``edgefleet up`` and ``stacks sync`` read them all), so the parse is cached per file version;
    callers only read the document."""
    try:
        stat = path.stat()
    except OSError:
        return _read_text(path, shown, "fleet file"), None  # _read_text raises the reason
    return _parsed_fleet_file(str(path), shown, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _parsed_fleet_file(path: str, shown: str, mtime_ns: int, size: int) -> tuple[str, Any]:
    text = _read_text(Path(path), shown, "fleet file")
    return text, _load(text, shown)


def read_fleet_file(
    project_dir: Path,
    entry: ConfigValue,
    *,
    stack: str,
    where: Position | None = None,
    values: Mapping[str, ConfigValue] | None = None,
    config_file: str = "",
    config: CommentedMap | None = None,
) -> StackSource:
    """The stack's fleet, read from the shared fleet file its ``edgefleet:fleetFile`` names
    (``where`` that key is in the stack file, ``values`` and ``config`` the rest of it)."""
    written = entry.value
    path = fleet_file_path(project_dir, written) if isinstance(written, str) and not entry.secure else None
    if path is None:
        raise StackFileError.at(
            f"config.{FLEET_FILE_KEY}",
            "must be a relative path inside the project, e.g. `fleets/prod.yaml` (the Pulumi program and the "
            "operator read it from the project checkout)",
            where,
        )
    shown = display_path(path)
    if not path.is_file():
        raise StackFileError.at(
            f"config.{FLEET_FILE_KEY}",
            f"fleet file {written} not found in the project ({shown}); check the path, or write it (docs/slices.md)",
            where,
        )
    text, doc = _fleet_document(path, shown)
    if not isinstance(doc, CommentedMap):
        raise StackFileError.at(
            shown,
            "a fleet file is one mapping: the fleet config (environment, owner, clusters, workloads), "
            "as under `edgefleet:fleet`",
            Position(shown, _first_content_line(text), 1),
        )
    fleet = _plain_fleet(doc, shown, "the fleet file")
    return StackSource(
        file=shown,
        stack=stack,
        fleet=fleet,
        values=dict(values or {}),
        _fleet_node=doc,
        _fleet_key_pos=Position(shown, 1, 1),
        _lines=tuple(text.splitlines()),
        fleet_file=str(written),
        config_file=config_file,
        _config_node=config,
    )

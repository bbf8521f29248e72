"""Reading a Pulumi stack settings file (``stacks/Pulumi.<stack>.yaml``) with positions.

The CLI reads the file directly; the Pulumi program gets the same values from ``pulumi.Config``
and uses this module only to point its errors at the right line. Values are returned as plain
JSON-compatible Python (what Pulumi hands a program), positions as 1-based ``line:col``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from edgefleet.components.config.errors import ConfigIssue, Position, StackFileError

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
    # The project directory: project-relative files the fleet names (`config_files[].file`) are read from it.
    project_dir: Path | None = field(default=None, compare=False)

    def locate_config(self, key: str, path: Sequence[PathPart] = ()) -> Position | None:
        """The position of ``path`` inside the stack file's config value ``key`` (or its deepest ancestor)."""
        config = self._config_node
        if not isinstance(config, CommentedMap):
            return None
        for raw_key in config:
            if normalize_key(str(raw_key)) == key:
                best = _pos(self.config_file, key_position(config, raw_key))
                node = config[raw_key]
                for part in path:
                    found = _find_key(node, part)
                    if found is not _MISSING:
                        best = _pos(self.config_file, key_position(node, found))
                        node = node[found]
                    elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                        best = _pos(self.config_file, item_position(node, part))
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
            found = _find_key(node, last)
            if found is not _MISSING and found in (node.lc.data or {}):
                line, col = node.lc.value(found)
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
            found = _find_key(node, part)
            if found is not _MISSING:
                line, col = key_position(node, found)
                best = Position(self.file, line + 1, col + 1)
                node = node[found]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, col = item_position(node, part)
                best = Position(self.file, line + 1, col + 1)
                node = node[part]
            else:
                break
        return best


_MISSING = object()


def _find_key(node: Any, part: PathPart | None) -> Any:
    """The key of mapping ``node`` that a config path part names (paths spell every key as text:
    ``1`` for the integer key 1), else ``_MISSING``."""
    if not isinstance(node, CommentedMap) or not isinstance(part, str):
        return _MISSING
    if part in node:
        return part
    for key in node:
        if not isinstance(key, str) and key is not None and plain_key(key) == part:
            return key
    return _MISSING


def key_position(node: CommentedMap, key: Any) -> tuple[int, int]:
    """Where ``key`` of ``node`` is written (0-based): in the mapping itself, else in the mapping a
    YAML merge key (``<<: *base``) brought it from, else the mapping's own start."""
    if key in (node.lc.data or {}):
        found: tuple[int, int] = node.lc.key(key)
        return found
    for merged in getattr(node, merge_attrib, None) or ():
        if isinstance(merged, CommentedMap) and key in merged:
            return key_position(merged, key)
    return (node.lc.line or 0, node.lc.col or 0)


def item_position(node: CommentedSeq, index: int) -> tuple[int, int]:
    """Where item ``index`` of ``node`` is written (0-based), else the list's own start."""
    if index in (node.lc.data or {}):
        found: tuple[int, int] = node.lc.item(index)
        return found
    return (node.lc.line or 0, node.lc.col or 0)


def plain_key(key: Any) -> str:
    """A mapping key as Pulumi passes it to a program: text (``true``, not ``True``)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


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


_STACK_SETTINGS_FILE = re.compile(r"Pulumi\..+\.ya?ml", re.IGNORECASE)


def is_stack_settings_file(path: Path) -> bool:
    """Whether ``path`` (its real name, links resolved) is a stack settings file
    (``Pulumi.<stack>.yaml``): it holds config values set without ``--secret`` in clear, so it is
    never read as a config file or a manifest."""
    return _STACK_SETTINGS_FILE.fullmatch(path.resolve().name) is not None


# What one file may hold. A stack or fleet file is at most MAX_FILE_BYTES (4 MiB: a fleet of tens of
# thousands of clusters; reading it takes seconds per MiB). YAML aliases can multiply a small file into
# a huge value ("billion laughs"), so the values aliases repeat are capped separately: MAX_ALIAS_VALUES
# in all, whatever the file's size. Values written out in full count only against the file size.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_ALIAS_VALUES = 100_000
# An integer YAML writes in hex, octal or binary has no digit limit, but Python refuses to print one
# of over 4,300 decimal digits (every error message that shows the value would fail): one of more
# than 14,000 bits (about 4,200 digits) is refused where it is written. No setting takes such a
# number; smaller ones get the setting's own range error.
MAX_INT_BITS = 14_000
_HUGE_INT = "a number of more than 4,000 digits; no setting takes it: write a smaller number, or quote it as text"


class _TooLarge(Exception):
    def __init__(self, path: str, where: tuple[int, int] | None) -> None:
        super().__init__()
        self.path = path  # the config path of the alias use that went over
        self.where = where  # its 0-based line, col (or its key's)


@dataclass
class _Plain:
    """One conversion of a round-trip document to plain values: counts what aliases repeat (a
    container met a second time is an alias of it) and collects keys no program can receive."""

    path: str = ""
    alias_budget: int = MAX_ALIAS_VALUES
    seen: set[int] = field(default_factory=set)
    in_alias: int = 0
    alias_site: tuple[str, tuple[int, int] | None] | None = None
    bad_keys: list[tuple[str, str, tuple[int, int]]] = field(default_factory=list)

    def value(self, node: Any, path: str, where: tuple[int, int] | None) -> Any:
        repeated = isinstance(node, (Mapping, list)) and id(node) in self.seen
        if repeated:
            if not self.in_alias:
                self.alias_site = (path, where)
            self.in_alias += 1
        try:
            return self._convert(node, path, where)
        finally:
            if repeated:
                self.in_alias -= 1

    def _count(self, path: str, where: tuple[int, int] | None) -> None:
        if self.in_alias:
            self.alias_budget -= 1
            if self.alias_budget < 0:
                raise _TooLarge(*(self.alias_site or (path, where)))

    def _convert(self, node: Any, path: str, where: tuple[int, int] | None) -> Any:
        self._count(path, where)
        if isinstance(node, Mapping):
            self.seen.add(id(node))
            out: dict[str, Any] = {}
            for key, value in node.items():
                here = key_position(node, key) if isinstance(node, CommentedMap) else where
                if key is None:
                    if not self.in_alias and here is not None:
                        self.bad_keys.append(
                            (path, "a mapping key is null (`~`, `null` or nothing); write its name", here)
                        )
                    continue
                if isinstance(key, int) and not isinstance(key, bool) and key.bit_length() > MAX_INT_BITS:
                    if not self.in_alias and here is not None:
                        self.bad_keys.append((path, _HUGE_INT, here))
                    continue
                name = plain_key(key)
                out[name] = self.value(value, f"{path}.{name}" if path else name, here)
            return out
        if isinstance(node, list):
            self.seen.add(id(node))
            items = []
            for index, value in enumerate(node):
                # ruamel places an alias item at its anchor: point at this list instead
                alias = isinstance(value, (Mapping, list)) and id(value) in self.seen
                here = _list_position(node, where) if alias else _item_position(node, index, where)
                items.append(self.value(value, f"{path}[{index}]", here))
            return items
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            if node.bit_length() > MAX_INT_BITS and not self.in_alias and where is not None:
                self.bad_keys.append((path, _HUGE_INT, where))
            return int(node) if node.bit_length() <= MAX_INT_BITS else 0
        if isinstance(node, float):
            return float(node)
        return str(node)


def _item_position(node: list[Any], index: int, default: tuple[int, int] | None) -> tuple[int, int] | None:
    if isinstance(node, CommentedSeq) and index in (node.lc.data or {}):
        found: tuple[int, int] = node.lc.item(index)
        return found
    return default


def _list_position(node: list[Any], default: tuple[int, int] | None) -> tuple[int, int] | None:
    if isinstance(node, CommentedSeq) and node.lc.line is not None:
        return (node.lc.line, node.lc.col or 0)
    return default


def to_plain(node: Any) -> Any:
    """ruamel's round-trip objects to plain JSON-compatible values (what Pulumi passes a program)."""
    return _Plain().value(node, "", None)


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps timestamps as the text they were written as: Pulumi
    passes `2024-02-30` to a program as a string, and an impossible date must not crash us."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


class _Composer(Composer):
    """A mapping key is one plain value. A mapping or list as a key (``? {a: [1]}``) is refused
    where it is written; an alias used as a key (``*name : x``) is the anchored text, positioned
    where the alias is (ruamel would place it at the anchor)."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # YAML allows redefining an anchor; no warning on stderr

    def compose_node(self, parent: Any, index: Any) -> Any:
        is_key = index is None and isinstance(parent, MappingNode)
        if not is_key:
            return super().compose_node(parent, index)
        alias_mark = self.parser.peek_event().start_mark if self.parser.check_event(AliasEvent) else None
        node = super().compose_node(parent, index)
        if not isinstance(node, ScalarNode):
            raise ComposerError(
                None,
                None,
                "a mapping key must be a plain value (a name), not a mapping or a list; write the key as text",
                alias_mark or node.start_mark,
            )
        if alias_mark is not None:
            return ScalarNode(node.tag, node.value, alias_mark, alias_mark, style=node.style)
        return node


def safe_yaml() -> YAML:
    """A plain-values YAML loader for files edgefleet only peeks into (another stack's slice keys,
    ``Pulumi.yaml``): the same key rules as the round-trip reader, and no warning on stderr."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _Composer
    return yaml


def _first_content_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "---", "%")):
            return number
    return 1


def _load(text: str, file: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.Composer = _Composer
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
    except (TypeError, KeyError, AttributeError) as exc:  # a construct the round-trip loader cannot hold
        reason = " ".join(str(exc).split())[:120]
        raise StackFileError.at(
            file, f"invalid YAML: cannot be read as plain mappings, lists and values ({type(exc).__name__}: {reason})"
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


class NotAFileError(OSError):
    """An input path that is not a regular file (a FIFO, device, socket, directory), or one larger
    than edgefleet reads. ``str()`` is the reason and the fix."""


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


_SPLIT_FLEET = "split the fleet into several fleet files (docs/fleet-config.md#limits)"


def read_regular_file(path: Path, max_bytes: int = MAX_FILE_BYTES, too_large: str = _SPLIT_FLEET) -> str:
    """The UTF-8 text of the regular file ``path`` (symbolic links followed).

    Opened without blocking and checked before any read, so a FIFO or a device is refused at once
    instead of hanging or never ending; a file over ``max_bytes`` is refused too (``too_large`` says
    what to do instead). Raises
    ``NotAFileError`` for those, ``OSError`` (``FileNotFoundError``, ...) and ``UnicodeDecodeError``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:  # checked on the descriptor before it becomes a file object (which refuses a directory itself)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
            raise NotAFileError(f"is {kind}, not a regular file; name a regular file")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotAFileError(
            f"is larger than {max_bytes // (1024 * 1024)} MiB, the most edgefleet reads from one file; {too_large}"
        )
    return data.decode("utf-8")


def json_problem(exc: ValueError | RecursionError) -> str:
    """Why ``json.loads`` failed beyond a syntax error (``JSONDecodeError`` has its own position),
    in one line: a number Python will not convert, or arrays nested past the recursion limit."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if "integer string conversion" in str(exc):
        return "a number of more than 4,300 digits; no setting takes it"
    return " ".join(str(exc).split())[:120]


def path_exists(path: Path) -> bool:
    """Whether ``path`` names something (symbolic links followed). Unlike ``Path.exists``, a path
    that cannot name anything (a name longer than the system allows, ``ENAMETOOLONG``; a component
    that is not a directory; no permission to look) is False instead of an ``OSError``: the read
    that follows says why, in one line."""
    try:
        path.stat()
    except (OSError, ValueError):
        return False
    return True


def _read_text(path: Path, shown: str, what: str) -> str:
    try:
        return read_regular_file(path)
    except FileNotFoundError:
        hint = "check the stack name or path" if what == "stack settings file" else "check the path"
        raise StackFileError.at(shown, f"{what} not found; {hint}") from None
    except IsADirectoryError:
        raise StackFileError.at(shown, f"is a directory, not a {what}") from None
    except NotAFileError as exc:
        raise StackFileError.at(shown, f"the {what} {exc}") from None
    except UnicodeDecodeError as exc:
        raise StackFileError.at(shown, f"is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise StackFileError.at(shown, f"cannot be read: {exc.strerror or exc}") from None


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
            _pos(file, key_position(doc, key)),
        )
        for key in doc
        if key not in _STACK_FILE_KEYS
    ]
    if issues:
        raise StackFileError(issues)
    config = doc.get("config")
    config_pos = _pos(file, key_position(doc, "config")) if "config" in doc else None
    if not isinstance(config, CommentedMap):
        raise StackFileError.at("config", "missing or not a mapping; it needs an `edgefleet:fleet` key", config_pos)

    fleet_node: Any = None
    fleet_pos: Position | None = None
    values: dict[str, ConfigValue] = {}
    problems: list[ConfigIssue] = []
    try:
        for raw_key, raw_value in config.items():
            key = normalize_key(str(raw_key))
            here = _pos(file, key_position(config, raw_key))
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
                values[key] = ConfigValue(key, False, _plain(raw_value, file, f"config.{raw_key}", here))
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
    except RecursionError:
        raise _too_deep(file) from None
    fleet = _plain(fleet_node, file, "fleet", fleet_pos)
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
        project_dir=project_dir or Path.cwd(),
    )


def _plain(node: Any, file: str, path: str, where: Position | None) -> Any:
    """A config value's YAML as plain values, or one-line errors: a null key, a value that YAML
    aliases expand too far, a value nested too deeply."""
    walk = _Plain()
    start = (where.line - 1, where.col - 1) if where is not None else None
    try:
        value = walk.value(node, path, start)
    except _TooLarge as exc:
        raise _too_large(file, exc.path, exc.where) from None
    except RecursionError:
        raise _too_deep(file) from None
    if walk.bad_keys:
        raise StackFileError([ConfigIssue(at, message, _pos(file, here)) for at, message, here in walk.bad_keys])
    return value


def _too_large(file: str, path: str, where: tuple[int, int] | None) -> StackFileError:
    return StackFileError.at(
        path,
        f"YAML aliases here expand to more than {MAX_ALIAS_VALUES:,} repeated values, the most edgefleet "
        "expands (a guard against alias bombs); write the values out, or use fewer aliases",
        _pos(file, where) if where is not None else None,
    )


def _too_deep(file: str) -> StackFileError:
    return StackFileError.at(file, "invalid YAML: nested too deeply")


def _key_of(config: CommentedMap, key: str) -> tuple[int, int]:
    for raw_key in config:
        if normalize_key(str(raw_key)) == key:
            found: tuple[int, int] = key_position(config, raw_key)
            return found
    return (0, 0)


def fleet_file_path(project_dir: Path, written: str) -> Path | None:
    """Where ``edgefleet:fleetFile`` points: a relative path inside the project, else None."""
    relative = Path(written)
    if not written or relative.is_absolute() or ".." in relative.parts:
        return None
    return project_dir / relative


def project_file_problem(project_dir: Path, written: str, example: str, what: str) -> tuple[Path | None, str]:
    """Where a project-relative path the config names (``config_files[].file``, ``manifests``)
    points, or why it may not be read: not relative, missing, or a link out of the project.
    ``example`` is a path to suggest, ``what`` the thing to copy in instead of linking."""
    path = fleet_file_path(project_dir, written)
    if path is None:
        return None, (
            f"{written!r} must be a relative path inside the project (no leading `/`, no `..`), e.g. "
            f"`{example}`: the program reads it from the project checkout"
        )
    if not path_exists(path):
        return None, f"{written} not found in the project ({project_dir / written}); check the path"
    real = outside_project(project_dir, path)
    if real is not None:
        return None, (
            f"{written} is a symbolic link to {real}, outside the project ({project_dir.resolve()}); copy the "
            f"{what} into the project instead of linking"
        )
    return path, ""


def outside_project(project_dir: Path, path: Path) -> Path | None:
    """The real path of ``path`` (every symbolic link resolved) when it is outside the project's
    real directory, else None: a project-relative setting may name only the project's own files."""
    real = path.resolve()
    try:
        real.relative_to(project_dir.resolve())
    except ValueError:
        return real
    return None


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
    if not path_exists(path):
        raise StackFileError.at(
            f"config.{FLEET_FILE_KEY}",
            f"fleet file {written} not found in the project ({shown}); check the path, or write it (docs/slices.md)",
            where,
        )
    real = outside_project(project_dir, path)
    if real is not None:
        raise StackFileError.at(
            f"config.{FLEET_FILE_KEY}",
            f"{written} is a symbolic link to {real}, outside the project ({project_dir.resolve()}); the fleet "
            "file must be a file inside the project: copy it in instead of linking",
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
    fleet = _plain(doc, shown, "fleet", Position(shown, 1, 1))
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
        project_dir=project_dir,
    )

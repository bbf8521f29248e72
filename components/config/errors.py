"""Configuration errors.

Hierarchy::

    ConfigError (ValueError)      one or more ConfigIssue, raised before any resource exists
      StackFileError              the stack settings file itself cannot be read (missing, bad YAML, empty)

A ``ConfigIssue`` names the config path (``fleet.clusters[2].cni.plugin``), a message that says
what to do, and, when the input came from a file, where in the file (``line:col``, 1-based).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Characters that would break one error into several lines, or rewrite the terminal, when a file
# name or a value written in the config carries them (C0 and C1 controls, line and paragraph
# separators): shown as escapes instead.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` as one line of plain characters: a control character is written as its escape."""
    return _CONTROL.sub(lambda match: repr(match.group(0))[1:-1], text)


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the fleet config: where, what, and the fix."""

    path: str
    message: str
    position: Position | None = None

    def __str__(self) -> str:
        where = f" ({self.position})" if self.position else ""
        return one_line(f"{self.path}: {self.message}{where}")


class ConfigError(ValueError):
    """The fleet config is invalid; ``issues`` holds every problem found, in file order."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class StackFileError(ConfigError):
    """The stack settings file cannot be read as YAML with a ``config`` mapping."""

    @classmethod
    def at(cls, path: Path | str, message: str, position: Position | None = None) -> StackFileError:
        return cls([ConfigIssue(str(path), message, position)])

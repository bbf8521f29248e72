"""The Prometheus text exposition format (0.0.4), parsed into samples: what the doctor reads from an agent."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+-?\d+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


class ExpositionError(ValueError):
    """Text that is not the Prometheus exposition format (one line, naming the line number)."""


@dataclass(frozen=True)
class Sample:
    """One sample: metric name, labels (sorted), value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str:
        return dict(self.labels).get(key, "")


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def _labels(text: str, number: int) -> tuple[tuple[str, str], ...]:
    inner = text[1:-1]
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(inner):
        match = _LABEL.match(inner, position)
        if match is None or match.end() == position:
            raise ExpositionError(f"line {number}: cannot read the labels {text[:80]!r}")
        found.append((match.group(1), _unescape(match.group(2))))
        position = match.end()
    return tuple(sorted(found))


def parse(text: str, *, prefix: str = "") -> list[Sample]:
    """Every sample in ``text`` whose name starts with ``prefix``; comments and blank lines skipped."""
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise ExpositionError(f"line {number}: not a sample: {line[:80]!r}")
        name, labels, raw = match.groups()
        if not name.startswith(prefix):
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ExpositionError(f"line {number}: {raw!r} is not a number") from None
        samples.append(Sample(name, _labels(labels, number) if labels else (), value))
    return samples


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None

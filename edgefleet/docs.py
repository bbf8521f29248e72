"""Regenerate the generated parts of the README (`make docs`): the policy rules table."""

from __future__ import annotations

import sys
from pathlib import Path

from edgefleet.check import rules_table
from policies.rules import ALL_POLICIES

START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"


def render(readme: str) -> str:
    """``readme`` with the text between the rules markers replaced by the current table."""
    if START not in readme or END not in readme:
        raise ValueError(f"README has no {START.strip()} ... {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}{rules_table(ALL_POLICIES)}{END}{tail}"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    text = path.read_text(encoding="utf-8")
    updated = render(text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        print(f"{path}: rules table updated")
    else:
        print(f"{path}: up to date")


if __name__ == "__main__":
    main()

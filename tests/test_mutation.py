"""Mutation fuzzing of the example stacks, kept as a test (issue 13, item 10).

Hypothesis mutates the examples' YAML (``stacks/Pulumi.dev.yaml``, ``stacks/Pulumi.prod.yaml``,
the shared fleet file of the ``retail-*`` slices and two of their stack files): it deletes keys
and items, swaps value types, inserts hostile scalars (``.inf``, ``.nan``, huge integers,
``1e308``, empty and 10,000-character strings, nulls, unicode, control characters), then edits
the text (merge keys, anchors and aliases, aliases and nulls and mappings as keys, tabs, control
characters, truncation, deep nesting, bad tags). ``edgefleet validate`` must exit 0 or 2; on 2,
stderr is error lines of the documented shape (``path: message (file:line:col)``, or a
file-level ``file: message``) and the summary; never a traceback, never a hang (each run has a
time limit).

Every input that once broke this contract is a case file in ``tests/data/bad/``. The number of
examples is bounded (the ``fuzz`` marker: ``pytest -m "not fuzz"`` skips it); CI replays the same
examples (``HYPOTHESIS_PROFILE=ci``, tests/conftest.py).
"""

from __future__ import annotations

import copy
import io
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import chdir
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner, Result

from edgefleet.cli import app
from edgefleet.components.config import slices, source
from tests.test_bad_input import ERROR_LINE, SUMMARY

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0  # seconds per validate run: far above any real one (well under 2 s)
# Bounded so the suite stays fast; EDGEFLEET_FUZZ_EXAMPLES=2000 for a longer hunt.
EXAMPLES_PER_STACK = int(os.environ.get("EDGEFLEET_FUZZ_EXAMPLES", "60"))

pytestmark = pytest.mark.fuzz


@dataclass(frozen=True)
class Target:
    """What a mutation edits (a project-relative file) and the stack ``validate`` is run on."""

    file: str
    stack: str


TARGETS = [
    Target("stacks/Pulumi.dev.yaml", "dev"),
    Target("stacks/Pulumi.prod.yaml", "prod"),
    Target("fleets/retail.yaml", "retail-europe"),  # the slices' shared fleet file
    Target("stacks/Pulumi.retail-global.yaml", "retail-global"),  # a slice's own stack file
    Target("stacks/Pulumi.retail-asia.yaml", "retail-europe"),  # a sibling every slice reads
]

HOSTILE: list[Any] = [
    float("inf"),
    float("-inf"),
    float("nan"),
    1e308,
    10**30,
    -(10**30),
    2**63,
    -1,
    0,
    "",
    "x" * 10_000,
    None,
    True,
    [],
    {},
    [1, [2]],
    {"a": {"b": None}},
    "ünïcødé-€-😀-\u202e-\u0000",
    "a\x01b\x1fc",
    "\t",
    "0.0.0.0/0",
    "../../etc/passwd",
    "/etc/passwd",
    "kube-system",
    "${HOME}",
]

# Text spliced into the YAML as a scalar value (the loader must cope with what the dumper never writes).
HOSTILE_TEXT = [
    ".inf",
    "-.inf",
    ".nan",
    "1.0e308",
    "1e999",
    "9" * 5000,
    "0x" + "f" * 40,
    "0x" + "f" * 4000,  # no digit limit in hex, but over 4,300 decimal digits: Python cannot print it
    "!!int abc",
    "!!float xyz",
    "!!binary AAAA",
    "!!python/object:os.system ls",
    "!custom x",
    "2024-13-45",
    "'" + "x" * 10_000 + "'",
    '"\\u0000\\x01"',
    "~",
    "[" * 300 + "]" * 300,
    "{a: [1]",
    "&",
    "*undefined",
    "|",
    '"unterminated',
]

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_KEY_LINE = re.compile(r"^(?P<indent> *)(?:- )?(?P<key>[A-Za-z_][\w:-]*):(?P<rest>.*)$")


def _dump(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_data(draw: st.DrawFn, original: Any) -> Any:
    """The document with 1-4 structural mutations."""
    doc = YAML(typ="safe", pure=True).load(_dump(original))  # a deep copy
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _parent(doc, path), path[-1]
        op = draw(st.sampled_from(["delete", "hostile", "wrap", "unknown-key", "duplicate", "mapping-for-list"]))
        if op == "delete":
            del parent[last]
        elif op == "hostile":
            parent[last] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))  # never the shared HOSTILE entry
        elif op == "wrap":
            parent[last] = [parent[last]]
        elif op == "unknown-key" and isinstance(parent[last], dict):
            key = draw(st.sampled_from(["colour", "", "1", "kind", "é"]))
            parent[last][key] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(parent[last])
        elif op == "mapping-for-list" and isinstance(parent[last], list):
            parent[last] = {str(i): v for i, v in enumerate(parent[last])}
    return doc


def _key_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if _KEY_LINE.match(line)]


@st.composite
def text_edit(draw: st.DrawFn, text: str) -> str:
    """One textual mutation of a YAML document."""
    lines = text.split("\n")
    keyed = _key_lines(lines)
    op = draw(
        st.sampled_from(
            [
                "merge-key",
                "merge-alias",
                "anchor-alias",
                "alias-as-key",
                "null-key",
                "complex-key",
                "hostile-scalar",
                "tab",
                "control-char",
                "truncate",
                "duplicate-line",
                "unicode",
            ]
        )
    )
    if not keyed or op in ("control-char", "truncate", "unicode"):
        position = draw(st.integers(0, len(text)))
        if op == "truncate":
            return text[:position]
        char = draw(st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x7f", "\ufeff", "\u2028", "\x85"]))
        if op == "unicode":
            char = draw(st.sampled_from(["é", "😀", "\u202e", "\u200b", "\U0001d518"]))
        return text[:position] + char + text[position:]
    index = draw(st.sampled_from(keyed))
    match = _KEY_LINE.match(lines[index])
    assert match is not None
    indent = match["indent"] + ("  " if lines[index].lstrip().startswith("- ") else "")
    if op == "merge-key":
        lines.insert(index, f"{indent}<<: {{{draw(st.sampled_from(['bogus_key', 'name', 'vendor']))}: 1}}")
    elif op in ("merge-alias", "anchor-alias", "alias-as-key"):
        other = draw(st.sampled_from(keyed))
        rest = match["rest"].strip()
        if rest and not rest.startswith(("&", "*", "|", ">")):
            lines[index] = lines[index].replace(f"{match['key']}:{match['rest']}", f"{match['key']}: &a1 {rest}", 1)
        else:
            lines[index] = lines[index].replace(f"{match['key']}:", f"{match['key']}: &a1", 1)
        target = _KEY_LINE.match(lines[other])
        assert target is not None
        other_indent = target["indent"] + ("  " if lines[other].lstrip().startswith("- ") else "")
        if op == "merge-alias":
            lines.insert(other + 1, f"{other_indent}<<: *a1")
        elif op == "alias-as-key":
            lines.insert(other + 1, f"{other_indent}*a1 : x")
        else:
            lines[other] = f"{lines[other].split(':', 1)[0]}: *a1"
    elif op == "null-key":
        lines.insert(index, f"{indent}~: x")
    elif op == "complex-key":
        lines.insert(index, f"{indent}? {{a: [1]}}\n{indent}: x")
    elif op == "hostile-scalar":
        lines[index] = f"{lines[index].split(':', 1)[0]}: {draw(st.sampled_from(HOSTILE_TEXT))}"
    elif op == "tab":
        lines[index] = "\t" + lines[index].lstrip(" ") if lines[index].startswith(" ") else "\t" + lines[index]
    elif op == "duplicate-line":
        lines.insert(index, lines[index])
    return "\n".join(lines)


@st.composite
def mutated_text(draw: st.DrawFn, original: Any) -> str:
    text = _dump(draw(mutated_data(original))) if draw(st.booleans()) else _dump(original)
    for _ in range(draw(st.integers(0 if text != _dump(original) else 1, 2))):
        text = draw(text_edit(text))
    return text


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's config (stacks, the fleet file, placements, pack configs) to mutate."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", root / "stacks")
    shutil.copytree(REPO / "fleets", root / "fleets")
    shutil.copytree(REPO / "placements", root / "placements")
    shutil.copytree(REPO / "policies" / "config", root / "policies" / "config")
    shutil.copytree(REPO / "apps", root / "apps")  # the config files the examples mount (config_files[].file)
    return root


def _validate(project: Path, stack: str) -> Result:
    """``edgefleet validate STACK`` in ``project``, in a thread with a time limit (a hang fails)."""
    box: list[Result] = []
    worker = threading.Thread(target=lambda: box.append(CliRunner().invoke(app, ["validate", stack])), daemon=True)
    with chdir(project):
        worker.start()
        worker.join(TIMEOUT)
    assert not worker.is_alive(), f"validate {stack} hung for more than {TIMEOUT:.0f} s"
    return box[0]


def _check_contract(result: Result, text: str) -> None:
    shown = f"\n--- input ---\n{text[:3000]}\n--- stderr ---\n{result.stderr}\n--- stdout ---\n{result.stdout}"
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception) + shown
    assert result.exit_code in (0, 2), f"exit {result.exit_code}" + shown
    if result.exit_code == 0:
        assert result.stderr.startswith("valid: "), shown
        return
    assert result.stdout == "", "errors belong on stderr" + shown
    lines = result.stderr.rstrip("\n").split("\n")
    summary = SUMMARY.match(lines[-1])
    assert summary is not None, "the last line is the summary" + shown
    errors = lines[:-1]
    assert errors, shown
    assert int(summary["n"]) == len(errors), shown
    for line in errors:
        assert ERROR_LINE.match(line), f"malformed error line {line!r}" + shown
        # one line on any terminal: a control character from the input is shown as its escape
        assert not CONTROL.search(line), f"raw control character in {line!r}" + shown


@pytest.mark.parametrize("target", TARGETS, ids=[t.stack for t in TARGETS])
def test_validate_survives_mutations_of_the_examples(project: Path, target: Target) -> None:
    original = YAML(typ="safe", pure=True).load((REPO / target.file).read_text(encoding="utf-8"))
    path = project / target.file
    pristine = path.read_text(encoding="utf-8")

    @settings(
        max_examples=EXAMPLES_PER_STACK,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(text=mutated_text(original))
    def run(text: str) -> None:
        path.write_text(text, encoding="utf-8")
        # the readers cache per file version (mtime, size): a rewrite within one clock tick must not hit it
        source._parsed_fleet_file.cache_clear()
        slices._slice_settings.cache_clear()
        _check_contract(_validate(project, target.stack), text)

    try:
        run()
    finally:
        path.write_text(pristine, encoding="utf-8")


# Where the sweep below puts every hostile scalar: a number, a string, a coordinate (dev) and the
# shared fleet file of the slices (an integer and a Route 53 id), each by the first line of its key.
SWEEP = [
    (Target("stacks/Pulumi.dev.yaml", "dev"), "replicas"),
    (Target("stacks/Pulumi.dev.yaml", "dev"), "owner"),
    (Target("stacks/Pulumi.dev.yaml", "dev"), "location"),
    (Target("fleets/retail.yaml", "retail-europe"), "replicas"),
    (Target("fleets/retail.yaml", "retail-europe"), "zone_id"),
]


@pytest.mark.parametrize(("target", "key"), SWEEP, ids=[f"{t.stack}-{k}" for t, k in SWEEP])
def test_every_hostile_scalar_is_tried_at_every_kind_of_value(project: Path, target: Target, key: str) -> None:
    """The random mutations above reach a given hostile scalar in a given place by chance (a
    hex integer of 4,000 digits broke `validate` and 300 examples missed it about one time in
    four): this sweep tries each one, deterministically, where a number and a string are read."""
    path = project / target.file
    pristine = path.read_text(encoding="utf-8")
    lines = pristine.split("\n")
    index = next(i for i, line in enumerate(lines) if line.lstrip(" -").startswith(f"{key}:"))
    try:
        for hostile in HOSTILE_TEXT:
            text = "\n".join([*lines[:index], f"{lines[index].split(':', 1)[0]}: {hostile}", *lines[index + 1 :]])
            path.write_text(text, encoding="utf-8")
            source._parsed_fleet_file.cache_clear()
            slices._slice_settings.cache_clear()
            _check_contract(_validate(project, target.stack), text)  # `owner: !custom x` is "x": exit 0 is fine
    finally:
        path.write_text(pristine, encoding="utf-8")


def test_the_unmutated_examples_are_valid(project: Path) -> None:
    """Control: every target validates as it is, so a mutation is what makes a run fail."""
    for target in TARGETS:
        result = _validate(project, target.stack)
        assert result.exit_code == 0, result.stderr

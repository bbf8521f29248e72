"""Malformed stack settings files: ``edgefleet validate`` rejects each one the way the contract says.

Every ``tests/data/bad/Pulumi.<case>.yaml`` starts with header comments:

``# expect: <text>``   a substring the error output must contain (required)
``# path: <path>``     the config path an error line must start with
``# errors: <n>``      how many errors ``invalid: N error(s)`` must report
``# position: none``   the errors of this file have no ``(file:line:col)`` (nothing to point at)

and the offending line carries the comment ``# <- error``: the error's ``:LINE:`` must be that line.

Most cases run in-process through typer's ``CliRunner``; a few run the real CLI in a subprocess.
Known product bugs are listed in ``KNOWN_BUGS`` as strict xfails: they turn red once fixed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from edgefleet.cli import app
from edgefleet.components.config import ConfigError, StackFileError, load_stack, parse_stack_text, read_stack_file

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad"
DEV = ROOT / "stacks" / "Pulumi.dev.yaml"
MARK = b"# <- error"

ERROR_LINE = re.compile(r"^\S.*: .+( \(.+:\d+:\d+\))?$")
POSITION = re.compile(r" \((?P<file>[^()]+):(?P<line>\d+):(?P<col>\d+)\)$")
SUMMARY = re.compile(r"^invalid: (?P<n>\d+) errors?$")
HEADER = re.compile(r"^# (?P<key>expect|path|errors|position): (?P<value>.*)$")


@dataclass(frozen=True)
class Case:
    file: Path
    expect: str | None
    config_path: str | None
    errors: int | None
    positioned: bool
    line: int | None  # the 1-based line marked `# <- error`
    marks: int  # how many lines carry the mark (must be 0 or 1)

    @property
    def name(self) -> str:
        return self.file.name.removeprefix("Pulumi.").removesuffix(".yaml")


def _read_case(file: Path) -> Case:
    raw_lines = file.read_bytes().split(b"\n")
    headers: dict[str, str] = {}
    for raw in raw_lines:
        match = HEADER.match(raw.decode("utf-8", errors="replace"))
        if match is None:
            break
        headers[match["key"]] = match["value"].strip()
    marked = [number for number, raw in enumerate(raw_lines, start=1) if MARK in raw]
    return Case(
        file=file,
        expect=headers.get("expect"),
        config_path=headers.get("path"),
        errors=int(headers["errors"]) if "errors" in headers else None,
        positioned=headers.get("position") != "none",
        line=marked[0] if marked else None,
        marks=len(marked),
    )


CASES: list[Case] = [_read_case(f) for f in sorted(BAD.glob("Pulumi.*.yaml"))]
BY_NAME: dict[str, Case] = {c.name: c for c in CASES}

_PORT_BOOL = (
    "bug: `port: true` is accepted (pydantic lax mode turns the bool into port 1); "
    "a bool where an integer belongs should be a type error"
)
_DEMAND_CITY = (
    "bug: `placement.demand.points[].city` is never resolved, so a city the catalog cannot find "
    "passes validation (the contract lists 'a city the catalog cannot find' as an error)"
)
_TRACEBACK = {
    "deeply-nested": "bug: 600 nested `[` in a value: RecursionError traceback from the YAML loader, exit 1",
    "huge-integer": "bug: a 5000-digit integer: ValueError (int string conversion limit) traceback, exit 1",
    "impossible-date": "bug: an impossible date such as 2024-13-45: ValueError traceback from the YAML "
    "timestamp constructor, exit 1",
    "int-tag-not-a-number": "bug: `!!int abc`: ValueError traceback from the YAML constructor, exit 1",
}
ASPECTS = ("rejects", "positions", "names", "line")
# (case, aspect) -> why it fails today.
#   rejects:   exit 2, no traceback, one error per line, the summary line
#   positions: every error line ends in (file:line:col) of this file
#   names:     the `# expect:` text, the `# path:` line and the `# errors:` count
#   line:      the error is on the line marked `# <- error`
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _params(aspect: str, cases: list[Case]) -> list[object]:
    params: list[object] = []
    for case in cases:
        reason = KNOWN_BUGS.get((case.name, aspect))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


@cache
def _invoke(file: Path) -> Result:
    """Run ``edgefleet validate FILE`` in-process once per file."""
    return CliRunner().invoke(app, ["validate", str(file)])


def _error_lines(stderr: str) -> list[str]:
    return stderr.rstrip("\n").split("\n")[:-1]


def _check_rejected(case: Case, exit_code: int, stdout: str, stderr: str) -> None:
    """The CLI contract for invalid input: exit 2, one error per line, a summary, no traceback."""
    assert "Traceback" not in stdout
    assert "Traceback" not in stderr
    assert exit_code == 2, f"exit {exit_code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert stdout.strip() == "", "errors belong on stderr"
    lines = stderr.rstrip("\n").split("\n")
    summary = SUMMARY.match(lines[-1])
    assert summary is not None, f"last stderr line is not the summary: {lines[-1]!r}"
    errors = lines[:-1]
    assert errors, "no error lines before the summary"
    assert int(summary["n"]) == len(errors), stderr
    for line in errors:
        assert ERROR_LINE.match(line), f"malformed error line: {line!r}"
        assert not SUMMARY.match(line)


def _check_positions(case: Case, exit_code: int, stderr: str) -> None:
    """Every error line points into the case file, at a line and column that exist."""
    assert exit_code == 2, stderr
    errors = _error_lines(stderr)
    assert errors
    total_lines = case.file.read_bytes().count(b"\n") + 1
    for line in errors:
        position = POSITION.search(line)
        assert position is not None, f"no (file:line:col) on: {line!r}"
        assert Path(position["file"]).resolve() == case.file.resolve(), line
        assert 1 <= int(position["line"]) <= total_lines, line
        assert int(position["col"]) >= 1, line


def _line_for(case: Case, errors: list[str]) -> str:
    """The error line a case is about: the one at its config path, else the one with its text."""
    if case.config_path is not None:
        hits = [line for line in errors if line.startswith(f"{case.config_path}: ")]
    else:
        hits = [line for line in errors if case.expect and case.expect in line]
    assert hits, f"no error line for {case.config_path or case.expect!r} in:\n" + "\n".join(errors)
    return hits[0]


# --- the case files themselves ----------------------------------------------------------------


def test_there_are_at_least_30_cases() -> None:
    assert len(CASES) >= 30
    assert len(list(BAD.iterdir())) == len(CASES), "every file under tests/data/bad is a Pulumi.<case>.yaml"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_file_is_well_formed(case: Case) -> None:
    assert case.file.read_bytes().startswith(b"# expect: "), "line 1 must be `# expect: ...`"
    assert case.expect
    assert case.marks <= 1, "at most one line may carry `# <- error`"
    if case.config_path is not None:
        assert re.fullmatch(r"(fleet|config|secretprovider)([.\[].*)?", case.config_path)


def test_the_valid_example_passes() -> None:
    """Control: the stack every bad case was derived from is valid, so each case fails for its edit."""
    result = _invoke(DEV)
    assert result.exit_code == 0, result.stderr
    assert "valid: " in result.stderr
    assert "2 cluster(s), 1 workload(s), 2 placement(s)" in result.stderr


# --- in-process CLI over every case -----------------------------------------------------------


@pytest.mark.parametrize("case", _params("rejects", CASES))
def test_cli_rejects(case: Case) -> None:
    result = _invoke(case.file)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    _check_rejected(case, result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize("case", _params("positions", [c for c in CASES if c.positioned]))
def test_cli_errors_carry_positions(case: Case) -> None:
    result = _invoke(case.file)
    _check_positions(case, result.exit_code, result.stderr)


@pytest.mark.parametrize("case", _params("names", CASES))
def test_cli_names_the_problem(case: Case) -> None:
    result = _invoke(case.file)
    assert result.exit_code == 2, result.stderr
    errors = _error_lines(result.stderr)
    assert case.expect is not None
    assert case.expect in result.stderr
    if case.config_path is not None:
        assert case.expect in _line_for(case, errors)  # the line at that path says it
    if case.errors is not None:
        assert len(errors) == case.errors, result.stderr


@pytest.mark.parametrize("case", _params("line", [c for c in CASES if c.line is not None]))
def test_cli_points_at_the_offending_line(case: Case) -> None:
    result = _invoke(case.file)
    assert result.exit_code == 2, result.stderr
    line = _line_for(case, _error_lines(result.stderr))
    position = POSITION.search(line)
    assert position is not None, line
    assert int(position["line"]) == case.line, f"expected :{case.line}: in {line!r}"


# A few positions spelled out (the `# <- error` mark gives the same line; the column is checked too).
EXACT_POSITIONS = [
    ("type-int-for-string", "fleet.owner", 7, 5),
    ("kubeconfig-not-set", "fleet.clusters[1].kubeconfig", 20, 9),
    ("unknown-key-cni", "fleet.clusters[1].cni.hubbel", 21, 31),
    ("duplicate-cluster-names", "fleet.clusters[1].name", 18, 9),
    ("min-locations-after-residency", "fleet.workloads[0].placement.min_locations", 34, 11),
    ("defaults-error-reported-once", "fleet.defaults.labels.tier", 11, 16),
    ("missing-owner", "fleet.owner", 5, 3),
    ("duplicate-yaml-key", None, 7, 5),
]


@pytest.mark.parametrize(("name", "config_path", "line", "col"), EXACT_POSITIONS, ids=[e[0] for e in EXACT_POSITIONS])
def test_cli_exact_position(name: str, config_path: str | None, line: int, col: int) -> None:
    case = BY_NAME[name]
    result = _invoke(case.file)
    shown = os.path.relpath(case.file)
    lines = _error_lines(result.stderr)
    target = _line_for(case, lines)
    if config_path is not None:
        assert target.startswith(f"{config_path}: ")
    assert target.endswith(f" ({shown}:{line}:{col})"), target
    assert f":{line}:" in target


# --- in-process: the loader API -----------------------------------------------------------------


def _load_issues(case: Case) -> tuple[ConfigError, str]:
    shown = os.path.relpath(case.file)
    text = case.file.read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_stack(parse_stack_text(text, shown, case.name))
    return info.value, shown


@pytest.mark.parametrize(
    ("name", "paths"),
    [
        ("kubeconfig-not-set", ["fleet.clusters[1].kubeconfig"]),
        ("defaults-error-reported-once", ["fleet.defaults.labels.tier"]),
        ("unknown-key-location", ["fleet.clusters[0].location.country", "fleet.clusters[0].location.contry"]),
        ("pinned-unknown-cluster", ["fleet.workloads[0].placement.clusters[1]"]),
        ("replicas-too-few", ["fleet.workloads[0].replicas"]),
        ("latency-too-few-locations", ["fleet.workloads[0].placement.min_locations"]),
        ("cloud-location", ["fleet.clusters[2].location"]),
        ("missing-environment", ["fleet.environment"]),
    ],
)
def test_load_stack_issue_paths_and_lines(name: str, paths: list[str]) -> None:
    case = BY_NAME[name]
    error, shown = _load_issues(case)
    assert not isinstance(error, StackFileError)
    assert [issue.path for issue in error.issues] == paths
    for issue in error.issues:
        assert issue.position is not None
        assert issue.position.file == shown
        assert issue.position.line == case.line
    assert str(error).count("\n") == len(paths) - 1


def test_load_stack_location_errors_are_in_file_order() -> None:
    error, _ = _load_issues(BY_NAME["unknown-key-location"])
    positions = [issue.position for issue in error.issues if issue.position is not None]
    assert len(positions) == len(error.issues) == 2
    assert positions == sorted(positions)
    # the missing key is reported at `location:`, the unknown one at the key itself
    assert [(p.line, p.col) for p in positions] == [(15, 9), (15, 34)]


@pytest.mark.parametrize("name", ["duplicate-yaml-key", "bad-yaml-tab", "unknown-top-level-key", "config-not-mapping"])
def test_parse_stack_text_reports_the_file_problem(name: str) -> None:
    case = BY_NAME[name]
    text = case.file.read_text(encoding="utf-8")
    with pytest.raises(StackFileError) as info:
        parse_stack_text(text, "stack.yaml", "stack")
    (issue,) = info.value.issues
    assert issue.position is not None
    assert issue.position.file == "stack.yaml"
    assert issue.position.line == case.line
    assert case.expect is not None
    assert case.expect in str(issue)


def test_read_stack_file_rejects_non_utf8() -> None:
    case = BY_NAME["non-utf8"]
    with pytest.raises(StackFileError) as info:
        read_stack_file(case.file)
    (issue,) = info.value.issues
    assert "is not UTF-8 text" in issue.message
    assert Path(issue.path).resolve() == case.file.resolve()


def test_missing_stack_file_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "Pulumi.nope.yaml")])
    assert result.exit_code == 2
    assert "stack settings file not found" in result.stderr
    assert SUMMARY.match(result.stderr.rstrip("\n").split("\n")[-1])


# --- the real CLI in a subprocess ---------------------------------------------------------------

SUBPROCESS_CASES = [
    "type-int-for-string",
    "empty",
    "non-utf8",
    "bad-yaml-tab",
    "min-locations-after-residency",
    "unknown-key-location",
    "impossible-date",  # a known traceback: the real process shows what the user would see
]


@pytest.fixture(scope="module")
def cli_runs() -> dict[str, tuple[int, str, str]]:
    """Run ``python -m edgefleet validate`` on a few cases (and the valid stack), concurrently."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_INTERACTIVE")}
    env["COLUMNS"] = "60"  # narrower than every error line: none may be wrapped
    files = {name: BY_NAME[name].file for name in SUBPROCESS_CASES} | {"dev": DEV}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "edgefleet", "validate", str(file)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        for name, file in files.items()
    }
    runs: dict[str, tuple[int, str, str]] = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        runs[name] = (proc.returncode, stdout, stderr)
    return runs


@pytest.mark.parametrize("case", _params("rejects", [BY_NAME[name] for name in SUBPROCESS_CASES]))
def test_subprocess_cli_rejects(case: Case, cli_runs: dict[str, tuple[int, str, str]]) -> None:
    name = case.name
    code, stdout, stderr = cli_runs[name]
    _check_rejected(case, code, stdout, stderr)
    if case.positioned:
        _check_positions(case, code, stderr)
    assert case.expect is not None
    assert case.expect in stderr
    if case.config_path is not None:
        assert any(line.startswith(f"{case.config_path}: ") for line in _error_lines(stderr))
    if case.line is not None:
        line = _line_for(case, _error_lines(stderr))
        assert f"{os.path.relpath(case.file, ROOT)}:{case.line}:" in line
    assert "\x1b[" not in stderr, "no colour when stderr is not a terminal"


def test_subprocess_cli_accepts_the_valid_example(cli_runs: dict[str, tuple[int, str, str]]) -> None:
    code, stdout, stderr = cli_runs["dev"]
    assert code == 0, stderr
    assert "Traceback" not in stdout + stderr
    assert stderr.startswith("valid: stacks/Pulumi.dev.yaml: 2 cluster(s)")

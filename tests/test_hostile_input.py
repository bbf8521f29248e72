"""Hostile input that cannot live in ``tests/data/bad/`` (FIFOs, devices, symbolic links, output
paths, sizes): each is one error line and exit 2, never a traceback or a hang (issue 13, item 9).

The YAML-shaped hostile inputs (merge keys, complex and null keys, aliases as keys, alias bombs,
infinite or huge demand weights) are case files in ``tests/data/bad/``, asserted by
``tests/test_bad_input.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import chdir
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from typer.testing import CliRunner, Result

from edgefleet.cli import app
from edgefleet.components.config import ConfigError, StackFileError, read_stack_file
from edgefleet.components.config.slices import load_sliced
from edgefleet.components.config.source import (
    MAX_ALIAS_VALUES,
    MAX_FILE_BYTES,
    NotAFileError,
    _plain,
    parse_stack_text,
    read_regular_file,
)

REPO = Path(__file__).resolve().parent.parent
FLEET = "fleets/retail.yaml"
SUMMARY = re.compile(r"^invalid: (?P<n>\d+) errors?$")
# Enough for a cold import of the engine; a hang is forever.
TIMEOUT = 60.0

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")


def guarded(call: Callable[[], Result], seconds: float = TIMEOUT) -> Result:
    """Run ``call`` in a daemon thread; a call still running after ``seconds`` is a hang."""
    box: list[Result] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # reported below, with the test's own traceback
            failure.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"hung for more than {seconds:.0f} s"
    if failure:
        raise failure[0]
    return box[0]


def invoke(*args: str) -> Result:
    return guarded(lambda: CliRunner().invoke(app, list(args)))


def one_error(result: Result, *fragments: str) -> str:
    """Exit 2, no traceback, exactly one error line (then the summary) holding every fragment."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, output
    lines = result.stderr.rstrip("\n").split("\n")
    assert SUMMARY.match(lines[-1]), result.stderr
    assert len(lines) == 2, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project's example slices (retail), the working directory while the test runs."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "fleets").mkdir()
    shutil.copy(REPO / FLEET, tmp_path / FLEET)
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    shutil.copytree(REPO / "placements", tmp_path / "placements")
    shutil.copytree(REPO / "policies" / "config", tmp_path / "policies" / "config")
    with chdir(tmp_path):
        yield tmp_path


def _set_key(stack_file: Path, key: str, value: str) -> None:
    text = stack_file.read_text(encoding="utf-8")
    assert "config:\n" in text
    stack_file.write_text(text.replace("config:\n", f"config:\n  {key}: {value}\n", 1), encoding="utf-8")


# --- inputs: only regular files are read, and never block --------------------------------------


@needs_fifo
def test_a_fifo_stack_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "Pulumi.fifo.yaml"
    os.mkfifo(fifo)
    line = one_error(invoke("validate", str(fifo)), "named pipe (FIFO)", "not a regular file", "Pulumi.fifo.yaml")
    assert line.startswith(os.path.relpath(fifo))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_as_stack_file_is_refused() -> None:
    one_error(invoke("validate", "/dev/zero"), "a character device, not a regular file")


def test_a_directory_as_stack_file_is_refused(tmp_path: Path) -> None:
    one_error(invoke("validate", str(tmp_path)), "is a directory")


@needs_fifo
def test_a_fifo_fleet_file_is_refused_without_blocking(project: Path) -> None:
    fleet = project / FLEET
    fleet.unlink()
    os.mkfifo(fleet)
    one_error(invoke("validate", "retail-europe"), "fleet file", "named pipe (FIFO)")


@needs_fifo
def test_a_fifo_placements_file_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "placements.json")
    _set_key(project / "stacks" / "Pulumi.dev.yaml", "edgefleet:placementsFile", "placements.json")
    one_error(invoke("validate", "dev"), "placements.json", "named pipe (FIFO)")


@needs_fifo
def test_a_fifo_previous_file_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "previous.json")
    one_error(invoke("place", "dev", "--previous", "previous.json"), "previous.json", "named pipe (FIFO)")


@needs_fifo
def test_a_fifo_policy_pack_config_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "pack.json")
    one_error(invoke("check", "dev", "--policy-pack-config", "pack.json"), "pack.json", "named pipe (FIFO)")


def test_a_missing_policy_pack_config_is_refused(project: Path) -> None:
    one_error(invoke("check", "dev", "--policy-pack-config", "nope.json"), "--policy-pack-config", "not found")


@needs_fifo
def test_a_fifo_beside_the_slices_does_not_block_them(project: Path) -> None:
    """Every slice reads its siblings' stack files: a FIFO among them is skipped, not waited on."""
    os.mkfifo(project / "stacks" / "Pulumi.zz-fifo.yaml")

    def load() -> Result:
        load_sliced(read_stack_file(project / "stacks" / "Pulumi.retail-europe.yaml", project), project)
        return CliRunner().invoke(app, ["--version"])

    guarded(load)


def test_a_stack_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "Pulumi.big.yaml"
    big.write_bytes(b"config:\n" + b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    one_error(invoke("validate", str(big)), "larger than 4 MiB", "docs/fleet-config.md#limits")


def test_read_regular_file_refuses_over_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("x" * 11)
    assert read_regular_file(path, max_bytes=11) == "x" * 11
    with pytest.raises(NotAFileError, match="larger than"):
        read_regular_file(path, max_bytes=10)


# --- project-relative settings stay inside the project ----------------------------------------


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd")
def test_a_fleet_file_linked_outside_the_project_is_refused(project: Path) -> None:
    link = project / "fleets" / "outside.yaml"
    link.symlink_to("/etc/passwd")
    stack = project / "stacks" / "Pulumi.retail-europe.yaml"
    stack.write_text(stack.read_text().replace(FLEET, "fleets/outside.yaml"))
    line = one_error(invoke("validate", "retail-europe"), "config.edgefleet:fleetFile", "outside the project")
    assert "/etc/passwd" in line
    assert "root:" not in line


def test_a_fleet_file_linked_inside_the_project_is_read(project: Path) -> None:
    (project / "fleets" / "alias.yaml").symlink_to(project / FLEET)
    stack = project / "stacks" / "Pulumi.retail-europe.yaml"
    stack.write_text(stack.read_text().replace(FLEET, "fleets/alias.yaml"))
    assert read_stack_file(stack, project).fleet_file == "fleets/alias.yaml"


@pytest.mark.parametrize("written", ["../placements.json", "/tmp/placements.json", "link.json"])
def test_a_placements_file_outside_the_project_is_refused(project: Path, tmp_path: Path, written: str) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.json"
    outside.write_text('{"format": "edgefleet.placements/v1", "placements": []}')
    (project / "link.json").symlink_to(outside)
    _set_key(project / "stacks" / "Pulumi.dev.yaml", "edgefleet:placementsFile", written)
    one_error(invoke("validate", "dev"), "config.edgefleet:placementsFile")


# --- outputs: refused before any work, one line each ------------------------------------------

EXPORT = ["stacks", "export", FLEET, "--operator", "--repo", "https://example.com/acme/edge.git"]


def _outputs() -> list[tuple[list[str], str, bool]]:
    """(command, output option, whether it names a directory) for every output option."""
    return [
        (["plan", "dev"], "--json", False),
        (["plan", "dev"], "--manifests", True),
        (["check", "dev"], "--sarif", False),
        (["check", "dev"], "--json", False),
        (["place", "dev"], "--json", False),
        (EXPORT, "--out", False),
        (["up", FLEET], "--logs", True),
        (["preview", FLEET], "--logs", True),
    ]


OUTPUTS = _outputs()
OUTPUT_IDS = [f"{' '.join(c[:2]) if c[0] != 'stacks' else 'stacks export'} {o}" for c, o, _ in OUTPUTS]


def _bad_output(kind: str, tmp: Path, directory: bool) -> tuple[Path, str]:
    """An output path that cannot be used, and what the error must say."""
    if kind == "missing-parent":
        return tmp / "missing" / ("out" if directory else "out.json"), "does not exist; create it first"
    if kind == "symlink":
        target = tmp / "target"
        target.mkdir() if directory else target.write_text("{}")
        link = tmp / "link"
        link.symlink_to(target)
        return link, "is a symbolic link"
    if kind == "wrong-kind":
        if directory:
            path = tmp / "a-file"
            path.write_text("x")
            return path, "is not a directory"
        return tmp, "is a directory"
    if kind == "name-too-long":  # no file can have it: stat() raises ENAMETOOLONG, not "absent"
        return tmp / ("a" * 300), "File name too long"
    assert kind == "fifo"
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    return fifo, "not a directory" if directory else "not a regular file"


@pytest.mark.parametrize("kind", ["missing-parent", "symlink", "wrong-kind", "fifo", "name-too-long"])
@pytest.mark.parametrize(("command", "option", "directory"), OUTPUTS, ids=OUTPUT_IDS)
def test_an_unusable_output_is_refused_before_any_work(  # noqa: PLR0917  fixtures and parameters
    project: Path, tmp_path: Path, command: list[str], option: str, directory: bool, kind: str
) -> None:
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("named pipes need a POSIX system")
    out = tmp_path / "outputs"
    out.mkdir()
    path, reason = _bad_output(kind, out, directory)
    before = sorted(p.name for p in out.rglob("*"))
    line = one_error(invoke(*command, option, str(path)), f"{option} {path}: ", reason)
    assert "mkdir -p" in line if kind == "missing-parent" else True
    assert sorted(p.name for p in out.rglob("*")) == before, "nothing is created or replaced"


def test_plan_writes_into_an_existing_directory(tmp_path: Path) -> None:
    """Control: a plain file in an existing directory and an absent manifests directory are fine."""
    plan, manifests = tmp_path / "plan.json", tmp_path / "manifests"
    # the engine needs the main thread's event loop: no guard (nothing here can block)
    with chdir(REPO):
        result = CliRunner().invoke(app, ["plan", "dev", "--json", str(plan), "--manifests", str(manifests)])
    assert result.exit_code == 0, result.stderr
    assert plan.is_file()
    assert (manifests / ".edgefleet-manifests").is_file()


# --- how many values one file may hold --------------------------------------------------------


def test_values_written_out_are_not_limited_by_the_alias_budget() -> None:
    """A large fleet written out in full (no aliases) is read, however many values it has."""
    clusters = CommentedSeq(
        CommentedMap(name=f"store-{i:05d}", labels=CommentedMap(tier="store", shop=str(i))) for i in range(40_000)
    )
    plain = _plain(CommentedMap(clusters=clusters), "fleet.yaml", "fleet", None)
    assert len(plain["clusters"]) == 40_000  # 240,000 values, more than MAX_ALIAS_VALUES
    assert MAX_ALIAS_VALUES < 6 * 40_000


def test_values_repeated_by_aliases_are_bounded() -> None:
    shared = CommentedSeq(range(1_000))
    doc = CommentedMap(first=shared, again=CommentedSeq([shared] * (MAX_ALIAS_VALUES // 1_000 + 1)))
    with pytest.raises(StackFileError, match=r"YAML aliases here expand to more than 100,000 repeated values"):
        _plain(doc, "fleet.yaml", "fleet", None)


def test_a_realistic_fleet_with_aliases_is_read() -> None:
    """Anchors for shared settings (the usual reason to use them) stay far below the budget."""
    clusters = "\n".join(
        f"      - {{vendor: existing, name: s{i}, location: *loc, labels: *labels}}" for i in range(300)
    )
    text = (
        "config:\n  edgefleet:fleet:\n    environment: dev\n    owner: x\n"
        "    defaults:\n      labels: &labels {tier: store, region: eu}\n"
        "    anchors:\n      - &loc {city: Berlin, country: DE}\n"
        f"    clusters:\n{clusters}\n"
    )
    source = parse_stack_text(text, "stack.yaml", "stack")
    assert len(source.fleet["clusters"]) == 300


@pytest.mark.parametrize(
    ("yaml_text", "fragment", "line"),
    [
        ("config:\n  edgefleet:fleet:\n    owner: x\n    ~: y\n", "a mapping key is null", 4),
        ("config:\n  edgefleet:fleet:\n    owner: &o x\n    *o : y\n", None, 4),
        (
            "config:\n  edgefleet:fleet:\n    owner: x\n    ? [1, 2]\n    : y\n",
            "a mapping key must be a plain value",
            4,
        ),
    ],
    ids=["null-key", "alias-key", "list-key"],
)
def test_odd_keys_are_located_where_they_are_written(yaml_text: str, fragment: str | None, line: int) -> None:
    if fragment is None:  # an alias as a key is the anchored text, positioned at the alias
        source = parse_stack_text(yaml_text, "s.yaml", "s")
        assert source.fleet == {"owner": "x", "x": "y"}
        position = source.locate(["x"])
        assert position is not None
        assert (position.line, position.col) == (line, 5)
        return
    with pytest.raises(ConfigError) as info:
        parse_stack_text(yaml_text, "s.yaml", "s")
    (issue,) = info.value.issues
    assert fragment in issue.message
    assert issue.position is not None
    assert issue.position.line == line


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="symbolic links and FIFOs")


def test_a_sibling_stack_file_with_a_redefined_anchor_is_read_quietly(project: Path) -> None:
    """YAML allows an anchor to be defined again; reading a sibling's slice keys warns about nothing
    (found by tests/test_mutation.py: a ReusedAnchorWarning on stderr)."""
    sibling = project / "stacks" / "Pulumi.retail-asia.yaml"
    sibling.write_text("x: &a1 1\ny: &a1 2\n" + sibling.read_text(encoding="utf-8"), encoding="utf-8")
    result = guarded(lambda: CliRunner().invoke(app, ["validate", "retail-europe"]))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Warning" not in result.stderr


# --- edgefleet:policyPackConfig: a file of the project, or the levels inline ----------------------


@pytest.mark.parametrize("written", ["../pack.json", "/etc/passwd", "policies/config/link.json"])
def test_a_pack_config_outside_the_project_is_refused(project: Path, written: str) -> None:
    (project / "policies" / "config" / "link.json").symlink_to("/etc/passwd")
    _set_key(project / "stacks" / "Pulumi.dev.yaml", "edgefleet:policyPackConfig", written)
    for command in ("validate", "plan", "check"):
        line = one_error(invoke(command, "dev"), "edgefleet:policyPackConfig")
        assert "inside the project" in line or "outside the project" in line
        assert "root:" not in line


def test_a_pack_config_may_be_written_inline(project: Path) -> None:
    # The same shape as the file: here every location rule advisory, so the dev shops may run a
    # public workload on flannel (Berlin) without the placement refusing it.
    levels = '{"all": "mandatory", "network-isolation-for-public-workloads": "advisory"}'
    _set_key(project / "stacks" / "Pulumi.dev.yaml", "edgefleet:policyPackConfig", levels)
    result = invoke("validate", "dev")
    assert result.exit_code == 0, result.stderr
    bad = '{"all": "sometimes"}'
    stack = project / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace(levels, bad))
    one_error(invoke("check", "dev"), "enforcement level 'sometimes'")


def test_a_pack_config_the_operator_names_may_live_anywhere(tmp_path: Path) -> None:
    outside = tmp_path / "pack.json"  # outside the project: the operator's choice, not the stack's
    outside.write_text('{"all": "advisory"}')
    with chdir(REPO):
        result = CliRunner().invoke(app, ["check", "dev", "--policy-pack-config", str(outside)])  # main thread
    assert result.exit_code == 0, result.stderr
    assert "0 mandatory" in result.stderr


# --- names no file can have, control characters, markup, kernel files (item 9, third pass) -----

TOO_LONG = "a" * 300  # longer than any file name (NAME_MAX 255): stat() raises ENAMETOOLONG


@pytest.mark.parametrize(
    "args",
    [
        ["validate", TOO_LONG],
        ["validate", f"{TOO_LONG}.yaml"],
        ["place", "dev", "--previous", TOO_LONG],
        ["check", "dev", "--policy-pack-config", TOO_LONG],
        ["stacks", "sync", TOO_LONG],
        [*EXPORT[:2], TOO_LONG, *EXPORT[3:]],
        ["up", TOO_LONG],
        ["preview", TOO_LONG],
    ],
    ids=["validate", "validate-yaml", "previous", "pack-config", "sync", "export", "up", "preview"],
)
def test_a_name_no_file_can_have_is_one_error(project: Path, args: list[str]) -> None:
    one_error(invoke(*args), TOO_LONG)


@pytest.mark.parametrize("key", ["edgefleet:fleetFile", "edgefleet:placementsFile"])
def test_a_project_file_name_no_file_can_have_is_one_error(project: Path, key: str) -> None:
    stack = project / "stacks" / ("Pulumi.retail-europe.yaml" if key.endswith("placementsFile") else "Pulumi.x.yaml")
    if key.endswith("fleetFile"):
        stack.write_text("config:\n  edgefleet:fleetFile: placeholder\n")
    _set_key(stack, key, TOO_LONG)
    stack.write_text(stack.read_text().replace("edgefleet:fleetFile: placeholder\n", ""))
    one_error(invoke("validate", stack.name.removeprefix("Pulumi.").removesuffix(".yaml")), TOO_LONG)


@pytest.mark.parametrize("name", ["a\nb", "a\x1b[31mb", "a\u2028b", "a\x85b"])
def test_control_characters_in_a_name_stay_on_one_line(project: Path, name: str) -> None:
    """A newline or a terminal escape in STACK is shown as its escape: one line, no colours."""
    line = one_error(invoke("validate", name), "not found")
    assert repr(name)[1:-1] in line


def test_an_output_path_with_markup_is_written_as_named(project: Path, tmp_path: Path) -> None:
    """`[/bold]` in a path is text: the success line printed it as rich markup (MarkupError)."""
    directory = tmp_path / "x["
    directory.mkdir()
    out = directory / "bold].json"
    result = invoke("place", "dev", "--json", f"{directory}/bold].json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert out.is_file()
    assert str(out) in result.stderr


@pytest.mark.skipif(not Path("/proc/self/comm").is_file(), reason="needs Linux /proc")
def test_a_kernel_file_is_never_written(project: Path) -> None:
    """/proc and /sys files look regular but are kernel settings (`/proc/sys/kernel/hostname`):
    an output replaces a file by renaming a new one over it, which the kernel refuses, so the
    setting is left as it was."""
    comm = Path(f"/proc/{os.getpid()}/comm")
    before = comm.read_text()
    one_error(invoke("place", "dev", "--json", str(comm)), f"--json {comm}: cannot be written")
    assert comm.read_text() == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [("[" * 100_000 + "]" * 100_000, "nested too deeply"), ('{"all": ' + "9" * 5000 + "}", "4,300 digits")],
    ids=["deep", "huge-number"],
)
@pytest.mark.parametrize("option", ["--previous", "--policy-pack-config"])
def test_json_python_cannot_hold_is_one_error(project: Path, text: str, reason: str, option: str) -> None:
    (project / "in.json").write_text(text)
    command = "place" if option == "--previous" else "check"
    one_error(invoke(command, "dev", option, "in.json"), "in.json", reason)


def test_a_directory_as_placements_file_is_refused(project: Path) -> None:
    (project / "placements-dir").mkdir()
    _set_key(project / "stacks" / "Pulumi.dev.yaml", "edgefleet:placementsFile", "placements-dir")
    line = one_error(invoke("validate", "dev"), "placements-dir", "is a directory")
    assert "Errno" not in line


@pytest.mark.parametrize("prefix", ["../../escape", "a/b", "a\nb", "a b"])
def test_sync_refuses_a_prefix_that_is_not_a_stack_name(project: Path, prefix: str) -> None:
    """The prefix becomes file names in the stacks directory: `../../x` wrote outside it."""
    before = sorted(str(p) for p in project.parent.rglob("*"))
    one_error(invoke("stacks", "sync", FLEET, "--prefix", prefix), "not a Pulumi stack name", "--prefix")
    assert sorted(str(p) for p in project.parent.rglob("*")) == before


@pytest.mark.parametrize("written", ["/etc/passwd", "../outside.json"])
def test_sync_refuses_a_placements_file_outside_the_project(project: Path, written: str) -> None:
    result = invoke("stacks", "sync", FLEET, "--placements-file", written)
    one_error(result, f"--placements-file {written}", "inside the project")


@pytest.mark.parametrize("written", ["0x" + "f" * 5000, "[1]", "{a: 1}"])
def test_a_stack_config_dir_that_is_not_a_path_is_no_traceback(project: Path, written: str) -> None:
    """`stackConfigDir` is read for every stack name: a value that is not text (a hex number
    too large to print raised ValueError) is no directory, and the stack is simply not found."""
    (project / "Pulumi.yaml").write_text(f"name: edgefleet\nruntime: python\nstackConfigDir: {written}\n")
    one_error(invoke("validate", "dev"), "Pulumi.dev.yaml", "not found")


# --- the project file: the nearest Pulumi.yaml decides, never some other checkout ------------------


@pytest.mark.parametrize("kind", ["fifo", "directory", "foreign", "broken", "list"])
def test_a_broken_or_foreign_project_file_is_an_error_not_another_checkout(tmp_path: Path, kind: str) -> None:
    # Before: edgefleet skipped past it and quietly planned the checkout it was installed from.
    project_file = tmp_path / "Pulumi.yaml"
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("named pipes need a POSIX system")
        os.mkfifo(project_file)
    elif kind == "directory":
        project_file.mkdir()
    elif kind == "foreign":
        project_file.write_text("name: other\nruntime: python\n")
    elif kind == "broken":
        project_file.write_text("name: [\n")
    else:
        project_file.write_text("- name: edgefleet\n")
    (tmp_path / "deeper").mkdir()
    with chdir(tmp_path / "deeper"):
        line = one_error(invoke("validate", "dev"), str(project_file))
    expected = "not edgefleet's" if kind == "foreign" else "fix the project file"
    assert expected in line

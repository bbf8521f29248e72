"""Program structure: nothing registers at import, rooms respected, the public API pinned."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from edgefleet.components import config as components_config
from tests.conftest import REPO

PACKAGES = ("components", "edgefleet")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__main__":
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            # The repository's components/ is installed and imported as edgefleet.components.
            names.append(".".join(["edgefleet", *parts] if parts[0] != "edgefleet" else parts))
    return names


def test_importing_every_module_registers_no_resource() -> None:
    # A fresh interpreter, a capturing mock monitor, then every module imported: only the root
    # stack (made by set_mocks itself) may have registered.
    script = textwrap.dedent(
        f"""
        import importlib, json
        from pathlib import Path
        from pulumi.runtime import set_mocks
        from edgefleet.engine import CapturingMonitor
        from edgefleet.mocks import FleetMocks
        monitor = CapturingMonitor(FleetMocks(), Path("."))
        set_mocks(FleetMocks(), project="edgefleet", stack="t", preview=True, monitor=monitor)
        import pulumi
        from pulumi.runtime.stack import wait_for_rpcs
        from pulumi.runtime.sync_await import _sync_await
        for name in {_modules()!r}:
            importlib.import_module(name)
        _sync_await(wait_for_rpcs())
        print(json.dumps(sorted(r.type for r in monitor.captured)))
        # The probe can see a registration when there is one:
        pulumi.ComponentResource("probe:index:Probe", "probe")
        _sync_await(wait_for_rpcs())
        print(json.dumps(sorted(r.type for r in monitor.captured)))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    at_import, after_probe = result.stdout.strip().splitlines()
    assert at_import == '["pulumi:pulumi:Stack"]'
    assert after_probe == '["probe:index:Probe", "pulumi:pulumi:Stack"]'
    assert len(_modules()) > 15


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_config_and_placement_never_import_pulumi() -> None:
    for folder in ("components/config", "components/placement"):
        for path in (REPO / folder).rglob("*.py"):
            imported = _imports(path)
            assert not {"pulumi", "pulumi_kubernetes"} & imported, path


def test_components_never_read_config_or_environment_except_the_entry_point() -> None:
    for path in (REPO / "components").rglob("*.py"):
        if path.name == "entry.py":
            continue
        tree = ast.parse(path.read_text())
        attributes = {
            f"{node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        }
        assert not {"pulumi.Config", "os.environ", "os.getenv"} & attributes, path


def test_entry_point_is_a_few_lines() -> None:
    code = [
        ln for ln in (REPO / "__main__.py").read_text().splitlines() if ln.strip() and not ln.startswith(('"""', "#"))
    ]
    assert len(code) <= 6


def test_config_public_api_is_pinned() -> None:
    assert sorted(components_config.__all__) == sorted(
        [
            "FLEET_KEY",
            "PROJECT",
            "Cluster",
            "CniInfo",
            "CniPlugin",
            "ConfigError",
            "ConfigIssue",
            "Expose",
            "FleetSpec",
            "Position",
            "ResolvedLocation",
            "StackFileError",
            "StackSource",
            "Strategy",
            "Vendor",
            "Workload",
            "WorkloadSpec",
            "load_stack",
            "parse_fleet",
            "parse_stack_text",
            "read_stack_file",
            "split_evenly",
        ]
    )


def test_importing_the_fleet_loads_no_cloud_sdk() -> None:
    # Vendor modules and DNS providers load on first use: a fleet of `existing` clusters never pays
    # the seconds each cloud SDK takes to import.
    code = (
        "import sys, edgefleet.components.fleet, edgefleet.components.entry\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('pulumi_aws', 'pulumi_gcp', "
        "'pulumi_azure_native', 'pulumi_linode', 'pulumi_digitalocean', 'pulumi_cloudflare'))}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


def test_the_repository_needs_nothing_outside_its_tree() -> None:
    # A user clones the repository alone: no code, test, doc or build file may reach outside it
    # (the team's workspace keeps design notes at ../shared; they are not the product's).
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.split("\0")
    files = [REPO / name for name in tracked if name] or [
        path for path in REPO.rglob("*") if path.is_file() and ".venv" not in path.parts and ".git" not in path.parts
    ]
    offenders = []
    for path in files:
        if not path.is_file() or path.suffix not in {".py", ".md", ".yaml", ".yml", ".toml", ".json", ""}:
            continue
        if path.relative_to(REPO).parts[:2] == ("tests", "ref"):
            continue  # upstream files, verbatim
        text = path.read_text(errors="replace")
        for needle in ("../shared", "shared/design", "shared/ref", "EDGEFLEET_SHARED"):
            if needle in text and path.name != "test_structure.py":
                offenders.append(f"{path.relative_to(REPO)}: {needle}")
    assert offenders == []
    # Every reference file the tests read is in the repository, with its source noted.
    sources = (REPO / "tests" / "ref" / "SOURCE.md").read_text()
    for ref in sorted((REPO / "tests" / "ref").rglob("*")):
        if ref.is_file() and ref.name != "SOURCE.md":
            assert ref.name in sources, f"tests/ref/SOURCE.md does not name {ref.name}"


def test_markdown_tables_are_not_broken_by_blank_lines() -> None:
    # A blank line inside a table ends it: the rows after it render as text (issue 13, item 12).
    broken = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "benchmarks" / "README.md"]:
        lines = doc.read_text().splitlines()
        for i in range(1, len(lines) - 1):
            if lines[i].strip() == "" and lines[i - 1].startswith("|") and lines[i + 1].startswith("| "):
                broken.append(f"{doc.relative_to(REPO)}:{i + 1}")
    assert broken == []

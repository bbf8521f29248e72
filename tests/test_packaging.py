"""What `pip install` puts in a user's environment: one top-level name, `edgefleet`.

The repository keeps components/, policies/ and netprobe/ at its top; the wheel must carry them as
edgefleet.components, edgefleet.policies and edgefleet.netprobe (with their data files), so a
user's own folders of those names never clash with ours.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

TOP_LEVEL = ("components", "policies", "netprobe")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy of the tree as a clean clone has it (no build/, no egg-info), links kept.
    src = out / "src"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        origin, copy = REPO / name, src / name
        if not origin.exists() and not origin.is_symlink():
            continue  # deleted in the working tree
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            copy.symlink_to(os.readlink(origin))
        else:
            shutil.copy2(origin, copy)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
        check=True, capture_output=True, text=True,
    )
    (found,) = out.glob("edgefleet-*.whl")
    return found


def test_the_wheel_has_one_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"edgefleet", next(t for t in tops if t.endswith(".dist-info"))}
    for package in TOP_LEVEL:
        assert f"edgefleet/{package}/__init__.py" in names, package
    assert "edgefleet/components/placement/data/regions.json" in names
    assert "edgefleet/components/py.typed" in names
    assert "edgefleet/policies/PulumiPolicy.yaml" in names
    assert "edgefleet/netprobe/Dockerfile" not in names  # the image's build file is not a module
    top_level = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("top_level.txt"))).decode()
    assert top_level.split() == ["edgefleet"]


def test_the_installed_package_runs_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "from edgefleet.components.placement import catalog\n"
        "import edgefleet.components.fleet, edgefleet.policies.rules, edgefleet.netprobe.agent\n"
        "assert edgefleet.components.fleet.__file__.startswith(sys.path[0]), edgefleet.components.fleet.__file__\n"
        "print(len(catalog.regions('aws')) > 10)\n"
        "import importlib.util\n"
        "print([importlib.util.find_spec(n) for n in ('components', 'policies', 'netprobe')])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["True", "[None, None, None]"]


def test_no_module_imports_the_repository_folders_by_their_own_names() -> None:
    # `import components...` would work from a checkout and fail once installed (and load every
    # module twice beside edgefleet.components): every import goes through `edgefleet.`.
    offenders = []
    for folder in ("components", "edgefleet", "policies", "tests", "benchmarks", "examples"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in TOP_LEVEL]
    for name in ("__main__.py",):
        tree = ast.parse((REPO / name).read_text())
        offenders += [
            f"{name}: {node.module}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in TOP_LEVEL
        ]
    assert offenders == []


def test_netprobe_imports_only_itself_relatively_so_the_image_runs_it_alone() -> None:
    # The probe image (netprobe/Dockerfile) ships netprobe/ as a top-level package.
    for path in sorted((REPO / "netprobe").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert node.module.split(".")[0] not in ("edgefleet", "netprobe"), path

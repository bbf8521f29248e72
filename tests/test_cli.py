"""The `edgefleet` command: exit codes, messages, where it finds stacks (docs/cli.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from edgefleet.cli import app
from tests.conftest import REPO, STACKS

runner = CliRunner()


def test_validate_a_valid_stack_by_name() -> None:
    result = runner.invoke(app, ["validate", "dev"])
    assert result.exit_code == 0, result.output
    assert "valid: stacks/Pulumi.dev.yaml: 2 cluster(s), 1 workload(s), 2 placement(s)" in result.output
    assert "\x1b[" not in result.output  # colour only on a terminal


def test_validate_an_unknown_stack_names_the_file() -> None:
    result = runner.invoke(app, ["validate", "nope"])
    assert result.exit_code == 2
    assert "stacks/Pulumi.nope.yaml: stack settings file not found; check the stack name or path" in result.output


def test_invalid_stack_exits_2_for_validate_and_plan(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.broken.yaml"
    stack.write_text((STACKS / "Pulumi.dev.yaml").read_text().replace("owner: platform-team", "owner: ''"))
    for command in (["validate", str(stack)], ["plan", str(stack), "--json", str(tmp_path / "p.json")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, command
        assert "fleet.owner: String should have at least 1 character, got ''" in result.output
        assert "Pulumi.broken.yaml:8:5)" in result.output
        assert result.output.rstrip().endswith("invalid: 1 error")
    assert not (tmp_path / "p.json").exists()  # nothing half-written


def test_a_stack_path_works_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edgefleet", "validate", str(STACKS / "Pulumi.prod.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "5 cluster(s), 2 workload(s), 5 placement(s)" in result.stderr


def test_plan_prints_a_tree_per_cluster_and_counts_by_type(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "dev", "--json", str(tmp_path / "plan.json")])
    assert result.exit_code == 0, result.output
    assert "edgefleet/dev: 20 resources" in result.output
    assert "store-berlin-01  existing de-berlin  cni flannel (policy not enforced)" in result.output
    assert "api  2 replica(s)  public  Deployment, Namespace, NetworkPolicy x2," in result.output
    assert "kubernetes:networking.k8s.io/v1:NetworkPolicy │ 4" in result.output
    assert f"plan written to {tmp_path / 'plan.json'}" in result.output


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).output.strip() == "edgefleet 0.1.0"
    result = runner.invoke(app, [])
    assert "validate" in result.output
    assert "plan" in result.output
    assert (REPO / "Pulumi.yaml").is_file()

"""The `edgefleet` command: exit codes, messages, where it finds stacks (docs/cli.md)."""

from __future__ import annotations

import json
import re
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
    assert "11 cluster(s), 7 workload(s), 16 placement(s)" in result.stderr


def test_plan_prints_a_tree_per_cluster_and_counts_by_type(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "dev", "--json", str(tmp_path / "plan.json")])
    assert result.exit_code == 0, result.output
    # 20 for the workload on two clusters, 12 per cluster for the network probes (netcheck: the
    # Netcheck component, 2 Namespaces, 4 NetworkPolicies, 3 Services, 2 DaemonSets), 9 per cluster
    # for the WAN probes and the zone label (the WAN Service, its key's Secret, the host agent's
    # ServiceAccount, ClusterRole and binding; the NetcheckWan component, its Deployment, PDB and
    # NetworkPolicy) and the stack's one key.
    assert "edgefleet/dev: 63 resources" in result.output
    assert "store-berlin-01  existing de-berlin  cni flannel (policy not enforced)" in result.output
    assert "api  2 replica(s)  public  Deployment, Namespace, NetworkPolicy x2," in result.output
    assert re.search(r"kubernetes:networking.k8s.io/v1:NetworkPolicy +│ 14 ", result.output)  # 2 + 5 per cluster
    assert f"plan written to {tmp_path / 'plan.json'}" in result.output


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).output.strip() == "edgefleet 0.1.0"
    result = runner.invoke(app, [])
    assert "validate" in result.output
    assert "plan" in result.output
    assert (REPO / "Pulumi.yaml").is_file()


def test_place_explains_every_workload(tmp_path: Path) -> None:
    out_file = tmp_path / "placements.json"
    result = runner.invoke(app, ["place", "prod", "--json", str(out_file)])
    assert result.exit_code == 0, result.output
    assert "api: latency, 9 replicas" in result.output
    assert "excluded store-berlin-01: selector" in result.output
    assert "eligible, not chosen (farther from demand): edge-amsterdam-01" in result.output
    assert "estimated RTT: mean" in result.output
    assert "inventory-sync: pinned, 2 replicas" in result.output
    document = json.loads(out_file.read_text())
    assert document["format"] == "edgefleet.placements/v1"
    api = next(p for p in document["placements"] if p["workload"] == "api")
    assert sum(loc["replicas"] for loc in api["locations"]) == 9
    assert abs(sum(loc["demand_share"] for loc in api["locations"]) - 1) < 1e-3
    assert api["metrics"]["bound_mean_rtt_ms"] <= api["metrics"]["lower_bound_rtt_ms"] <= api["metrics"]["mean_rtt_ms"]
    # The committed placements file is what the stack keeps (edgefleet:placementsFile): same answer.
    committed = json.loads((REPO / "placements" / "prod.json").read_text())
    assert committed["placements"] == document["placements"]


def test_place_infeasible_exits_2_naming_the_constraint() -> None:
    bad = REPO / "tests" / "data" / "bad" / "Pulumi.latency-too-few-locations.yaml"
    result = runner.invoke(app, ["place", str(bad)])
    assert result.exit_code == 2
    assert "fleet.workloads[0].placement.min_locations: needs 3 location(s) but only 2 cluster(s) are eligible" in (
        result.output
    )


def test_place_previous_file_errors_are_clear(tmp_path: Path) -> None:
    broken = tmp_path / "prev.json"
    broken.write_text('{"format": "something/else"}')
    result = runner.invoke(app, ["place", "prod", "--previous", str(broken)])
    assert result.exit_code == 2
    assert "not a placements or plan file" in result.output
    assert "Traceback" not in result.output

"""Placement agrees with policy (#13 item 3): what a rule mandatory in the stack's pack config
requires of a location is a placement filter (or a larger minimum) with the rule as its reason,
so `place` never chooses a location `check` then rejects. And latency placement opens fewer
locations when the replicas cannot give each `min_replicas_per_location` (#13 item 4)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edgefleet.check import enforcement
from edgefleet.cli import app
from edgefleet.components.config import ConfigError, FleetSpec, parse_fleet, read_stack_file
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.config.previous import placement_options
from edgefleet.components.config.requirements import LocationRequirement
from edgefleet.components.config.slices import load_sliced
from edgefleet.components.entry import read_fleet
from edgefleet.components.policy import location_requirements, with_requirements
from edgefleet.engine import engine_config, run_under_mocks
from edgefleet.policies import locations
from edgefleet.policies.rules import ALL_POLICIES
from tests.conftest import REPO

runner = CliRunner()

ISOLATION = "network-isolation-for-public-workloads"
MULTI = "traffic-public-multi-location"
REPLICAS = "k8s-public-workload-replicas"

FLEET: dict[str, Any] = {
    "environment": "prod",
    "owner": "platform-team",
    "clusters": [
        {
            "vendor": "existing",
            "name": "edge-amsterdam",
            "location": {"city": "Amsterdam", "country": "NL"},
            "cni": {"plugin": "flannel", "installed": True},  # no NetworkPolicy enforcement
        },
        {
            "vendor": "existing",
            "name": "edge-berlin",
            "location": {"city": "Berlin", "country": "DE"},
            "cni": {"plugin": "cilium", "installed": True},
        },
        {
            "vendor": "existing",
            "name": "edge-brussels",
            "location": {"city": "Brussels", "country": "BE"},
            "cni": {"plugin": "flannel", "installed": True},
        },
        {
            "vendor": "existing",
            "name": "edge-paris",
            "location": {"city": "Paris", "country": "FR"},
            "cni": {"plugin": "calico", "installed": True},
        },
    ],
    "workloads": [
        {
            "name": "web",
            "image": "ghcr.io/acme/web:1.0.0",
            "port": 8080,
            "replicas": 4,
            "expose": "public",
            "probe_path": "/healthz",
            "placement": {
                "strategy": "latency",
                "max_locations": 2,
                "demand": {"points": [{"city": "Amsterdam", "country": "NL", "weight": 1}]},
            },
        }
    ],
}


def fleet(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(FLEET)
    data["workloads"][0].update({k: v for k, v in changes.items() if k != "placement"})
    data["workloads"][0]["placement"].update(changes.get("placement", {}))
    return data


def requirements(tmp_path: Path, config: dict[str, Any]) -> tuple[LocationRequirement, ...]:
    path = tmp_path / "policies" / "config" / "t.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return location_requirements(tmp_path, "t", None)


def place(raw: dict[str, Any], reqs: tuple[LocationRequirement, ...] = ()) -> FleetSpec:
    return parse_fleet(raw, options=PlacementOptions(requirements=reqs))


def errors(raw: dict[str, Any], reqs: tuple[LocationRequirement, ...]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        place(raw, reqs)
    return [str(issue) for issue in info.value.issues]


def test_the_declared_rules_exist_and_read_their_thresholds_from_the_declaration() -> None:
    names = {p.name for p in ALL_POLICIES}
    assert {r.rule for r in locations.LOCATION_RULES} == {ISOLATION, MULTI, REPLICAS}
    assert {r.rule for r in locations.LOCATION_RULES} <= names


def test_enforcement_levels_resolve_as_the_check_does() -> None:
    configs: list[dict[str, Any]] = [
        {},
        {"all": "advisory"},
        {"all": "advisory", MULTI: "mandatory"},
        {"all": "mandatory", ISOLATION: {"enforcementLevel": "disabled"}},
        {MULTI: {"allow": ["web"]}},
    ]
    for config in configs:
        for rule in locations.LOCATION_RULES:
            policy = next(p for p in ALL_POLICIES if p.name == rule.rule)
            assert locations.level(rule.rule, config) == enforcement(policy, config).value, (rule.rule, config)


def test_a_mandatory_isolation_rule_keeps_a_public_workload_off_flannel(tmp_path: Path) -> None:
    # Demand is in Amsterdam: without the rule, the flannel site there is the first choice.
    (before,) = place(fleet()).workloads
    assert "edge-amsterdam" in dict(before.replicas)
    (after,) = place(fleet(), requirements(tmp_path, {"all": "mandatory"})).workloads
    assert "edge-amsterdam" not in dict(after.replicas)
    assert "edge-brussels" not in dict(after.replicas)
    assert ("edge-amsterdam", f"policy {ISOLATION}") in after.excluded
    assert ("edge-brussels", f"policy {ISOLATION}") in after.excluded
    assert sorted(dict(after.replicas)) == ["edge-berlin", "edge-paris"]


def test_advisory_or_disabled_rules_impose_nothing(tmp_path: Path) -> None:
    for config in ({"all": "advisory"}, {"all": "mandatory", ISOLATION: "disabled"}):
        (placed,) = place(fleet(), requirements(tmp_path, config)).workloads
        assert "edge-amsterdam" in dict(placed.replicas), config
        assert not any(why.startswith("policy ") for _, why in placed.excluded)


def test_internal_workloads_are_not_subject_to_public_rules(tmp_path: Path) -> None:
    raw = fleet(expose="internal", placement={"max_locations": 1, "min_locations": 1}, replicas=1)
    (placed,) = place(raw, requirements(tmp_path, {"all": "mandatory"})).workloads
    assert placed.replicas == (("edge-amsterdam", 1),)


def test_too_few_locations_left_names_the_requirement_and_the_clusters_it_removed(tmp_path: Path) -> None:
    raw = fleet(placement={"min_locations": 3, "max_locations": 3}, replicas=6)
    (message,) = errors(raw, requirements(tmp_path, {"all": "mandatory"}))
    assert message.startswith("fleet.workloads[0].placement.min_locations: needs 3 location(s) but only 2 cluster(s)")
    assert (
        f"policy rule {ISOLATION} (a public workload runs only where the CNI enforces NetworkPolicy; mandatory in "
        "policies/config/t.json) removed edge-amsterdam, edge-brussels" in message
    )
    assert "\n" not in message


def test_a_pinned_public_workload_on_flannel_is_refused_at_its_expose(tmp_path: Path) -> None:
    raw = fleet(placement={"strategy": "pinned", "clusters": ["edge-amsterdam", "edge-paris"]})
    del raw["workloads"][0]["placement"]["max_locations"]
    del raw["workloads"][0]["placement"]["demand"]
    (message,) = errors(raw, requirements(tmp_path, {"all": "mandatory"}))
    assert message.startswith(f"fleet.workloads[0].expose: policy rule {ISOLATION} ")
    assert "rules out edge-amsterdam, which the placement names explicitly" in message
    assert "make the rule advisory in policies/config/t.json" in message


def test_the_multi_location_rule_raises_min_locations_unless_the_workload_is_allowed(tmp_path: Path) -> None:
    raw = fleet(placement={"max_locations": 1})
    (message,) = errors(raw, requirements(tmp_path, {"all": "mandatory"}))
    assert message.startswith(
        f"fleet.workloads[0].placement.max_locations: max_locations (1) is below the 2 location(s) required by "
        f"policy rule {MULTI}"
    )
    allowed = requirements(tmp_path, {"all": "mandatory", MULTI: {"allow": ["web"]}})
    (placed,) = place(raw, allowed).workloads
    assert len(placed.replicas) == 1


def test_the_public_replicas_rule_raises_the_per_location_minimum(tmp_path: Path) -> None:
    raw = fleet(replicas=4, min_replicas_per_location=1, placement={"max_locations": 4})
    (placed,) = place(raw, requirements(tmp_path, {"all": "mandatory"})).workloads
    assert [n for _, n in placed.replicas] == [2, 2]  # two locations of two, not four of one
    (message,) = errors(fleet(replicas=3), requirements(tmp_path, {"all": "mandatory"}))
    assert message.startswith(
        "fleet.workloads[0].replicas: 3 replicas cannot give min_locations 2 (policy rule traffic-public-multi-location"
    )
    assert f"at least 2 each (policy rule {REPLICAS}" in message
    assert "set replicas to 4 or more" in message


def test_a_missing_default_pack_config_means_every_rule_mandatory_and_a_named_one_must_exist(tmp_path: Path) -> None:
    assert {r.rule for r in location_requirements(tmp_path, "nothing", None)} == {ISOLATION, MULTI, REPLICAS}
    with pytest.raises(ConfigError) as info:
        location_requirements(tmp_path, "t", "policies/config/missing.json")
    assert [str(i) for i in info.value.issues] == [
        "policies/config/missing.json (edgefleet:policyPackConfig): policy pack config not found; "
        "name an existing JSON file"
    ]
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match=r"bad.json \(edgefleet:policyPackConfig\): invalid JSON at 1:2"):
        location_requirements(tmp_path, "t", "bad.json")


# -- item 4: latency opens fewer locations rather than refusing ---------------------------------


def test_latency_opens_fewer_locations_when_replicas_cannot_fill_max_locations() -> None:
    raw = fleet(
        expose="internal",
        replicas=6,
        min_replicas_per_location=2,
        placement={"min_locations": 3, "max_locations": 5, "demand": {"preset": "europe"}},
    )
    raw["clusters"].append(
        {"vendor": "existing", "name": "edge-madrid", "location": {"city": "Madrid", "country": "ES"}}
    )
    (placed,) = place(raw).workloads
    assert [n for _, n in placed.replicas] == [2, 2, 2]  # 3 x 2, as the docs say
    raw["workloads"][0]["replicas"] = 5
    (message,) = errors(raw, ())
    assert message == (
        "fleet.workloads[0].replicas: 5 replicas cannot give min_locations 3 at least 2 each; set replicas to 6 or more"
    )


# -- the real program, the CLI and `check` agree ------------------------------------------------

STACK = """\
config:
  edgefleet:fleet:
    environment: prod
    owner: platform-team
    clusters:
      - vendor: existing
        name: edge-amsterdam
        location: {city: Amsterdam, country: NL}
        cni: {plugin: flannel, installed: true}
      - vendor: existing
        name: edge-berlin
        location: {city: Berlin, country: DE}
        cni: {plugin: cilium, installed: true}
      - vendor: existing
        name: edge-paris
        location: {city: Paris, country: FR}
        cni: {plugin: calico, installed: true}
    workloads:
      - name: web
        image: ghcr.io/acme/web:1.0.0
        port: 8080
        replicas: 4
        resources: {cpu: 250m, memory: 256Mi}
        expose: public
        probe_path: /healthz
        placement:
          strategy: latency
          max_locations: 2
          demand: {points: [{city: Amsterdam, country: NL, weight: 1}]}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(REPO / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.edge.yaml").write_text(STACK)
    (tmp_path / "policies" / "config").mkdir(parents=True)
    (tmp_path / "policies" / "config" / "edge.json").write_text('{"all": "mandatory"}\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_place_and_check_agree_and_both_loaders_apply_the_requirements(project: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["place", "edge"])
    assert result.exit_code == 0, result.output
    assert f"excluded edge-amsterdam: policy {ISOLATION}" in result.output
    report = tmp_path / "check.json"
    result = runner.invoke(app, ["check", "edge", "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["violations"] == []

    source = read_stack_file(project / "stacks" / "Pulumi.edge.yaml", project)
    cli_spec = parse_fleet_via_cli(project, source)
    config, secret_keys = engine_config(source)
    got: dict[str, FleetSpec] = {}

    def program() -> None:
        got["spec"], _, _ = read_fleet(project)

    run_under_mocks(program, stack="edge", project_dir=project, config=config, secret_keys=secret_keys)
    assert got["spec"] == cli_spec
    assert ("edge-amsterdam", f"policy {ISOLATION}") in cli_spec.workloads[0].excluded


def parse_fleet_via_cli(project: Path, source: Any) -> FleetSpec:
    spec, _ = load_sliced(source, project, with_requirements(placement_options(project, source), project, source))
    return spec


def test_place_exits_2_naming_the_requirement_and_the_clusters_it_removed(project: Path) -> None:
    stack = project / "stacks" / "Pulumi.edge.yaml"
    stack.write_text(STACK.replace("max_locations: 2", "min_locations: 3"))
    result = runner.invoke(app, ["place", "edge"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("fleet.workloads[0].placement.min_locations: needs 3 location(s) but only 2 cluster(s)")
    assert f"policy rule {ISOLATION}" in lines[0]
    assert "removed edge-amsterdam" in lines[0]
    assert lines[0].endswith("(stacks/Pulumi.edge.yaml:28:11)")
    assert "Traceback" not in result.output
    # With the stack's rules advisory, the same config places (and `check` only warns).
    (project / "policies" / "config" / "edge.json").write_text('{"all": "advisory"}\n')
    assert runner.invoke(app, ["place", "edge"]).exit_code == 0


def test_check_policy_pack_config_reaches_placement_and_the_program(project: Path, tmp_path: Path) -> None:
    advisory = tmp_path / "advisory.json"
    advisory.write_text('{"all": "advisory"}\n')
    (project / "policies" / "config" / "edge.json").unlink()  # default: every rule mandatory
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["check", "edge", "--policy-pack-config", str(advisory), "--json", str(report)])
    assert result.exit_code == 0, result.output
    rules = {v["rule"] for v in json.loads(report.read_text())["violations"]}
    assert ISOLATION in rules  # placed on flannel (advisory), and reported as advisory

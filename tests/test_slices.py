"""Slices: one fleet file, many stacks. Every slice places the whole fleet the same way, deploys
only its own clusters, and checks the other slices of its fleet."""

from __future__ import annotations

import shutil
import textwrap
from collections import Counter
from pathlib import Path
from typing import get_args

import pulumi
import pytest

from edgefleet.components.config import ConfigError, StackFileError, read_stack_file
from edgefleet.components.config.slices import RegionGroup, fleet_slices, load_sliced, parse_slice, select
from edgefleet.components.fleet import slice_endpoint, slice_stack_name
from edgefleet.components.placement.demand import REGION_GROUPS
from edgefleet.components.tokens import CLUSTER_TYPES
from edgefleet.engine import ProgramRun, run_program, run_under_mocks
from edgefleet.plan import build_plan
from edgefleet.stacks import load_fleet_file
from tests.conftest import REPO, STACKS

FLEET = "fleets/retail.yaml"
REGIONAL = ("retail-asia", "retail-europe", "retail-north-america")


def _plan(stack: str) -> tuple[dict[str, object], ProgramRun]:
    source = read_stack_file(STACKS / f"Pulumi.{stack}.yaml", REPO)
    spec, scope = load_sliced(source, REPO)
    run = run_program(REPO, source)
    return build_plan(spec, run, scope), run


@pytest.fixture(scope="module")
def slice_plans() -> dict[str, tuple[dict[str, object], ProgramRun]]:
    return {stack: _plan(stack) for stack in (*REGIONAL, "retail-global")}


def test_every_slice_agrees_on_every_placement(slice_plans: dict[str, tuple[dict[str, object], ProgramRun]]) -> None:
    _, whole = load_fleet_file(REPO, FLEET)
    expected = {w.spec.name: dict(w.replicas) for w in whole.workloads}
    for stack, (plan, run) in slice_plans.items():
        assert run.outputs["placements"] == expected, stack
        first = slice_plans["retail-europe"][0]["placements"]
        assert plan["placements"] == first, stack


def test_each_workload_location_is_deployed_by_exactly_one_slice(
    slice_plans: dict[str, tuple[dict[str, object], ProgramRun]],
) -> None:
    _, whole = load_fleet_file(REPO, FLEET)
    deployed: Counter[str] = Counter()
    clusters: Counter[str] = Counter()
    for stack, (plan, run) in slice_plans.items():
        names = {c["name"] for c in plan["clusters"]}  # type: ignore[attr-defined,index]
        clusters.update(names)
        for r in run.registrations:
            if r.type == "edgefleet:index:EdgeWorkload":
                deployed[r.name] += 1
                assert r.name.split("-", 1)[1] in names or any(r.name.endswith(n) for n in names), (stack, r.name)
    assert clusters == Counter(c.name for c in whole.clusters)  # every cluster once
    wanted = Counter(f"{w.spec.name}-{cluster}" for w in whole.workloads for cluster, _ in w.replicas)
    assert deployed == wanted


def test_a_regional_slice_deploys_its_clusters_only(
    slice_plans: dict[str, tuple[dict[str, object], ProgramRun]],
) -> None:
    plan, run = slice_plans["retail-europe"]
    assert plan["slice"] == {
        "stack": "retail-europe",
        "selector": {"regions": ["europe"]},
        "clusters": ["aws-eu-central-1", "store-berlin-01", "store-lyon-01"],
        "reads": [],
    }
    components = sorted(r.name for r in run.registrations if r.type in CLUSTER_TYPES)
    assert components == ["aws-eu-central-1", "store-berlin-01", "store-lyon-01"]
    assert not [r for r in run.registrations if r.type.startswith("aws:route53")]  # DNS is the global slice's
    assert set(run.outputs["endpoints"]["storefront"]) == {"aws-eu-central-1"}  # type: ignore[index]
    assert "hostnames" not in run.outputs


def test_the_global_slice_steers_to_the_other_slices_endpoints(
    slice_plans: dict[str, tuple[dict[str, object], ProgramRun]],
) -> None:
    plan, run = slice_plans["retail-global"]
    assert plan["clusters"] == []
    # Only the stacks holding a steered location are read.
    assert plan["slice"]["reads"] == ["retail-europe", "retail-north-america"]  # type: ignore[index]
    assert not [r for r in run.registrations if r.type.startswith("kubernetes:") or r.type in CLUSTER_TYPES]
    records = {r.name: r for r in run.registrations if r.type == "aws:route53/record:Record"}
    assert set(records) == {
        "storefront-dns-aws-eu-central-1-address",
        "storefront-dns-aws-eu-central-1-geoproximity",
        "storefront-dns-digitalocean-nyc3-address",
        "storefront-dns-digitalocean-nyc3-geoproximity",
    }
    # Route 53 geoproximity: the AWS location (in another slice) by its region, the other by coordinates.
    assert records["storefront-dns-aws-eu-central-1-geoproximity"].inputs["geoproximityRoutingPolicy"] == {
        "awsRegion": "eu-central-1",
        "bias": 0,
    }
    assert "coordinates" in records["storefront-dns-digitalocean-nyc3-geoproximity"].inputs["geoproximityRoutingPolicy"]
    # Offline, another stack's outputs are unknown, as in a preview before that slice is up.
    assert records["storefront-dns-digitalocean-nyc3-address"].inputs["records"] == ["[unknown]"]
    assert records["storefront-dns-digitalocean-nyc3-address"].inputs["type"] == "A"
    assert records["storefront-dns-aws-eu-central-1-address"].inputs["type"] == "CNAME"
    assert run.outputs["hostnames"] == {"storefront": "storefront.shop.acme.example"}


def test_slice_plans_are_byte_identical_across_runs(
    slice_plans: dict[str, tuple[dict[str, object], ProgramRun]],
) -> None:
    again, _ = _plan("retail-global")
    assert again == slice_plans["retail-global"][0]


def test_the_global_slice_reads_each_stack_by_its_qualified_name() -> None:
    names: list[str] = []
    run_under_mocks(lambda: names.append(slice_stack_name("retail-europe")), stack="retail-global", project_dir=REPO)
    organization, project, stack = names[0].split("/")
    assert (project, stack) == ("edgefleet", "retail-europe")
    assert organization  # the backend's organization ("organization" on self-managed backends)


def test_a_missing_slice_endpoint_says_to_deploy_that_slice_first() -> None:
    assert slice_endpoint({"web": {"a": "203.0.113.7"}}, "s", "web", "a") == "203.0.113.7"
    for outputs in (None, {}, {"web": {}}, {"web": {"a": ""}}):
        with pytest.raises(pulumi.RunError, match=r"stack 's' has no endpoint for workload 'web' on cluster 'a'"):
            slice_endpoint(outputs, "s", "web", "a")


def test_region_groups_are_the_slice_literal() -> None:
    assert set(get_args(RegionGroup)) == set(REGION_GROUPS)


# --- config errors: a scratch project with its own stack files ----------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "fleets").mkdir()
    shutil.copy(REPO / FLEET, tmp_path / FLEET)
    (tmp_path / "stacks").mkdir()
    return tmp_path


def _stack(project: Path, stack: str, body: str) -> Path:
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    path.write_text("config:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n", encoding="utf-8")
    return path


SECRETS_EU = """
edgefleet:storeBerlin01Kubeconfig: {secure: v1:YQ==}
edgefleet:storeLyon01Kubeconfig: {secure: v1:YQ==}
"""
SECRETS_NA = """
edgefleet:storeChicago01Kubeconfig: {secure: v1:YQ==}
edgefleet:storeToronto01Kubeconfig: {secure: v1:YQ==}
"""


def _errors(project: Path, stack: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_sliced(read_stack_file(project / "stacks" / f"Pulumi.{stack}.yaml", project), project)
    return [str(i) for i in info.value.issues]


def _valid_set(project: Path) -> None:
    _stack(project, "r-eu", f"edgefleet:fleetFile: {FLEET}\nedgefleet:slice: {{regions: [europe]}}\n{SECRETS_EU}")
    _stack(
        project,
        "r-rest",
        f"edgefleet:fleetFile: {FLEET}\nedgefleet:slice: {{regions: [north-america, asia]}}\n{SECRETS_NA}"
        "edgefleet:storeOsaka01Kubeconfig: {secure: v1:YQ==}\n",
    )
    _stack(project, "r-global", f"edgefleet:fleetFile: {FLEET}\nedgefleet:slice: {{global: true}}")


def test_a_valid_set_of_slices_loads(project: Path) -> None:
    _valid_set(project)
    _, whole = load_fleet_file(project, FLEET)
    found = {s.stack: s.clusters for s in fleet_slices(project, FLEET, whole)}
    assert found == {
        "r-eu": ("aws-eu-central-1", "store-berlin-01", "store-lyon-01"),
        "r-global": (),
        "r-rest": ("digitalocean-nyc3", "store-chicago-01", "store-osaka-01", "store-toronto-01"),
    }
    spec, scope = load_sliced(read_stack_file(project / "stacks" / "Pulumi.r-global.yaml", project), project)
    assert scope is not None
    assert scope.is_global
    assert dict(scope.peers) == {"aws-eu-central-1": "r-eu", "digitalocean-nyc3": "r-rest"}
    assert len(spec.clusters) == 7  # the whole fleet is parsed and placed in every slice


def test_two_slices_deploying_one_cluster_is_an_error_in_both(project: Path) -> None:
    _valid_set(project)
    _stack(
        project,
        "r-berlin",
        f"edgefleet:fleetFile: {FLEET}\nedgefleet:slice: {{clusters: [store-berlin-01]}}\n"
        "edgefleet:storeBerlin01Kubeconfig: {secure: v1:YQ==}",
    )
    message = "cluster 'store-berlin-01' is also deployed by stack 'r-eu' (Pulumi.r-eu.yaml); a cluster belongs to one"
    assert any(message in e for e in _errors(project, "r-berlin"))
    assert any("also deployed by stack 'r-berlin'" in e for e in _errors(project, "r-eu"))


def test_a_slice_needs_only_its_own_clusters_secrets(project: Path) -> None:
    _valid_set(project)
    _stack(project, "r-eu", f"edgefleet:fleetFile: {FLEET}\nedgefleet:slice: {{regions: [europe]}}")
    errors = _errors(project, "r-eu")
    assert len(errors) == 2  # not the other slices' keys
    assert errors[0].startswith(
        "clusters[2].kubeconfig: config key `edgefleet:storeBerlin01Kubeconfig` is not set in stack 'r-eu'; run "
        "`pulumi config set --secret -s r-eu storeBerlin01Kubeconfig < kubeconfig.yaml` ("
    )
    assert errors[0].endswith("fleets/retail.yaml:26:5)")  # where the fleet file names the key
    assert errors[1].startswith("clusters[3].kubeconfig: config key `edgefleet:storeLyon01Kubeconfig` is not set")
    assert errors[1].endswith("fleets/retail.yaml:31:5)")


@pytest.mark.parametrize(
    ("slice_value", "expected"),
    [
        (
            "{regions: [europe], clusters: [a]}",
            "config.edgefleet:slice: a slice has exactly one selector, it sets regions and clusters",
        ),
        ("{}", "config.edgefleet:slice: a slice has exactly one selector, it sets none"),
        (
            "{regions: [atlantis]}",
            "config.edgefleet:slice.regions[0]: not a region group; use one of africa, asia, europe",
        ),
        ("{region: [europe]}", "config.edgefleet:slice.region: unknown selector; a slice is one of"),
        ("{residency: [eu]}", "config.edgefleet:slice.residency[0]: use a residency group"),
        ("{clusters: []}", "config.edgefleet:slice.clusters: `clusters` is empty"),
        ("{global: false}", "config.edgefleet:slice.global: `global: false` selects nothing"),
        ("[europe]", "config.edgefleet:slice: expected a mapping"),
        (
            "{clusters: [store-nowhere-01]}",
            "config.edgefleet:slice.clusters[0]: no cluster 'store-nowhere-01' in fleets/retail.yaml",
        ),
        ("{regions: [africa]}", "config.edgefleet:slice.regions: selects no cluster of fleets/retail.yaml"),
        ("{selector: {tier: warehouse}}", "config.edgefleet:slice.selector: selects no cluster of fleets/retail.yaml"),
    ],
)
def test_a_bad_slice_names_the_path_and_the_fix(project: Path, slice_value: str, expected: str) -> None:
    _valid_set(project)
    _stack(project, "r-bad", f"edgefleet:fleetFile: {FLEET}\nedgefleet:slice: {slice_value}")
    errors = _errors(project, "r-bad")
    assert any(e.startswith(expected) for e in errors), errors
    assert all("(stacks/Pulumi.r-bad.yaml:" in e or "Pulumi.r-bad" in e for e in errors if "slice" in e.split(":")[0])


def test_a_fleet_that_steers_dns_needs_a_global_slice(project: Path) -> None:
    _valid_set(project)
    (project / "stacks" / "Pulumi.r-global.yaml").unlink()
    assert any(
        "no stack has `edgefleet:slice: {global: true}`; run `edgefleet stacks sync`" in e
        for e in _errors(project, "r-eu")
    )


def test_the_global_slice_needs_every_steered_location_in_a_slice(project: Path) -> None:
    _valid_set(project)
    (project / "stacks" / "Pulumi.r-rest.yaml").unlink()
    errors = _errors(project, "r-global")
    assert any(
        "workload 'storefront' runs on cluster 'digitalocean-nyc3', which no stack of fleets/retail.yaml deploys" in e
        for e in errors
    ), errors


def test_slices_must_place_with_the_same_previous_placements(project: Path) -> None:
    _valid_set(project)
    path = project / "stacks" / "Pulumi.r-eu.yaml"
    path.write_text(path.read_text() + "  edgefleet:placementsFile: placements/a.json\n")
    (project / "placements").mkdir()
    (project / "placements" / "a.json").write_text('{"format": "edgefleet.placements/v1", "placements": []}')
    errors = _errors(project, "r-rest")
    assert any("slices of one fleet must place alike" in e for e in errors), errors


def test_slices_must_place_under_the_same_mandatory_location_rules(project: Path) -> None:
    # Each slice places the whole fleet; a slice whose pack config made the isolation rule advisory
    # would place public workloads on flannel shops the other slices keep them off.
    _valid_set(project)
    (project / "policies" / "config").mkdir(parents=True)
    (project / "policies" / "config" / "r-eu.json").write_text('{"all": "advisory"}')
    errors = _errors(project, "r-rest")
    assert any(
        e.startswith("config.edgefleet:policyPackConfig: stack 'r-eu' places under the policy rules {} (none")
        and "slices of one fleet must place alike" in e
        for e in errors
    ), errors
    # The same levels under another file name agree; so does one file every slice names.
    (project / "policies" / "config" / "r-eu.json").write_text('{"all": "mandatory"}')
    load_sliced(read_stack_file(project / "stacks" / "Pulumi.r-rest.yaml", project), project)
    for stack in ("r-eu", "r-rest", "r-global"):
        path = project / "stacks" / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text() + "  edgefleet:policyPackConfig: policies/config/r-eu.json\n")
    load_sliced(read_stack_file(project / "stacks" / "Pulumi.r-rest.yaml", project), project)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("edgefleet:fleetFile: /etc/fleet.yaml", "must be a relative path inside the project"),
        ("edgefleet:fleetFile: ../fleet.yaml", "must be a relative path inside the project"),
        ("edgefleet:fleetFile: fleets/nope.yaml", "fleet file fleets/nope.yaml not found in the project"),
        (
            "edgefleet:fleetFile: fleets/retail.yaml\nedgefleet:fleet: {environment: x}",
            "a stack takes its fleet from `edgefleet:fleet` or from `edgefleet:fleetFile`, not both",
        ),
    ],
)
def test_a_bad_fleet_file_reference_is_a_stack_file_error(project: Path, config: str, expected: str) -> None:
    path = _stack(project, "r-x", config)
    with pytest.raises(StackFileError) as info:
        read_stack_file(path, project)
    assert expected in str(info.value)
    assert "stacks/Pulumi.r-x.yaml:1:" in str(info.value) or "Pulumi.r-x.yaml:" in str(info.value)


def test_a_slice_without_a_fleet_file_is_an_error(project: Path) -> None:
    body = (
        (STACKS / "Pulumi.dev.yaml")
        .read_text()
        .replace("config:\n", "config:\n  edgefleet:slice: {regions: [europe]}\n", 1)
    )
    path = project / "stacks" / "Pulumi.devslice.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match="a slice needs a shared fleet file: set `edgefleet:fleetFile`"):
        load_sliced(read_stack_file(path, project), project)


def test_select_by_residency_labels_and_names() -> None:
    _, whole = load_fleet_file(REPO, FLEET)
    assert select(parse_slice({"residency": ["EU"]}), whole) == ("aws-eu-central-1", "store-berlin-01", "store-lyon-01")
    assert select(parse_slice({"residency": ["US", "CA"]}), whole) == (
        "digitalocean-nyc3",
        "store-chicago-01",
        "store-toronto-01",
    )
    assert select(parse_slice({"selector": {"tier": "core"}}), whole) == ("aws-eu-central-1", "digitalocean-nyc3")
    assert select(parse_slice({"clusters": ["store-osaka-01"]}), whole) == ("store-osaka-01",)
    assert select(parse_slice({"global": True}), whole) == ()


def test_a_whole_fleet_stack_beside_slices_of_the_same_fleet_file_is_an_error(project: Path) -> None:
    _valid_set(project)
    secrets = SECRETS_EU + SECRETS_NA + "edgefleet:storeOsaka01Kubeconfig: {secure: v1:YQ==}\n"
    _stack(project, "r-all", f"edgefleet:fleetFile: {FLEET}\n{secrets}")
    errors = _errors(project, "r-all")
    assert any(e.startswith("config.edgefleet:fleetFile: stack 'r-eu' (Pulumi.r-eu.yaml) also deploys") for e in errors)
    assert any("cluster 'aws-eu-central-1' is also deployed by stack 'r-all'" in e for e in _errors(project, "r-eu"))
    # Alone, a stack that deploys a whole fleet file is fine.
    for name in ("r-eu", "r-rest", "r-global"):
        (project / "stacks" / f"Pulumi.{name}.yaml").unlink()
    spec, scope = load_sliced(read_stack_file(project / "stacks" / "Pulumi.r-all.yaml", project), project)
    assert scope is None
    assert len(spec.clusters) == 7

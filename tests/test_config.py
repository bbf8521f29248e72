"""The fleet config model: defaults, names, locations, placement arithmetic, and the two loaders."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from edgefleet.components.cni.matrix import CELLS
from edgefleet.components.config import (
    CniPlugin,
    ConfigError,
    FleetSpec,
    Strategy,
    load_stack,
    parse_fleet,
    read_stack_file,
    split_evenly,
)
from edgefleet.components.config.parse import PlacementOptions, deep_merge, reserved_namespace
from edgefleet.components.config.previous import placement_options
from edgefleet.components.entry import read_fleet
from edgefleet.components.policy import with_requirements
from edgefleet.engine import engine_config, run_under_mocks
from edgefleet.policies.rules.kubernetes import SYSTEM_NAMESPACES as POLICY_EXEMPT_NAMESPACES
from tests.conftest import REPO, STACKS, source_of, stack_text

BASE: dict[str, Any] = {
    "environment": "prod",
    "owner": "platform-team",
    "defaults": {"cni": {"plugin": "calico", "installed": True}, "labels": {"tier": "edge"}},
    "clusters": [
        {"vendor": "existing", "name": "edge-a", "location": {"city": "Paris", "country": "FR"}},
        {
            "vendor": "existing",
            "name": "edge-b",
            "location": {"lat": 52.37, "lon": 4.89, "country": "NL"},
            "cni": {"plugin": "flannel", "installed": True},  # its own cni replaces the default whole
        },
        {
            "vendor": "existing",
            "name": "store-c",
            "location": {"city": "zurich", "country": "CH"},  # accents and case fold
            "labels": {"tier": "store"},
        },
    ],
    "workloads": [
        {
            "name": "api",
            "image": "ghcr.io/acme/api:1.0.0",
            "port": 8080,
            "replicas": 7,
            "placement": {"strategy": "everywhere"},
        },
    ],
}


def fleet(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def workload(**placement: Any) -> dict[str, Any]:
    w = copy.deepcopy(BASE["workloads"][0])
    w["placement"] = placement
    return w


def errors(data: dict[str, Any], keys: set[str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(data, available_keys=keys or set())
    return [str(i) for i in info.value.issues]


def test_defaults_merge_under_clusters_deeply_and_lists_replace() -> None:
    spec = parse_fleet(BASE)
    a, b, c = spec.clusters
    assert a.cni.plugin.value == "calico"
    assert a.cni.installed
    assert b.cni.plugin.value == "flannel"
    assert b.cni.installed
    assert c.labels == {"tier": "store"}
    assert deep_merge({"a": {"x": 1, "y": [1]}}, {"a": {"y": [2]}}) == {"a": {"x": 1, "y": [2]}}


def test_locations_resolve_from_the_world_cities_data() -> None:
    spec = parse_fleet(BASE)
    paris, amsterdam, zurich = (c.location for c in spec.clusters)
    assert (paris.city, paris.country) == ("Paris", "FR")
    assert paris.lat == pytest.approx(48.85, abs=0.05)
    assert paris.lon == pytest.approx(2.35, abs=0.05)
    assert (amsterdam.lat, amsterdam.lon, amsterdam.city) == (52.37, 4.89, None)
    assert zurich.city == "Zürich"
    assert [c.region for c in spec.clusters] == ["fr-paris", "nl", "ch-zurich"]


def test_network_policy_capability_of_an_existing_cni() -> None:
    spec = parse_fleet(BASE)
    assert [c.cni.network_policy for c in spec.clusters] == [True, False, True]


def test_everywhere_splits_replicas_evenly_by_cluster_name() -> None:
    spec = parse_fleet(BASE)
    assert spec.workloads[0].strategy is Strategy.EVERYWHERE
    assert spec.workloads[0].replicas == (("edge-a", 3), ("edge-b", 2), ("store-c", 2))


def test_filters_choose_the_clusters_and_say_why_when_too_few_remain() -> None:
    spec = parse_fleet(
        fleet(workloads=[workload(strategy="everywhere", selector={"tier": "edge"}, requires=["network-policy"])])
    )
    assert spec.workloads[0].replicas == (("edge-a", 7),)
    (message,) = errors(fleet(workloads=[workload(strategy="everywhere", residency=["EU"], min_locations=3)]))
    assert message.startswith("fleet.workloads[0].placement.min_locations: needs 3 location(s)")
    assert "residency removed store-c" in message


def test_pinned_names_clusters_and_constraints_may_not_drop_them() -> None:
    spec = parse_fleet(fleet(workloads=[workload(strategy="pinned", clusters=["store-c", "edge-a"])]))
    assert spec.workloads[0].replicas == (("edge-a", 4), ("store-c", 3))
    (message,) = errors(fleet(workloads=[workload(strategy="pinned", clusters=["store-c"], residency=["EU"])]))
    assert "residency rules out store-c" in message
    (message,) = errors(fleet(workloads=[workload(strategy="pinned", clusters=["edge-x"])]))
    assert message == "fleet.workloads[0].placement.clusters[0]: no cluster named 'edge-x'; did you mean 'edge-a'?"


def test_replica_arithmetic() -> None:
    w = workload(strategy="everywhere")
    w.update(replicas=5, min_replicas_per_location=2)
    (message,) = errors(fleet(workloads=[w]))
    # `everywhere` never opens fewer locations than are eligible: the refusal says so, and the way out.
    assert message == (
        "fleet.workloads[0].replicas: strategy `everywhere` runs on all 3 eligible cluster(s) and 5 replicas cannot "
        "give each at least 2; set replicas to 6 or more, or use strategy `latency`, which opens fewer locations"
    )


def test_latency_places_by_demand_and_explains_itself() -> None:
    w = workload(
        strategy="latency",
        max_locations=2,
        demand={
            "points": [
                {"city": "Paris", "country": "FR", "weight": 3},
                {"city": "Zurich", "country": "CH", "weight": 1},
            ]
        },
    )
    w.update(replicas=8, min_replicas_per_location=1)
    (placed,) = parse_fleet(fleet(workloads=[w])).workloads
    assert placed.replicas == (("edge-a", 6), ("store-c", 2))  # Paris and Zurich, by demand 3:1
    assert placed.latency is not None
    assert dict(placed.latency.demand_share) == {"edge-a": 0.75, "store-c": 0.25}
    assert placed.latency.gap == 0.0
    assert placed.latency.bound_mean_rtt_ms <= placed.latency.mean_rtt_ms


def test_latency_is_stable_unless_the_move_pays() -> None:
    w = workload(
        strategy="latency",
        max_locations=1,
        demand={
            "points": [
                {"city": "Paris", "country": "FR", "weight": 1.0},
                {"city": "Amsterdam", "country": "NL", "weight": 0.9},
            ]
        },
    )
    data = fleet(workloads=[w])
    assert parse_fleet(data).workloads[0].replicas == (("edge-a", 7),)
    # Amsterdam held before: moving to Paris gains little, so the placement stays.
    kept = parse_fleet(data, options=PlacementOptions(previous={"api": ("edge-b",)})).workloads[0]
    assert kept.replicas == (("edge-b", 7),)
    assert kept.latency is not None
    assert kept.latency.held_back is not None
    assert kept.latency.held_back.candidate == ("edge-a",)
    assert 0 < kept.latency.held_back.gain <= 0.05
    # With a zero threshold the better placement wins.
    moved = parse_fleet(data, options=PlacementOptions(previous={"api": ("edge-b",)}, threshold=0.0)).workloads[0]
    assert moved.replicas == (("edge-a", 7),)


def test_latency_infeasible_names_the_constraint() -> None:
    (message,) = errors(fleet(workloads=[workload(strategy="latency", min_vendors=2)]))
    assert message == (
        "fleet.workloads[0].placement.min_vendors: needs 2 distinct vendors but the eligible clusters have 1 (existing)"
    )


def test_kubeconfig_key_must_be_set() -> None:
    data = fleet()
    data["clusters"][0]["kubeconfig"] = "edgeAKubeconfig"
    (message,) = errors(data)
    assert message.startswith("fleet.clusters[0].kubeconfig: config key `edgefleet:edgeAKubeconfig` is not set")
    assert parse_fleet(data, available_keys={"edgefleet:edgeAKubeconfig"}).secret_keys() == (
        "edgefleet:edgeAKubeconfig",
    )


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = stack_text(
        """
        environment: Prod
        owner: platform-team
        clusters:
          - vendor: existing
            name: a
            location: {city: Nowhereville, country: DE}
          - vendor: existing
            name: a
            location: {city: Berlin, country: DE}
        """
    )
    with pytest.raises(ConfigError) as info:
        load_stack(source_of(text))
    assert [str(i) for i in info.value.issues] == [
        "fleet.environment: 'Prod' is not valid: use 1-20 lower-case letters, digits and '-', e.g. `prod` "
        "(stacks/Pulumi.test.yaml:3:5)",
    ]
    with pytest.raises(ConfigError) as info:
        load_stack(source_of(text.replace("Prod", "prod")))
    paths = [(i.path, i.position.line if i.position else None) for i in info.value.issues]
    assert paths == [("fleet.clusters[0].location.city", 8), ("fleet.clusters[1].name", 10)]


def test_split_evenly_examples() -> None:
    assert split_evenly(7, 2, ["c", "a", "b"]) == (("a", 3), ("b", 2), ("c", 2))
    assert split_evenly(4, 1, ["x"]) == (("x", 4),)
    with pytest.raises(ValueError, match="cannot give 3 locations 2 each"):
        split_evenly(5, 2, ["a", "b", "c"])


def _program_spec(stack: str, config: dict[str, str], secret_keys: list[str]) -> FleetSpec:
    got: dict[str, FleetSpec] = {}

    def program() -> None:
        got["spec"], _, _ = read_fleet(REPO)

    run_under_mocks(program, stack=stack, project_dir=REPO, config=config, secret_keys=secret_keys)
    return got["spec"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_one_model_two_loaders(stack: str) -> None:
    source = read_stack_file(STACKS / f"Pulumi.{stack}.yaml")
    config, secret_keys = engine_config(source)
    # The CLI's loader: previous placement plus the stack's mandatory location requirements.
    options = with_requirements(placement_options(REPO, source), REPO, source)
    assert _program_spec(stack, config, secret_keys) == load_stack(source, options)


def test_the_program_reports_config_errors_one_per_line_with_positions() -> None:
    source = read_stack_file(STACKS / "Pulumi.dev.yaml")
    config, secret_keys = engine_config(source)
    del config["edgefleet:storeMunich01Kubeconfig"]
    with pytest.raises(pulumi.RunError) as info:
        _program_spec("dev", config, [k for k in secret_keys if "Munich" not in k])
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid fleet config:"
    assert lines[1].startswith(
        "fleet.clusters[1].kubeconfig: config key `edgefleet:storeMunich01Kubeconfig` is not set"
    )
    assert lines[1].endswith("(stacks/Pulumi.dev.yaml:21:9)")


def _shop(**cni: Any) -> dict[str, Any]:
    shop: dict[str, Any] = {"vendor": "existing", "name": "shop-1", "location": {"city": "Berlin", "country": "DE"}}
    if cni:
        shop["cni"] = cni
    return shop


def _cloud_and_shop(defaults_cni: dict[str, Any], shop: dict[str, Any]) -> dict[str, Any]:
    return {
        "environment": "prod",
        "owner": "o",
        "defaults": {"cni": defaults_cni, "labels": {"tier": "edge"}},
        "clusters": [{"vendor": "aws", "region": "eu-central-1"}, shop],
    }


def test_a_default_that_installs_a_cni_never_reaches_an_existing_cluster() -> None:
    # The docs' own sample (defaults.cni: cilium) beside a k3s shop that states nothing: planning a
    # Cilium release onto the shop would break its network on `pulumi up`. It is an error that says
    # which defaults apply to existing clusters, and how to state the shop's CNI.
    issues = errors(_cloud_and_shop({"plugin": "cilium"}, _shop()))
    assert len(issues) == 1
    assert issues[0].startswith("fleet.clusters[1]: `defaults.cni` installs 'cilium'")
    assert "'shop-1'" in issues[0]
    assert "`defaults` give existing clusters only `labels`" in issues[0]
    assert "cni: {plugin: flannel, installed: true}" in issues[0]


def test_an_existing_cluster_that_states_its_cni_keeps_it_and_the_cloud_takes_the_default() -> None:
    spec = parse_fleet(_cloud_and_shop({"plugin": "cilium"}, _shop(plugin="flannel", installed=True)))
    aws, shop = spec.clusters
    assert aws.cni.plugin is CniPlugin.CILIUM
    assert aws.cni.installs  # the cloud cluster gets the default's Helm release
    assert shop.cni.plugin is CniPlugin.FLANNEL
    assert shop.cni.installed
    assert not shop.cni.installs  # nothing is installed on the shop
    assert shop.labels == {"tier": "edge"}  # labels still apply


def test_an_existing_clusters_own_cni_replaces_the_default_whole() -> None:
    # A deep merge would have turned `{plugin: calico}` plus the default's `installed: true` into a
    # record, or a default's `plugin` under the shop's `installed: true` into a claim nobody wrote.
    recorded = {"plugin": "flannel", "installed": True}
    spec = parse_fleet(_cloud_and_shop(recorded, _shop(plugin="calico")) | {"clusters": [_shop(plugin="calico")]})
    (shop,) = spec.clusters
    assert shop.cni.plugin is CniPlugin.CALICO
    assert not shop.cni.installed  # written on the shop itself: edgefleet installs Calico there
    assert shop.cni.installs
    issues = errors(_cloud_and_shop(recorded, _shop(installed=True)) | {"clusters": [_shop(installed=True)]})
    assert len(issues) == 1
    assert issues[0].startswith("fleet.clusters[0].cni.plugin: ")


def test_a_recording_default_reaches_existing_clusters_that_state_no_cni() -> None:
    spec = parse_fleet(BASE)
    assert spec.clusters[0].cni.installed
    assert not spec.clusters[0].cni.installs


SYSTEM = [
    "kube-system", "kube-node-lease", "kube-public", "default", "kube-flannel", "tigera-operator",
    "calico-system", "calico-apiserver", "cilium-secrets", "gke-managed-system", "gmp-system", "kube-anything",
]  # fmt: skip


@pytest.mark.parametrize("name", SYSTEM)
def test_a_workload_never_takes_a_system_namespace(name: str) -> None:
    # The workload's name is its namespace: `kube-system` would get Pod Security `restricted` and a
    # default-deny NetworkPolicy, breaking the cluster's own components.
    data = fleet(workloads=[{**BASE["workloads"][0], "name": name}])
    issues = errors(data)
    assert len(issues) == 1
    assert issues[0].startswith(f"fleet.workloads[0].name: {name!r} is ")
    assert "choose another name" in issues[0]


def test_every_namespace_a_cni_chart_uses_is_reserved() -> None:
    namespaces = {chart.namespace for cell in CELLS for chart in cell.charts}
    assert {"kube-system", "tigera-operator", "kube-flannel"} <= namespaces
    assert all(reserved_namespace(ns) for ns in namespaces)


def test_every_namespace_the_policy_pack_exempts_is_reserved() -> None:
    # The rules skip these namespaces (k8s-namespace-restricted, network-default-deny-per-namespace):
    # a workload taking one (`cilium` was accepted) would escape both rules.
    assert [ns for ns in sorted(POLICY_EXEMPT_NAMESPACES) if not reserved_namespace(ns)] == []


@pytest.mark.parametrize("name", ["api", "kube", "kubernetes", "default-api", "my-kube-system", "calico"])
def test_ordinary_names_are_not_reserved(name: str) -> None:
    spec = parse_fleet(fleet(workloads=[{**BASE["workloads"][0], "name": name}]))
    assert spec.workloads[0].spec.name == name


def test_a_key_with_a_trailing_line_break_is_quoted_in_the_path_and_the_message() -> None:
    # A regex `$` also matches before a trailing "\n": found by the property test; an error line
    # must stay one line whatever the key.
    issues = errors(fleet(**{"0\n": None}))
    assert issues == [
        'fleet."0\\n": unknown key `"0\\n"`; allowed keys: clusters, defaults, environment, netcheck, owner, '
        "tags, traffic, workloads"
    ]

"""LKE: what one `vendor: linode` cluster entry becomes, input by input, under the mock engine."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pulumi
import pytest
from pulumi.runtime import MockResourceArgs
from pulumi.runtime.sync_await import _sync_await

from edgefleet.components.clusters.linode import LkeCluster, decode_kubeconfig
from edgefleet.components.config import ConfigError, parse_fleet
from edgefleet.engine import Registration
from edgefleet.mock_outputs.linode import lke_cluster
from tests.clusters.support import Built, build, fleet_config, refused

LKE = "linode:index/lkeCluster:LkeCluster"
PROVIDER = "pulumi:providers:linode"
K8S_PROVIDER = "pulumi:providers:kubernetes"
COMPONENT = "edgefleet:index:LkeCluster"
ENTRY: dict[str, Any] = {
    "vendor": "linode",
    "region": "de-fra-2",
    "labels": {"tier": "core"},
    "endpoint": {"public": True, "allowed_cidrs": ["203.0.113.0/24", "2001:db8::/32"]},
}
NAME = "linode-de-fra-2"


def _entry(**changes: Any) -> dict[str, Any]:
    return {**ENTRY, **changes}


@pytest.fixture(scope="module")
def prod() -> Built:
    return build([ENTRY])


@pytest.fixture(scope="module")
def dev() -> Built:
    return build([ENTRY], environment="dev")


def _lke(built: Built) -> dict[str, Any]:
    return dict(built.one(LKE).inputs)


def _resolve(output: pulumi.Output[Any]) -> tuple[Any, bool, bool]:
    data = _sync_await(output._data)
    return data.value, data.is_known, data.is_secret


def _component(built: Built) -> LkeCluster:
    cluster = built.fleet.clusters[NAME]
    assert isinstance(cluster, LkeCluster)
    return cluster


def test_a_default_cluster_is_one_lke_cluster_with_its_own_providers(prod: Built) -> None:
    mine = [r for r in prod.run.registrations if r.type not in ("pulumi:pulumi:Stack", "edgefleet:index:Fleet")]
    assert Counter(r.type for r in mine) == {COMPONENT: 1, PROVIDER: 1, LKE: 1, K8S_PROVIDER: 1}
    # Standard tier: no VPC, subnet or Cloud Firewall resources (LKE Enterprise features).
    assert not [r for r in mine if r.type.startswith("linode:") and r.type != LKE]
    assert {r.name for r in mine} == {NAME, f"{NAME}-linode", f"{NAME}-lke", f"{NAME}-k8s"}


def test_every_child_is_parented_to_the_component(prod: Built) -> None:
    component = prod.one(COMPONENT)
    for type_ in (PROVIDER, LKE, K8S_PROVIDER):
        assert prod.one(type_).parent == component.urn, type_


def test_the_explicit_linode_provider_speaks_the_ga_api_and_every_linode_resource_uses_it(prod: Built) -> None:
    provider = prod.one(PROVIDER)
    assert provider.inputs == {"apiVersion": "v4"}  # no region on Linode; not v4beta
    linode_resources = [r for r in prod.run.registrations if r.custom and r.type.startswith("linode:")]
    assert linode_resources
    assert all(r.provider_urn == provider.urn for r in linode_resources)


def test_identity_version_and_region(prod: Built) -> None:
    lke = _lke(prod)
    assert (lke["label"], lke["region"], lke["k8sVersion"]) == (NAME, "de-fra-2", "1.35")


def test_an_explicit_kubernetes_version_is_passed_as_major_minor() -> None:
    assert _lke(build([_entry(kubernetes_version="1.36")]))["k8sVersion"] == "1.36"


def test_the_control_plane_acl_admits_exactly_the_allowed_cidrs(prod: Built) -> None:
    acl = _lke(prod)["controlPlane"]["acl"]
    assert acl == {"enabled": True, "addresses": [{"ipv4s": ["203.0.113.0/24"], "ipv6s": ["2001:db8::/32"]}]}


def test_an_ipv4_only_allow_list_sends_no_ipv6_key() -> None:
    built = build([_entry(endpoint={"public": True, "allowed_cidrs": ["198.51.100.0/24", "192.0.2.7/32"]})])
    assert _lke(built)["controlPlane"]["acl"]["addresses"] == [{"ipv4s": ["198.51.100.0/24", "192.0.2.7/32"]}]


def test_the_control_plane_is_highly_available_in_prod_only(prod: Built, dev: Built) -> None:
    assert _lke(prod)["controlPlane"]["highAvailability"] is True
    assert _lke(dev)["controlPlane"]["highAvailability"] is False


def test_enterprise_only_and_beta_inputs_are_left_out(prod: Built) -> None:
    lke = _lke(prod)
    # tier needs api_version v4beta (standard is the default); VPC, dual stack and audit logs are LKE-E.
    assert not {"tier", "vpcId", "subnetId", "stackType", "aplEnabled", "externalPoolTags"} & set(lke)
    assert "auditLogsEnabled" not in lke["controlPlane"]
    assert all("firewallId" not in pool and "diskEncryption" not in pool for pool in lke["pools"])


def test_the_cluster_carries_the_fleet_tags_as_linode_strings(prod: Built) -> None:
    assert _lke(prod)["tags"] == [
        "cost-center:cc-42",
        "edgefleet-cluster:linode-de-fra-2",
        "environment:prod",
        "owner:platform-team",
    ]


def test_the_user_tags_are_merged_and_the_fleet_keys_win() -> None:
    built = build([ENTRY], tags={"service": "edge", "owner": "someone-else"})
    assert _lke(built)["tags"] == [
        "edgefleet-cluster:linode-de-fra-2",
        "environment:prod",
        "owner:platform-team",
        "service:edge",
    ]


def _refused(clusters: list[dict[str, Any]], **options: Any) -> list[tuple[str, str]]:
    return refused(clusters, **options)


def test_a_fleet_tag_longer_than_linode_allows_is_a_config_error() -> None:
    [(path, message)] = _refused([ENTRY], tags={"cost-center": "c" * 39})
    assert path == "fleet.tags.cost-center"
    assert f"Linode tags have at most 50 characters; 'cost-center:{'c' * 39}' has 51" in message


def test_an_owner_too_long_for_a_linode_tag_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fleet({**fleet_config([ENTRY]), "owner": "o" * 45})
    [issue] = caught.value.issues
    assert issue.path == "fleet.owner"
    assert f"Linode tags have at most 50 characters; 'owner:{'o' * 45}' has 51" in issue.message


def test_a_fleet_tag_of_fifty_characters_reaches_the_cluster() -> None:
    tag = "cost-center:" + "c" * 38
    assert tag in _lke(build([ENTRY], tags={"cost-center": "c" * 38}))["tags"]


@pytest.mark.parametrize("name", ["abc", "c" * 32])
def test_the_shortest_and_longest_lke_labels_are_deployed_as_the_cluster_name(name: str) -> None:
    lke = _lke(build([_entry(name=name)]))
    assert lke["label"] == name
    # "edgefleet-cluster:" is 18 characters: the longest label gives a tag of 50, Linode's maximum.
    assert f"edgefleet-cluster:{name}" in lke["tags"]
    assert max(len(t) for t in lke["tags"]) <= 50


@pytest.mark.parametrize("name", ["ab", "a-linode-cluster-name-of-33-chars"])
def test_a_cluster_name_lke_cannot_take_as_a_label_is_a_config_error(name: str) -> None:
    [(path, message)] = _refused([_entry(name=name)])
    assert path == "fleet.clusters[0].name"
    assert f"an LKE cluster name has 3-32 characters; {name!r} has {len(name)}" in message


def test_a_pool_beyond_the_lke_autoscalers_100_nodes_is_a_config_error() -> None:
    [(path, message)] = _refused([_entry(node_pools=[{"name": "big", "min": 3, "max": 101}])])
    assert path == "fleet.clusters[0].node_pools[0].max"
    assert "an LKE node pool autoscales to at most 100 nodes" in message


def test_a_pool_of_exactly_100_nodes_gets_the_autoscaler() -> None:
    built = build([_entry(node_pools=[{"name": "big", "min": 3, "max": 100}])])
    assert _lke(built)["pools"] == [{"type": "g6-standard-2", "label": "big", "autoscaler": {"min": 3, "max": 100}}]


def test_the_default_pool_autoscales_from_its_minimum_without_a_fixed_count(prod: Built) -> None:
    assert _lke(prod)["pools"] == [{"type": "g6-standard-2", "label": "general", "autoscaler": {"min": 2, "max": 4}}]


def test_pools_follow_the_config_sizes_machine_types_and_ranges() -> None:
    pools = [
        {"name": "web", "size": "medium", "min": 3, "max": 3},
        {"name": "batch", "machine_type": "g6-dedicated-4", "min": 0, "max": 5},
        {"name": "tiny", "size": "large", "min": 0, "max": 1},
    ]
    assert _lke(build([_entry(node_pools=pools)]))["pools"] == [
        {"type": "g6-standard-4", "label": "web", "count": 3},
        {"type": "g6-dedicated-4", "label": "batch", "autoscaler": {"min": 1, "max": 5}},
        {"type": "g6-standard-8", "label": "tiny", "count": 1},
    ]


def test_the_cluster_is_protected_in_prod_and_not_in_dev(prod: Built, dev: Built) -> None:
    assert prod.one(LKE).protect is True
    assert dev.one(LKE).protect is False
    assert not prod.one(PROVIDER).protect


def test_protect_can_be_turned_off_in_prod_on_purpose() -> None:
    assert build([_entry(protect=False)]).one(LKE).protect is False


def test_the_kubeconfig_is_lkes_token_kubeconfig_decoded_and_secret(prod: Built) -> None:
    value, known, secret = _resolve(_component(prod).kubeconfig)
    assert known
    assert secret
    doc = json.loads(value)
    user = doc["users"][0]["user"]
    assert "token" in user
    assert "exec" not in user
    assert doc["clusters"][0]["cluster"]["server"].endswith(".linodelke.net:443")


def test_the_kubernetes_provider_gets_the_secret_kubeconfig_after_the_cluster(prod: Built) -> None:
    provider = prod.one(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert prod.one(LKE).urn in provider.dependencies


def test_the_endpoint_is_the_first_api_endpoint_and_not_secret(prod: Built) -> None:
    value, known, secret = _resolve(_component(prod).endpoint)
    assert known
    assert not secret
    assert value.startswith("https://")
    assert value.endswith(".de-fra-2-1-gw.linodelke.net:443")
    kubeconfig, _, _ = _resolve(_component(prod).kubeconfig)
    assert json.loads(kubeconfig)["clusters"][0]["cluster"]["server"] == value


def test_the_default_prod_cluster_passes_the_whole_policy_pack(prod: Built) -> None:
    assert prod.violations() == []


def test_an_acl_open_to_everyone_is_the_one_violation() -> None:
    built = build([_entry(endpoint={"public": True, "allowed_cidrs": ["0.0.0.0/0"]})])
    assert [(rule, message) for rule, _, message in built.violations()] == [
        (
            "lke-control-plane-acl",
            f"LKE cluster '{NAME}-lke' control-plane ACL allows 0.0.0.0/0 (controlPlane.acl.addresses[0].ipv4s)",
        )
    ]


def test_an_unmaintained_kubernetes_version_is_the_one_violation() -> None:
    built = build([_entry(kubernetes_version="1.34")])
    assert [rule for rule, _, _ in built.violations()] == ["lke-supported-version"]


def _mock(inputs: dict[str, Any], name: str = f"{NAME}-lke") -> tuple[str, dict[str, Any]]:
    return lke_cluster(MockResourceArgs(typ=LKE, name=name, inputs=inputs, provider="", resource_id="", custom=True))


def test_the_mock_reports_what_the_linode_api_does() -> None:
    inputs = {
        "label": NAME,
        "region": "de-fra-2",
        "k8sVersion": "1.35",
        "pools": [{"type": "g6-standard-2", "autoscaler": {"min": 2, "max": 4}}, {"type": "g6-standard-4", "count": 3}],
    }
    cluster_id, state = _mock(inputs)
    assert cluster_id.isdigit()
    assert len(cluster_id) == 6
    assert state["status"] == "ready"
    assert state["tier"] == "standard"
    host = state["apiEndpoints"][0]
    assert host.startswith("https://")
    assert host.endswith(".de-fra-2-1-gw.linodelke.net:443")
    kubeconfig = json.loads(decode_kubeconfig(state["kubeconfig"]))
    assert kubeconfig["users"][0]["name"] == f"lke{cluster_id}-admin"
    assert base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).startswith(
        b"-----BEGIN CERTIFICATE-----"
    )
    assert [p["count"] for p in state["pools"]] == [2, 3]  # an autoscaled pool starts at its minimum
    assert [len(p["nodes"]) for p in state["pools"]] == [2, 3]
    assert all(isinstance(p["id"], int) for p in state["pools"])
    assert _mock(inputs) == (cluster_id, state)  # deterministic
    assert _mock(inputs, name="other-lke")[0] != cluster_id


def test_the_registration_shape_is_what_the_policy_pack_reads(prod: Built) -> None:
    lke: Registration = prod.one(LKE)
    assert lke.type == "linode:index/lkeCluster:LkeCluster"
    assert set(lke.inputs) == {"label", "region", "k8sVersion", "tags", "controlPlane", "pools"}


def _by_name(built: Built) -> dict[str, Registration]:
    return {r.name: r for r in built.run.registrations if r.name.startswith(NAME)}


def test_growing_the_fleet_and_changing_fleet_tags_changes_only_the_clusters_tags(prod: Built) -> None:
    other = _entry(region="us-ord", endpoint={"public": True, "allowed_cidrs": ["198.51.100.0/24"]})
    grown = build([other, ENTRY], tags={"cost-center": "cc-42", "budget": "q4"})
    before, after = _by_name(prod), _by_name(grown)
    assert {n: r.urn for n, r in after.items()} == {n: r.urn for n, r in before.items()}
    for name, r in before.items():
        changed = {k for k in set(r.inputs) | set(after[name].inputs) if r.inputs.get(k) != after[name].inputs.get(k)}
        assert changed <= {"tags"}, f"{name}: {changed}"
    assert "budget:q4" in after[f"{NAME}-lke"].inputs["tags"]

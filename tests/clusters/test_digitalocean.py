"""DOKS (components/clusters/digitalocean.py): inventory, security inputs by name, providers,
parents, protection, node pools, tags, the exec kubeconfig and the policy pack's verdict."""

from __future__ import annotations

import inspect
import ipaddress
import json
from typing import Any

import pytest
from pulumi.runtime.sync_await import _sync_await

from edgefleet.components.clusters import digitalocean as doks
from edgefleet.components.clusters.digitalocean import DOCTL_EXEC_ARGS, do_tags
from edgefleet.components.config import parse_fleet
from edgefleet.components.contract import ClusterArgs
from edgefleet.mock_outputs.common import stable_uuid
from tests.clusters.support import Built, build, fleet_config, refused

COMPONENT = "edgefleet:index:DoksCluster"
DO_PROVIDER = "pulumi:providers:digitalocean"
K8S_PROVIDER = "pulumi:providers:kubernetes"
VPC = "digitalocean:index/vpc:Vpc"
CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
NODE_POOL = "digitalocean:index/kubernetesNodePool:KubernetesNodePool"

NAME = "digitalocean-fra1"
ADMIN_CIDRS = ["203.0.113.0/24", "198.51.100.0/24"]
ENTRY: dict[str, Any] = {
    "vendor": "digitalocean",
    "region": "fra1",
    "labels": {"tier": "core"},
    "endpoint": {"public": True, "allowed_cidrs": ADMIN_CIDRS},
}
TWO_POOLS = [
    {"name": "general", "size": "medium", "min": 2, "max": 5},
    {"name": "batch", "machine_type": "c-4", "min": 1, "max": 3},
]
TAGS = ["cost-center:cc-42", f"edgefleet-cluster:{NAME}", "environment:prod", "owner:platform-team"]
NODE_LABELS = {"cost-center": "cc-42", "edgefleet-cluster": NAME, "environment": "prod", "owner": "platform-team"}


@pytest.fixture(scope="module")
def prod() -> Built:
    """The default DOKS cluster (one default pool) in `environment: prod`."""
    return build([ENTRY])


@pytest.fixture(scope="module")
def pools() -> Built:
    """A prod cluster with two configured node pools."""
    return build([{**ENTRY, "node_pools": TWO_POOLS}])


def _resolve(output: Any) -> tuple[Any, bool]:
    data = _sync_await(output._data)
    return data.value, data.is_secret


def test_default_inventory_is_provider_vpc_cluster_and_kubernetes_provider(prod: Built) -> None:
    types = [t for t in prod.types() if not t.startswith(("pulumi:pulumi:", "edgefleet:index:Fleet"))]
    assert types == sorted([COMPONENT, DO_PROVIDER, VPC, CLUSTER, K8S_PROVIDER])
    assert prod.of_type(NODE_POOL) == []  # the only pool is the cluster's inline default pool


def test_every_digitalocean_resource_uses_the_clusters_own_provider_and_is_its_child(prod: Built) -> None:
    component = prod.one(COMPONENT)
    provider = prod.one(DO_PROVIDER)
    assert provider.name == f"{NAME}-do"
    assert provider.parent == component.urn
    vendor = [r for r in prod.run.registrations if r.type.startswith("digitalocean:")]
    assert {r.type for r in vendor} == {VPC, CLUSTER}
    for resource in vendor:
        assert resource.provider_urn == provider.urn, resource.name
        assert resource.parent == component.urn, resource.name
    assert (prod.one(VPC).name, prod.one(CLUSTER).name) == (f"{NAME}-vpc", f"{NAME}-cluster")


def test_the_vpc_is_the_clusters_address_block_in_its_region(prod: Built) -> None:
    network = prod.spec.cluster(NAME).network
    assert network is not None
    assert prod.one(VPC).inputs == {
        "name": f"{NAME}-vpc",
        "region": "fra1",
        "ipRange": network.network,
        "description": f"edgefleet prod cluster {NAME} (owner platform-team)",
    }
    vpc_range = ipaddress.IPv4Network(network.network)
    assert vpc_range.subnet_of(ipaddress.IPv4Network("10.0.0.0/8"))  # DigitalOcean VPCs: RFC 1918 only
    assert 16 <= vpc_range.prefixlen <= 24  # and /16 to /24


def test_control_plane_is_firewalled_ha_auto_upgraded_and_in_the_vpc(prod: Built) -> None:
    inputs = prod.one(CLUSTER).inputs
    assert inputs["name"] == NAME
    assert inputs["region"] == "fra1"
    assert inputs["controlPlaneFirewall"] == {"enabled": True, "allowedAddresses": ADMIN_CIDRS}
    assert inputs["ha"] is True
    assert inputs["autoUpgrade"] is True
    assert inputs["surgeUpgrade"] is True
    assert inputs["maintenancePolicy"] == {"day": "sunday", "startTime": "03:00"}
    assert inputs["registryIntegration"] is False
    assert inputs["destroyAllAssociatedResources"] is False
    assert inputs["vpcUuid"] == stable_uuid(VPC, f"{NAME}-vpc")
    # Not VPC-native: the plan's pod range (100.64.0.0/10) is no RFC 1918 range DigitalOcean accepts.
    assert "clusterSubnet" not in inputs
    assert "serviceSubnet" not in inputs
    assert "kubeconfigExpireSeconds" not in inputs


def test_version_is_the_newest_slug_of_the_configured_minor(prod: Built) -> None:
    assert prod.one(CLUSTER).inputs["version"] == "1.35.1-do.0"  # getKubernetesVersions("1.35.")
    newer = build([{**ENTRY, "kubernetes_version": "1.36"}])
    assert newer.one(CLUSTER).inputs["version"] == "1.36.1-do.0"


def test_default_pool_is_inline_autoscaled_from_config(prod: Built) -> None:
    assert prod.one(CLUSTER).inputs["nodePool"] == {
        "name": "general",
        "size": "s-2vcpu-4gb",  # size small
        "autoScale": True,
        "minNodes": 2,
        "maxNodes": 4,
        "tags": TAGS,
        "labels": NODE_LABELS,
    }


def test_further_pools_are_node_pool_resources_of_the_cluster(pools: Built) -> None:
    cluster = pools.one(CLUSTER)
    assert cluster.inputs["nodePool"]["name"] == "general"
    assert cluster.inputs["nodePool"]["size"] == "s-4vcpu-8gb"  # size medium
    assert (cluster.inputs["nodePool"]["minNodes"], cluster.inputs["nodePool"]["maxNodes"]) == (2, 5)
    batch = pools.one(NODE_POOL)
    assert batch.name == f"{NAME}-pool-batch"
    assert batch.inputs == {
        "clusterId": stable_uuid(CLUSTER, f"{NAME}-cluster"),
        "name": "batch",
        "size": "c-4",
        "autoScale": True,
        "minNodes": 1,
        "maxNodes": 3,
        "tags": TAGS,
        "labels": NODE_LABELS,
    }
    assert batch.provider_urn == pools.one(DO_PROVIDER).urn
    assert batch.parent == pools.one(COMPONENT).urn
    assert cluster.urn in batch.dependencies
    assert batch.protect is False  # pools are replaceable; control plane and network are protected


def test_a_pool_that_scales_to_zero_is_a_config_error() -> None:
    spot = {"name": "spot", "min": 0, "max": 2}
    [(path, message)] = refused([{**ENTRY, "node_pools": [TWO_POOLS[0], spot]}])
    assert path == "fleet.clusters[0].node_pools[1].min"
    assert "a DOKS node pool autoscales from at least 1 node; set `min: 1`" in message


def test_tags_reach_the_cluster_and_every_pool_and_its_nodes(pools: Built) -> None:
    assert pools.one(CLUSTER).inputs["tags"] == TAGS
    assert pools.one(CLUSTER).inputs["nodePool"]["tags"] == TAGS
    assert pools.one(NODE_POOL).inputs["tags"] == TAGS
    assert pools.one(CLUSTER).inputs["nodePool"]["labels"] == NODE_LABELS
    assert pools.one(NODE_POOL).inputs["labels"] == NODE_LABELS
    assert "tags" not in pools.one(VPC).inputs  # DigitalOcean VPCs take no tags


def test_every_input_that_takes_tags_or_labels_has_the_fleet_tags(pools: Built) -> None:
    classes = {VPC: doks.digitalocean.Vpc, CLUSTER: doks.digitalocean.KubernetesCluster}
    classes[NODE_POOL] = doks.digitalocean.KubernetesNodePool
    checked = []
    for token, cls in classes.items():
        params = inspect.signature(cls._internal_init).parameters
        for arg, wire in (("tags", "tags"), ("labels", "labels")):
            if arg in params:
                value = pools.one(token).inputs[wire]
                keys = set(value) if isinstance(value, dict) else {v.split(":", 1)[0] for v in value}
                assert keys >= {"owner", "environment", "edgefleet-cluster", "cost-center"}, (token, wire)
                checked.append((token, wire))
    assert checked == [(CLUSTER, "tags"), (NODE_POOL, "tags"), (NODE_POOL, "labels")]


def test_tags_keep_to_digitaloceans_tag_characters() -> None:
    raw = {**fleet_config([ENTRY], tags={"team": "edge_1"}), "owner": "acme.io"}
    cluster = parse_fleet(raw).clusters[0]
    args = ClusterArgs(cluster=cluster, owner="acme.io", environment="prod", tags={"team": "edge_1"})
    assert do_tags(args) == [f"edgefleet-cluster:{NAME}", "environment:prod", "owner:acme_io", "team:edge_1"]


def test_control_plane_and_vpc_are_protected_in_prod_only(prod: Built) -> None:
    assert (prod.one(VPC).protect, prod.one(CLUSTER).protect) == (True, True)
    dev = build([ENTRY], environment="dev")
    assert (dev.one(VPC).protect, dev.one(CLUSTER).protect) == (False, False)
    assert dev.one(CLUSTER).inputs["ha"] is False
    assert dev.one(CLUSTER).inputs["autoUpgrade"] is True
    assert dev.one(CLUSTER).inputs["controlPlaneFirewall"]["enabled"] is True


def test_kubeconfig_is_secret_and_authenticates_with_doctl(prod: Built) -> None:
    cluster = prod.fleet.clusters[NAME]
    text, secret = _resolve(cluster.kubeconfig)
    assert secret
    cluster_id = stable_uuid(CLUSTER, f"{NAME}-cluster")
    endpoint = f"https://{cluster_id}.k8s.ondigitalocean.com"
    doc = json.loads(text)
    assert doc["clusters"][0]["cluster"]["server"] == endpoint
    assert doc["clusters"][0]["cluster"]["certificate-authority-data"]
    (user,) = doc["users"]
    assert user["user"]["exec"]["command"] == "doctl"
    assert user["user"]["exec"]["args"] == [*DOCTL_EXEC_ARGS, cluster_id]
    assert DOCTL_EXEC_ARGS == ("kubernetes", "cluster", "kubeconfig", "exec-credential", "--version=v1beta1")
    assert "token" not in user["user"]  # no stored 7-day token
    assert "doo_v1_" not in text
    assert _resolve(cluster.endpoint) == (endpoint, False)


def test_kubernetes_provider_uses_the_secret_kubeconfig_after_the_node_pools(pools: Built) -> None:
    provider = pools.one(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.parent == pools.one(COMPONENT).urn
    assert {pools.one(CLUSTER).urn, pools.one(NODE_POOL).urn} <= set(provider.dependencies)


def test_the_default_prod_cluster_passes_the_whole_policy_pack(prod: Built) -> None:
    assert prod.violations() == []


def test_an_api_open_to_the_internet_is_one_critical_violation() -> None:
    opened = build([{**ENTRY, "endpoint": {"public": True, "allowed_cidrs": ["0.0.0.0/0"]}}])
    assert opened.violations() == [
        (
            "doks-control-plane-firewall",
            opened.one(CLUSTER).urn,
            f"DOKS cluster '{NAME}-cluster' control-plane firewall allows 0.0.0.0/0 "
            "(controlPlaneFirewall.allowedAddresses)",
        )
    ]


def test_an_unmaintained_minor_is_flagged() -> None:
    old = build([{**ENTRY, "kubernetes_version": "1.34"}])
    assert [(rule, urn) for rule, urn, _ in old.violations()] == [("doks-supported-version", old.one(CLUSTER).urn)]

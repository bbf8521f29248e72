"""GKE rules: a passing cluster and node pool in pulumi-gcp wire form, then one change per failing case."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy
from pulumi_policy.proxy import UnknownValueError

from edgefleet.policies.rules import gcp as g
from tests.policies.harness import UNKNOWN, changed, resource_args, violations

LABELS = {"owner": "platform-team", "environment": "prod", "edgefleet-cluster": "prod-gke"}
NODE_SA = "prod-gke-nodes@acme-prod.iam.gserviceaccount.com"
NODE_CONFIG: dict[str, Any] = {
    "machineType": "e2-standard-4",
    "serviceAccount": NODE_SA,
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    "metadata": {"disable-legacy-endpoints": "true"},
    "resourceLabels": LABELS,
}
CLUSTER, POOL = g.GKE_CLUSTER, g.GKE_NODE_POOL
HAPPY: dict[str, dict[str, Any]] = {
    CLUSTER: {
        "name": "prod-gke",
        "location": "europe-west3",
        "network": "projects/acme-prod/global/networks/prod-gke",
        "subnetwork": "projects/acme-prod/regions/europe-west3/subnetworks/prod-gke",
        "networkingMode": "VPC_NATIVE",
        "ipAllocationPolicy": {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"},
        "initialNodeCount": 1,
        "nodeConfig": NODE_CONFIG,
        "privateClusterConfig": {
            "enablePrivateNodes": True,
            "enablePrivateEndpoint": False,
            "masterIpv4CidrBlock": "172.16.0.0/28",
        },
        "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24", "displayName": "admin"}]},
        "databaseEncryption": {
            "state": "ENCRYPTED",
            "keyName": "projects/acme-prod/locations/europe-west3/keyRings/prod-gke/cryptoKeys/secrets",
        },
        "releaseChannel": {"channel": "REGULAR"},
        "workloadIdentityConfig": {"workloadPool": "acme-prod.svc.id.goog"},
        "enableShieldedNodes": True,
        "datapathProvider": "ADVANCED_DATAPATH",
        "resourceLabels": LABELS,
        "deletionProtection": True,
    },
    POOL: {
        "cluster": "prod-gke",
        "location": "europe-west3",
        "initialNodeCount": 1,
        "autoscaling": {"minNodeCount": 1, "maxNodeCount": 3},
        "management": {"autoRepair": True, "autoUpgrade": True},
        "networkConfig": {"enablePrivateNodes": True},
        "nodeConfig": NODE_CONFIG,
    },
}
NAMES = {CLUSTER: "prod-gke", POOL: "prod-gke-general"}
AUTOPILOT: dict[str, Any] = {
    "name": "prod-gke-ap",
    "location": "europe-west3",
    "enableAutopilot": True,
    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
    "databaseEncryption": HAPPY[CLUSTER]["databaseEncryption"],
    "releaseChannel": {"channel": "STABLE"},
    "clusterAutoscaling": {"autoProvisioningDefaults": {"serviceAccount": NODE_SA}},
    "resourceLabels": LABELS,
}


def check(policy: Policy, resource_type: str, props: dict[str, Any]) -> list[str]:
    return violations(policy, resource_args(resource_type, props, name=NAMES[resource_type]))


@pytest.mark.parametrize("resource_type", list(HAPPY))
@pytest.mark.parametrize("policy", g.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_the_hardened_resources_pass_every_rule(policy: Policy, resource_type: str) -> None:
    assert check(policy, resource_type, HAPPY[resource_type]) == []


@pytest.mark.parametrize("policy", g.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_a_hardened_autopilot_cluster_passes_every_rule(policy: Policy) -> None:
    assert check(policy, CLUSTER, AUTOPILOT) == []


FAILING: list[tuple[Policy, str, str, Any, list[str]]] = [
    (
        g.GKE_PRIVATE_NODES,
        CLUSTER,
        "privateClusterConfig.enablePrivateNodes",
        False,
        ["GKE cluster 'prod-gke' gives its nodes public IPs (privateClusterConfig.enablePrivateNodes is not true)"],
    ),
    (
        g.GKE_PRIVATE_NODES,
        POOL,
        "networkConfig.enablePrivateNodes",
        False,
        ["GKE node pool 'prod-gke-general' gives its nodes public IPs (networkConfig.enablePrivateNodes is false)"],
    ),
    (
        g.GKE_CONTROL_PLANE_RESTRICTED,
        CLUSTER,
        "masterAuthorizedNetworksConfig.cidrBlocks.0.cidrBlock",
        "0.0.0.0/0",
        [
            "GKE cluster 'prod-gke' has a public control-plane endpoint open to 0.0.0.0/0 "
            "(masterAuthorizedNetworksConfig.cidrBlocks)"
        ],
    ),
    (
        g.GKE_CONTROL_PLANE_RESTRICTED,
        CLUSTER,
        "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled",
        True,
        [
            "GKE cluster 'prod-gke' has a public control-plane endpoint open to every Google Cloud public IP "
            "address, so to anyone who starts a VM there (masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled)"
        ],
    ),
    (
        g.GKE_CONTROL_PLANE_RESTRICTED,
        CLUSTER,
        "masterAuthorizedNetworksConfig",
        None,
        [
            "GKE cluster 'prod-gke' has a public control-plane endpoint open to any address "
            "(no privateClusterConfig.enablePrivateEndpoint and no masterAuthorizedNetworksConfig)"
        ],
    ),
    (
        g.GKE_SECRETS_ENCRYPTED,
        CLUSTER,
        "databaseEncryption.state",
        "DECRYPTED",
        [
            "GKE cluster 'prod-gke' does not encrypt Kubernetes secrets with a Cloud KMS key "
            "(databaseEncryption.state is DECRYPTED, not ENCRYPTED)"
        ],
    ),
    (
        g.GKE_SECRETS_ENCRYPTED,
        CLUSTER,
        "databaseEncryption.keyName",
        None,
        [
            "GKE cluster 'prod-gke' does not encrypt Kubernetes secrets with a Cloud KMS key "
            "(databaseEncryption.keyName is unset)"
        ],
    ),
    (
        g.GKE_RELEASE_CHANNEL,
        CLUSTER,
        "releaseChannel.channel",
        "UNSPECIFIED",
        ["GKE cluster 'prod-gke' is not enrolled in a release channel (releaseChannel.channel is UNSPECIFIED)"],
    ),
    (
        g.GKE_RELEASE_CHANNEL,
        CLUSTER,
        "releaseChannel",
        None,
        ["GKE cluster 'prod-gke' is not enrolled in a release channel (releaseChannel.channel is unset)"],
    ),
    (
        g.GKE_WORKLOAD_IDENTITY,
        CLUSTER,
        "workloadIdentityConfig",
        None,
        ["GKE cluster 'prod-gke' does not enable Workload Identity (workloadIdentityConfig.workloadPool is unset)"],
    ),
    (
        g.GKE_SHIELDED_NODES,
        CLUSTER,
        "enableShieldedNodes",
        False,
        ["GKE cluster 'prod-gke' turns Shielded Nodes off (enableShieldedNodes is false)"],
    ),
    (
        g.GKE_NODE_SECURE_BOOT,
        POOL,
        "nodeConfig.shieldedInstanceConfig.enableSecureBoot",
        False,
        [
            "GKE node pool 'prod-gke-general' boots nodes without Secure Boot "
            "(nodeConfig.shieldedInstanceConfig.enableSecureBoot is not true)"
        ],
    ),
    (
        g.GKE_METADATA_SERVER,
        CLUSTER,
        "nodeConfig.workloadMetadataConfig.mode",
        "GCE_METADATA",
        [
            "GKE cluster 'prod-gke' exposes the Compute Engine metadata server to pods "
            "(nodeConfig.workloadMetadataConfig.mode is GCE_METADATA, not GKE_METADATA)"
        ],
    ),
    (
        g.GKE_METADATA_SERVER,
        POOL,
        "nodeConfig.workloadMetadataConfig",
        None,
        [
            "GKE node pool 'prod-gke-general' exposes the Compute Engine metadata server to pods "
            "(nodeConfig.workloadMetadataConfig.mode is unset, not GKE_METADATA)"
        ],
    ),
    (
        g.GKE_METADATA_SERVER,
        POOL,
        "nodeConfig.metadata.disable-legacy-endpoints",
        "false",
        [
            "GKE node pool 'prod-gke-general' serves the legacy metadata endpoints "
            "(nodeConfig.metadata.disable-legacy-endpoints is false)"
        ],
    ),
    (
        g.GKE_NETWORK_POLICY,
        CLUSTER,
        "datapathProvider",
        "LEGACY_DATAPATH",
        [
            "GKE cluster 'prod-gke' enforces no NetworkPolicy "
            "(networkPolicy.enabled is not true and datapathProvider is not ADVANCED_DATAPATH)"
        ],
    ),
    (
        g.GKE_NODE_SERVICE_ACCOUNT,
        POOL,
        "nodeConfig.serviceAccount",
        None,
        [
            "GKE node pool 'prod-gke-general' runs nodes as the Compute Engine default service account "
            "(nodeConfig.serviceAccount is unset)"
        ],
    ),
    (
        g.GKE_NODE_SERVICE_ACCOUNT,
        CLUSTER,
        "nodeConfig.serviceAccount",
        "default",
        [
            "GKE cluster 'prod-gke' runs nodes as the Compute Engine default service account "
            "(nodeConfig.serviceAccount is default)"
        ],
    ),
    (
        g.GKE_NODE_SERVICE_ACCOUNT,
        POOL,
        "nodeConfig.serviceAccount",
        "123456789012-compute@developer.gserviceaccount.com",
        [
            "GKE node pool 'prod-gke-general' runs nodes as the Compute Engine default service account "
            "(nodeConfig.serviceAccount is 123456789012-compute@developer.gserviceaccount.com)"
        ],
    ),
    (
        g.GKE_LEGACY_ABAC_DISABLED,
        CLUSTER,
        "enableLegacyAbac",
        True,
        ["GKE cluster 'prod-gke' authorizes with legacy ABAC (enableLegacyAbac is true)"],
    ),
    (
        g.GKE_NO_CLIENT_CERTIFICATE,
        CLUSTER,
        "masterAuth",
        {"clientCertificateConfig": {"issueClientCertificate": True}},
        [
            "GKE cluster 'prod-gke' issues a client certificate that cannot be revoked "
            "(masterAuth.clientCertificateConfig.issueClientCertificate is true)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("policy", "resource_type", "path", "value", "expected"),
    FAILING,
    ids=[f"{case[0].name}:{case[2]}={case[3]!r}" for case in FAILING],
)
def test_one_change_fails_with_the_exact_message(
    policy: Policy, resource_type: str, path: str, value: Any, expected: list[str]
) -> None:
    assert check(policy, resource_type, changed(HAPPY[resource_type], path, value)) == expected


def test_every_rule_has_a_failing_case() -> None:
    assert {p.name for p in g.RESOURCE_POLICIES} == {case[0].name for case in FAILING}


def test_a_private_endpoint_needs_no_authorized_networks() -> None:
    props = changed(HAPPY[CLUSTER], "masterAuthorizedNetworksConfig", None)
    props = changed(props, "privateClusterConfig.enablePrivateEndpoint", True)
    assert check(g.GKE_CONTROL_PLANE_RESTRICTED, CLUSTER, props) == []


CALICO_ADD_ON: dict[str, Any] = {
    "datapathProvider": "LEGACY_DATAPATH",
    "networkPolicy": {"enabled": True, "provider": "CALICO"},
    "addonsConfig": {"networkPolicyConfig": {"disabled": False}},
}


@pytest.mark.parametrize("datapath", [None, "LEGACY_DATAPATH"])
def test_the_network_policy_add_on_also_enforces(datapath: str | None) -> None:
    props = changed(HAPPY[CLUSTER] | CALICO_ADD_ON, "datapathProvider", datapath)
    assert check(g.GKE_NETWORK_POLICY, CLUSTER, props) == []


@pytest.mark.parametrize("add_on", [None, {}, {"networkPolicyConfig": {"disabled": True}}])
def test_network_policy_on_the_nodes_without_the_add_on_enforces_nothing(add_on: dict[str, Any] | None) -> None:
    props = changed(HAPPY[CLUSTER] | CALICO_ADD_ON, "addonsConfig", add_on)
    assert check(g.GKE_NETWORK_POLICY, CLUSTER, props) == [
        "GKE cluster 'prod-gke' enforces no NetworkPolicy: networkPolicy.enabled is true but the network policy "
        "add-on is off (addonsConfig.networkPolicyConfig.disabled is not false)"
    ]


def test_dataplane_v2_needs_no_network_policy_add_on() -> None:
    props = changed(HAPPY[CLUSTER], "networkPolicy", {"enabled": False})
    assert check(g.GKE_NETWORK_POLICY, CLUSTER, props) == []
    assert check(g.GKE_NETWORK_POLICY, CLUSTER, AUTOPILOT) == []


def test_a_removed_default_pool_is_not_checked() -> None:
    props = changed(HAPPY[CLUSTER], "nodeConfig", None)
    assert check(g.GKE_METADATA_SERVER, CLUSTER, props) != []
    assert check(g.GKE_METADATA_SERVER, CLUSTER, changed(props, "removeDefaultNodePool", True)) == []


def test_inline_node_pools_are_checked_by_path() -> None:
    bad_pool = {"name": "legacy", "nodeConfig": changed(NODE_CONFIG, "serviceAccount", "default")}
    props = changed(changed(HAPPY[CLUSTER], "nodeConfig", None), "nodePools", [HAPPY[POOL] | {"name": "ok"}, bad_pool])
    assert check(g.GKE_NODE_SERVICE_ACCOUNT, CLUSTER, props) == [
        "GKE cluster 'prod-gke' runs nodes as the Compute Engine default service account "
        "(nodePools[1].nodeConfig.serviceAccount is default)"
    ]


def test_autopilot_needs_a_dedicated_node_service_account() -> None:
    props = changed(AUTOPILOT, "clusterAutoscaling", None)
    assert check(g.GKE_NODE_SERVICE_ACCOUNT, CLUSTER, props) == [
        "GKE cluster 'prod-gke' runs nodes as the Compute Engine default service account "
        "(clusterAutoscaling.autoProvisioningDefaults.serviceAccount is unset)"
    ]


def test_an_unknown_authorized_network_cannot_run_during_preview() -> None:
    props = changed(HAPPY[CLUSTER], "masterAuthorizedNetworksConfig.cidrBlocks.0.cidrBlock", UNKNOWN)
    with pytest.raises(UnknownValueError):
        check(g.GKE_CONTROL_PLANE_RESTRICTED, CLUSTER, props)


def test_outputs_of_other_resources_count_as_set_at_preview() -> None:
    """A node service account or KMS key created in the same stack is unknown at the first preview."""
    assert check(g.GKE_NODE_SERVICE_ACCOUNT, POOL, changed(HAPPY[POOL], "nodeConfig.serviceAccount", UNKNOWN)) == []
    assert check(g.GKE_SECRETS_ENCRYPTED, CLUSTER, changed(HAPPY[CLUSTER], "databaseEncryption.keyName", UNKNOWN)) == []


@pytest.mark.parametrize("policy", g.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_other_types_are_skipped(policy: Policy) -> None:
    deployment = {"metadata": {"name": "api", "namespace": "api"}, "spec": {"replicas": 2}}
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", deployment)) == []
    insecure_cluster = changed(HAPPY[CLUSTER], "enableLegacyAbac", True)
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", insecure_cluster)) == []

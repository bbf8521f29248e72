"""AKS rules: a passing managed cluster and agent pool in pulumi-azure-native wire form, then one change
per failing case."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy
from pulumi_policy.proxy import UnknownValueError

from edgefleet.policies.rules import azure as z
from tests.policies.harness import UNKNOWN, Stack, changed, resource_args, violations

TAGS = {"owner": "platform-team", "environment": "prod", "edgefleet-cluster": "prod-aks"}
SUBNET = (
    "/subscriptions/0000/resourceGroups/prod-aks/providers/Microsoft.Network/virtualNetworks/prod-aks/subnets/nodes"
)
CLUSTER, POOL = z.AKS_CLUSTER, z.AKS_AGENT_POOL
HAPPY: dict[str, dict[str, Any]] = {
    CLUSTER: {
        "resourceGroupName": "prod-aks",
        "resourceName": "prod-aks",
        "location": "westeurope",
        "dnsPrefix": "prod-aks",
        "kubernetesVersion": "1.33",
        "identity": {"type": "SystemAssigned"},
        "enableRBAC": True,
        "disableLocalAccounts": True,
        "aadProfile": {"managed": True, "enableAzureRBAC": True},
        "apiServerAccessProfile": {"authorizedIPRanges": ["203.0.113.0/24"]},
        "networkProfile": {
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "networkPolicy": "calico",
            "podCidr": "10.244.0.0/16",
            "serviceCidr": "10.0.0.0/16",
            "dnsServiceIP": "10.0.0.10",
        },
        "agentPoolProfiles": [
            {
                "name": "system",
                "mode": "System",
                "vmSize": "Standard_D4s_v5",
                "count": 2,
                "osType": "Linux",
                "type": "VirtualMachineScaleSets",
                "vnetSubnetID": SUBNET,
                "enableNodePublicIP": False,
            }
        ],
        "autoUpgradeProfile": {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"},
        "tags": TAGS,
    },
    POOL: {
        "resourceGroupName": "prod-aks",
        "resourceName": "prod-aks",
        "agentPoolName": "user",
        "mode": "User",
        "vmSize": "Standard_D4s_v5",
        "count": 2,
        "vnetSubnetID": SUBNET,
        "enableNodePublicIP": False,
        "tags": TAGS,
    },
}
NAMES = {CLUSTER: "prod-aks", POOL: "prod-aks-user"}


def check(policy: Policy, resource_type: str, props: dict[str, Any]) -> list[str]:
    return violations(policy, resource_args(resource_type, props, name=NAMES[resource_type]))


@pytest.mark.parametrize("resource_type", list(HAPPY))
@pytest.mark.parametrize("policy", z.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_the_hardened_resources_pass_every_rule(policy: Policy, resource_type: str) -> None:
    assert check(policy, resource_type, HAPPY[resource_type]) == []


FAILING: list[tuple[Policy, str, str, Any, list[str]]] = [
    (
        z.AKS_API_SERVER_RESTRICTED,
        CLUSTER,
        "apiServerAccessProfile.authorizedIPRanges",
        ["203.0.113.0/24", "0.0.0.0/0"],
        [
            "AKS cluster 'prod-aks' has a public API server open to 0.0.0.0/0 "
            "(apiServerAccessProfile.authorizedIPRanges)"
        ],
    ),
    (
        z.AKS_API_SERVER_RESTRICTED,
        CLUSTER,
        "apiServerAccessProfile",
        None,
        [
            "AKS cluster 'prod-aks' has a public API server open to any address "
            "(apiServerAccessProfile.enablePrivateCluster is not true and "
            "apiServerAccessProfile.authorizedIPRanges is empty)"
        ],
    ),
    (
        z.AKS_LOCAL_ACCOUNTS_DISABLED,
        CLUSTER,
        "disableLocalAccounts",
        False,
        ["AKS cluster 'prod-aks' keeps its local admin account (disableLocalAccounts is not true)"],
    ),
    (
        z.AKS_ENTRA_ID_RBAC,
        CLUSTER,
        "aadProfile.enableAzureRBAC",
        False,
        ["AKS cluster 'prod-aks' does not authorize with Azure RBAC (aadProfile.enableAzureRBAC is not true)"],
    ),
    (
        z.AKS_ENTRA_ID_RBAC,
        CLUSTER,
        "aadProfile",
        None,
        [
            "AKS cluster 'prod-aks' does not authenticate with Entra ID (aadProfile.managed is not true)",
            "AKS cluster 'prod-aks' does not authorize with Azure RBAC (aadProfile.enableAzureRBAC is not true)",
        ],
    ),
    (
        z.AKS_RBAC_ENABLED,
        CLUSTER,
        "enableRBAC",
        False,
        ["AKS cluster 'prod-aks' does not enable Kubernetes RBAC (enableRBAC is not true)"],
    ),
    (
        z.AKS_NO_NODE_PUBLIC_IP,
        CLUSTER,
        "agentPoolProfiles.0.enableNodePublicIP",
        True,
        [
            "AKS cluster 'prod-aks' gives the nodes of agent pool 'system' public IPs "
            "(agentPoolProfiles[0].enableNodePublicIP)"
        ],
    ),
    (
        z.AKS_NO_NODE_PUBLIC_IP,
        POOL,
        "enableNodePublicIP",
        True,
        ["AKS agent pool 'prod-aks-user' gives its nodes public IPs (enableNodePublicIP)"],
    ),
    (
        z.AKS_MANAGED_IDENTITY,
        CLUSTER,
        "identity.type",
        "None",
        ["AKS cluster 'prod-aks' has no managed identity (identity.type is None)"],
    ),
    (
        z.AKS_MANAGED_IDENTITY,
        CLUSTER,
        "identity",
        None,
        ["AKS cluster 'prod-aks' has no managed identity (identity.type is unset)"],
    ),
    (
        z.AKS_AUTO_UPGRADE,
        CLUSTER,
        "autoUpgradeProfile.upgradeChannel",
        "none",
        [
            "AKS cluster 'prod-aks' never gets Kubernetes patches automatically "
            "(autoUpgradeProfile.upgradeChannel is none)"
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
    assert {p.name for p in z.RESOURCE_POLICIES} == {case[0].name for case in FAILING}


def test_a_private_cluster_needs_no_authorized_ranges() -> None:
    props = changed(HAPPY[CLUSTER], "apiServerAccessProfile", {"enablePrivateCluster": True})
    assert check(z.AKS_API_SERVER_RESTRICTED, CLUSTER, props) == []


# aks-network-policy reads the stack: the network profile, or a Helm CNI in the same cluster ----------

COMPONENT = "edgefleet:index:AksCluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_PROVIDER = "pulumi:providers:kubernetes"
NO_POLICY = changed(HAPPY[CLUSTER], "networkProfile.networkPolicy", "none")
BYOCNI = {
    **HAPPY[CLUSTER],
    "networkProfile": {"networkPlugin": "none", "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16"},
}
UNENFORCED = (
    "AKS cluster 'prod-aks' enforces no NetworkPolicy (networkProfile.networkPolicy is {policy}, "
    "networkProfile.networkDataplane is not cilium, and no Cilium or Calico Helm release runs in it) @ prod-aks"
)


def aks_stack(cluster: dict[str, Any], *charts: str, other_cluster_charts: tuple[str, ...] = ()) -> list[str]:
    """aks-network-policy over an edgefleet AKS component holding ``cluster``, with Helm releases of
    ``charts`` on its CNI provider (and ``other_cluster_charts`` in a second cluster)."""
    stack = Stack()
    component = stack.add(COMPONENT, "aks-a", {"name": "aks-a", "vendor": "azure"})
    stack.add(CLUSTER, NAMES[CLUSTER], cluster, parent=component)
    provider = stack.add(K8S_PROVIDER, "aks-a-k8s-cni", {}, parent=component)
    for chart in charts:
        stack.add(RELEASE, f"aks-a-cni-{chart}", {"chart": chart, "version": "1.0.0"}, provider=provider)
    other = stack.add(COMPONENT, "aks-b", {"name": "aks-b", "vendor": "azure"})
    other_provider = stack.add(K8S_PROVIDER, "aks-b-k8s-cni", {}, parent=other)
    for chart in other_cluster_charts:
        stack.add(RELEASE, f"aks-b-cni-{chart}", {"chart": chart, "version": "1.0.0"}, provider=other_provider)
    return violations(z.AKS_NETWORK_POLICY, stack.args())


@pytest.mark.parametrize("policy", ["azure", "calico", "cilium"])
def test_a_managed_network_policy_enforces(policy: str) -> None:
    cluster = changed(HAPPY[CLUSTER], "networkProfile.networkPolicy", policy)
    if policy == "cilium":
        cluster = changed(cluster, "networkProfile.networkDataplane", "cilium")
    assert aks_stack(cluster) == []


def test_no_network_policy_is_one_violation_on_the_managed_cluster() -> None:
    assert aks_stack(NO_POLICY) == [UNENFORCED.format(policy="none")]
    unset = changed(HAPPY[CLUSTER], "networkProfile.networkPolicy", None)
    assert aks_stack(unset) == [UNENFORCED.format(policy="unset")]


def test_the_cilium_dataplane_enforces_network_policy() -> None:
    props = changed(HAPPY[CLUSTER], "networkProfile.networkPolicy", None)
    assert aks_stack(props) != []
    assert aks_stack(changed(props, "networkProfile.networkDataplane", "cilium")) == []


@pytest.mark.parametrize(
    ("cluster", "charts"),
    [
        (NO_POLICY, ("crd.projectcalico.org.v1", "tigera-operator")),  # calico/policy-only on Azure CNI
        (BYOCNI, ("cilium",)),  # cilium/byocni
        (BYOCNI, ("crd.projectcalico.org.v1", "tigera-operator")),  # calico/full
    ],
    ids=["calico-on-azure-cni", "byocni-cilium", "byocni-calico"],
)
def test_a_helm_cni_in_the_same_cluster_enforces(cluster: dict[str, Any], charts: tuple[str, ...]) -> None:
    assert aks_stack(cluster, *charts) == []


def test_byocni_without_a_helm_cni_is_a_violation() -> None:
    assert aks_stack(BYOCNI) == [UNENFORCED.format(policy="unset")]


def test_only_policy_enforcing_charts_in_the_same_cluster_count() -> None:
    # Calico's CRDs alone enforce nothing; a CNI in another cluster does not enforce this one's policy.
    assert aks_stack(NO_POLICY, "crd.projectcalico.org.v1", "ingress-nginx") == [UNENFORCED.format(policy="none")]
    assert aks_stack(BYOCNI, other_cluster_charts=("cilium",)) == [UNENFORCED.format(policy="unset")]


def test_a_managed_cluster_outside_an_edgefleet_component_is_judged_on_its_profile() -> None:
    stack = Stack()
    stack.add(CLUSTER, NAMES[CLUSTER], NO_POLICY)
    assert violations(z.AKS_NETWORK_POLICY, stack.args()) == [UNENFORCED.format(policy="none")]


def test_an_unknown_authorized_range_cannot_run_during_preview() -> None:
    props = changed(HAPPY[CLUSTER], "apiServerAccessProfile.authorizedIPRanges", [UNKNOWN])
    with pytest.raises(UnknownValueError):
        check(z.AKS_API_SERVER_RESTRICTED, CLUSTER, props)


@pytest.mark.parametrize("policy", z.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_other_types_are_skipped(policy: Policy) -> None:
    deployment = {"metadata": {"name": "api", "namespace": "api"}, "spec": {"replicas": 2}}
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", deployment)) == []
    insecure_cluster = changed(HAPPY[CLUSTER], "disableLocalAccounts", False)
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", insecure_cluster)) == []

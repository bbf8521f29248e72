"""AKS control plane and node security, on pulumi-azure-native's own type tokens and wire property names.

``azure-native:containerservice:ManagedCluster`` (azure-native 3.x schema; the ARM ``properties`` are
flattened) takes ``apiServerAccessProfile``, ``disableLocalAccounts``, ``aadProfile``, ``enableRBAC``,
``networkProfile``, ``agentPoolProfiles``, ``identity``, ``autoUpgradeProfile``;
``azure-native:containerservice:AgentPool`` takes ``enableNodePublicIP``.

``aks-network-policy`` reads the whole stack: a cluster whose ``networkProfile`` enforces no
NetworkPolicy (``networkPolicy: none`` on Azure CNI, or ``networkPlugin: none``, bring your own
CNI) passes when a Cilium or Calico (tigera-operator) Helm release runs in it, i.e. on a Kubernetes
provider of the same edgefleet cluster component.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from ._util import CLUSTER_TYPES, cluster_of, dig, items, of_type, resource_rule, stack_rule
from .fleet import HELM_RELEASE
from .network import WORLD, open_to_world

AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"
AKS_AGENT_POOL = "azure-native:containerservice:AgentPool"

# networkProfile.networkPolicy values that enforce NetworkPolicy (the enum also has "none").
ENFORCING_NETWORK_POLICIES = ("azure", "calico", "cilium")
# Helm charts of CNIs that enforce NetworkPolicy (Cilium; Calico through the Tigera operator).
ENFORCING_CNI_CHARTS = frozenset({"cilium", "tigera-operator"})
MANAGED_IDENTITIES = ("SystemAssigned", "UserAssigned")


def _api_server(args: ResourceValidationArgs) -> Iterator[str]:
    profile = args.props.get("apiServerAccessProfile")
    if dig(profile, "enablePrivateCluster") is True:
        return
    ranges = [str(r) for r in items(dig(profile, "authorizedIPRanges"))]
    if not ranges:
        yield (
            f"AKS cluster '{args.name}' has a public API server open to any address "
            "(apiServerAccessProfile.enablePrivateCluster is not true and "
            "apiServerAccessProfile.authorizedIPRanges is empty)"
        )
        return
    everywhere = open_to_world(ranges)
    if everywhere:
        yield (
            f"AKS cluster '{args.name}' has a public API server open to {everywhere} "
            "(apiServerAccessProfile.authorizedIPRanges)"
        )


def _local_accounts(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("disableLocalAccounts") is not True:
        yield f"AKS cluster '{args.name}' keeps its local admin account (disableLocalAccounts is not true)"


def _entra_id(args: ResourceValidationArgs) -> Iterator[str]:
    aad = args.props.get("aadProfile")
    if dig(aad, "managed") is not True:
        yield f"AKS cluster '{args.name}' does not authenticate with Entra ID (aadProfile.managed is not true)"
    if dig(aad, "enableAzureRBAC") is not True:
        yield f"AKS cluster '{args.name}' does not authorize with Azure RBAC (aadProfile.enableAzureRBAC is not true)"


def _rbac(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("enableRBAC") is not True:
        yield f"AKS cluster '{args.name}' does not enable Kubernetes RBAC (enableRBAC is not true)"


def _component(resource: PolicyResource) -> PolicyResource | None:
    """The edgefleet cluster component ``resource`` belongs to (its nearest such ancestor)."""
    owner = resource.parent
    while owner is not None and owner.resource_type not in CLUSTER_TYPES:
        owner = owner.parent
    return owner


def _network_policy(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    by_urn = {r.urn: r for r in args.resources}
    helm_cnis: set[str] = set()  # urns of cluster components a NetworkPolicy-enforcing CNI is installed in
    for release in of_type(args.resources, HELM_RELEASE):
        owner = cluster_of(release, by_urn)
        if owner is not None and release.props.get("chart") in ENFORCING_CNI_CHARTS:
            helm_cnis.add(owner.urn)
    for cluster in of_type(args.resources, AKS_CLUSTER):
        network = cluster.props.get("networkProfile")
        policy = dig(network, "networkPolicy")
        if policy in ENFORCING_NETWORK_POLICIES or dig(network, "networkDataplane") == "cilium":
            continue
        owner = _component(cluster)
        if owner is not None and owner.urn in helm_cnis:
            continue  # Cilium or Calico from Helm enforces it (BYOCNI, or Calico on Azure CNI)
        yield (
            f"AKS cluster '{cluster.name}' enforces no NetworkPolicy (networkProfile.networkPolicy is "
            f"{policy or 'unset'}, networkProfile.networkDataplane is not cilium, and no Cilium or Calico "
            "Helm release runs in it)",
            cluster.urn,
        )


def _node_public_ip(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == AKS_AGENT_POOL:
        if args.props.get("enableNodePublicIP") is True:
            yield f"AKS agent pool '{args.name}' gives its nodes public IPs (enableNodePublicIP)"
        return
    for i, pool in enumerate(items(args.props.get("agentPoolProfiles"))):
        if dig(pool, "enableNodePublicIP") is True:
            yield (
                f"AKS cluster '{args.name}' gives the nodes of agent pool '{dig(pool, 'name')}' public IPs "
                f"(agentPoolProfiles[{i}].enableNodePublicIP)"
            )


def _managed_identity(args: ResourceValidationArgs) -> Iterator[str]:
    kind = dig(args.props, "identity", "type")
    if kind not in MANAGED_IDENTITIES:
        yield f"AKS cluster '{args.name}' has no managed identity (identity.type is {kind or 'unset'})"


def _auto_upgrade(args: ResourceValidationArgs) -> Iterator[str]:
    channel = dig(args.props, "autoUpgradeProfile", "upgradeChannel")
    if channel in (None, "", "none"):
        yield (
            f"AKS cluster '{args.name}' never gets Kubernetes patches automatically "
            f"(autoUpgradeProfile.upgradeChannel is {channel or 'unset'})"
        )


AKS_API_SERVER_RESTRICTED = resource_rule(
    name="aks-api-server-restricted",
    description="The AKS API server is private, or public only to authorized IP ranges that are not "
    f"{WORLD} (CKV_AZURE_6, CKV_AZURE_115).",
    severity=Severity.CRITICAL,
    remediation="Set apiServerAccessProfile.enablePrivateCluster: true, or apiServerAccessProfile.authorizedIPRanges "
    "to the admin networks (edgefleet: `endpoint` in the cluster config).",
    types=(AKS_CLUSTER,),
    check=_api_server,
)
AKS_LOCAL_ACCOUNTS_DISABLED = resource_rule(
    name="aks-local-accounts-disabled",
    description="The cluster's local admin account is disabled; every user signs in with Entra ID (CKV_AZURE_141).",
    severity=Severity.HIGH,
    remediation="Set disableLocalAccounts: true (needs aadProfile.managed: true).",
    types=(AKS_CLUSTER,),
    check=_local_accounts,
)
AKS_ENTRA_ID_RBAC = resource_rule(
    name="aks-entra-id-rbac",
    description="Users authenticate with Entra ID (managed AAD) and are authorized with Azure RBAC.",
    severity=Severity.HIGH,
    remediation="Set aadProfile: {managed: true, enableAzureRBAC: true}.",
    types=(AKS_CLUSTER,),
    check=_entra_id,
)
AKS_RBAC_ENABLED = resource_rule(
    name="aks-rbac-enabled",
    description="Kubernetes RBAC is enabled (CKV_AZURE_5).",
    severity=Severity.HIGH,
    remediation="Set enableRBAC: true.",
    types=(AKS_CLUSTER,),
    check=_rbac,
)
AKS_NETWORK_POLICY = stack_rule(
    name="aks-network-policy",
    description="The cluster enforces NetworkPolicy: Azure, Calico or Cilium, managed by AKS or installed "
    "from Helm (CKV_AZURE_7).",
    severity=Severity.MEDIUM,
    remediation='Set networkProfile.networkPolicy (e.g. "cilium" with networkDataplane: "cilium"), or install '
    "Cilium or Calico in the cluster (edgefleet: `cni` in the cluster config).",
    check=_network_policy,
)
AKS_NO_NODE_PUBLIC_IP = resource_rule(
    name="aks-no-node-public-ip",
    description="Agent pool nodes have no public IP addresses (CKV_AZURE_143).",
    severity=Severity.HIGH,
    remediation="Remove enableNodePublicIP: true from every agent pool.",
    types=(AKS_CLUSTER, AKS_AGENT_POOL),
    check=_node_public_ip,
)
AKS_MANAGED_IDENTITY = resource_rule(
    name="aks-managed-identity",
    description="The cluster uses a managed identity, not a service principal with a secret.",
    severity=Severity.MEDIUM,
    remediation='Set identity.type: "SystemAssigned" (or "UserAssigned" with userAssignedIdentities).',
    types=(AKS_CLUSTER,),
    check=_managed_identity,
)
AKS_AUTO_UPGRADE = resource_rule(
    name="aks-auto-upgrade",
    description="The cluster has an auto-upgrade channel, so it gets Kubernetes patches (CKV_AZURE_171).",
    severity=Severity.MEDIUM,
    remediation='Set autoUpgradeProfile.upgradeChannel: "patch" (or "stable").',
    types=(AKS_CLUSTER,),
    check=_auto_upgrade,
)

RESOURCE_POLICIES = (
    AKS_API_SERVER_RESTRICTED,
    AKS_LOCAL_ACCOUNTS_DISABLED,
    AKS_ENTRA_ID_RBAC,
    AKS_RBAC_ENABLED,
    AKS_NO_NODE_PUBLIC_IP,
    AKS_MANAGED_IDENTITY,
    AKS_AUTO_UPGRADE,
)
STACK_POLICIES = (AKS_NETWORK_POLICY,)

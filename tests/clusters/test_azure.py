"""AKS (components/clusters/azure.py) under the mock engine: inventory, security inputs by wire
name, providers, parents, protect, node pools, endpoint exposure, audit logging, kubeconfig, policy."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

import edgefleet.components.clusters.common as common_module
from edgefleet.components.clusters.azure import (
    AKS_RBAC_CLUSTER_ADMIN,
    AKS_SERVER_ID,
    NETWORK_CONTRIBUTOR,
    AksCluster,
    agent_pool_names,
)
from edgefleet.components.config import parse_fleet
from edgefleet.engine import Registration
from edgefleet.mock_outputs.azure import CLIENT_OBJECT_ID, SUBSCRIPTION
from edgefleet.mock_outputs.common import fake_ca
from tests.clusters.support import Built, build, check_calico_releases, check_cilium_release, fleet_config, refused

ENTRY = {"vendor": "azure", "region": "westeurope"}
NAME = "azure-westeurope"
CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
GROUP = "azure-native:resources:ResourceGroup"
VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE = "azure-native:authorization:RoleAssignment"
WORKSPACE = "azure-native:operationalinsights:Workspace"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
PROVIDER = "pulumi:providers:azure-native"
TAGS = {"cost-center": "cc-42", "edgefleet-cluster": NAME, "environment": "prod", "owner": "platform-team"}
TWO_POOLS = {
    **ENTRY,
    "node_pools": [
        {"name": "general", "size": "medium", "min": 2, "max": 5},
        {"name": "batch-jobs", "machine_type": "Standard_E4s_v5", "min": 0, "max": 10},
    ],
}


@cache
def prod() -> Built:
    return build([ENTRY])


@cache
def dev() -> Built:
    return build([ENTRY], environment="dev")


@cache
def two_pools() -> Built:
    return build([TWO_POOLS])


@cache
def public(cidr: str) -> Built:
    return build([{**ENTRY, "endpoint": {"public": True, "allowed_cidrs": [cidr]}}])


def _role(built: Built, suffix: str) -> Registration:
    return next(r for r in built.of_type(ROLE) if r.name == f"{NAME}-{suffix}")


def _resolve(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    data = _sync_await(output._data)
    return data.value, data.is_secret


def _cluster(built: Built) -> AksCluster:
    component = built.fleet.clusters[NAME]
    assert isinstance(component, AksCluster)
    return component


def _state(built: Built, type_: str) -> dict[str, Any]:
    """The id and name the mock engine answered for the resource of ``type_``."""
    c = _cluster(built)
    outputs = {
        CLUSTER: (c.cluster.id, c.cluster.name),
        SUBNET: (c.subnet.id, c.subnet.name),
        IDENTITY: (c.identity.id, c.identity.name),
        WORKSPACE: (c.workspace.id, c.workspace.name),
        GROUP: (c.resource_group.id, c.resource_group.name),
    }[type_]
    (rid, name), _ = _resolve(pulumi.Output.all(*outputs))
    return {"id": rid, "name": name}


# --- inventory, provider, parents -------------------------------------------------------------


def test_default_cluster_inventory() -> None:
    assert Counter(r.type for r in prod().run.registrations) == {
        "pulumi:pulumi:Stack": 1,
        "edgefleet:index:Fleet": 1,
        "edgefleet:index:AksCluster": 1,
        PROVIDER: 1,
        GROUP: 1,
        VNET: 1,
        SUBNET: 1,
        IDENTITY: 1,
        ROLE: 2,  # the control plane's on its subnet, the deployer's on the cluster
        CLUSTER: 1,  # the one default pool is its inline System pool: no AgentPool
        WORKSPACE: 1,
        DIAGNOSTICS: 1,
        "pulumi:providers:kubernetes": 1,
    }


def test_explicit_provider_in_the_clusters_region_for_every_azure_resource() -> None:
    built = prod()
    provider = built.one(PROVIDER)
    assert provider.name == f"{NAME}-azure"
    assert provider.inputs["location"] == "westeurope"
    component = built.one("edgefleet:index:AksCluster")
    assert provider.parent == component.urn
    azure = [r for r in built.run.registrations if r.type.startswith("azure-native:")]
    assert len(azure) == 9
    for r in azure:
        assert r.provider_urn == provider.urn, r.name
        assert r.parent == component.urn, r.name
        assert r.name.startswith(f"{NAME}-"), r.name
        assert r.inputs.get("location", "westeurope") == "westeurope", r.name


def test_kubernetes_provider_is_the_components_child_built_from_the_secret_kubeconfig() -> None:
    built = two_pools()
    k8s = built.one("pulumi:providers:kubernetes")
    assert k8s.name == f"{NAME}-k8s"
    assert k8s.parent == built.one("edgefleet:index:AksCluster").urn
    assert k8s.inputs["kubeconfig"] == "[secret]"
    # Nothing reaches the cluster before its user pools and the deployer's Kubernetes role exist.
    assert built.one(AGENT_POOL).urn in k8s.dependencies
    assert _role(built, "deployer-role").urn in k8s.dependencies
    assert built.one(CLUSTER).urn in k8s.dependencies


# --- protect ----------------------------------------------------------------------------------


def test_control_plane_network_and_audit_logs_are_protected_in_prod_only() -> None:
    protected = {r.type for r in prod().run.registrations if r.protect}
    assert protected == {GROUP, VNET, SUBNET, CLUSTER, WORKSPACE}
    assert not any(r.protect for r in dev().run.registrations)


# --- network ----------------------------------------------------------------------------------


def test_vnet_and_node_subnet_come_from_the_address_plan() -> None:
    built = prod()
    plan = built.spec.cluster(NAME).network
    assert plan is not None
    vnet = built.one(VNET)
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": [plan.network]}
    assert "subnets" not in vnet.inputs  # standalone Subnet only: no inline/standalone mix
    assert vnet.inputs["tags"] == TAGS
    subnet = built.one(SUBNET)
    assert subnet.inputs["addressPrefix"] == plan.subnet(20, 0)
    assert subnet.inputs["defaultOutboundAccess"] is False
    assert subnet.inputs["resourceGroupName"] == _state(built, GROUP)["name"]
    assert vnet.urn in subnet.dependencies


def test_network_profile_is_azure_cni_overlay_with_network_policy() -> None:
    built = prod()
    plan = built.spec.cluster(NAME).network
    assert plan is not None
    assert built.one(CLUSTER).inputs["networkProfile"] == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "networkDataplane": "azure",
        "networkPolicy": "azure",
        "podCidr": plan.pods,
        "serviceCidr": plan.services,
        "dnsServiceIP": plan.service_ip(10),
        "loadBalancerSku": "standard",
        "outboundType": "loadBalancer",
    }
    cni = _cluster(built).cni
    assert (cni.plugin.value, cni.mode, cni.network_policy) == ("vendor", "azure-overlay", True)


# --- control plane security -------------------------------------------------------------------


def test_api_server_is_private_by_default() -> None:
    access = prod().one(CLUSTER).inputs["apiServerAccessProfile"]
    assert access == {"enablePrivateCluster": True, "enablePrivateClusterPublicFQDN": False, "privateDNSZone": "system"}


def test_public_api_server_is_limited_to_allowed_cidrs() -> None:
    built = public("198.51.100.0/24")
    access = built.one(CLUSTER).inputs["apiServerAccessProfile"]
    assert access == {"enablePrivateCluster": False, "authorizedIPRanges": ["198.51.100.0/24"]}
    assert built.violations() == []


def test_entra_id_azure_rbac_and_no_local_accounts() -> None:
    inputs = prod().one(CLUSTER).inputs
    assert inputs["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert inputs["disableLocalAccounts"] is True
    assert inputs["enableRBAC"] is True
    assert inputs["oidcIssuerProfile"] == {"enabled": True}
    assert inputs["securityProfile"] == {"workloadIdentity": {"enabled": True}}


def test_node_resource_group_is_named_after_the_clusters_group() -> None:
    # AKS' default MC_<group>_<cluster>_<region> passes 80 characters for long names and regions.
    long_region = build([{"vendor": "azure", "region": "germanywestcentral"}])
    component = long_region.fleet.clusters["azure-germanywestcentral"]
    assert isinstance(component, AksCluster)
    name, _ = _resolve(component.resource_group.name)
    assert long_region.one(CLUSTER).inputs["nodeResourceGroup"] == f"{name}-nodes"
    assert len(f"{name}-nodes") <= 63


def test_upgrades_version_and_sku() -> None:
    inputs = prod().one(CLUSTER).inputs
    assert inputs["kubernetesVersion"] == "1.35"
    assert inputs["dnsPrefix"] == NAME
    assert inputs["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert inputs["sku"] == {"name": "Base", "tier": "Standard"}
    assert dev().one(CLUSTER).inputs["sku"] == {"name": "Base", "tier": "Free"}


# --- identities -------------------------------------------------------------------------------


def test_control_plane_runs_as_a_user_assigned_identity_with_network_contributor_on_its_subnet() -> None:
    built = prod()
    identity = built.one(IDENTITY)
    assert identity.inputs["tags"] == TAGS
    identity_id = _state(built, IDENTITY)["id"]
    cluster = built.one(CLUSTER)
    assert cluster.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity_id]}
    role = _role(built, "subnet-role")
    assert role.inputs["scope"] == _state(built, SUBNET)["id"]
    assert role.inputs["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{NETWORK_CONTRIBUTOR}"
    )
    principal, _ = _resolve(_cluster(built).identity.principal_id)
    assert role.inputs["principalId"] == principal
    assert role.inputs["principalType"] == "ServicePrincipal"
    # The role exists before AKS first uses the subnet.
    assert role.urn in cluster.dependencies


def test_the_deploying_identity_gets_the_aks_rbac_cluster_admin_role_on_the_cluster_only() -> None:
    built = prod()
    role = _role(built, "deployer-role")
    assert role.inputs["scope"] == _state(built, CLUSTER)["id"]
    assert role.inputs["principalId"] == CLIENT_OBJECT_ID
    assert role.inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{AKS_RBAC_CLUSTER_ADMIN}")


# --- node pools -------------------------------------------------------------------------------


def test_first_pool_is_the_inline_system_pool() -> None:
    built = two_pools()
    cluster = built.one(CLUSTER)
    [system] = cluster.inputs["agentPoolProfiles"]
    assert system == {
        "name": "general",
        "mode": "System",
        "vmSize": "Standard_D4s_v5",
        "osType": "Linux",
        "osSKU": "AzureLinux",
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": True,
        "minCount": 2,
        "maxCount": 5,
        "count": 2,
        "availabilityZones": ["1", "2", "3"],
        "vnetSubnetID": _state(built, SUBNET)["id"],
        "enableNodePublicIP": False,
        "tags": TAGS,
    }
    # The autoscaler owns the node count.
    assert cluster.ignore_changes == ("agentPoolProfiles[0].count",)


def test_further_pools_are_user_agent_pools() -> None:
    built = two_pools()
    pool = built.one(AGENT_POOL)
    assert pool.name == f"{NAME}-pool-batch-jobs"
    cluster = _state(built, CLUSTER)
    assert pool.inputs == {
        "resourceGroupName": _state(built, GROUP)["name"],
        "resourceName": cluster["name"],
        "agentPoolName": "batchjobs",
        "mode": "User",
        "vmSize": "Standard_E4s_v5",
        "osType": "Linux",
        "osSKU": "AzureLinux",
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": True,
        "minCount": 0,
        "maxCount": 10,
        "count": 0,
        "availabilityZones": ["1", "2", "3"],
        "vnetSubnetID": _state(built, SUBNET)["id"],
        "enableNodePublicIP": False,
        "tags": TAGS,
    }
    assert pool.ignore_changes == ("count",)
    assert not pool.protect


def test_regions_without_availability_zones_get_no_zones() -> None:
    built = build([{"vendor": "azure", "region": "northcentralus"}])
    [system] = built.one(CLUSTER).inputs["agentPoolProfiles"]
    assert "availabilityZones" not in system
    assert built.one(PROVIDER).inputs["location"] == "northcentralus"


def _pools(*names: str, system_min: int = 1) -> list[dict[str, Any]]:
    return [{"name": n, "min": system_min if i == 0 else 1, "max": 2} for i, n in enumerate(names)]


def _refused(pools: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return refused([{**ENTRY, "node_pools": pools}])


def test_aks_pool_names_drop_hyphens() -> None:
    cluster = parse_fleet(fleet_config([{**ENTRY, "node_pools": _pools("general", "gpu-a100", "x1")}])).clusters[0]
    assert agent_pool_names(cluster) == ["general", "gpua100", "x1"]
    built = build([{**ENTRY, "node_pools": _pools("sys-1", "gpu-a100")}])
    assert built.one(CLUSTER).inputs["agentPoolProfiles"][0]["name"] == "sys1"
    pool = built.one(AGENT_POOL)
    assert (pool.name, pool.inputs["agentPoolName"]) == (f"{NAME}-pool-gpu-a100", "gpua100")


@pytest.mark.parametrize("name", ["general-purpose", "1pool"])
def test_a_pool_name_aks_cannot_take_is_a_config_error(name: str) -> None:
    [(path, message)] = _refused(_pools("general", name))
    assert path == "fleet.clusters[0].node_pools[1].name"
    assert "an AKS node pool name is a lower-case letter then at most 11 letters or digits ('-' is dropped)" in message
    assert f"{name!r} does not fit" in message


def test_pool_names_that_collide_without_hyphens_are_a_config_error() -> None:
    [(path, message)] = _refused(_pools("web-api", "webapi"))
    assert path == "fleet.clusters[0].node_pools"
    assert "AKS drops '-' from pool names, and two pool names become the same" in message


def test_a_system_pool_without_a_node_is_a_config_error() -> None:
    [(path, message)] = _refused(_pools("general", system_min=0))
    assert path == "fleet.clusters[0].node_pools[0].min"
    assert "the first AKS pool is the system pool: set `min` to 1 or more" in message


# --- audit logging ----------------------------------------------------------------------------


def test_control_plane_audit_logs_go_to_a_log_analytics_workspace() -> None:
    built = prod()
    workspace = built.one(WORKSPACE)
    assert workspace.inputs["sku"] == {"name": "PerGB2018"}
    assert workspace.inputs["retentionInDays"] == 90
    assert workspace.inputs["features"] == {"disableLocalAuth": True}
    assert workspace.inputs["tags"] == TAGS
    setting = built.one(DIAGNOSTICS)
    assert setting.inputs["resourceUri"] == _state(built, CLUSTER)["id"]
    assert setting.inputs["workspaceId"] == _state(built, WORKSPACE)["id"]
    assert setting.inputs["logAnalyticsDestinationType"] == "Dedicated"
    assert setting.inputs["logs"] == [
        {"category": "kube-audit-admin", "enabled": True},
        {"category": "kube-apiserver", "enabled": True},
        {"category": "guard", "enabled": True},
    ]


# --- tags -------------------------------------------------------------------------------------


def test_every_taggable_azure_resource_carries_the_fleet_tags() -> None:
    built = two_pools()
    for type_ in (GROUP, VNET, IDENTITY, CLUSTER, AGENT_POOL, WORKSPACE):
        assert built.one(type_).inputs["tags"] == TAGS, type_
    # Cluster tags do not reach node pools on AKS: the inline pool carries them too.
    assert built.one(CLUSTER).inputs["agentPoolProfiles"][0]["tags"] == TAGS


# --- kubeconfig and endpoint ------------------------------------------------------------------


def test_endpoint_is_the_private_fqdn_and_the_kubeconfig_uses_kubelogin() -> None:
    component = _cluster(prod())
    endpoint, endpoint_secret = _resolve(component.endpoint)
    assert not endpoint_secret
    assert endpoint.startswith("https://azure-westeurope-")
    assert endpoint.endswith(".privatelink.westeurope.azmk8s.io")
    text, secret = _resolve(component.kubeconfig)
    assert secret
    doc = json.loads(text)
    assert doc["clusters"] == [
        {
            "name": NAME,
            "cluster": {
                "server": endpoint,
                "certificate-authority-data": fake_ca(CLUSTER, _state(prod(), CLUSTER)["name"]),
            },
        }
    ]
    [user] = doc["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_ID]
    assert set(user["user"]) == {"exec"}  # no token, no client certificate


def test_public_endpoint_is_the_public_fqdn() -> None:
    endpoint, _ = _resolve(_cluster(public("198.51.100.0/24")).endpoint)
    assert endpoint.startswith("https://azure-westeurope-")
    assert endpoint.endswith(".hcp.westeurope.azmk8s.io")


# --- policy -----------------------------------------------------------------------------------


def test_default_prod_cluster_has_no_policy_violations() -> None:
    assert prod().violations() == []


def test_a_public_api_server_open_to_everyone_is_one_violation() -> None:
    built = public("0.0.0.0/0")
    found = built.violations()
    assert [(rule, urn) for rule, urn, _ in found] == [("aks-api-server-restricted", built.one(CLUSTER).urn)]
    assert "0.0.0.0/0" in found[0][2]


# --- CNI cells (components/cni/matrix.py): network profile, Helm releases, order ---------------

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def _with_cni(cni: dict[str, Any]) -> Built:
    """Two pools (an inline System pool and one AgentPool) with ``cni``."""
    return build([{**TWO_POOLS, "cni": cni}])


def _plan(built: Built) -> Any:
    plan = built.spec.cluster(NAME).network
    assert plan is not None
    return plan


def _profile(built: Built, **cni: str) -> dict[str, Any]:
    """The expected ``networkProfile``: ``cni`` (wire names) plus the plan's ranges and egress."""
    plan = _plan(built)
    return {
        **cni,
        "podCidr": plan.pods,
        "serviceCidr": plan.services,
        "dnsServiceIP": plan.service_ip(10),
        "loadBalancerSku": "standard",
        "outboundType": "loadBalancer",
    }


def _byocni(built: Built) -> dict[str, Any]:
    # Microsoft's BYOCNI template: networkPlugin none and the pod range; no mode, dataplane or policy.
    return _profile(built, networkPlugin="none")


def _provider(built: Built, name: str) -> Registration:
    return next(r for r in built.of_type(K8S_PROVIDER) if r.name == name)


def _check_managed(built: Built, plugin: str, mode: str) -> None:
    """A cell AKS runs itself: nothing installed, one (contract) Kubernetes provider, no violations."""
    cni = _cluster(built).cni
    assert (cni.plugin.value, cni.mode, cni.network_policy, cni.installs) == (plugin, mode, True, False)
    assert built.of_type(RELEASE) == []
    assert built.of_type(NAMESPACE) == []
    assert [r.name for r in built.of_type(K8S_PROVIDER)] == [f"{NAME}-k8s"]
    assert _cluster(built).cni_releases == []
    assert built.violations() == []


def _check_installed(built: Built, releases: list[Registration]) -> None:
    """Releases on the ``-k8s-cni`` provider (the component's child), after the ManagedCluster and
    the deployer's role, before every AgentPool and the contract provider; no violations."""
    component = built.one("edgefleet:index:AksCluster")
    cluster = built.one(CLUSTER)
    deployer = _role(built, "deployer-role")
    provider = _provider(built, f"{NAME}-k8s-cni")
    assert provider.parent == component.urn
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert {cluster.urn, deployer.urn} <= set(provider.dependencies)
    assert {cluster.urn, deployer.urn} <= set(releases[0].dependencies)
    for release in releases:
        assert release.provider_urn == provider.urn, release.name
        assert release.inputs["skipAwait"] is True  # the inline System pool's nodes are NotReady until it runs
        assert release.inputs["createNamespace"] is False
    urns = {r.urn for r in releases}
    [pool] = built.of_type(AGENT_POOL)
    assert urns <= set(pool.dependencies)
    assert urns <= set(_provider(built, f"{NAME}-k8s").dependencies)
    assert [_resolve(r.urn)[0] for r in _cluster(built).cni_releases] == [r.urn for r in releases]
    assert built.violations() == []


def test_cni_vendor_azure_overlay_is_the_default_and_installs_nothing() -> None:
    built = build([{**ENTRY, "cni": {"plugin": "vendor"}}])
    assert built.one(CLUSTER).inputs["networkProfile"] == _profile(
        built, networkPlugin="azure", networkPluginMode="overlay", networkDataplane="azure", networkPolicy="azure"
    )
    _check_managed(built, "vendor", "azure-overlay")
    # Naming the default changes nothing: the same resources with the same inputs.
    assert {r.urn: r.inputs for r in built.run.registrations} == {r.urn: r.inputs for r in prod().run.registrations}


def test_cni_cilium_managed_is_azure_cni_powered_by_cilium() -> None:
    built = _with_cni({"plugin": "cilium", "mode": "managed"})
    # networkPolicy cilium requires networkDataplane cilium.
    assert built.one(CLUSTER).inputs["networkProfile"] == _profile(
        built, networkPlugin="azure", networkPluginMode="overlay", networkDataplane="cilium", networkPolicy="cilium"
    )
    _check_managed(built, "cilium", "managed")


def test_cni_calico_managed_is_aks_calico_network_policy() -> None:
    built = _with_cni({"plugin": "calico", "mode": "managed"})
    assert built.one(CLUSTER).inputs["networkProfile"] == _profile(
        built, networkPlugin="azure", networkPluginMode="overlay", networkDataplane="azure", networkPolicy="calico"
    )
    _check_managed(built, "calico", "managed")


def test_cni_cilium_byocni_installs_cilium_with_tunnel_routing_on_the_pod_range() -> None:
    built = _with_cni({"plugin": "cilium", "mode": "byocni"})
    plan = _plan(built)
    cni = _cluster(built).cni
    assert (cni.plugin.value, cni.mode, cni.network_policy, cni.installs) == ("cilium", "byocni", True, True)
    assert cni.pod_cidr == plan.pods  # the Helm CNI's pool is the range AKS routes to
    assert built.one(CLUSTER).inputs["networkProfile"] == _byocni(built)
    release = check_cilium_release(
        built,
        {
            "cluster": {"name": NAME},
            "hubble": {"enabled": True, "metrics": {"enabled": ["drop"]}},  # hubble_drop_total for the doctor
            "aksbyocni": {"enabled": True},
            "routingMode": "tunnel",
            "tunnelProtocol": "vxlan",
            "ipam": {"mode": "cluster-pool", "operator": {"clusterPoolIPv4PodCIDRList": [plan.pods]}},
        },
    )
    _check_installed(built, [release])


def _check_calico(built: Built, installation: dict[str, Any]) -> None:
    crds, operator = check_calico_releases(built, installation)
    _check_installed(built, [crds, operator])


def test_cni_calico_policy_only_installs_calico_on_azure_cni_without_aks_network_policy() -> None:
    built = _with_cni({"plugin": "calico", "mode": "policy-only"})
    cni = _cluster(built).cni
    assert (cni.plugin.value, cni.mode, cni.network_policy, cni.installs) == ("calico", "policy-only", True, True)
    assert built.one(CLUSTER).inputs["networkProfile"] == _profile(
        built, networkPlugin="azure", networkPluginMode="overlay", networkDataplane="azure", networkPolicy="none"
    )
    _check_calico(
        built, {"kubernetesProvider": "AKS", "cni": {"type": "AzureVNET"}, "calicoNetwork": {"bgp": "Disabled"}}
    )


def test_cni_calico_full_brings_calico_with_a_vxlan_pool_on_the_pod_range() -> None:
    built = _with_cni({"plugin": "calico", "mode": "full"})
    plan = _plan(built)
    assert _cluster(built).cni.pod_cidr == plan.pods
    assert built.one(CLUSTER).inputs["networkProfile"] == _byocni(built)
    pool = {"cidr": plan.pods, "encapsulation": "VXLAN", "natOutgoing": "Enabled"}
    _check_calico(
        built,
        {
            "kubernetesProvider": "AKS",
            "cni": {"type": "Calico"},
            "calicoNetwork": {"bgp": "Disabled", "ipPools": [pool]},
        },
    )


@pytest.mark.parametrize("public_api", [False, True], ids=["private", "public"])
def test_the_cni_installer_gets_the_api_server_host_without_scheme(
    monkeypatch: pytest.MonkeyPatch, public_api: bool
) -> None:
    seen: list[Any] = []
    original = common_module.installer_for

    def recording(cluster: Any, labels: Any) -> Any:
        install = original(cluster, labels)
        assert install is not None

        def wrapped(provider: Any, api_host: Any, parent: Any, depends_on: Any) -> Any:
            seen.append(api_host)
            return install(provider, api_host, parent, depends_on)

        return wrapped

    monkeypatch.setattr(common_module, "installer_for", recording)
    endpoint = {"endpoint": {"public": True, "allowed_cidrs": ["198.51.100.0/24"]}} if public_api else {}
    built = build([{**ENTRY, **endpoint, "cni": {"plugin": "cilium", "mode": "byocni"}}])
    [api_host] = seen
    host, _ = _resolve(api_host)
    fqdn, _ = _resolve(_cluster(built).cluster.fqdn if public_api else _cluster(built).cluster.private_fqdn)
    assert host == fqdn
    assert not host.startswith("https://")
    endpoint_url, _ = _resolve(_cluster(built).endpoint)
    assert endpoint_url == f"https://{host}"

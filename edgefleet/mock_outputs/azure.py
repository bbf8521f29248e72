"""Mock outputs for the azure-native provider's resources and functions (see ``edgefleet/mocks.py``).

Shapes follow the ARM resources as pulumi-azure-native 3.x reports them (flattened ``properties``):
ARM ids under a fixed all-zero subscription, auto-names (the logical name plus 8 hex digits, as the
provider generates them when no explicit name is given), AKS FQDNs under ``azmk8s.io`` and the
kubeconfig ``listClusterUserCredential`` returns for an Entra ID cluster in ``exec`` format.
"""

from __future__ import annotations

import base64
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs

from edgefleet.mock_outputs.common import CallMock, ResourceMock, echo, fake_ca, stable_hex, stable_uuid

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = stable_uuid("azure", "tenant")
# The deploying identity getClientConfig reports.
CLIENT_OBJECT_ID = stable_uuid("azure", "client-object")
CLIENT_ID = stable_uuid("azure", "client-app")
# AKS' Entra ID server application and the Azure CLI client kubelogin uses by default.
AKS_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
AKS_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"

# Cluster resource name -> its API server's FQDN, for listClusterUserCredential's kubeconfig. Filled
# when a ManagedCluster is mocked, which happens before its credentials can be asked for.
_SERVERS: dict[str, str] = {}


def autoname(args: MockResourceArgs) -> str:
    """The name azure-native gives a resource without an explicit one: logical name + 8 hex digits."""
    return f"{args.name}{stable_hex(8, args.typ, args.name)}"


def group_id(group: str) -> str:
    """The ARM id of resource group ``group``."""
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}"


def _provider_id(args: MockResourceArgs, provider_type: str, name: str) -> str:
    return f"{group_id(str(args.inputs.get('resourceGroupName', 'rg')))}/providers/{provider_type}/{name}"


def _resource_group(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = autoname(args)
    _, state = echo(
        args,
        name=name,
        type="Microsoft.Resources/resourceGroups",
        properties={"provisioningState": "Succeeded"},
        azureApiVersion="2024-03-01",
    )
    return group_id(name), state


def _virtual_network(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = autoname(args)
    rid = _provider_id(args, "Microsoft.Network/virtualNetworks", name)
    _, state = echo(
        args,
        id=rid,
        name=name,
        type="Microsoft.Network/virtualNetworks",
        etag=f'W/"{stable_uuid(args.typ, args.name, "etag")}"',
        resourceGuid=stable_uuid(args.typ, args.name),
        provisioningState="Succeeded",
        azureApiVersion="2024-05-01",
    )
    return rid, state


def _subnet(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = autoname(args)
    vnet = str(args.inputs.get("virtualNetworkName", "vnet"))
    rid = f"{_provider_id(args, 'Microsoft.Network/virtualNetworks', vnet)}/subnets/{name}"
    _, state = echo(
        args,
        id=rid,
        name=name,
        type="Microsoft.Network/virtualNetworks/subnets",
        etag=f'W/"{stable_uuid(args.typ, args.name, "etag")}"',
        provisioningState="Succeeded",
        azureApiVersion="2024-05-01",
    )
    return rid, state


def _user_assigned_identity(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = autoname(args)
    rid = _provider_id(args, "Microsoft.ManagedIdentity/userAssignedIdentities", name)
    _, state = echo(
        args,
        id=rid,
        name=name,
        type="Microsoft.ManagedIdentity/userAssignedIdentities",
        principalId=stable_uuid(args.typ, args.name, "principal"),
        clientId=stable_uuid(args.typ, args.name, "client"),
        tenantId=TENANT,
        azureApiVersion="2023-01-31",
    )
    return rid, state


def _role_assignment(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = stable_uuid(args.typ, args.name)
    rid = f"{args.inputs.get('scope', '')}/providers/Microsoft.Authorization/roleAssignments/{name}"
    _, state = echo(
        args,
        id=rid,
        name=name,
        type="Microsoft.Authorization/roleAssignments",
        principalType=args.inputs.get("principalType", "User"),
        createdBy=CLIENT_OBJECT_ID,
        azureApiVersion="2022-04-01",
    )
    return rid, state


def _managed_cluster(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = autoname(args)
    group = str(args.inputs.get("resourceGroupName", "rg"))
    location = str(args.inputs.get("location", "westeurope"))
    prefix = str(args.inputs.get("dnsPrefix", args.name))
    rid = _provider_id(args, "Microsoft.ContainerService/managedClusters", name)
    node_group = str(args.inputs.get("nodeResourceGroup") or f"MC_{group}_{name}_{location}")
    access = args.inputs.get("apiServerAccessProfile") or {}
    host = f"{prefix}-{stable_hex(8, args.typ, args.name)}"
    outputs: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "currentKubernetesVersion": f"{args.inputs.get('kubernetesVersion', '1.35')}.2",
        "nodeResourceGroup": node_group,
        "maxAgentPools": 100,
        "azurePortalFQDN": f"{host}.portal.hcp.{location}.azmk8s.io",
        "oidcIssuerProfile": {
            "enabled": True,
            "issuerURL": f"https://{location}.oic.prod-aks.azure.com/{TENANT}/{stable_uuid(args.typ, args.name)}/",
        },
        "identityProfile": {
            "kubeletidentity": {
                "resourceId": f"{group_id(node_group)}/providers/"
                f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool",
                "clientId": stable_uuid(args.typ, args.name, "kubelet-client"),
                "objectId": stable_uuid(args.typ, args.name, "kubelet-object"),
            }
        },
        "azureApiVersion": "2025-09-01",
    }
    identity = dict(args.inputs.get("identity") or {})
    if identity.get("type") == "UserAssigned":
        identity["userAssignedIdentities"] = {
            rid_: {"principalId": stable_uuid(rid_, "principal"), "clientId": stable_uuid(rid_, "client")}
            for rid_ in identity.get("userAssignedIdentities") or []
        }
    elif identity.get("type") == "SystemAssigned":
        identity.update(principalId=stable_uuid(args.typ, args.name, "principal"), tenantId=TENANT)
    outputs["identity"] = identity
    if access.get("enablePrivateCluster"):
        guid = stable_uuid(args.typ, args.name, "private-dns")
        outputs["privateFQDN"] = server = f"{host}.{guid}.privatelink.{location}.azmk8s.io"
        if access.get("enablePrivateClusterPublicFQDN"):
            outputs["fqdn"] = f"{host}.hcp.{location}.azmk8s.io"
    else:
        outputs["fqdn"] = server = f"{host}.hcp.{location}.azmk8s.io"
    _SERVERS[name] = server
    _, state = echo(args, **outputs)
    return rid, state


def _agent_pool(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    cluster = str(args.inputs.get("resourceName", "aks"))
    pool = str(args.inputs.get("agentPoolName", args.name))
    rid = f"{_provider_id(args, 'Microsoft.ContainerService/managedClusters', cluster)}/agentPools/{pool}"
    _, state = echo(
        args,
        id=rid,
        name=pool,
        type="Microsoft.ContainerService/managedClusters/agentPools",
        provisioningState="Succeeded",
        powerState={"code": "Running"},
        currentOrchestratorVersion="1.35.2",
        nodeImageVersion="AKSAzureLinux-V3gen2-202611.10.0",
        azureApiVersion="2025-09-01",
    )
    return rid, state


def _workspace(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = autoname(args)
    rid = _provider_id(args, "Microsoft.OperationalInsights/workspaces", name)
    _, state = echo(
        args,
        id=rid,
        name=name,
        type="Microsoft.OperationalInsights/workspaces",
        customerId=stable_uuid(args.typ, args.name),
        provisioningState="Succeeded",
        azureApiVersion="2023-09-01",
    )
    return rid, state


def _diagnostic_setting(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = autoname(args)
    rid = f"{args.inputs.get('resourceUri', '')}/providers/Microsoft.Insights/diagnosticSettings/{name}"
    _, state = echo(
        args, id=rid, name=name, type="Microsoft.Insights/diagnosticSettings", azureApiVersion="2021-05-01-preview"
    )
    return rid, state


def _client_config(args: MockCallArgs) -> dict[str, Any]:
    return {"clientId": CLIENT_ID, "objectId": CLIENT_OBJECT_ID, "subscriptionId": SUBSCRIPTION, "tenantId": TENANT}


def user_kubeconfig(cluster: str, group: str, server: str) -> str:
    """The kubeconfig (YAML) AKS returns for an Entra ID cluster with ``format=exec``."""
    user = f"clusterUser_{group}_{cluster}"
    ca = fake_ca("azure-native:containerservice:ManagedCluster", cluster)
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        f"    certificate-authority-data: {ca}\n"
        f"    server: https://{server}:443\n"
        f"  name: {cluster}\n"
        "contexts:\n"
        "- context:\n"
        f"    cluster: {cluster}\n"
        f"    user: {user}\n"
        f"  name: {cluster}\n"
        f"current-context: {cluster}\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {user}\n"
        "  user:\n"
        "    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      args:\n"
        "      - get-token\n"
        "      - --environment\n"
        "      - AzurePublicCloud\n"
        "      - --server-id\n"
        f"      - {AKS_SERVER_ID}\n"
        "      - --client-id\n"
        f"      - {AKS_CLIENT_ID}\n"
        "      - --tenant-id\n"
        f"      - {TENANT}\n"
        "      - --login\n"
        "      - devicecode\n"
        "      command: kubelogin\n"
        "      env: null\n"
        "      installHint: |2\n\n"
        "        kubelogin is not installed which is required to connect to AAD enabled cluster.\n"
        "      provideClusterInfo: false\n"
    )


def _user_credentials(args: MockCallArgs) -> dict[str, Any]:
    cluster = str(args.args.get("resourceName", "aks"))
    group = str(args.args.get("resourceGroupName", "rg"))
    server = _SERVERS.get(cluster, f"{cluster}-{stable_hex(8, cluster)}.hcp.azmk8s.io")
    text = user_kubeconfig(cluster, group, server)
    return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(text.encode()).decode()}]}


RESOURCES: dict[str, ResourceMock] = {
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:network:VirtualNetwork": _virtual_network,
    "azure-native:network:Subnet": _subnet,
    "azure-native:managedidentity:UserAssignedIdentity": _user_assigned_identity,
    "azure-native:authorization:RoleAssignment": _role_assignment,
    "azure-native:containerservice:ManagedCluster": _managed_cluster,
    "azure-native:containerservice:AgentPool": _agent_pool,
    "azure-native:operationalinsights:Workspace": _workspace,
    "azure-native:monitor:DiagnosticSetting": _diagnostic_setting,
}
CALLS: dict[str, CallMock] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:containerservice:listManagedClusterUserCredentials": _user_credentials,
}

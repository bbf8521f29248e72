"""Azure Kubernetes Service (AKS) behind cluster contract v1, from pulumi-azure-native primitives.

Per cluster, all in the cluster's region through an explicit ``azure-native`` provider
(``location`` = the region): a resource group; a VNet on the cluster's address block with one node
subnet; a user-assigned managed identity for the control plane, allowed to join that subnet; the
``ManagedCluster`` with the first configured node pool inline as its System pool; an ``AgentPool``
(mode User) per further pool; a Log Analytics workspace receiving the control plane's audit logs;
and an Azure RBAC role that lets whoever runs ``pulumi up`` manage the cluster's Kubernetes objects.

Facts the choices rest on (pulumi-azure-native 3.29.0 source and docstrings; Microsoft Learn):

- Subnet: a standalone ``network.Subnet`` and a VNet *without* ``subnets``. Inline subnets next to
  standalone ones are the known perpetual-diff/deletion trap (pulumi-azure-native#611); with none
  inline, the provider round-trips the existing subnets on VNet updates ("maintain sub-resource
  properties if not set"), and the subnet is its own resource with an id, ``protect`` and no VNet
  rewrite when it changes.
- Identity: a user-assigned identity made before the cluster, so its Network Contributor role on
  the node subnet exists when AKS first uses the subnet. A bring-your-own subnet needs that role;
  only the Azure CLI grants it automatically ("Use a managed identity in AKS"). That assignment
  names ``principalType: ServicePrincipal`` so the just-created identity is not rejected while
  Entra ID replicates it. AKS creates the kubelet identity in the node resource group.
- Entra ID: ``aadProfile.managed`` with Azure RBAC, local accounts disabled, Kubernetes RBAC on. With
  local accounts disabled nobody gets a static credential, so the identity running ``pulumi up``
  (``authorization.getClientConfig``) gets "Azure Kubernetes Service RBAC Cluster Admin" on the
  cluster: the Kubernetes provider (CNI, workloads) authenticates as that identity through
  ``kubelogin --login azurecli``. A different identity running ``pulumi up`` later replaces that
  assignment. Azure RBAC assignments can take a few minutes to reach the API server.
- API server: private (``enablePrivateCluster``, private DNS zone ``system``, no public FQDN) unless
  the config says ``endpoint.public``, then public with ``authorizedIPRanges`` = ``allowed_cidrs``.
  A private API server is reachable only from the cluster's VNet (and networks peered and linked
  to its private DNS zone), which includes wherever ``pulumi up`` deploys workloads from.
- Network: what the cluster's CNI cell (``components/cni/matrix.py``, ``cni: {plugin, mode}``)
  asks for. The ``vendor`` default is Azure CNI Overlay (``networkPlugin: azure``,
  ``networkPluginMode: overlay``) with Azure Network Policy Manager (``networkPolicy: azure``,
  ``networkDataplane: azure``), which enforces NetworkPolicy; Microsoft ends NPM support on Linux
  nodes on 30 September 2028 (Cilium Network Policy replaces it). ``cilium/managed`` is Azure CNI
  powered by Cilium (``networkDataplane: cilium``, ``networkPolicy: cilium``: Cilium policy needs
  the Cilium dataplane), ``calico/managed`` AKS' own Calico (``networkPolicy: calico``), and
  ``calico/policy-only`` Azure CNI Overlay with ``networkPolicy: none`` and Calico installed from
  Helm (Tigera: "Self-managed Calico for network policy" on AKS). ``cilium/byocni`` and
  ``calico/full`` bring their own CNI: ``networkPlugin: none`` and the pod range, and nothing else
  (Microsoft's BYOCNI template sets only ``networkPlugin`` and ``podCidr``; ``networkPluginMode``
  and ``networkDataplane`` belong to Azure CNI, and ``networkPolicy`` is left unset, which AKS
  reads as ``none``: the Helm CNI enforces policy). Pods get the plan's pod range (overlay: a /24
  per node, so a /19 holds 32 nodes; BYOCNI: the control plane routes to it and the Helm CNI's IP
  pool is the same range), Services the plan's service range, CoreDNS its 10th address. Egress
  through the Standard load balancer (``outboundType: loadBalancer``); nodes have no public IPs.
- CNI from Helm (``cilium/byocni``, ``calico/policy-only``, ``calico/full``): installed through a provider of
  its own after the ``ManagedCluster`` and the deployer's role assignment (the provider signs in as
  that identity), before every ``AgentPool``; the inline System pool comes with the cluster and its
  nodes stay NotReady until the CNI runs (the releases skip await). With BYOCNI, Microsoft support
  does not cover CNI issues ("Bring your own CNI plugin with AKS").
- Nodes: Azure Linux (``osSKU: AzureLinux``), autoscaling ``min``..``max`` in every availability
  zone the region has (the catalog lists "1", "2", "3" where Azure has zones, none elsewhere).
  The autoscaler owns ``count``, so ``count`` starts at ``min`` and later differences are ignored.
  System pools need at least one node. Pool names are AKS names: ``^[a-z][a-z0-9]{0,11}$`` after
  dropping the config name's hyphens. ``parse_fleet`` guarantees these before any program runs
  (a cluster has at least one pool, the first (System) pool's ``min`` is at least 1, and every name
  fits and stays unique without its hyphens): they are config errors with a path, not checked here.
  Cluster tags do not reach node pools ("Use Azure tags in AKS"), so every pool carries the tags itself.
- Upgrades: channel ``patch`` keeps the configured minor and applies its patches; node OS images
  follow ``NodeImage`` (weekly). SKU tier ``Standard`` (financially backed API server SLA) in
  ``prod``, ``Free`` elsewhere.
- Secrets at rest: AKS encrypts etcd at rest with platform-managed keys. KMS with a customer key
  (``securityProfile.azureKeyVaultKms``) is not built: it needs a Key Vault reachable from the
  public internet without a firewall (or API Server VNet Integration, in preview, for a private
  one), deleting the key, vault or identity "isn't supported" and loses every secret, and key
  rotation means updating the key version on the cluster ("Add KMS etcd encryption to an AKS
  cluster", Limitations). Key Vault names are global and purge protection holds them for up to 90
  days after a cluster is destroyed.
- Audit: a diagnostic setting sends ``kube-audit-admin`` (writes, without get/list), ``kube-apiserver``
  and ``guard`` (Entra ID and Azure RBAC decisions) to a workspace, into the resource-specific tables
  (``AKSAuditAdmin``, ``AKSControlPlane``), kept 90 days; the workspace takes no shared-key ingestion.
- kubeconfig: the CA comes from ``listClusterUserCredential`` (local accounts disabled: user
  credentials only); the user is an exec plugin, ``kubelogin get-token --login azurecli --server-id
  6dae42f8-...`` (the AKS Entra ID server application), which needs ``az login`` and ``kubelogin``.
- Deletion protection: Azure has no flag on these resources; resource locks would also block the
  node pool and setting deletions edgefleet makes, so ``protect`` is the guard.
"""

import base64
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_azure_native import (
    authorization,
    containerservice,
    managedidentity,
    monitor,
    network,
    operationalinsights,
    resources,
)
from pulumi_azure_native import provider as azure_native
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from edgefleet.components.args import AksClusterArgs
from edgefleet.components.clusters.common import (
    CloudCluster,
    exec_kubeconfig,
    network_of,
    protected,
    resolved_args,
    tags,
)
from edgefleet.components.cni import matrix
from edgefleet.components.config.model import Cluster, NetworkPlan, Vendor
from edgefleet.components.tokens import AKS_CLUSTER

TYPE = AKS_CLUSTER

# Built-in Azure roles (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"

# The Entra ID application AKS API server tokens are issued for (the same in every tenant).
AKS_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
KUBELOGIN = "kubelogin"
KUBELOGIN_ARGS = ("get-token", "--login", "azurecli", "--server-id", AKS_SERVER_ID)
INSTALL_HINT = (
    "kubelogin authenticates to AKS with your Azure CLI login: install it (`az aks install-cli`, or "
    "https://azure.github.io/kubelogin/install.html) and run `az login`"
)

AUDIT_LOG_CATEGORIES = ("kube-audit-admin", "kube-apiserver", "guard")
LOG_RETENTION_DAYS = 90
NODE_SUBNET_PREFIX = 20  # the first /20 of the cluster's /17: 4,091 node addresses
DNS_SERVICE_OFFSET = 10


def agent_pool_names(cluster: Cluster) -> list[str]:
    """AKS names of the cluster's node pools, in config order: the config name without hyphens.

    AKS allows ``^[a-z][a-z0-9]{0,11}$``; ``parse_fleet`` guarantees every name fits once its
    hyphens are dropped and no two become the same (config errors, before any program runs)."""
    return [pool.name.replace("-", "") for pool in cluster.node_pools]


def ca_data(kubeconfig_base64: str) -> str:
    """The cluster CA (base64 PEM) of the first cluster in a base64 kubeconfig from AKS."""
    try:
        doc: Any = YAML(typ="safe", pure=True).load(base64.b64decode(kubeconfig_base64).decode())
        ca = doc["clusters"][0]["cluster"]["certificate-authority-data"]
    except (ValueError, YAMLError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"AKS returned a kubeconfig without certificate-authority-data ({exc})") from None
    if not isinstance(ca, str) or not ca:
        raise ValueError("AKS returned a kubeconfig without certificate-authority-data")
    return ca


def node_resource_group(group: str) -> str:
    """The resource group AKS creates for the nodes: ``<group>-nodes``, unique with the cluster's own
    group. AKS' default ``MC_<group>_<cluster>_<region>`` passes its 80-character limit for long
    cluster names and regions ("The length of the node resource group name is too long. The maximum
    length is 80"), and Azure CNI Overlay puts the name in a node label (at most 63 characters)."""
    return f"{group}-nodes"


def aks_side(cluster: Cluster) -> matrix.AksSide:
    """The AKS ``network_profile`` settings of ``cluster``'s CNI cell."""
    cell = matrix.resolve(cluster.vendor, cluster.cni.plugin, cluster.cni.mode, autopilot=cluster.spec.autopilot)
    if not isinstance(cell.cluster, matrix.AksSide):
        raise ValueError(f"the {cell.plugin.value}/{cell.mode} CNI cell of {cluster.name!r} has no AKS settings")
    return cell.cluster


def network_profile(side: matrix.AksSide, plan: NetworkPlan) -> containerservice.ContainerServiceNetworkProfileArgs:
    """The cluster's ``network_profile`` from its CNI cell and address plan.

    Azure CNI (``azure``) states its dataplane (``azure`` unless the cell asks for ``cilium``);
    BYOCNI (``none``) gets no mode, dataplane or policy, as in Microsoft's BYOCNI template: the
    CNI edgefleet installs enforces NetworkPolicy. Every AKS cell sets the pod range (overlay and
    BYOCNI need it; the SDK would otherwise send its own default, 10.244.0.0/16)."""
    if not side.pod_cidr:
        raise ValueError("every AKS CNI cell uses the plan's pod range (overlay or BYOCNI)")
    mode: str | None
    dataplane: str | None
    policy: str | None
    if side.network_plugin == "none":
        if side.network_plugin_mode or side.network_dataplane or side.network_policy != "none":
            raise ValueError("BYOCNI (network_plugin none) takes no plugin mode, dataplane or network policy")
        mode = dataplane = policy = None
    else:
        mode, dataplane, policy = side.network_plugin_mode, side.network_dataplane or "azure", side.network_policy
    return containerservice.ContainerServiceNetworkProfileArgs(
        network_plugin=side.network_plugin,
        network_plugin_mode=mode,
        network_dataplane=dataplane,
        network_policy=policy,
        pod_cidr=plan.pods,
        service_cidr=plan.services,
        dns_service_ip=plan.service_ip(DNS_SERVICE_OFFSET),
        load_balancer_sku="standard",
        outbound_type="loadBalancer",
    )


def _kubeconfig(name: str, values: Sequence[Any]) -> str:
    server, credentials = values
    return exec_kubeconfig(
        name,
        server=str(server),
        ca_data=ca_data(credentials.kubeconfigs[0].value),
        command=KUBELOGIN,
        args=KUBELOGIN_ARGS,
        install_hint=INSTALL_HINT,
    )


def _role(subscription_id: pulumi.Output[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role
    )


class AksCluster(CloudCluster):
    """An AKS cluster with its own resource group and VNet; contract v1."""

    kubeconfig: pulumi.Output[str]
    """The cluster's kubeconfig (secret). Its user runs the vendor's CLI for a token; nothing stored."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = resolved_args(Vendor.AZURE, name, args, "AksCluster")  # before any resource
        super().__init__(TYPE, name, resolved, opts)
        spec = resolved.cluster
        plan = network_of(spec)
        # parse_fleet guarantees a first pool, and that it has a node (AKS' System pool needs one).
        system, *user = spec.node_pools
        system_name, *user_names = agent_pool_names(spec)
        labels = tags(resolved)
        protect = protected(resolved)
        region = spec.region
        zones = list(spec.zones) or None
        endpoint_spec = spec.spec.endpoint
        side = aks_side(spec)

        self.azure_provider = azure_native.Provider(
            f"{name}-azure", azure_native.ProviderArgs(location=region), opts=pulumi.ResourceOptions(parent=self)
        )
        client = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=self.azure_provider)
        )

        self.resource_group = resources.ResourceGroup(
            f"{name}-rg",
            resources.ResourceGroupArgs(location=region, tags=labels),
            opts=self.child(provider=self.azure_provider, protect=protect),
        )
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            network.VirtualNetworkInitArgs(
                resource_group_name=self.resource_group.name,
                location=region,
                address_space=network.AddressSpaceArgs(address_prefixes=[plan.network]),
                tags=labels,
            ),
            opts=self.child(provider=self.azure_provider, protect=protect),
        )
        self.subnet = network.Subnet(
            f"{name}-nodes",
            network.SubnetInitArgs(
                resource_group_name=self.resource_group.name,
                virtual_network_name=self.vnet.name,
                address_prefix=plan.subnet(NODE_SUBNET_PREFIX, 0),
                # Egress goes through the cluster's load balancer, never Azure's implicit default.
                default_outbound_access=False,
            ),
            opts=self.child(provider=self.azure_provider, protect=protect),
        )
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            managedidentity.UserAssignedIdentityArgs(
                resource_group_name=self.resource_group.name, location=region, tags=labels
            ),
            opts=self.child(provider=self.azure_provider),
        )
        self.subnet_role = authorization.RoleAssignment(
            f"{name}-subnet-role",
            authorization.RoleAssignmentArgs(
                scope=self.subnet.id,
                role_definition_id=_role(client.subscription_id, NETWORK_CONTRIBUTOR),
                principal_id=self.identity.principal_id,
                principal_type="ServicePrincipal",
                description=f"AKS cluster {spec.name}: join and manage its node subnet",
            ),
            opts=self.child(provider=self.azure_provider),
        )

        private = not endpoint_spec.public
        self.cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            containerservice.ManagedClusterArgs(
                resource_group_name=self.resource_group.name,
                location=region,
                dns_prefix=spec.name,
                node_resource_group=self.resource_group.name.apply(node_resource_group),
                kubernetes_version=spec.kubernetes_version,
                sku=containerservice.ManagedClusterSKUArgs(
                    name="Base", tier="Standard" if resolved.environment == "prod" else "Free"
                ),
                identity=containerservice.ManagedClusterIdentityArgs(
                    type=containerservice.ResourceIdentityType.USER_ASSIGNED,
                    user_assigned_identities=[self.identity.id],
                ),
                agent_pool_profiles=[
                    containerservice.ManagedClusterAgentPoolProfileArgs(
                        name=system_name,
                        mode="System",
                        vm_size=system.machine_type,
                        os_type="Linux",
                        os_sku="AzureLinux",
                        type="VirtualMachineScaleSets",
                        enable_auto_scaling=True,
                        min_count=system.min,
                        max_count=system.max,
                        count=system.min,
                        availability_zones=zones,
                        vnet_subnet_id=self.subnet.id,
                        enable_node_public_ip=False,
                        tags=labels,
                    )
                ],
                enable_rbac=True,
                disable_local_accounts=True,
                aad_profile=containerservice.ManagedClusterAADProfileArgs(managed=True, enable_azure_rbac=True),
                api_server_access_profile=containerservice.ManagedClusterAPIServerAccessProfileArgs(
                    enable_private_cluster=True, enable_private_cluster_public_fqdn=False, private_dns_zone="system"
                )
                if private
                else containerservice.ManagedClusterAPIServerAccessProfileArgs(
                    enable_private_cluster=False, authorized_ip_ranges=list(endpoint_spec.allowed_cidrs)
                ),
                network_profile=network_profile(side, plan),
                oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
                security_profile=containerservice.ManagedClusterSecurityProfileArgs(
                    workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True)
                ),
                auto_upgrade_profile=containerservice.ManagedClusterAutoUpgradeProfileArgs(
                    upgrade_channel="patch", node_os_upgrade_channel="NodeImage"
                ),
                tags=labels,
            ),
            opts=self.child(
                provider=self.azure_provider,
                protect=protect,
                depends_on=[self.subnet_role],
                ignore_changes=["agentPoolProfiles[0].count"],
            ),
        )
        self.deployer_role = authorization.RoleAssignment(
            f"{name}-deployer-role",
            authorization.RoleAssignmentArgs(
                scope=self.cluster.id,
                role_definition_id=_role(client.subscription_id, AKS_RBAC_CLUSTER_ADMIN),
                principal_id=client.object_id,
                description=f"edgefleet: the identity running pulumi up manages cluster {spec.name}'s objects",
            ),
            opts=self.child(provider=self.azure_provider),
        )

        host = self.cluster.private_fqdn if private else self.cluster.fqdn
        endpoint = host.apply(lambda fqdn: f"https://{fqdn}")
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self.resource_group.name,
            resource_name=self.cluster.name,
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self, provider=self.azure_provider),
        )
        kubeconfig = pulumi.Output.all(endpoint, credentials).apply(lambda values: _kubeconfig(spec.name, values))
        # The CNI goes in once the control plane exists and the deployer may manage its objects,
        # before any AgentPool; the inline System pool's nodes wait NotReady for it.
        self.cni_releases = self.install_cni(resolved, kubeconfig, host, depends_on=[self.cluster, self.deployer_role])

        # AgentPoolArgs holds the cluster name as `resource_name`, which collides with the Pulumi
        # resource name in AgentPool's Python constructor (pulumi-azure-native#921, #1589): the
        # keyword form, type-checked through its overload, names it `resource_name_`.
        self.node_pools = [
            containerservice.AgentPool(
                f"{name}-pool-{pool.name}",
                opts=self.child(provider=self.azure_provider, ignore_changes=["count"], depends_on=self.cni_releases),
                resource_group_name=self.resource_group.name,
                resource_name_=self.cluster.name,
                agent_pool_name=aks_name,
                mode="User",
                vm_size=pool.machine_type,
                os_type="Linux",
                os_sku="AzureLinux",
                type="VirtualMachineScaleSets",
                enable_auto_scaling=True,
                min_count=pool.min,
                max_count=pool.max,
                count=pool.min,
                availability_zones=zones,
                vnet_subnet_id=self.subnet.id,
                enable_node_public_ip=False,
                tags=labels,
            )
            for pool, aks_name in zip(user, user_names, strict=True)
        ]

        self.workspace = operationalinsights.Workspace(
            f"{name}-logs",
            operationalinsights.WorkspaceArgs(
                resource_group_name=self.resource_group.name,
                location=region,
                sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                retention_in_days=LOG_RETENTION_DAYS,
                features=operationalinsights.WorkspaceFeaturesArgs(disable_local_auth=True),
                tags=labels,
            ),
            opts=self.child(provider=self.azure_provider, protect=protect),
        )
        self.audit_logs = monitor.DiagnosticSetting(
            f"{name}-audit",
            monitor.DiagnosticSettingArgs(
                resource_uri=self.cluster.id,
                workspace_id=self.workspace.id,
                log_analytics_destination_type="Dedicated",
                logs=[monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True) for c in AUDIT_LOG_CATEGORIES],
            ),
            opts=self.child(provider=self.azure_provider),
        )
        self.finish(
            kubeconfig, endpoint, depends_on=[self.cluster, *self.node_pools, self.deployer_role, *self.cni_releases]
        )

"""GKE (Standard and Autopilot) behind cluster contract v1, from pulumi-gcp's own resources.

What one cluster gets, all through an explicit ``gcp`` provider for the cluster's project and region:

- a custom-mode VPC (``compute.Network``), one VPC-native subnetwork (nodes in the first ``/20`` of the
  cluster's ``/17``, secondary ranges ``pods`` and ``services`` from the address plan, Private Google
  Access, flow logs) and a Cloud Router with Cloud NAT, because private nodes have no external IP;
- a dedicated node service account with ``roles/container.defaultNodeServiceAccount`` only: "at a
  minimum, these node service accounts must have" that role, GKE's least-privilege role for nodes
  (logs, metrics, autoscaler metrics;
  https://cloud.google.com/kubernetes-engine/security/configure-node-service-accounts).
  Pulling private images from Artifact Registry needs ``roles/artifactregistry.reader`` on that
  repository, granted where the repository is. Workloads get Google identities through Workload
  Identity Federation, never through the node's account;
- application-layer secrets encryption: a Cloud KMS key ring in the cluster's region (the key must be
  in the cluster's location), a key rotated every 90 days, and ``cryptoKeyEncrypterDecrypter`` on it
  for the GKE service agent ``service-<project number>@container-engine-robot.iam.gserviceaccount.com``
  (https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets); the cluster waits for
  that grant;
- the cluster: regional, private nodes, release channel REGULAR, Workload Identity, the dataplane of
  the cluster's CNI cell (below), Shielded Nodes, no legacy ABAC, no client certificate, control-plane
  and workload logs, GKE's own ``deletion_protection`` from ``protect``, and the fleet tags as
  ``resource_labels``, which GKE propagates to the nodes' VMs and disks;
- Standard: one ``container.NodePool`` per config pool (autoscaling totals across zones, COS with
  containerd, Secure Boot, the GKE metadata server, auto-repair and auto-upgrade); the default pool is
  removed after creation and is hardened like the others while it exists. Autopilot: no pools; the
  node service account goes in ``cluster_autoscaling.auto_provisioning_defaults``.

The CNI (``cni: {plugin, mode}``, one cell of ``components/cni/matrix.py``): GKE does not support
replacing its CNI, so no GKE cell installs anything and everything is a cluster argument. Standard:
``vendor`` and ``cilium`` (mode ``dataplane-v2``) are Dataplane V2, Google's managed Cilium
(``datapath_provider="ADVANCED_DATAPATH"``); ``calico`` (``policy-only``) is GKE's managed Calico
network policy on the legacy datapath, which needs both ``network_policy {enabled, provider=CALICO}``
(the nodes) and ``addons_config.network_policy_config.disabled=false`` (the control plane's add-on,
"defaults to disabled"; pulumi-gcp's ``ClusterAddonsConfigArgs``), and must not be combined with
Dataplane V2, which enforces policy itself. ``datapath_provider`` cannot change on a live cluster
(it forces a new one). Autopilot always runs Dataplane V2, so its cells set nothing: GKE reports
``ADVANCED_DATAPATH`` for ``datapath_provider`` anyway, and the provider rejects ``network_policy``
with ``enable_autopilot``.

API exposure (``endpoint`` in config): private (default) means the control plane has only its
internal endpoint (``enable_private_endpoint``), reachable from the cluster's VPC range; public means
the external endpoint limited to ``allowed_cidrs`` (master authorized networks), with Google Cloud's
public ranges not admitted. Either way nodes have internal addresses only. With a private endpoint,
``pulumi up`` (which installs workloads through the Kubernetes provider) must run from
inside the VPC or a network connected to it. Since GKE 1.29 the control plane connects through
Private Service Connect, so no ``master_ipv4_cidr_block`` is needed (hashicorp/terraform-provider-google
#20191, pulumi/pulumi-gcp#2806).

The kubeconfig authenticates with ``gke-gcloud-auth-plugin`` (install: ``gcloud components install
gke-gcloud-auth-plugin``), which reads the gcloud/application-default credentials: no token is stored.

Prerequisites in the project (not managed here, since several clusters may share one project): the
``container``, ``compute`` and ``cloudkms`` APIs enabled, so that the GKE service agent exists.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_gcp import compute, container, kms, organizations, projects, serviceaccount
from pulumi_gcp.provider import Provider, ProviderArgs

from edgefleet.components.args import GkeClusterArgs
from edgefleet.components.clusters.common import CloudCluster, exec_kubeconfig, gcp_labels, network_of, resolved_args
from edgefleet.components.cni import matrix
from edgefleet.components.config.model import Cluster, NodePool, Vendor
from edgefleet.components.tokens import GKE_CLUSTER

TYPE = GKE_CLUSTER

RELEASE_CHANNEL = "REGULAR"
# Nodes in the first /20 of the cluster's /17 (4,096 addresses); the rest stays free for later subnets.
NODE_SUBNET_PREFIX = 20
PODS_RANGE, SERVICES_RANGE = "pods", "services"
# VPC flow logs for the node subnetwork: half of the flows, a trade-off between visibility and log cost.
FLOW_SAMPLING = 0.5
# Least privilege for node service accounts, as GKE documents it (see the module docstring).
NODE_ROLES = ("roles/container.defaultNodeServiceAccount",)
# With a dedicated service account, IAM decides what nodes may do; the scope only must not narrow it.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
KMS_ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
KEY_ROTATION_PERIOD = "7776000s"  # 90 days
LOG_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS")
NODE_IMAGE = "COS_CONTAINERD"
DATAPLANE_V2 = "ADVANCED_DATAPATH"
CALICO = "CALICO"
EXEC_COMMAND = "gke-gcloud-auth-plugin"
INSTALL_HINT = (
    "gke-gcloud-auth-plugin is required: gcloud components install gke-gcloud-auth-plugin "
    "(https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin)"
)


def node_account_id(cluster_name: str) -> str:
    """The node service account's id: ``gke-<name prefix>-<6 hex of the name>``.

    Service account ids are 6-30 characters, start with a letter and end with a letter or digit;
    cluster names are up to 40 characters and may start with a digit, hence the prefix and the hash.
    """
    digest = hashlib.sha256(cluster_name.encode()).hexdigest()[:6]
    return f"gke-{cluster_name[:17].rstrip('-')}-{digest}"


def service_agent(project_number: str) -> str:
    """The GKE service agent of a project, as an IAM member."""
    return f"serviceAccount:service-{project_number}@container-engine-robot.iam.gserviceaccount.com"


def workload_pool(project: str) -> str:
    """The Workload Identity pool of a project."""
    return f"{project}.svc.id.goog"


def kubeconfig_name(project: str, region: str, name: str) -> str:
    """The context name ``gcloud container clusters get-credentials`` would write."""
    return f"gke_{project}_{region}_{name}"


@dataclass(frozen=True)
class PoolLayout:
    """Where a node pool's nodes go and how many each zone starts with."""

    zones: tuple[str, ...]
    initial_per_zone: int


def pool_layout(pool: NodePool, zones: Sequence[str]) -> PoolLayout:
    """Zones and initial size per zone, so the first nodes already respect ``min`` and ``max``.

    GKE creates ``initial_node_count`` nodes in every zone of the pool, while autoscaling is given as
    totals over all zones. Use as many of the region's zones as possible (availability) such that
    ``initial * zones`` fits in ``max``; with no zones known, GKE's default node locations apply and
    each starts with one node.
    """
    if not zones:
        return PoolLayout(zones=(), initial_per_zone=1)
    count = min(len(zones), pool.max)
    while count > 1 and max(1, math.ceil(pool.min / count)) * count > pool.max:
        count -= 1
    return PoolLayout(zones=tuple(zones[:count]), initial_per_zone=max(1, math.ceil(pool.min / count)))


def authorized_networks(cluster: Cluster) -> list[container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs]:
    """Who may reach the API server: ``allowed_cidrs`` when public, else the cluster's own VPC range."""
    endpoint = cluster.spec.endpoint
    if endpoint.public:
        return [
            container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr, display_name=f"allowed-{i}")
            for i, cidr in enumerate(endpoint.allowed_cidrs)
        ]
    return [
        container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
            cidr_block=network_of(cluster).network, display_name="cluster-vpc"
        )
    ]


def gke_side(cluster: Cluster) -> matrix.GkeSide:
    """The GKE settings of ``cluster``'s CNI cell (datapath, Calico add-on).

    Refuses what the component cannot build rather than building something else: a cell that would
    install a chart (GKE does not support replacing its CNI), Calico together with Dataplane V2, and
    on Autopilot anything but Dataplane V2 (always on there)."""
    autopilot = cluster.spec.autopilot
    cell = matrix.resolve(cluster.vendor, cluster.cni.plugin, cluster.cni.mode, autopilot=autopilot)
    what = f"the {cell.plugin.value}/{cell.mode} CNI cell of {cluster.name!r}"
    side = cell.cluster
    if not isinstance(side, matrix.GkeSide):
        raise ValueError(f"{what} has no GKE settings")
    if cell.installs:
        raise ValueError(f"{what} installs Helm charts, but GKE does not support replacing its CNI")
    if side.calico_network_policy and side.datapath_provider == DATAPLANE_V2:
        raise ValueError(f"{what} combines the Calico network policy add-on with Dataplane V2")
    if autopilot and (side.datapath_provider != DATAPLANE_V2 or side.calico_network_policy):
        raise ValueError(f"{what} is not Dataplane V2, the only dataplane GKE Autopilot runs")
    return side


def _project(cluster: Cluster) -> str:
    if cluster.project is None:
        raise ValueError(f"cluster {cluster.name!r} has no GCP project; build it from parse_fleet's FleetSpec")
    return cluster.project


class GkeCluster(CloudCluster):
    """A GKE cluster (Standard, or Autopilot with ``autopilot: true``); contract v1.

    ``gke`` is the ``container.Cluster`` (the escape hatch), ``node_pools`` the Standard pools by
    config name (empty on Autopilot), ``node_service_account`` the nodes' identity.
    """

    kubeconfig: pulumi.Output[str]
    """The cluster's kubeconfig (secret). Its user runs the vendor's CLI for a token; nothing stored."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = resolved_args(Vendor.GCP, name, args, "GkeCluster")  # before any resource
        # Set as the cluster is built (not class annotations: those are the schema's outputs).
        self.gke: container.Cluster
        self.node_pools: dict[str, container.NodePool]
        self.node_service_account: serviceaccount.Account
        side = gke_side(resolved.cluster)  # before any resource: an impossible cell creates nothing
        super().__init__(TYPE, name, resolved, opts)
        spec = resolved.cluster
        project = _project(spec)
        region = spec.region
        labels = gcp_labels(resolved)
        protect = spec.protect
        autopilot = spec.spec.autopilot
        plan = network_of(spec)

        gcp = Provider(
            f"{name}-gcp",
            ProviderArgs(project=project, region=region),
            opts=pulumi.ResourceOptions(parent=self),
        )

        # --- network: custom-mode VPC, VPC-native subnetwork, Cloud NAT for the private nodes
        vpc = compute.Network(
            f"{name}-vpc",
            compute.NetworkArgs(
                project=project,
                auto_create_subnetworks=False,
                routing_mode="REGIONAL",
                description=f"edgefleet cluster {spec.name}",
            ),
            opts=self.child(provider=gcp, protect=protect),
        )
        subnet = compute.Subnetwork(
            f"{name}-subnet",
            compute.SubnetworkArgs(
                project=project,
                region=region,
                network=vpc.id,
                ip_cidr_range=plan.subnet(NODE_SUBNET_PREFIX, 0),
                secondary_ip_ranges=[
                    compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE, ip_cidr_range=plan.pods),
                    compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE, ip_cidr_range=plan.services),
                ],
                private_ip_google_access=True,
                log_config=compute.SubnetworkLogConfigArgs(
                    aggregation_interval="INTERVAL_5_SEC", flow_sampling=FLOW_SAMPLING, metadata="INCLUDE_ALL_METADATA"
                ),
                description=f"nodes of edgefleet cluster {spec.name}",
            ),
            opts=self.child(provider=gcp, protect=protect),
        )
        router = compute.Router(
            f"{name}-router",
            compute.RouterArgs(project=project, region=region, network=vpc.id),
            opts=self.child(provider=gcp),
        )
        compute.RouterNat(
            f"{name}-nat",
            compute.RouterNatArgs(
                project=project,
                region=region,
                router=router.name,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                subnetworks=[
                    compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
                ],
                log_config=compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            ),
            opts=self.child(provider=gcp),
        )

        # --- node identity: a dedicated service account with the node role only
        account = serviceaccount.Account(
            f"{name}-nodes",
            serviceaccount.AccountArgs(
                project=project,
                account_id=node_account_id(spec.name),
                display_name=f"GKE nodes of edgefleet cluster {spec.name}",
                description="Node service account: roles/container.defaultNodeServiceAccount only",
            ),
            opts=self.child(provider=gcp),
        )
        node_grants = [
            projects.IAMMember(
                f"{name}-nodes-{role.rsplit('/', 1)[-1].replace('.', '-').lower()}",
                projects.IAMMemberArgs(project=project, role=role, member=account.member),
                opts=self.child(provider=gcp),
            )
            for role in NODE_ROLES
        ]

        # --- secrets encryption: a regional KMS key the GKE service agent may use
        key_ring = kms.KeyRing(
            f"{name}-keyring",
            kms.KeyRingArgs(project=project, location=region),
            opts=self.child(provider=gcp, protect=protect),
        )
        key = kms.CryptoKey(
            f"{name}-secrets",
            kms.CryptoKeyArgs(
                key_ring=key_ring.id,
                purpose="ENCRYPT_DECRYPT",
                rotation_period=KEY_ROTATION_PERIOD,
                labels=labels,
            ),
            opts=self.child(provider=gcp, protect=protect),
        )
        project_info = organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOutputOptions(provider=gcp, parent=self)
        )
        key_grant = kms.CryptoKeyIAMMember(
            f"{name}-secrets-gke",
            kms.CryptoKeyIAMMemberArgs(
                crypto_key_id=key.id,
                role=KMS_ENCRYPTER_DECRYPTER,
                member=project_info.number.apply(service_agent),
            ),
            opts=self.child(provider=gcp),
        )

        # --- the cluster
        public = spec.spec.endpoint.public
        common = container.ClusterArgs(
            name=spec.name,
            project=project,
            location=region,
            network=vpc.id,
            subnetwork=subnet.id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=PODS_RANGE, services_secondary_range_name=SERVICES_RANGE
            ),
            private_cluster_config=container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True, enable_private_endpoint=not public
            ),
            master_authorized_networks_config=container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=authorized_networks(spec), gcp_public_cidrs_access_enabled=False
            ),
            release_channel=container.ClusterReleaseChannelArgs(channel=RELEASE_CHANNEL),
            min_master_version=spec.kubernetes_version,
            workload_identity_config=container.ClusterWorkloadIdentityConfigArgs(workload_pool=workload_pool(project)),
            database_encryption=container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=key.id),
            enable_legacy_abac=False,
            master_auth=container.ClusterMasterAuthArgs(
                client_certificate_config=container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False
                )
            ),
            logging_config=container.ClusterLoggingConfigArgs(enable_components=list(LOG_COMPONENTS)),
            resource_labels=labels,
            deletion_protection=protect,
        )
        if autopilot:
            cluster_args = _autopilot(common, account)
            ignore: Sequence[str] = ()
        else:
            cluster_args = _standard(common, account, spec.zones, side)
            # The default pool is deleted once the cluster exists; what it was created with stays history.
            ignore = ("nodeConfig", "initialNodeCount")
        self.gke = container.Cluster(
            f"{name}-gke",
            cluster_args,
            opts=self.child(provider=gcp, protect=protect, depends_on=[key_grant, *node_grants], ignore_changes=ignore),
        )
        self.node_service_account = account

        self.node_pools = {}
        for pool in spec.node_pools:
            layout = pool_layout(pool, spec.zones)
            self.node_pools[pool.name] = container.NodePool(
                f"{name}-{pool.name}",
                container.NodePoolArgs(
                    name=pool.name,
                    project=project,
                    location=region,
                    cluster=self.gke.name,
                    node_locations=list(layout.zones) or None,
                    initial_node_count=layout.initial_per_zone,
                    autoscaling=container.NodePoolAutoscalingArgs(
                        total_min_node_count=pool.min, total_max_node_count=pool.max, location_policy="BALANCED"
                    ),
                    management=container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
                    upgrade_settings=container.NodePoolUpgradeSettingsArgs(max_surge=1, max_unavailable=0),
                    network_config=container.NodePoolNetworkConfigArgs(enable_private_nodes=True),
                    node_config=_node_config(pool.machine_type, account),
                ),
                # initial_node_count forces a new pool if changed; after creation the autoscaler owns the size.
                opts=self.child(provider=gcp, depends_on=node_grants, ignore_changes=["initialNodeCount"]),
            )

        endpoint = self.gke.endpoint.apply(lambda host: f"https://{host}")
        ca_data = self.gke.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
        context = kubeconfig_name(project, region, spec.name)
        kubeconfig = pulumi.Output.all(endpoint, ca_data).apply(
            lambda values: exec_kubeconfig(
                context,
                server=values[0],
                ca_data=values[1],
                command=EXEC_COMMAND,
                args=[],
                install_hint=INSTALL_HINT,
            )
        )
        self.finish(kubeconfig, endpoint, depends_on=list(self.node_pools.values()) or [self.gke])


def _node_config(machine_type: str, account: serviceaccount.Account) -> container.NodePoolNodeConfigArgs:
    """A hardened node: dedicated identity, GKE metadata server, Shielded VM with Secure Boot, COS.

    No ``resource_labels``: GKE propagates the cluster's ``resource_labels`` to the nodes' Compute
    Engine resources (https://cloud.google.com/kubernetes-engine/docs/how-to/creating-managing-labels
    #label_propagation), so the fleet tags are set in one place and a tag change touches no node pool."""
    return container.NodePoolNodeConfigArgs(
        machine_type=machine_type,
        image_type=NODE_IMAGE,
        service_account=account.email,
        oauth_scopes=[CLOUD_PLATFORM_SCOPE],
        workload_metadata_config=container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
        shielded_instance_config=container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        metadata={"disable-legacy-endpoints": "true"},
    )


def _standard(
    common: container.ClusterArgs, account: serviceaccount.Account, zones: Sequence[str], side: matrix.GkeSide
) -> container.ClusterArgs:
    """Standard: the CNI cell's dataplane, Shielded Nodes, the default pool removed (and hardened while
    it lives)."""
    common.node_locations = list(zones) or None
    common.datapath_provider = side.datapath_provider
    if side.calico_network_policy:
        # Both halves: the nodes' enforcement and the control plane's add-on (off unless stated).
        common.network_policy = container.ClusterNetworkPolicyArgs(enabled=True, provider=CALICO)
        common.addons_config = container.ClusterAddonsConfigArgs(
            network_policy_config=container.ClusterAddonsConfigNetworkPolicyConfigArgs(disabled=False)
        )
    common.enable_shielded_nodes = True
    common.remove_default_node_pool = True
    common.initial_node_count = 1
    common.node_config = container.ClusterNodeConfigArgs(
        image_type=NODE_IMAGE,
        service_account=account.email,
        oauth_scopes=[CLOUD_PLATFORM_SCOPE],
        workload_metadata_config=container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
        shielded_instance_config=container.ClusterNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        metadata={"disable-legacy-endpoints": "true"},
    )
    return common


def _autopilot(common: container.ClusterArgs, account: serviceaccount.Account) -> container.ClusterArgs:
    """Autopilot: GKE runs the nodes (Dataplane V2, whatever the CNI cell, Shielded Nodes, the GKE
    metadata server are always on); only their service account is ours. The provider's schema rejects ``node_pool``,
    ``remove_default_node_pool``, ``enable_shielded_nodes``, ``network_policy``,
    ``default_max_pods_per_node`` and ``cluster_autoscaling.enabled`` together with ``enable_autopilot``
    (terraform-provider-google, resource_container_cluster.go)."""
    common.enable_autopilot = True
    common.cluster_autoscaling = container.ClusterClusterAutoscalingArgs(
        auto_provisioning_defaults=container.ClusterClusterAutoscalingAutoProvisioningDefaultsArgs(
            service_account=account.email, oauth_scopes=[CLOUD_PLATFORM_SCOPE]
        )
    )
    return common

"""LKE (Akamai Cloud / Linode Kubernetes Engine), standard tier, from pulumi-linode 6.8's primitives.

What gets created per cluster: an explicit ``linode.Provider`` (the Linode provider has no region;
its token comes from ``LINODE_TOKEN`` or ``~/.config/linode`` at deploy time) and one
``linode.LkeCluster`` with the node pools inline, then the Kubernetes provider (``CloudCluster.finish``).

Choices, and why (sources are the provider's own schema and docs unless stated):

- API exposure. An LKE API server is always public; the control plane ACL is what restricts it.
  ``controlPlane.acl.enabled`` is always true (default DENY) and the allowed addresses are exactly
  the config's ``endpoint.allowed_cidrs``, split into ``ipv4s``/``ipv6s`` (the parser requires
  ``public: true`` with ``allowed_cidrs`` for LKE). Akamai: "When enabled, the default policy is to
  DENY incoming traffic unless it originates from one of the allowed IP addresses", on every
  cluster at no charge (https://techdocs.akamai.com/cloud-computing/docs/control-plane-acls).
  Whatever runs ``pulumi up`` must be inside ``allowed_cidrs`` too: the Kubernetes provider uses
  this endpoint.
- High availability. ``controlPlane.highAvailability`` is on in ``environment: prod`` (replicated
  control plane components, billed; turning it on later is allowed, turning it off is not:
  "This is an **irreversible** change").
- Tier. Not set, so the cluster is ``standard`` (terraform-provider-linode ``linode/lke/resource.go``:
  "tier is not set (defaults to standard)"). ``tier`` is a beta API field ("Call the URL with the
  ``apiVersion`` path parameter set to ``v4beta``", https://techdocs.akamai.com/linode-api/reference/post-lke-cluster)
  and the provider refuses it otherwise (``SDKv2ValidateFieldRequiresAPIVersion(APIVersionV4Beta,
  "tier")``), so the provider is pinned to the GA API ``v4`` instead, independent of ``LINODE_API_VERSION``.
- No VPC. ``vpc_id``, ``subnet_id`` and ``stack_type`` are "__Beta__, __LKE Enterprise__ ... can
  only be used with accounts that have been enrolled in the LKE Enterprise LA" (same API reference);
  control-plane audit logs (``auditLogsEnabled``) came with them in "Support LKE-E phase 2: Bring
  Your Own VPC, Dual Stack Cluster, Audit Log Enabling" (terraform-provider-linode 5f72324) and
  Kubernetes API audit logs are delivered "from LKE Enterprise clusters"
  (https://techdocs.akamai.com/cloud-computing/docs/quick-start-kubernetes-audit-logs). A standard
  cluster's pods and services use LKE's fixed 10.2.0.0/16 and 10.128.0.0/16 (which
  ``components/config/addressing.py`` never hands out), so the cluster's address plan is unused.
- Nodes are Linodes with public IPv4 addresses; LKE has no private-node option. A node pool's
  ``firewall_id`` is an LKE Enterprise feature (added for LKE-E: linode/manager#12712; on a standard
  cluster the firewall is not attached: terraform-provider-linode#2294, open), so no Cloud Firewall
  is created here. Akamai's answer for standard clusters is the in-cluster cloud-firewall-controller
  (https://github.com/linode/cloud-firewall-controller), which keeps every node, autoscaled ones
  included, in one firewall with the rules LKE needs (kubelet 10250/10256, WireGuard 51820, BGP 179,
  DNS 53 from 192.168.128.0/17; NodePorts from NodeBalancers' 192.168.255.0/24;
  https://techdocs.akamai.com/cloud-computing/docs/lke-network-firewall-details).
- Node pools. ``type`` is the resolved machine type and ``label`` the pool name. A pool whose
  ``max`` exceeds its ``min`` gets the LKE autoscaler and no ``count`` ("If undefined with an
  autoscaler the initial node count will equal the autoscaler minimum"), so a later run never
  resizes the pool back against the autoscaler; a fixed pool gets ``count``. LKE needs at least one
  node per pool (``count``: ``IntAtLeast(1)``), so a ``min`` of 0 becomes 1. Local disk encryption
  (``disk_encryption``) is left to the account default: it is a per-region capability, not in every
  region (linode/linode-cli#677), and changing it replaces the pool.
- LKE's limits are config errors, reported by ``parse_fleet`` with the config path before any
  program runs, so this module never checks them: the label (the cluster name) is 3-32 characters
  and a pool autoscales up to 100 nodes (Cloud Manager's validation of the API, linode/manager
  ``packages/validation/src/kubernetes.schema.ts``), and every tag is 3-50 characters (the API
  answers "Length must be 3-50 characters").
- Tags. ``tag_list``: ``key:value`` strings on the cluster. The pools carry no fleet tags: pool
  tags are nested in the cluster's inputs and serve the provider to match pools, and a fleet tag
  change must change nothing but the cluster's ``tags``.
- kubeconfig. LKE has no exec credential plugin: the cluster's ``kubeconfig`` output is a base64
  kubeconfig with a bearer token (user ``lke<id>-admin``). It is decoded inside an ``apply`` and
  stays secret; ``endpoint`` is the first of ``api_endpoints`` (the ``https://...linodelke.net:443``
  name the kubeconfig uses). Rotate the token with the API's "Regenerate a Kubernetes cluster"
  (``POST /v4/lke/clusters/{id}/regenerate``); the next refresh reads the new kubeconfig.
- Deletion. ``protect`` on the cluster (prod by default); LKE has no deletion-protection flag.
"""

import base64
import ipaddress
from collections.abc import Sequence

import pulumi
import pulumi_linode as linode

from edgefleet.components.args import LkeClusterArgs
from edgefleet.components.clusters.common import CloudCluster, resolved_args, tag_list
from edgefleet.components.config.model import Cluster, NodePool, Vendor
from edgefleet.components.tokens import LKE_CLUSTER

TYPE = LKE_CLUSTER
# The Linode API version the provider speaks: GA, not `v4beta` (see the module docstring).
API_VERSION = "v4"


def acl_addresses(cidrs: Sequence[str]) -> linode.LkeClusterControlPlaneAclAddressArgs:
    """``allowed_cidrs`` as one ACL address block, IPv4 and IPv6 apart (each ``None`` when empty)."""
    v4 = [c for c in cidrs if ipaddress.ip_network(c).version == 4]
    v6 = [c for c in cidrs if ipaddress.ip_network(c).version == 6]
    return linode.LkeClusterControlPlaneAclAddressArgs(ipv4s=v4 or None, ipv6s=v6 or None)


def pool_args(pool: NodePool) -> linode.LkeClusterPoolArgs:
    """One node pool: the autoscaler for a range (no ``count``), else a fixed ``count``.

    LKE needs a node per pool, so a ``min`` of 0 becomes 1. ``parse_fleet`` guarantees
    ``1 <= max <= 100`` (the LKE autoscaler's bound) and ``min <= max``."""
    low = max(pool.min, 1)
    if pool.max > low:
        return linode.LkeClusterPoolArgs(
            type=pool.machine_type,
            label=pool.name,
            autoscaler=linode.LkeClusterPoolAutoscalerArgs(min=low, max=pool.max),
        )
    return linode.LkeClusterPoolArgs(type=pool.machine_type, label=pool.name, count=low)


def kubernetes_version(cluster: Cluster) -> str:
    """LKE takes ``major.minor`` and deploys its latest patch; the config always resolves one."""
    if cluster.kubernetes_version is None:
        raise ValueError(f"cluster {cluster.name!r} has no Kubernetes version; build it from parse_fleet's FleetSpec")
    return cluster.kubernetes_version


def decode_kubeconfig(encoded: str) -> str:
    """The kubeconfig text from LKE's base64 ``kubeconfig`` output."""
    return base64.b64decode(encoded).decode()


class LkeCluster(CloudCluster):
    """An LKE cluster (standard tier) with its node pools; contract v1."""

    kubeconfig: pulumi.Output[str]
    """The cluster's kubeconfig (secret). Its user runs the vendor's CLI for a token; nothing stored."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""

    def __init__(self, name: str, args: LkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = resolved_args(Vendor.LINODE, name, args, "LkeCluster")  # before any resource
        super().__init__(TYPE, name, resolved, opts)
        spec = resolved.cluster
        self.linode_provider = linode.Provider(
            f"{name}-linode",
            linode.ProviderArgs(api_version=API_VERSION),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.lke = linode.LkeCluster(
            f"{name}-lke",
            linode.LkeClusterArgs(
                # parse_fleet guarantees the name fits LKE's 3-32 character label and the tags
                # Linode's 3-50 characters.
                label=spec.name,
                region=spec.region,
                k8s_version=kubernetes_version(spec),
                tags=tag_list(resolved),
                control_plane=linode.LkeClusterControlPlaneArgs(
                    high_availability=resolved.environment == "prod",
                    acl=linode.LkeClusterControlPlaneAclArgs(
                        enabled=True,
                        addresses=[acl_addresses(spec.spec.endpoint.allowed_cidrs)],
                    ),
                ),
                pools=[pool_args(pool) for pool in spec.node_pools],
            ),
            opts=self.child(provider=self.linode_provider, protect=spec.protect),
        )
        # Secret as it comes (the SDK declares `kubeconfig` a secret output) and after decoding.
        decoded: pulumi.Output[str] = self.lke.kubeconfig.apply(decode_kubeconfig)
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(decoded)
        endpoint = self.lke.api_endpoints.apply(lambda endpoints: endpoints[0])
        self.finish(kubeconfig, endpoint, depends_on=[self.lke])

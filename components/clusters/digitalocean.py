"""DigitalOcean Kubernetes (DOKS) behind cluster contract v1, from pulumi-digitalocean primitives.

Per cluster: an explicit ``digitalocean.Provider`` (DigitalOcean providers have no region; the
token comes from ``DIGITALOCEAN_TOKEN``/``DIGITALOCEAN_ACCESS_TOKEN`` where ``pulumi up`` runs),
a ``Vpc`` on the cluster's address block, the ``KubernetesCluster`` with the first configured node
pool inline (DOKS requires one), and a ``KubernetesNodePool`` per further pool.

Facts the choices rest on (pulumi-digitalocean 4.84.1 docstrings; terraform-provider-digitalocean,
which it bridges; doctl; the DigitalOcean API and VPC docs):

- The API server is always public; the control-plane firewall limits it to ``endpoint.allowed_cidrs``
  (the config parser requires ``public: true`` with CIDRs for DigitalOcean). Whatever runs
  ``pulumi up`` must be inside those CIDRs, since the Kubernetes provider talks to the API.
- ``version`` is a slug such as "1.35.1-do.0". The API also takes a minor ("1.35") on create but
  stores the slug, and the provider replaces a cluster whose ``version`` goes down, so the slug
  comes from ``getKubernetesVersions(version_prefix="<minor>.")``: the provider docs' way to pin a
  minor with ``auto_upgrade`` without a diff after each patch upgrade.
- A VPC range must be RFC 1918 and between /16 and /24 (and not overlap another VPC of the
  account): the cluster's /17 from ``10.0.0.0/8`` qualifies, and the address plan never hands out
  the ranges DOKS reserves (10.244.0.0/16, 10.245.0.0/16, 10.246.0.0/24).
- ``cluster_subnet``/``service_subnet`` stay unset, so pods and Services use DOKS' overlay defaults
  (10.244.0.0/16, 10.245.0.0/16). Setting them makes the cluster VPC-native: DigitalOcean then
  creates the pod range as a VPC network of the account (API error "creating vpc pod subnet
  overlay: This range/size overlaps with another VPC network in your account"; doctl: "VPC-native
  CIDR blocks cannot overlap within an account"), and VPC networks are RFC 1918 only, which the
  plan's pod range in 100.64.0.0/10 (RFC 6598) is not. No DigitalOcean page says so for pod
  ranges in as many words, so this is left off rather than guessed.
- Tags may hold only letters, digits, ``:``, ``-`` and ``_``, at most 255 characters
  (the provider's tag validation); node pools also get the fleet tags as node labels.
- Autoscaling pools need ``min_nodes`` of at least 1 (scale-to-zero is a private preview):
  ``parse_fleet`` reports a DOKS pool with ``min`` 0 as a config error, and gives a cluster without
  ``node_pools`` its default pool, so every pool's ``min`` is used as it is.
- The inline pool's ``size`` is ForceNew in the provider schema, so changing the first pool's
  machine type replaces the cluster (``protect`` stops that in prod); further pools are replaced alone.
- kubeconfig: exec auth through ``doctl kubernetes cluster kubeconfig exec-credential
  --version=v1beta1 <cluster id>`` (what ``doctl kubernetes cluster kubeconfig save`` writes and
  the provider docs recommend), so the 7-day token in ``kube_configs[0].raw_config`` is not used.
"""

import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_digitalocean as digitalocean

from edgefleet.components.args import DoksClusterArgs
from edgefleet.components.clusters.common import (
    CloudCluster,
    exec_kubeconfig,
    network_of,
    protected,
    resolved_args,
    tag_list,
    tags,
)
from edgefleet.components.config.model import Vendor
from edgefleet.components.contract import ClusterArgs
from edgefleet.components.tokens import DOKS_CLUSTER

TYPE = DOKS_CLUSTER

# Patch upgrades (auto_upgrade) happen in this weekly window, UTC.
MAINTENANCE_DAY = "sunday"
MAINTENANCE_START = "03:00"

DOCTL = "doctl"
DOCTL_EXEC_ARGS = ("kubernetes", "cluster", "kubeconfig", "exec-credential", "--version=v1beta1")
INSTALL_HINT = (
    "doctl authenticates to DOKS: install it (https://docs.digitalocean.com/reference/doctl/how-to/install/) "
    "and run `doctl auth init` or set DIGITALOCEAN_ACCESS_TOKEN"
)

_NOT_IN_TAG = re.compile(r"[^A-Za-z0-9:_-]")
_TAG_MAX = 255


def do_tags(args: ClusterArgs) -> list[str]:
    """``tag_list`` as DigitalOcean accepts it: characters outside ``[A-Za-z0-9:_-]`` (e.g. the
    ``.`` an owner may contain) become ``_``, and each tag is cut at 255 characters."""
    return [_NOT_IN_TAG.sub("_", tag)[:_TAG_MAX] for tag in tag_list(args)]


def _kubeconfig(name: str, values: Sequence[Any]) -> str:
    cluster_id, endpoint, ca_data = values
    return exec_kubeconfig(
        name,
        server=str(endpoint),
        ca_data=str(ca_data),
        command=DOCTL,
        args=[*DOCTL_EXEC_ARGS, str(cluster_id)],
        install_hint=INSTALL_HINT,
    )


class DoksCluster(CloudCluster):
    """A DOKS cluster with its own VPC; contract v1."""

    kubeconfig: pulumi.Output[str]
    """The cluster's kubeconfig (secret). Its user runs the vendor's CLI for a token; nothing stored."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""

    def __init__(self, name: str, args: DoksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = resolved_args(Vendor.DIGITALOCEAN, name, args, "DoksCluster")  # before any resource
        super().__init__(TYPE, name, resolved, opts)
        spec = resolved.cluster
        network = network_of(spec)
        first, *rest = spec.node_pools  # parse_fleet gives every DOKS cluster at least one pool
        tag_strings = do_tags(resolved)
        # Node labels too: KubernetesNodePool takes `labels`, and every taggable input carries the fleet tags.
        node_labels = tags(resolved)
        protect = protected(resolved)

        self.do_provider = digitalocean.Provider(
            f"{name}-do", digitalocean.ProviderArgs(), opts=pulumi.ResourceOptions(parent=self)
        )
        self.vpc = digitalocean.Vpc(
            f"{name}-vpc",
            digitalocean.VpcArgs(
                region=spec.region,
                ip_range=network.network,
                name=f"{spec.name}-vpc",
                description=f"edgefleet {resolved.environment} cluster {spec.name} (owner {resolved.owner})",
            ),
            opts=self.child(provider=self.do_provider, protect=protect),
        )
        # The newest patch of the configured minor ("1.35." matches 1.35.x only, not 1.350).
        prefix = f"{spec.kubernetes_version}." if spec.kubernetes_version else None
        versions = digitalocean.get_kubernetes_versions_output(
            version_prefix=prefix, opts=pulumi.InvokeOutputOptions(parent=self, provider=self.do_provider)
        )
        self.cluster = digitalocean.KubernetesCluster(
            f"{name}-cluster",
            digitalocean.KubernetesClusterArgs(
                name=spec.name,
                region=spec.region,
                version=versions.latest_version,
                vpc_uuid=self.vpc.id,
                node_pool=digitalocean.KubernetesClusterNodePoolArgs(
                    name=first.name,
                    size=first.machine_type,
                    auto_scale=True,
                    min_nodes=first.min,
                    max_nodes=first.max,
                    tags=tag_strings,
                    labels=node_labels,
                ),
                tags=tag_strings,
                auto_upgrade=True,
                surge_upgrade=True,
                # An HA control plane cannot be turned off again once on (provider docs).
                ha=resolved.environment == "prod",
                maintenance_policy=digitalocean.KubernetesClusterMaintenancePolicyArgs(
                    day=MAINTENANCE_DAY, start_time=MAINTENANCE_START
                ),
                control_plane_firewall=digitalocean.KubernetesClusterControlPlaneFirewallArgs(
                    enabled=True, allowed_addresses=list(spec.spec.endpoint.allowed_cidrs)
                ),
                registry_integration=False,
                # Load balancers and volumes made through Kubernetes outlive the cluster unless
                # deleted on purpose (they may hold data).
                destroy_all_associated_resources=False,
            ),
            opts=self.child(provider=self.do_provider, protect=protect),
        )
        self.node_pools = [
            digitalocean.KubernetesNodePool(
                f"{name}-pool-{pool.name}",
                digitalocean.KubernetesNodePoolArgs(
                    cluster_id=self.cluster.id,
                    name=pool.name,
                    size=pool.machine_type,
                    auto_scale=True,
                    min_nodes=pool.min,
                    max_nodes=pool.max,
                    tags=tag_strings,
                    labels=node_labels,
                ),
                opts=self.child(provider=self.do_provider),
            )
            for pool in rest
        ]
        ca_data = self.cluster.kube_configs.apply(
            lambda configs: (configs[0].cluster_ca_certificate or "") if configs else ""
        )
        kubeconfig = pulumi.Output.all(self.cluster.id, self.cluster.endpoint, ca_data).apply(
            lambda values: _kubeconfig(spec.name, values)
        )
        self.finish(kubeconfig, self.cluster.endpoint, depends_on=[self.cluster, *self.node_pools])

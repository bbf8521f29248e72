"""What every cloud cluster component shares: contract members, tags, kubeconfigs, options.

Vendor modules import this and the contract, never each other. Nothing here registers a resource
except ``CloudCluster.finish`` (the Kubernetes provider every cluster builds from its kubeconfig).
"""

import json
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from edgefleet.components.cni.install import installer_for
from edgefleet.components.config.model import Cluster, CniInfo, NetworkPlan, ResolvedLocation, Vendor
from edgefleet.components.contract import ClusterArgs, cluster_facts, cluster_options
from edgefleet.components.resolve import cluster_from_args, cluster_labels
from edgefleet.components.tokens import aliased

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def tags(args: ClusterArgs) -> dict[str, str]:
    """``owner``, ``environment``, ``edgefleet-cluster`` and the user's ``tags``, sorted by key.
    The three edgefleet keys win over a user tag of the same name."""
    out = dict(args.tags)
    out.update({"owner": args.owner, "environment": args.environment, "edgefleet-cluster": args.cluster.name})
    return dict(sorted(out.items()))


def gcp_labels(args: ClusterArgs) -> dict[str, str]:
    """``tags`` as GCP labels: lower-case letters, digits, ``_`` and ``-``, at most 63 characters."""
    return {_gcp_label(k): _gcp_label(v) for k, v in tags(args).items()}


def _gcp_label(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]


def tag_list(args: ClusterArgs) -> list[str]:
    """``tags`` as ``key:value`` strings (Linode, DigitalOcean), in key order."""
    return [f"{k}:{v}" for k, v in tags(args).items()]


def protected(args: ClusterArgs) -> bool:
    """Whether control planes and networks get ``protect=True`` (prod by default; ``protect``)."""
    return args.cluster.protect


def network_of(cluster: Cluster) -> NetworkPlan:
    """A cloud cluster's address plan (``parse_fleet`` gives every cloud cluster one)."""
    if cluster.network is None:
        raise ValueError(f"cluster {cluster.name!r} has no address plan; build it from parse_fleet's FleetSpec")
    return cluster.network


def exec_kubeconfig(
    name: str,
    *,
    server: str,
    ca_data: str,
    command: str,
    args: Sequence[str],
    install_hint: str,
    env: Mapping[str, str] | None = None,
) -> str:
    """A kubeconfig whose user authenticates through an exec plugin (no stored credential).

    ``ca_data`` is the base64 PEM the vendor reports. JSON is valid YAML, and ``sort_keys`` keeps
    the text identical for identical inputs.
    """
    user: dict[str, object] = {
        "apiVersion": EXEC_API_VERSION,
        "command": command,
        "args": list(args),
        "interactiveMode": "Never",
        "provideClusterInfo": False,
        "installHint": install_hint,
    }
    if env:
        user["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": name, "user": {"exec": user}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }
    return json.dumps(doc, indent=2, sort_keys=True)


def resolved_args(vendor: Vendor, name: str, args: object, component: str) -> ClusterArgs:
    """A cluster component's public args, validated and resolved (``components/resolve.py``),
    with its CNI's installer when edgefleet installs it; ``ArgsError`` before any resource."""
    cluster, fleet, kubeconfig = cluster_from_args(vendor, name, args, component)
    return ClusterArgs(
        cluster=cluster,
        owner=fleet.owner,
        environment=fleet.environment,
        tags=fleet.tags,
        kubeconfig=pulumi.Output.from_input(kubeconfig) if kubeconfig is not None else None,
        cni_installer=installer_for(cluster, cluster_labels(fleet.owner, fleet.environment, cluster.name)),
    )


class CloudCluster(pulumi.ComponentResource):
    """Base of the vendor components: sets the plain contract members at once, and ``finish``
    builds the Kubernetes provider and registers outputs last (contract v1).

    Only the outputs are annotated on the class (the component analyzer reads class annotations
    as the schema's outputs); the plain contract members are set in ``__init__``."""

    kubeconfig: pulumi.Output[str]
    """The cluster's kubeconfig (secret). Its user runs the vendor's CLI for a token; nothing stored."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""

    def __init__(self, type_: str, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None) -> None:
        spec = args.cluster
        super().__init__(type_, name, cluster_facts(spec), aliased(type_, cluster_options(opts)))
        self.resource_name = name
        self.name: str = spec.name
        self.vendor: str = spec.vendor.value
        self.region: str = spec.region
        self.location: ResolvedLocation = spec.location
        self.labels: Mapping[str, str] = dict(spec.labels)
        self.cni: CniInfo = spec.cni
        self.provider: k8s.Provider

    def child(
        self,
        *,
        provider: pulumi.ProviderResource | None = None,
        protect: bool = False,
        depends_on: Sequence[pulumi.Resource] = (),
        parent: pulumi.Resource | None = None,
        ignore_changes: Sequence[str] = (),
    ) -> pulumi.ResourceOptions:
        """Options for a child resource: parent (default: this component), explicit provider."""
        return pulumi.ResourceOptions(
            parent=parent or self,
            provider=provider,
            protect=protect,
            depends_on=list(depends_on) or None,
            ignore_changes=list(ignore_changes) or None,
        )

    def install_cni(
        self,
        args: ClusterArgs,
        kubeconfig: pulumi.Output[str],
        api_host: pulumi.Input[str],
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> list[pulumi.Resource]:
        """Install the cluster's CNI when edgefleet owns it (``cni.installs``), through a provider
        of its own (``<name>-k8s-cni``) that exists before any node: node pools must
        ``depends_on`` the returned releases. Returns ``[]`` when there is nothing to install."""
        if args.cni_installer is None or not self.cni.installs:
            return []
        provider = k8s.Provider(
            f"{self.resource_name}-k8s-cni",
            k8s.ProviderArgs(
                kubeconfig=pulumi.Output.secret(kubeconfig), enable_server_side_apply=True, delete_unreachable=False
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on) or None),
        )
        return list(args.cni_installer(provider, api_host, self, depends_on))

    def finish(
        self, kubeconfig: pulumi.Output[str], endpoint: pulumi.Output[str], depends_on: Sequence[pulumi.Resource] = ()
    ) -> None:
        """Set ``kubeconfig`` (secret), ``endpoint``, build ``provider`` from the kubeconfig, then
        ``register_outputs``. Call once, last. ``depends_on``: what must exist before anything
        uses the cluster (e.g. node groups)."""
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.endpoint = endpoint
        self.provider = k8s.Provider(
            f"{self.resource_name}-k8s",
            k8s.ProviderArgs(kubeconfig=self.kubeconfig, enable_server_side_apply=True, delete_unreachable=False),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on) or None),
        )
        self.register_outputs({"endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

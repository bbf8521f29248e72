"""The public components' arguments: TypedDicts Pulumi's component analyzer reads.

Every key is the fleet config's own name (``docs/fleet-config.md``), in snake_case here and
camelCase in the schema other languages see. Structural values (regions, node pools, versions)
are plain: they decide which resources exist, so they are validated before any resource is
registered, with the same rules and messages as the fleet config. What may be unknown until
deploy (a kubeconfig, an API server host, a secret value) is a ``pulumi.Input``.

No ``from __future__ import annotations`` here: the analyzer reads these annotations at run time.
"""

from typing import Any, NotRequired, TypedDict

import pulumi


class NodePoolArgs(TypedDict):
    """A node pool: ``size`` or the vendor's ``machine_type``, autoscaling ``min``..``max``."""

    name: str
    """The pool's name (a DNS label)."""
    size: NotRequired[str]
    """``small``, ``medium`` or ``large``: edgefleet picks the vendor's machine type."""
    machine_type: NotRequired[str]
    """The vendor's machine type (instead of ``size``)."""
    min: NotRequired[int]
    """The fewest nodes (default 1)."""
    max: NotRequired[int]
    """The most nodes (default 3)."""


class EndpointArgs(TypedDict, total=False):
    """The API server's exposure: private unless ``public`` with an explicit allow-list."""

    public: bool
    """Expose the API server publicly (needs ``allowed_cidrs``)."""
    allowed_cidrs: list[str]
    """The address ranges that may reach a public API server (never 0.0.0.0/0)."""


class CniArgs(TypedDict):
    """The cluster's CNI: the plugin, its mode, and whether it is already installed."""

    plugin: str
    """``cilium``, ``calico``, ``flannel`` or the vendor's own (``vpc-cni``, ``gke-dataplane-v2``, ...)."""
    mode: NotRequired[str]
    """The plugin's mode where it has several (``docs/cni.md``)."""
    installed: NotRequired[bool]
    """The CNI is already there (an existing cluster): install nothing."""
    hubble: NotRequired[bool]
    """Cilium: turn on Hubble (flow logs and drop metrics)."""
    pod_cidr: NotRequired[str]
    """Existing clusters edgefleet installs a CNI on: the pod range."""


class NetworkArgs(TypedDict):
    """Pin a cloud cluster's address block (rarely needed; see ``docs/fleet-config.md``)."""

    block: int
    """The block index: the VPC is the ``n``-th ``/17`` of ``10.0.0.0/8``, with its pod and service ranges."""


class LocationArgs(TypedDict):
    """Where an existing cluster is: ``city`` and ``country``, or ``lat``/``lon`` and ``country``."""

    country: str
    """ISO 3166-1 alpha-2 country code."""
    city: NotRequired[str]
    """A city of the country, from the world-cities data."""
    lat: NotRequired[float]
    """Latitude in degrees."""
    lon: NotRequired[float]
    """Longitude in degrees."""


class ClusterArgs(TypedDict):
    """What every cluster component takes: who owns it, and the cluster entry of the fleet config."""

    owner: str
    """The owning team: a tag and label on everything created."""
    environment: str
    """``dev``, ``staging``, ``prod``, ...: decides secure defaults (``protect`` in prod)."""
    tags: NotRequired[dict[str, str]]
    """Extra cloud tags on everything created."""
    name: NotRequired[str]
    """The cluster's name (default: the resource name)."""
    region: NotRequired[str]
    """The vendor's region id (``eu-central-1``, ``europe-west3``, ...)."""
    labels: NotRequired[dict[str, str]]
    """Labels placement selects clusters by."""
    cni: NotRequired[CniArgs]
    """The CNI (default: the vendor's recommended one, ``docs/cni.md``)."""
    kubernetes_version: NotRequired[str]
    """``1.33`` (default: the vendor's release channel)."""
    node_pools: NotRequired[list[NodePoolArgs]]
    """The node pools (default: one ``medium`` pool of 1 to 3 nodes)."""
    endpoint: NotRequired[EndpointArgs]
    """The API server's exposure (default: private)."""
    protect: NotRequired[bool]
    """``protect`` the control plane and network (default: in prod)."""
    network: NotRequired[NetworkArgs]
    """Pin the address block (default: derived from the name; pin one when two clusters' names collide)."""


# The analyzer documents a property from its own class's source only (not a base TypedDict's):
# the vendors share ClusterArgs itself, and GKE's adds its keys to a copy (a test keeps them equal).
EksClusterArgs = ClusterArgs
AksClusterArgs = ClusterArgs
LkeClusterArgs = ClusterArgs
DoksClusterArgs = ClusterArgs


class GkeClusterArgs(TypedDict):
    """A GKE cluster: ``ClusterArgs`` with the GCP project and Autopilot."""

    owner: str
    """The owning team: a tag and label on everything created."""
    environment: str
    """``dev``, ``staging``, ``prod``, ...: decides secure defaults (``protect`` in prod)."""
    tags: NotRequired[dict[str, str]]
    """Extra cloud tags on everything created."""
    name: NotRequired[str]
    """The cluster's name (default: the resource name)."""
    region: NotRequired[str]
    """The vendor's region id (``eu-central-1``, ``europe-west3``, ...)."""
    labels: NotRequired[dict[str, str]]
    """Labels placement selects clusters by."""
    cni: NotRequired[CniArgs]
    """The CNI (default: the vendor's recommended one, ``docs/cni.md``)."""
    kubernetes_version: NotRequired[str]
    """``1.33`` (default: the vendor's release channel)."""
    node_pools: NotRequired[list[NodePoolArgs]]
    """The node pools (default: one ``medium`` pool of 1 to 3 nodes)."""
    endpoint: NotRequired[EndpointArgs]
    """The API server's exposure (default: private)."""
    protect: NotRequired[bool]
    """``protect`` the control plane and network (default: in prod)."""
    network: NotRequired[NetworkArgs]
    """Pin the address block (default: derived from the name; pin one when two clusters' names collide)."""
    project: NotRequired[str]
    """The GCP project id (required: the stack's ``gcp:project`` is not read here)."""
    autopilot: NotRequired[bool]
    """An Autopilot cluster (no node pools; GKE Dataplane V2)."""


class ExistingClusterArgs(TypedDict):
    """A cluster edgefleet does not create (k3s in a shop, on-prem): where it is and how to reach it."""

    owner: str
    """The owning team: a label on everything created."""
    environment: str
    """``dev``, ``staging``, ``prod``, ..."""
    location: LocationArgs
    """Where the cluster is (placement measures distances from there)."""
    name: NotRequired[str]
    """The cluster's name (default: the resource name)."""
    region: NotRequired[str]
    """A region name of your own (default: derived from the location)."""
    labels: NotRequired[dict[str, str]]
    """Labels placement selects clusters by."""
    cni: NotRequired[CniArgs]
    """The CNI: ``installed: true`` for the one already there, else the one edgefleet installs."""
    kubeconfig: NotRequired[pulumi.Input[str]]
    """The cluster's kubeconfig (kept secret). Default: the ambient ``KUBECONFIG`` at deploy time."""
    context: NotRequired[str]
    """The kubeconfig context to use."""
    tags: NotRequired[dict[str, str]]
    """Unused by existing clusters (nothing is created in a cloud); accepted for symmetry."""


class CniInstallArgs(TypedDict):
    """Install a cluster's CNI (the Helm releases its vendor and plugin need, in order). The
    Kubernetes provider comes from the resource options (``provider=``), as for any component."""

    cluster: str
    """The cluster's name (Cilium's cluster name, a label on its objects)."""
    vendor: str
    """``aws``, ``gcp``, ``azure``, ``linode``, ``digitalocean`` or ``existing``."""
    plugin: str
    """``cilium``, ``calico`` or ``flannel`` (the ones edgefleet installs)."""
    pod_cidr: str
    """The cluster's pod range (IPv4 CIDR)."""
    mode: NotRequired[str]
    """The plugin's mode (default: the vendor's recommended one)."""
    hubble: NotRequired[bool]
    """Cilium: turn on Hubble."""
    autopilot: NotRequired[bool]
    """GKE Autopilot."""
    api_host: NotRequired[pulumi.Input[str]]
    """The API server's host name (Cilium's kube-proxy replacement needs it)."""
    labels: NotRequired[dict[str, str]]
    """Labels on the namespaces it creates."""


def without_none(value: dict[str, Any] | None) -> dict[str, Any]:
    """``value`` without its ``None`` entries (what another language's SDK sends for an unset key)."""
    return {k: v for k, v in (value or {}).items() if v is not None}


__all__ = [
    "AksClusterArgs",
    "ClusterArgs",
    "CniArgs",
    "CniInstallArgs",
    "DoksClusterArgs",
    "EksClusterArgs",
    "EndpointArgs",
    "ExistingClusterArgs",
    "GkeClusterArgs",
    "LkeClusterArgs",
    "LocationArgs",
    "NetworkArgs",
    "NodePoolArgs",
]

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
    """``1.35`` (default: a version each vendor supports; GKE: its release channel)."""
    node_pools: NotRequired[list[NodePoolArgs]]
    """The node pools (default: one ``small`` pool, ``general``, of 2 to 4 nodes)."""
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
    """``1.35`` (default: a version each vendor supports; GKE: its release channel)."""
    node_pools: NotRequired[list[NodePoolArgs]]
    """The node pools (default: one ``small`` pool, ``general``, of 2 to 4 nodes)."""
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


class PortArgs(TypedDict):
    """A named container port."""

    name: str
    """The port's name (an IANA service name)."""
    port: int
    """The port number."""
    protocol: NotRequired[str]
    """``TCP`` (default), ``UDP`` or ``SCTP``."""


class EmptyDirArgs(TypedDict, total=False):
    """A scratch directory."""

    size_limit: str
    """Its size limit (``64Mi``)."""
    medium: str
    """``Memory`` for a tmpfs."""


class VolumeArgs(TypedDict):
    """A volume: exactly one of ``empty_dir``, ``config_map`` (the workload's config files) or
    ``secret`` (its secret env values as files)."""

    name: str
    """The volume's name."""
    path: str
    """Where it is mounted."""
    empty_dir: NotRequired[EmptyDirArgs]
    """A scratch directory."""
    config_map: NotRequired[dict[str, str]]
    """``{}``: the workload's own ConfigMap (its ``config_files``)."""
    secret: NotRequired[dict[str, str]]
    """``{}``: the workload's own Secret (its ``secret_env``)."""


class ConfigFileArgs(TypedDict):
    """A file mounted into the workload's containers: its text, or a file inside the project."""

    path: str
    """Where it is mounted (absolute)."""
    content: NotRequired[str]
    """The text."""
    file: NotRequired[str]
    """A project-relative file to read the text from."""


class ResourcesArgs(TypedDict, total=False):
    """Per-pod requests, which are also the limits."""

    cpu: str
    """CPU (``100m`` default)."""
    memory: str
    """Memory (``128Mi`` default)."""


class HelmArgs(TypedDict):
    """A Helm chart rendered with ``helm template``."""

    chart: Any
    """A chart directory in the project (a string), or ``{repo, name, version}`` (an exact version)."""
    values: NotRequired[dict[str, Any]]
    """Values, over the values files."""
    values_files: NotRequired[list[str]]
    """Project-relative values files, in order."""


class OverrideArgs(TypedDict, total=False):
    """Settings for some locations: ``clusters`` or ``selector``, then what changes there."""

    clusters: list[str]
    """The clusters it applies to."""
    selector: dict[str, str]
    """The cluster labels it applies to."""
    image: str
    """The image there."""
    env: dict[str, str]
    """Environment variables merged over the workload's."""
    labels: dict[str, str]
    """Labels merged over the workload's."""
    values: dict[str, Any]
    """A Helm workload's values there, over its own."""


class PlacementArgs(TypedDict, total=False):
    """Where the workload may run (``docs/placement.md``). A component on one cluster checks it
    there (``residency``, ``requires``) and declares it to the policy pack (``min_vendors``)."""

    strategy: str
    """``everywhere`` (default), ``latency`` or ``spread``."""
    clusters: list[str]
    """The clusters it may run in."""
    min_locations: int
    """The fewest locations."""
    max_locations: int
    """The most locations."""
    must_include: list[str]
    """Clusters it always runs in."""
    must_exclude: list[str]
    """Clusters it never runs in."""
    residency: list[str]
    """Countries or regions (``EU``, ``DE``) its data may live in."""
    min_vendors: int
    """The fewest vendors across its locations."""
    selector: dict[str, str]
    """Cluster labels it may run on."""
    requires: list[str]
    """Capabilities its clusters need (``network-policy``, ...)."""
    demand: Any
    """Where its users are (``preset``, ``points``, ``traffic``, ``prometheus``)."""
    schedule: Any
    """Placement per time window."""
    rtt_matrix: str
    """A project file of measured RTT between locations (``edgefleet doctor --rtt-matrix``) that
    latency placement fits its model to."""


class RolloutArgs(TypedDict, total=False):
    """The order in which locations get a new version."""

    canary: list[str]
    """Clusters that go first."""
    waves: list[list[str]]
    """Clusters in waves, each after the one before is ready."""


class WorkloadArgs(TypedDict):
    """A workload, as a ``workloads[]`` entry of the fleet config (``docs/fleet-config.md``): one
    source (``image`` with ``port``, ``manifests``, ``kustomize`` or ``helm``) and its settings."""

    name: str
    """The workload's name (its namespace)."""
    image: NotRequired[str]
    """A container image, pinned by digest or an exact tag."""
    port: NotRequired[int]
    """The port the image serves on."""
    manifests: NotRequired[str]
    """A project directory of Kubernetes YAML."""
    kustomize: NotRequired[str]
    """A project directory with a kustomization."""
    helm: NotRequired[HelmArgs]
    """A Helm chart."""
    scale_target: NotRequired[str]
    """``Kind/name`` of the object whose replicas edgefleet sets."""
    replicas: NotRequired[int]
    """Replicas across its locations (default 2)."""
    min_replicas_per_location: NotRequired[int]
    """The fewest replicas in one location (default 1)."""
    resources: NotRequired[ResourcesArgs]
    """Per-pod CPU and memory."""
    expose: NotRequired[str]
    """``internal`` (default) or ``public`` (a load balancer)."""
    probe_path: NotRequired[str]
    """The HTTP path of its readiness probe and health checks."""
    egress_cidrs: NotRequired[list[str]]
    """Address ranges it may connect to (default: none outside the cluster)."""
    placement: NotRequired[PlacementArgs]
    """Where it may run."""
    rollout: NotRequired[RolloutArgs]
    """The order of its locations in a rollout."""
    dns_name: NotRequired[str]
    """Its DNS label (default: the name)."""
    env: NotRequired[dict[str, str]]
    """Environment variables."""
    secret_env: NotRequired[dict[str, str]]
    """In a ``Fleet``: secret environment variables, name to a key of its ``secrets``. (An
    ``EdgeWorkload`` takes the values in its own ``secret_env``.)"""
    config_files: NotRequired[list[ConfigFileArgs]]
    """Files mounted into its containers."""
    command: NotRequired[list[str]]
    """The container's command."""
    args: NotRequired[list[str]]
    """The container's arguments."""
    ports: NotRequired[list[PortArgs]]
    """More named ports."""
    volumes: NotRequired[list[VolumeArgs]]
    """Volumes."""
    overrides: NotRequired[list[OverrideArgs]]
    """Settings for some locations."""


class WorkloadClusterArgs(TypedDict):
    """The cluster a workload goes to: its entry as given to the cluster component (without
    owner, environment, tags and kubeconfig), plus its ``vendor``. Overrides, capabilities and the
    ``EDGEFLEET_*`` variables read it. The Kubernetes provider comes from the options."""

    name: str
    """The cluster's name."""
    vendor: str
    """``aws``, ``gcp``, ``azure``, ``linode``, ``digitalocean`` or ``existing``."""
    region: NotRequired[str]
    """The vendor's region (cloud clusters)."""
    location: NotRequired[LocationArgs]
    """Where it is (existing clusters)."""
    labels: NotRequired[dict[str, str]]
    """Its labels (override selectors match them)."""
    cni: NotRequired[CniArgs]
    """Its CNI (decides the capabilities a workload may require)."""
    project: NotRequired[str]
    """GCP: the project."""
    autopilot: NotRequired[bool]
    """GCP: Autopilot."""
    endpoint: NotRequired[EndpointArgs]
    """As given to the cluster component (checked, not used here)."""
    kubernetes_version: NotRequired[str]
    """As given to the cluster component (checked, not used here)."""
    node_pools: NotRequired[list[NodePoolArgs]]
    """As given to the cluster component (checked, not used here)."""
    network: NotRequired[NetworkArgs]
    """As given to the cluster component (checked, not used here)."""
    protect: NotRequired[bool]
    """As given to the cluster component (checked, not used here)."""


class EdgeWorkloadArgs(TypedDict):
    """A workload's objects in one cluster: its namespace (Pod Security ``restricted``), the
    workload, a PodDisruptionBudget and default-deny NetworkPolicies. The Kubernetes provider comes
    from the options (``provider=`` the cluster's); ``depends_on`` there is what its Deployment
    waits for (an earlier rollout wave)."""

    owner: str
    """The owning team: a label on every object."""
    environment: str
    """``dev``, ``staging``, ``prod``, ..."""
    cluster: WorkloadClusterArgs
    """The cluster it goes to."""
    workload: WorkloadArgs
    """The workload."""
    replicas: NotRequired[int]
    """Its replicas in this cluster (default: the workload's ``replicas``)."""
    steered: NotRequired[bool]
    """A public workload whose address a ``DnsSteering`` health-checks on its ``probe_path``
    (what a fleet with ``traffic`` does); allows ``dns_name``."""
    secret_env: NotRequired[dict[str, pulumi.Input[str]]]
    """Secret environment variables: name to value (kept secret, in the workload's own Secret)."""
    project_dir: NotRequired[str]
    """Where the workload's project files are (``manifests``, ``helm``, ``config_files[].file``);
    default: the program's directory."""


class HealthCheckArgs(TypedDict, total=False):
    """How each location is health-checked."""

    protocol: str
    """``HTTP`` (default) or ``HTTPS``."""
    interval: int
    """Seconds between checks: 10 or 30 (default)."""
    failure_threshold: int
    """Failed checks before a location is out (default 3)."""


class TrafficArgs(TypedDict):
    """The DNS zone and provider that steer users to their nearest healthy location."""

    provider: str
    """``route53`` or ``cloudflare``."""
    zone: str
    """The DNS zone (``edge.example.com``)."""
    zone_id: str
    """The zone's id at the provider."""
    account_id: NotRequired[str]
    """Cloudflare: the account id."""
    ttl: NotRequired[int]
    """Record TTL in seconds (default 60)."""
    health_check: NotRequired[HealthCheckArgs]
    """How locations are checked."""


class SteeredLocationArgs(TypedDict):
    """One location of the workload behind the name."""

    cluster: str
    """The cluster's name."""
    vendor: str
    """The cluster's vendor (an AWS location is routed by its region)."""
    lat: float
    """Latitude (non-AWS locations are routed by coordinates)."""
    lon: float
    """Longitude."""
    target: pulumi.Input[str]
    """The location's public address: its load balancer's IP, or host name on AWS (an
    ``EdgeWorkload``'s ``endpoint``)."""
    port: int
    """The port the load balancer listens on."""
    region: NotRequired[str]
    """The vendor's region id."""


class DnsSteeringArgs(TypedDict):
    """A public workload's DNS name, steered to its nearest healthy location (Route 53
    geoproximity or a Cloudflare load balancer), each location health-checked. The DNS provider
    comes from the options (``provider=``; default: the ambient one)."""

    traffic: TrafficArgs
    """The zone and provider."""
    workload: str
    """The workload's name."""
    hostname: str
    """The name users connect to, inside the zone."""
    probe_path: str
    """The HTTP path each location answers 2xx on when it can serve."""
    locations: list[SteeredLocationArgs]
    """The workload's locations."""
    tags: NotRequired[dict[str, str]]
    """Tags on the health checks (Route 53)."""
    gate: NotRequired[bool]
    """A health gate per location (a placement that moves over the day)."""


class FleetClusterArgs(TypedDict):
    """A ``clusters[]`` entry of the fleet config: the cluster component's args without owner,
    environment and tags, plus its ``vendor`` (and, for an existing cluster, the key of its
    kubeconfig in the fleet's ``secrets``)."""

    vendor: str
    """``aws``, ``gcp``, ``azure``, ``linode``, ``digitalocean`` or ``existing``."""
    name: NotRequired[str]
    """The cluster's name (default: derived from vendor and region)."""
    region: NotRequired[str]
    """The vendor's region (cloud clusters)."""
    location: NotRequired[LocationArgs]
    """Where it is (existing clusters)."""
    labels: NotRequired[dict[str, str]]
    """Labels placement selects clusters by."""
    cni: NotRequired[CniArgs]
    """The CNI."""
    project: NotRequired[str]
    """GCP: the project."""
    autopilot: NotRequired[bool]
    """GCP: Autopilot."""
    endpoint: NotRequired[EndpointArgs]
    """The API server's exposure."""
    kubernetes_version: NotRequired[str]
    """The Kubernetes minor version."""
    node_pools: NotRequired[list[NodePoolArgs]]
    """The node pools."""
    network: NotRequired[NetworkArgs]
    """Pin the address block."""
    protect: NotRequired[bool]
    """``protect`` the control plane and network."""
    kubeconfig: NotRequired[str]
    """Existing clusters: the key of its kubeconfig in the fleet's ``secrets``."""
    context: NotRequired[str]
    """Existing clusters: the kubeconfig context."""


class FleetConfigArgs(TypedDict):
    """The fleet config (``docs/fleet-config.md``): who owns it, its clusters and workloads, DNS
    steering and network probes."""

    environment: str
    """``dev``, ``staging``, ``prod``, ..."""
    owner: str
    """The owning team."""
    tags: NotRequired[dict[str, str]]
    """Extra cloud tags."""
    defaults: NotRequired[dict[str, Any]]
    """Keys every cluster entry gets unless it sets them."""
    clusters: list[FleetClusterArgs]
    """The clusters."""
    workloads: NotRequired[list[WorkloadArgs]]
    """The workloads."""
    traffic: NotRequired[TrafficArgs]
    """DNS steering of public workloads."""
    netcheck: NotRequired[dict[str, Any]]
    """The network probes (``docs/doctor.md``; on by default in prod)."""


class FleetArgs(TypedDict):
    """A whole fleet from one fleet config: every cluster (its vendor's component), every workload
    placed on them (``EdgeWorkload``), DNS steering (``DnsSteering``) and the network probes. The
    fleet comes as ``fleet``, or as a shared ``fleet_file`` with this stack's ``slice`` of it
    (``docs/slices.md``)."""

    fleet: NotRequired[FleetConfigArgs]
    """The fleet config."""
    fleet_file: NotRequired[str]
    """Or a project file holding it (shared by stacks that each deploy a ``slice``)."""
    slice: NotRequired[Any]
    """With ``fleet_file``: the part of the fleet this stack deploys."""
    secrets: NotRequired[dict[str, pulumi.Input[str]]]
    """Secret values by the keys the fleet names (kubeconfigs, ``secret_env``)."""
    placements_file: NotRequired[str]
    """A project file with the previous placements (stability)."""
    placement_time: NotRequired[str]
    """The time (ISO 8601) a scheduled placement is for (default: now)."""
    policy_pack_config: NotRequired[Any]
    """The policy pack config whose mandatory rules placement honours: a project file, or the
    levels (default: ``policies/config/<stack>.json``)."""
    gcp_project: NotRequired[str]
    """The GCP project for clusters that name none."""
    project_dir: NotRequired[str]
    """Where the fleet's project files are (default: the program's directory)."""


__all__ = [
    "AksClusterArgs",
    "ClusterArgs",
    "CniArgs",
    "CniInstallArgs",
    "ConfigFileArgs",
    "DnsSteeringArgs",
    "DoksClusterArgs",
    "EdgeWorkloadArgs",
    "EksClusterArgs",
    "EmptyDirArgs",
    "EndpointArgs",
    "ExistingClusterArgs",
    "FleetArgs",
    "FleetClusterArgs",
    "FleetConfigArgs",
    "GkeClusterArgs",
    "HealthCheckArgs",
    "HelmArgs",
    "LkeClusterArgs",
    "LocationArgs",
    "NetworkArgs",
    "NodePoolArgs",
    "OverrideArgs",
    "PlacementArgs",
    "PortArgs",
    "ResourcesArgs",
    "RolloutArgs",
    "SteeredLocationArgs",
    "TrafficArgs",
    "VolumeArgs",
    "WorkloadArgs",
    "WorkloadClusterArgs",
]

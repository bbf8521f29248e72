"""The fleet config model (contract v1, ``docs/fleet-config.md``): pydantic v2, frozen, no ``pulumi``.

Raw YAML -> ``parse_fleet`` (defaults merged, shapes checked by pydantic, then cross-checks) ->
``FleetSpec`` whose clusters all have names and locations. Every problem is collected, so one run
reports them all, each as a ``ConfigIssue`` with the config path and the file position.
"""

from __future__ import annotations

import ipaddress
import math
import posixpath
import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Strict,
    StringConstraints,
    Tag,
    model_validator,
)

from edgefleet.components.config.addressing import nth_address, nth_subnet
from edgefleet.policies import netranges

NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
ENVIRONMENT = r"^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$"
# A Kubernetes label value (also a valid GCP label value once lower-cased): owner, tags, labels.
LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
# A label key without prefix; lower-case so the same key is valid on every vendor (GCP is strictest).
TAG_KEY = r"^[a-z]([-a-z0-9_]{0,61}[a-z0-9])?$"
LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
CONFIG_KEY = r"^[A-Za-z][A-Za-z0-9_]{0,127}$"
CPU = r"^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"
MEMORY = r"^[0-9]+(Ki|Mi|Gi|Ti|K|M|G|T)?$"
IMAGE = (
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?"  # registry host (and port) or first path part
    r"(/[a-z0-9]+([._-][a-z0-9]+)*)*"  # repository path
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"  # tag, digest
)
K8S_VERSION = r"^1\.[0-9]{2}$"
CNI_MODE = r"^[a-z][a-z0-9-]{0,30}$"
REGION = r"^[a-z0-9][a-z0-9-]{0,39}$"
GCP_PROJECT = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
RESIDENCY = r"^[A-Z]{2,6}$"
PROBE_PATH = r"^/[\x21-\x7e]{0,255}$"
TAG_VALUE = r"^([a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)?$"
PRESET = r"^[a-z][a-z-]{1,30}$"
# A duration of the placement schedule: `15m`, `1h`, `1h30m` (timeline.parse_duration).
DURATION = r"^([0-9]{1,3}h)?([0-9]{1,5}m)?$"
PROMETHEUS_URL = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
# A DNS zone (`edge.example.com`) and one label of it (`api`).
DNS_LABEL = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
DNS_ZONE = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
ROUTE53_ZONE_ID = r"^Z[A-Z0-9]{1,31}$"
CLOUDFLARE_ID = r"^[0-9a-f]{32}$"
COUNTRY = r"^[A-Z]{2}$"
# A manifests workload's scale target: `Deployment/<name>` or `StatefulSet/<name>`.
SCALE_TARGET = r"^(Deployment|StatefulSet)/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
# A Helm chart's name and an exact chart version (SemVer 2; no ranges: a plan must not change when
# the repository publishes a release).
CHART_NAME = r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$"
CHART_VERSION = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
# An environment variable name (a C identifier, as Kubernetes validated them before 1.30 and as
# shells read them); names starting with EDGEFLEET_ are edgefleet's own (EDGEFLEET_ENV_PREFIX).
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,252}$"
EDGEFLEET_ENV_PREFIX = "EDGEFLEET_"
# A named container/Service port: an IANA service name (at most 15 characters; a letter is
# required and `--` is not allowed: _port_name).
PORT_NAME = r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$"
# Where a file or volume is mounted in the container: absolute, plain characters (_mount_path).
MOUNT_PATH = r"^/[A-Za-z0-9._/-]{1,1023}$"
# Mount paths no user file or volume may take: the kernel's and the runtime's, and /tmp (edgefleet's
# writable scratch directory on every pod).
RESERVED_MOUNTS = ("/proc", "/sys", "/dev", "/tmp")
# Where Kubernetes mounts a pod's service account token (`/var/run` is a link to `/run` in most
# images). edgefleet turns the token off (automountServiceAccountToken: false); a file or volume
# there would fake one, or hand the pod an API credential from the stack's secrets.
TOKEN_MOUNTS = ("/var/run/secrets/kubernetes.io", "/run/secrets/kubernetes.io")
# The longest file name Linux takes (NAME_MAX, bytes; mount paths are ASCII).
NAME_MAX = 255
# A ConfigMap holds at most 1 MiB (keys and values together; the API server refuses more).
CONFIGMAP_MAX_BYTES = 1024 * 1024


def _cidr(value: str) -> str:
    """One network in ``address/prefix`` form (``policies/netranges.py``), as its canonical text:
    IPv6 is written compressed and lower-case (``0::0/0`` becomes ``::/0``); anything another parser
    could read differently (no prefix, host bits, ``%zone``, netmask, leading zeros) is refused."""
    return netranges.canonical(value)


# Pod ranges edgefleet configures a CNI with: IPv4 (edgefleet runs IPv4 clusters), private, and
# between a /8 (the largest private block) and a /22: Cilium's cluster-pool and flannel give each
# node a /24 of it (Calico a /26 block), so a /22 holds four nodes.
POD_CIDR_PREFIXES = (8, 22)


def _pod_cidr(value: str) -> str:
    network = netranges.parse_cidr(value)
    example = "10.42.0.0/16"
    if network.version != 4:
        raise ValueError(
            f"{value} is an IPv6 range, but edgefleet configures IPv4 pod networking (the clusters and their "
            f"node pools are IPv4): use a private IPv4 range such as {example}"
        )
    if not netranges.is_private_v4(network):
        raise ValueError(
            f"{value} is not private address space: pods need a range inside 10.0.0.0/8, 172.16.0.0/12, "
            f"192.168.0.0/16 (RFC 1918) or 100.64.0.0/10 (RFC 6598), such as {example}"
        )
    low, high = POD_CIDR_PREFIXES
    if not low <= network.prefixlen <= high:
        raise ValueError(
            f"{value} is too small for pods: each node takes a /24 of the pod range, so use a /{low} to /{high} "
            f"(such as {example})"
        )
    return value


def _cidr_list(values: tuple[str, ...]) -> tuple[str, ...]:
    """No range twice, and no world in pieces: a list whose union is open to the world
    (``policies/netranges.py``) must say so plainly, as ``0.0.0.0/0`` or ``::/0``, so the config
    reads what it means and the policy rules judge it in the open."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value} is listed twice; remove one")
        seen.add(value)
    if "0.0.0.0/0" in seen or "::/0" in seen:
        return values  # open to everyone, plainly: the policy rules judge it
    entries = [(v, netranges.parse_cidr(v)) for v in values]
    for found in netranges.open_families(entries):
        whole = "0.0.0.0/0" if found.family == 4 else "::/0"
        raise ValueError(
            f"these ranges together are open to the world ({found.describe()}; the threshold is all of "
            f"IPv{found.family} or {netranges.WORLD_SHARE} of its public addresses): list only the networks "
            f"needed, or write {whole} to open it to everyone on purpose (the policy rules flag both alike)"
        )
    return values


def _pinned_image(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    if "@sha256:" not in value and ":" not in last:
        raise ValueError(f"{value!r} has no tag; pin a version tag or a digest (e.g. {value}:1.2.3)")
    if last.endswith(":latest"):
        raise ValueError(f"{value!r} uses `latest`; pin a version tag or a digest")
    return value


def _env_name(value: str) -> str:
    if value.startswith(EDGEFLEET_ENV_PREFIX):
        raise ValueError(
            f"names starting with {EDGEFLEET_ENV_PREFIX} are set by edgefleet on every pod "
            "(EDGEFLEET_CLUSTER, EDGEFLEET_REGION, ...; docs/fleet-config.md#application-settings); choose another name"
        )
    return value


def _port_name(value: str) -> str:
    if not any(ch.isalpha() for ch in value) or "--" in value:
        raise ValueError(
            f"{value!r} is not an IANA service name: it needs at least one letter and no `--` "
            "(e.g. `metrics`, `grpc-2`)"
        )
    return value


def _mount_path(value: str) -> str:
    parts = value.split("/")[1:]
    if any(part in ("", ".", "..") for part in parts):
        shown = posixpath.normpath(value)
        raise ValueError(
            f"{value!r} is not a normalised absolute path (no `..`, `.`, `//` or trailing `/`)"
            + (f"; write {shown!r}" if ".." not in parts and shown != "/" else "")
        )
    longest = max(parts, key=len)
    if len(longest) > NAME_MAX:
        raise ValueError(
            f"a part of the path is {len(longest)} characters long, longer than {NAME_MAX} (the longest file name "
            "Linux takes); shorten it"
        )
    for token in TOKEN_MOUNTS:
        if value == token or value.startswith(token + "/"):
            raise ValueError(
                f"{value!r} would mount over {token}, where Kubernetes puts a pod's service account token; edgefleet "
                "gives pods no token (automountServiceAccountToken: false), and a file there would fake one: mount it "
                "elsewhere (e.g. /etc/app, /var/lib/app)"
            )
    for reserved in RESERVED_MOUNTS:
        if value == reserved or value.startswith(reserved + "/"):
            why = "edgefleet's writable scratch directory" if reserved == "/tmp" else "the kernel's and runtime's"
            raise ValueError(f"{value!r} is under {reserved}, {why}; mount it elsewhere (e.g. /etc/app, /var/lib/app)")
    return value


def _no_nul(value: str) -> str:
    if "\0" in value:
        raise ValueError(
            "contains a NUL character, which no environment variable or program argument can carry (the container "
            "would fail to start); remove it"
        )
    return value


def _quantity_above_zero(value: str) -> str:
    if int(value.rstrip("KMGTi")) == 0:
        raise ValueError(
            f"{value!r} is zero, which Kubernetes reads as no limit at all; give the size the volume may use "
            "(e.g. `256Mi`), or leave `size_limit` out on purpose"
        )
    return value


def _scale_target(value: str) -> str:
    if not re.match(SCALE_TARGET, value):
        raise ValueError(
            f"{value!r} is not a scale target: name a Deployment or StatefulSet of the workload's manifests as "
            "`Deployment/<name>` or `StatefulSet/<name>`"
        )
    return value


def _utf8_text(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the text is not valid UTF-8 (character {exc.start}, {value[exc.start]!r}, is half of a surrogate pair); "
            "a ConfigMap holds UTF-8 text: write the whole character, or one `\\U0001F600`-style escape for it"
        ) from None
    return value


Name = Annotated[str, StringConstraints(pattern=NAME)]
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME), AfterValidator(_env_name)]
EnvValue = Annotated[str, StringConstraints(max_length=32768), AfterValidator(_no_nul)]
PortName = Annotated[str, StringConstraints(pattern=PORT_NAME), AfterValidator(_port_name)]
MountPath = Annotated[str, StringConstraints(pattern=MOUNT_PATH), AfterValidator(_mount_path)]
Image = Annotated[str, StringConstraints(pattern=IMAGE, max_length=512), AfterValidator(_pinned_image)]
Arg = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_nul)]
Cidr = Annotated[str, AfterValidator(_cidr)]
PodCidr = Annotated[str, AfterValidator(_cidr), AfterValidator(_pod_cidr)]
CidrList = Annotated[tuple[Cidr, ...], AfterValidator(_cidr_list)]
StrictBool = Annotated[bool, Strict()]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE)]
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY)]
TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY)]
ConfigKeyName = Annotated[str, StringConstraints(pattern=CONFIG_KEY)]
Country = Annotated[str, StringConstraints(pattern=COUNTRY)]


class Vendor(StrEnum):
    """Where a cluster runs."""

    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    LINODE = "linode"
    DIGITALOCEAN = "digitalocean"
    EXISTING = "existing"


class CniPlugin(StrEnum):
    """The cluster network plugin; ``vendor`` is the vendor's own dataplane."""

    CILIUM = "cilium"
    CALICO = "calico"
    FLANNEL = "flannel"
    VENDOR = "vendor"


class Strategy(StrEnum):
    """How a workload's locations are chosen."""

    LATENCY = "latency"
    EVERYWHERE = "everywhere"
    PINNED = "pinned"


class Expose(StrEnum):
    """Who can reach a workload: ``public`` gets a LoadBalancer, ``internal`` a ClusterIP."""

    PUBLIC = "public"
    INTERNAL = "internal"


class NodeSize(StrEnum):
    """A vendor-neutral node size, mapped per vendor to a general-purpose machine type."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Capability(StrEnum):
    """What a workload can require of a cluster."""

    NETWORK_POLICY = "network-policy"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class CniSpec(_Model):
    """The CNI for one cluster. ``installed: true`` records one that is already there."""

    plugin: CniPlugin
    mode: Annotated[str, StringConstraints(pattern=CNI_MODE)] | None = None
    installed: StrictBool = False
    hubble: StrictBool = False
    pod_cidr: PodCidr | None = None  # existing clusters edgefleet installs a CNI on


class NodePoolSpec(_Model):
    """A node pool: ``size`` or an explicit vendor ``machine_type``, autoscaling ``min``..``max``."""

    name: Name
    size: NodeSize | None = None
    machine_type: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    min: Annotated[int, Strict(), Field(ge=0, le=1000)] = 1
    max: Annotated[int, Strict(), Field(ge=1, le=1000)] = 3

    @model_validator(mode="after")
    def _check(self) -> NodePoolSpec:
        if self.size is not None and self.machine_type is not None:
            raise ValueError("set either `size` or `machine_type`, not both")
        if self.max < self.min:
            raise ValueError(f"`max` ({self.max}) is smaller than `min` ({self.min})")
        return self


class EndpointSpec(_Model):
    """API server exposure. Private by default; public only with an explicit CIDR allow-list."""

    public: StrictBool = False
    allowed_cidrs: CidrList = ()


class NetworkSpec(_Model):
    """Pin a cloud cluster's address block (``components/config/addressing.py``); rarely needed."""

    block: Annotated[int, Strict(), Field(ge=0)]


class LocationSpec(_Model):
    """Where an existing cluster is: ``city``+``country``, or ``lat``/``lon``+``country``."""

    city: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    country: Country
    lat: Annotated[float, Strict(), Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Strict(), Field(ge=-180, le=180)] | None = None

    @model_validator(mode="after")
    def _check(self) -> LocationSpec:
        has_coords = self.lat is not None or self.lon is not None
        if self.city is None and not has_coords:
            raise ValueError("give `city` (with `country`) or `lat` and `lon`")
        if self.city is not None and has_coords:
            raise ValueError("give `city` or `lat`/`lon`, not both")
        if has_coords and (self.lat is None or self.lon is None):
            raise ValueError("`lat` and `lon` go together")
        return self


class ClusterSpec(_Model):
    """One cluster entry, after the fleet's ``defaults`` were merged under it."""

    vendor: Vendor
    region: Annotated[str, StringConstraints(pattern=REGION)] | None = None
    name: Name | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    cni: CniSpec | None = None
    kubernetes_version: Annotated[str, StringConstraints(pattern=K8S_VERSION)] | None = None
    node_pools: tuple[NodePoolSpec, ...] = ()
    endpoint: EndpointSpec = EndpointSpec()
    project: Annotated[str, StringConstraints(pattern=GCP_PROJECT)] | None = None
    location: LocationSpec | None = None
    kubeconfig: ConfigKeyName | None = None
    context: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    autopilot: StrictBool = False
    protect: StrictBool | None = None
    network: NetworkSpec | None = None


class ClusterDefaults(_Model):
    """Keys that ``defaults`` may set for every cluster."""

    kubernetes_version: Annotated[str, StringConstraints(pattern=K8S_VERSION)] | None = None
    cni: dict[str, object] | None = None
    node_pools: list[object] | None = None
    endpoint: dict[str, object] | None = None
    labels: dict[str, object] | None = None
    protect: StrictBool | None = None


class ResourcesSpec(_Model):
    """Per-pod requests; limits are set equal (Guaranteed QoS for memory, no CPU overcommit)."""

    cpu: Annotated[str, StringConstraints(pattern=CPU)] = "100m"
    memory: Annotated[str, StringConstraints(pattern=MEMORY)] = "128Mi"


# The largest demand point weight: weights are relative (people, requests, a share), and 1e6 times
# the smallest useful weight is plenty; bounded so that the sum of every point's weight stays finite.
MAX_DEMAND_WEIGHT = 1_000_000.0


class DemandPoint(_Model):
    """An explicit demand point: ``city``+``country`` or ``lat``/``lon``, with a weight."""

    city: str | None = None
    country: Country | None = None
    lat: Annotated[float, Strict(), Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Strict(), Field(ge=-180, le=180)] | None = None
    # Finite and bounded, so any number of points sums to a finite total demand.
    weight: Annotated[float, Strict(), Field(gt=0, le=MAX_DEMAND_WEIGHT, allow_inf_nan=False)] = 1.0


def _no_userinfo(value: str) -> str:
    """A URL edgefleet fetches holds no user or password: it is shown in plans and errors."""
    if "@" in urlsplit(value).netloc:
        raise ValueError(
            "the address holds a user or password, which would show in every plan and error; put Prometheus "
            "behind an address that needs none from where edgefleet plans (a port-forward, a proxy)"
        )
    return value


class PrometheusDemand(_Model):
    """Request rates from Prometheus: ``query`` returns requests per second labelled ``country``
    (ISO 3166-1 alpha-2) and optionally ``city``."""

    url: Annotated[str, StringConstraints(pattern=PROMETHEUS_URL, max_length=2048), AfterValidator(_no_userinfo)]
    query: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


# The largest request rate (requests per second) a demand or schedule setting takes.
MAX_RATE = 1e12


class DemandSpec(_Model):
    """Where a workload's users are: a preset or explicit points (optionally ``diurnal``, weighted
    by local time of day), real traffic from a project file (``traffic``) or from ``prometheus``."""

    preset: Annotated[str, StringConstraints(pattern=PRESET)] | None = None
    points: tuple[DemandPoint, ...] = ()
    diurnal: StrictBool = False
    # The day's mean request rate (requests per second) of the model: gives it a volume, so that
    # `schedule.min_usage_per_location` and `schedule.requests_per_replica` have a meaning.
    rate: Annotated[float, Strict(), Field(gt=0, le=MAX_RATE, allow_inf_nan=False)] | None = None
    traffic: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    prometheus: PrometheusDemand | None = None

    @property
    def over_time(self) -> bool:
        """The demand changes through the day."""
        return self.diurnal or self.traffic is not None or self.prometheus is not None


class ScheduleSpec(_Model):
    """Placement per window of the day (``docs/fleet-config.md#placementschedule``)."""

    window: Annotated[str, StringConstraints(pattern=DURATION, min_length=2, max_length=10)] = "1h"
    min_dwell: Annotated[str, StringConstraints(pattern=DURATION, min_length=2, max_length=10)] | None = None
    min_usage_per_location: Annotated[float, Strict(), Field(ge=0, le=MAX_RATE, allow_inf_nan=False)] = 0.0
    # Replicas follow the request rate: ceil(rate / requests_per_replica) within [min_replicas, max_replicas].
    requests_per_replica: Annotated[float, Strict(), Field(gt=0, le=MAX_RATE, allow_inf_nan=False)] | None = None
    min_replicas: Annotated[int, Strict(), Field(ge=1, le=10000)] | None = None
    max_replicas: Annotated[int, Strict(), Field(ge=1, le=10000)] | None = None


class PlacementSpec(_Model):
    """How a workload's locations are chosen and constrained."""

    strategy: Strategy = Strategy.EVERYWHERE
    clusters: tuple[Name, ...] = ()
    min_locations: Annotated[int, Strict(), Field(ge=1, le=1000)] = 1
    max_locations: Annotated[int, Strict(), Field(ge=1, le=1000)] | None = None
    must_include: tuple[Name, ...] = ()
    must_exclude: tuple[Name, ...] = ()
    residency: tuple[Annotated[str, StringConstraints(pattern=RESIDENCY)], ...] = ()
    min_vendors: Annotated[int, Strict(), Field(ge=1, le=6)] = 1
    selector: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    requires: tuple[Capability, ...] = ()
    demand: DemandSpec | None = None
    schedule: ScheduleSpec | None = None
    # latency: a measured RTT matrix (edgefleet.rtt/v1, `edgefleet doctor --rtt-matrix`), a project file.
    rtt_matrix: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None

    @property
    def over_time(self) -> bool:
        """Placement is per window of the day: a schedule, or demand that changes through the day."""
        return self.schedule is not None or (self.demand is not None and self.demand.over_time)


class RolloutSpec(_Model):
    """Progressive rollout: ``canary`` clusters first, then each of ``waves`` in order, then the
    rest; each wave starts once every Deployment of the wave before it is ready."""

    canary: tuple[Name, ...] = ()
    waves: tuple[tuple[Name, ...], ...] = ()


class DnsProvider(StrEnum):
    """Where global DNS steering lives."""

    ROUTE53 = "route53"
    CLOUDFLARE = "cloudflare"


class HealthCheckSpec(_Model):
    """How DNS steering checks each location: the workload's probe path on its public endpoint."""

    protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    interval: Literal[10, 30] = 30  # seconds (Route 53 offers 10 and 30)
    failure_threshold: Annotated[int, Strict(), Field(ge=1, le=10)] = 3


class TrafficSpec(_Model):
    """Global DNS steering for public workloads: one name per workload (``<dns_name>.<zone>``),
    one record or pool per placed location, each with a health check."""

    provider: DnsProvider
    zone: Annotated[str, StringConstraints(pattern=DNS_ZONE, max_length=253)]
    zone_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    account_id: Annotated[str, StringConstraints(pattern=CLOUDFLARE_ID)] | None = None  # cloudflare
    ttl: Annotated[int, Strict(), Field(ge=30, le=86400)] = 60
    health_check: HealthCheckSpec = HealthCheckSpec()


NETPROBE_IMAGE = "ghcr.io/edgefleet/netprobe:0.3.0"  # netprobe/Dockerfile; netprobe.agent.VERSION
NIC_DEVICE = r"^[A-Za-z0-9._-]{1,15}$"


class LinodeWan(StrEnum):
    """Linode's NodeBalancers carry UDP only as ``premium`` ones (a beta, at a higher price):
    edgefleet skips Linode clusters' WAN probes unless told to ask for a premium NodeBalancer."""

    SKIP = "skip"
    PREMIUM = "premium"


class NetcheckWanSpec(_Model):
    """Location-to-location probes (docs/doctor.md#location-to-location-wan-probes): ``replicas``
    designated agents per cluster behind a public UDP load balancer, probing every other cluster's
    over the path users' traffic takes; authenticated with a key the stack generates."""

    enabled: StrictBool = True
    replicas: Annotated[int, Strict(), Field(ge=1, le=5)] = 2
    linode: LinodeWan = LinodeWan.SKIP
    skip: tuple[Name, ...] = ()  # clusters without WAN probes (e.g. an existing cluster with no LoadBalancer)


class NetcheckSpec(_Model):
    """The network doctor's probe agents in every cluster (docs/doctor.md). ``enabled`` unset: on
    in the ``prod`` environment, off elsewhere."""

    enabled: StrictBool | None = None
    image: Image = NETPROBE_IMAGE
    rate: Annotated[int, Strict(), Field(ge=1, le=100)] = 10  # probes per second per peer and size
    large_packet: Annotated[int, Strict(), Field(ge=576, le=9000)] = 1400  # the near-MTU probe (IP bytes)
    host_network: StrictBool = True  # node to node over the host network: the one Pod Security exception
    nic_devices: tuple[Annotated[str, StringConstraints(pattern=NIC_DEVICE)], ...] = ("eth0", "ens5")
    wan: NetcheckWanSpec = NetcheckWanSpec()

    def on(self, environment: str) -> bool:
        return self.enabled if self.enabled is not None else environment == "prod"


class ConfigFileSpec(_Model):
    """A file mounted read-only into the container from the workload's ConfigMap: its text inline
    (``content``) or read from a file inside the project (``file``, project-relative)."""

    path: MountPath
    content: Annotated[str, Strict(), AfterValidator(_utf8_text)] | None = None
    file: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None

    @model_validator(mode="after")
    def _check(self) -> ConfigFileSpec:
        if (self.content is None) == (self.file is None):
            raise ValueError("give `content` (the text) or `file` (a file inside the project), exactly one")
        return self


class PortSpec(_Model):
    """A further named container port; the Service and the NetworkPolicy allow rule get it too."""

    name: PortName
    port: Annotated[int, Strict(), Field(ge=1, le=65535)]
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class EmptyDirSpec(_Model):
    """A scratch directory that lives as long as the pod (on the node's disk, or in memory)."""

    size_limit: Annotated[str, StringConstraints(pattern=MEMORY), AfterValidator(_quantity_above_zero)] | None = None
    medium: Literal["Memory"] | None = None


class OwnObjectSpec(_Model):
    """The workload's own ConfigMap (``config_files``) or Secret (``secret_env``), mounted whole."""


# The volume kinds edgefleet mounts; any other key of a volume is refused by name (VOLUME_KINDS).
VOLUME_KINDS = ("empty_dir", "config_map", "secret")


class VolumeSpec(_Model):
    """A volume mounted at ``path``: exactly one of ``empty_dir``, ``config_map`` (the workload's
    config files as a directory) or ``secret`` (its secret_env values as files). Nothing else:
    never hostPath, persistent volumes or another object's data."""

    name: Annotated[str, StringConstraints(pattern=DNS_LABEL)]
    path: MountPath
    empty_dir: EmptyDirSpec | None = None
    config_map: OwnObjectSpec | None = None
    secret: OwnObjectSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> VolumeSpec:
        kinds = [k for k in VOLUME_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a volume is exactly one of {', '.join(VOLUME_KINDS)}; this one has {len(kinds)}")
        return self

    @property
    def kind(self) -> str:
        """Which of ``VOLUME_KINDS`` this volume is."""
        return next(k for k in VOLUME_KINDS if getattr(self, k) is not None)


def _finite(value: dict[str, Any]) -> dict[str, Any]:
    """Helm values are JSON: no NaN or infinity (``.nan``, ``.inf`` in YAML) anywhere inside."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("values hold a NaN or an infinity (`.nan`, `.inf`), which no chart reads; give a number")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


# A chart's values: any JSON object, finite numbers only.
HelmValues = Annotated[dict[str, JsonValue], AfterValidator(_finite)]


class OverrideSpec(_Model):
    """Per-cluster settings for a workload: on the clusters named (``clusters``) or matching
    ``selector``, ``image`` replaces the workload's, ``env`` and ``labels`` merge over it, and a
    ``helm`` workload's chart is rendered with ``values`` over its own (maps merged, as Helm merges
    repeated ``--values``). Overrides apply in order; a later one wins."""

    clusters: tuple[Name, ...] | None = None
    selector: dict[LabelKey, LabelValue] | None = None
    image: Image | None = None
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    values: HelmValues = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> OverrideSpec:
        if (self.clusters is None) == (self.selector is None):
            raise ValueError("an override names its clusters with `clusters` or `selector`, exactly one")
        if self.image is None and not self.env and not self.labels and not self.values:
            raise ValueError("an override changes nothing; give `image`, `env`, `labels` or (helm) `values`")
        return self


def _chart_repo(value: str) -> str:
    """A chart repository: ``https://`` or ``oci://``; plain ``http://`` only to this machine
    (a repository served for a test), judged by the address, not the text."""
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("a chart repository address holds no spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL ({exc})") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "a chart repository address holds no user or password (they would show in every plan): log in with "
            "`helm registry login` or `helm repo add --username` instead"
        )
    if parts.scheme in ("https", "oci") and host:
        return value
    if parts.scheme == "http" and host:
        try:
            if ipaddress.ip_address(host).is_loopback:
                return value
        except ValueError:
            if host == "localhost":
                return value
    raise ValueError(
        f"{value!r} is not a chart repository edgefleet fetches from: give an `https://` or `oci://` address "
        "(charts fetched in clear could be changed on the way)"
    )


# The two forms of `helm.chart` (a path, or `{repo, name, version}`): union tags, which the error
# reporter leaves out of config paths.
CHART_PATH_TAG = "<chart path>"
CHART_REF_TAG = "<chart in a repository>"
UNION_TAGS = frozenset({CHART_PATH_TAG, CHART_REF_TAG})


class ChartRef(_Model):
    """A chart in a repository, at one exact version."""

    repo: Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_chart_repo)]
    name: Annotated[str, StringConstraints(pattern=CHART_NAME)]
    version: Annotated[str, StringConstraints(pattern=CHART_VERSION, max_length=128)]


class HelmSpec(_Model):
    """A Helm chart as a workload's source: a chart directory inside the project, or a chart of a
    repository at an exact version; ``values`` and ``values_files`` (inside the project) as
    ``--values`` (the files first, then ``values``)."""

    chart: Annotated[
        Annotated[Annotated[str, StringConstraints(min_length=1, max_length=4096)], Tag(CHART_PATH_TAG)]
        | Annotated[ChartRef, Tag(CHART_REF_TAG)],
        Discriminator(lambda value: CHART_REF_TAG if isinstance(value, dict) else CHART_PATH_TAG),
    ]
    values: HelmValues = Field(default_factory=dict)
    values_files: tuple[Annotated[str, StringConstraints(min_length=1, max_length=4096)], ...] = ()


# A workload's sources, exactly one of which it takes.
SOURCES = ("image", "manifests", "kustomize", "helm")


class WorkloadSpec(_Model):
    """One service, deployed to the clusters its placement chooses."""

    name: Name
    image: Image | None = None  # one source: `image` (with `port`), `manifests`, `kustomize` or `helm`
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] | None = None
    manifests: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    kustomize: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    helm: HelmSpec | None = None
    scale_target: Annotated[str, StringConstraints(max_length=300), AfterValidator(_scale_target)] | None = None
    replicas: Annotated[int, Strict(), Field(ge=1, le=10000)] = 2
    min_replicas_per_location: Annotated[int, Strict(), Field(ge=1, le=1000)] = 1
    resources: ResourcesSpec = ResourcesSpec()
    expose: Expose = Expose.INTERNAL
    probe_path: Annotated[str, StringConstraints(pattern=PROBE_PATH)] | None = None
    egress_cidrs: CidrList = ()
    placement: PlacementSpec = PlacementSpec()
    rollout: RolloutSpec = RolloutSpec()
    dns_name: Annotated[str, StringConstraints(pattern=DNS_LABEL)] | None = None  # default: the name
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    secret_env: dict[EnvName, ConfigKeyName] = Field(default_factory=dict)  # NAME -> config key (secret)
    config_files: tuple[ConfigFileSpec, ...] = ()
    command: Annotated[tuple[Arg, ...], Field(min_length=1)] | None = None
    args: Annotated[tuple[Arg, ...], Field(min_length=1)] | None = None
    ports: tuple[PortSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    overrides: tuple[OverrideSpec, ...] = ()

    @model_validator(mode="after")
    def _source(self) -> WorkloadSpec:
        given = [key for key in SOURCES if getattr(self, key) is not None]
        if len(given) != 1:
            has = f" (this one has {', '.join(f'`{k}`' for k in given)})" if given else ""
            raise ValueError(
                "a workload takes exactly one source: `image` (with `port`), `manifests` (a YAML file or directory), "
                f"`kustomize` (a Kustomize directory) or `helm` (a chart){has}"
            )
        if self.image is not None and self.port is None:
            raise ValueError("an `image` workload needs `port`, the port its container listens on")
        if self.scale_target is not None and self.image is not None:
            raise ValueError("`scale_target` names one of the workload's own objects; an `image` workload has none")
        return self

    @property
    def objects_source(self) -> str | None:
        """Which source brings the workload's own objects (`manifests`, `kustomize`, `helm`), or
        None for an `image` workload (edgefleet writes its objects)."""
        return next((key for key in SOURCES[1:] if getattr(self, key) is not None), None)

    @property
    def main_port(self) -> int:
        """The image workload's `port` (0 for a manifests workload, which has none)."""
        return self.port or 0


class FleetInput(_Model):
    """The ``edgefleet:fleet`` object as written (before defaults are merged into clusters)."""

    environment: Annotated[str, StringConstraints(pattern=ENVIRONMENT)]
    owner: Annotated[str, StringConstraints(pattern=LABEL_VALUE, min_length=1)]
    tags: dict[TagKey, Annotated[str, StringConstraints(pattern=TAG_VALUE)]] = Field(default_factory=dict)
    defaults: ClusterDefaults = ClusterDefaults()
    clusters: tuple[ClusterSpec, ...] = Field(min_length=1)
    workloads: tuple[WorkloadSpec, ...] = ()
    traffic: TrafficSpec | None = None
    netcheck: NetcheckSpec = NetcheckSpec()


class ResolvedLocation(_Model):
    """A point on the map with its country: what placement and the plan read."""

    lat: float
    lon: float
    country: Country
    city: str | None = None


class CniInfo(_Model):
    """The cluster's CNI as the contract exposes it."""

    plugin: CniPlugin
    mode: str | None = None
    installed: bool = False
    network_policy: bool = False
    installs: bool = False  # edgefleet installs it (Helm releases in the cluster)
    pod_cidr: str | None = None  # the pod range the CNI is configured with, where it is edgefleet's
    hubble: bool = False


class NodePool(_Model):
    """A resolved node pool: the vendor's machine type and the autoscaling range."""

    name: str
    machine_type: str
    min: int
    max: int


class NetworkPlan(_Model):
    """A cloud cluster's address ranges (``components/config/addressing.py``)."""

    block: int
    network: str
    pods: str
    services: str

    def subnet(self, new_prefix: int, index: int) -> str:
        """The ``index``-th ``/new_prefix`` of the network range (e.g. one subnet per zone)."""
        return nth_subnet(self.network, new_prefix, index)

    def service_ip(self, offset: int) -> str:
        """An address inside the service range (AKS' DNS service IP is offset 10)."""
        return nth_address(self.services, offset)


class Cluster(_Model):
    """A fully resolved cluster: what components and placement consume.

    Cloud clusters also carry their resolved ``kubernetes_version`` (``None``: the vendor's
    release channel decides), ``node_pools``, ``zones`` (from the region catalog), address
    ``network``, GCP ``project`` and whether control plane and network are ``protect``-ed.
    """

    name: Name
    vendor: Vendor
    region: str
    labels: dict[str, str]
    cni: CniInfo
    location: ResolvedLocation
    spec: ClusterSpec
    # Where its entry is written: fleet.clusters[config_index] (the name may be derived, e.g.
    # `aws-eu-central-1`); `edgefleet check` points a violation there.
    config_index: int
    kubernetes_version: str | None = None
    node_pools: tuple[NodePool, ...] = ()
    zones: tuple[str, ...] = ()
    network: NetworkPlan | None = None
    project: str | None = None
    protect: bool = False


class HeldBackInfo(_Model):
    """A better placement that stability held back (not better by more than the threshold)."""

    candidate: tuple[str, ...]
    candidate_mean_rtt_ms: float
    gain: float


class WindowInfo(_Model):
    """The window of the day a scheduled placement is for, and how it moves from the window before:
    open ``opened`` (and wait until they are ready and healthy), then close ``closed``."""

    start: str  # ISO 8601 UTC
    end: str
    minutes: int
    requests_per_second: float
    usage_rps: tuple[tuple[str, float], ...]
    previous: tuple[str, ...]
    opened: tuple[str, ...]
    closed: tuple[str, ...]
    kept_by_dwell: tuple[str, ...]
    source: str


class MeasuredLocation(_Model):
    """A location's numbers fitted from the measured RTT matrix (``components/placement/rtt.py``)."""

    cluster: str
    inflation: float
    delay_ms: float
    pairs: int


class MeasuredPairInfo(_Model):
    """A pair of the measured RTT matrix: great-circle km, measured median, the model's estimate
    (no last mile) and the fitted estimate, in ms."""

    a: str
    b: str
    km: float
    measured_ms: float | None
    model_ms: float
    fitted_ms: float


class RttMatrixInfo(_Model):
    """What latency placement read from ``placement.rtt_matrix``: the file, the model's inflation
    (which unmeasured locations keep), every eligible location's numbers (``pairs`` 0: not
    measured, the model's) and every pair with an eligible end."""

    file: str
    default_inflation: float
    locations: tuple[MeasuredLocation, ...]
    pairs: tuple[MeasuredPairInfo, ...]
    # Over every measured pair of the file: RMS of measured - model and of measured - fitted (ms).
    rms_model_ms: float
    rms_fitted_ms: float


class LatencyResult(_Model):
    """What latency placement decided and how good it is (estimated ms; ``gap`` of distance)."""

    demand_share: tuple[tuple[str, float], ...]
    mean_rtt_ms: float
    p95_rtt_ms: float
    bound_mean_rtt_ms: float
    lower_bound_rtt_ms: float
    gap: float
    method: str
    proven_optimal: bool
    demand_points: int
    held_back: HeldBackInfo | None = None
    window: WindowInfo | None = None  # a scheduled placement: the window it is for
    rtt_matrix: RttMatrixInfo | None = None  # placed with a measured RTT matrix
    # With a measured RTT matrix: the mean RTT when every user goes to the nearest chosen location
    # (as DNS steering does), and the share of demand whose nearest is not its fastest.
    by_distance_mean_rtt_ms: float | None = None
    by_distance_share: float | None = None


class WindowPlacement(_Model):
    """One window of a day's schedule (or of the best static placement): its start (ISO 8601 UTC),
    replicas per location (sorted by cluster) and what latency placement decided."""

    start: str
    replicas: tuple[tuple[str, int], ...]
    latency: LatencyResult


class DayPlan(_Model):
    """A scheduled workload's whole UTC day (``edgefleet place --timeline``): every window's
    placement, and the best single static placement measured in each window."""

    windows: tuple[WindowPlacement, ...]
    static: tuple[WindowPlacement, ...]


class ResolvedFile(_Model):
    """A config file with its text (``file:`` read at validation) and its key in the ConfigMap."""

    path: str
    key: str
    content: str


class LocationSettings(_Model):
    """What a workload runs with on one cluster, after its ``overrides``."""

    cluster: str
    image: str | None  # None: a manifests workload keeps its containers' images
    env: dict[str, str]
    labels: dict[str, str]
    # A helm workload: the overrides whose `values` apply here (their indices, in order), and which
    # rendering of the chart the cluster gets (0: `Workload.manifests`; n: `Workload.variants[n-1]`).
    values_from: tuple[int, ...] = ()
    variant: int = 0


class ManifestObject(_Model):
    """One object of a manifests workload, as written (``apiVersion`` and ``kind`` apart, ``status``
    dropped), with where it is: the project-relative file, the line and column it starts at, and the
    (line, col) of every key and list item inside it (``edgefleet.components.config.manifests.path_key``)."""

    file: str
    line: int
    col: int
    api_version: str
    kind: str
    name: str
    body: dict[str, Any]
    positions: dict[str, tuple[int, int]]


class Workload(_Model):
    """A workload with its resolved target clusters and replicas per cluster (sorted by cluster)."""

    spec: WorkloadSpec
    strategy: Strategy
    replicas: tuple[tuple[Name, int], ...]
    # Where its entry is written: fleet.workloads[config_index].
    config_index: int
    # The countries `residency` admits (sorted), or None when the workload has no residency rule.
    allowed_countries: tuple[str, ...] | None = None
    # Clusters a constraint removed, with the constraint's name (for `edgefleet place`).
    excluded: tuple[tuple[str, str], ...] = ()
    latency: LatencyResult | None = None
    # Rollout order: cluster names per wave (canary first); one wave when there is no rollout.
    waves: tuple[tuple[str, ...], ...] = ()
    # `<dns_name>.<zone>` when the fleet has `traffic` and the workload is public.
    hostname: str | None = None
    # `config_files` with their text, in config order.
    config_files: tuple[ResolvedFile, ...] = ()
    # Image, env and labels per placed cluster (sorted by cluster), `overrides` applied.
    settings: tuple[LocationSettings, ...] = ()
    # `manifests`: the objects (file order) and the scale target (`Kind/name`).
    manifests: tuple[ManifestObject, ...] = ()
    scale_target: str | None = None
    # A scheduled workload, when the timeline was asked for (`PlacementOptions.timeline`).
    day: DayPlan | None = None
    # A scheduled workload: the window before's locations this window closes, with the window
    # before's replicas. A regional slice of a sliced fleet keeps a steered workload running there
    # for this window, while the global slice moves DNS off them (docs/placement.md).
    draining: tuple[tuple[str, int], ...] = ()
    # A helm workload whose overrides give some clusters other `values`: each other rendering.
    variants: tuple[tuple[ManifestObject, ...], ...] = ()
    # A steered workload of its own objects: its LoadBalancer Service's name and the port DNS health
    # checks use (an image workload's is its `port`).
    public_service: str | None = None
    public_port: int | None = None

    def objects_for(self, cluster: str) -> tuple[ManifestObject, ...]:
        """The workload's own objects as rendered for ``cluster`` (before replicas and overrides)."""
        try:
            variant = self.settings_for(cluster).variant
        except KeyError:
            return self.manifests
        return self.variants[variant - 1] if variant else self.manifests

    def settings_for(self, cluster: str) -> LocationSettings:
        """The workload's settings on ``cluster`` (KeyError if it is not placed there)."""
        for found in self.settings:
            if found.cluster == cluster:
                return found
        raise KeyError(cluster)


class FleetSpec(_Model):
    """The validated fleet: plain frozen values, no Outputs. Built by ``parse_fleet``."""

    environment: str
    owner: str
    tags: dict[str, str]
    clusters: tuple[Cluster, ...]
    workloads: tuple[Workload, ...]
    traffic: TrafficSpec | None = None
    netcheck: NetcheckSpec | None = None  # None: no probes (disabled, or not prod and not enabled)

    def cluster(self, name: str) -> Cluster:
        """The cluster called ``name`` (KeyError if none)."""
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)

    def secret_keys(self) -> tuple[str, ...]:
        """The config keys (``edgefleet:<key>``) this fleet reads as secrets, sorted."""
        kubeconfigs = {f"edgefleet:{c.spec.kubeconfig}" for c in self.clusters if c.spec.kubeconfig}
        env = {f"edgefleet:{key}" for w in self.workloads for key in w.spec.secret_env.values()}
        return tuple(sorted(kubeconfigs | env))


StrategyName = Literal["latency", "everywhere", "pinned"]

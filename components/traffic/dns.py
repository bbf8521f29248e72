"""Global DNS steering for one public workload: one name, every placed location behind it, each
location health-checked on the workload's probe path, so DNS stops sending users to a location
that fails its check.

Two providers, chosen by the fleet's ``traffic.provider``:

**Route 53** (latency-based routing, the fleet's ``aws`` provider in ``us-east-1``). Per location:

- a health check (``HTTP`` or ``HTTPS`` from ``traffic.health_check``) of the location's endpoint:
  ``fqdn`` where the endpoint is a host name (an AWS load balancer), ``ip_address`` where it is an
  address; the workload's port, ``resource_path`` = the probe path, the request interval and
  failure threshold of the config, tagged.
- an *address record* ``<cluster>.<hostname>``: ``A`` to the address, or ``CNAME`` to the AWS load
  balancer's host name (``record_type``). It names the location on its own (``curl`` one location).
- a *latency record* ``<hostname>`` of type ``CNAME`` to the address record, ``set_identifier`` =
  the cluster, ``latency_routing_policies`` = the AWS region that stands for the location
  (``latency_regions``), linked to the location's health check. Route 53 answers with the healthy
  record whose region has the lowest latency to the user's resolver.

Why the extra hop: Route 53 requires every record of a latency group to have the same type, and
DNS allows no CNAME beside other records of the same name, so ``A`` records (IP endpoints) and
``CNAME`` records (AWS load balancers) cannot share ``<hostname>``. Pointing every latency record
at a per-location name keeps the group one type (``CNAME``) whatever vendors the workload runs on,
and adding the first AWS location later changes no existing record's type (a type change forces
a replacement that would collide with the records still there). Resolvers follow the CNAME within
the same zone; each answer is cached for ``traffic.ttl``.

Route 53 takes one latency record per AWS region for a name and type, and a location on another
vendor has no AWS region of its own. ``latency_regions`` gives each location a distinct AWS
region: the closest (location, region) pairs are matched first, so a location gets the region
nearest to it unless a location even closer to that region took it (two locations in Frankfurt
get ``eu-central-1`` and ``eu-central-2``). A workload can therefore be steered to at most as many
locations as AWS has regions in the catalog.

**Cloudflare** (load balancing, geo steering; the fleet's ``cloudflare`` provider):

- one monitor per workload (``http``/``https``, the probe path, the workload's port, the interval,
  ``consecutive_down``/``consecutive_up`` = the failure threshold, ``expected_codes`` ``2xx``, and
  a ``Host`` header of the workload's host name, so the probe looks like a user's request and an
  HTTPS probe can validate the certificate the location serves for that name),
- one pool per location (one origin: the cluster's endpoint, IP or host name; the location's
  latitude/longitude; the monitor),
- one load balancer ``<hostname>`` with ``steering_policy`` ``geo``: each of Cloudflare's 13
  regions lists every pool, nearest first (``cloudflare_region_pools``: distance from a
  representative city of the region), so a region fails over to the next-nearest healthy
  location. ``default_pools`` (regions without an entry: none) and ``fallback_pool`` (served when
  every pool is unhealthy) are ordered most central first (``central_order``).

The load balancer is **not proxied** (``proxied=False``, DNS only): like Route 53, Cloudflare only
answers with the location's address and users connect to the location directly, on the
workload's own port (a proxied load balancer carries only HTTP(S), on Cloudflare's fixed port
list, and terminates TLS at Cloudflare's edge), and ``traffic.ttl`` applies (Cloudflare ignores
the TTL of proxied load balancers). A DNS-only load balancer steers by the region of the
Cloudflare data center that answers the user's resolver. Cloudflare's Load Balancing plan sets
the shortest monitor interval it accepts.

Nothing here runs inside an ``apply``: every resource is registered while the program runs, with
the fleet's DNS provider passed explicitly and this component as its parent, so the plan shows
which record (or pool) serves which location.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi

from components.config.model import DnsProvider, TrafficSpec, Vendor
from components.placement.catalog import regions
from components.placement.latency import distance_matrix

TYPE = "edgefleet:traffic:DnsSteering"

RecordType = Literal["A", "CNAME"]

MAX_DNS_NAME = 253
EXPECTED_CODES = "2xx"  # any 2xx answer from the probe path is healthy (Route 53: 2xx and 3xx)
STEERING_POLICY = "geo"
PROXIED = False

# Cloudflare's load balancing regions (https://developers.cloudflare.com/load-balancing/reference/
# region-mapping-api/), each with a representative city near where its users are: the point a
# region's pools are ordered by. The mapping only orders the pools; health decides the failover.
CLOUDFLARE_REGIONS: Mapping[str, tuple[str, float, float]] = {
    "WNAM": ("Los Angeles", 34.0522, -118.2437),  # Western North America
    "ENAM": ("New York", 40.7128, -74.0060),  # Eastern North America
    "WEU": ("Paris", 48.8566, 2.3522),  # Western Europe
    "EEU": ("Warsaw", 52.2297, 21.0122),  # Eastern Europe
    "NSAM": ("Bogota", 4.7110, -74.0721),  # Northern South America
    "SSAM": ("Sao Paulo", -23.5505, -46.6333),  # Southern South America
    "OC": ("Sydney", -33.8688, 151.2093),  # Oceania
    "ME": ("Dubai", 25.2048, 55.2708),  # Middle East
    "NAF": ("Cairo", 30.0444, 31.2357),  # Northern Africa
    "SAF": ("Johannesburg", -26.2041, 28.0473),  # Southern Africa
    "SAS": ("Mumbai", 19.0760, 72.8777),  # Southern Asia
    "SEAS": ("Singapore", 1.3521, 103.8198),  # Southeast Asia
    "NEAS": ("Tokyo", 35.6762, 139.6503),  # Northeast Asia
}


@dataclass(frozen=True)
class SteeredLocation:
    """One placed location of the workload, as DNS steering sees it."""

    cluster: str  # edgefleet cluster name
    vendor: str  # aws | gcp | azure | linode | digitalocean | existing
    lat: float
    lon: float
    target: pulumi.Input[str]  # the location's public endpoint: LB IP, or hostname on aws
    port: int  # the port the LB listens on (the workload's port)


@dataclass(frozen=True)
class DnsSteeringArgs:
    """A public workload's name and the locations behind it, and the DNS provider to steer with."""

    traffic: TrafficSpec  # provider, zone, zone_id, account_id, ttl, health_check
    workload: str
    hostname: str  # e.g. api.edge.example.com
    probe_path: str  # HTTP path the health checks request
    locations: Sequence[SteeredLocation]
    provider: pulumi.ProviderResource  # the fleet's DNS provider (aws us-east-1, or cloudflare)
    tags: Mapping[str, str]


# --- pure helpers (no pulumi resources) ---------------------------------------------------------


def record_type(vendor: str) -> RecordType:
    """The type of a location's address record: ``CNAME`` on AWS (its load balancers have host
    names, never fixed addresses), ``A`` elsewhere (a load balancer IP)."""
    return "CNAME" if vendor == Vendor.AWS.value else "A"


def _aws_distances(points: Sequence[tuple[float, float]]) -> tuple[tuple[str, ...], list[list[float]]]:
    """AWS region ids (sorted) and the km from each point to each of them."""
    catalog = regions(Vendor.AWS.value)
    ids = tuple(r.id for r in catalog)
    km = distance_matrix(list(points), [(r.lat, r.lon) for r in catalog])
    return ids, [[float(d) for d in row] for row in km]


def nearest_aws_region(lat: float, lon: float) -> str:
    """The catalog's AWS region closest to ``(lat, lon)`` (great circle; ties: the smaller id)."""
    ids, km = _aws_distances([(lat, lon)])
    return min(zip(km[0], ids, strict=True))[1]


def latency_regions(locations: Sequence[SteeredLocation]) -> dict[str, str]:
    """cluster -> the AWS region its Route 53 latency record names, a distinct one per location.

    Route 53 takes one latency record per region for a name and type. The closest (location,
    region) pairs are matched first (ties: cluster name, then region id), so each location gets
    its nearest region unless a location closer to that region already has it. ``ValueError``
    when there are more locations than AWS regions.
    """
    ordered = sorted(locations, key=lambda loc: loc.cluster)
    ids, km = _aws_distances([(loc.lat, loc.lon) for loc in ordered])
    if len(ordered) > len(ids):
        raise ValueError(
            f"Route 53 latency routing takes one record per AWS region: {len(ordered)} locations, {len(ids)} regions"
        )
    pairs = sorted((km[i][j], loc.cluster, region) for i, loc in enumerate(ordered) for j, region in enumerate(ids))
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for _, cluster, region in pairs:
        if cluster not in chosen and region not in taken:
            chosen[cluster] = region
            taken.add(region)
    return {loc.cluster: chosen[loc.cluster] for loc in ordered}


def _region_distances(locations: Sequence[SteeredLocation]) -> list[list[float]]:
    """km from each Cloudflare region's city (rows, CLOUDFLARE_REGIONS order) to each location."""
    anchors = [(lat, lon) for _, lat, lon in CLOUDFLARE_REGIONS.values()]
    km = distance_matrix(anchors, [(loc.lat, loc.lon) for loc in locations])
    return [[float(d) for d in row] for row in km]


def cloudflare_region_pools(locations: Sequence[SteeredLocation]) -> dict[str, tuple[str, ...]]:
    """Cloudflare region -> every location's cluster, nearest to the region's city first (ties:
    cluster name): the failover order of the region's pools under geo steering."""
    km = _region_distances(locations)
    return {
        region: tuple(loc.cluster for _, loc in sorted(zip(km[r], locations, strict=True), key=_by_distance))
        for r, region in enumerate(CLOUDFLARE_REGIONS)
    }


def central_order(locations: Sequence[SteeredLocation]) -> tuple[str, ...]:
    """Clusters ordered by their total distance to the 13 Cloudflare regions' cities, smallest
    first (ties: cluster name): the default pools, and the first of them the fallback pool."""
    km = _region_distances(locations)
    totals = [sum(row[i] for row in km) for i in range(len(locations))]
    return tuple(loc.cluster for _, loc in sorted(zip(totals, locations, strict=True), key=_by_distance))


def _by_distance(item: tuple[float, SteeredLocation]) -> tuple[float, str]:
    return item[0], item[1].cluster


def address_name(cluster: str, hostname: str) -> str:
    """A location's own DNS name under the workload's: ``<cluster>.<hostname>``."""
    return f"{cluster}.{hostname}"


def pool_name(cluster: str, hostname: str) -> str:
    """A Cloudflare pool's name (letters, digits, ``-``, ``_``): the host name's labels and the cluster."""
    return f"{hostname.replace('.', '-')}-{cluster}"


def health_check_tags(args: DnsSteeringArgs, cluster: str) -> dict[str, str]:
    """The fleet's tags, ``Name`` (what the Route 53 console lists), the workload and the cluster,
    sorted by key; edgefleet's keys win over a fleet tag of the same name."""
    out = dict(args.tags)
    out.update(
        {"Name": f"{args.workload}-{cluster}", "edgefleet-workload": args.workload, "edgefleet-cluster": cluster}
    )
    return dict(sorted(out.items()))


def _check(args: DnsSteeringArgs) -> tuple[SteeredLocation, ...]:
    """The locations sorted by cluster, after the checks both providers need."""
    locations = tuple(sorted(args.locations, key=lambda loc: loc.cluster))
    if not locations:
        raise ValueError(f"{args.hostname}: DNS steering needs at least one location")
    clusters = [loc.cluster for loc in locations]
    if len(set(clusters)) != len(clusters):
        raise ValueError(f"{args.hostname}: a cluster is listed twice in {clusters}")
    if not args.hostname.endswith("." + args.traffic.zone):
        raise ValueError(f"{args.hostname!r} is not inside the zone {args.traffic.zone!r}")
    known = {v.value for v in Vendor}
    for loc in locations:
        if loc.vendor not in known:
            raise ValueError(f"{loc.cluster}: unknown vendor {loc.vendor!r}")
    return locations


# --- the component ------------------------------------------------------------------------------


class DnsSteering(pulumi.ComponentResource):
    """One public workload's DNS name, steered to its nearest healthy location.

    ``records``: cluster -> the Route 53 latency record or the Cloudflare pool that serves it.
    ``health_checks``: cluster -> the Route 53 health check, or the Cloudflare monitor (one per
    workload, shared by its pools). Route 53 also fills ``addresses`` (cluster -> address record);
    Cloudflare sets ``load_balancer``.
    """

    records: dict[str, pulumi.Resource]
    health_checks: dict[str, pulumi.Resource]
    addresses: dict[str, pulumi.Resource]
    load_balancer: pulumi.Resource | None

    def __init__(self, name: str, args: DnsSteeringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        locations = _check(args)
        route53_regions = latency_regions(locations) if args.traffic.provider is DnsProvider.ROUTE53 else {}
        cloudflare_regions = (
            cloudflare_region_pools(locations) if args.traffic.provider is DnsProvider.CLOUDFLARE else {}
        )
        check = args.traffic.health_check
        facts: dict[str, object] = {
            "workload": args.workload,
            "hostname": args.hostname,
            "provider": args.traffic.provider.value,
            "healthCheck": {
                "protocol": check.protocol,
                "path": args.probe_path,
                "interval": check.interval,
                "failureThreshold": check.failure_threshold,
            },
            "locations": [
                {
                    "cluster": loc.cluster,
                    "vendor": loc.vendor,
                    # Route 53: the latency region; Cloudflare: the regions whose first pool it is.
                    "regions": (
                        [route53_regions[loc.cluster]]
                        if route53_regions
                        else [r for r, pools in cloudflare_regions.items() if pools[0] == loc.cluster]
                    ),
                }
                for loc in locations
            ],
        }
        super().__init__(TYPE, name, facts, opts)
        self.hostname = args.hostname
        self.records = {}
        self.health_checks = {}
        self.addresses = {}
        self.load_balancer = None
        if args.traffic.provider is DnsProvider.ROUTE53:
            self._route53(name, args, locations, route53_regions)
        else:
            self._cloudflare(name, args, locations, cloudflare_regions)
        self.register_outputs(
            {
                "hostname": self.hostname,
                "records": {cluster: record.urn for cluster, record in self.records.items()},
                "healthChecks": {cluster: check.urn for cluster, check in self.health_checks.items()},
            }
        )

    def _child(self, args: DnsSteeringArgs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=args.provider)

    def _route53(
        self, name: str, args: DnsSteeringArgs, locations: Sequence[SteeredLocation], latency: Mapping[str, str]
    ) -> None:
        # Imported here, like Cloudflare below: a fleet without `traffic` never loads pulumi-aws.
        from pulumi_aws import route53  # noqa: PLC0415

        traffic, check = args.traffic, args.traffic.health_check
        for loc in locations:
            kind = record_type(loc.vendor)
            address = address_name(loc.cluster, args.hostname)
            if len(address) > MAX_DNS_NAME:
                raise ValueError(f"{address!r} is longer than {MAX_DNS_NAME} characters")
            health = route53.HealthCheck(
                f"{name}-{loc.cluster}-health",
                route53.HealthCheckArgs(
                    type=check.protocol,
                    fqdn=loc.target if kind == "CNAME" else None,
                    ip_address=loc.target if kind == "A" else None,
                    port=loc.port,
                    resource_path=args.probe_path,
                    request_interval=check.interval,
                    failure_threshold=check.failure_threshold,
                    tags=health_check_tags(args, loc.cluster),
                ),
                opts=self._child(args),
            )
            self.addresses[loc.cluster] = route53.Record(
                f"{name}-{loc.cluster}-address",
                route53.RecordArgs(
                    zone_id=traffic.zone_id,
                    name=address,
                    type=kind,
                    ttl=traffic.ttl,
                    records=[loc.target],
                ),
                opts=self._child(args),
            )
            self.records[loc.cluster] = route53.Record(
                f"{name}-{loc.cluster}-latency",
                route53.RecordArgs(
                    zone_id=traffic.zone_id,
                    name=args.hostname,
                    type="CNAME",
                    ttl=traffic.ttl,
                    records=[address],
                    set_identifier=loc.cluster,
                    latency_routing_policies=[route53.RecordLatencyRoutingPolicyArgs(region=latency[loc.cluster])],
                    health_check_id=health.id,
                ),
                opts=self._child(args),
            )
            self.health_checks[loc.cluster] = health

    def _cloudflare(
        self,
        name: str,
        args: DnsSteeringArgs,
        locations: Sequence[SteeredLocation],
        region_pools: Mapping[str, tuple[str, ...]],
    ) -> None:
        # pulumi-cloudflare 6's package root imports all of its ~780 modules (seconds), so only fleets
        # that steer with Cloudflare load it; ~140 of them warn on load that they are deprecated
        # (none edgefleet uses), which under pytest's `filterwarnings = error` would fail the load.
        from pulumi_cloudflare._inputs import LoadBalancerPoolOriginArgs  # noqa: PLC0415
        from pulumi_cloudflare.load_balancer import LoadBalancer, LoadBalancerArgs  # noqa: PLC0415
        from pulumi_cloudflare.load_balancer_monitor import LoadBalancerMonitor, LoadBalancerMonitorArgs  # noqa: PLC0415
        from pulumi_cloudflare.load_balancer_pool import LoadBalancerPool, LoadBalancerPoolArgs  # noqa: PLC0415

        traffic, check = args.traffic, args.traffic.health_check
        if traffic.account_id is None:
            raise ValueError("Cloudflare load balancing needs traffic.account_id (its monitors and pools live there)")
        ports = sorted({loc.port for loc in locations})
        if len(ports) != 1:
            raise ValueError(f"{args.hostname}: one Cloudflare monitor probes one port; locations listen on {ports}")
        monitor = LoadBalancerMonitor(
            f"{name}-monitor",
            LoadBalancerMonitorArgs(
                account_id=traffic.account_id,
                type=check.protocol.lower(),
                method="GET",
                path=args.probe_path,
                port=ports[0],
                header={"Host": [args.hostname]},
                interval=check.interval,
                consecutive_down=check.failure_threshold,
                consecutive_up=check.failure_threshold,
                expected_codes=EXPECTED_CODES,
                description=f"edgefleet: {args.hostname} ({args.workload})",
            ),
            opts=self._child(args),
        )
        pools: dict[str, LoadBalancerPool] = {}
        for loc in locations:
            pools[loc.cluster] = LoadBalancerPool(
                f"{name}-{loc.cluster}-pool",
                LoadBalancerPoolArgs(
                    account_id=traffic.account_id,
                    name=pool_name(loc.cluster, args.hostname),
                    description=f"edgefleet: {args.hostname} in {loc.cluster} ({loc.vendor})",
                    origins=[LoadBalancerPoolOriginArgs(name=loc.cluster, address=loc.target, port=loc.port)],
                    latitude=loc.lat,
                    longitude=loc.lon,
                    monitor=monitor.id,
                ),
                opts=self._child(args),
            )
            self.records[loc.cluster] = pools[loc.cluster]
            self.health_checks[loc.cluster] = monitor
        central = central_order(locations)
        self.load_balancer = LoadBalancer(
            f"{name}-lb",
            LoadBalancerArgs(
                zone_id=traffic.zone_id,
                name=args.hostname,
                description=f"edgefleet: {args.workload}, geo-steered to {len(locations)} locations",
                default_pools=[pools[cluster].id for cluster in central],
                fallback_pool=pools[central[0]].id,
                steering_policy=STEERING_POLICY,
                region_pools={
                    region: [pools[cluster].id for cluster in clusters] for region, clusters in region_pools.items()
                },
                proxied=PROXIED,
                ttl=traffic.ttl,
            ),
            opts=self._child(args),
        )


def dns_provider(traffic: TrafficSpec, parent: pulumi.Resource) -> pulumi.ProviderResource:
    """The fleet's one explicit DNS provider: AWS in us-east-1 for Route 53 (a global service), or
    Cloudflare (credentials from ``CLOUDFLARE_API_TOKEN``)."""
    if traffic.provider is DnsProvider.ROUTE53:
        from pulumi_aws.provider import Provider as AwsProvider  # noqa: PLC0415
        from pulumi_aws.provider import ProviderArgs as AwsProviderArgs  # noqa: PLC0415

        return AwsProvider(
            "traffic-aws", AwsProviderArgs(region="us-east-1"), opts=pulumi.ResourceOptions(parent=parent)
        )
    from pulumi_cloudflare.provider import Provider, ProviderArgs  # noqa: PLC0415

    return Provider("traffic-cloudflare", ProviderArgs(), opts=pulumi.ResourceOptions(parent=parent))

"""Global DNS steering for one public workload: one name, every placed location behind it, each
location health-checked on the workload's probe path, so DNS stops sending users to a location
that fails its check.

Two providers, chosen by the fleet's ``traffic.provider``:

**Route 53** (geoproximity routing, the fleet's ``aws`` provider in ``us-east-1``). Per location:

- a health check (``HTTP`` or ``HTTPS`` from ``traffic.health_check``) of the location's endpoint:
  ``fqdn`` where the endpoint is a host name (an AWS load balancer), ``ip_address`` where it is an
  address; the workload's port, ``resource_path`` = the probe path, the request interval and
  failure threshold of the config, tagged.
- an *address record* ``<cluster>.<hostname>``: ``A`` to the address, or ``CNAME`` to the AWS load
  balancer's host name (``record_type``). It names the location on its own (``curl`` one location).
- a *geoproximity record* ``<hostname>`` of type ``CNAME`` to the address record,
  ``set_identifier`` = the cluster, ``geoproximity_routing_policy`` = where the location is
  (``geoproximity_location``), linked to the location's health check. Route 53 answers with the
  healthy record whose location is nearest the user.

Where a location is, to Route 53: an AWS cluster by its own region (``aws_region``); every other
location (an ``existing`` site, a GCP/Azure/Linode/DigitalOcean region) by its coordinates
(``coordinates``: latitude and longitude as decimal strings with two decimals, the only precision
Route 53 accepts). ``bias`` is 0 for every location: no location's area is grown or shrunk.

Why geoproximity for every location, AWS ones included: Route 53 latency routing measures latency
to AWS regions only and takes one latency record per region for a name and type, so a location
outside AWS had to borrow a region, and two nearby locations competed for it (Kraków got
``eu-central-2``, Zurich, while Frankfurt kept ``eu-central-1``, so Polish users went to Frankfurt).
Geoproximity was made for this: "If you're using non-AWS resources, specify the latitude and
longitude of the resource" (Route 53 Developer Guide, "Geoproximity routing"). A name cannot mix
the two: the records of one name and type form one group with one routing policy (Developer Guide,
"Values specific for geoproximity records": the same name and type for all the records of the
group), and Route 53 refuses a record beside a group of another policy ("... cannot be created as
other RRSets exist with the same name and type"). So every location of a name is routed by
geoproximity, and the AWS ones name their region, which is what latency routing would have used.
The trade: users go to the nearest location by distance, not by measured latency.

Each location has a place of its own: two locations with the same AWS region, or the same
coordinates at two decimals (about 1 km), are refused (``SteeringError``): Route 53 could not tell
them apart, so one of them would never be the nearest.

Why the extra hop: Route 53 requires every record of a routing group to have the same type, and
DNS allows no CNAME beside other records of the same name, so ``A`` records (IP endpoints) and
``CNAME`` records (AWS load balancers) cannot share ``<hostname>``. Pointing every geoproximity
record at a per-location name keeps the group one type (``CNAME``) whatever vendors the workload
runs on, and adding the first AWS location later changes no existing record's type (a type change
forces a replacement that would collide with the records still there). Resolvers follow the CNAME
within the same zone; each answer is cached for ``traffic.ttl``.

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

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, cast

import pulumi
from pydantic import Field, Strict, StrictBool, StringConstraints, ValidationError

from edgefleet.components.args import DnsSteeringArgs, SteeredLocationArgs, TrafficArgs
from edgefleet.components.config.geoproximity import coordinates
from edgefleet.components.config.model import (
    DNS_ZONE,
    PROBE_PATH,
    TAG_VALUE,
    DnsProvider,
    Name,
    TagKey,
    TrafficSpec,
    Vendor,
    _Model,
)
from edgefleet.components.placement.latency import distance_matrix

# Where Route 53 places a location is the config checks' too (two locations at one place are refused there).
from edgefleet.components.resolve import ArgsError, plain_args
from edgefleet.components.tokens import DNS_STEERING, aliased

TYPE = DNS_STEERING

RecordType = Literal["A", "CNAME"]

MAX_DNS_NAME = 253
EXPECTED_CODES = "2xx"  # any 2xx answer from the probe path is healthy (Route 53: 2xx and 3xx)
STEERING_POLICY = "geo"
PROXIED = False
# Route 53 geoproximity: every location's area as distance alone draws it (bias -99..99 would
# grow or shrink it); coordinates take two decimals (Coordinates API: latitude
# ``[-+]?[0-9]{1,2}(\.[0-9]{0,2})?`` in -90..90, longitude ``[-+]?[0-9]{1,3}(\.[0-9]{0,2})?`` in -180..180).
GEOPROXIMITY = "geoproximity"
BIAS = 0

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
    region: str | None = None  # the vendor's region id; on aws, what Route 53 routes it by


class SteeringError(pulumi.RunError, ValueError):
    """DNS steering cannot be built as configured: one line, which ``edgefleet plan`` prints as
    it does the program's config errors (exit 2), and a ``ValueError`` for library callers."""


@dataclass(frozen=True)
class GeoproximityLocation:
    """Where Route 53 geoproximity routing places a location: its AWS region (``aws_region``), or
    its coordinates as Route 53 takes them (``latitude``/``longitude``, two decimals)."""

    aws_region: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    bias: int = BIAS

    @property
    def place(self) -> str:
        """What tells this location apart from the others of its name (one record per place)."""
        if self.aws_region is not None:
            return f"AWS region {self.aws_region}"
        return f"coordinates {self.latitude},{self.longitude}"

    def wire(self) -> dict[str, object]:
        """The record's ``geoproximityRoutingPolicy`` as the engine receives it (wire names)."""
        if self.aws_region is not None:
            return {"awsRegion": self.aws_region, "bias": self.bias}
        return {"coordinates": [{"latitude": self.latitude, "longitude": self.longitude}], "bias": self.bias}


@dataclass(frozen=True)
class ResolvedSteeringArgs:
    """A public workload's name and the locations behind it, and the DNS provider to steer with."""

    traffic: TrafficSpec  # provider, zone, zone_id, account_id, ttl, health_check
    workload: str
    hostname: str  # e.g. api.edge.example.com
    probe_path: str  # HTTP path the health checks request
    locations: Sequence[SteeredLocation]
    provider: pulumi.ProviderResource | None  # the DNS provider (aws us-east-1, or cloudflare); None: ambient
    tags: Mapping[str, str]
    # A workload placed per window: each location gets a HealthGate (components/traffic/gate.py), so
    # an update that opens it ends, and deletes the closed locations, only once it passes.
    gate: bool = False


# --- pure helpers (no pulumi resources) ---------------------------------------------------------


def record_type(vendor: str) -> RecordType:
    """The type of a location's address record: ``CNAME`` on AWS (its load balancers have host
    names, never fixed addresses), ``A`` elsewhere (a load balancer IP)."""
    return "CNAME" if vendor == Vendor.AWS.value else "A"


def geoproximity_location(loc: SteeredLocation) -> GeoproximityLocation:
    """Where Route 53 places ``loc``: an AWS cluster by its own region, anything else (an
    ``existing`` site, another vendor's region) by its coordinates."""
    if loc.vendor == Vendor.AWS.value:
        if not loc.region:
            raise SteeringError(f"{loc.cluster}: an AWS location needs its region for Route 53 geoproximity")
        return GeoproximityLocation(aws_region=loc.region)
    if not (-90.0 <= loc.lat <= 90.0 and -180.0 <= loc.lon <= 180.0):
        raise SteeringError(f"{loc.cluster}: coordinates {loc.lat},{loc.lon} are outside -90..90, -180..180")
    latitude, longitude = coordinates(loc.lat, loc.lon)  # one spelling per point (poles, antimeridian)
    return GeoproximityLocation(latitude=latitude, longitude=longitude)


def geoproximity_locations(locations: Sequence[SteeredLocation]) -> dict[str, GeoproximityLocation]:
    """cluster -> where Route 53 places it, one place per location (sorted by cluster).

    ``SteeringError`` when two locations have the same place (AWS region, or coordinates at two
    decimals): Route 53 could not tell them apart, so one would never be the nearest.
    """
    out: dict[str, GeoproximityLocation] = {}
    seen: dict[str, str] = {}
    for loc in sorted(locations, key=lambda loc: loc.cluster):
        where = geoproximity_location(loc)
        other = seen.setdefault(where.place, loc.cluster)
        if other != loc.cluster:
            precision = "" if where.aws_region is not None else " (Route 53 takes two decimals)"
            raise SteeringError(
                f"{other} and {loc.cluster} are both at {where.place}{precision} for Route 53 geoproximity "
                "routing, which cannot tell them apart: give one of them its own location, or steer only one"
            )
        out[loc.cluster] = where
    return out


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


def health_check_tags(args: ResolvedSteeringArgs, cluster: str) -> dict[str, str]:
    """The fleet's tags, ``Name`` (what the Route 53 console lists), the workload and the cluster,
    sorted by key; edgefleet's keys win over a fleet tag of the same name."""
    out = dict(args.tags)
    out.update(
        {"Name": f"{args.workload}-{cluster}", "edgefleet-workload": args.workload, "edgefleet-cluster": cluster}
    )
    return dict(sorted(out.items()))


def _check(args: ResolvedSteeringArgs) -> tuple[SteeredLocation, ...]:
    """The locations sorted by cluster, after the checks both providers need."""
    locations = tuple(sorted(args.locations, key=lambda loc: loc.cluster))
    if not locations:
        raise SteeringError(f"{args.hostname}: DNS steering needs at least one location")
    clusters = [loc.cluster for loc in locations]
    if len(set(clusters)) != len(clusters):
        raise SteeringError(f"{args.hostname}: a cluster is listed twice in {clusters}")
    if not args.hostname.endswith("." + args.traffic.zone):
        raise SteeringError(f"{args.hostname!r} is not inside the zone {args.traffic.zone!r}")
    known = {v.value for v in Vendor}
    for loc in locations:
        if loc.vendor not in known:
            raise SteeringError(f"{loc.cluster}: unknown vendor {loc.vendor!r}")
    return locations


def _location_facts(
    loc: SteeredLocation, place: GeoproximityLocation | None, cloudflare_regions: Mapping[str, tuple[str, ...]]
) -> dict[str, object]:
    """What the component declares about one location: how it is routed and, for Route 53, where
    (``geoproximity``, the record's policy in wire names; ``regions``: its AWS region, none for an
    edge site), for Cloudflare the regions whose first pool it is."""
    if place is not None:
        regions = [place.aws_region] if place.aws_region is not None else []
        return {
            "cluster": loc.cluster,
            "vendor": loc.vendor,
            "routing": GEOPROXIMITY,
            "regions": regions,
            "geoproximity": place.wire(),
        }
    return {
        "cluster": loc.cluster,
        "vendor": loc.vendor,
        "routing": STEERING_POLICY,
        "regions": [r for r, pools in cloudflare_regions.items() if pools[0] == loc.cluster],
    }


# --- the component ------------------------------------------------------------------------------


class _Location(_Model):
    """A steered location's plain args (``target`` apart), with the fleet config's types."""

    cluster: Name
    vendor: Annotated[str, StringConstraints(min_length=1, max_length=40)]  # `_check` names an unknown one
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    port: Annotated[int, Strict(), Field(ge=1, le=65535)]
    region: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class _Steering(_Model):
    """DnsSteering's plain args."""

    traffic: TrafficSpec
    workload: Name
    hostname: Annotated[str, StringConstraints(pattern=DNS_ZONE, max_length=253)]
    probe_path: Annotated[str, StringConstraints(pattern=PROBE_PATH)]
    locations: list[_Location]  # `_check` refuses none
    tags: dict[TagKey, Annotated[str, StringConstraints(pattern=TAG_VALUE)]] = Field(default_factory=dict)
    gate: StrictBool = False


def steering_from_args(name: str, args: object, opts: pulumi.ResourceOptions | None) -> ResolvedSteeringArgs:
    """DnsSteering's public args, validated with the fleet config's types; ``ArgsError`` first."""
    if not isinstance(args, Mapping):
        raise ArgsError(f"DnsSteering {name!r}: args must be a mapping (DnsSteeringArgs), got {type(args).__name__}")
    given = args.get("locations")
    raw_locations = list(given) if isinstance(given, list | tuple) else []
    targets = [loc.get("target") if isinstance(loc, Mapping) else None for loc in raw_locations]
    plain = plain_args({k: v for k, v in args.items() if k != "locations"})
    if isinstance(given, list | tuple):
        plain["locations"] = [
            plain_args({k: v for k, v in loc.items() if k != "target"}) if isinstance(loc, Mapping) else loc
            for loc in raw_locations
        ]
    elif given is not None:
        plain["locations"] = given
    try:
        valid = _Steering.model_validate(plain)
    except ValidationError as exc:
        raise ArgsError(
            "\n".join(f"DnsSteering {name!r}: args.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None
    missing = [i for i, target in enumerate(targets) if target is None]
    if missing:
        raise ArgsError(f"DnsSteering {name!r}: args.locations[{missing[0]}].target: give the location's address")
    provider = opts.provider if opts is not None and isinstance(opts.provider, pulumi.ProviderResource) else None
    resolved = ResolvedSteeringArgs(
        traffic=valid.traffic,
        workload=valid.workload,
        hostname=valid.hostname,
        probe_path=valid.probe_path,
        locations=[
            SteeredLocation(
                loc.cluster, loc.vendor, loc.lat, loc.lon, cast("str", target), loc.port, region=loc.region
            )
            for loc, target in zip(valid.locations, targets, strict=True)
        ],
        provider=provider,
        tags=valid.tags,
        gate=valid.gate,
    )
    try:
        _check(resolved)
    except SteeringError as exc:
        raise ArgsError(f"DnsSteering {name!r}: args: {exc}") from None
    return resolved


def steering_args(resolved: ResolvedSteeringArgs) -> DnsSteeringArgs:
    """The fleet's steering of one workload as DnsSteering's public args."""
    locations: list[SteeredLocationArgs] = []
    for loc in resolved.locations:
        entry: SteeredLocationArgs = {
            "cluster": loc.cluster,
            "vendor": loc.vendor,
            "lat": loc.lat,
            "lon": loc.lon,
            "target": loc.target,
            "port": loc.port,
        }
        if loc.region is not None:
            entry["region"] = loc.region
        locations.append(entry)
    return {
        "traffic": cast("TrafficArgs", resolved.traffic.model_dump(mode="json", exclude_none=True)),
        "workload": resolved.workload,
        "hostname": resolved.hostname,
        "probe_path": resolved.probe_path,
        "locations": locations,
        "tags": dict(resolved.tags),
        "gate": resolved.gate,
    }


class DnsSteering(pulumi.ComponentResource):
    """One public workload's DNS name, steered to its nearest healthy location.

    ``records``: cluster -> the Route 53 geoproximity record or the Cloudflare pool that serves it.
    ``health_checks``: cluster -> the Route 53 health check, or the Cloudflare monitor (one per
    workload, shared by its pools). Route 53 also fills ``addresses`` (cluster -> address record);
    Cloudflare sets ``load_balancer``.
    """

    hostname: pulumi.Output[str]
    """The steered name."""

    def __init__(self, name: str, args: DnsSteeringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = steering_from_args(name, args, opts)  # before any resource
        locations = _check(resolved)
        route53 = resolved.traffic.provider is DnsProvider.ROUTE53
        places = geoproximity_locations(locations) if route53 else {}
        cloudflare_regions = (
            cloudflare_region_pools(locations) if resolved.traffic.provider is DnsProvider.CLOUDFLARE else {}
        )
        check = resolved.traffic.health_check
        facts: dict[str, object] = {
            "workload": resolved.workload,
            "hostname": resolved.hostname,
            "provider": resolved.traffic.provider.value,
            "healthCheck": {
                "protocol": check.protocol,
                "path": resolved.probe_path,
                "interval": check.interval,
                "failureThreshold": check.failure_threshold,
            },
            "locations": [_location_facts(loc, places.get(loc.cluster), cloudflare_regions) for loc in locations],
        }
        super().__init__(TYPE, name, facts, aliased(TYPE, opts))
        self.hostname = pulumi.Output.from_input(resolved.hostname)
        self.records: dict[str, pulumi.Resource] = {}
        self.health_checks: dict[str, pulumi.Resource] = {}
        self.addresses: dict[str, pulumi.Resource] = {}
        self.load_balancer: pulumi.Resource | None = None
        self.gates: dict[str, pulumi.Resource] = {}
        if route53:
            self._route53(name, resolved, locations, places)
        else:
            self._cloudflare(name, resolved, locations, cloudflare_regions)
        if resolved.gate:
            self._gates(name, resolved, locations)
        outputs: dict[str, object] = {
            "hostname": self.hostname,
            "records": {cluster: record.urn for cluster, record in self.records.items()},
            "healthChecks": {cluster: check.urn for cluster, check in self.health_checks.items()},
        }
        if self.gates:
            outputs["gates"] = {cluster: gate.urn for cluster, gate in self.gates.items()}
        self.register_outputs(outputs)

    def _gates(self, name: str, args: ResolvedSteeringArgs, locations: Sequence[SteeredLocation]) -> None:
        """One HealthGate per location, after its health check and records (and the load balancer)."""
        from edgefleet.components.traffic.gate import HealthGate  # noqa: PLC0415

        check = args.traffic.health_check
        for loc in locations:
            after = [self.health_checks[loc.cluster], self.records[loc.cluster]]
            after += [r for r in (self.addresses.get(loc.cluster), self.load_balancer) if r is not None]
            url = pulumi.Output.from_input(loc.target).apply(
                functools.partial(_gate_url, check.protocol, port=loc.port, path=args.probe_path)
            )
            self.gates[loc.cluster] = HealthGate(
                f"{name}-{loc.cluster}-healthy",
                url=url,
                host=args.hostname,
                successes=check.failure_threshold,
                interval=check.interval,
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )

    def _child(self, args: ResolvedSteeringArgs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=args.provider)

    def _route53(
        self,
        name: str,
        args: ResolvedSteeringArgs,
        locations: Sequence[SteeredLocation],
        places: Mapping[str, GeoproximityLocation],
    ) -> None:
        # Imported here, like Cloudflare below: a fleet without `traffic` never loads pulumi-aws.
        from pulumi_aws import route53  # noqa: PLC0415

        traffic, check = args.traffic, args.traffic.health_check
        for loc in locations:
            kind = record_type(loc.vendor)
            address = address_name(loc.cluster, args.hostname)
            if len(address) > MAX_DNS_NAME:
                raise SteeringError(f"{address!r} is longer than {MAX_DNS_NAME} characters")
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
            place = places[loc.cluster]
            self.records[loc.cluster] = route53.Record(
                f"{name}-{loc.cluster}-{GEOPROXIMITY}",
                route53.RecordArgs(
                    zone_id=traffic.zone_id,
                    name=args.hostname,
                    type="CNAME",
                    ttl=traffic.ttl,
                    records=[address],
                    set_identifier=loc.cluster,
                    geoproximity_routing_policy=route53.RecordGeoproximityRoutingPolicyArgs(
                        aws_region=place.aws_region,
                        coordinates=(
                            [
                                route53.RecordGeoproximityRoutingPolicyCoordinateArgs(
                                    latitude=place.latitude, longitude=place.longitude
                                )
                            ]
                            if place.latitude is not None and place.longitude is not None
                            else None
                        ),
                        bias=place.bias,
                    ),
                    health_check_id=health.id,
                ),
                opts=self._child(args),
            )
            self.health_checks[loc.cluster] = health

    def _cloudflare(
        self,
        name: str,
        args: ResolvedSteeringArgs,
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
            raise SteeringError(
                "Cloudflare load balancing needs traffic.account_id (its monitors and pools live there)"
            )
        ports = sorted({loc.port for loc in locations})
        if len(ports) != 1:
            raise SteeringError(f"{args.hostname}: one Cloudflare monitor probes one port; locations listen on {ports}")
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


def _gate_url(protocol: str, target: str, *, port: int, path: str) -> str:
    from edgefleet.components.traffic.gate import probe_url  # noqa: PLC0415

    return probe_url(protocol, target, port, path)


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

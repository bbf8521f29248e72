"""Traffic to public workloads: every placed location is health-checked (its load balancer on the
probe path and, where the stack steers DNS to the workload, its record or pool), and no public
workload hangs on one location unless the stack's policy config says so."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from ._util import EDGE_WORKLOAD, declared_placements, dig, is_set, items, of_type, stack_rule

try:  # imported as `edgefleet.policies.rules` (tests, `edgefleet check`)
    from ..locations import ALLOW, PUBLIC_MULTI_LOCATION
except ImportError:  # the pack's own runtime: its directory is on sys.path and `rules` is top-level
    from locations import ALLOW, PUBLIC_MULTI_LOCATION  # type: ignore[no-redef,import-not-found]

DNS_STEERING = "edgefleet:index:DnsSteering"
ROUTE53_RECORD = "aws:route53/record:Record"
GEOPROXIMITY_POLICY = "geoproximityRoutingPolicy"
CLOUDFLARE_POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
ROUTE53 = "route53"
CLOUDFLARE = "cloudflare"
PUBLIC = "public"


def _public(args: StackValidationArgs) -> list[PolicyResource]:
    return [r for r in of_type(args.resources, EDGE_WORKLOAD) if r.props.get("expose") == PUBLIC]


def _under(resource: PolicyResource, ancestor: PolicyResource) -> bool:
    """Whether ``resource`` is ``ancestor``'s child, grandchild, ..."""
    node = resource.parent
    while node is not None:
        if node.urn == ancestor.urn:
            return True
        node = node.parent
    return False


def _steered_by_route53(records: Sequence[PolicyResource], cluster: str, hostname: object) -> str | None:
    """What is missing for ``cluster`` among a DnsSteering's Route 53 records (None: nothing).

    Exactly one record routes a location: the one of the steered name with the cluster as set
    identifier, routed by geoproximity (its AWS region or its coordinates, a place no other record
    of the name has), with a health check.
    """
    named = [r for r in records if is_set(r.props, "setIdentifier")]
    own = [r for r in named if r.props.get("setIdentifier") == cluster]
    if not own:
        return f"no Route 53 geoproximity record with set identifier '{cluster}'"
    if len(own) > 1:
        return f"{len(own)} Route 53 records with set identifier '{cluster}' (one routes a location)"
    place = own[0].props.get(GEOPROXIMITY_POLICY)
    if not (is_set(place, "awsRegion") or is_set(place, "coordinates")):
        return (
            f"its Route 53 record (set identifier '{cluster}') is not routed by geoproximity "
            "(no awsRegion or coordinates)"
        )
    if not is_set(own[0].props, "healthCheckId"):
        return f"its Route 53 geoproximity record (set identifier '{cluster}') has no healthCheckId"
    name = own[0].props.get("name")
    if is_set(own[0].props, "name") and isinstance(name, str) and name != hostname:
        return f"its Route 53 geoproximity record (set identifier '{cluster}') answers for '{name}', not '{hostname}'"
    twins = sorted(  # among the records of its name (and type): one routing group to Route 53
        str(r.props.get("setIdentifier"))
        for r in named
        if r is not own[0]
        and _plain(r.props.get("name")) == _plain(name)
        and _plain(r.props.get("type")) == _plain(own[0].props.get("type"))
        and _same_place(r.props.get(GEOPROXIMITY_POLICY), place)
    )
    if twins:
        return (
            f"its Route 53 geoproximity record (set identifier '{cluster}') has the same place as "
            f"{', '.join(repr(t) for t in twins)}, so Route 53 cannot tell them apart"
        )
    return None


def _same_place(a: object, b: object) -> bool:
    """Whether two geoproximity policies put their records at one place (region or coordinates)."""
    keys = ("awsRegion", "coordinates")
    try:
        return all(_plain(dig(a, key)) == _plain(dig(b, key)) for key in keys)
    except UnknownValueError:  # a place unknown at preview is not known to be the same
        return False


def _plain(value: object) -> object:
    """Props as plain dicts and lists (the engine's proxies compare by identity)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(value[k]) for k in list(value)}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


def _stray_records(args: StackValidationArgs, steering: PolicyResource, clusters: set[str]) -> Iterator[str]:
    """Route 53 records of the steered name that answer for no location of the workload (a set
    identifier that is not one of its clusters): Route 53 would send users there, unchecked."""
    if steering.props.get("provider") != ROUTE53:
        return
    hostname = steering.props.get("hostname")
    for record in of_type(args.resources, ROUTE53_RECORD):
        if not _under(record, steering):
            continue
        identifier = record.props.get("setIdentifier")
        if is_set(record.props, "setIdentifier") and str(identifier) not in clusters:
            yield (
                f"DNS steering for '{hostname}' has a Route 53 record with set identifier '{identifier}', "
                f"which is not a location of workload '{steering.props.get('workload')}' "
                f"({', '.join(sorted(clusters))}): Route 53 would answer with it"
            )


def _steered_by_cloudflare(pools: Sequence[PolicyResource], cluster: str) -> str | None:
    """What is missing for ``cluster`` among a DnsSteering's Cloudflare pools (None: nothing)."""
    own = [p for p in pools if cluster in [dig(o, "name") for o in items(p.props.get("origins"))]]
    if not own:
        return f"no Cloudflare pool with an origin named '{cluster}'"
    if not any(is_set(p.props, "monitor") for p in own):
        return f"its Cloudflare pool '{own[0].props.get('name')}' has no monitor"
    return None


def _dns_gap(args: StackValidationArgs, steering: PolicyResource, cluster: str) -> str | None:
    """What is missing for ``cluster`` in ``steering`` (None: the location is steered, with a check)."""
    provider = steering.props.get("provider")
    if provider == ROUTE53:
        records = [r for r in of_type(args.resources, ROUTE53_RECORD) if _under(r, steering)]
        return _steered_by_route53(records, cluster, steering.props.get("hostname"))
    if provider == CLOUDFLARE:
        pools = [p for p in of_type(args.resources, CLOUDFLARE_POOL) if _under(p, steering)]
        return _steered_by_cloudflare(pools, cluster)
    return f"its DNS steering has an unknown provider {provider!r}"


def _health_checks(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    steerings = of_type(args.resources, DNS_STEERING)
    located: dict[str, set[str]] = {}  # workload -> its clusters, for the records of no location
    for placed in _public(args):
        workload, cluster = str(placed.props.get("workload")), str(placed.props.get("cluster"))
        located.setdefault(workload, set()).add(cluster)
        where = f"public workload '{workload}' in '{cluster}'"
        if not is_set(placed.props, "probePath"):
            yield f"{where} has no HTTP probe path (`probe_path`) for its health checks", placed.urn
        yield from _steered(args, steerings, workload, cluster, placed.urn)
    declared = declared_placements(args.resources)
    for workload, placement in (declared or {}).items():
        located.setdefault(workload, set()).update(
            str(dig(loc, "cluster")) for loc in items(placement.get("locations"))
        )
    for steering in steerings:
        clusters = located.get(str(steering.props.get("workload")))
        if clusters:
            yield from ((message, steering.urn) for message in _stray_records(args, steering, clusters))
    if declared is None:
        return
    # A slice: DNS steering lives in the global slice, the locations in the others. The global
    # slice checks every location of every workload the fleet steers.
    for workload, placement in sorted(declared.items()):
        mine = [s for s in steerings if s.props.get("workload") == workload]
        if not mine or placement.get("expose") != PUBLIC:
            continue
        for location in items(placement.get("locations")):
            yield from _steered(args, mine, workload, str(dig(location, "cluster")), mine[0].urn)


def _steered(
    args: StackValidationArgs, steerings: Sequence[PolicyResource], workload: str, cluster: str, urn: str
) -> Iterator[tuple[str, str | None]]:
    """A violation for each of ``workload``'s DNS steerings that leaves ``cluster`` unchecked."""
    where = f"public workload '{workload}' in '{cluster}'"
    for steering in steerings:
        if steering.props.get("workload") != workload:
            continue
        gap = _dns_gap(args, steering, cluster)
        if gap is not None:
            hostname = steering.props.get("hostname")
            yield f"{where} is not health-checked by DNS steering for '{hostname}': {gap}", urn


def _allowed(args: StackValidationArgs) -> set[str]:
    return {str(name) for name in items(args.get_config().get(ALLOW))}


def _multi_location(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    placements: dict[str, list[PolicyResource]] = {}
    for placed in _public(args):
        placements.setdefault(str(placed.props.get("workload")), []).append(placed)
    locations = {w: sorted({str(p.props.get("cluster")) for p in placed}) for w, placed in placements.items()}
    declared = declared_placements(args.resources)
    if declared is not None:  # a slice: the whole fleet's locations, most of them in other stacks
        locations = {
            w: sorted(str(dig(loc, "cluster")) for loc in items(p.get("locations")))
            for w, p in declared.items()
            if p.get("expose") == PUBLIC
        }
    allowed = _allowed(args)
    for workload in sorted(locations):
        clusters = locations[workload]
        if len(clusters) < PUBLIC_MULTI_LOCATION.min_locations and workload not in allowed:
            urn = placements[workload][0].urn if workload in placements else None
            yield (
                f"public workload '{workload}' runs in one location only ('{clusters[0]}'): "
                "users have nowhere to go when it fails",
                urn,
            )


TRAFFIC_PUBLIC_HEALTH_CHECK = stack_rule(
    name="traffic-public-health-check",
    description="Every location of a public workload is health-checked: the workload has an HTTP probe path, "
    "and where DNS steers to it, each location has exactly one geoproximity record with a health check "
    "(Route 53) or a pool with a monitor (Cloudflare).",
    severity=Severity.HIGH,
    remediation="Set the workload's `probe_path`; steer DNS with edgefleet's `traffic` config (DnsSteering "
    "checks every placed location) rather than records made by hand.",
    check=_health_checks,
)
TRAFFIC_PUBLIC_MULTI_LOCATION = stack_rule(
    name=PUBLIC_MULTI_LOCATION.rule,  # placement honours it where mandatory (policies/locations.py)
    description="A public workload runs in at least two locations, unless listed in this rule's `allow`.",
    severity=Severity.MEDIUM,
    remediation="Raise the workload's `placement.min_locations` to 2, or list the workload in "
    "`policies/config/<stack>.json` under this rule's `allow`.",
    check=_multi_location,
    config_schema=PolicyConfigSchema(
        properties={
            ALLOW: {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Public workloads allowed to run in one location.",
            }
        }
    ),
)

RESOURCE_POLICIES: tuple[ResourceValidationPolicy, ...] = ()  # every rule here reads the whole stack
STACK_POLICIES = (TRAFFIC_PUBLIC_HEALTH_CHECK, TRAFFIC_PUBLIC_MULTI_LOCATION)

"""Traffic to public workloads: every placed location is health-checked (its load balancer on the
probe path and, where the stack steers DNS to the workload, its record or pool), and no public
workload hangs on one location unless the stack's policy config says so."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
)

from ._util import EDGE_WORKLOAD, declared_placements, dig, is_set, items, of_type, stack_rule

try:  # imported as `policies.rules` (tests, `edgefleet check`)
    from ..locations import ALLOW, PUBLIC_MULTI_LOCATION
except ImportError:  # the pack's own runtime: its directory is on sys.path and `rules` is top-level
    from locations import ALLOW, PUBLIC_MULTI_LOCATION  # type: ignore[no-redef,import-not-found]

DNS_STEERING = "edgefleet:traffic:DnsSteering"
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


def _steered_by_route53(records: Sequence[PolicyResource], cluster: str) -> str | None:
    """What is missing for ``cluster`` among a DnsSteering's Route 53 records (None: nothing).

    Exactly one record routes a location: the one with the cluster as set identifier, routed by
    geoproximity (its AWS region or its coordinates), with a health check.
    """
    own = [r for r in records if r.props.get("setIdentifier") == cluster]
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
    return None


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
        return _steered_by_route53(records, cluster)
    if provider == CLOUDFLARE:
        pools = [p for p in of_type(args.resources, CLOUDFLARE_POOL) if _under(p, steering)]
        return _steered_by_cloudflare(pools, cluster)
    return f"its DNS steering has an unknown provider {provider!r}"


def _health_checks(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    steerings = of_type(args.resources, DNS_STEERING)
    for placed in _public(args):
        workload, cluster = str(placed.props.get("workload")), str(placed.props.get("cluster"))
        where = f"public workload '{workload}' in '{cluster}'"
        if not is_set(placed.props, "probePath"):
            yield f"{where} has no HTTP probe path (`probe_path`) for its health checks", placed.urn
        yield from _steered(args, steerings, workload, cluster, placed.urn)
    declared = declared_placements(args.resources)
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

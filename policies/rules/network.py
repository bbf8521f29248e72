"""Network isolation: default-deny where the CNI enforces NetworkPolicy, no egress to everywhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from ._util import EDGE_WORKLOAD, cluster_of, clusters_by_name, dig, items, of_type, resource_rule, stack_rule
from .kubernetes import NAMESPACE, NETCHECK_NAMESPACE, NETCHECK_PROBE_PORT, SYSTEM_NAMESPACES, netcheck_made

try:  # imported as `edgefleet.policies.rules` (tests, `edgefleet check`)
    from ..netranges import Network, read_cidr, subtract, world_exposure
except ImportError:  # the pack's own runtime: its directory is on sys.path and `rules` is top-level
    from netranges import Network, read_cidr, subtract, world_exposure  # type: ignore[import-not-found,no-redef]

try:  # imported as `edgefleet.policies.rules` (tests, `edgefleet check`)
    from ..locations import NETWORK_ISOLATION
except ImportError:  # the pack's own runtime: its directory is on sys.path and `rules` is top-level
    from locations import NETWORK_ISOLATION  # type: ignore[no-redef,import-not-found]

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
# What "open to the world" means for every rule that judges an allow-list (policies/netranges.py).
WORLD = (
    "open to the world: the union of the ranges (IPv6 ranges that embed IPv4 counted as the IPv4 they reach) "
    "covers all of IPv4 or of IPv6, or at least 1/8 of a family's public addresses"
)


def open_to_world(values: Iterable[object]) -> str | None:
    """What an allow-list opens to the world (``0.0.0.0/0``, ``all of IPv4 (...)``, ``43% of public
    IPv4 (...)``, an entry no parser reads as a range), judged on the union of its ranges; None for a
    real allow-list. An unknown entry raises ``UnknownValueError``, as the engine expects."""
    exposure, unreadable = world_exposure([str(v) for v in values if v is not None])
    found = [*exposure, *(f"{t!r} (not an IP range)" for t in unreadable)]
    return ", ".join(found) if found else None


def _is_default_deny(props: Mapping[str, object]) -> bool:
    spec = props.get("spec")
    if not isinstance(spec, Mapping):
        return False
    selects_all = not dig(spec, "podSelector", "matchLabels") and not dig(spec, "podSelector", "matchExpressions")
    types = {str(t) for t in items(spec.get("policyTypes"))}
    return selects_all and types == {"Ingress", "Egress"} and not spec.get("ingress") and not spec.get("egress")


def _default_deny(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    by_urn = {r.urn: r for r in args.resources}
    policies = of_type(args.resources, NETWORK_POLICY)
    for ns in of_type(args.resources, NAMESPACE):
        name = dig(ns.props, "metadata", "name")
        if name in SYSTEM_NAMESPACES:
            continue
        cluster = cluster_of(ns, by_urn)
        if cluster is None or dig(cluster.props, "cni", "networkPolicy") is not True:
            continue  # not enforced there; network-isolation-for-public-workloads covers public ones
        provider = ns.provider.urn if ns.provider else None
        if not any(
            dig(p.props, "metadata", "namespace") == name
            and (p.provider.urn if p.provider else None) == provider
            and _is_default_deny(p.props)
            for p in policies
        ):
            yield (
                f"namespace '{name}' in cluster '{cluster.props.get('name')}' has no default-deny NetworkPolicy",
                ns.urn,
            )


# netcheck's WAN probes: to this stack's other clusters, and to the other slices' clusters.
NETCHECK_WAN_POLICIES = frozenset({"allow-netprobe-wan", "allow-netprobe-wan-slices"})


def _netcheck_wan_probe_rule(args: ResourceValidationArgs, rule: object) -> bool:
    """netcheck's WAN probes may send UDP to the probe port of any address (an AWS load balancer
    is known by name only): that rule of its own NetworkPolicy, and only with exactly that port."""
    ports = items(dig(rule, "ports"))
    return (
        netcheck_made(args.urn)
        and dig(args.props, "metadata", "name") in NETCHECK_WAN_POLICIES
        and dig(args.props, "metadata", "namespace") == NETCHECK_NAMESPACE
        and len(ports) == 1
        and dig(ports[0], "protocol") == "UDP"
        and dig(ports[0], "port") == NETCHECK_PROBE_PORT
        and all(dig(peer, "ipBlock") is not None for peer in items(dig(rule, "to")))
    )


def _egress_everywhere(args: ResourceValidationArgs) -> Iterator[str]:
    """Judged on the union of every ipBlock of every egress rule (each ``cidr`` minus its ``except``);
    an egress rule without ``to`` peers allows every destination."""
    name = dig(args.props, "metadata", "name")
    texts: list[str] = []
    unreadable: list[str] = []
    for i, rule in enumerate(items(dig(args.props, "spec", "egress"))):
        if items(dig(rule, "to")) and _netcheck_wan_probe_rule(args, rule):
            continue
        peers = items(dig(rule, "to"))
        if not peers:
            yield f"NetworkPolicy '{name}' allows egress to every destination (spec.egress[{i}] has no `to`)"
            continue
        for peer in peers:
            cidr = dig(peer, "ipBlock", "cidr")
            if cidr is None:
                continue
            network = read_cidr(str(cidr))
            if network is None:
                unreadable.append(str(cidr))
                continue
            holes: list[Network] = [
                h for h in (read_cidr(str(e)) for e in items(dig(peer, "ipBlock", "except"))) if h is not None
            ]
            texts.extend(str(cidr) if part == network else str(part) for part in subtract(network, holes))
    exposure, _ = world_exposure(texts)
    found = [*exposure, *(f"{t!r} (not an IP range)" for t in unreadable)]
    if found:
        yield f"NetworkPolicy '{name}' allows egress to {', '.join(found)}"


def _public_isolation(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    clusters = clusters_by_name(args.resources)
    for placed in of_type(args.resources, EDGE_WORKLOAD):
        if placed.props.get("expose") != "public":
            continue
        cluster = clusters.get(str(placed.props.get("cluster")))
        if cluster is not None and dig(cluster.props, "cni", "networkPolicy") is False:
            yield (
                f"public workload '{placed.props.get('workload')}' runs in '{cluster.props.get('name')}', whose CNI "
                f"({dig(cluster.props, 'cni', 'plugin')}) does not enforce its NetworkPolicies",
                placed.urn,
            )


NETWORK_DEFAULT_DENY = stack_rule(
    name="network-default-deny-per-namespace",
    description="Every workload namespace has a default-deny NetworkPolicy where the CNI enforces NetworkPolicy.",
    severity=Severity.HIGH,
    remediation="Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] to the namespace.",
    check=_default_deny,
)
NETWORK_NO_EGRESS_EVERYWHERE = resource_rule(
    name="network-no-egress-to-everywhere",
    description="NetworkPolicies do not allow egress to the whole internet: no egress rule without `to`, and no "
    f"ipBlocks (cidr minus except) whose union is {WORLD}.",
    severity=Severity.HIGH,
    remediation="List the destinations the workload needs in `egress_cidrs`, not the whole internet.",
    types=(NETWORK_POLICY,),
    check=_egress_everywhere,
)
NETWORK_PUBLIC_ISOLATION = stack_rule(
    name=NETWORK_ISOLATION.rule,  # placement honours it where mandatory (policies/locations.py)
    description="Public workloads run only where the CNI enforces their NetworkPolicies.",
    severity=Severity.MEDIUM,
    remediation="Use cilium or calico on that cluster, or keep the public workload off it (`selector`, "
    "`requires: [network-policy]`).",
    check=_public_isolation,
)

RESOURCE_POLICIES = (NETWORK_NO_EGRESS_EVERYWHERE,)
STACK_POLICIES = (NETWORK_DEFAULT_DENY, NETWORK_PUBLIC_ISOLATION)

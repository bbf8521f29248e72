"""Network isolation: default-deny where the CNI enforces NetworkPolicy, no egress to everywhere."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from ._util import EDGE_WORKLOAD, cluster_of, clusters_by_name, dig, items, of_type, resource_rule, stack_rule
from .kubernetes import NAMESPACE, SYSTEM_NAMESPACES

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
EVERYWHERE = frozenset({"0.0.0.0/0", "::/0"})


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


def _egress_everywhere(args: ResourceValidationArgs) -> Iterator[str]:
    for rule in items(dig(args.props, "spec", "egress")):
        for peer in items(dig(rule, "to")):
            cidr = dig(peer, "ipBlock", "cidr")
            if cidr in EVERYWHERE:
                yield f"NetworkPolicy '{dig(args.props, 'metadata', 'name')}' allows egress to {cidr}"


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
    description="NetworkPolicies do not allow egress to 0.0.0.0/0 or ::/0.",
    severity=Severity.HIGH,
    remediation="List the destinations the workload needs in `egress_cidrs`, not the whole internet.",
    types=(NETWORK_POLICY,),
    check=_egress_everywhere,
)
NETWORK_PUBLIC_ISOLATION = stack_rule(
    name="network-isolation-for-public-workloads",
    description="Public workloads run only where the CNI enforces their NetworkPolicies.",
    severity=Severity.MEDIUM,
    remediation="Use cilium or calico on that cluster, or keep the public workload off it (`selector`, "
    "`requires: [network-policy]`).",
    check=_public_isolation,
)

RESOURCE_POLICIES = (NETWORK_NO_EGRESS_EVERYWHERE,)
STACK_POLICIES = (NETWORK_DEFAULT_DENY, NETWORK_PUBLIC_ISOLATION)

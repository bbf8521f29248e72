"""LKE control plane security, on pulumi-linode's own type token and wire property names.

``linode:index/lkeCluster:LkeCluster`` (pulumi-linode 6.x schema) takes ``k8sVersion`` and
``controlPlane: {acl: {enabled, addresses: [{ipv4s, ipv6s}]}, highAvailability, auditLogsEnabled}``.
A highly available control plane for prod is configuration (edgefleet's `ha`), not a policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationPolicy

from ._util import dig, items, minor_version, resource_rule
from .network import WORLD, open_to_world

LKE_CLUSTER = "linode:index/lkeCluster:LkeCluster"

# The oldest Kubernetes minor still maintained upstream: 1.34 reached end of life on 2026-10-27,
# 1.35 does on 2027-02-28 (https://kubernetes.io/releases/). LKE keeps a minor only "until shortly
# before the upstream release reaches EOL" (LKE versioning and life cycle policy,
# https://techdocs.akamai.com/cloud-computing/docs/lke-versioning-and-life-cycle-policy).
# Raise it when a minor reaches upstream end of life.
LKE_MIN_VERSION = (1, 35)


def _acl(args: ResourceValidationArgs) -> Iterator[str]:
    acl = dig(args.props, "controlPlane", "acl")
    if dig(acl, "enabled") is not True:
        yield (
            f"LKE cluster '{args.name}' has no control-plane ACL, so its API server accepts any address "
            "(controlPlane.acl.enabled is not true)"
        )
        return
    addresses = dig(acl, "addresses")
    blocks = [addresses] if isinstance(addresses, Mapping) else items(addresses)  # older schemas: one block
    reported = False
    for i, block in enumerate(blocks):
        for key in ("ipv4s", "ipv6s"):
            everywhere = open_to_world(items(dig(block, key)))
            if everywhere:
                reported = True
                yield (
                    f"LKE cluster '{args.name}' control-plane ACL allows {everywhere} "
                    f"(controlPlane.acl.addresses[{i}].{key})"
                )
    # The ACL admits the union of every block and key: the world split across them is the world.
    everywhere = open_to_world(a for block in blocks for key in ("ipv4s", "ipv6s") for a in items(dig(block, key)))
    if everywhere and not reported:
        yield f"LKE cluster '{args.name}' control-plane ACL allows {everywhere} (controlPlane.acl.addresses)"


def _supported_version(args: ResourceValidationArgs) -> Iterator[str]:
    version = args.props.get("k8sVersion")  # unknown at preview: UnknownValueError, as the engine expects
    minor = minor_version(version)
    oldest = ".".join(map(str, LKE_MIN_VERSION))
    if minor is None:
        yield f"LKE cluster '{args.name}' has k8sVersion {version!r}, not a Kubernetes version such as {oldest}"
    elif minor < LKE_MIN_VERSION:
        yield (
            f"LKE cluster '{args.name}' runs Kubernetes {version}, older than {oldest}, "
            "the oldest version still maintained (k8sVersion)"
        )


LKE_CONTROL_PLANE_ACL = resource_rule(
    name="lke-control-plane-acl",
    description=f"The LKE control plane ACL is on, and its addresses (every block) are not {WORLD}.",
    severity=Severity.CRITICAL,
    remediation="Set controlPlane.acl: {enabled: true, addresses: [{ipv4s: [<admin networks>]}]} "
    "(edgefleet: `endpoint` in the cluster config).",
    types=(LKE_CLUSTER,),
    check=_acl,
)
LKE_SUPPORTED_VERSION = resource_rule(
    name="lke-supported-version",
    description=f"The cluster runs Kubernetes {LKE_MIN_VERSION[0]}.{LKE_MIN_VERSION[1]} or newer, "
    "a minor still maintained upstream and on LKE.",
    severity=Severity.HIGH,
    remediation="Upgrade k8sVersion (edgefleet: `kubernetes_version`) one minor at a time.",
    types=(LKE_CLUSTER,),
    check=_supported_version,
)

RESOURCE_POLICIES = (LKE_CONTROL_PLANE_ACL, LKE_SUPPORTED_VERSION)
STACK_POLICIES: tuple[StackValidationPolicy, ...] = ()  # every rule here reads one resource

"""DOKS control plane security, on pulumi-digitalocean's own type token and wire property names.

``digitalocean:index/kubernetesCluster:KubernetesCluster`` (pulumi-digitalocean 4.x schema) takes
``version`` (a slug such as "1.35.1-do.0"), ``autoUpgrade``, ``surgeUpgrade`` and
``controlPlaneFirewall: {enabled, allowedAddresses}``.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationPolicy

from ._util import dig, items, minor_version, resource_rule
from .network import WORLD, open_to_world

DOKS_CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"

# The oldest Kubernetes minor still maintained upstream: 1.34 reached end of life on 2026-10-27,
# 1.35 does on 2027-02-28 (https://kubernetes.io/releases/). DigitalOcean upgrades clusters off a
# minor once it is no longer supported (https://docs.digitalocean.com/products/kubernetes/how-to/upgrade-cluster/).
# Raise it when a minor reaches upstream end of life.
DOKS_MIN_VERSION = (1, 35)


def _firewall(args: ResourceValidationArgs) -> Iterator[str]:
    firewall = args.props.get("controlPlaneFirewall")
    if dig(firewall, "enabled") is not True:
        yield (
            f"DOKS cluster '{args.name}' has no control-plane firewall, so its API server accepts any address "
            "(controlPlaneFirewall.enabled is not true)"
        )
        return
    everywhere = open_to_world(items(dig(firewall, "allowedAddresses")))
    if everywhere:
        yield (
            f"DOKS cluster '{args.name}' control-plane firewall allows {everywhere} "
            "(controlPlaneFirewall.allowedAddresses)"
        )


def _supported_version(args: ResourceValidationArgs) -> Iterator[str]:
    version = args.props.get("version")  # unknown at preview: UnknownValueError, as the engine expects
    if version == "latest":
        return
    minor = minor_version(version)
    oldest = ".".join(map(str, DOKS_MIN_VERSION))
    if minor is None:
        yield (
            f"DOKS cluster '{args.name}' has version {version!r}, not a Kubernetes version slug such as {oldest}.1-do.0"
        )
    elif minor < DOKS_MIN_VERSION:
        yield (
            f"DOKS cluster '{args.name}' runs Kubernetes {version}, older than {oldest}, "
            "the oldest version still maintained (version)"
        )


def _auto_upgrade(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("autoUpgrade") is not True:
        yield (
            f"DOKS cluster '{args.name}' does not install Kubernetes patch releases automatically "
            "(autoUpgrade is not true)"
        )


def _surge_upgrade(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("surgeUpgrade") is False:
        yield (
            f"DOKS cluster '{args.name}' upgrades nodes without surge nodes, taking capacity down "
            "(surgeUpgrade is false)"
        )


DOKS_CONTROL_PLANE_FIREWALL = resource_rule(
    name="doks-control-plane-firewall",
    description=f"The DOKS control-plane firewall is on, and its allowed addresses are not {WORLD}.",
    severity=Severity.CRITICAL,
    remediation="Set controlPlaneFirewall: {enabled: true, allowedAddresses: [<admin networks>]} "
    "(edgefleet: `endpoint` in the cluster config).",
    types=(DOKS_CLUSTER,),
    check=_firewall,
)
DOKS_SUPPORTED_VERSION = resource_rule(
    name="doks-supported-version",
    description=f"The cluster runs Kubernetes {DOKS_MIN_VERSION[0]}.{DOKS_MIN_VERSION[1]} or newer, "
    "a minor still maintained upstream and on DigitalOcean.",
    severity=Severity.HIGH,
    remediation="Upgrade `version` (edgefleet: `kubernetes_version`) one minor at a time.",
    types=(DOKS_CLUSTER,),
    check=_supported_version,
)
DOKS_AUTO_UPGRADE = resource_rule(
    name="doks-auto-upgrade",
    description="The cluster installs Kubernetes patch releases automatically in its maintenance window.",
    severity=Severity.MEDIUM,
    remediation="Set autoUpgrade: true (and a maintenancePolicy window).",
    types=(DOKS_CLUSTER,),
    check=_auto_upgrade,
)
DOKS_SURGE_UPGRADE = resource_rule(
    name="doks-surge-upgrade",
    description="Upgrades bring up new nodes before draining old ones (surge upgrades stay on).",
    severity=Severity.LOW,
    remediation="Remove surgeUpgrade: false (the default is true).",
    types=(DOKS_CLUSTER,),
    check=_surge_upgrade,
)

RESOURCE_POLICIES = (DOKS_CONTROL_PLANE_FIREWALL, DOKS_SUPPORTED_VERSION, DOKS_AUTO_UPGRADE, DOKS_SURGE_UPGRADE)
STACK_POLICIES: tuple[StackValidationPolicy, ...] = ()  # every rule here reads one resource

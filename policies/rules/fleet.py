"""Fleet-level rules that need the whole stack: residency, vendor diversity, capabilities,
pinned charts, tags on cloud resources, secret kubeconfigs."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from ._util import (
    CLUSTER_TYPES,
    EDGE_WORKLOAD,
    clusters_by_name,
    declared_placements,
    dig,
    items,
    of_type,
    resource_rule,
    stack_rule,
)

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")

# Cloud resource types that take tags/labels, and the input that holds them. A vendor module adds
# its types here as it lands; a type not listed is not checked.
TAGGABLE: dict[str, str] = {
    "aws:eks/cluster:Cluster": "tags",
    "aws:eks/nodeGroup:NodeGroup": "tags",
    "aws:eks/addon:Addon": "tags",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": "tags",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "tags",
    "aws:ec2/vpc:Vpc": "tags",
    "aws:ec2/subnet:Subnet": "tags",
    "aws:ec2/internetGateway:InternetGateway": "tags",
    "aws:ec2/natGateway:NatGateway": "tags",
    "aws:ec2/eip:Eip": "tags",
    "aws:ec2/routeTable:RouteTable": "tags",
    "aws:ec2/launchTemplate:LaunchTemplate": "tags",
    "aws:ec2/securityGroup:SecurityGroup": "tags",
    "aws:kms/key:Key": "tags",
    "aws:iam/role:Role": "tags",
    "aws:cloudwatch/logGroup:LogGroup": "tags",
    "gcp:container/cluster:Cluster": "resourceLabels",
    "gcp:kms/cryptoKey:CryptoKey": "labels",
    "azure-native:resources:ResourceGroup": "tags",
    "azure-native:containerservice:ManagedCluster": "tags",
    "azure-native:containerservice:AgentPool": "tags",
    "azure-native:network:VirtualNetwork": "tags",
    "azure-native:managedidentity:UserAssignedIdentity": "tags",
    "azure-native:operationalinsights:Workspace": "tags",
    "linode:index/lkeCluster:LkeCluster": "tags",
    "digitalocean:index/kubernetesCluster:KubernetesCluster": "tags",
    "digitalocean:index/kubernetesNodePool:KubernetesNodePool": "tags",
    "digitalocean:index/vpc:Vpc": "",  # DigitalOcean VPCs take no tags
}
REQUIRED_TAGS = ("owner", "environment")


def _tag_keys(value: Any) -> set[str]:
    """Tags as a mapping (AWS, GCP labels, Azure) or as `key:value` strings (Linode, DigitalOcean)."""
    if isinstance(value, Mapping):
        return {str(k) for k in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return {str(v).split(":", 1)[0] for v in value}
    return set()


def _tagged(args: ResourceValidationArgs) -> Iterator[str]:
    prop = TAGGABLE.get(args.resource_type)
    if not prop:
        return
    missing = [t for t in REQUIRED_TAGS if t not in _tag_keys(args.props.get(prop))]
    if missing:
        yield f"{args.resource_type} '{args.name}' has no {' or '.join(missing)} tag in `{prop}`"


def _placements(args: StackValidationArgs) -> Iterator[tuple[Any, Any]]:
    clusters = clusters_by_name(args.resources)
    for placed in of_type(args.resources, EDGE_WORKLOAD):
        yield placed, clusters.get(str(placed.props.get("cluster")))


def _residency(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    for placed, cluster in _placements(args):
        allowed = placed.props.get("allowedCountries")
        if allowed is None or cluster is None:
            continue
        country = cluster.props.get("country")
        if country not in [str(c) for c in items(allowed)]:
            yield (
                f"workload '{placed.props.get('workload')}' runs in '{cluster.props.get('name')}' ({country}), "
                "outside its residency",
                placed.urn,
            )


def _diversity(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    vendors: dict[str, set[str]] = {}
    minimum: dict[str, int] = {}
    first: dict[str, str | None] = {}
    declared = declared_placements(args.resources)
    if declared is not None:  # a slice: the fleet's placements, most of them in other stacks
        for name, placement in declared.items():
            first[name] = None
            minimum[name] = int(placement.get("minVendors") or 1)
            vendors[name] = {str(dig(loc, "vendor")) for loc in items(placement.get("locations"))}
    for placed, cluster in _placements(args):
        name = str(placed.props.get("workload"))
        first[name] = placed.urn if first.get(name) is None else first[name]
        if declared is not None:
            continue
        minimum[name] = int(placed.props.get("minVendors") or 1)
        if cluster is not None:
            vendors.setdefault(name, set()).add(str(cluster.props.get("vendor")))
    for name in sorted(minimum):
        have = vendors.get(name, set())
        if len(have) < minimum[name]:
            yield (
                f"workload '{name}' runs on {len(have)} vendor(s) ({', '.join(sorted(have))}), "
                f"fewer than its min_vendors {minimum[name]}",
                first[name],
            )


def _capabilities(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    for placed, cluster in _placements(args):
        if "network-policy" not in [str(r) for r in items(placed.props.get("requires"))] or cluster is None:
            continue
        if dig(cluster.props, "cni", "networkPolicy") is not True:
            yield (
                f"workload '{placed.props.get('workload')}' requires network-policy but runs in "
                f"'{cluster.props.get('name')}', whose CNI does not enforce it",
                placed.urn,
            )


def _chart_pinned(args: ResourceValidationArgs) -> Iterator[str]:
    version = args.props.get("version")
    if not isinstance(version, str) or not EXACT_VERSION.fullmatch(version):
        yield f"Helm release '{args.props.get('chart')}' has version {version!r}, not an exact chart version"


def _kubeconfig_secret(args: ResourceValidationArgs) -> Iterator[str]:
    if "kubeconfig" not in [str(o) for o in args.opts.additional_secret_outputs or []]:
        yield f"cluster '{args.name}' does not declare its kubeconfig output secret"


FLEET_RESIDENCY = stack_rule(
    name="fleet-residency",
    description="Every placed workload runs in a country its `residency` admits.",
    severity=Severity.CRITICAL,
    remediation="Remove the cluster from the workload's placement, or change `residency` on purpose.",
    check=_residency,
)
FLEET_VENDOR_DIVERSITY = stack_rule(
    name="fleet-vendor-diversity",
    description="Every workload runs on at least `min_vendors` distinct vendors.",
    severity=Severity.HIGH,
    remediation="Add clusters of another vendor to the workload's eligible set, or lower `min_vendors`.",
    check=_diversity,
)
FLEET_NETWORK_POLICY_REQUIRED = stack_rule(
    name="fleet-network-policy-required",
    description="A workload that `requires: [network-policy]` never runs where the CNI does not enforce it.",
    severity=Severity.CRITICAL,
    remediation="Run cilium or calico on that cluster, or keep the workload off it.",
    check=_capabilities,
)
FLEET_HELM_CHART_PINNED = resource_rule(
    name="fleet-helm-chart-pinned",
    description="Every Helm release pins an exact chart version.",
    severity=Severity.HIGH,
    remediation="Set `version` to an exact chart version such as 1.20.0.",
    types=(HELM_RELEASE,),
    check=_chart_pinned,
)
FLEET_CLOUD_RESOURCES_TAGGED = resource_rule(
    name="fleet-cloud-resources-tagged",
    description="Every taggable cloud resource carries the owner and environment tags.",
    severity=Severity.MEDIUM,
    remediation="Pass the fleet's tags to the resource (edgefleet's vendor components do).",
    types=tuple(TAGGABLE),
    check=_tagged,
)
FLEET_KUBECONFIG_SECRET = resource_rule(
    name="fleet-kubeconfig-secret",
    description="Every cluster component declares its kubeconfig output secret.",
    severity=Severity.HIGH,
    remediation="Build the component with additional_secret_outputs=['kubeconfig'] (components.contract).",
    types=None,
    check=lambda args: _kubeconfig_secret(args) if args.resource_type in CLUSTER_TYPES else iter(()),
)

RESOURCE_POLICIES = (FLEET_HELM_CHART_PINNED, FLEET_CLOUD_RESOURCES_TAGGED, FLEET_KUBECONFIG_SECRET)
STACK_POLICIES = (FLEET_RESIDENCY, FLEET_VENDOR_DIVERSITY, FLEET_NETWORK_POLICY_REQUIRED)

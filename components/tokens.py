"""The public components' type tokens, and the tokens they had before (aliased, so no stack
deployed under the old ones sees a replacement).

Pulumi's component analyzer puts every type of a package in module ``index``
(``edgefleet:index:EksCluster``); before issue 16 the components had their own modules
(``edgefleet:clusters:EksCluster``). Each component registers ``aliases=[Alias(type_=old)]``
(``aliased``); the engine then carries every child's URN over too (tests/test_public_api.py
replays the URNs of the example stacks as deployed before).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pulumi

PACKAGE = "edgefleet"

EKS_CLUSTER = "edgefleet:index:EksCluster"
GKE_CLUSTER = "edgefleet:index:GkeCluster"
AKS_CLUSTER = "edgefleet:index:AksCluster"
LKE_CLUSTER = "edgefleet:index:LkeCluster"
DOKS_CLUSTER = "edgefleet:index:DoksCluster"
EXISTING_CLUSTER = "edgefleet:index:ExistingCluster"
CNI_INSTALL = "edgefleet:index:CniInstall"
EDGE_WORKLOAD = "edgefleet:index:EdgeWorkload"
DNS_STEERING = "edgefleet:index:DnsSteering"
FLEET = "edgefleet:index:Fleet"

CLUSTER_TYPES = frozenset({EKS_CLUSTER, GKE_CLUSTER, AKS_CLUSTER, LKE_CLUSTER, DOKS_CLUSTER, EXISTING_CLUSTER})

# token -> the token it had before (and keeps as an alias)
PREVIOUS: Mapping[str, str] = MappingProxyType(
    {
        EKS_CLUSTER: "edgefleet:clusters:EksCluster",
        GKE_CLUSTER: "edgefleet:clusters:GkeCluster",
        AKS_CLUSTER: "edgefleet:clusters:AksCluster",
        LKE_CLUSTER: "edgefleet:clusters:LkeCluster",
        DOKS_CLUSTER: "edgefleet:clusters:DoksCluster",
        EXISTING_CLUSTER: "edgefleet:clusters:ExistingCluster",
        CNI_INSTALL: "edgefleet:cni:CniInstall",
        EDGE_WORKLOAD: "edgefleet:workloads:EdgeWorkload",
        DNS_STEERING: "edgefleet:traffic:DnsSteering",
        FLEET: "edgefleet:fleet:Fleet",
    }
)


def aliased(token: str, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """``opts`` plus an alias from ``token``'s previous type."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=PREVIOUS[token])]))

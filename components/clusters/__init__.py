"""Cluster components, one module per vendor, each meeting ``components.contract``."""

from collections.abc import Callable, Mapping

import pulumi

from components.clusters.existing import ExistingCluster
from components.config.model import Vendor
from components.contract import ClusterArgs, KubernetesCluster

ClusterFactory = Callable[[str, ClusterArgs, pulumi.ResourceOptions], KubernetesCluster]

VENDORS: Mapping[Vendor, ClusterFactory] = {
    Vendor.EXISTING: ExistingCluster,
}

__all__ = ["VENDORS", "ClusterFactory", "ExistingCluster"]

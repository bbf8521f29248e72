"""Cluster components, one module per vendor, each meeting ``edgefleet.components.contract``.

Vendor modules are imported on first use, so a fleet of `existing` clusters never loads a cloud
SDK (pulumi-aws alone takes seconds to import).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast

import pulumi

from edgefleet.components.clusters.existing import ExistingCluster
from edgefleet.components.config.model import Vendor
from edgefleet.components.contract import KubernetesCluster

# A vendor's cluster component, called with a resource name, its public args (the vendor's
# ``*ClusterArgs``, ``components/args.py``) and options.
ClusterFactory = Callable[[str, Mapping[str, Any], pulumi.ResourceOptions], KubernetesCluster]

# vendor -> (module, component class)
COMPONENTS: Mapping[Vendor, tuple[str, str]] = MappingProxyType(
    {
        Vendor.AWS: ("edgefleet.components.clusters.aws", "EksCluster"),
        Vendor.GCP: ("edgefleet.components.clusters.gcp", "GkeCluster"),
        Vendor.AZURE: ("edgefleet.components.clusters.azure", "AksCluster"),
        Vendor.LINODE: ("edgefleet.components.clusters.linode", "LkeCluster"),
        Vendor.DIGITALOCEAN: ("edgefleet.components.clusters.digitalocean", "DoksCluster"),
        Vendor.EXISTING: ("edgefleet.components.clusters.existing", "ExistingCluster"),
    }
)


def component_class(vendor: Vendor) -> type[pulumi.ComponentResource]:
    """The component class that builds ``vendor``'s clusters (imports its module)."""
    module, name = COMPONENTS[vendor]
    return cast("type[pulumi.ComponentResource]", getattr(importlib.import_module(module), name))


class _Lazy:
    """A factory that imports its vendor's module on first call."""

    def __init__(self, vendor: Vendor) -> None:
        self.vendor = vendor

    def __call__(self, name: str, args: Mapping[str, Any], opts: pulumi.ResourceOptions) -> KubernetesCluster:
        factory = cast("ClusterFactory", component_class(self.vendor))
        return factory(name, args, opts)


VENDORS: Mapping[Vendor, ClusterFactory] = MappingProxyType({vendor: _Lazy(vendor) for vendor in COMPONENTS})

__all__ = ["COMPONENTS", "VENDORS", "ClusterFactory", "ExistingCluster", "component_class"]

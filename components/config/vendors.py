"""Per-vendor facts the config resolves against: machine sizes, default versions, the default
dataplane. Pure data, no ``pulumi``: the config model, the docs and the components share it.

Node sizes map to a current general-purpose machine type of each vendor, available in every
region of the catalog (``docs/fleet-config.md`` shows this table):

| size   | aws          | gcp           | azure            | linode         | digitalocean   |
|--------|--------------|---------------|------------------|----------------|----------------|
| small  | m6i.large    | e2-standard-2 | Standard_D2s_v5  | g6-standard-2  | s-2vcpu-4gb    |
| medium | m6i.xlarge   | e2-standard-4 | Standard_D4s_v5  | g6-standard-4  | s-4vcpu-8gb    |
| large  | m6i.2xlarge  | e2-standard-8 | Standard_D8s_v5  | g6-standard-8  | s-8vcpu-16gb   |
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from edgefleet.components.config.model import NodeSize, Vendor

CLOUD_VENDORS: tuple[Vendor, ...] = (Vendor.AWS, Vendor.GCP, Vendor.AZURE, Vendor.LINODE, Vendor.DIGITALOCEAN)

MACHINE_TYPES: Mapping[Vendor, Mapping[NodeSize, str]] = MappingProxyType(
    {
        Vendor.AWS: {NodeSize.SMALL: "m6i.large", NodeSize.MEDIUM: "m6i.xlarge", NodeSize.LARGE: "m6i.2xlarge"},
        Vendor.GCP: {
            NodeSize.SMALL: "e2-standard-2",
            NodeSize.MEDIUM: "e2-standard-4",
            NodeSize.LARGE: "e2-standard-8",
        },
        Vendor.AZURE: {
            NodeSize.SMALL: "Standard_D2s_v5",
            NodeSize.MEDIUM: "Standard_D4s_v5",
            NodeSize.LARGE: "Standard_D8s_v5",
        },
        Vendor.LINODE: {
            NodeSize.SMALL: "g6-standard-2",
            NodeSize.MEDIUM: "g6-standard-4",
            NodeSize.LARGE: "g6-standard-8",
        },
        Vendor.DIGITALOCEAN: {
            NodeSize.SMALL: "s-2vcpu-4gb",
            NodeSize.MEDIUM: "s-4vcpu-8gb",
            NodeSize.LARGE: "s-8vcpu-16gb",
        },
    }
)

# The Kubernetes minor version a cluster gets when the config names none: one every vendor
# supports (and at or above the policy pack's minimums). GKE follows its release channel instead,
# unless a version is given, which then becomes the control plane's minimum version.
DEFAULT_KUBERNETES_VERSION: Mapping[Vendor, str | None] = MappingProxyType(
    {
        Vendor.AWS: "1.35",
        Vendor.GCP: None,
        Vendor.AZURE: "1.35",
        Vendor.LINODE: "1.35",
        Vendor.DIGITALOCEAN: "1.35",
    }
)

# The node pool a cloud cluster gets when the config lists none (two nodes for availability).
DEFAULT_POOL: Mapping[str, object] = MappingProxyType({"name": "general", "size": "small", "min": 2, "max": 4})


def machine_type(vendor: Vendor, size: NodeSize | None, explicit: str | None) -> str:
    """The machine type of a node pool: the explicit one, else the size's (default ``small``)."""
    if explicit is not None:
        return explicit
    return MACHINE_TYPES[vendor][size or NodeSize.SMALL]

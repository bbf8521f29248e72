"""edgefleet's public components, for Pulumi programs (``import edgefleet.components.index as ef``).

Each takes ``(name, args, opts)`` with typed args (``components/args.py``), validates them with
the fleet config's own rules before registering anything, and registers under the type token
``edgefleet:index:<Name>`` (the module Pulumi's component analyzer puts every type in). The same
classes are served to other languages as a component package (``PulumiPlugin.yaml``,
``edgefleet/provider``) and documented in ``docs/components.md``.

Importing this module loads every vendor's SDK (seconds for pulumi-aws); import a vendor's module
(``edgefleet.components.clusters.aws``) to load one.
"""

from edgefleet.components.args import (
    AksClusterArgs,
    ClusterArgs,
    CniArgs,
    CniInstallArgs,
    ConfigFileArgs,
    DnsSteeringArgs,
    DoksClusterArgs,
    EdgeWorkloadArgs,
    EksClusterArgs,
    EmptyDirArgs,
    EndpointArgs,
    ExistingClusterArgs,
    FleetArgs,
    FleetClusterArgs,
    FleetConfigArgs,
    GkeClusterArgs,
    HealthCheckArgs,
    HelmArgs,
    LkeClusterArgs,
    LocationArgs,
    NetworkArgs,
    NodePoolArgs,
    OverrideArgs,
    PlacementArgs,
    PortArgs,
    ResourcesArgs,
    RolloutArgs,
    SteeredLocationArgs,
    TrafficArgs,
    VolumeArgs,
    WorkloadArgs,
    WorkloadClusterArgs,
)
from edgefleet.components.clusters.aws import EksCluster
from edgefleet.components.clusters.azure import AksCluster
from edgefleet.components.clusters.digitalocean import DoksCluster
from edgefleet.components.clusters.existing import ExistingCluster
from edgefleet.components.clusters.gcp import GkeCluster
from edgefleet.components.clusters.linode import LkeCluster
from edgefleet.components.cni.install import CniInstall
from edgefleet.components.fleet import Fleet
from edgefleet.components.resolve import ArgsError
from edgefleet.components.traffic.dns import DnsSteering
from edgefleet.components.workloads import EdgeWorkload

# The components the package serves, in the order the docs list them.
COMPONENTS = (
    EksCluster,
    GkeCluster,
    AksCluster,
    LkeCluster,
    DoksCluster,
    ExistingCluster,
    CniInstall,
    EdgeWorkload,
    DnsSteering,
    Fleet,
)

__all__ = [
    "COMPONENTS",
    "AksCluster",
    "AksClusterArgs",
    "ArgsError",
    "ClusterArgs",
    "CniArgs",
    "CniInstall",
    "CniInstallArgs",
    "ConfigFileArgs",
    "DnsSteering",
    "DnsSteeringArgs",
    "DoksCluster",
    "DoksClusterArgs",
    "EdgeWorkload",
    "EdgeWorkloadArgs",
    "EksCluster",
    "EksClusterArgs",
    "EmptyDirArgs",
    "EndpointArgs",
    "ExistingCluster",
    "ExistingClusterArgs",
    "Fleet",
    "FleetArgs",
    "FleetClusterArgs",
    "FleetConfigArgs",
    "GkeCluster",
    "GkeClusterArgs",
    "HealthCheckArgs",
    "HelmArgs",
    "LkeCluster",
    "LkeClusterArgs",
    "LocationArgs",
    "NetworkArgs",
    "NodePoolArgs",
    "OverrideArgs",
    "PlacementArgs",
    "PortArgs",
    "ResourcesArgs",
    "RolloutArgs",
    "SteeredLocationArgs",
    "TrafficArgs",
    "VolumeArgs",
    "WorkloadArgs",
    "WorkloadClusterArgs",
]

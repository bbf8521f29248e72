"""The fleet config: model, loaders and errors. Never imports ``pulumi``."""

from edgefleet.components.config.errors import ConfigError, ConfigIssue, Position, StackFileError
from edgefleet.components.config.model import (
    Cluster,
    CniInfo,
    CniPlugin,
    Expose,
    FleetSpec,
    ResolvedLocation,
    Strategy,
    Vendor,
    Workload,
    WorkloadSpec,
)
from edgefleet.components.config.parse import load_stack, parse_fleet, split_evenly
from edgefleet.components.config.source import FLEET_KEY, PROJECT, StackSource, parse_stack_text, read_stack_file

__all__ = [
    "FLEET_KEY",
    "PROJECT",
    "Cluster",
    "CniInfo",
    "CniPlugin",
    "ConfigError",
    "ConfigIssue",
    "Expose",
    "FleetSpec",
    "Position",
    "ResolvedLocation",
    "StackFileError",
    "StackSource",
    "Strategy",
    "Vendor",
    "Workload",
    "WorkloadSpec",
    "load_stack",
    "parse_fleet",
    "parse_stack_text",
    "read_stack_file",
    "split_evenly",
]

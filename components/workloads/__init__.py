"""Workloads: one ``EdgeWorkload`` per (workload, cluster)."""

from edgefleet.components.workloads.edge_workload import (
    EdgeWorkload,
    ResolvedWorkloadArgs,
    Site,
    ingress_address,
    load_balancer_annotations,
)

__all__ = ["EdgeWorkload", "ResolvedWorkloadArgs", "Site", "ingress_address", "load_balancer_annotations"]

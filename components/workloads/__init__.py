"""Workloads: one ``EdgeWorkload`` per (workload, cluster)."""

from edgefleet.components.workloads.edge_workload import (
    EdgeWorkload,
    EdgeWorkloadArgs,
    Site,
    ingress_address,
    load_balancer_annotations,
)

__all__ = ["EdgeWorkload", "EdgeWorkloadArgs", "Site", "ingress_address", "load_balancer_annotations"]

"""Workloads: one ``EdgeWorkload`` per (workload, cluster)."""

from components.workloads.edge_workload import EdgeWorkload, EdgeWorkloadArgs

__all__ = ["EdgeWorkload", "EdgeWorkloadArgs"]

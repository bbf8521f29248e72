"""``edgefleet export ocm``: one Open Cluster Management ``ManifestWork`` per managed cluster, holding that
cluster's workload objects exactly as the plan has them (its own replica counts included).

A ``ManifestWork`` lives in the hub's namespace named after the managed cluster; the cluster's work agent
applies its ``spec.workload.manifests`` in order (the Namespace first) and reports their status back. A
``ManifestWorkReplicaSet`` would stamp one identical set of manifests onto every cluster a Placement picks,
so it cannot give each cluster its own replica count: edgefleet writes ManifestWorks (guide:
``docs/engines.md``; CRD: ``work.open-cluster-management.io/v1``, copy in ``tests/ref/ocm/``).

Pure: no Pulumi import, no cluster access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgefleet.export import ExportError, PlacedWorkload, identity

__all__ = ["CLUSTER_NAME_MAX", "MANIFEST_WORK_NAME", "WORK_API", "manifest_works", "ocm_files"]

WORK_API = "work.open-cluster-management.io/v1"
# A ManagedCluster's name is also its namespace on the hub: an RFC 1123 label.
CLUSTER_NAME_MAX = 63
MANIFEST_WORK_NAME = "edgefleet-workloads"

# Resource names (plural, lower case) of the kinds a workload holds, for manifestConfigs.
_RESOURCES = {
    "Deployment": ("apps", "deployments"),
}


def _feedback(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """Status fed back to the hub for a Deployment: replicas, readyReplicas, availableReplicas
    (``WellKnownStatus``), so ``kubectl get manifestwork -o yaml`` shows each cluster's serving count."""
    _, kind, namespace, name = identity(obj)
    if kind not in _RESOURCES:
        return None
    group, resource = _RESOURCES[kind]
    return {
        "resourceIdentifier": {"group": group, "resource": resource, "namespace": namespace, "name": name},
        "feedbackRules": [{"type": "WellKnownStatus"}],
    }


def manifest_works(
    workloads: Sequence[PlacedWorkload], members: Mapping[str, str], *, stack: str = ""
) -> dict[str, dict[str, Any]]:
    """Managed cluster name -> its ManifestWork: every workload's objects in that cluster, by workload
    name, each workload's cluster-scoped objects (its Namespace) before its namespaced ones."""
    if not workloads:
        raise ExportError("the plan places no workload on the stack's clusters; nothing to export")
    per_cluster: dict[str, list[dict[str, Any]]] = {}
    ours: dict[str, str] = {}
    for w in workloads:  # sorted by name
        for cluster in w.clusters:
            per_cluster.setdefault(members[cluster], []).extend(w.objects[cluster])
            ours[members[cluster]] = cluster
    works = {}
    for member in sorted(per_cluster):
        manifests = per_cluster[member]
        seen: set[tuple[str, str, str, str]] = set()
        for obj in manifests:
            ident = identity(obj)
            if ident in seen:
                raise ExportError(
                    f"cluster {ours[member]}: two workloads both hold {ident[1]} {ident[2]}/{ident[3]}; rename one"
                )
            seen.add(ident)
        labels = {"app.kubernetes.io/managed-by": "edgefleet"}
        if stack:
            labels["edgefleet.dev/stack"] = stack
        configs = [c for c in (_feedback(o) for o in manifests) if c is not None]
        spec: dict[str, Any] = {
            "workload": {"manifests": manifests},
            # Deleting the ManifestWork deletes its objects on the cluster (and waits for them).
            "deleteOption": {"propagationPolicy": "Foreground"},
        }
        if configs:
            spec["manifestConfigs"] = configs
        works[member] = {
            "apiVersion": WORK_API,
            "kind": "ManifestWork",
            "metadata": {
                "name": MANIFEST_WORK_NAME,
                "namespace": member,
                "labels": labels,
                "annotations": {"edgefleet.dev/cluster": ours[member]},
            },
            "spec": spec,
        }
    return works


def ocm_files(
    workloads: Sequence[PlacedWorkload], members: Mapping[str, str], *, stack: str = ""
) -> dict[str, dict[str, Any]]:
    """Every file of the export: ``<managed cluster>/ManifestWork-edgefleet-workloads.yaml``."""
    return {
        f"{member}/ManifestWork-{MANIFEST_WORK_NAME}.yaml": work
        for member, work in manifest_works(workloads, members, stack=stack).items()
    }

"""The typed pulumi-kubernetes class of each kind a ``manifests`` workload may hold.

Each object is registered as the typed resource of its kind (``kubernetes:apps/v1:Deployment``,
...), one resource per object, so a real ``pulumi preview`` lists every object, the offline plan
shows the same registrations, and the policy pack judges each like edgefleet's own objects.
``edgefleet.components.config.manifests.KINDS`` is the same table as data (a test keeps them equal).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

Factory = Callable[..., pulumi.CustomResource]

KIND_CLASSES: dict[tuple[str, str], Factory] = {
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}
# Objects the pods read: registered before the scale target, which depends on them.
POD_INPUT_KINDS = frozenset({"ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim"})


def snake(key: str) -> str:
    """A top-level field as the typed class' keyword (``stringData`` -> ``string_data``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def register(
    resource_name: str,
    api_version: str,
    kind: str,
    body: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> pulumi.CustomResource:
    """Register one object (``body``: its fields besides apiVersion and kind, as written, camelCase
    below the top level) with the typed class of its kind."""
    factory = KIND_CLASSES[(api_version, kind)]
    return factory(resource_name, opts=opts, **{snake(k): v for k, v in body.items()})

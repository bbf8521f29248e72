"""Kubernetes workload rules: a passing Deployment, then one change per failing case."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy
from pulumi_policy.proxy import UnknownValueError

from edgefleet.policies.rules import kubernetes as k
from tests.policies.harness import UNKNOWN, changed, resource_args, violations

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONTAINER = "spec.template.spec.containers.0"
HAPPY: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "api"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 65532,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "api",
                        "image": "ghcr.io/acme/api:1.4.2",
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "resources": {
                            "requests": {"cpu": "250m", "memory": "256Mi"},
                            "limits": {"cpu": "250m", "memory": "256Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "privileged": False,
                            "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "readinessProbe": {"tcpSocket": {"port": "http"}},
                        "livenessProbe": {"tcpSocket": {"port": "http"}},
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    },
}
WORKLOAD_RULES = [p for p in k.RESOURCE_POLICIES if p.name not in ("k8s-public-workload-replicas",)]


def check(policy: Policy, props: dict[str, Any], resource_type: str = DEPLOYMENT) -> list[str]:
    return violations(policy, resource_args(resource_type, props, name="api"))


@pytest.mark.parametrize("policy", WORKLOAD_RULES, ids=lambda p: p.name)
def test_the_hardened_deployment_passes(policy: Policy) -> None:
    assert check(policy, HAPPY) == []


FAILING = [
    (k.K8S_NO_PRIVILEGED, f"{CONTAINER}.securityContext.privileged", True, ["container 'api' runs privileged"]),
    (
        k.K8S_NO_PRIVILEGE_ESCALATION,
        f"{CONTAINER}.securityContext.allowPrivilegeEscalation",
        None,
        ["container 'api' does not set securityContext.allowPrivilegeEscalation: false"],
    ),
    (
        k.K8S_RUN_AS_NON_ROOT,
        f"{CONTAINER}.securityContext.runAsUser",
        0,
        ["container 'api' runs as user 0 (root)"],
    ),
    (
        k.K8S_READ_ONLY_ROOT_FILESYSTEM,
        f"{CONTAINER}.securityContext.readOnlyRootFilesystem",
        False,
        ["container 'api' has a writable root filesystem"],
    ),
    (
        k.K8S_DROP_ALL_CAPABILITIES,
        f"{CONTAINER}.securityContext.capabilities",
        {"drop": ["NET_RAW"], "add": ["SYS_ADMIN"]},
        ["container 'api' does not drop ALL capabilities", "container 'api' adds capabilities SYS_ADMIN"],
    ),
    (
        k.K8S_SECCOMP_RUNTIME_DEFAULT,
        "spec.template.spec.securityContext.seccompProfile.type",
        "Unconfined",
        ["container 'api' has seccomp profile Unconfined; use RuntimeDefault"],
    ),
    (k.K8S_NO_HOST_NAMESPACES, "spec.template.spec.hostNetwork", True, ["the pod sets hostNetwork: true"]),
    (
        k.K8S_NO_HOST_PORTS,
        f"{CONTAINER}.ports.0",
        {"containerPort": 8080, "hostPort": 8080},
        ["container 'api' binds host port 8080"],
    ),
    (
        k.K8S_NO_HOST_PATH_VOLUMES,
        "spec.template.spec.volumes.0",
        {"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}},
        ["volume 'docker' mounts a host path (/var/run/docker.sock)"],
    ),
    (
        k.K8S_NO_TOKEN_AUTOMOUNT,
        "spec.template.spec.automountServiceAccountToken",
        None,
        ["the pod mounts a service account token: set automountServiceAccountToken: false"],
    ),
    (
        k.K8S_REQUESTS_AND_LIMITS,
        f"{CONTAINER}.resources",
        {"requests": {"cpu": "1"}},
        ["container 'api' has no resources requests.memory, limits.cpu, limits.memory"],
    ),
    (k.K8S_PROBES, f"{CONTAINER}.livenessProbe", None, ["container 'api' has no livenessProbe"]),
    (
        k.K8S_IMAGE_PINNED,
        f"{CONTAINER}.image",
        "ghcr.io/acme/api:latest",
        ["container 'api' image 'ghcr.io/acme/api:latest' uses the mutable tag `latest`"],
    ),
    (
        k.K8S_IMAGE_PINNED,
        f"{CONTAINER}.image",
        "ghcr.io/acme/api",
        ["container 'api' image 'ghcr.io/acme/api' has no tag or digest"],
    ),
    (
        k.K8S_NO_DEFAULT_NAMESPACE,
        "metadata.namespace",
        None,
        ["Deployment 'api' is in the default namespace"],
    ),
]


@pytest.mark.parametrize(("policy", "path", "value", "expected"), FAILING, ids=lambda x: getattr(x, "name", None))
def test_one_change_fails_with_the_exact_message(policy: Policy, path: str, value: Any, expected: list[str]) -> None:
    assert check(policy, changed(HAPPY, path, value)) == expected


def test_root_by_default_when_run_as_non_root_is_missing_everywhere() -> None:
    props = changed(
        changed(HAPPY, "spec.template.spec.securityContext.runAsNonRoot", None),
        f"{CONTAINER}.securityContext.runAsNonRoot",
        None,
    )
    assert check(k.K8S_RUN_AS_NON_ROOT, props) == ["container 'api' may run as root: set runAsNonRoot: true"]


def test_a_digest_pins_an_image() -> None:
    props = changed(HAPPY, f"{CONTAINER}.image", "ghcr.io/acme/api@sha256:" + "a" * 64)
    assert check(k.K8S_IMAGE_PINNED, props) == []


def test_cronjob_pod_spec_is_found() -> None:
    cron = {
        "metadata": {"name": "nightly", "namespace": "jobs"},
        "spec": {"jobTemplate": {"spec": {"template": HAPPY["spec"]["template"]}}},
    }
    bad = changed(cron, "spec.jobTemplate.spec.template.spec.hostPID", True)
    assert check(k.K8S_NO_HOST_NAMESPACES, bad, "kubernetes:batch/v1:CronJob") == ["the pod sets hostPID: true"]
    assert check(k.K8S_PROBES, cron, "kubernetes:batch/v1:CronJob") == []  # jobs end; no probes needed


def test_an_unknown_image_is_reported_as_unknown_not_as_a_violation() -> None:
    with pytest.raises(UnknownValueError):
        check(k.K8S_IMAGE_PINNED, changed(HAPPY, f"{CONTAINER}.image", UNKNOWN))


def test_other_types_are_skipped() -> None:
    assert check(k.K8S_NO_PRIVILEGED, {"spec": {"hostNetwork": True}}, "kubernetes:core/v1:ConfigMap") == []


NAMESPACE = {"metadata": {"name": "api", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}


def test_namespace_must_enforce_restricted() -> None:
    ns_type = "kubernetes:core/v1:Namespace"
    assert check(k.K8S_NAMESPACE_RESTRICTED, NAMESPACE, ns_type) == []
    baseline = changed(NAMESPACE, "metadata.labels", {"pod-security.kubernetes.io/enforce": "baseline"})
    assert check(k.K8S_NAMESPACE_RESTRICTED, baseline, ns_type) == [
        "namespace 'api' enforces Pod Security level baseline, not restricted"
    ]
    assert check(k.K8S_NAMESPACE_RESTRICTED, {"metadata": {"name": "kube-flannel"}}, ns_type) == []


def test_pdb_must_allow_a_disruption() -> None:
    pdb_type = "kubernetes:policy/v1:PodDisruptionBudget"
    assert check(k.K8S_PDB_ALLOWS_DISRUPTION, {"spec": {"maxUnavailable": 1}}, pdb_type) == []
    assert check(k.K8S_PDB_ALLOWS_DISRUPTION, {"spec": {"maxUnavailable": 0}}, pdb_type) == [
        "maxUnavailable 0 blocks every voluntary disruption (node drains, upgrades)"
    ]


def test_public_workload_needs_two_replicas_per_location() -> None:
    facts = {"workload": "api", "cluster": "shop-1", "replicas": 2, "expose": "public"}
    edge = "edgefleet:index:EdgeWorkload"
    assert check(k.K8S_PUBLIC_WORKLOAD_REPLICAS, facts, edge) == []
    assert check(k.K8S_PUBLIC_WORKLOAD_REPLICAS, {**facts, "expose": "internal", "replicas": 1}, edge) == []
    assert check(k.K8S_PUBLIC_WORKLOAD_REPLICAS, {**facts, "replicas": 1}, edge) == [
        "public workload 'api' has 1 replica in shop-1: one pod restart takes the location down"
    ]

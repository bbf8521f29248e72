"""EdgeWorkload: Pod Security "restricted", probes, resources, Service, PDB, NetworkPolicies."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import FleetSpec
from edgefleet.engine import ProgramRun
from tests.conftest import plan_text, stack_text

FLEET = """
environment: test
owner: platform-team
defaults: {cni: {plugin: calico, installed: true}}
clusters:
  - {vendor: existing, name: shop-1, location: {city: Hamburg, country: DE}}
  - {vendor: existing, name: shop-2, location: {city: Vienna, country: AT}}
workloads:
  - name: web
    image: ghcr.io/acme/web:2.0.1
    port: 8443
    replicas: 5
    resources: {cpu: 500m, memory: 1Gi}
    expose: public
    probe_path: /ready
  - name: worker
    image: ghcr.io/acme/worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    port: 9000
    replicas: 1
    expose: internal
    egress_cidrs: [10.1.0.0/16]
    placement: {strategy: pinned, clusters: [shop-2]}
"""


@pytest.fixture(scope="module")
def planned() -> tuple[FleetSpec, ProgramRun]:
    return plan_text(stack_text(FLEET), "test")


def objects(run: ProgramRun, kind: str, workload: str, cluster: str) -> list[dict[str, Any]]:
    return [
        dict(r.inputs)
        for r in run.registrations
        if r.type.endswith(f":{kind}") and r.name.startswith(f"{workload}-{cluster}-")
    ]


def test_namespace_enforces_pod_security_restricted(planned: tuple[FleetSpec, ProgramRun]) -> None:
    (ns,) = objects(planned[1], "Namespace", "web", "shop-1")
    labels = ns["metadata"]["labels"]
    assert ns["metadata"]["name"] == "web"
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels["owner"] == "platform-team"
    assert labels["environment"] == "test"
    assert labels["edgefleet-cluster"] == "shop-1"


def test_deployment_is_hardened(planned: tuple[FleetSpec, ProgramRun]) -> None:
    (dep,) = objects(planned[1], "Deployment", "web", "shop-1")
    pod = dep["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["image"] == "ghcr.io/acme/web:2.0.1"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["ports"] == [{"containerPort": 8443, "name": "http", "protocol": "TCP"}]
    assert all("hostPath" not in v for v in pod["volumes"])


def test_replicas_split_evenly_and_sum_exactly(planned: tuple[FleetSpec, ProgramRun]) -> None:
    counts = {
        cluster: objects(planned[1], "Deployment", "web", cluster)[0]["spec"]["replicas"]
        for cluster in ("shop-1", "shop-2")
    }
    assert counts == {"shop-1": 3, "shop-2": 2}
    (worker,) = objects(planned[1], "Deployment", "worker", "shop-2")
    assert worker["spec"]["replicas"] == 1
    assert objects(planned[1], "Deployment", "worker", "shop-1") == []


def test_service_type_follows_expose(planned: tuple[FleetSpec, ProgramRun]) -> None:
    (web,) = objects(planned[1], "Service", "web", "shop-1")
    (worker,) = objects(planned[1], "Service", "worker", "shop-2")
    assert web["spec"]["type"] == "LoadBalancer"
    assert worker["spec"]["type"] == "ClusterIP"
    assert web["spec"]["ports"] == [{"name": "http", "port": 8443, "protocol": "TCP", "targetPort": "http"}]
    assert web["spec"]["selector"] == {"app.kubernetes.io/instance": "web", "app.kubernetes.io/name": "web"}


def test_tcp_probe_without_a_probe_path(planned: tuple[FleetSpec, ProgramRun]) -> None:
    (worker,) = objects(planned[1], "Deployment", "worker", "shop-2")
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["tcpSocket"] == {"port": "http"}


def test_pdb_allows_one_disruption(planned: tuple[FleetSpec, ProgramRun]) -> None:
    (pdb,) = objects(planned[1], "PodDisruptionBudget", "web", "shop-1")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "web"


def test_default_deny_and_the_allow_rules(planned: tuple[FleetSpec, ProgramRun]) -> None:
    policies = {p["metadata"]["name"]: p for p in objects(planned[1], "NetworkPolicy", "web", "shop-1")}
    assert set(policies) == {"default-deny", "allow-web"}
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allow = policies["allow-web"]["spec"]
    assert allow["ingress"] == [{"ports": [{"port": 8443, "protocol": "TCP"}]}]  # public: any source
    dns = allow["egress"][0]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert len(allow["egress"]) == 1

    worker = {p["metadata"]["name"]: p for p in objects(planned[1], "NetworkPolicy", "worker", "shop-2")}
    ingress = worker["allow-worker"]["spec"]["ingress"][0]
    assert ingress["from"] == [{"namespaceSelector": {}}]  # internal: pods of this cluster only
    assert worker["allow-worker"]["spec"]["egress"][1] == {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}

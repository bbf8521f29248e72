"""EdgeWorkload: Pod Security "restricted", probes, resources, Service (with the vendor's load balancer
annotations and the endpoint output), PDB, NetworkPolicies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime.sync_await import _sync_await
from pulumi_kubernetes.core.v1.outputs import LoadBalancerIngress, LoadBalancerStatus, ServiceStatus

from edgefleet.components.config import FleetSpec
from edgefleet.components.config.model import Expose, Vendor, WorkloadSpec
from edgefleet.components.workloads import EdgeWorkload, ingress_address, load_balancer_annotations
from edgefleet.engine import ProgramRun, run_under_mocks
from edgefleet.mocks import _documentation_ip
from tests.clusters.support import build
from tests.conftest import REPO, plan_text, stack_text, workload_on

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


# Ingress per location: the vendor's load balancer annotations and the endpoint output.

AWS = "service.beta.kubernetes.io/aws-load-balancer-"
AZURE = "service.beta.kubernetes.io/azure-load-balancer-"
DO = "service.beta.kubernetes.io/do-loadbalancer-"
LINODE = "service.beta.kubernetes.io/linode-loadbalancer-"

EXPECTED_ANNOTATIONS: dict[str, dict[str, str]] = {
    "aws": {
        f"{AWS}type": "nlb",
        f"{AWS}scheme": "internet-facing",
        f"{AWS}healthcheck-protocol": "http",
        f"{AWS}healthcheck-path": "/ready",
    },
    "azure": {f"{AZURE}health-probe-protocol": "http", f"{AZURE}health-probe-request-path": "/ready"},
    "digitalocean": {
        f"{DO}override-health-check": "true",
        f"{DO}healthcheck-protocol": "http",
        f"{DO}healthcheck-path": "/ready",
    },
    "linode": {f"{LINODE}check-type": "http", f"{LINODE}check-path": "/ready"},
    "gcp": {},
    "existing": {},
}

PUBLIC = WorkloadSpec(name="web", image="ghcr.io/acme/web:2.0.1", port=8443, expose=Expose.PUBLIC, probe_path="/ready")
INTERNAL = WorkloadSpec(name="worker", image="ghcr.io/acme/worker:1.0.0", port=9000, probe_path="/ready")
SERVICE = "kubernetes:core/v1:Service"


@dataclass
class PerVendor:
    """One EdgeWorkload per vendor (and an internal one on aws), built directly under mocks."""

    run: ProgramRun
    made: dict[str, EdgeWorkload]

    def service(self, key: str) -> dict[str, Any]:
        (svc,) = [r for r in self.run.registrations if r.type == SERVICE and r.name == f"{key}-service"]
        return dict(svc.inputs)


@pytest.fixture(scope="module")
def per_vendor() -> PerVendor:
    made: dict[str, EdgeWorkload] = {}

    def program() -> None:
        provider = k8s.Provider("k8s")
        targets = [(v.value, v.value, PUBLIC) for v in Vendor] + [("aws-internal", "aws", INTERNAL)]
        for key, vendor, spec in targets:
            made[key] = EdgeWorkload(
                key,
                workload_on(spec, key, vendor, 2),  # type: ignore[arg-type]
                pulumi.ResourceOptions(provider=provider),
            )

    return PerVendor(run_under_mocks(program, stack="test", project_dir=REPO), made)


def resolved(output: pulumi.Output[str]) -> tuple[str, bool, bool]:
    """(value, known, secret) of an output after the run."""
    data = _sync_await(output._data)
    return data.value, data.is_known, data.is_secret


@pytest.mark.parametrize("vendor", [v.value for v in Vendor])
def test_public_service_gets_the_vendors_load_balancer_annotations(per_vendor: PerVendor, vendor: str) -> None:
    svc = per_vendor.service(vendor)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"].get("annotations", {}) == EXPECTED_ANNOTATIONS[vendor]
    assert load_balancer_annotations(vendor, PUBLIC) == EXPECTED_ANNOTATIONS[vendor]
    # The health checks go to the node port: Cluster traffic policy (the default) stays.
    assert "externalTrafficPolicy" not in svc["spec"]


def test_internal_service_gets_no_load_balancer_annotations(per_vendor: PerVendor) -> None:
    svc = per_vendor.service("aws-internal")
    assert svc["spec"]["type"] == "ClusterIP"
    assert "annotations" not in svc["metadata"]
    assert all(load_balancer_annotations(v.value, INTERNAL) == {} for v in Vendor)


def test_without_a_probe_path_only_the_load_balancer_type_is_chosen() -> None:
    bare = PUBLIC.model_copy(update={"probe_path": None})
    assert load_balancer_annotations("aws", bare) == {f"{AWS}type": "nlb", f"{AWS}scheme": "internet-facing"}
    for vendor in ("azure", "digitalocean", "linode", "gcp", "existing"):
        assert load_balancer_annotations(vendor, bare) == {}, vendor


def test_an_unknown_vendor_is_refused() -> None:
    with pytest.raises(ValueError, match="openstack"):
        load_balancer_annotations("openstack", PUBLIC)


def test_endpoint_is_the_load_balancers_ingress_ip(per_vendor: PerVendor) -> None:
    for vendor in Vendor:
        value, known, secret = resolved(per_vendor.made[vendor.value].endpoint)
        assert known
        assert not secret
        # The mock's LoadBalancer ingress: a TEST-NET-3 address, stable per Service.
        assert value == _documentation_ip(SERVICE, f"{vendor.value}-service")
        assert value.startswith("203.0.113.")
    assert len({resolved(w.endpoint)[0] for k, w in per_vendor.made.items() if k != "aws-internal"}) > 1


def test_endpoint_of_an_internal_workload_is_empty(per_vendor: PerVendor) -> None:
    assert resolved(per_vendor.made["aws-internal"].endpoint) == ("", True, False)


def test_endpoint_is_registered_as_a_component_output(per_vendor: PerVendor) -> None:
    assert all(n == 1 for n in per_vendor.run.output_registrations.values())
    components = [r for r in per_vendor.run.registrations if r.type == "edgefleet:index:EdgeWorkload"]
    assert len(components) == len(per_vendor.made)
    assert {r.urn for r in components} <= set(per_vendor.run.output_registrations)


def test_ingress_address_prefers_the_ip_then_the_host_name() -> None:
    def status(*ingress: LoadBalancerIngress) -> ServiceStatus:
        return ServiceStatus(load_balancer=LoadBalancerStatus(ingress=list(ingress)))

    nlb = "k8s-web-0123456789.elb.eu-central-1.amazonaws.com"
    assert ingress_address(status(LoadBalancerIngress(hostname=nlb))) == nlb
    assert ingress_address(status(LoadBalancerIngress(ip="198.51.100.7", hostname=nlb))) == "198.51.100.7"
    assert ingress_address(status()) == ""
    assert ingress_address(ServiceStatus()) == ""
    assert ingress_address(None) == ""


def test_fleet_services_and_endpoints_on_existing_clusters(planned: tuple[FleetSpec, ProgramRun]) -> None:
    (web,) = objects(planned[1], "Service", "web", "shop-1")
    assert "annotations" not in web["metadata"]  # `existing`: no vendor annotations
    built = build(
        [
            {"vendor": "existing", "name": "shop-1", "location": {"city": "Hamburg", "country": "DE"}},
            {"vendor": "existing", "name": "shop-2", "location": {"city": "Vienna", "country": "AT"}},
        ],
        workloads=[{"name": "web", "image": "ghcr.io/acme/web:2.0.1", "port": 8443, "expose": "public"}],
    )
    for cluster in ("shop-1", "shop-2"):
        value, known, secret = resolved(built.fleet.workloads[("web", cluster)].endpoint)
        assert (known, secret) == (True, False)
        assert value == _documentation_ip(SERVICE, f"web-{cluster}-service")

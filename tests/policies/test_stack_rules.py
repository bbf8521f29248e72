"""Stack rules (network isolation, fleet residency/diversity/capabilities, PDBs, LoadBalancers) and
the remaining resource rules of the network and fleet modules."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy

from edgefleet.policies.rules import fleet, kubernetes, network
from tests.policies.harness import Stack, changed, options, resource_args, violations

CLUSTER = "edgefleet:index:ExistingCluster"
EDGE = "edgefleet:index:EdgeWorkload"
EU = ["AT", "DE", "FR"]


def cluster_facts(name: str, vendor: str = "existing", country: str = "DE", policy: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "vendor": vendor,
        "region": "r",
        "country": country,
        "cni": {"plugin": "cilium" if policy else "flannel", "mode": None, "networkPolicy": policy},
    }


def build(
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    expose: str = "public",
    requires: list[str] | None = None,
    allowed: list[str] | None = None,
    min_vendors: int = 1,
    replicas: int = 2,
    pdb: bool = True,
    deny: bool = True,
    service_type: str = "LoadBalancer",
) -> Stack:
    stack = Stack()
    for name, facts in (clusters or {"shop-1": cluster_facts("shop-1")}).items():
        c = stack.add(CLUSTER, name, facts)
        p = stack.add("pulumi:providers:kubernetes", f"{name}-k8s", {}, parent=c)
        w = stack.add(
            EDGE,
            f"api-{name}",
            {
                "workload": "api",
                "cluster": name,
                "replicas": replicas,
                "expose": expose,
                "requires": requires or [],
                "allowedCountries": allowed,
                "minVendors": min_vendors,
            },
        )
        labels = {"app.kubernetes.io/name": "api"}
        stack.add(
            "kubernetes:core/v1:Namespace", f"api-{name}-namespace", {"metadata": {"name": "api"}}, parent=w, provider=p
        )
        stack.add(
            "kubernetes:apps/v1:Deployment",
            f"api-{name}-deployment",
            {
                "metadata": {"name": "api", "namespace": "api"},
                "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels}}},
            },
            parent=w,
            provider=p,
        )
        stack.add(
            "kubernetes:core/v1:Service",
            f"api-{name}-service",
            {"metadata": {"name": "api", "namespace": "api"}, "spec": {"type": service_type}},
            parent=w,
            provider=p,
        )
        if pdb:
            stack.add(
                "kubernetes:policy/v1:PodDisruptionBudget",
                f"api-{name}-pdb",
                {
                    "metadata": {"name": "api", "namespace": "api"},
                    "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}},
                },
                parent=w,
                provider=p,
            )
        if deny:
            stack.add(
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                f"api-{name}-default-deny",
                {
                    "metadata": {"name": "default-deny", "namespace": "api"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                },
                parent=w,
                provider=p,
            )
    return stack


STACK_RULES: list[Policy] = [*kubernetes.STACK_POLICIES, *network.STACK_POLICIES, *fleet.STACK_POLICIES]


@pytest.mark.parametrize("policy", STACK_RULES, ids=lambda p: p.name)
def test_a_well_built_stack_passes(policy: Policy) -> None:
    assert violations(policy, build(allowed=EU, requires=["network-policy"]).args()) == []


CASES = [
    (
        fleet.FLEET_RESIDENCY,
        {"clusters": {"shop-1": cluster_facts("shop-1", country="CH")}, "allowed": EU},
        ["workload 'api' runs in 'shop-1' (CH), outside its residency @ api-shop-1"],
    ),
    (
        fleet.FLEET_VENDOR_DIVERSITY,
        {"min_vendors": 2},
        ["workload 'api' runs on 1 vendor(s) (existing), fewer than its min_vendors 2 @ api-shop-1"],
    ),
    (
        fleet.FLEET_NETWORK_POLICY_REQUIRED,
        {"clusters": {"shop-1": cluster_facts("shop-1", policy=False)}, "requires": ["network-policy"]},
        ["workload 'api' requires network-policy but runs in 'shop-1', whose CNI does not enforce it @ api-shop-1"],
    ),
    (
        network.NETWORK_PUBLIC_ISOLATION,
        {"clusters": {"shop-1": cluster_facts("shop-1", policy=False)}},
        [
            "public workload 'api' runs in 'shop-1', whose CNI (flannel) does not enforce its NetworkPolicies "
            "@ api-shop-1"
        ],
    ),
    (
        network.NETWORK_DEFAULT_DENY,
        {"deny": False},
        ["namespace 'api' in cluster 'shop-1' has no default-deny NetworkPolicy @ api-shop-1-namespace"],
    ),
    (
        kubernetes.K8S_PDB_FOR_REPLICATED,
        {"pdb": False},
        ["Deployment 'api' has 2 replicas and no PodDisruptionBudget selecting them @ api-shop-1-deployment"],
    ),
    (
        kubernetes.K8S_LOADBALANCER_ONLY_PUBLIC,
        {"expose": "internal"},
        ["Service 'api' is a LoadBalancer but its workload is not `expose: public` @ api-shop-1-service"],
    ),
]


@pytest.mark.parametrize(("policy", "change", "expected"), CASES, ids=lambda x: getattr(x, "name", None))
def test_one_change_fails_with_the_exact_message(policy: Policy, change: dict[str, Any], expected: list[str]) -> None:
    assert violations(policy, build(**change).args()) == expected


def test_default_deny_is_not_required_where_the_cni_does_not_enforce() -> None:
    stack = build(clusters={"shop-1": cluster_facts("shop-1", policy=False)}, deny=False)
    assert violations(network.NETWORK_DEFAULT_DENY, stack.args()) == []


def test_a_single_replica_needs_no_pdb() -> None:
    assert violations(kubernetes.K8S_PDB_FOR_REPLICATED, build(pdb=False, replicas=1).args()) == []


def test_two_vendors_satisfy_min_vendors() -> None:
    clusters = {"a": cluster_facts("a", vendor="aws"), "b": cluster_facts("b", vendor="gcp")}
    assert violations(fleet.FLEET_VENDOR_DIVERSITY, build(clusters=clusters, min_vendors=2).args()) == []


def test_egress_to_everywhere() -> None:
    policy_type = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    ok = {"metadata": {"name": "allow-api"}, "spec": {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}}
    assert violations(network.NETWORK_NO_EGRESS_EVERYWHERE, resource_args(policy_type, ok)) == []
    bad = changed(ok, "spec.egress.0.to.0.ipBlock.cidr", "0.0.0.0/0")
    assert violations(network.NETWORK_NO_EGRESS_EVERYWHERE, resource_args(policy_type, bad)) == [
        "NetworkPolicy 'allow-api' allows egress to 0.0.0.0/0"
    ]


def test_helm_chart_version_must_be_exact() -> None:
    release = "kubernetes:helm.sh/v3:Release"
    ok = {"chart": "cilium", "version": "1.20.0"}
    assert violations(fleet.FLEET_HELM_CHART_PINNED, resource_args(release, ok)) == []
    for version in ("^1.20.0", "1.20", "", None, "1.20.0\n"):  # `$` before a trailing newline must not pass
        props = {"chart": "cilium", "version": version} if version is not None else {"chart": "cilium"}
        assert violations(fleet.FLEET_HELM_CHART_PINNED, resource_args(release, props)) == [
            f"Helm release 'cilium' has version {version!r}, not an exact chart version"
        ]


def test_cloud_resources_carry_owner_and_environment() -> None:
    eks = "aws:eks/cluster:Cluster"
    tags = {"owner": "platform-team", "environment": "prod", "edgefleet-cluster": "aws-eu-central-1"}
    assert violations(fleet.FLEET_CLOUD_RESOURCES_TAGGED, resource_args(eks, {"tags": tags}, name="c")) == []
    assert violations(fleet.FLEET_CLOUD_RESOURCES_TAGGED, resource_args(eks, {"tags": {"owner": "x"}}, name="c")) == [
        "aws:eks/cluster:Cluster 'c' has no environment tag in `tags`"
    ]
    lke = "linode:index/lkeCluster:LkeCluster"
    assert (
        violations(fleet.FLEET_CLOUD_RESOURCES_TAGGED, resource_args(lke, {"tags": ["owner:x", "environment:prod"]}))
        == []
    )
    assert violations(fleet.FLEET_CLOUD_RESOURCES_TAGGED, resource_args(lke, {}, name="l")) == [
        "linode:index/lkeCluster:LkeCluster 'l' has no owner or environment tag in `tags`"
    ]


def test_cluster_components_declare_the_kubeconfig_secret() -> None:
    ok = resource_args(CLUSTER, {}, name="shop-1", opts=options(additional_secret_outputs=["kubeconfig"]))
    assert violations(fleet.FLEET_KUBECONFIG_SECRET, ok) == []
    bad = resource_args(CLUSTER, {}, name="shop-1")
    assert violations(fleet.FLEET_KUBECONFIG_SECRET, bad) == [
        "cluster 'shop-1' does not declare its kubeconfig output secret"
    ]
    assert violations(fleet.FLEET_KUBECONFIG_SECRET, resource_args("kubernetes:core/v1:Namespace", {})) == []

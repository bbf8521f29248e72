"""LKE rules: a passing cluster in pulumi-linode wire form, then one change per failing case."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy
from pulumi_policy.proxy import UnknownValueError

from edgefleet.policies.rules import linode as lin
from tests.policies.harness import UNKNOWN, changed, resource_args, violations

OLDEST = "{}.{}".format(*lin.LKE_MIN_VERSION)
TOO_OLD = f"{lin.LKE_MIN_VERSION[0]}.{lin.LKE_MIN_VERSION[1] - 1}"
HAPPY: dict[str, Any] = {
    "label": "prod-lke",
    "region": "de-fra-2",
    "k8sVersion": OLDEST,
    "controlPlane": {
        "highAvailability": True,
        "acl": {"enabled": True, "addresses": [{"ipv4s": ["203.0.113.0/24"], "ipv6s": ["2001:db8::/32"]}]},
    },
    "pools": [{"type": "g6-standard-4", "count": 3}],
    "tags": ["owner:platform-team", "environment:prod", "edgefleet-cluster:prod-lke"],
}


def check(policy: Policy, props: dict[str, Any]) -> list[str]:
    return violations(policy, resource_args(lin.LKE_CLUSTER, props, name="prod-lke"))


@pytest.mark.parametrize("policy", lin.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_the_hardened_cluster_passes_every_rule(policy: Policy) -> None:
    assert check(policy, HAPPY) == []


FAILING: list[tuple[Policy, str, Any, list[str]]] = [
    (
        lin.LKE_CONTROL_PLANE_ACL,
        "controlPlane.acl.enabled",
        False,
        [
            "LKE cluster 'prod-lke' has no control-plane ACL, so its API server accepts any address "
            "(controlPlane.acl.enabled is not true)"
        ],
    ),
    (
        lin.LKE_CONTROL_PLANE_ACL,
        "controlPlane.acl",
        None,
        [
            "LKE cluster 'prod-lke' has no control-plane ACL, so its API server accepts any address "
            "(controlPlane.acl.enabled is not true)"
        ],
    ),
    (
        lin.LKE_CONTROL_PLANE_ACL,
        "controlPlane.acl.addresses.0.ipv4s",
        ["203.0.113.0/24", "0.0.0.0/0"],
        ["LKE cluster 'prod-lke' control-plane ACL allows 0.0.0.0/0 (controlPlane.acl.addresses[0].ipv4s)"],
    ),
    (
        lin.LKE_CONTROL_PLANE_ACL,
        "controlPlane.acl.addresses.0.ipv6s",
        ["::/0"],
        ["LKE cluster 'prod-lke' control-plane ACL allows ::/0 (controlPlane.acl.addresses[0].ipv6s)"],
    ),
    (
        lin.LKE_SUPPORTED_VERSION,
        "k8sVersion",
        TOO_OLD,
        [
            f"LKE cluster 'prod-lke' runs Kubernetes {TOO_OLD}, older than {OLDEST}, "
            "the oldest version still maintained (k8sVersion)"
        ],
    ),
    (
        lin.LKE_SUPPORTED_VERSION,
        "k8sVersion",
        "v1.20.1+lke1",
        [
            f"LKE cluster 'prod-lke' runs Kubernetes v1.20.1+lke1, older than {OLDEST}, "
            "the oldest version still maintained (k8sVersion)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("policy", "path", "value", "expected"), FAILING, ids=[f"{c[0].name}:{c[1]}={c[2]!r}" for c in FAILING]
)
def test_one_change_fails_with_the_exact_message(policy: Policy, path: str, value: Any, expected: list[str]) -> None:
    assert check(policy, changed(HAPPY, path, value)) == expected


def test_every_rule_has_a_failing_case() -> None:
    assert {p.name for p in lin.RESOURCE_POLICIES} == {case[0].name for case in FAILING}


def test_an_enterprise_version_string_is_read_by_its_minor() -> None:
    assert check(lin.LKE_SUPPORTED_VERSION, changed(HAPPY, "k8sVersion", f"v{OLDEST}.1+lke1")) == []


def test_an_unknown_version_cannot_run_during_preview() -> None:
    with pytest.raises(UnknownValueError):
        check(lin.LKE_SUPPORTED_VERSION, changed(HAPPY, "k8sVersion", UNKNOWN))


@pytest.mark.parametrize("policy", lin.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_other_types_are_skipped(policy: Policy) -> None:
    deployment = {"metadata": {"name": "api", "namespace": "api"}, "spec": {"replicas": 2}}
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", deployment)) == []
    insecure_cluster = changed(HAPPY, "controlPlane", None)
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", insecure_cluster)) == []

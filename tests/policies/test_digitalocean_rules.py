"""DOKS rules: a passing cluster in pulumi-digitalocean wire form, then one change per failing case."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy
from pulumi_policy.proxy import UnknownValueError

from edgefleet.policies.rules import digitalocean as do
from tests.policies.harness import UNKNOWN, changed, resource_args, violations

OLDEST = "{}.{}".format(*do.DOKS_MIN_VERSION)
TOO_OLD = f"{do.DOKS_MIN_VERSION[0]}.{do.DOKS_MIN_VERSION[1] - 1}.4-do.0"
HAPPY: dict[str, Any] = {
    "name": "prod-doks",
    "region": "fra1",
    "version": f"{OLDEST}.1-do.0",
    "vpcUuid": "c3b5d2e1-0000-4000-8000-000000000001",
    "ha": True,
    "autoUpgrade": True,
    "surgeUpgrade": True,
    "maintenancePolicy": {"day": "sunday", "startTime": "03:00"},
    "controlPlaneFirewall": {"enabled": True, "allowedAddresses": ["203.0.113.0/24"]},
    "nodePool": {"name": "general", "size": "s-4vcpu-8gb", "autoScale": True, "minNodes": 2, "maxNodes": 4},
    "tags": ["owner:platform-team", "environment:prod", "edgefleet-cluster:prod-doks"],
}


def check(policy: Policy, props: dict[str, Any]) -> list[str]:
    return violations(policy, resource_args(do.DOKS_CLUSTER, props, name="prod-doks"))


@pytest.mark.parametrize("policy", do.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_the_hardened_cluster_passes_every_rule(policy: Policy) -> None:
    assert check(policy, HAPPY) == []


FAILING: list[tuple[Policy, str, Any, list[str]]] = [
    (
        do.DOKS_CONTROL_PLANE_FIREWALL,
        "controlPlaneFirewall",
        None,
        [
            "DOKS cluster 'prod-doks' has no control-plane firewall, so its API server accepts any address "
            "(controlPlaneFirewall.enabled is not true)"
        ],
    ),
    (
        do.DOKS_CONTROL_PLANE_FIREWALL,
        "controlPlaneFirewall.allowedAddresses",
        ["0.0.0.0/0", "::/0"],
        [
            "DOKS cluster 'prod-doks' control-plane firewall allows 0.0.0.0/0, ::/0 "
            "(controlPlaneFirewall.allowedAddresses)"
        ],
    ),
    (
        do.DOKS_SUPPORTED_VERSION,
        "version",
        TOO_OLD,
        [
            f"DOKS cluster 'prod-doks' runs Kubernetes {TOO_OLD}, older than {OLDEST}, "
            "the oldest version still maintained (version)"
        ],
    ),
    (
        do.DOKS_SUPPORTED_VERSION,
        "version",
        "stable",
        [f"DOKS cluster 'prod-doks' has version 'stable', not a Kubernetes version slug such as {OLDEST}.1-do.0"],
    ),
    (
        do.DOKS_AUTO_UPGRADE,
        "autoUpgrade",
        None,
        ["DOKS cluster 'prod-doks' does not install Kubernetes patch releases automatically (autoUpgrade is not true)"],
    ),
    (
        do.DOKS_SURGE_UPGRADE,
        "surgeUpgrade",
        False,
        ["DOKS cluster 'prod-doks' upgrades nodes without surge nodes, taking capacity down (surgeUpgrade is false)"],
    ),
]


@pytest.mark.parametrize(
    ("policy", "path", "value", "expected"), FAILING, ids=[f"{c[0].name}:{c[1]}={c[2]!r}" for c in FAILING]
)
def test_one_change_fails_with_the_exact_message(policy: Policy, path: str, value: Any, expected: list[str]) -> None:
    assert check(policy, changed(HAPPY, path, value)) == expected


def test_every_rule_has_a_failing_case() -> None:
    assert {p.name for p in do.RESOURCE_POLICIES} == {case[0].name for case in FAILING}


def test_surge_upgrades_are_on_by_default() -> None:
    assert check(do.DOKS_SURGE_UPGRADE, changed(HAPPY, "surgeUpgrade", None)) == []


def test_the_latest_alias_is_supported() -> None:
    assert check(do.DOKS_SUPPORTED_VERSION, changed(HAPPY, "version", "latest")) == []


def test_an_unknown_version_cannot_run_during_preview() -> None:
    with pytest.raises(UnknownValueError):
        check(do.DOKS_SUPPORTED_VERSION, changed(HAPPY, "version", UNKNOWN))


@pytest.mark.parametrize("policy", do.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_other_types_are_skipped(policy: Policy) -> None:
    deployment = {"metadata": {"name": "api", "namespace": "api"}, "spec": {"replicas": 2}}
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", deployment)) == []
    insecure_cluster = changed(HAPPY, "controlPlaneFirewall", None)
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", insecure_cluster)) == []

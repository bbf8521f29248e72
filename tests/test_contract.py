"""Cluster contract v1 (components/contract.py), parametrised over every vendor, real and fake."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.clusters import VENDORS, ExistingCluster
from components.config import CniInfo, ResolvedLocation, Vendor, parse_fleet
from components.contract import ClusterArgs, KubernetesCluster
from edgefleet.engine import ProgramRun, run_under_mocks
from tests.conftest import KUBECONFIG, REPO
from tests.fakes import FakeCluster

FLEET = {
    "environment": "test",
    "owner": "platform-team",
    "clusters": [
        {
            "vendor": "existing",
            "name": "shop-1",
            "location": {"city": "Hamburg", "country": "DE"},
            "labels": {"tier": "store"},
            "cni": {"plugin": "calico", "installed": True},
            "kubeconfig": "shopKubeconfig",
            "context": "shop",
        }
    ],
}
CONTRACT_MEMBERS = ("name", "vendor", "region", "location", "labels", "cni", "kubeconfig", "provider", "endpoint")

Kubeconfig = Callable[[], "pulumi.Output[str] | None"]
VENDOR_CASES: dict[str, tuple[Any, Kubeconfig]] = {
    "existing-secret": (ExistingCluster, lambda: pulumi.Output.secret(KUBECONFIG)),
    # A plain (non-secure) config value used as a kubeconfig is still a secret everywhere.
    "existing-plain": (ExistingCluster, lambda: pulumi.Output.from_input(KUBECONFIG)),
    "existing-ambient": (ExistingCluster, lambda: None),
    "fake": (FakeCluster, lambda: None),
}


def _build(factory: Any, kubeconfig: Kubeconfig) -> tuple[KubernetesCluster, ProgramRun, list[set[str]]]:
    spec = parse_fleet(FLEET, available_keys={"edgefleet:shopKubeconfig"})
    built: dict[str, Any] = {}
    members_at_register: list[set[str]] = []
    original = pulumi.ComponentResource.register_outputs

    def spy(self: pulumi.ComponentResource, outputs: Any) -> None:
        if isinstance(self, factory):
            members_at_register.append({m for m in CONTRACT_MEMBERS if hasattr(self, m)})
        original(self, outputs)

    def program() -> None:
        args = ClusterArgs(
            cluster=spec.clusters[0], owner="platform-team", environment="test", tags={}, kubeconfig=kubeconfig()
        )
        built["cluster"] = factory("shop-1", args, pulumi.ResourceOptions())

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pulumi.ComponentResource, "register_outputs", spy)
        run = run_under_mocks(program, stack="test", project_dir=REPO)
    return built["cluster"], run, members_at_register


def _resolve(output: pulumi.Output[Any]) -> tuple[Any, bool, bool]:
    data = _sync_await(output._data)
    return data.value, data.is_known, data.is_secret


@pytest.mark.parametrize("case", sorted(VENDOR_CASES))
def test_cluster_meets_contract_v1(case: str) -> None:
    factory, kubeconfig = VENDOR_CASES[case]
    cluster, run, members_at_register = _build(factory, kubeconfig)

    assert isinstance(cluster, KubernetesCluster)
    for member in ("name", "vendor", "region"):
        assert type(getattr(cluster, member)) is str, member
    assert cluster.name == "shop-1"
    assert cluster.region == "de-hamburg"
    assert isinstance(cluster.location, ResolvedLocation)
    assert cluster.location.country == "DE"
    assert isinstance(cluster.labels, Mapping)
    assert dict(cluster.labels) == {"tier": "store"}
    assert isinstance(cluster.cni, CniInfo)
    assert cluster.cni.network_policy is True  # calico enforces NetworkPolicy

    _, _, kubeconfig_secret = _resolve(cluster.kubeconfig)
    assert kubeconfig_secret, "kubeconfig must always be a secret Output"
    assert isinstance(cluster.endpoint, pulumi.Output)
    _, _, endpoint_secret = _resolve(cluster.endpoint)
    assert not endpoint_secret

    # The provider is built inside the component, as its child.
    assert isinstance(cluster.provider, k8s.Provider)
    by_type = {r.type: r for r in run.registrations}
    component = next(r for r in run.registrations if r.type.startswith("edgefleet:clusters:"))
    provider = by_type["pulumi:providers:kubernetes"]
    assert provider.name == "shop-1-k8s"
    assert provider.parent == component.urn

    # register_outputs: once, after every contract member exists.
    assert run.output_registrations.get(component.urn) == 1
    assert members_at_register == [set(CONTRACT_MEMBERS)]


def test_existing_with_kubeconfig_passes_it_secret_and_reads_the_endpoint() -> None:
    cluster, run, _ = _build(ExistingCluster, lambda: pulumi.Output.from_input(KUBECONFIG))
    provider = next(r for r in run.registrations if r.type == "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.inputs["context"] == "shop"
    assert _resolve(cluster.endpoint)[0] == "https://10.20.30.40:6443"


def test_existing_ambient_leaves_the_kubeconfig_to_the_provider() -> None:
    cluster, run, _ = _build(ExistingCluster, lambda: None)
    provider = next(r for r in run.registrations if r.type == "pulumi:providers:kubernetes")
    assert "kubeconfig" not in provider.inputs
    assert provider.inputs["context"] == "shop"
    assert _resolve(cluster.endpoint)[0] == ""


def test_every_config_vendor_with_a_component_is_in_the_contract_test() -> None:
    # A new vendor module must add a case above; this fails until it does.
    assert set(VENDORS) == {Vendor.EXISTING}

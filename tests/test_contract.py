"""Cluster contract v1 (components/contract.py), parametrised over every vendor, real and fake."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime.sync_await import _sync_await

from edgefleet.components.clusters import VENDORS, ExistingCluster, component_class
from edgefleet.components.config import CniInfo, ResolvedLocation, Vendor, parse_fleet
from edgefleet.components.contract import KubernetesCluster
from edgefleet.components.resolve import cluster_args
from edgefleet.components.tokens import CLUSTER_TYPES
from edgefleet.engine import ProgramRun, run_under_mocks
from tests.conftest import KUBECONFIG, REPO
from tests.fakes import FAKE_TYPE, FakeCluster

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
# Per vendor: the one cluster entry the contract test builds (a fleet of that cluster alone).
CLUSTER_ENTRIES: dict[str, dict[str, Any]] = {
    "existing": FLEET["clusters"][0],
    "fake": FLEET["clusters"][0],
    "aws": {"vendor": "aws", "region": "eu-central-1", "labels": {"tier": "core"}},
    "gcp": {"vendor": "gcp", "region": "europe-west3", "labels": {"tier": "core"}},
    "gcp-autopilot": {"vendor": "gcp", "region": "europe-west1", "autopilot": True, "project": "acme-autopilot"},
    "azure": {"vendor": "azure", "region": "westeurope", "labels": {"tier": "core"}},
    "linode": {
        "vendor": "linode",
        "region": "de-fra-2",
        "labels": {"tier": "core"},
        "endpoint": {"public": True, "allowed_cidrs": ["203.0.113.0/24"]},
    },
    "digitalocean": {
        "vendor": "digitalocean",
        "region": "fra1",
        "labels": {"tier": "core"},
        "endpoint": {"public": True, "allowed_cidrs": ["203.0.113.0/24"]},
    },
}
# case -> (component class, the kubeconfig it gets, which CLUSTER_ENTRIES entry)
VENDOR_CASES: dict[str, tuple[Any, Kubeconfig, str]] = {
    "existing-secret": (ExistingCluster, lambda: pulumi.Output.secret(KUBECONFIG), "existing"),
    # A plain (non-secure) config value used as a kubeconfig is still a secret everywhere.
    "existing-plain": (ExistingCluster, lambda: pulumi.Output.from_input(KUBECONFIG), "existing"),
    "existing-ambient": (ExistingCluster, lambda: None, "existing"),
    "fake": (FakeCluster, lambda: None, "fake"),
    **{
        entry: (Vendor(CLUSTER_ENTRIES[entry]["vendor"]), lambda: None, entry)
        for entry in ("aws", "gcp", "gcp-autopilot", "azure", "linode", "digitalocean")
    },
}


def _factory(case: str) -> Any:
    """A case's component class (cloud vendors are imported when their case runs)."""
    factory = VENDOR_CASES[case][0]
    return component_class(factory) if isinstance(factory, Vendor) else factory


def _build(
    factory: Any, kubeconfig: Kubeconfig, entry: str = "existing"
) -> tuple[KubernetesCluster, ProgramRun, list[set[str]]]:
    fleet = {**FLEET, "clusters": [CLUSTER_ENTRIES[entry]]}
    spec = parse_fleet(fleet, available_keys={"edgefleet:shopKubeconfig"}, provider_config={"gcp:project": "acme-edge"})
    built: dict[str, Any] = {}
    members_at_register: list[set[str]] = []
    original = pulumi.ComponentResource.register_outputs

    def spy(self: pulumi.ComponentResource, outputs: Any) -> None:
        if isinstance(self, factory):
            members_at_register.append({m for m in CONTRACT_MEMBERS if hasattr(self, m)})
        original(self, outputs)

    def program() -> None:
        args = cluster_args(spec.clusters[0], spec, kubeconfig())
        built["cluster"] = factory(spec.clusters[0].name, args, pulumi.ResourceOptions())

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pulumi.ComponentResource, "register_outputs", spy)
        run = run_under_mocks(program, stack="test", project_dir=REPO)
    return built["cluster"], run, members_at_register


def _resolve(output: pulumi.Output[Any]) -> tuple[Any, bool, bool]:
    data = _sync_await(output._data)
    return data.value, data.is_known, data.is_secret


@pytest.mark.parametrize("case", sorted(VENDOR_CASES))
def test_cluster_meets_contract_v1(case: str) -> None:
    _, kubeconfig, entry = VENDOR_CASES[case]
    factory = _factory(case)
    cluster, run, members_at_register = _build(factory, kubeconfig, entry)
    fleet = {**FLEET, "clusters": [CLUSTER_ENTRIES[entry]]}
    expected = parse_fleet(
        fleet, available_keys={"edgefleet:shopKubeconfig"}, provider_config={"gcp:project": "acme-edge"}
    ).clusters[0]

    assert isinstance(cluster, KubernetesCluster)
    for member in ("name", "vendor", "region"):
        assert type(getattr(cluster, member)) is str, member
    vendor = "fake" if factory is FakeCluster else expected.vendor.value
    assert (cluster.name, cluster.vendor, cluster.region) == (expected.name, vendor, expected.region)
    assert isinstance(cluster.location, ResolvedLocation)
    assert cluster.location == expected.location
    assert isinstance(cluster.labels, Mapping)
    assert dict(cluster.labels) == expected.labels
    assert isinstance(cluster.cni, CniInfo)
    assert cluster.cni == expected.cni

    _, _, kubeconfig_secret = _resolve(cluster.kubeconfig)
    assert kubeconfig_secret, "kubeconfig must always be a secret Output"
    assert isinstance(cluster.endpoint, pulumi.Output)
    _, _, endpoint_secret = _resolve(cluster.endpoint)
    assert not endpoint_secret

    # The provider is built inside the component, as its child, from the (secret) kubeconfig.
    assert isinstance(cluster.provider, k8s.Provider)
    component = next(r for r in run.registrations if r.type in CLUSTER_TYPES | {FAKE_TYPE})
    provider = next(r for r in run.registrations if r.type == "pulumi:providers:kubernetes")
    assert provider.name == f"{expected.name}-k8s"
    assert provider.parent == component.urn
    if factory is not ExistingCluster:
        assert provider.inputs["kubeconfig"] == "[secret]"

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
    tested = {_factory(case) for case in VENDOR_CASES}
    assert set(VENDORS) == set(Vendor)
    assert all(component_class(vendor) in tested for vendor in VENDORS)

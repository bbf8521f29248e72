"""The prod example fleet on five clouds: tags everywhere, and growth that never replaces.

These run the real program (``__main__.py``) under the mock engine for ``stacks/Pulumi.prod.yaml``
and for variants of it, as ``edgefleet plan prod`` does.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
from collections import Counter
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pytest

from edgefleet.components.config import read_stack_file
from edgefleet.components.tokens import CLUSTER_TYPES
from edgefleet.engine import ProgramRun, Registration, run_program
from tests.conftest import REPO

PROD = REPO / "stacks" / "Pulumi.prod.yaml"
CLOUD_PACKAGES = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure-native": "pulumi_azure_native",
    "linode": "pulumi_linode",
    "digitalocean": "pulumi_digitalocean",
}
# Per provider package: Python argument -> wire name of the properties that carry tags. GCP's
# `labels` are resource labels; elsewhere `labels` are Kubernetes node labels, not tags.
TAG_ARGUMENTS = {
    "aws": {"tags": "tags"},
    "gcp": {"labels": "labels", "resource_labels": "resourceLabels"},
    "azure-native": {"tags": "tags"},
    "linode": {"tags": "tags"},
    "digitalocean": {"tags": "tags"},
}
TAG_WIRE_NAMES = {wire for names in TAG_ARGUMENTS.values() for wire in names.values()}
REQUIRED = {"owner", "environment", "edgefleet-cluster", "cost-center", "service"}


def _run(mutate: Callable[[dict[str, Any]], None] | None = None) -> ProgramRun:
    source = read_stack_file(PROD)
    if mutate is not None:
        fleet = copy.deepcopy(source.fleet)
        mutate(fleet)
        source = dataclasses.replace(source, fleet=fleet)
    return run_program(REPO, source)


@cache
def _baseline() -> ProgramRun:
    return _run()


def _resource_class(token: str) -> Any:
    package, module, name = token.split(":")
    root = CLOUD_PACKAGES[package]
    path = root if module.split("/")[0] == "index" else f"{root}.{module.split('/')[0]}"
    return getattr(importlib.import_module(path), name)


def _tag_arguments(token: str) -> list[str]:
    params = inspect.signature(_resource_class(token)._internal_init).parameters
    return [wire for arg, wire in TAG_ARGUMENTS[token.split(":", 1)[0]].items() if arg in params]


def _tag_keys(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        return {str(k) for k in value}
    if isinstance(value, list):
        return {str(v).split(":", 1)[0] for v in value}
    return set()


def _cloud(r: Registration) -> bool:
    return r.custom and r.type.split(":", 1)[0] in CLOUD_PACKAGES


def test_prod_has_every_vendor_and_an_existing_cluster() -> None:
    run = _baseline()
    vendors = Counter(r.type for r in run.registrations if r.type in CLUSTER_TYPES)
    assert set(vendors) == {
        "edgefleet:index:EksCluster",
        "edgefleet:index:GkeCluster",
        "edgefleet:index:AksCluster",
        "edgefleet:index:LkeCluster",
        "edgefleet:index:DoksCluster",
        "edgefleet:index:ExistingCluster",
    }
    assert vendors["edgefleet:index:GkeCluster"] == 2  # Standard and Autopilot


def test_every_taggable_cloud_resource_carries_the_fleet_tags() -> None:
    run = _baseline()
    cloud = [r for r in run.registrations if _cloud(r)]
    assert len({r.type.split(":", 1)[0] for r in cloud}) == 5
    checked = 0
    for r in cloud:
        for wire in _tag_arguments(r.type):
            keys = _tag_keys(r.inputs.get(wire))
            assert keys >= REQUIRED, f"{r.type} {r.name}: `{wire}` lacks {sorted(REQUIRED - keys)}"
            checked += 1
    assert checked >= 20


def test_every_cloud_resource_uses_its_clusters_explicit_provider() -> None:
    run = _baseline()
    providers = {r.urn: r for r in run.registrations if r.type.startswith("pulumi:providers:")}
    for r in run.registrations:
        if not _cloud(r):
            continue
        assert r.provider_urn in providers, f"{r.type} {r.name} uses the default provider"
        package = r.type.split(":", 1)[0]
        assert providers[r.provider_urn].type == f"pulumi:providers:{package}"


def _by_cluster(run: ProgramRun) -> dict[str, dict[str, Registration]]:
    """Each cluster component's name -> its descendants (by URN), the component included."""
    by_urn = {r.urn: r for r in run.registrations}
    out: dict[str, dict[str, Registration]] = {}
    for r in run.registrations:
        node: Registration | None = r
        while node is not None and node.type not in CLUSTER_TYPES:
            node = by_urn.get(node.parent or "")
        if node is not None:
            out.setdefault(node.name, {})[r.urn] = r
    return out


def _without_tags(value: Any) -> Any:
    """Inputs with tags and labels removed at any depth (node pool and launch template tags are
    nested); changing those is an in-place update on every vendor."""
    if isinstance(value, Registration):
        return _without_tags(dict(value.inputs))
    if isinstance(value, Mapping):
        return {k: _without_tags(v) for k, v in value.items() if k not in TAG_WIRE_NAMES}
    if isinstance(value, list):
        return [_without_tags(v) for v in value]
    return value


def test_changing_one_clusters_labels_or_adding_a_workload_changes_no_other_cluster() -> None:
    before = _by_cluster(_baseline())

    def relabel_and_add(fleet: dict[str, Any]) -> None:
        fleet["clusters"][1]["labels"] = {"tier": "core", "team": "payments"}  # gcp-europe-west3
        fleet["workloads"].append(
            {
                "name": "search",
                "image": "ghcr.io/acme/search:1.0.0",
                "port": 8080,
                "placement": {"strategy": "pinned", "clusters": ["aws-us-east-1", "azure-japaneast"]},
            }
        )

    after = _by_cluster(_run(relabel_and_add))
    assert set(after) == set(before)
    for cluster, resources in before.items():
        if cluster == "gcp-europe-west3":
            continue
        assert after[cluster] == resources, f"{cluster} changed"
    # The relabelled cluster keeps every URN and every input (labels are Kubernetes-side only).
    changed = after["gcp-europe-west3"]
    assert set(changed) == set(before["gcp-europe-west3"])


def test_adding_a_cluster_and_changing_fleet_tags_replaces_nothing() -> None:
    before = _by_cluster(_baseline())

    def grow(fleet: dict[str, Any]) -> None:
        fleet["clusters"].insert(0, {"vendor": "aws", "region": "eu-west-1", "labels": {"tier": "core"}})
        fleet["tags"] = {**fleet["tags"], "budget": "q4"}

    after = _by_cluster(_run(grow))
    assert set(after) == set(before) | {"aws-eu-west-1"}
    for cluster, resources in before.items():
        assert set(after[cluster]) == set(resources), f"{cluster}: URNs changed"
        for urn, r in resources.items():
            assert _without_tags(after[cluster][urn]) == _without_tags(r), f"{urn}: more than tags changed"


@pytest.mark.parametrize("vendor", ["aws", "gcp", "azure-native", "linode", "digitalocean"])
def test_control_planes_and_networks_are_protected_in_prod(vendor: str) -> None:
    run = _baseline()
    mine = [r for r in run.registrations if _cloud(r) and r.type.startswith(f"{vendor}:")]
    assert any(r.protect for r in mine), f"nothing of {vendor} is protected in prod"

"""Build one vendor's cluster inside a real ``Fleet`` under the mock engine, and inspect it.

Vendor tests start from a cluster entry of the fleet config (docs/fleet-config.md), so they test
exactly what a user's stack produces: inputs by name, parents, providers, secrets, dependencies,
and what the policy pack says about it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest

from edgefleet.check import evaluate
from edgefleet.components.args import FleetArgs, FleetConfigArgs
from edgefleet.components.config import ConfigError, FleetSpec, parse_fleet
from edgefleet.components.fleet import Fleet
from edgefleet.engine import ProgramRun, Registration, run_under_mocks
from edgefleet.policies.locations import LOCATION_RULES
from edgefleet.policies.rules import ALL_POLICIES
from tests.conftest import REPO

GCP_PROJECT = "acme-edge"


@dataclass
class Built:
    """A fleet's spec, its run, and the Fleet component."""

    spec: FleetSpec
    run: ProgramRun
    fleet: Fleet

    def of_type(self, type_: str) -> list[Registration]:
        """Every registration of ``type_`` (in registration order)."""
        return [r for r in self.run.registrations if r.type == type_]

    def one(self, type_: str) -> Registration:
        """The only registration of ``type_`` (fails if there is not exactly one)."""
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        """The registration with ``urn``."""
        return next(r for r in self.run.registrations if r.urn == urn)

    def types(self) -> list[str]:
        """Every registered type, sorted, with repeats."""
        return sorted(r.type for r in self.run.registrations)

    def violations(self, config: Mapping[str, Any] | None = None) -> list[tuple[str, str, str]]:
        """(rule, urn, message) for every policy violation in the run (all rules mandatory)."""
        _, found, _ = evaluate(self.run, ALL_POLICIES, config or {"all": "mandatory"})
        return found


def fleet_config(
    clusters: Sequence[Mapping[str, Any]],
    *,
    environment: str = "prod",
    tags: Mapping[str, str] | None = None,
    workloads: Sequence[Mapping[str, Any]] = (),
    netcheck: bool = False,
) -> dict[str, Any]:
    """A fleet config (the ``edgefleet:fleet`` value) around ``clusters``. The network probes
    (``netcheck``, on by default in prod) are off: these tests count each vendor's own inventory;
    tests/test_netcheck.py covers the probes on every vendor."""
    return {
        "environment": environment,
        "owner": "platform-team",
        "tags": dict(tags if tags is not None else {"cost-center": "cc-42"}),
        "clusters": [dict(c) for c in clusters],
        "workloads": [dict(w) for w in workloads],
        "netcheck": {"enabled": netcheck},
    }


def refused(
    clusters: Sequence[Mapping[str, Any]],
    *,
    environment: str = "prod",
    tags: Mapping[str, str] | None = None,
    workloads: Sequence[Mapping[str, Any]] = (),
) -> list[tuple[str, str]]:
    """(path, message) of every issue a config is refused with. ``build`` parses before any program
    runs, so a refused config never registers anything."""
    raw = fleet_config(clusters, environment=environment, tags=tags, workloads=workloads)
    with pytest.raises(ConfigError) as caught:
        parse_fleet(raw, provider_config={"gcp:project": GCP_PROJECT})
    return [(issue.path, issue.message) for issue in caught.value.issues]


def fleet_args(raw: Mapping[str, Any]) -> FleetArgs:
    """The Fleet component's args for a fleet config ``raw``, as these tests plan it: GCP clusters'
    project given, and no pack rule steering placement (they count each vendor's own inventory)."""
    return {
        "fleet": cast("FleetConfigArgs", raw),
        "gcp_project": GCP_PROJECT,
        "project_dir": str(REPO),
        "policy_pack_config": {rule.rule: "advisory" for rule in LOCATION_RULES},
    }


def build(
    clusters: Sequence[Mapping[str, Any]],
    *,
    environment: str = "prod",
    tags: Mapping[str, str] | None = None,
    workloads: Sequence[Mapping[str, Any]] = (),
    netcheck: bool = False,
) -> Built:
    """Parse a fleet of ``clusters`` and run the Fleet component under mocks (stack = environment)."""
    raw = fleet_config(clusters, environment=environment, tags=tags, workloads=workloads, netcheck=netcheck)
    made: dict[str, Fleet] = {}

    def program() -> None:
        args = fleet_args(raw)
        made["fleet"] = Fleet("fleet", args)

    run = run_under_mocks(program, stack=environment, project_dir=REPO)
    return Built(spec=made["fleet"].spec, run=run, fleet=made["fleet"])


CALICO_REPO = "https://docs.tigera.io/calico/charts"
CILIUM_REPO = "https://helm.cilium.io/"


def check_cilium_release(built: Built, values: dict[str, Any]) -> Registration:
    """A cloud cluster's Cilium install: one pinned `cilium` release into `kube-system` (which
    exists, so no Namespace is made) with exactly ``values``. Returns it for vendor checks."""
    release = built.one("kubernetes:helm.sh/v3:Release")
    assert (release.inputs["name"], release.inputs["chart"], release.inputs["version"]) == (
        "cilium",
        "cilium",
        "1.20.0",
    )
    assert release.inputs["repositoryOpts"] == {"repo": CILIUM_REPO}
    assert release.inputs["namespace"] == "kube-system"
    assert release.inputs["values"] == values
    assert built.of_type("kubernetes:core/v1:Namespace") == []
    return release


def check_calico_releases(built: Built, installation: dict[str, Any]) -> tuple[Registration, Registration]:
    """A cloud cluster's Calico install: the CRD chart, then the operator with ``installation``, both
    pinned, in the privileged `tigera-operator` namespace, on the cluster's `-k8s-cni` provider.
    Returns (crds, operator) for vendor-specific checks."""
    releases = {r.inputs["name"]: r for r in built.of_type("kubernetes:helm.sh/v3:Release")}
    assert list(releases) == ["calico-crds", "tigera-operator"]
    crds, operator = releases["calico-crds"], releases["tigera-operator"]
    for release, chart in ((crds, "crd.projectcalico.org.v1"), (operator, "tigera-operator")):
        assert release.inputs["chart"] == chart
        assert release.inputs["version"] == "v3.32.1"
        assert release.inputs["repositoryOpts"] == {"repo": CALICO_REPO}
        assert release.inputs["namespace"] == "tigera-operator"
    assert crds.inputs["values"] == {}
    assert operator.inputs["values"] == {"installation": installation, "manageCRDs": False}
    assert crds.urn in operator.dependencies
    namespace = built.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "tigera-operator"
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    cni_provider = next(r for r in built.of_type("pulumi:providers:kubernetes") if r.name.endswith("-k8s-cni"))
    assert namespace.provider_urn == cni_provider.urn
    assert namespace.urn in crds.dependencies
    return crds, operator

"""Progressive rollout: each wave's Deployments depend on the previous wave's, nothing else does.

``rollout: {canary: [...], waves: [[...], ...]}`` orders a workload's clusters into waves
(``Workload.waves``: canary, the listed waves, then the rest). The Fleet creates the EdgeWorkloads
wave by wave and hands each the Deployments of the wave before; only the Deployment depends on
them, so pulumi-kubernetes' readiness await of the canary gates every later Deployment while
Namespaces, Services and policies go ahead everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from edgefleet.components.config.model import Expose, WorkloadSpec
from edgefleet.components.workloads import EdgeWorkload
from edgefleet.engine import ProgramRun, Registration, run_under_mocks
from tests.clusters.support import Built, build
from tests.conftest import REPO, workload_on

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CNI = {"plugin": "calico", "installed": True}
CLUSTERS = [
    {"vendor": "existing", "name": "edge-a", "location": {"city": "Hamburg", "country": "DE"}, "cni": CNI},
    {"vendor": "existing", "name": "edge-b", "location": {"city": "Vienna", "country": "AT"}, "cni": CNI},
    {"vendor": "existing", "name": "edge-c", "location": {"city": "Zurich", "country": "CH"}, "cni": CNI},
]
API: dict[str, Any] = {
    "name": "api",
    "image": "ghcr.io/acme/api:1.4.2",
    "port": 8080,
    "replicas": 3,
    "expose": "public",
    "probe_path": "/ready",
}


def _build(workload: Mapping[str, Any]) -> Built:
    return build(CLUSTERS, workloads=[workload])


@pytest.fixture(scope="module")
def rolled() -> Built:
    return _build({**API, "rollout": {"canary": ["edge-a"], "waves": [["edge-b"]]}})


@pytest.fixture(scope="module")
def unordered() -> Built:
    return _build(API)


def deployments(run: ProgramRun) -> dict[str, Registration]:
    """Each Deployment by its cluster (EdgeWorkloads are named ``<workload>-<cluster>``)."""
    return {
        r.name.removeprefix("api-").removesuffix("-deployment"): r for r in run.registrations if r.type == DEPLOYMENT
    }


def deployment_urns(run: ProgramRun) -> set[str]:
    return {r.urn for r in run.registrations if r.type == DEPLOYMENT}


def test_the_waves_are_canary_then_listed_then_the_rest(rolled: Built) -> None:
    (workload,) = rolled.spec.workloads
    assert workload.waves == (("edge-a",), ("edge-b",), ("edge-c",))
    assert set(deployments(rolled.run)) == {"edge-a", "edge-b", "edge-c"}


def test_each_wave_depends_on_the_deployments_of_the_wave_before(rolled: Built) -> None:
    made = deployments(rolled.run)
    assert made["edge-a"].urn in made["edge-b"].dependencies
    assert made["edge-b"].urn in made["edge-c"].dependencies
    # pulumi-kubernetes awaits a Deployment's readiness, so the canary gates b, and b gates c.
    assert not deployment_urns(rolled.run) & set(made["edge-a"].dependencies)  # the canary waits for none
    assert made["edge-c"].urn not in made["edge-b"].dependencies
    assert {made["edge-b"].urn, made["edge-c"].urn}.isdisjoint(made["edge-a"].dependencies)


def test_only_deployments_depend_on_other_deployments(rolled: Built) -> None:
    urns = deployment_urns(rolled.run)
    kubernetes = [r for r in rolled.run.registrations if r.type.startswith("kubernetes:") and r.type != DEPLOYMENT]
    assert {r.type.rsplit(":", 1)[-1] for r in kubernetes} >= {"Namespace", "Service", "PodDisruptionBudget"}
    for r in kubernetes:
        assert not urns & set(r.dependencies), f"{r.name} depends on a Deployment: {r.dependencies}"


def test_services_and_namespaces_of_later_waves_do_not_wait(rolled: Built) -> None:
    for cluster in ("edge-b", "edge-c"):
        for kind in ("Namespace", "Service"):
            (r,) = [x for x in rolled.run.registrations if x.name == f"api-{cluster}-{kind.lower()}"]
            assert not deployment_urns(rolled.run) & set(r.dependencies)


def test_without_a_rollout_no_deployment_depends_on_another(unordered: Built) -> None:
    (workload,) = unordered.spec.workloads
    assert workload.waves == (("edge-a", "edge-b", "edge-c"),)
    urns = deployment_urns(unordered.run)
    assert len(urns) == 3
    for r in unordered.run.registrations:
        assert not urns & set(r.dependencies), f"{r.name} depends on a Deployment"


def test_a_canary_wave_of_two_gates_every_other_location() -> None:
    built = _build({**API, "rollout": {"canary": ["edge-a", "edge-c"]}})
    made = deployments(built.run)
    assert {made["edge-a"].urn, made["edge-c"].urn} <= set(made["edge-b"].dependencies)
    assert not deployment_urns(built.run) & (set(made["edge-a"].dependencies) | set(made["edge-c"].dependencies))


# The component on its own: what it does with `depends_on`, whoever passes it.


def _component_run(later: Sequence[str]) -> tuple[ProgramRun, dict[str, EdgeWorkload]]:
    """EdgeWorkloads in clusters ``one``, then each of ``later``, each given the one before's Deployment."""
    spec = WorkloadSpec(name="api", image="ghcr.io/acme/api:1.4.2", port=8080, expose=Expose.PUBLIC)
    made: dict[str, EdgeWorkload] = {}

    def program() -> None:
        provider = k8s.Provider("k8s")
        before: list[pulumi.Resource] = []
        for cluster in ("one", *later):
            made[cluster] = EdgeWorkload(
                f"api-{cluster}",
                workload_on(spec, cluster, "existing", 1),  # type: ignore[arg-type]
                pulumi.ResourceOptions(provider=provider, depends_on=list(before) or None),
            )
            before = [made[cluster].deployment]

    return run_under_mocks(program, stack="test", project_dir=REPO), made


def test_the_component_puts_depends_on_on_its_deployment_only() -> None:
    run, _ = _component_run(["two"])
    by_name = {r.name: r for r in run.registrations}
    first = by_name["api-one-deployment"].urn
    assert first in by_name["api-two-deployment"].dependencies
    for kind in ("namespace", "service", "pdb", "default-deny", "allow"):
        assert first not in by_name[f"api-two-{kind}"].dependencies, kind
    assert not {r.urn for r in run.registrations if r.type == DEPLOYMENT} & set(
        by_name["api-one-deployment"].dependencies
    )

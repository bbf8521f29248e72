"""The offline engine's fast paths answer exactly as the SDK's mock monitor would.

``CapturingMonitor.RegisterResource`` reads each request's Struct once and builds the response's
Struct directly for plain JSON (benchmarks/README.md, "Plan scale"); these tests replay every
registration of real stacks through the SDK's own ``MockMonitor.RegisterResource`` and
``json_format.MessageToDict`` and require the same answers. No timings are asserted here.
"""

from __future__ import annotations

import gc
from typing import Any, ClassVar

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.sync_await import _sync_await

from edgefleet import engine
from edgefleet.components.config.source import read_stack_file
from edgefleet.engine import GC_THRESHOLDS, CapturingMonitor, ProgramRun, run_program, run_under_mocks
from edgefleet.mocks import SPEC_ECHOED_KINDS, FleetMocks
from tests.conftest import REPO, STACKS, plan_text, stack_text


class CheckingMonitor(CapturingMonitor):
    """Answers as ``CapturingMonitor``, then asks the SDK's ``MockMonitor`` the same question."""

    checked: ClassVar[list[str]] = []
    mismatches: ClassVar[list[str]] = []

    def RegisterResource(self, request: Any) -> Any:
        ours = super().RegisterResource(request)
        sdk = pulumi_mocks.MockMonitor.RegisterResource(self, request)  # type: ignore[no-untyped-call]
        wire = json_format.MessageToDict(request.object)
        (captured,) = [r for r in list(self.captured) if r.urn == ours.urn]
        if (ours.urn, ours.id, ours.object) != (sdk.urn, sdk.id, sdk.object):
            self.mismatches.append(f"response of {request.type} {request.name}")
        if list(captured.wire.items()) != list(wire.items()) or repr(captured.wire) != repr(wire):
            self.mismatches.append(f"wire form of {request.type} {request.name}")
        self.checked.append(request.type)
        return ours


@pytest.fixture
def checking(monkeypatch: pytest.MonkeyPatch) -> type[CheckingMonitor]:
    CheckingMonitor.checked = []
    CheckingMonitor.mismatches = []
    monkeypatch.setattr(engine, "CapturingMonitor", CheckingMonitor)
    return CheckingMonitor


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_registration_is_answered_as_the_sdks_mock_monitor_answers(
    checking: type[CheckingMonitor], stack: str
) -> None:
    run = run_program(REPO, read_stack_file(STACKS / f"Pulumi.{stack}.yaml"))
    assert checking.mismatches == []
    assert len(checking.checked) == len(run.registrations)
    # Both paths ran: plain requests, and ones with secrets or unknowns (kubeconfigs, cloud outputs).
    secret_or_unknown = [r for r in run.registrations if "[secret]" in repr(r.inputs) or "[unknown]" in repr(r.inputs)]
    assert secret_or_unknown
    assert len(secret_or_unknown) < len(run.registrations)


def test_a_mock_state_that_is_not_plain_json_takes_the_sdks_serializer(checking: type[CheckingMonitor]) -> None:
    class Odd(FleetMocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
            # A tuple, a nested None and a top-level None: what only the SDK's serializer reshapes.
            return "odd-1", {"pair": ("a", 1), "nested": {"gone": None}, "dropped": None, "n": 2}

    monitor = CheckingMonitor(Odd(), REPO)
    request_state: dict[str, Any] = {}

    def program() -> None:
        res = pulumi.CustomResource("test:index:Odd", "odd", {"pair": None, "nested": None, "n": None})
        request_state["res"] = res

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "CapturingMonitor", lambda *_args, **_kw: monitor)
        run_under_mocks(program, stack="t", project_dir=REPO)
    assert CheckingMonitor.mismatches == []
    res = request_state["res"]
    assert _sync_await(res.id.future()) == "odd-1"


def test_gc_thresholds_are_raised_while_the_program_runs_and_restored_after() -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    run_under_mocks(lambda: seen.append(gc.get_threshold()), stack="t", project_dir=REPO)
    assert seen == [GC_THRESHOLDS]
    assert gc.get_threshold() == before

    def failing() -> None:
        raise RuntimeError("boom")

    with pytest.raises(Exception, match="boom"):
        run_under_mocks(failing, stack="t", project_dir=REPO)
    assert gc.get_threshold() == before


FLEET = """
environment: test
owner: platform-team
defaults: {cni: {plugin: calico, installed: true}}
clusters:
  - {vendor: existing, name: shop-1, location: {city: Hamburg, country: DE}}
workloads:
  - {name: web, image: 'ghcr.io/acme/web:2.0.1', port: 8443, replicas: 3, expose: public, probe_path: /ready}
"""


@pytest.fixture(scope="module")
def planned() -> ProgramRun:
    # One location is enough here: the stack's pack config (dev.json) keeps the rules advisory.
    return plan_text(stack_text(FLEET, "  edgefleet:policyPackConfig: policies/config/dev.json\n"), "test")[1]


def test_kubernetes_outputs_carry_metadata_and_status_and_only_a_services_spec(planned: ProgramRun) -> None:
    assert {"Service"} == SPEC_ECHOED_KINDS
    mocks = FleetMocks()
    by_kind = {r.type.rsplit(":", 1)[-1]: r for r in planned.registrations if r.type.startswith("kubernetes:")}
    for kind, r in by_kind.items():
        args = pulumi_mocks.MockResourceArgs(
            typ=r.type, name=r.name, inputs=dict(r.inputs), provider="", resource_id=""
        )
        _, state = mocks.new_resource(args)
        assert state["metadata"]["name"] == r.inputs["metadata"]["name"], kind
        assert state["metadata"]["uid"], kind
        assert state["apiVersion"] == r.inputs["apiVersion"], kind
        assert ("spec" in state) == (kind == "Service"), kind
        if kind == "Service":
            assert state["spec"]["clusterIP"].startswith("10.43.0.")
            assert state["spec"]["ports"] == r.inputs["spec"]["ports"]
            assert state["status"]["loadBalancer"]["ingress"][0]["ip"].startswith("203.0.113.")
        if kind == "Deployment":
            assert state["status"]["readyReplicas"] == r.inputs["spec"]["replicas"] == 3
    assert {"Deployment", "Service", "Namespace", "PodDisruptionBudget", "NetworkPolicy"} <= set(by_kind)


def test_the_mock_leaves_the_requests_inputs_alone(planned: ProgramRun) -> None:
    (deployment,) = [r for r in planned.registrations if r.type == "kubernetes:apps/v1:Deployment"]
    inputs = {"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 2}}
    args = pulumi_mocks.MockResourceArgs(typ=deployment.type, name="x", inputs=inputs, provider="", resource_id="")
    FleetMocks().new_resource(args)
    assert inputs == {"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 2}}


def test_a_plan_of_the_same_config_registers_the_same_resources_run_after_run() -> None:
    source = read_stack_file(STACKS / "Pulumi.dev.yaml")

    def regs(run: ProgramRun) -> list[tuple[str, Any, tuple[str, ...]]]:
        return sorted(((r.urn, r.inputs, r.dependencies) for r in run.registrations), key=lambda t: t[0])

    first, second = run_program(REPO, source), run_program(REPO, source)
    assert regs(first) == regs(second)
    assert first.outputs == second.outputs

"""``edgefleet up|preview FLEET`` with the Automation API replaced at its boundary: the workspace
function that selects a stack (``auto.create_or_select_stack``) returns fake stacks whose
``up``/``preview`` emit real engine events and return the Automation API's own result types, or
raise its ``CommandError`` as a failing ``pulumi up`` does. No Pulumi CLI exists on this machine."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation import events
from pulumi.automation._cmd import CommandResult
from typer.testing import CliRunner

from edgefleet import orchestrate
from edgefleet.cli import app
from edgefleet.orchestrate import AutomationDriver, OrchestrationError, Orchestrator, State, fleet_plan
from tests.conftest import REPO

FLEET = "fleets/retail.yaml"
REGIONAL = ["retail-asia", "retail-europe", "retail-north-america"]


def _event(seq: int) -> events.EngineEvent:
    metadata = events.StepEventMetadata(op=events.OpType.CREATE, urn=f"urn:x::{seq}", type="t", provider="p")
    return events.EngineEvent(sequence=seq, timestamp=0, res_outputs_event=events.ResOutputsEvent(metadata))


class FakeWorkspace:
    """What ``create_or_select_stack`` hands out, recording every call."""

    def __init__(self, failing: set[str], delay: float = 0.05) -> None:
        self.failing = failing
        self.delay = delay
        self.calls: list[tuple[str, str, str]] = []  # (stack, operation, work_dir)
        self.finished: list[str] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def create_or_select_stack(self, stack_name: str, work_dir: str | None = None, **_: Any) -> FakeStack:
        return FakeStack(self, stack_name, work_dir or "")


class FakeStack:
    def __init__(self, workspace: FakeWorkspace, name: str, work_dir: str) -> None:
        self.workspace = workspace
        self.name = name
        self.work_dir = work_dir

    def _run(self, operation: str, on_output: Callable[[str], None], on_event: Callable[[Any], None]) -> None:
        ws = self.workspace
        with ws.lock:
            ws.calls.append((self.name, operation, self.work_dir))
            ws.running += 1
            ws.max_running = max(ws.max_running, ws.running)
        try:
            on_output(f"{operation} {self.name}")
            for seq in range(3):
                on_event(_event(seq))
            time.sleep(ws.delay)
            if self.name in ws.failing:
                on_output("error: creating EKS Cluster: AccessDeniedException: not authorized")
                raise auto.CommandError(CommandResult("", "error: update failed", 255))
        finally:
            with ws.lock:
                ws.running -= 1
                ws.finished.append(self.name)

    def up(self, *, on_output: Callable[[str], None], on_event: Callable[[Any], None], color: str) -> auto.UpResult:
        assert color == "never"
        self._run("up", on_output, on_event)
        summary = auto.UpdateSummary(
            kind="update",
            start_time=datetime(2026, 1, 1),
            message="",
            environment={},
            config={},
            result="succeeded",
            resource_changes={"create": 3, "same": 5},
        )
        return auto.UpResult("", "", summary, {})

    def preview(
        self, *, on_output: Callable[[str], None], on_event: Callable[[Any], None], color: str
    ) -> auto.PreviewResult:
        self._run("preview", on_output, on_event)
        return auto.PreviewResult("", "", {events.OpType.CREATE: 2, events.OpType.UPDATE: 1})


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch) -> FakeWorkspace:
    fake = FakeWorkspace(failing=set())
    monkeypatch.setattr(auto, "create_or_select_stack", fake.create_or_select_stack)
    monkeypatch.setattr(orchestrate.shutil, "which", lambda name: f"/usr/local/bin/{name}")
    return fake


def _run(operation: orchestrate.Operation, parallel: int = 2, logs: Path | None = None) -> list[orchestrate.SliceRun]:
    slices = fleet_plan(REPO, FLEET)
    return Orchestrator(AutomationDriver(REPO), operation, parallel=parallel, logs=logs).run(slices)


def test_up_runs_every_slice_in_the_project_and_the_global_one_last(workspace: FakeWorkspace, tmp_path: Path) -> None:
    runs = _run("up", logs=tmp_path)
    assert [(r.stack, r.state) for r in runs] == [
        *((s, State.SUCCEEDED) for s in REGIONAL),
        ("retail-global", State.SUCCEEDED),
    ]
    assert {work_dir for _, _, work_dir in workspace.calls} == {str(REPO)}
    assert workspace.finished[-1] == "retail-global"
    assert sorted(workspace.finished[:-1]) == REGIONAL
    assert all(r.resources_done == 3 for r in runs)
    assert runs[0].changes == {"create": 3, "same": 5}
    assert runs[0].changes_text() == "create 3"
    assert (tmp_path / "retail-europe.log").read_text() == "up retail-europe\n"


def test_parallelism_is_bounded(workspace: FakeWorkspace) -> None:
    workspace.delay = 0.2
    _run("preview", parallel=2)
    assert workspace.max_running == 2
    workspace.max_running = 0
    _run("preview", parallel=1)
    assert workspace.max_running == 1


def test_a_failed_slice_does_not_stop_the_others_and_up_skips_the_global_slice(workspace: FakeWorkspace) -> None:
    workspace.failing = {"retail-europe"}
    runs = {r.stack: r for r in _run("up")}
    assert runs["retail-europe"].state is State.FAILED
    assert runs["retail-europe"].error == "error: creating EKS Cluster: AccessDeniedException: not authorized"
    assert runs["retail-asia"].state is State.SUCCEEDED
    assert runs["retail-north-america"].state is State.SUCCEEDED
    assert runs["retail-global"].state is State.SKIPPED
    assert runs["retail-global"].error == (
        "not run: slice(s) retail-europe failed, so its StackReferences could be stale"
    )
    assert "retail-global" not in {stack for stack, _, _ in workspace.calls}


def test_preview_still_previews_the_global_slice_after_a_failure(workspace: FakeWorkspace) -> None:
    workspace.failing = {"retail-asia"}
    runs = {r.stack: r for r in _run("preview")}
    assert runs["retail-asia"].state is State.FAILED
    assert runs["retail-global"].state is State.SUCCEEDED
    assert runs["retail-global"].changes == {"create": 2, "update": 1}


def test_the_cli_reports_the_failed_slice_and_exits_1(workspace: FakeWorkspace, tmp_path: Path) -> None:
    workspace.failing = {"retail-north-america"}
    result = CliRunner().invoke(app, ["up", FLEET, "--parallel", "3", "--logs", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "retail-north-america: failed" in result.output
    assert "retail-north-america: failed: error: creating EKS Cluster" in result.output
    assert "retail-global: skipped: not run: slice(s) retail-north-america failed" in result.output
    assert "2 of 4 slice(s) did not succeed" in result.output
    assert f"log: {tmp_path}/retail-north-america.log" in result.output or "retail-north-america.log" in result.output


def test_the_cli_succeeds_when_every_slice_does(workspace: FakeWorkspace, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["preview", FLEET, "--logs", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "all 4 slice(s) succeeded" in result.output
    # Progress without a terminal: one line per state change per slice.
    for stack in [*REGIONAL, "retail-global"]:
        assert f"{stack}: running" in result.output
        assert f"{stack}: succeeded" in result.output


def test_without_the_pulumi_cli_nothing_runs_and_the_cli_says_how_to_fix_it(
    workspace: FakeWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestrate.shutil, "which", lambda name: None)
    with pytest.raises(OrchestrationError, match="the Pulumi CLI is not on PATH"):
        _run("up")
    result = CliRunner().invoke(app, ["up", FLEET])
    assert result.exit_code == 3
    assert "install it (https://www.pulumi.com/docs/iac/download-install/)" in result.output
    assert workspace.calls == []


def _scratch_project(root: Path, *, with_slices: bool) -> None:
    """A project with the retail fleet file, and its committed slice files if ``with_slices``."""
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "fleets").mkdir()
    shutil.copy(REPO / FLEET, root / FLEET)
    if with_slices:
        (root / "stacks").mkdir()
        for path in (REPO / "stacks").glob("Pulumi.retail-*.yaml"):
            shutil.copy(path, root / "stacks" / path.name)


def test_an_invalid_slice_stops_the_run_before_any_stack_is_touched(
    workspace: FakeWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scratch_project(tmp_path, with_slices=True)
    europe = tmp_path / "stacks" / "Pulumi.retail-europe.yaml"
    europe.write_text(europe.read_text().replace("edgefleet:storeLyon01Kubeconfig", "edgefleet:somethingElse"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["up", FLEET])
    assert result.exit_code == 2, result.output
    assert "retail-europe: clusters[3].kubeconfig: config key `edgefleet:storeLyon01Kubeconfig` is not set" in (
        result.output
    )
    assert workspace.calls == []


def test_a_fleet_file_without_slices_says_to_sync(
    workspace: FakeWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scratch_project(tmp_path, with_slices=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["preview", FLEET])
    assert result.exit_code == 2
    assert "no stack names fleets/retail.yaml with an `edgefleet:slice`; write the slice stacks with" in result.output

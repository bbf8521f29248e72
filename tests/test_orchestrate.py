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
from edgefleet.orchestrate import (
    AutomationDriver,
    OrchestrationError,
    Orchestrator,
    State,
    fleet_plan,
    fleet_spec_and_slices,
    wan_slices,
)
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
        self.new: set[str] = set()  # stacks never deployed: no outputs (all others have netcheckWan)
        self.unselectable: set[str] = set()  # `pulumi stack init` fails for these
        self.selected: list[tuple[str, int]] = []  # (stack, runs started before) per create_or_select
        self.prepared: list[str] = []  # the stacks whose outputs were read
        # What a deployed slice's netcheckWan holds: every WAN cluster it has (the fleet's layout).
        self.wan_clusters = _wan(REPO)
        self.options: list[Any] = []  # the workspace options of every create_or_select

    def create_or_select_stack(
        self, stack_name: str, work_dir: str | None = None, opts: Any = None, **_: Any
    ) -> FakeStack:
        with self.lock:
            self.selected.append((stack_name, len(self.calls)))
            self.options.append(opts)
        if stack_name in self.unselectable:
            raise auto.CommandError(CommandResult("", "error: could not create stack: 403 forbidden", 255))
        return FakeStack(self, stack_name, work_dir or "")


class FakeStack:
    def __init__(self, workspace: FakeWorkspace, name: str, work_dir: str) -> None:
        self.workspace = workspace
        self.name = name
        self.work_dir = work_dir

    def _run(self, operation: str, on_output: Callable[[str], None], on_event: Callable[[Any], None]) -> None:
        ws = self.workspace
        with ws.lock:
            if operation == "up" and self.name not in ws.failing:
                ws.new.discard(self.name)  # deployed: its outputs exist from now on
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

    def outputs(self) -> dict[str, auto.OutputValue]:
        ws = self.workspace
        with ws.lock:
            ws.prepared.append(self.name)
            assert ws.running == 0, "stacks are prepared before any slice runs"
            if self.name in ws.new:
                return {}
            exported = dict.fromkeys(ws.wan_clusters.get(self.name, ()), "203.0.113.1")
        return {"netcheckWan": auto.OutputValue(exported, False), "kubeconfigs": auto.OutputValue("", True)}

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


def _wan(project: Path) -> dict[str, frozenset[str]]:
    """The WAN slices of ``project``'s retail fleet, as the CLI computes them."""
    return wan_slices(*fleet_spec_and_slices(project, FLEET))


def _run(
    operation: orchestrate.Operation, parallel: int = 2, logs: Path | None = None, *, wan: bool = False
) -> list[orchestrate.SliceRun]:
    slices = fleet_plan(REPO, FLEET)
    carrying = _wan(REPO) if wan else {}
    return Orchestrator(AutomationDriver(REPO), operation, parallel=parallel, logs=logs, wan=carrying).run(slices)


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


# --- WAN probes across slices: stacks first, and a second pass after a first deploy ------------


def _states(runs: list[orchestrate.SliceRun]) -> list[tuple[str, State]]:
    return [(r.label, r.state) for r in runs]


@pytest.mark.parametrize("operation", ["preview", "up"])
def test_every_stack_is_created_before_any_slice_runs(workspace: FakeWorkspace, operation: str) -> None:
    workspace.new = {*REGIONAL, "retail-global"}
    _run("up" if operation == "up" else "preview", wan=True)
    # In order, one after another, before any slice has started, global included.
    assert workspace.selected[:4] == [(s, 0) for s in [*REGIONAL, "retail-global"]]
    # Only the WAN slices' outputs are read (the fake asserts nothing runs meanwhile): the
    # global slice's would tell nothing, and reading decrypts every secret output.
    assert workspace.prepared == REGIONAL


def test_without_wan_slices_no_outputs_are_read(workspace: FakeWorkspace) -> None:
    _run("up", wan=False)
    assert [stack for stack, _ in workspace.selected[:4]] == [*REGIONAL, "retail-global"]
    assert workspace.prepared == []


def test_the_driver_prepares_with_the_programs_environment(workspace: FakeWorkspace) -> None:
    driver = AutomationDriver(REPO, {"EDGEFLEET_PLACEMENT_TIME": "2026-01-01T00:00:00Z"})
    workspace.new = {"retail-asia"}
    assert driver.prepare("retail-asia") == {}
    europe = dict.fromkeys(["aws-eu-central-1", "store-berlin-01", "store-lyon-01"], "203.0.113.1")
    assert driver.prepare("retail-europe") == {"netcheckWan": europe, "kubeconfigs": ""}
    assert driver.prepare("retail-global", outputs=False) == {}
    assert workspace.prepared == ["retail-asia", "retail-europe"]
    assert [o.env_vars for o in workspace.options] == [{"EDGEFLEET_PLACEMENT_TIME": "2026-01-01T00:00:00Z"}] * 3


def test_the_wan_slices_are_the_fleets_layout() -> None:
    # Asia's one shop too: the layout is the fleet's, not the slice's; never the global slice.
    assert frozenset(_wan(REPO)) == frozenset(REGIONAL)


def _retail_with_netcheck(root: Path, netcheck: str) -> None:
    root.mkdir(exist_ok=True)
    _scratch_project(root, with_slices=True)
    fleet = root / FLEET
    text = fleet.read_text()
    assert "netcheck: {enabled: true}" in text
    fleet.write_text(text.replace("netcheck: {enabled: true}", netcheck))


def test_no_wan_slices_without_netcheck_or_a_layout(tmp_path: Path) -> None:
    _retail_with_netcheck(tmp_path, "netcheck: {enabled: false}")
    assert frozenset(_wan(tmp_path)) == frozenset()
    _retail_with_netcheck(tmp_path / "one", "netcheck: {enabled: true, wan: {skip: [store-osaka-01]}}")
    assert frozenset(_wan(tmp_path / "one")) == frozenset({"retail-europe", "retail-north-america"})
    _retail_with_netcheck(
        tmp_path / "two",
        "netcheck: {enabled: true, wan: {skip: [store-osaka-01, store-chicago-01, store-toronto-01, "
        "digitalocean-nyc3, store-berlin-01, store-lyon-01]}}",
    )
    # One WAN cluster left: no layout at all.
    assert frozenset(_wan(tmp_path / "two")) == frozenset()


def test_wan_probes_within_one_slice_run_nothing_twice(workspace: FakeWorkspace, tmp_path: Path) -> None:
    # Europe's three clusters probe each other, no other slice has WAN probes: nobody to wire.
    _retail_with_netcheck(
        tmp_path,
        "netcheck: {enabled: true, wan: {skip: [store-osaka-01, store-chicago-01, store-toronto-01, "
        "digitalocean-nyc3]}}",
    )
    slices = fleet_plan(tmp_path, FLEET)
    wan = _wan(tmp_path)
    assert wan == {"retail-europe": frozenset({"aws-eu-central-1", "store-berlin-01", "store-lyon-01"})}
    workspace.new = {*REGIONAL, "retail-global"}
    for operation in ("up", "preview"):
        orchestrator = Orchestrator(AutomationDriver(REPO), "up" if operation == "up" else "preview", wan=wan)
        runs = orchestrator.run(slices)
        assert not [r for r in runs if r.again]
        assert orchestrator.notes == []
    assert workspace.prepared == []


def test_a_first_deploy_runs_every_wan_slice_again_before_the_global_one(workspace: FakeWorkspace) -> None:
    workspace.new = {*REGIONAL, "retail-global"}
    runs = _run("up", wan=True)
    assert _states(runs) == [
        *((s, State.SUCCEEDED) for s in REGIONAL),
        *((f"{s} (again: WAN peers)", State.SUCCEEDED) for s in REGIONAL),
        ("retail-global", State.SUCCEEDED),
    ]
    ups = [stack for stack, op, _ in workspace.calls if op == "up"]
    assert sorted(ups[:3]) == REGIONAL
    assert sorted(ups[3:6]) == REGIONAL
    assert ups[6:] == ["retail-global"]


def test_a_new_slice_makes_only_the_others_run_again(workspace: FakeWorkspace) -> None:
    workspace.new = {"retail-asia"}
    runs = _run("up", wan=True)
    again = sorted(r.stack for r in runs if r.again)
    assert again == ["retail-europe", "retail-north-america"]
    assert runs[-1].stack == "retail-global"
    assert runs[-1].state is State.SUCCEEDED


def test_nothing_runs_twice_when_every_slice_is_deployed_or_there_are_no_wan_probes(
    workspace: FakeWorkspace,
) -> None:
    runs = _run("up", wan=True)  # every stack has its netcheckWan output already
    assert not [r for r in runs if r.again]
    workspace.new = {*REGIONAL}
    runs = _run("up", wan=False)  # netcheck off, or a layout of one cluster: no WAN slices
    assert not [r for r in runs if r.again]


def test_a_late_slice_that_failed_is_no_reason_to_run_the_others_again(workspace: FakeWorkspace) -> None:
    workspace.new = {"retail-asia"}
    workspace.failing = {"retail-asia"}
    runs = {r.label: r for r in _run("up", wan=True)}
    assert not [label for label in runs if "again" in label]
    assert runs["retail-global"].state is State.SKIPPED


@pytest.fixture
def europe_fails_again(workspace: FakeWorkspace, monkeypatch: pytest.MonkeyPatch) -> FakeWorkspace:
    """retail-asia is new; retail-europe's first update succeeds, its second fails."""
    workspace.new = {"retail-asia"}
    original = FakeStack._run

    def second_fails(self: FakeStack, operation: str, on_output: Any, on_event: Any) -> None:
        first = sum(1 for stack, op, _ in self.workspace.calls if stack == self.name and op == "up")
        if self.name == "retail-europe" and first == 1:
            self.workspace.failing.add("retail-europe")
        original(self, operation, on_output, on_event)

    monkeypatch.setattr(FakeStack, "_run", second_fails)
    return workspace


def test_a_failed_second_run_skips_the_global_slice(europe_fails_again: FakeWorkspace) -> None:
    runs = {r.label: r for r in _run("up", wan=True)}
    assert runs["retail-europe"].state is State.SUCCEEDED
    assert runs["retail-europe (again: WAN peers)"].state is State.FAILED
    assert runs["retail-global"].state is State.SKIPPED
    assert "retail-europe failed" in str(runs["retail-global"].error)


def test_the_cli_counts_a_failed_second_run_as_its_slice_failing(
    europe_fails_again: FakeWorkspace, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["up", FLEET, "--logs", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "retail-europe: succeeded" in result.output
    assert "retail-europe (again: WAN peers): failed: error: creating EKS Cluster" in result.output
    assert "retail-global: skipped: not run: slice(s) retail-europe failed" in result.output
    assert "2 of 4 slice(s) did not succeed" in result.output


def test_preview_runs_nothing_twice_and_names_the_late_slices(workspace: FakeWorkspace) -> None:
    workspace.new = {"retail-asia"}
    slices = fleet_plan(REPO, FLEET)
    orchestrator = Orchestrator(AutomationDriver(REPO), "preview", wan=_wan(REPO))
    runs = orchestrator.run(slices)
    assert not [r for r in runs if r.again]
    assert len(orchestrator.notes) == 1
    assert "retail-asia" in orchestrator.notes[0]
    assert "retail-europe" not in orchestrator.notes[0]


def test_a_stack_that_cannot_be_created_stops_the_run_before_anything_runs(workspace: FakeWorkspace) -> None:
    workspace.unselectable = {"retail-europe"}
    runs = {r.stack: r for r in _run("up", wan=True)}
    assert runs["retail-europe"].state is State.FAILED
    assert runs["retail-europe"].error == (
        "could not create or select the stack: error: could not create stack: 403 forbidden"
    )
    for other in ("retail-asia", "retail-north-america", "retail-global"):
        assert runs[other].state is State.SKIPPED
        assert "stack retail-europe could not be created or selected" in str(runs[other].error)
    assert workspace.calls == []


def test_every_stack_is_tried_and_each_that_cannot_be_created_is_reported(
    workspace: FakeWorkspace, tmp_path: Path
) -> None:
    workspace.unselectable = {"retail-asia", "retail-global"}
    result = CliRunner().invoke(app, ["up", FLEET, "--logs", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert [stack for stack, _ in workspace.selected] == [*REGIONAL, "retail-global"]
    assert workspace.calls == []
    for stack in ("retail-asia", "retail-global"):
        assert f"{stack}: failed: could not create or select the stack: error: could not create stack: 403" in (
            result.output
        )
    assert (
        "retail-europe: skipped: not run: stacks retail-asia, retail-global could not be created or selected"
        in result.output
    )
    assert "4 of 4 slice(s) did not succeed" in result.output


def test_the_cli_shows_the_second_pass(workspace: FakeWorkspace, tmp_path: Path) -> None:
    workspace.new = {"retail-asia"}
    result = CliRunner().invoke(app, ["up", FLEET, "--logs", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "retail-europe (again: WAN peers): succeeded" in result.output
    assert "all 4 slice(s) succeeded (2 run again for their WAN peers)" in result.output
    assert (tmp_path / "retail-europe.again.log").read_text() == "up retail-europe\n"
    preview = CliRunner().invoke(app, ["preview", FLEET, "--logs", str(tmp_path)])
    assert preview.exit_code == 0, preview.output
    assert "again" not in preview.output


def test_a_cluster_added_to_a_deployed_slice_makes_it_late(workspace: FakeWorkspace) -> None:
    # retail-europe was deployed before store-lyon-01 joined it: its netcheckWan lacks that one.
    workspace.wan_clusters = {**workspace.wan_clusters, "retail-europe": frozenset({"aws-eu-central-1"})}
    runs = _run("up", wan=True)
    assert sorted(r.stack for r in runs if r.again) == ["retail-asia", "retail-north-america"]
    assert _wan(REPO)["retail-europe"] >= {"aws-eu-central-1", "store-lyon-01"}

"""``edgefleet up|preview FLEET``: every slice of a fleet through Pulumi's Automation API.

The user's Pulumi CLI does the work (``pulumi preview``/``pulumi up`` per slice stack, in the
project directory, with the user's backend and credentials); edgefleet schedules it:

- every slice is validated offline first (the same checks as ``edgefleet validate``), so a config
  error stops the run before any stack is touched;
- the regional slices run in parallel, at most ``parallel`` at a time, each in its own Pulumi
  process; a failed slice does not stop the others;
- every slice's stack is created (or selected) first, one after another, before any runs: a
  ``StackReference`` to a stack that does not exist fails the update (pulumi/pulumi#19202), and
  the regional slices read each other's WAN probes (``netcheckWan``); every stack is tried, each
  one that cannot be created is reported on its slice, and then nothing runs;
- the ``global`` slice runs last, after every other slice, because it reads their outputs through
  StackReferences; ``up`` skips it when a slice failed (its endpoints could be missing or stale),
  ``preview`` still previews it;
- WAN probes across slices (docs/doctor.md#across-the-slices-of-a-fleet): a regional slice with
  WAN probes whose ``netcheckWan`` output is missing, or lacks one of its WAN clusters (a first
  deploy, a slice or a cluster added) is *late*: the
  others ran without its address and key. After the regional pass, ``up`` runs again every
  slice with WAN probes that succeeded and has a late peer (not itself) that succeeded, in
  parallel, before the global slice; ``preview`` runs nothing twice and says which are late;
- progress: a live table on a terminal (state, resources done, changes, time), one line per
  event otherwise; each slice's Pulumi output goes to ``<logs>/<stack>.log``;
- the end: a summary table and exit 1 when any slice failed or was skipped.

``AutomationDriver`` is the only code that talks to the Automation API; tests replace the
Automation API's workspace functions (``create_or_select_stack``) at that boundary.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

from pulumi import automation as auto
from pulumi.automation import events

from edgefleet.components.config import ConfigError, FleetSpec
from edgefleet.components.config.errors import ConfigIssue
from edgefleet.components.config.slices import Slice, fleet_slices, request_from_source, resolve_scope
from edgefleet.components.config.source import read_stack_file
from edgefleet.components.netcheck import WAN_OUTPUT, fleet_wan_layout
from edgefleet.stacks import load_fleet_file

Operation = Literal["preview", "up"]
DEFAULT_PARALLEL = 4
_TAIL_LINES = 12


class State(StrEnum):
    """Where one slice's run is."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class OrchestrationError(Exception):
    """The run cannot start (no Pulumi CLI, no slices); one line, with the fix."""


@dataclass
class SliceRun:
    """One slice's progress and result."""

    stack: str
    is_global: bool
    clusters: tuple[str, ...]
    state: State = State.QUEUED
    resources_done: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    log: Path | None = None
    again: bool = False  # the second run of a regional slice, wiring its WAN probes to late slices

    @property
    def label(self) -> str:
        """How the run is shown: the stack, and ``(again: WAN peers)`` for a second run."""
        return f"{self.stack} (again: WAN peers)" if self.again else self.stack

    def changes_text(self) -> str:
        """``create 3, update 1`` (``same`` left out), or ``-``."""
        shown = [f"{op} {n}" for op, n in sorted(self.changes.items()) if op != "same" and n]
        return ", ".join(shown) or ("no changes" if self.state is State.SUCCEEDED else "-")


class StackDriver(Protocol):
    """Runs one Pulumi operation on one stack; returns the change summary or raises."""

    def check(self) -> None:
        """Raise ``OrchestrationError`` when the operation cannot run at all."""

    def prepare(self, stack: str, *, outputs: bool = True) -> Mapping[str, object]:
        """Create ``stack`` if it does not exist yet (or select it); with ``outputs``, its current
        outputs by name (none for a stack never deployed), else nothing is read."""

    def run(
        self,
        stack: str,
        operation: Operation,
        *,
        on_event: Callable[[events.EngineEvent], None],
        on_output: Callable[[str], None],
    ) -> dict[str, int]:
        """Preview or update ``stack``; the change summary by operation (``create``, ``update``...)."""


class AutomationDriver:
    """The Automation API over the user's Pulumi CLI, with the project directory as the workspace
    (its ``Pulumi.yaml`` and ``stacks/Pulumi.<stack>.yaml``: the same files ``pulumi up`` uses)."""

    def __init__(self, project: Path, env: Mapping[str, str] | None = None) -> None:
        self.project = project
        # Environment for every stack's program, e.g. EDGEFLEET_PLACEMENT_TIME: one window for all slices.
        self.env = dict(env or {})

    def check(self) -> None:
        """The Automation API drives the ``pulumi`` command: it must be on PATH."""
        if shutil.which("pulumi") is None:
            raise OrchestrationError(
                "the Pulumi CLI is not on PATH: `edgefleet up`/`preview` run it through the Automation API; "
                "install it (https://www.pulumi.com/docs/iac/download-install/) and log in to your backend. "
                "`edgefleet plan` works without it"
            )

    def _stack(self, stack: str) -> auto.Stack:
        """The workspace stack (``pulumi stack init`` when it does not exist yet)."""
        if self.env:
            options = auto.LocalWorkspaceOptions(env_vars=self.env)
            return auto.create_or_select_stack(stack_name=stack, work_dir=str(self.project), opts=options)
        return auto.create_or_select_stack(stack_name=stack, work_dir=str(self.project))

    def prepare(self, stack: str, *, outputs: bool = True) -> Mapping[str, object]:
        """``stack`` created or selected; with ``outputs``, its outputs (``pulumi stack output``,
        twice: masked and ``--show-secrets``; none when new). Without, no output is read, nor
        any secret decrypted."""
        workspace_stack = self._stack(stack)
        if not outputs:
            return {}
        return {name: output.value for name, output in workspace_stack.outputs().items()}

    def run(
        self,
        stack: str,
        operation: Operation,
        *,
        on_event: Callable[[events.EngineEvent], None],
        on_output: Callable[[str], None],
    ) -> dict[str, int]:
        """``pulumi preview`` or ``pulumi up --yes`` on ``stack`` (created if it does not exist yet)."""
        workspace_stack = self._stack(stack)
        if operation == "up":
            result = workspace_stack.up(on_output=on_output, on_event=on_event, color="never")
            return {str(op): int(n) for op, n in (result.summary.resource_changes or {}).items()}
        preview = workspace_stack.preview(on_output=on_output, on_event=on_event, color="never")
        return {_op_name(op): int(n) for op, n in (preview.change_summary or {}).items()}


def _op_name(op: object) -> str:
    value = getattr(op, "value", op)
    return str(value)


def fleet_plan(project: Path, fleet_file: str) -> list[Slice]:
    """The slices of ``fleet_file``, each validated as ``edgefleet validate`` would; ``ConfigError``
    lists every problem of every slice (nothing has run yet)."""
    return fleet_spec_and_slices(project, fleet_file)[1]


def fleet_spec_and_slices(project: Path, fleet_file: str) -> tuple[FleetSpec, list[Slice]]:
    """The fleet (read and placed once) and its slices, validated as ``fleet_plan`` says."""
    _, spec = load_fleet_file(project, fleet_file)
    slices = fleet_slices(project, fleet_file, spec)
    if not slices:
        raise OrchestrationError(
            f"no stack names {fleet_file} with an `edgefleet:slice`; write the slice stacks with "
            f"`edgefleet stacks sync {fleet_file}`"
        )
    problems: list[ConfigIssue] = []
    for one in slices:
        try:
            source = read_stack_file(project / one.file, project)
            request = request_from_source(source)
            if request is not None:
                resolve_scope(request, spec, project)
        except ConfigError as exc:
            problems.extend(ConfigIssue(f"{one.stack}: {i.path}", i.message, i.position) for i in exc.issues)
    if problems:
        raise ConfigError(problems)
    return spec, slices


def wan_slices(spec: FleetSpec, slices: Sequence[Slice]) -> dict[str, frozenset[str]]:
    """The regional slices with designated WAN probes, each with those clusters: the fleet's WAN
    layout (over every cluster of the fleet, as the program computes it) on the slice's clusters."""
    members = set(fleet_wan_layout(spec).members)
    found = {s.stack: frozenset(members & set(s.clusters)) for s in slices if not s.is_global}
    return {stack: clusters for stack, clusters in found.items() if clusters}


@dataclass
class Orchestrator:
    """Runs ``operation`` over the slices: regional ones in parallel (bounded), the global one last."""

    driver: StackDriver
    operation: Operation
    parallel: int = DEFAULT_PARALLEL
    logs: Path | None = None
    on_change: Callable[[Sequence[SliceRun]], None] = lambda runs: None
    # The regional slices with WAN probes, each with those clusters (``wan_slices``).
    wan: Mapping[str, frozenset[str]] = field(default_factory=dict)
    runs: list[SliceRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run(self, slices: Sequence[Slice]) -> list[SliceRun]:
        """Run every slice; return the runs in stack order (global last)."""
        if self.parallel < 1:
            raise OrchestrationError("--parallel must be at least 1")
        self.driver.check()
        regional = [s for s in slices if not s.is_global]
        final = [s for s in slices if s.is_global]
        self.runs = [SliceRun(s.stack, s.is_global, s.clusters) for s in [*regional, *final]]
        self.notes = []
        by_stack = {r.stack: r for r in self.runs}
        self._changed()
        late = self._prepare([*regional, *final])
        if late is None:
            return self.runs
        self._parallel([by_stack[s.stack] for s in regional])
        if self.operation == "up":
            self._wire_late(regional, late, by_stack)
        elif late:
            self.notes.append(
                f"not deployed yet, so the other slices' WAN probes are not wired to them: {', '.join(sorted(late))}; "
                "`edgefleet up` runs the other slices again after their first update"
            )
        failed = sorted({r.stack for r in self.runs if not r.is_global and r.state is State.FAILED})
        for one in final:
            run = by_stack[one.stack]
            if failed and self.operation == "up":
                with self._lock:
                    run.state = State.SKIPPED
                    run.error = f"not run: slice(s) {', '.join(failed)} failed, so its StackReferences could be stale"
                self._changed()
                continue
            self._one(run)
        return self.runs

    def _prepare(self, slices: Sequence[Slice]) -> set[str] | None:
        """Every slice's stack created or selected, in order; the late WAN slices (``netcheckWan``
        missing, or without one of the slice's WAN clusters). None when a stack could not be: every stack is still tried
        (each failure on its slice, so one run shows them all), then nothing runs."""
        # Only a WAN slice with a peer slice can be late: read no other stack's outputs.
        wired = self.wan if len(self.wan) > 1 else {}
        late: set[str] = set()
        failed: dict[str, str] = {}
        for one in slices:
            try:
                outputs = self.driver.prepare(one.stack, outputs=one.stack in wired)
            except Exception as exc:  # reported on the slice, and nothing runs
                if isinstance(exc, auto.CommandError):  # its text: "stderr: error: ..." lines
                    failed[one.stack] = _first_error(str(exc).replace("stderr: ", ""), [])
                else:
                    failed[one.stack] = f"{type(exc).__name__}: {exc}"
                continue
            if one.stack in wired:
                # Late: never deployed, or not with every WAN cluster it has now (one just added).
                exported = outputs.get(WAN_OUTPUT)
                if not isinstance(exported, Mapping) or not wired[one.stack] <= set(exported):
                    late.add(one.stack)
        if not failed:
            return late
        named = f"stack{'s' if len(failed) > 1 else ''} {', '.join(sorted(failed))}"
        with self._lock:
            for run in self.runs:
                if run.stack in failed:
                    run.state, run.error = State.FAILED, f"could not create or select the stack: {failed[run.stack]}"
                else:
                    run.state = State.SKIPPED
                    run.error = (
                        f"not run: {named} could not be created or selected, and the slices read each "
                        "other's outputs through StackReferences"
                    )
        self._changed()
        return None

    def _parallel(self, runs: Sequence[SliceRun]) -> None:
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="slice") as pool:
            futures: list[Future[None]] = [pool.submit(self._one, run) for run in runs]
            for future in futures:
                future.result()

    def _wire_late(self, regional: Sequence[Slice], late: set[str], by_stack: Mapping[str, SliceRun]) -> None:
        """Run again each WAN slice that succeeded and has a late peer (not itself) that succeeded."""
        ready = {s for s in late if by_stack[s].state is State.SUCCEEDED}
        again = [
            SliceRun(s.stack, False, s.clusters, again=True)
            for s in regional
            if s.stack in self.wan and by_stack[s.stack].state is State.SUCCEEDED and ready - {s.stack}
        ]
        if not again:
            return
        with self._lock:
            at = len([r for r in self.runs if not r.is_global])
            self.runs[at:at] = again
        self._changed()
        self._parallel(again)

    def _one(self, run: SliceRun) -> None:
        log_file = None
        if self.logs is not None:
            self.logs.mkdir(parents=True, exist_ok=True)
            run.log = self.logs / (f"{run.stack}.again.log" if run.again else f"{run.stack}.log")
            log_file = run.log.open("w", encoding="utf-8")
        tail: list[str] = []

        def on_output(line: str) -> None:
            tail.append(line)
            del tail[:-_TAIL_LINES]
            if log_file is not None:
                log_file.write(line.rstrip("\n") + "\n")

        def on_event(event: events.EngineEvent) -> None:
            if event.res_outputs_event is not None or event.res_op_failed_event is not None:
                with self._lock:
                    run.resources_done += 1
                self._changed()

        with self._lock:
            run.state = State.RUNNING
        self._changed()
        start = time.monotonic()
        try:
            changes = self.driver.run(run.stack, self.operation, on_event=on_event, on_output=on_output)
        except auto.CommandError as exc:
            self._finish(run, start, State.FAILED, error=_first_error(str(exc), tail))
        except Exception as exc:  # any failure of one slice must not stop the others
            self._finish(run, start, State.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            self._finish(run, start, State.SUCCEEDED, changes=changes)
        finally:
            if log_file is not None:
                log_file.close()

    def _finish(
        self, run: SliceRun, start: float, state: State, *, error: str | None = None, changes: Mapping[str, int] = {}
    ) -> None:
        with self._lock:
            run.state = state
            run.error = error
            run.changes = dict(changes)
            run.seconds = time.monotonic() - start
        self._changed()

    def _changed(self) -> None:
        with self._lock:
            snapshot = list(self.runs)
        self.on_change(snapshot)


def _first_error(message: str, tail: Sequence[str]) -> str:
    """One line for the summary: the CLI's first ``error:`` line, else the message's last line."""
    for line in [*message.splitlines(), *tail]:
        stripped = line.strip()
        if stripped.startswith("error:"):
            return stripped
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else "failed"

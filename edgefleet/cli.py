"""The ``edgefleet`` command (contract v1: ``docs/cli.md``).

Exit codes: 0 success; 2 invalid input (every error on its own line: ``path: message (file:line:col)``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from edgefleet import __version__
from edgefleet.components.config import ConfigError, FleetSpec, Workload, read_stack_file
from edgefleet.components.config.errors import one_line
from edgefleet.components.config.model import DayPlan, MeasuredLocation, MeasuredPairInfo, RttMatrixInfo
from edgefleet.components.config.previous import placement_options
from edgefleet.components.config.slices import Slice, SliceScope, load_sliced
from edgefleet.components.config.source import ConfigValue, StackSource, path_exists
from edgefleet.files import replace_file
from edgefleet.operator import GitAuth, OperatorOptions, SecretsProvider, SliceSecrets
from edgefleet.plan import (
    ManifestDirError,
    build_plan,
    check_manifest_dir,
    counts_by_type,
    deployed_clusters,
    dumps,
    kubernetes_objects,
    placement_entries,
    write_manifests,
)
from edgefleet.project import find_project, stack_file
from edgefleet.stacks import GroupBy

if TYPE_CHECKING:
    from edgefleet.check import CheckReport
    from edgefleet.engine import ProgramRun
    from edgefleet.orchestrate import Operation, Orchestrator, SliceRun

# `validate` stays fast: the Pulumi SDK, the engine and the rules load only in `plan` and `check`.

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_INVALID = 2

app = typer.Typer(
    name="edgefleet",
    help="Kubernetes at the edge on many vendors, from one stack config. Offline: no Pulumi CLI, no credentials.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# soft_wrap: one error stays one line, whatever the terminal width (scripts and CI parse them).
out = Console()
err = Console(stderr=True, soft_wrap=True)

StackArg = Annotated[
    str, typer.Argument(help="A stack name (stacks/Pulumi.<STACK>.yaml) or a path to a stack settings file.")
]


def _fail(exc: ConfigError) -> typer.Exit:
    for issue in exc.issues:
        err.print(str(issue), markup=False, highlight=False, soft_wrap=True)
    noun = "error" if len(exc.issues) == 1 else "errors"
    err.print(f"[red]invalid:[/] {len(exc.issues)} {noun}", highlight=False)
    return typer.Exit(EXIT_INVALID)


def output_problem(path: Path, *, directory: bool = False) -> str | None:
    """Why an output path cannot be written, checked before any work; None when it can.

    The path itself must not be a symbolic link; its parent directory must exist (edgefleet
    creates no directories but the one ``--manifests`` names); an existing file output must be a
    regular file (a directory, FIFO or device is refused), an existing directory output a directory.
    """
    try:
        return _output_problem(path, directory=directory)
    except (OSError, ValueError) as exc:  # a name longer than the system allows, no permission to look
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"cannot be used: {reason}; name a shorter path you can write"


def _output_problem(path: Path, *, directory: bool) -> str | None:
    what = "directory" if directory else "file"
    if path.is_symlink():
        return f"is a symbolic link; name the {what} itself"
    parent = path.parent
    if not parent.is_dir():
        if parent.exists():
            return f"{parent} is not a directory; name a {what} inside an existing directory"
        return f"directory {parent} does not exist; create it first (mkdir -p {parent}), edgefleet creates none"
    if not path.exists():
        return None
    if directory:
        return None if path.is_dir() else "exists and is not a directory; name a directory"
    if path.is_dir():
        return f"is a directory; name a file in it, e.g. {path / ('out' + (path.suffix or '.json'))}"
    if not path.is_file():
        return "is not a regular file (a FIFO, socket or device); name a regular file"
    return None


def _fail_lines(*lines: str) -> typer.Exit:
    """Errors that are not config issues (options, output paths): one per line, then the summary."""
    for line in lines:
        err.print(one_line(line), markup=False, highlight=False, soft_wrap=True)
    noun = "error" if len(lines) == 1 else "errors"
    err.print(f"[red]invalid:[/] {len(lines)} {noun}", highlight=False)
    return typer.Exit(EXIT_INVALID)


def _check_outputs(*outputs: tuple[str, Path | None, bool]) -> None:
    """Exit 2 with one line per unusable output (``--json FILE: reason``) before any work."""
    problems = [
        f"{option} {path}: {problem}"
        for option, path, directory in outputs
        if path is not None and (problem := output_problem(path, directory=directory)) is not None
    ]
    if problems:
        raise _fail_lines(*problems)


def _write_output(option: str, path: Path, text: str) -> None:
    """Write an output file; a failure (permissions, a full disk) is one line and exit 2."""
    try:
        problem = output_problem(path)
        if problem is None:
            replace_file(path, text)
    except OSError as exc:
        problem = f"cannot be written: {exc.strerror or exc}; check the path and its permissions"
    if problem is not None:
        raise _fail_lines(f"{option} {path}: {problem}")


PackOverride = tuple[str, dict[str, Any]]  # `check --policy-pack-config`: the file as shown, its levels


@dataclass(frozen=True)
class Window:
    """The time scheduled placement is for: ``--at``, the stack's ``edgefleet:placementTime``, or now."""

    at: datetime
    given_by: str  # "--at", the config key, or "now"


def _at_option(at: str | None) -> datetime | None:
    """``--at TIME`` parsed; exit 2 with one line when it is not an ISO 8601 time."""
    from edgefleet.components.placement.timeline import parse_time

    if at is None:
        return None
    try:
        return parse_time(at)
    except ValueError as exc:
        raise _fail_lines(f"--at {at}: {exc}") from None


def _window(source: StackSource, at: datetime | None) -> Window:
    from edgefleet.components.config.previous import placement_time

    if at is not None:
        return Window(at, "--at")
    recorded = placement_time(source, os.environ)
    if recorded is not None:
        return Window(*recorded)
    return Window(datetime.now(UTC), "now")


def _with_window(source: StackSource, spec: FleetSpec, window: Window) -> StackSource:
    """The stack as the program sees it: a scheduled fleet gets the window as its recorded input
    (``edgefleet:placementTime``), so the program places the same window as this run."""
    from edgefleet.components.config.previous import PLACEMENT_TIME_KEY
    from edgefleet.components.placement.timeline import format_time

    if not any(w.spec.placement.over_time for w in spec.workloads):
        return source
    value = ConfigValue(PLACEMENT_TIME_KEY, False, format_time(window.at))
    return replace(source, values={**source.values, PLACEMENT_TIME_KEY: value})


def _window_note(spec: FleetSpec, window: Window) -> str | None:
    """One line naming the window a scheduled fleet is placed for, and where that time came from."""
    from edgefleet.components.config.parse import schedule_minutes
    from edgefleet.components.placement.timeline import format_time, window_start

    minutes = sorted({n for w in spec.workloads if (n := schedule_minutes(w.spec)) is not None})
    if not minutes:
        return None
    starts = ", ".join(f"{format_time(window_start(window.at, n))} ({n} min)" for n in minutes)
    why = {
        "--at": f"--at {format_time(window.at)}",
        "now": f"the current UTC time {format_time(window.at)}; choose another with --at",
    }.get(window.given_by, f"{window.given_by} {format_time(window.at)}")
    return f"placement window: {starts}, for {why}"


def _load_scoped(
    stack: str,
    *,
    previous: Path | None = None,
    exact: bool = False,
    pack_override: PackOverride | None = None,
    at: datetime | None = None,
    timeline: bool = False,
) -> tuple[Path, StackSource, FleetSpec, SliceScope | None]:
    """Project, stack file, fleet and slice. Placement honours the location requirements of the
    rules mandatory in the stack's pack config (``components/policy.py``); ``pack_override``
    (``check --policy-pack-config``) stands in for it, for this run and the program it plans.
    Scheduled placement is for the window of ``at`` (``_window``); the stack returned records it."""
    project, source, spec, scope, _ = _load_window(
        stack, previous=previous, exact=exact, pack_override=pack_override, at=at, timeline=timeline
    )
    return project, source, spec, scope


def _load_window(
    stack: str,
    *,
    previous: Path | None = None,
    exact: bool = False,
    pack_override: PackOverride | None = None,
    at: datetime | None = None,
    timeline: bool = False,
) -> tuple[Path, StackSource, FleetSpec, SliceScope | None, Window]:
    from edgefleet.components.policy import POLICY_PACK_CONFIG_KEY, with_requirements

    project = find_project()
    source = read_stack_file(stack_file(project, stack), project)
    shown = None
    if pack_override is not None:
        # The operator's file (any path) stands in for the stack's; the program it plans gets the
        # levels themselves, so the file need not be inside the project.
        shown, levels = pack_override
        override = ConfigValue(POLICY_PACK_CONFIG_KEY, False, levels)
        source = replace(source, values={**source.values, POLICY_PACK_CONFIG_KEY: override})
    window = _window(source, at)
    options = with_requirements(
        placement_options(project, source, previous=previous, exact=exact), project, source, shown=shown
    )
    options = replace(options, at=window.at, timeline=timeline)
    spec, scope = load_sliced(source, project, options)
    return project, _with_window(source, spec, window), spec, scope, window


def _load(
    stack: str,
    *,
    previous: Path | None = None,
    exact: bool = False,
    pack_override: PackOverride | None = None,
    at: datetime | None = None,
) -> tuple[Path, StackSource, FleetSpec]:
    project, source, spec, _ = _load_scoped(stack, previous=previous, exact=exact, pack_override=pack_override, at=at)
    return project, source, spec


AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Place scheduled workloads for the window holding this time (ISO 8601 UTC, e.g. 2026-03-01T14:00:00Z); "
        "default: the stack's edgefleet:placementTime, else EDGEFLEET_PLACEMENT_TIME, else now.",
        show_default=False,
    ),
]


@app.command()
def validate(stack: StackArg) -> None:
    """Parse and cross-check the fleet config. Exit 0 valid, 2 invalid."""
    try:
        _, source, spec, scope = _load_scoped(stack)
    except ConfigError as exc:
        raise _fail(exc) from None
    placed = sum(len(w.replicas) for w in spec.workloads)
    err.print(
        f"[green]valid:[/] {escape(one_line(source.file))}: {len(spec.clusters)} cluster(s), "
        f"{len(spec.workloads)} workload(s), "
        f"{placed} placement(s)",
        highlight=False,
    )
    if scope is not None:
        what = f"{len(scope.slice.clusters)} cluster(s)" if not scope.is_global else "the fleet-wide resources"
        reads = f", reads {', '.join(scope.peer_stacks())}" if scope.is_global else ""
        err.print(
            one_line(f"slice {source.stack} ({scope.slice.spec.describe()}): deploys {what}{reads}"),
            markup=False,
            highlight=False,
        )


def _run_with_progress(project: Path, source: StackSource) -> ProgramRun:
    from edgefleet.engine import run_program

    if not err.is_terminal:
        return run_program(project, source)
    with err.status(f"planning {source.stack} under the mock engine...") as status:

        def tick(count: int) -> None:
            status.update(f"planning {source.stack} under the mock engine: {count} resources registered")

        return run_program(project, source, on_register=tick)


def _summary(spec: FleetSpec, run: ProgramRun, scope: SliceScope | None = None) -> None:
    # One pass: object kinds per EdgeWorkload component (named <workload>-<cluster>).
    names = {r.urn: r.name for r in run.registrations}
    kinds_of: dict[str, Counter[str]] = {}
    for _, r in kubernetes_objects(run):
        kinds_of.setdefault(names.get(r.parent or "", ""), Counter())[r.type.rsplit(":", 1)[-1]] += 1
    tree = Tree(f"[bold]{run.project}/{run.stack}[/]: {len(run.registrations)} resources")
    for cluster in deployed_clusters(spec, scope):
        cni = cluster.cni
        policy = "policy enforced" if cni.network_policy else "policy not enforced"
        branch = tree.add(
            f"[bold]{cluster.name}[/]  {cluster.vendor.value} {cluster.region}  "
            f"cni {cni.plugin.value}{'/' + cni.mode if cni.mode else ''} ({policy})"
        )
        for workload in sorted(spec.workloads, key=lambda w: w.spec.name):
            replicas = dict(workload.replicas).get(cluster.name)
            if replicas is None:
                continue
            kinds = kinds_of.get(f"{workload.spec.name}-{cluster.name}", Counter())
            branch.add(
                f"{workload.spec.name}  {replicas} replica(s)  {workload.spec.expose.value}  "
                f"[dim]{', '.join(k if n == 1 else f'{k} x{n}' for k, n in sorted(kinds.items()))}[/]"
            )
    out.print(tree)
    table = Table("type", "count", title="resources by type", title_justify="left")
    for type_, count in counts_by_type(run):
        table.add_row(type_, str(count))
    out.print(table)


PLACEMENTS_FORMAT = "edgefleet.placements/v1"


@app.command()
def place(  # noqa: PLR0917  one parameter per option
    stack: StackArg,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write edgefleet.placements/v1 here.")] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous", help="A placements or plan file to stay close to (default: edgefleet:placementsFile)."
        ),
    ] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Solve latency placement exactly (MILP); slower.")] = False,
    at: AtOpt = None,
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline",
            help="Every window of the day (of --at, default today, UTC), against the best static placement.",
        ),
    ] = False,
) -> None:
    """Placement only: where every workload runs, why, and how close to the best possible."""
    _check_outputs(("--json", json_file, False))
    when = _at_option(at)
    try:
        _, source, spec, _, window = _load_window(stack, previous=previous, exact=exact, at=when, timeline=timeline)
    except ConfigError as exc:
        raise _fail(exc) from None
    note = _window_note(spec, window)
    if timeline:
        _print_timeline(spec, window)
        if json_file is not None:
            _write_output("--json", json_file, dumps(timeline_document(spec, source.stack, window)))
            err.print(one_line(f"timeline written to {json_file}"), markup=False, highlight=False)
        return
    if note is not None:
        out.print(note, markup=False, highlight=False, soft_wrap=True)
    for workload in sorted(spec.workloads, key=lambda w: w.spec.name):
        _print_placement(spec, workload)
    if json_file is not None:
        document = {"format": PLACEMENTS_FORMAT, "stack": source.stack, "placements": placement_entries(spec)}
        _write_output("--json", json_file, dumps(document))
        err.print(one_line(f"placements written to {json_file}"), markup=False, highlight=False)


TIMELINE_FORMAT = "edgefleet.timeline/v1"


def _day_starts(spec: FleetSpec) -> list[str]:
    """The window starts of the timeline: the finest schedule's (every scheduled workload's windows
    are looked up at those times)."""
    days = [w.day for w in spec.workloads if w.day is not None]
    return [entry.start for entry in max(days, key=lambda d: len(d.windows)).windows] if days else []


def _index_at(day: DayPlan, start: str) -> int:
    """The window of ``day`` holding ``start`` (ISO 8601 UTC)."""
    index = 0
    for i, entry in enumerate(day.windows):
        if entry.start <= start:
            index = i
    return index


def timeline_document(spec: FleetSpec, stack: str, window: Window) -> dict[str, Any]:
    """``edgefleet.timeline/v1``: every window of the day, each ``placements`` as in ``place --json``;
    ``static``: the best single static placement, measured in the same windows."""
    from edgefleet.components.placement.timeline import format_time, window_starts

    # No workload placed per window: the day's hours, each with the one placement.
    starts = _day_starts(spec) or [format_time(t) for t in window_starts(window.at, 60)]
    windows, static = [], []
    for start in starts:
        view = _timeline_view(spec, start)
        windows.append({"start": start, "placements": placement_entries(view)})
        static.append({"start": start, "placements": placement_entries(_timeline_view(spec, start, static=True))})
    return {
        "format": TIMELINE_FORMAT,
        "stack": stack,
        "at": format_time(window.at),
        "windows": windows,
        "static": static,
    }


def _timeline_view(spec: FleetSpec, start: str, static: bool = False) -> FleetSpec:
    """The fleet as the window starting at ``start`` places it (``static``: the best static placement
    instead); workloads not placed per window stay as they are."""
    workloads = []
    for w in spec.workloads:
        if w.day is None:
            workloads.append(w)
            continue
        index = _index_at(w.day, start)
        chosen = (w.day.static if static else w.day.windows)[index]
        update = {"replicas": chosen.replicas, "latency": chosen.latency, "day": None}
        update["waves"] = (tuple(name for name, _ in chosen.replicas),)
        workloads.append(w.model_copy(update=update))
    return spec.model_copy(update={"workloads": tuple(workloads)})


def _print_timeline(spec: FleetSpec, window: Window) -> None:
    scheduled = sorted((w for w in spec.workloads if w.day is not None), key=lambda w: w.spec.name)
    if not scheduled:
        out.print(
            "no workload is placed per window (no `placement.schedule`, no demand over time): one placement all "
            "day, as `edgefleet place` shows",
            highlight=False,
        )
        return
    from edgefleet.components.placement.timeline import format_time

    why = (
        "--at"
        if window.given_by == "--at"
        else ("the current UTC time" if window.given_by == "now" else window.given_by)
    )
    out.print(
        f"timeline of {format_time(window.at)[:10]} (UTC), the day of {why} {format_time(window.at)}",
        markup=False,
        highlight=False,
    )
    for w in scheduled:
        assert w.day is not None
        first = w.day.windows[0].latency.window
        source = first.source if first is not None else ""
        out.print(
            f"{w.spec.name}: one placement per window, from {source}; each line: window start (UTC), req/s, "
            "locations:replicas, estimated mean RTT (p95) and the physical bound; the best static placement; "
            "the locations opened (+) and closed (-) against the window before",
            markup=False,
            highlight=False,
        )
        for entry, fixed in zip(w.day.windows, w.day.static, strict=True):
            lat, st = entry.latency, fixed.latency
            win = lat.window
            rate = win.requests_per_second if win is not None else 0.0
            moves = " ".join([*(f"+{c}" for c in win.opened), *(f"-{c}" for c in win.closed)]) if win else ""
            out.print(
                f"  {entry.start[11:16]}  {rate:>12,.1f} req/s  "
                f"{' '.join(f'{name}:{n}' for name, n in entry.replicas)}  "
                f"mean {lat.mean_rtt_ms:.1f} ms (p95 {lat.p95_rtt_ms:.1f}), bound {lat.bound_mean_rtt_ms:.1f} ms | "
                f"static mean {st.mean_rtt_ms:.1f} ms (p95 {st.p95_rtt_ms:.1f})"
                + (f" | moves {moves}" if moves else ""),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        summary = day_summary(w.day)
        out.print(
            f"  day (request-weighted): schedule mean {summary['schedule_mean_rtt_ms']:.1f} ms over "
            f"{summary['schedule_location_hours']:.1f} location-hours, {summary['moves']} move(s); best static "
            f"placement ({', '.join(name for name, _ in w.day.static[0].replicas)}) mean "
            f"{summary['static_mean_rtt_ms']:.1f} ms over {summary['static_location_hours']:.1f} location-hours",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def day_summary(day: DayPlan) -> dict[str, Any]:
    """A day's figures: request-weighted mean RTT of the schedule and of the best static placement,
    location-hours of each, and how many locations the schedule opens over the day."""
    rates = [(e.latency.window.requests_per_second if e.latency.window is not None else 0.0) for e in day.windows]
    total = sum(rates) or 1.0
    hours = [(e.latency.window.minutes if e.latency.window is not None else 60) / 60 for e in day.windows]
    return {
        "schedule_mean_rtt_ms": sum(r * e.latency.mean_rtt_ms for r, e in zip(rates, day.windows, strict=True)) / total,
        "static_mean_rtt_ms": sum(r * e.latency.mean_rtt_ms for r, e in zip(rates, day.static, strict=True)) / total,
        "schedule_location_hours": sum(h * len(e.replicas) for h, e in zip(hours, day.windows, strict=True)),
        "static_location_hours": sum(h * len(e.replicas) for h, e in zip(hours, day.static, strict=True)),
        "moves": sum(len(e.latency.window.opened) for e in day.windows if e.latency.window is not None),
    }


def _print_placement(spec: FleetSpec, workload: Workload) -> None:
    lat = workload.latency
    shares = dict(lat.demand_share) if lat is not None else {}
    total = (
        sum(n for _, n in workload.replicas) if lat is not None and lat.window is not None else workload.spec.replicas
    )
    title = f"{workload.spec.name}: {workload.strategy.value}, {total} replicas"
    table = Table("location", "vendor", "region", "replicas", "demand share", title=title, title_justify="left")
    for name, replicas in workload.replicas:
        cluster = spec.cluster(name)
        share = f"{shares[name]:.1%}" if name in shares else "-"
        table.add_row(name, cluster.vendor.value, cluster.region, str(replicas), share)
    out.print(table)
    for name, constraint in workload.excluded:
        out.print(f"  excluded {name}: {constraint}", highlight=False)
    chosen = {name for name, _ in workload.replicas}
    excluded = {name for name, _ in workload.excluded}
    passed_over = [c.name for c in spec.clusters if c.name not in chosen | excluded]
    if lat is not None and passed_over:
        why = "slower for the demand" if lat.rtt_matrix is not None else "farther from demand"
        out.print(f"  eligible, not chosen ({why}): {', '.join(sorted(passed_over))}", highlight=False)
    if lat is not None:
        out.print(
            f"  estimated RTT: mean {lat.mean_rtt_ms:.1f} ms, p95 {lat.p95_rtt_ms:.1f} ms; physical bound "
            f"{lat.bound_mean_rtt_ms:.1f} ms (light in fiber to the nearest eligible location)",
            highlight=False,
        )
        proof = "proven optimal" if lat.proven_optimal else f"within {lat.gap:.2%} of the proven lower bound"
        out.print(
            f"  {lat.method} over {lat.demand_points} demand points: {proof} "
            f"(no placement can average below {lat.lower_bound_rtt_ms:.1f} ms)",
            highlight=False,
        )
        if lat.rtt_matrix is not None:
            _print_rtt_matrix(lat.rtt_matrix, chosen)
            if workload.hostname is not None and lat.by_distance_share and lat.by_distance_mean_rtt_ms is not None:
                out.print(
                    f"  note: for {lat.by_distance_share:.1%} of demand the nearest chosen location is not the "
                    f"fastest; DNS steering (`traffic`) sends users to the nearest, which averages "
                    f"{lat.by_distance_mean_rtt_ms:.1f} ms "
                    "(docs/placement.md#a-measured-rtt-matrix-placementrtt_matrix)",
                    markup=False,
                    highlight=False,
                )
        if lat.held_back is not None:
            held = lat.held_back
            out.print(
                f"  kept the previous placement: moving to {', '.join(held.candidate)} would gain only "
                f"{held.gain:.1%} mean RTT ({held.candidate_mean_rtt_ms:.1f} ms), under the threshold",
                highlight=False,
            )
        if lat.window is not None:
            win = lat.window
            out.print(
                f"  window {win.start} to {win.end}: {win.requests_per_second:,.1f} req/s from {win.source}",
                markup=False,
                highlight=False,
            )
            moves = (
                f"open {', '.join(win.opened)}, wait until ready and healthy, then close "
                f"{', '.join(win.closed) or 'none'}"
                if win.opened
                else (f"close {', '.join(win.closed)}" if win.closed else "no move")
            )
            dwell = f"; kept by min_dwell: {', '.join(win.kept_by_dwell)}" if win.kept_by_dwell else ""
            out.print(
                f"  from the window before ({', '.join(win.previous)}): {moves}{dwell}", markup=False, highlight=False
            )


RTT_PAIRS_SHOWN = 12
RTT_LOCATIONS_SHOWN = 20


def _print_rtt_matrix(info: RttMatrixInfo, chosen: set[str]) -> None:
    """The measured RTT matrix a workload was placed with: per eligible location (``*``: chosen) its
    fitted numbers beside the model's, and the pairs (measured, the model's estimate, the fitted
    one), those the model gets most wrong first."""
    measured = [loc for loc in info.locations if loc.pairs]
    out.print(
        f"  measured RTT ({info.file}): {len(measured)} of {len(info.locations)} eligible location(s) measured; "
        f"user RTT = last mile + site delay + (model's + site's inflation) / 2 x 1 ms per 100 km "
        f"(the model: delay 0 ms, inflation {info.default_inflation:g}); the pairs are "
        f"{info.rms_model_ms:.2f} ms from the model and {info.rms_fitted_ms:.2f} ms from the fit (RMS)",
        markup=False,
        highlight=False,
    )

    # The chosen locations, then those the measurement moved most from the model, in name order.
    def moved(loc: MeasuredLocation) -> float:
        return loc.delay_ms + abs(loc.inflation - info.default_inflation) * 10  # ms at 1,000 km

    shown = sorted(info.locations, key=lambda loc: (loc.cluster not in chosen, -moved(loc), loc.cluster))
    shown = sorted(shown[: max(RTT_LOCATIONS_SHOWN, len(chosen))], key=lambda loc: loc.cluster)
    for loc in shown:
        mark = "*" if loc.cluster in chosen else " "
        numbers = (
            f"inflation {loc.inflation:.3f}, site delay {loc.delay_ms:.2f} ms, from {loc.pairs} pair(s)"
            if loc.pairs
            else "not measured: the model's numbers"
        )
        out.print(f"   {mark} {loc.cluster}: {numbers}", markup=False, highlight=False)
    if len(info.locations) > len(shown):
        out.print(
            f"     ... {len(info.locations) - len(shown)} more location(s) in --json "
            "(placements[].rtt_matrix.locations)",
            markup=False,
            highlight=False,
        )

    def order(p: MeasuredPairInfo) -> tuple[float, str, str]:
        gap = abs(p.measured_ms - p.model_ms) if p.measured_ms is not None else -1.0
        return (-gap, p.a, p.b)

    pairs = sorted(info.pairs, key=order)
    for p in pairs[:RTT_PAIRS_SHOWN]:
        measured_text = f"{p.measured_ms:.2f} ms" if p.measured_ms is not None else "no replies"
        out.print(
            f"    {p.a} <-> {p.b} ({p.km:,.0f} km): measured {measured_text}, model {p.model_ms:.2f} ms, "
            f"fitted {p.fitted_ms:.2f} ms",
            markup=False,
            highlight=False,
        )
    if len(pairs) > RTT_PAIRS_SHOWN:
        out.print(
            f"    ... {len(pairs) - RTT_PAIRS_SHOWN} more pair(s) in --json (placements[].rtt_matrix.pairs)",
            markup=False,
            highlight=False,
        )


@app.command()
def plan(
    stack: StackArg,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the plan (edgefleet.plan/v1) here.")] = None,
    manifests: Annotated[
        Path | None, typer.Option("--manifests", help="Write every Kubernetes object here, one file each.")
    ] = None,
    at: AtOpt = None,
) -> None:
    """Run the real Pulumi program under the SDK's mock engine; print a summary, write plan and manifests."""
    _check_outputs(("--json", json_file, False), ("--manifests", manifests, True))
    when = _at_option(at)
    try:
        project, source, spec, scope, window = _load_window(stack, at=when)
    except ConfigError as exc:
        raise _fail(exc) from None
    note = _window_note(spec, window)
    if manifests is not None:
        try:
            check_manifest_dir(manifests)  # before any work: nothing half-written
        except ManifestDirError as exc:
            raise _fail_lines(one_line(f"--manifests {exc}")) from None
    import pulumi

    try:
        run = _run_with_progress(project, source)
    except pulumi.RunError as exc:  # the program's own config errors, already one line each
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    if note is not None:
        out.print(note, markup=False, highlight=False, soft_wrap=True)
    _summary(spec, run, scope)
    if json_file is not None:
        _write_output("--json", json_file, dumps(build_plan(spec, run, scope)))
        err.print(one_line(f"plan written to {json_file}"), markup=False, highlight=False)
    if manifests is not None:
        try:
            written = write_manifests(run, manifests)
        except (ManifestDirError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise _fail_lines(f"--manifests {manifests}: cannot be written: {reason}") from None
        err.print(one_line(f"{len(written)} manifests written under {manifests}"), markup=False, highlight=False)


@app.command()
def check(
    stack: StackArg,
    sarif: Annotated[
        Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0 (GitHub code scanning) here.")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the report (edgefleet.check/v1) here.")
    ] = None,
    pack_config: Annotated[
        Path | None,
        typer.Option("--policy-pack-config", help="Enforcement levels; default policies/config/<stack>.json."),
    ] = None,
    at: AtOpt = None,
) -> None:
    """Plan offline, then run the policy pack's rules over it. Exit 0 none mandatory, 1 mandatory, 2 invalid."""
    import pulumi

    from edgefleet.check import PackConfigError, check_levels, load_pack_config, report_json, report_sarif
    from edgefleet.check import check as run_check
    from edgefleet.components.policy import POLICY_PACK_CONFIG_KEY, configured_pack_config, default_pack_config
    from edgefleet.policies.rules import (
        ALL_POLICIES,  # the rule modules only: never the pack object (policies/__main__.py)
    )

    _check_outputs(("--sarif", sarif, False), ("--json", json_file, False))
    when = _at_option(at)
    if pack_config is not None and not path_exists(pack_config):
        raise _fail_lines(f"--policy-pack-config {pack_config}: not found; check the path")
    try:
        # Read once, levels checked before anything is planned; it steers placement and the rules.
        override = (str(pack_config), load_pack_config(pack_config)) if pack_config is not None else None
        project, source, spec, _, window = _load_window(stack, pack_override=override, at=when)
        if override is not None:
            config = override[1]
        elif isinstance(configured := configured_pack_config(source), Mapping):  # the levels inline
            config = check_levels(configured, POLICY_PACK_CONFIG_KEY)
        else:
            config = load_pack_config(project / (configured or default_pack_config(source.stack)))
    except ConfigError as exc:
        raise _fail(exc) from None
    except PackConfigError as exc:
        raise _fail_lines(f"--policy-pack-config: {exc}" if pack_config is not None else str(exc)) from None
    note = _window_note(spec, window)
    if note is not None:
        err.print(note, markup=False, highlight=False, soft_wrap=True)
    try:
        run = _run_with_progress(project, source)
    except pulumi.RunError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    report = run_check(run, source, project, ALL_POLICIES, config, spec=spec)
    _print_report(report)
    if json_file is not None:
        _write_output("--json", json_file, dumps(report_json(report)))
        err.print(one_line(f"report written to {json_file}"), markup=False, highlight=False)
    if sarif is not None:
        _write_output("--sarif", sarif, dumps(report_sarif(report, __version__)))
        err.print(one_line(f"SARIF written to {sarif}"), markup=False, highlight=False)
    if report.mandatory:
        raise typer.Exit(EXIT_VIOLATIONS)


def _as_option(message: str) -> str:
    """An ``OperatorOptions`` error names its field (``resync_seconds: ...``); on the command line
    that is the option (``--resync-seconds: ...``)."""
    field, sep, rest = message.partition(": ")
    if sep and field in {f.name for f in fields(OperatorOptions)}:
        option = {"environments": "environment"}.get(field, field)  # repeatable: --environment E
        return f"--{option.replace('_', '-')}: {rest}"
    return message


def _print_report(report: CheckReport) -> None:
    # One line per violation, so it reads the same in a terminal, a CI log and grep: where in the
    # config (file:line:col), the rule, the cluster/workload, the message.
    for v in report.violations:
        colour = "red" if v.enforcement == "mandatory" else "yellow"
        where = f"{v.location.file}:{v.location.line}:{v.location.col}"
        subject = f" \\[{escape(v.location.subject)}]" if v.location.subject else ""
        out.print(
            f"[{colour}]{v.enforcement}[/] {escape(where)} [bold]{v.rule}[/]{subject}: {escape(v.message)}",
            highlight=False,
            soft_wrap=True,
        )
    for note in report.skipped:
        err.print(f"[dim]not run on an unknown value: {note}[/]", highlight=False)
    mandatory = len(report.mandatory)
    advisory = len(report.violations) - mandatory
    summary = f"{len(report.rules)} rules, {mandatory} mandatory and {advisory} advisory violation(s)"
    err.print(f"[{'red' if mandatory else 'green'}]{'failed' if mandatory else 'passed'}:[/] {summary}")


stacks_app = typer.Typer(
    help="Per-region stacks (slices) of a shared fleet file: write them; export them to the Kubernetes operator.",
    no_args_is_help=True,
)
app.add_typer(stacks_app, name="stacks")


def _add_export_commands() -> None:
    # `edgefleet export karmada|ocm` (edgefleet/export_cmd.py imports this module's helpers when it runs).
    from edgefleet.export_cmd import export_app

    app.add_typer(export_app, name="export")


_add_export_commands()


def _add_doctor_commands() -> None:
    # `edgefleet doctor` and `edgefleet lab ...` (edgefleet/doctor_cmd.py; docs/doctor.md).
    from edgefleet.doctor_cmd import doctor, lab_app

    app.command()(doctor)
    app.add_typer(lab_app, name="lab")


_add_doctor_commands()

EXIT_CANNOT_RUN = 3  # up/preview: the Pulumi CLI is missing
DEFAULT_PARALLEL = 4  # slices at a time in up/preview

FleetArg = Annotated[
    Path, typer.Argument(help="The shared fleet file (e.g. fleets/prod.yaml), inside the project.", show_default=False)
]


def _fleet_file(project: Path, fleet: Path) -> str:
    from edgefleet.stacks import fleet_file_argument

    return fleet_file_argument(project, fleet)


@stacks_app.command("sync")
def stacks_sync(
    fleet: FleetArg,
    by: Annotated[
        GroupBy, typer.Option("--by", help="One slice per region group (continent), or one per cluster.")
    ] = GroupBy.REGION,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Stack name prefix (default: the fleet file's name).")
    ] = None,
    placements_file: Annotated[
        str | None,
        typer.Option("--placements-file", help="Set edgefleet:placementsFile (project-relative) in every slice."),
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when a slice file would change (for CI).")
    ] = False,
) -> None:
    """Write or update one stack settings file per slice of FLEET (idempotent), and report what changed."""
    from edgefleet.stacks import Change, sync

    try:
        project = find_project()
        fleet_file = _fleet_file(project, fleet)
        report = sync(
            project,
            fleet_file,
            prefix=prefix or Path(fleet_file).stem,
            by=by,
            placements_file=placements_file,
            write=not check_only,
        )
    except ConfigError as exc:
        raise _fail(exc) from None
    table = Table("stack", "slice", "clusters", "change", title=f"slices of {fleet_file}", title_justify="left")
    for item in report.files:
        colour = {Change.CREATED: "green", Change.UPDATED: "yellow", Change.STALE: "red"}.get(item.change, "dim")
        what = "global (DNS steering)" if item.spec.is_global else ", ".join(item.clusters) or "(none)"
        table.add_row(item.stack, item.spec.describe(), what, f"[{colour}]{item.change.value}[/]")
    out.print(table)
    for item in report.files:
        for key in item.missing_secrets:
            err.print(
                f"{item.stack}: set {key} with `pulumi config set --secret -s {item.stack} {key.split(':', 1)[1]} "
                "< kubeconfig.yaml`",
                markup=False,
                highlight=False,
            )
        if item.change is Change.STALE:
            err.print(
                f"{item.stack}: selects no cluster any more; destroy it (`pulumi destroy -s {item.stack}`, "
                f"`pulumi stack rm {item.stack}`), then delete {_shown(item.path)}",
                markup=False,
                highlight=False,
            )
    verb = "would change" if check_only else "changed"
    err.print(f"{len(report.changed)} of {len(report.files)} slice file(s) {verb}", highlight=False)
    if check_only and report.changed:
        raise typer.Exit(EXIT_VIOLATIONS)


@stacks_app.command("export")
def stacks_export(  # noqa: PLR0917  one option per OperatorOptions field
    fleet: FleetArg,
    repo: Annotated[str, typer.Option("--repo", help="Git URL of this project's repository.", show_default=False)],
    operator: Annotated[
        bool, typer.Option("--operator", help="Write Pulumi Kubernetes Operator (v2) Stack resources.")
    ] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write here (default: stdout).")] = None,
    branch: Annotated[str, typer.Option("--branch")] = "main",
    repo_dir: Annotated[str, typer.Option("--repo-dir", help="The project's directory in the repository.")] = "",
    namespace: Annotated[str, typer.Option("--namespace")] = "edgefleet",
    organization: Annotated[str, typer.Option("--organization", help="Pulumi organization of the stacks.")] = "",
    backend: Annotated[str, typer.Option("--backend", help="Self-managed backend URL (default: Pulumi Cloud).")] = "",
    service_account: Annotated[str, typer.Option("--service-account")] = "edgefleet-workspace",
    access_token_secret: Annotated[str, typer.Option("--access-token-secret")] = "pulumi-access-token",
    secrets_provider: Annotated[SecretsProvider, typer.Option("--secrets-provider")] = SecretsProvider.SERVICE,
    passphrase_secret: Annotated[str, typer.Option("--passphrase-secret")] = "pulumi-config-passphrase",
    git_auth: Annotated[GitAuth, typer.Option("--git-auth")] = GitAuth.NONE,
    git_auth_secret: Annotated[str, typer.Option("--git-auth-secret")] = "edgefleet-git-auth",
    slice_secrets: Annotated[SliceSecrets, typer.Option("--slice-secrets")] = SliceSecrets.STACK_FILE,
    resync_seconds: Annotated[int, typer.Option("--resync-seconds")] = 600,
    rerun_unchanged: Annotated[bool, typer.Option("--rerun-unchanged")] = False,
    refresh: Annotated[bool, typer.Option("--refresh/--no-refresh")] = True,
    create_stacks: Annotated[bool, typer.Option("--create-stacks")] = False,
    environment: Annotated[list[str] | None, typer.Option("--environment", help="Pulumi ESC environment.")] = None,
    workspace_image: Annotated[str, typer.Option("--workspace-image")] = "",
) -> None:
    """Export the slices of FLEET so a management cluster runs them continuously (docs/operator.md)."""
    from edgefleet.operator import ExportFileError, operator_stacks, write_operator_stacks

    if not operator:
        err.print("stacks export: say what to export: --operator (Pulumi Kubernetes Operator Stacks)", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    _check_outputs(("--out", out_file, False))
    _, fleet_file, _, slices = _checked_slices(fleet)
    options = OperatorOptions(
        repo=repo,
        branch=branch,
        repo_dir=repo_dir,
        namespace=namespace,
        organization=organization,
        backend=backend,
        service_account=service_account,
        access_token_secret=access_token_secret,
        secrets_provider=secrets_provider,
        passphrase_secret=passphrase_secret,
        git_auth=git_auth,
        git_auth_secret=git_auth_secret,
        slice_secrets=slice_secrets,
        resync_seconds=resync_seconds,
        rerun_unchanged=rerun_unchanged,
        refresh=refresh,
        create_stacks=create_stacks,
        environments=tuple(environment or ()),
        workspace_image=workspace_image,
    )
    try:
        text = write_operator_stacks(operator_stacks(Path(fleet_file).stem, slices, options), out_file)
    except (ValueError, ExportFileError) as exc:
        raise _fail_lines(one_line(f"stacks export: {_as_option(str(exc))}")) from None
    except OSError as exc:
        raise _fail_lines(f"--out {out_file}: cannot be written: {exc.strerror or exc}") from None
    if out_file is None:
        sys.stdout.write(text)
    else:
        err.print(one_line(f"{len(slices)} Stack resource(s) written to {out_file}"), markup=False, highlight=False)


def _shown(path: Path) -> str:
    from edgefleet.components.config.source import display_path

    return display_path(path)


ParallelOpt = Annotated[int, typer.Option("--parallel", min=1, help="Slices run at the same time.")]
LogsOpt = Annotated[
    Path | None,
    typer.Option(
        "--logs", help="Each slice's Pulumi output goes to <LOGS>/<stack>.log (default: out/logs).", show_default=False
    ),
]
DEFAULT_LOGS = Path("out/logs")  # the one output directory edgefleet creates with its parents


def _checked_slices(fleet: Path) -> tuple[Path, str, FleetSpec, list[Slice]]:
    """The project, FLEET as a project-relative path, the fleet and its slices, every one
    validated; exit 2 (every error on its own line) before anything runs."""
    from edgefleet.orchestrate import OrchestrationError, fleet_spec_and_slices

    try:
        project = find_project()
        fleet_file = _fleet_file(project, fleet)
        if not err.is_terminal:
            return project, fleet_file, *fleet_spec_and_slices(project, fleet_file)
        with err.status(f"validating the slices of {fleet_file}..."):
            return project, fleet_file, *fleet_spec_and_slices(project, fleet_file)
    except ConfigError as exc:
        raise _fail(exc) from None
    except OrchestrationError as exc:
        err.print(one_line(f"{fleet}: {exc}"), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None


def _orchestrate(
    fleet: Path, operation: Operation, parallel: int, logs: Path | None, at: datetime | None = None
) -> None:
    from edgefleet.components.config.previous import PLACEMENT_TIME_ENV
    from edgefleet.components.placement.timeline import format_time, window_start
    from edgefleet.orchestrate import AutomationDriver, OrchestrationError, Orchestrator, State, wan_slices

    _check_outputs(("--logs", logs, True))
    if logs is None:
        logs = DEFAULT_LOGS
        if logs.is_symlink() or (logs.exists() and not logs.is_dir()):
            raise _fail_lines(f"--logs {logs}: exists and is not a directory; pass --logs DIR")
    project, fleet_file, spec, slices = _checked_slices(fleet)
    env: dict[str, str] = {}
    windows = [s.window_minutes for s in slices if s.window_minutes is not None]
    if windows:
        # One time for every slice of this run: slices running across a window boundary would
        # otherwise place different windows (a stack's own edgefleet:placementTime still wins).
        pinned = at or datetime.now(UTC)
        env[PLACEMENT_TIME_ENV] = format_time(pinned)
        why = "--at" if at is not None else "the current UTC time"
        err.print(
            f"placement window for every slice: {format_time(window_start(pinned, min(windows)))} "
            f"({min(windows)} min), for {why} {format_time(pinned)} ({PLACEMENT_TIME_ENV})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    orchestrator = Orchestrator(
        AutomationDriver(project, env),
        operation,
        parallel=parallel,
        logs=logs,
        wan=wan_slices(spec, slices),
    )
    try:
        runs = _with_progress_table(orchestrator, slices, f"{operation} {fleet_file}")
    except OrchestrationError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    out.print(_runs_table(runs, f"{operation} {fleet_file}: summary"))
    for run in runs:
        if run.error is not None:
            log = f" (log: {_shown(run.log)})" if run.log is not None else ""
            err.print(f"{run.label}: {run.state.value}: {run.error}{log}", markup=False, highlight=False)
    for note in orchestrator.notes:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    # Counted by slice: a second run (WAN peers) is the same slice, failed if either run did.
    stacks = {r.stack for r in runs}
    bad = {r.stack for r in runs if r.state is not State.SUCCEEDED}
    again = sum(1 for r in runs if r.again)
    if bad:
        err.print(f"[red]{len(bad)} of {len(stacks)} slice(s) did not succeed[/]", highlight=False)
        raise typer.Exit(EXIT_VIOLATIONS)
    twice = f" ({again} run again for their WAN peers)" if again else ""
    err.print(f"[green]all {len(stacks)} slice(s) succeeded{twice}[/]", highlight=False)


def _runs_table(runs: Sequence[SliceRun], title: str) -> Table:
    from edgefleet.orchestrate import State

    table = Table("stack", "state", "resources", "changes", "time", title=title, title_justify="left")
    colours = {State.SUCCEEDED: "green", State.FAILED: "red", State.SKIPPED: "yellow", State.RUNNING: "cyan"}
    for run in runs:
        colour = colours.get(run.state, "dim")
        name = f"{run.stack} [dim](global, last)[/]" if run.is_global else run.label
        seconds = f"{run.seconds:.0f} s" if run.state in (State.SUCCEEDED, State.FAILED) else "-"
        table.add_row(name, f"[{colour}]{run.state.value}[/]", str(run.resources_done), run.changes_text(), seconds)
    return table


def _with_progress_table(orchestrator: Orchestrator, slices: Sequence[Slice], title: str) -> list[SliceRun]:
    """A live table on a terminal; one line per state change otherwise (CI logs)."""
    if err.is_terminal:
        from rich.live import Live

        with Live(console=err, refresh_per_second=4, transient=True) as live:
            orchestrator.on_change = lambda runs: live.update(_runs_table(runs, title))
            return orchestrator.run(slices)
    seen: dict[str, str] = {}
    lock = threading.Lock()

    def log_changes(runs: Sequence[SliceRun]) -> None:
        with lock:
            for run in runs:
                if seen.get(run.label) != run.state.value:
                    seen[run.label] = run.state.value
                    err.print(f"{run.label}: {run.state.value}", markup=False, highlight=False)

    orchestrator.on_change = log_changes
    return orchestrator.run(slices)


@app.command()
def preview(
    fleet: FleetArg,
    parallel: ParallelOpt = DEFAULT_PARALLEL,
    logs: LogsOpt = None,
    at: AtOpt = None,
) -> None:
    """`pulumi preview` every slice of FLEET with your Pulumi CLI: in parallel, the global slice last."""
    _orchestrate(fleet, "preview", parallel, logs, _at_option(at))


@app.command()
def up(
    fleet: FleetArg,
    parallel: ParallelOpt = DEFAULT_PARALLEL,
    logs: LogsOpt = None,
    at: AtOpt = None,
) -> None:
    """`pulumi up` every slice of FLEET with your Pulumi CLI: in parallel, past failures, the global slice last."""
    _orchestrate(fleet, "up", parallel, logs, _at_option(at))


def _version(value: bool) -> None:
    if value:
        out.print(f"edgefleet {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """edgefleet: one stack config in; clusters, CNI, placement and policy out."""


def main() -> None:
    """Console-script entry point."""
    app(prog_name="edgefleet")
    sys.exit(EXIT_OK)

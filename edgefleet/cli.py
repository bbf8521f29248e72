"""The ``edgefleet`` command (contract v1: ``docs/cli.md``).

Exit codes: 0 success; 2 invalid input (every error on its own line: ``path: message (file:line:col)``).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from components.config import ConfigError, FleetSpec, Workload, load_stack, read_stack_file
from components.config.previous import placement_options
from components.config.source import StackSource
from edgefleet import __version__
from edgefleet.plan import (
    ManifestDirError,
    build_plan,
    check_manifest_dir,
    counts_by_type,
    dumps,
    kubernetes_objects,
    placement_entries,
    write_manifests,
)
from edgefleet.project import find_project, stack_file

if TYPE_CHECKING:
    from edgefleet.check import CheckReport
    from edgefleet.engine import ProgramRun

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


def _load(stack: str, *, previous: Path | None = None, exact: bool = False) -> tuple[Path, StackSource, FleetSpec]:
    project = find_project()
    source = read_stack_file(stack_file(project, stack))
    return project, source, load_stack(source, placement_options(project, source, previous=previous, exact=exact))


@app.command()
def validate(stack: StackArg) -> None:
    """Parse and cross-check the fleet config. Exit 0 valid, 2 invalid."""
    try:
        _, source, spec = _load(stack)
    except ConfigError as exc:
        raise _fail(exc) from None
    placed = sum(len(w.replicas) for w in spec.workloads)
    err.print(
        f"[green]valid:[/] {source.file}: {len(spec.clusters)} cluster(s), {len(spec.workloads)} workload(s), "
        f"{placed} placement(s)",
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


def _summary(spec: FleetSpec, run: ProgramRun) -> None:
    # One pass: object kinds per EdgeWorkload component (named <workload>-<cluster>).
    names = {r.urn: r.name for r in run.registrations}
    kinds_of: dict[str, Counter[str]] = {}
    for _, r in kubernetes_objects(run):
        kinds_of.setdefault(names.get(r.parent or "", ""), Counter())[r.type.rsplit(":", 1)[-1]] += 1
    tree = Tree(f"[bold]{run.project}/{run.stack}[/]: {len(run.registrations)} resources")
    for cluster in sorted(spec.clusters, key=lambda c: c.name):
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
def place(
    stack: StackArg,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write edgefleet.placements/v1 here.")] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous", help="A placements or plan file to stay close to (default: edgefleet:placementsFile)."
        ),
    ] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Solve latency placement exactly (MILP); slower.")] = False,
) -> None:
    """Placement only: where every workload runs, why, and how close to the best possible."""
    try:
        _, source, spec = _load(stack, previous=previous, exact=exact)
    except ConfigError as exc:
        raise _fail(exc) from None
    for workload in sorted(spec.workloads, key=lambda w: w.spec.name):
        _print_placement(spec, workload)
    if json_file is not None:
        document = {"format": PLACEMENTS_FORMAT, "stack": source.stack, "placements": placement_entries(spec)}
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(dumps(document), encoding="utf-8")
        err.print(f"placements written to {json_file}", highlight=False)


def _print_placement(spec: FleetSpec, workload: Workload) -> None:
    lat = workload.latency
    shares = dict(lat.demand_share) if lat is not None else {}
    title = f"{workload.spec.name}: {workload.strategy.value}, {workload.spec.replicas} replicas"
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
        out.print(f"  eligible, not chosen (farther from demand): {', '.join(sorted(passed_over))}", highlight=False)
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
        if lat.held_back is not None:
            held = lat.held_back
            out.print(
                f"  kept the previous placement: moving to {', '.join(held.candidate)} would gain only "
                f"{held.gain:.1%} mean RTT ({held.candidate_mean_rtt_ms:.1f} ms), under the threshold",
                highlight=False,
            )


@app.command()
def plan(
    stack: StackArg,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the plan (edgefleet.plan/v1) here.")] = None,
    manifests: Annotated[
        Path | None, typer.Option("--manifests", help="Write every Kubernetes object here, one file each.")
    ] = None,
) -> None:
    """Run the real Pulumi program under the SDK's mock engine; print a summary, write plan and manifests."""
    try:
        project, source, spec = _load(stack)
    except ConfigError as exc:
        raise _fail(exc) from None
    if manifests is not None:
        try:
            check_manifest_dir(manifests)  # before any work: nothing half-written
        except ManifestDirError as exc:
            err.print(f"--manifests: {exc}", markup=False, highlight=False)
            raise typer.Exit(EXIT_INVALID) from None
    import pulumi

    try:
        run = _run_with_progress(project, source)
    except pulumi.RunError as exc:  # the program's own config errors, already one line each
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    _summary(spec, run)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(dumps(build_plan(spec, run)), encoding="utf-8")
        err.print(f"plan written to {json_file}", highlight=False)
    if manifests is not None:
        written = write_manifests(run, manifests)
        err.print(f"{len(written)} manifests written under {manifests}", highlight=False)


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
) -> None:
    """Plan offline, then run the policy pack's rules over it. Exit 0 none mandatory, 1 mandatory, 2 invalid."""
    import pulumi

    from edgefleet.check import PackConfigError, load_pack_config, report_json, report_sarif
    from edgefleet.check import check as run_check
    from policies.rules import ALL_POLICIES  # the rule modules only: never the pack object (policies/__main__.py)

    try:
        project, source, _ = _load(stack)
        config = load_pack_config(pack_config or project / "policies" / "config" / f"{source.stack}.json")
    except ConfigError as exc:
        raise _fail(exc) from None
    except PackConfigError as exc:
        err.print(f"--policy-pack-config: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    try:
        run = _run_with_progress(project, source)
    except pulumi.RunError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    report = run_check(run, source, project, ALL_POLICIES, config)
    _print_report(report)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(dumps(report_json(report)), encoding="utf-8")
        err.print(f"report written to {json_file}", highlight=False)
    if sarif is not None:
        sarif.parent.mkdir(parents=True, exist_ok=True)
        sarif.write_text(dumps(report_sarif(report, __version__)), encoding="utf-8")
        err.print(f"SARIF written to {sarif}", highlight=False)
    if report.mandatory:
        raise typer.Exit(EXIT_VIOLATIONS)


def _print_report(report: CheckReport) -> None:
    # One line per violation, so it reads the same in a terminal, a CI log and grep.
    for v in report.violations:
        colour = "red" if v.enforcement == "mandatory" else "yellow"
        out.print(
            f"[{colour}]{v.enforcement}[/] {v.location.file}:{v.location.line} [bold]{v.rule}[/]: {v.message}",
            highlight=False,
            soft_wrap=True,
        )
    for note in report.skipped:
        err.print(f"[dim]not run on an unknown value: {note}[/]", highlight=False)
    mandatory = len(report.mandatory)
    advisory = len(report.violations) - mandatory
    summary = f"{len(report.rules)} rules, {mandatory} mandatory and {advisory} advisory violation(s)"
    err.print(f"[{'red' if mandatory else 'green'}]{'failed' if mandatory else 'passed'}:[/] {summary}")


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

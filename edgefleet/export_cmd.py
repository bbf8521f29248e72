"""``edgefleet export karmada|ocm STACK --out DIR`` (``docs/cli.md``, ``docs/engines.md``).

Plan the stack once under the mock engine, take each workload's objects per cluster, and write them as
Karmada or Open Cluster Management objects, one file each, under DIR. Exit 0; 2 on invalid input (one
line per error). The shared helpers of ``edgefleet.cli`` are imported when a command runs, so this module
and ``edgefleet.cli`` can import each other.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edgefleet.components.config import ConfigError
from edgefleet.components.config.errors import one_line
from edgefleet.export import (
    ExportDirError,
    ExportError,
    PlacedWorkload,
    check_export_dir,
    member_names,
    workload_objects,
    write_export,
)
from edgefleet.karmada import CLUSTER_NAME_MAX as KARMADA_NAME_MAX
from edgefleet.karmada import ConflictResolution, KarmadaOptions, PurgeMode, check_options, karmada_files
from edgefleet.ocm import CLUSTER_NAME_MAX as OCM_NAME_MAX
from edgefleet.ocm import ocm_files

if TYPE_CHECKING:
    from types import ModuleType

    from edgefleet.components.config import FleetSpec
    from edgefleet.components.config.slices import SliceScope
    from edgefleet.components.config.source import StackSource

__all__ = ["export_app"]

export_app = typer.Typer(
    help="Hand the placement to a multi-cluster engine that keeps it true between deploys (docs/engines.md).",
    no_args_is_help=True,
)

StackArg = Annotated[
    str, typer.Argument(help="A stack name (stacks/Pulumi.<STACK>.yaml) or a path to a stack settings file.")
]
OutOpt = Annotated[
    Path,
    typer.Option(
        "--out", help="Directory to write (replaced whole if an earlier export wrote it).", show_default=False
    ),
]


def _cli() -> ModuleType:
    import edgefleet.cli  # noqa: PLC0415  imported when a command runs: edgefleet.cli imports this module

    return edgefleet.cli


def _line(text: str) -> None:
    _cli().err.print(one_line(text), markup=False, highlight=False, soft_wrap=True)


def _invalid(*lines: str) -> typer.Exit:
    exit_: typer.Exit = _cli()._fail_lines(*lines)
    return exit_


def _prepare(
    stack: str, out: Path, *, engine: str, max_length: int, whole_fleet: bool
) -> tuple[StackSource, FleetSpec, SliceScope | None, dict[str, str], list[PlacedWorkload]]:
    """Checks (output, config, member names) before any work, then one offline plan and its workloads."""
    import pulumi  # noqa: PLC0415  the SDK loads only when a command plans

    cli = _cli()
    cli._check_outputs(("--out", out, True))
    try:
        check_export_dir(out)
    except ExportDirError as exc:
        raise _invalid(f"--out {exc}") from None
    try:
        project, source, spec, scope = cli._load_scoped(stack)
        if scope is not None and whole_fleet:
            raise _invalid(
                f"{source.config_file or source.file}: stack {source.stack} is a slice of {source.fleet_file}; "
                f"{engine} schedules a workload across all its clusters at once, so export a stack that deploys "
                "the whole fleet (one without edgefleet:slice)"
            )
        placed = sorted(
            {c for w in spec.workloads for c, _ in w.replicas if scope is None or scope.deploys(c)},
        )
        members = member_names(source, spec, placed, engine=engine, max_length=max_length)
    except ConfigError as exc:
        raise cli._fail(exc) from None
    try:
        run = cli._run_with_progress(project, source)
    except pulumi.RunError as exc:
        _line(str(exc))
        raise typer.Exit(2) from None
    try:
        workloads = workload_objects(run, spec, clusters=placed)
    except ExportError as exc:
        raise _invalid(f"{source.file}: {exc}") from None
    return source, spec, scope, members, workloads


def _write(out: Path, files: dict[str, dict[str, object]], command: str) -> None:
    try:
        written = write_export(out, files, command)
    except (ExportDirError, ExportError) as exc:
        raise _invalid(f"--out {out}: {exc}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _invalid(f"--out {out}: cannot be written: {reason}; check the path and its permissions") from None
    _line(f"{len(written)} file(s) written under {out}")


@export_app.command("karmada")
def export_karmada(  # noqa: PLR0917  one option per KarmadaOptions field
    stack: StackArg,
    out: OutOpt,
    toleration_seconds: Annotated[
        int, typer.Option("--toleration-seconds", help="Move an application unhealthy this long on a cluster.")
    ] = 300,
    purge_mode: Annotated[
        PurgeMode, typer.Option("--purge-mode", help="The old replicas after a failover.")
    ] = PurgeMode.GRACEFULLY,
    grace_period_seconds: Annotated[
        int, typer.Option("--grace-period-seconds", help="Gracefully: how long old replicas wait for new ones.")
    ] = 600,
    conflict_resolution: Annotated[
        ConflictResolution,
        typer.Option("--conflict-resolution", help="Overwrite: adopt objects `pulumi up` already created."),
    ] = ConflictResolution.ABORT,
) -> None:
    """Karmada resource templates, PropagationPolicies (placement, static weights, failover) and OverridePolicies."""

    options = KarmadaOptions(
        toleration_seconds=toleration_seconds,
        purge_mode=purge_mode,
        grace_period_seconds=grace_period_seconds,
        conflict_resolution=conflict_resolution,
    )
    try:
        check_options(options)
    except ExportError as exc:
        raise _invalid(str(exc)) from None
    source, _, _, members, workloads = _prepare(
        stack, out, engine="Karmada", max_length=KARMADA_NAME_MAX, whole_fleet=True
    )
    try:
        files = karmada_files(workloads, members, replace(options, stack=source.stack))
    except ExportError as exc:
        raise _invalid(f"{source.file}: {exc}") from None
    _write(out, dict(files), "edgefleet export karmada")


@export_app.command("ocm")
def export_ocm(stack: StackArg, out: OutOpt) -> None:
    """Open Cluster Management ManifestWorks: one per managed cluster, with that cluster's objects."""
    source, _, _, members, workloads = _prepare(
        stack, out, engine="Open Cluster Management", max_length=OCM_NAME_MAX, whole_fleet=False
    )
    try:
        files = ocm_files(workloads, members, stack=source.stack)
    except ExportError as exc:
        raise _invalid(f"{source.file}: {exc}") from None
    _write(out, dict(files), "edgefleet export ocm")

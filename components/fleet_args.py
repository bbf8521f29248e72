"""The public ``Fleet``'s args to the validated fleet, its secrets and its slice.

This is what the entry point did with the stack's config, with the config's values handed in as
args instead (``components/entry.py`` reads them and builds the ``Fleet`` through these args, as a
user's own program would). Positions in errors come from the stack file
(``stacks/Pulumi.<stack>.yaml``) or the shared fleet file when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi

from edgefleet.components.config import FleetSpec, parse_fleet
from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.config.previous import placements_file_path, read_previous
from edgefleet.components.config.slices import SliceRequest, SliceScope, resolve_scope, stack_config_dir
from edgefleet.components.config.source import (
    FLEET_FILE_KEY,
    ConfigValue,
    StackSource,
    normalize_key,
    read_fleet_file,
    read_stack_file,
)
from edgefleet.components.placement.timeline import parse_time
from edgefleet.components.policy import location_requirements
from edgefleet.components.resolve import ArgsError, plain_args

_KEYS = frozenset(
    {
        "fleet",
        "fleet_file",
        "slice",
        "secrets",
        "placements_file",
        "placement_time",
        "policy_pack_config",
        "gcp_project",
        "project_dir",
    }
)


@dataclass(frozen=True)
class ResolvedFleet:
    """A fleet as the component builds it: the validated spec, the secrets of what this stack
    deploys (by config key), its slice (None: all of it), and the project directory."""

    spec: FleetSpec
    secrets: Mapping[str, pulumi.Output[str]]
    scope: SliceScope | None
    project_dir: Path


def stack_source(project_dir: Path) -> StackSource | None:
    """``stacks/Pulumi.<stack>.yaml`` read for positions, when it is there and readable."""
    path = stack_config_dir(project_dir) / f"Pulumi.{pulumi.get_stack()}.yaml"
    if not path.is_file():
        return None
    try:
        return read_stack_file(path, project_dir)
    except ConfigError:
        return None  # positions are a courtesy; the config itself came from the engine


def referenced_keys(raw: Any) -> set[str]:
    """The config keys a raw fleet names as secrets: kubeconfigs and workloads' ``secret_env``."""
    if not isinstance(raw, Mapping):
        return set()
    clusters = raw.get("clusters")
    keys: set[str] = set()
    if isinstance(clusters, list):
        keys |= {c["kubeconfig"] for c in clusters if isinstance(c, Mapping) and isinstance(c.get("kubeconfig"), str)}
    workloads = raw.get("workloads")
    if isinstance(workloads, list):
        for workload in workloads:
            env = workload.get("secret_env") if isinstance(workload, Mapping) else None
            if isinstance(env, Mapping):
                keys |= {key for key in env.values() if isinstance(key, str)}
    return keys


def one_fleet(raw: Any, fleet_file: str | None) -> None:
    """A stack takes its fleet from exactly one of ``fleet`` (``edgefleet:fleet``) and
    ``fleet_file`` (``edgefleet:fleetFile``); ``RunError`` otherwise."""
    if fleet_file is None and raw is None:
        raise pulumi.RunError(
            f"no fleet: give `fleet` (config key edgefleet:fleet in stacks/Pulumi.{pulumi.get_stack()}.yaml), or "
            f"name a shared fleet file with `fleet_file` ({FLEET_FILE_KEY}); see docs/fleet-config.md"
        )
    if fleet_file is not None and raw is not None:
        raise pulumi.RunError(
            f"both `fleet` and `fleet_file` ({FLEET_FILE_KEY}) are set; a stack takes its fleet from one of them"
        )


def _fleet_source(project_dir: Path, raw: Any, fleet_file: str | None) -> tuple[Any, StackSource | None, str | None]:
    """The raw fleet, the source to locate errors in, and the shared fleet file (if any)."""
    one_fleet(raw, fleet_file)
    located = stack_source(project_dir)
    if fleet_file is None:
        if located is not None and located.fleet != raw:
            located = None  # the fleet came from elsewhere: positions in the stack file would mislead
        return raw, located, None
    if located is None or located.fleet_file != fleet_file:
        located = read_fleet_file(project_dir, ConfigValue(FLEET_FILE_KEY, False, fleet_file), stack=pulumi.get_stack())
    return located.fleet, located, fleet_file


def fleet_from_args(name: str, args: object) -> ResolvedFleet:
    """Validate the public ``Fleet``'s args: ``ArgsError`` for a wrong argument, ``RunError``
    listing every fleet config problem (with file positions when read from a file)."""
    if not isinstance(args, Mapping):
        raise ArgsError(f"Fleet {name!r}: args must be a mapping (FleetArgs), got {type(args).__name__}")
    unknown = sorted(set(args) - _KEYS)
    if unknown:
        raise ArgsError(f"Fleet {name!r}: args.{unknown[0]}: not a Fleet argument; remove it")
    given = args.get("secrets") or {}
    if not isinstance(given, Mapping) or not all(isinstance(k, str) for k in given):
        raise ArgsError(f"Fleet {name!r}: args.secrets: give a mapping of config key to secret value")
    project = args.get("project_dir")
    project_dir = Path(project).resolve() if isinstance(project, str) else Path.cwd()
    fleet_file = args.get("fleet_file")
    placements_file = args.get("placements_file")
    gcp_project = args.get("gcp_project")
    try:
        raw, source, fleet_file = _fleet_source(project_dir, plain_args(args.get("fleet")), fleet_file)
        present = {normalize_key(k) for k in given}
        previous = (
            read_previous(placements_file_path(project_dir, placements_file), placements_file)
            if placements_file
            else {}
        )
        pack_config = args.get("policy_pack_config")
        requirements = location_requirements(project_dir, pulumi.get_stack(), pack_config)
        options = PlacementOptions(previous=previous, requirements=requirements, at=_placement_time(args))
        spec = parse_fleet(
            raw,
            available_keys=present if fleet_file is None else None,
            source=source,
            options=options,
            provider_config={"gcp:project": gcp_project} if isinstance(gcp_project, str) and gcp_project else {},
            project_dir=project_dir,
        )
        scope = None
        if fleet_file is not None:
            request = SliceRequest(
                stack=pulumi.get_stack(),
                fleet_file=fleet_file,
                value=args.get("slice"),
                available_keys=present,
                placements_file=placements_file,
                source=source,
                pack_config=pack_config,
            )
            scope = resolve_scope(request, spec, project_dir)
    except ConfigError as exc:
        raise pulumi.RunError("invalid fleet config:\n" + str(exc)) from None

    def here(cluster: str) -> bool:
        return scope is None or scope.deploys(cluster)

    deployed = {c.spec.kubeconfig for c in spec.clusters if here(c.name)}
    deployed |= {
        key for w in spec.workloads if any(here(c) for c, _ in w.replicas) for key in w.spec.secret_env.values()
    }
    secrets = {
        key: pulumi.Output.secret(given[key])
        for key in sorted(referenced_keys(raw))
        if key in deployed and key in given
    }
    return ResolvedFleet(spec=spec, secrets=secrets, scope=scope, project_dir=project_dir)


def _placement_time(args: Mapping[str, Any]) -> datetime:
    """The window scheduled placement is for: ``placement_time``, else now (UTC)."""
    written = args.get("placement_time")
    if written is None:
        return datetime.now(UTC)
    if not isinstance(written, str):
        raise ConfigError([ConfigIssue("placement_time", "give an ISO 8601 time, e.g. 2026-12-06T18:00:00Z")])
    try:
        return parse_time(written)
    except ValueError as exc:
        raise ConfigError([ConfigIssue("placement_time", str(exc))]) from None

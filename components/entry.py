"""The entry point's helpers: the only place that reads ``pulumi.Config``.

Components get everything through typed args; this module turns the stack's config into those
args. Errors become one ``pulumi.RunError`` with one line per problem (no traceback), pointing at
``stacks/Pulumi.<stack>.yaml`` lines when that file is where the config came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi

from edgefleet.components.config import FleetSpec, parse_fleet
from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.parse import PROVIDER_KEYS, PlacementOptions
from edgefleet.components.config.previous import PLACEMENT_TIME_ENV, placements_file_path, read_previous
from edgefleet.components.config.slices import SliceRequest, SliceScope, resolve_scope, stack_config_dir
from edgefleet.components.config.source import (
    FLEET_FILE_KEY,
    PROJECT,
    ConfigValue,
    StackSource,
    normalize_key,
    read_fleet_file,
    read_stack_file,
)
from edgefleet.components.fleet import Fleet, FleetArgs
from edgefleet.components.placement.timeline import parse_time
from edgefleet.components.policy import POLICY_PACK_CONFIG, location_requirements, program_pack_config

# What `edgefleet plan` sets a `secure:` key to, since it cannot decrypt it offline. The program
# turns it into a secret of unknown content, as a preview without the passphrase would show.
UNDECRYPTABLE = "edgefleet:offline:undecryptable-secret"


def _stack_file(project_dir: Path) -> StackSource | None:
    path = stack_config_dir(project_dir) / f"Pulumi.{pulumi.get_stack()}.yaml"
    if not path.is_file():
        return None
    try:
        return read_stack_file(path, project_dir)
    except ConfigError:
        return None  # positions are a courtesy; the config itself came from the engine


def _referenced_keys(raw: Any) -> set[str]:
    """The config keys the raw fleet names as secrets: kubeconfigs and workloads' ``secret_env``."""
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


def read_secret(config: pulumi.Config, key: str) -> pulumi.Output[str]:
    """A config value as a secret Output, whether it was set with --secret or not."""
    if pulumi.runtime.get_config(normalize_key(key)) == UNDECRYPTABLE:
        unknown: pulumi.Output[str] = pulumi.Output(set(), _const(None), is_known=_const(False), is_secret=_const(True))
        return unknown
    value = config.get_secret(key)
    if value is None:  # parse_fleet already checked presence; keep mypy and readers honest
        raise pulumi.RunError(f"config key {normalize_key(key)} is not set")
    return value


async def _const(value: Any) -> Any:
    return value


def _provider_config() -> dict[str, str]:
    """The provider settings the fleet falls back on (``gcp:project``), from the stack's config."""
    out = {}
    for key in PROVIDER_KEYS:
        namespace, name = key.split(":", 1)
        value = pulumi.Config(namespace).get(name)
        if value:
            out[key] = value
    return out


def _fleet_source(project_dir: Path, config: pulumi.Config) -> tuple[Any, StackSource | None, str | None]:
    """The raw fleet, the source to locate errors in, and the shared fleet file (if any)."""
    stack = pulumi.get_stack()
    fleet_file = config.get("fleetFile")
    raw = config.get_object("fleet")
    located = _stack_file(project_dir)
    if fleet_file is None:
        if raw is None:
            raise pulumi.RunError(
                f"config key {PROJECT}:fleet is not set; add it to stacks/Pulumi.{stack}.yaml, or name a shared "
                f"fleet file with {FLEET_FILE_KEY} (see docs/fleet-config.md)"
            )
        return raw, located, None
    if raw is not None:
        raise pulumi.RunError(
            f"stacks/Pulumi.{stack}.yaml sets both {PROJECT}:fleet and {FLEET_FILE_KEY}; a stack takes its fleet "
            "from one of them"
        )
    if located is None or located.fleet_file != fleet_file:
        located = read_fleet_file(project_dir, ConfigValue(FLEET_FILE_KEY, False, fleet_file), stack=stack)
    return located.fleet, located, fleet_file


def read_fleet(project_dir: Path) -> tuple[FleetSpec, dict[str, pulumi.Output[str]], SliceScope | None]:
    """The validated fleet, the secrets of the clusters this stack deploys (kubeconfigs, and the
    ``secret_env`` values of the workloads on them, by config key), and its slice of the fleet
    (None: all of it), from ``edgefleet:fleet`` or ``edgefleet:fleetFile`` + ``edgefleet:slice``."""
    config = pulumi.Config(PROJECT)
    try:
        raw, source, fleet_file = _fleet_source(project_dir, config)
        referenced = _referenced_keys(raw)
        present = {normalize_key(k) for k in referenced if config.get(k) is not None}
        previous_file = config.get("placementsFile")
        previous = (
            read_previous(placements_file_path(project_dir, previous_file), previous_file) if previous_file else {}
        )
        # What the stack's mandatory rules require of locations (edgefleet:policyPackConfig, else
        # policies/config/<stack>.json): the same requirements the CLI's loader applies.
        pack_config = program_pack_config(config.get(POLICY_PACK_CONFIG))
        requirements = location_requirements(project_dir, pulumi.get_stack(), pack_config)
        options = PlacementOptions(previous=previous, requirements=requirements, at=_placement_time(config))
        spec = parse_fleet(
            raw,
            available_keys=present if fleet_file is None else None,
            source=source,
            options=options,
            provider_config=_provider_config(),
            project_dir=project_dir,
        )
        scope = None
        if fleet_file is not None:
            request = SliceRequest(
                stack=pulumi.get_stack(),
                fleet_file=fleet_file,
                value=config.get_object("slice"),
                available_keys=present,
                placements_file=previous_file,
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
    secrets = {key: read_secret(config, key) for key in sorted(referenced) if key in deployed}
    return spec, secrets, scope


def _placement_time(config: pulumi.Config) -> datetime:
    """The window scheduled placement is for: ``edgefleet:placementTime`` (the recorded input that
    ``edgefleet plan --at`` sets and ``pulumi up`` reads), else ``EDGEFLEET_PLACEMENT_TIME`` (what
    ``edgefleet up`` pins for one run), else the current UTC time."""
    written = config.get("placementTime")
    where = f"config.{PROJECT}:placementTime"
    if written is None:
        written, where = os.environ.get(PLACEMENT_TIME_ENV), f"environment variable {PLACEMENT_TIME_ENV}"
    if written is None:
        return datetime.now(UTC)
    try:
        return parse_time(written)
    except ValueError as exc:
        raise ConfigError([ConfigIssue(where, str(exc))]) from None


def build(project_dir: Path) -> Fleet:
    """Read the config, build the fleet, export its outputs (kubeconfigs as secrets)."""
    spec, secrets, scope = read_fleet(project_dir)
    fleet = Fleet("fleet", FleetArgs(spec=spec, secrets=secrets, scope=scope, project_dir=project_dir))
    pulumi.export(
        "clusters",
        {name: {"vendor": c.vendor, "region": c.region, "endpoint": c.endpoint} for name, c in fleet.clusters.items()},
    )
    pulumi.export("kubeconfigs", pulumi.Output.secret({name: c.kubeconfig for name, c in fleet.clusters.items()}))
    pulumi.export("placements", {w.spec.name: dict(w.replicas) for w in spec.workloads})
    windows = {w.spec.name: w.latency.window for w in spec.workloads if w.latency and w.latency.window}
    if windows:
        # The window this update placed for (a recorded output: the next update's "window before").
        pulumi.export("placementWindows", {name: {"start": win.start, "end": win.end} for name, win in windows.items()})
    # Where users reach each public workload: its load balancer per location, and its DNS name.
    pulumi.export(
        "endpoints",
        {
            w.spec.name: {
                cluster: fleet.workloads[(w.spec.name, cluster)].endpoint
                for cluster, _ in w.replicas
                if cluster in fleet.clusters
            }
            for w in spec.workloads
            if w.spec.expose.value == "public" and any(cluster in fleet.clusters for cluster, _ in w.replicas)
        },
    )
    if scope is None or scope.is_global:
        pulumi.export("hostnames", {w.spec.name: w.hostname for w in spec.workloads if w.hostname is not None})
    if scope is not None:
        pulumi.export(
            "slice",
            {
                "stack": scope.slice.stack,
                "selector": scope.slice.spec.as_config(),
                "clusters": list(scope.slice.clusters),
            },
        )
    return fleet

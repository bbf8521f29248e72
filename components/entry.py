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

from edgefleet.components.args import FleetArgs
from edgefleet.components.config import FleetSpec
from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.parse import PROVIDER_KEYS
from edgefleet.components.config.previous import PLACEMENT_TIME_ENV
from edgefleet.components.config.slices import SliceScope
from edgefleet.components.config.source import (
    FLEET_FILE_KEY,
    PROJECT,
    ConfigValue,
    normalize_key,
    read_fleet_file,
)
from edgefleet.components.fleet import Fleet
from edgefleet.components.fleet_args import fleet_from_args, one_fleet, referenced_keys
from edgefleet.components.netcheck import WAN_KEY_OUTPUT, WAN_OUTPUT
from edgefleet.components.placement.timeline import parse_time
from edgefleet.components.policy import POLICY_PACK_CONFIG, program_pack_config

# What `edgefleet plan` sets a `secure:` key to, since it cannot decrypt it offline. The program
# turns it into a secret of unknown content, as a preview without the passphrase would show.
UNDECRYPTABLE = "edgefleet:offline:undecryptable-secret"


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


def _fleet_raw(project_dir: Path, config: pulumi.Config) -> tuple[Any, str | None]:
    """The raw fleet (from ``edgefleet:fleet`` or the shared fleet file) and the fleet file's name:
    the secrets it names are read here (``Fleet`` reads the file again, with positions)."""
    fleet_file = config.get("fleetFile")
    raw = config.get_object("fleet")
    one_fleet(raw, fleet_file)
    if fleet_file is None:
        return raw, None
    file = ConfigValue(FLEET_FILE_KEY, False, fleet_file)
    return read_fleet_file(project_dir, file, stack=pulumi.get_stack()).fleet, fleet_file


def fleet_args(project_dir: Path) -> FleetArgs:
    """The public ``Fleet``'s args from the stack's config: the fleet (``edgefleet:fleet``, or
    ``edgefleet:fleetFile`` with ``edgefleet:slice``), the secrets it names, the previous
    placements file, the placement time, the policy pack config and ``gcp:project``."""
    config = pulumi.Config(PROJECT)
    try:
        raw, fleet_file = _fleet_raw(project_dir, config)
        secrets: dict[str, pulumi.Input[str]] = {
            key: read_secret(config, key) for key in sorted(referenced_keys(raw)) if config.get(key) is not None
        }
        args: FleetArgs = {
            "secrets": secrets,
            "placement_time": _placement_time(config).isoformat(),
            "policy_pack_config": program_pack_config(config.get(POLICY_PACK_CONFIG)),
            "project_dir": str(project_dir),
        }
    except ConfigError as exc:
        raise pulumi.RunError("invalid fleet config:\n" + str(exc)) from None
    if fleet_file is None:
        args["fleet"] = raw
    else:
        args["fleet_file"] = fleet_file
        args["slice"] = config.get_object("slice")
    placements_file = config.get("placementsFile")
    if placements_file:
        args["placements_file"] = placements_file
    gcp_project = _provider_config().get("gcp:project")
    if gcp_project:
        args["gcp_project"] = gcp_project
    return args


def read_fleet(project_dir: Path) -> tuple[FleetSpec, Mapping[str, pulumi.Output[str]], SliceScope | None]:
    """The fleet ``build`` would deploy (validated, placed), its secrets and its slice, without
    building it: the stack's config through the ``Fleet`` component's args."""
    resolved = fleet_from_args("fleet", fleet_args(project_dir))
    return resolved.spec, resolved.secrets, resolved.scope


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
    # Through the public API: the stack's config as the Fleet component's args.
    fleet = Fleet("fleet", fleet_args(project_dir))
    spec, scope = fleet.spec, fleet.scope
    pulumi.export(
        "clusters",
        {name: {"vendor": c.vendor, "region": c.region, "endpoint": c.endpoint} for name, c in fleet.clusters.items()},
    )
    pulumi.export("kubeconfigs", fleet.kubeconfigs)
    pulumi.export("placements", fleet.replicas)
    windows = {w.spec.name: w.latency.window for w in spec.workloads if w.latency and w.latency.window}
    if windows:
        # The window this update placed for (a recorded output: the next update's "window before").
        pulumi.export("placementWindows", {name: {"start": win.start, "end": win.end} for name, win in windows.items()})
    # Where users reach each public workload: its load balancer per location, and its DNS name.
    pulumi.export("endpoints", fleet.endpoints)
    if scope is None or scope.is_global:
        pulumi.export("hostnames", fleet.hostnames)
    if scope is not None and not scope.is_global and fleet.netcheck_wans:
        # The other slices' WAN probes read these through StackReferences (docs/doctor.md).
        pulumi.export(WAN_OUTPUT, fleet.netcheck_wan)
        pulumi.export(WAN_KEY_OUTPUT, fleet.netcheck_wan_key)
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

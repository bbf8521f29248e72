"""The stack's mandatory location requirements, for placement; both loaders call this.

The rules declare what they require of a workload's locations in ``policies/locations.py``
(plain data). A stack's enforcement levels are in its pack config, the file given to
``pulumi preview --policy-pack-config``: ``edgefleet:policyPackConfig`` (relative to the project)
when the stack sets it, else ``policies/config/<stack>.json``. A missing default file means the
pack's default, every rule mandatory, as ``edgefleet check`` and the engine treat it. Each rule
mandatory there becomes a ``LocationRequirement`` that placement applies before it chooses.

Neither this module nor ``policies/locations.py`` imports Pulumi or the pack's rules; the config room
(``components/config``) receives plain requirements through ``PlacementOptions``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.config.requirements import LocationRequirement
from edgefleet.components.config.source import PROJECT, StackSource, json_problem, outside_project, read_regular_file
from edgefleet.policies import locations

POLICY_PACK_CONFIG = "policyPackConfig"
POLICY_PACK_CONFIG_KEY = f"{PROJECT}:{POLICY_PACK_CONFIG}"

_REMEDY = {
    locations.NETWORK_ISOLATION.rule: "run a CNI that enforces NetworkPolicy there (cilium, calico), keep the "
    "workload off it, or make the rule advisory in {source}",
    locations.PUBLIC_MULTI_LOCATION.rule: "raise `max_locations` and make more clusters eligible, or list the "
    "workload under this rule's `allow` in {source}",
    locations.PUBLIC_REPLICAS.rule: "raise `replicas`, or make the rule advisory in {source}",
}


def default_pack_config(stack: str) -> str:
    return f"policies/config/{stack}.json"


def read_pack_config(project_dir: Path, shown: str, *, required: bool) -> dict[str, Any]:
    """A pack config file as a mapping; a missing file is ``{}`` unless the stack named it."""
    path = project_dir / shown
    where = f"{shown} ({POLICY_PACK_CONFIG_KEY})" if required else shown
    try:
        text = read_regular_file(path)  # never blocks on a FIFO or device
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError([ConfigIssue(where, "policy pack config not found; name an existing JSON file")]) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(where, f"cannot be read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(where, f"is not UTF-8 text ({exc.reason})")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue(where, f"invalid JSON at {exc.lineno}:{exc.colno}: {exc.msg}")]) from None
    except (ValueError, RecursionError) as exc:  # a number of over 4,300 digits; arrays nested too deeply
        raise ConfigError([ConfigIssue(where, f"invalid JSON: {json_problem(exc)}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(where, 'expected a JSON object of rule names, such as {"all": "mandatory"}')])
    return data


def check_pack_config_path(project_dir: Path, written: str) -> None:
    """``edgefleet:policyPackConfig`` names a file of the project: a relative path without ``..``
    whose real path (symbolic links resolved) is inside the project, as the program reads it from
    the project checkout in a real ``pulumi preview`` too."""
    where = f"{written} ({POLICY_PACK_CONFIG_KEY})"
    relative = Path(written)
    if relative.is_absolute() or ".." in relative.parts:
        raise ConfigError(
            [ConfigIssue(where, "must be a relative path inside the project, e.g. policies/config/prod.json")]
        )
    real = outside_project(project_dir, project_dir / relative)
    if real is not None:
        raise ConfigError(
            [
                ConfigIssue(
                    where,
                    f"is a symbolic link to {real}, outside the project; copy the file into the project instead",
                )
            ]
        )


PackConfigSetting = str | Mapping[str, Any] | None


def location_requirements(
    project_dir: Path, stack: str, configured: PackConfigSetting, *, shown: str | None = None
) -> tuple[LocationRequirement, ...]:
    """What the rules mandatory for ``stack`` require of locations. ``configured``: the stack's
    ``edgefleet:policyPackConfig`` value: a path inside the project, or the levels themselves (a
    mapping, as ``edgefleet check --policy-pack-config`` hands the program the file it read);
    None: ``policies/config/<stack>.json``. ``shown`` names an inline config in messages."""
    if isinstance(configured, Mapping):
        config = dict(configured)
        shown = shown or POLICY_PACK_CONFIG_KEY
    else:
        if configured is not None:
            check_pack_config_path(project_dir, configured)
        shown = configured if configured is not None else default_pack_config(stack)
        config = read_pack_config(project_dir, shown, required=configured is not None)
        if configured is None and not (project_dir / shown).exists():
            shown = f"{shown} (absent: every rule mandatory)"
    problems = locations.config_problems(config)
    if problems:  # what `pulumi preview --policy-pack-config` and `edgefleet check` refuse too
        named = isinstance(configured, str)  # the stack's own key names the file
        where = f"{shown} ({POLICY_PACK_CONFIG_KEY})" if named else shown
        raise ConfigError([ConfigIssue(where, p) for p in problems])
    return tuple(
        LocationRequirement(
            rule=rule.rule,
            requirement=rule.requirement,
            source=shown,
            public_only=rule.public_only,
            network_policy=rule.network_policy,
            min_locations=rule.min_locations,
            min_replicas_per_location=rule.min_replicas_per_location,
            exempt=exempt,
            remedy=_REMEDY.get(rule.rule, "make the rule advisory in {source}").format(source=shown),
        )
        for rule, exempt in locations.mandatory(config)
    )


def configured_pack_config(source: StackSource) -> PackConfigSetting:
    """A stack file's ``edgefleet:policyPackConfig`` (None: not set): a path, or levels inline."""
    entry = source.values.get(POLICY_PACK_CONFIG_KEY)
    if entry is None:
        return None
    if not entry.secure and isinstance(entry.value, Mapping):
        return dict(entry.value)
    if entry.secure or not isinstance(entry.value, str) or not entry.value:
        raise ConfigError(
            [ConfigIssue(POLICY_PACK_CONFIG_KEY, "must be a plain path such as policies/config/prod.json")]
        )
    return str(entry.value)


def program_pack_config(value: str | None) -> PackConfigSetting:
    """``edgefleet:policyPackConfig`` as the program receives it (objects arrive as JSON text)."""
    if value is None or not value.lstrip().startswith("{"):
        return value
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue(POLICY_PACK_CONFIG_KEY, f"invalid JSON: {exc.msg}")]) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError([ConfigIssue(POLICY_PACK_CONFIG_KEY, f"invalid JSON: {json_problem(exc)}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(POLICY_PACK_CONFIG_KEY, "expected a JSON object of rule names")])
    return data


def with_requirements(
    options: PlacementOptions, project_dir: Path, source: StackSource, *, shown: str | None = None
) -> PlacementOptions:
    """``options`` plus the stack's mandatory location requirements (the CLI's loader)."""
    requirements = location_requirements(project_dir, source.stack, configured_pack_config(source), shown=shown)
    return replace(options, requirements=requirements)

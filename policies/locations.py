"""What rules require of a workload's locations, as plain data, so placement can honour it.

A rule listed here judges where a workload runs (a location's CNI, how many locations, how many
replicas in each). Where the stack's pack config makes such a rule mandatory, edgefleet's
placement applies its requirement before it chooses (a filter with the rule's name as its reason,
or a larger minimum), so `edgefleet place` never chooses a location that `edgefleet check` (or
`pulumi preview --policy-pack`) then rejects. An advisory or disabled rule imposes nothing.

This module imports nothing but the standard library: the rules read their thresholds from it,
and the loaders (``components/policy.py``) read it without loading the pack or the Pulumi SDK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MANDATORY = "mandatory"
PACK_DEFAULT = MANDATORY  # the pack's own level (policies/__main__.py), for a rule the config does not name
ALLOW = "allow"  # a rule's config key listing the workloads it exempts


@dataclass(frozen=True)
class LocationRule:
    """A rule's requirement on the locations of the workloads it applies to."""

    rule: str
    requirement: str  # what it asks, as a phrase: "a CNI that enforces NetworkPolicy"
    public_only: bool  # it applies to `expose: public` workloads only
    network_policy: bool = False  # every location's CNI enforces NetworkPolicy
    min_locations: int = 1
    min_replicas_per_location: int = 1
    exempt_key: str | None = None  # the rule's config key listing exempt workloads


NETWORK_ISOLATION = LocationRule(
    rule="network-isolation-for-public-workloads",
    requirement="a public workload runs only where the CNI enforces NetworkPolicy",
    public_only=True,
    network_policy=True,
)
PUBLIC_MULTI_LOCATION = LocationRule(
    rule="traffic-public-multi-location",
    requirement="a public workload runs in at least 2 locations",
    public_only=True,
    min_locations=2,
    exempt_key=ALLOW,
)
PUBLIC_REPLICAS = LocationRule(
    rule="k8s-public-workload-replicas",
    requirement="a public workload runs at least 2 replicas in every location",
    public_only=True,
    min_replicas_per_location=2,
)
# fleet-residency, fleet-vendor-diversity and fleet-network-policy-required judge a placement by
# the workload's own `residency`, `min_vendors` and `requires`, which placement always applies.
LOCATION_RULES: tuple[LocationRule, ...] = (NETWORK_ISOLATION, PUBLIC_MULTI_LOCATION, PUBLIC_REPLICAS)


LEVELS = ("advisory", "disabled", "mandatory", "remediate")  # what the engine accepts


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """What the engine would refuse in a pack config, each as ``<key>: <problem>``: a level it does
    not know, and an ``allow`` (a rule's list of exempt workloads) that is not a list of names.
    Placement and ``edgefleet check`` refuse the same config, so neither reads it its own way."""
    out = []
    for key, value in config.items():
        found = value.get("enforcementLevel") if isinstance(value, Mapping) else value
        if found is not None and found not in LEVELS:
            out.append(f"{key}: enforcement level {found!r} is not one of {', '.join(LEVELS)}")
        names = value.get(ALLOW) if isinstance(value, Mapping) else None
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            out.append(f'{key}.{ALLOW}: {json.dumps(names)} is not a list of workload names, e.g. ["web"]')
    return out


def level(rule: str, config: Mapping[str, Any]) -> str:
    """A rule's enforcement level under a pack config, as the engine resolves it: the rule's own
    entry, then `all`, then the pack default (mandatory)."""
    for key in (rule, "all"):
        value = config.get(key)
        found = value.get("enforcementLevel") if isinstance(value, Mapping) else value
        if isinstance(found, str):
            return found
    return PACK_DEFAULT


def exempt(rule: LocationRule, config: Mapping[str, Any]) -> frozenset[str]:
    """The workloads the rule's config exempts (`{"traffic-public-multi-location": {"allow": [...]}}`)."""
    value = config.get(rule.rule)
    if rule.exempt_key is None or not isinstance(value, Mapping):
        return frozenset()
    names = value.get(rule.exempt_key)
    return frozenset(str(n) for n in names) if isinstance(names, list) else frozenset()


def mandatory(config: Mapping[str, Any]) -> tuple[tuple[LocationRule, frozenset[str]], ...]:
    """The location rules mandatory under ``config``, each with the workloads it exempts."""
    return tuple((r, exempt(r, config)) for r in LOCATION_RULES if level(r.rule, config) == MANDATORY)

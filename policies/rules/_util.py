"""Small helpers shared by the rules. Props arrive as the engine sends them: wire names
(camelCase), wrapped in ``unknown_checking_proxy`` (Mappings and Sequences, not dicts and lists)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

ResourceCheck = Callable[[ResourceValidationArgs], Iterable[str]]
StackCheck = Callable[[StackValidationArgs], Iterable[tuple[str, str | None]]]

_MINOR = re.compile(r"^v?(\d+)\.(\d+)")
EDGE_WORKLOAD = "edgefleet:index:EdgeWorkload"
FLEET = "edgefleet:index:Fleet"
# The cluster components' types (edgefleet.components.tokens.CLUSTER_TYPES; a test keeps them equal).
CLUSTER_TYPES = frozenset(
    f"edgefleet:index:{name}"
    for name in ("EksCluster", "GkeCluster", "AksCluster", "LkeCluster", "DoksCluster", "ExistingCluster")
)


def dig(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...`` or None where anything along the way is missing."""
    for part in path:
        if isinstance(part, str) and isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(part, int) and isinstance(value, Sequence) and not isinstance(value, str):
            value = value[part] if -len(value) <= part < len(value) else None
        else:
            return None
    return value


def items(value: Any) -> list[Any]:
    """A sequence property as a list (None and non-sequences: empty)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return []


def resource_rule(
    *,
    name: str,
    description: str,
    severity: Severity,
    remediation: str,
    types: Iterable[str] | None,
    check: ResourceCheck,
) -> ResourceValidationPolicy:
    """A resource rule: ``check`` yields one message per violation; other types are skipped."""
    wanted = frozenset(types) if types is not None else None

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if wanted is not None and args.resource_type not in wanted:
            return
        for message in check(args):
            report(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        severity=severity,
        remediation_steps=remediation,
        validate=validate,
    )


def stack_rule(
    *,
    name: str,
    description: str,
    severity: Severity,
    remediation: str,
    check: StackCheck,
    config_schema: PolicyConfigSchema | None = None,
) -> StackValidationPolicy:
    """A stack rule: ``check`` yields (message, urn of the offending resource). ``config_schema``
    declares the rule's own settings (``policies/config/<stack>.json``), read with
    ``args.get_config()``."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for message, urn in check(args):
            report(message, urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        severity=severity,
        remediation_steps=remediation,
        validate=validate,
        config_schema=config_schema,
    )


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def declared_placements(resources: Iterable[PolicyResource]) -> dict[str, Mapping[str, Any]] | None:
    """In a slice of a fleet (one stack of many), the whole fleet's placements by workload, as its
    Fleet component declares them (``workload``, ``expose``, ``minVendors``, ``hostname``,
    ``locations: [{cluster, vendor}]``); None in a stack that deploys the whole fleet, whose own
    resources show every placement."""
    for fleet in of_type(resources, FLEET):
        if isinstance(fleet.props.get("slice"), Mapping):
            return {str(p.get("workload")): p for p in items(fleet.props.get("placements")) if isinstance(p, Mapping)}
    return None


def clusters_by_name(resources: Iterable[PolicyResource]) -> dict[str, PolicyResource]:
    """edgefleet cluster components by their ``name`` input."""
    return {
        str(r.props.get("name")): r
        for r in resources
        if r.resource_type in CLUSTER_TYPES and isinstance(r.props.get("name"), str)
    }


def cluster_of(resource: PolicyResource, by_urn: Mapping[str, PolicyResource]) -> PolicyResource | None:
    """The edgefleet cluster component whose Kubernetes provider ``resource`` uses."""
    provider = resource.provider
    if provider is None:
        return None
    owner = by_urn.get(provider.urn)
    while owner is not None and owner.resource_type not in CLUSTER_TYPES:
        owner = owner.parent
    return owner


def minor_version(version: Any) -> tuple[int, int] | None:
    """``(1, 33)`` from "1.33", "1.33.2", "v1.33.1+lke1" or "1.33.1-do.0"; None if it is none of those."""
    match = _MINOR.match(str(version))
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_set(value: Any, key: str) -> bool:
    """Whether ``value[key]`` is present and not empty. A value unknown at preview is the output of
    another resource (a KMS key ARN, a launch template id, a service account email), so it counts
    as set: this reads presence, not content, and must not turn every first preview into
    "can't run during preview"."""
    if not isinstance(value, Mapping) or key not in list(value):  # iterating reads keys, not values
        return False
    try:
        return bool(value[key])
    except UnknownValueError:
        return True

"""Small helpers shared by the rules. Props arrive as the engine sends them: wire names
(camelCase), wrapped in ``unknown_checking_proxy`` (Mappings and Sequences, not dicts and lists)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

ResourceCheck = Callable[[ResourceValidationArgs], Iterable[str]]
StackCheck = Callable[[StackValidationArgs], Iterable[tuple[str, str | None]]]

EDGE_WORKLOAD = "edgefleet:workloads:EdgeWorkload"
CLUSTER_PREFIX = "edgefleet:clusters:"


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
) -> StackValidationPolicy:
    """A stack rule: ``check`` yields (message, urn of the offending resource)."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for message, urn in check(args):
            report(message, urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        severity=severity,
        remediation_steps=remediation,
        validate=validate,
    )


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def clusters_by_name(resources: Iterable[PolicyResource]) -> dict[str, PolicyResource]:
    """edgefleet cluster components by their ``name`` input."""
    return {
        str(r.props.get("name")): r
        for r in resources
        if r.resource_type.startswith(CLUSTER_PREFIX) and isinstance(r.props.get("name"), str)
    }


def cluster_of(resource: PolicyResource, by_urn: Mapping[str, PolicyResource]) -> PolicyResource | None:
    """The edgefleet cluster component whose Kubernetes provider ``resource`` uses."""
    provider = resource.provider
    if provider is None:
        return None
    owner = by_urn.get(provider.urn)
    while owner is not None and not owner.resource_type.startswith(CLUSTER_PREFIX):
        owner = owner.parent
    return owner

"""`edgefleet check`: the policy pack's own rules over an offline plan, as the engine runs them.

Props are deserialized from the wire form and wrapped in ``unknown_checking_proxy``, exactly as
``pulumi_policy``'s analyzer does, so a rule that passes here behaves the same under
``pulumi preview --policy-pack policies``. Enforcement comes from the pack's default (mandatory),
then ``policies/config/<stack>.json`` (the file given to ``--policy-pack-config``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from components.config.source import StackSource
from edgefleet.engine import ProgramRun, Registration

CHECK_FORMAT = "edgefleet.check/v1"
PACK_DEFAULT = EnforcementLevel.MANDATORY

# Where in a workload's or cluster's config entry each rule's cause is written.
CONFIG_HINTS: dict[str, tuple[str | int, ...]] = {
    "fleet-residency": ("placement", "residency"),
    "fleet-vendor-diversity": ("placement", "min_vendors"),
    "fleet-network-policy-required": ("placement", "requires"),
    "k8s-public-workload-replicas": ("replicas",),
    "network-isolation-for-public-workloads": ("expose",),
    "network-no-egress-to-everywhere": ("egress_cidrs",),
    "k8s-image-pinned": ("image",),
    "k8s-requests-and-limits": ("resources",),
    "k8s-probes": ("probe_path",),
    "k8s-loadbalancer-only-public": ("expose",),
    "traffic-public-health-check": ("probe_path",),
    "traffic-public-multi-location": ("placement", "min_locations"),
}


# A registration with its props deserialized once: (registration, props proxy, options, provider).
Prepared = tuple[Registration, Any, PolicyResourceOptions, PolicyProviderResource | None]


class PackConfigError(ValueError):
    """The pack config file is not valid JSON of the shape Pulumi accepts."""


@dataclass(frozen=True)
class RuleInfo:
    """One rule as evaluated: its id, severity and effective enforcement level."""

    id: str
    description: str
    severity: str
    enforcement: str
    remediation: str
    kind: str  # resource | stack


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    col: int = 1


@dataclass(frozen=True)
class Violation:
    rule: str
    enforcement: str
    severity: str
    urn: str
    message: str
    location: Location


@dataclass
class CheckReport:
    stack: str
    rules: list[RuleInfo] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # rules that could not run on unknown values

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == EnforcementLevel.MANDATORY.value]


def load_pack_config(path: Path) -> dict[str, Any]:
    """A ``--policy-pack-config`` file: ``{"all": "advisory", "<rule>": "mandatory" | {...}}``."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PackConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise PackConfigError(f"{path}: expected a JSON object of rule names")
    levels = {level.value for level in EnforcementLevel}
    for key, value in data.items():
        level = value.get("enforcementLevel") if isinstance(value, dict) else value
        if level is not None and level not in levels:
            raise PackConfigError(f"{path}: {key}: enforcement level {level!r} is not one of {sorted(levels)}")
    return data


def enforcement(policy: Policy, config: Mapping[str, Any]) -> EnforcementLevel:
    """Per-rule config, then `all`, then the rule's own level, then the pack default."""
    for key in (policy.name, "all"):
        value = config.get(key)
        level = value.get("enforcementLevel") if isinstance(value, dict) else value
        if isinstance(level, str):
            return EnforcementLevel(level)
    return policy.enforcement_level or PACK_DEFAULT


def _rule_config(policy: Policy, config: Mapping[str, Any]) -> dict[str, Any]:
    value = config.get(policy.name)
    return {k: v for k, v in value.items() if k != "enforcementLevel"} if isinstance(value, dict) else {}


def _props(r: Registration) -> Any:
    return unknown_checking_proxy(deserialize_properties(dict(r.wire)))


def _options(r: Registration) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=r.protect,
        ignore_changes=list(r.ignore_changes),
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(r.additional_secret_outputs),
        parent=r.parent,
    )


def _providers(run: ProgramRun) -> dict[str, PolicyProviderResource]:
    return {
        r.urn: PolicyProviderResource(r.type, _props(r), r.urn, r.name)
        for r in run.registrations
        if r.type.startswith("pulumi:providers:")
    }


def _stack_resources(prepared: Sequence[Prepared]) -> list[PolicyResource]:
    """The stack's resources linked to their parents and dependencies, as the analyzer links them."""
    resources = {
        r.urn: PolicyResource(r.type, props, r.urn, r.name, opts, provider, None, [], {})
        for r, props, opts, provider in prepared
    }
    for r, *_ in prepared:
        resource = resources[r.urn]
        resource.parent = resources.get(r.parent or "")
        resource.dependencies = [resources[d] for d in r.dependencies if d in resources]
    return list(resources.values())


def _call(policy: Policy, args: Any, report: Any) -> None:
    result = policy.validate(args, report)  # type: ignore[attr-defined]
    if isawaitable(result):
        asyncio.run(_await(result))


async def _await(awaitable: Any) -> None:
    await awaitable


def evaluate(
    run: ProgramRun, policies: Sequence[Policy], config: Mapping[str, Any]
) -> tuple[list[RuleInfo], list[tuple[str, str, str]], list[str]]:
    """Run every enabled rule; return the rules, (rule, urn, message) per violation, and the rules
    that met an unknown value (the engine reports those as advisory "can't run during preview")."""
    providers = _providers(run)
    found: list[tuple[str, str, str]] = []
    skipped: list[str] = []
    rules: list[RuleInfo] = []
    stack_resources: list[PolicyResource] | None = None
    ordered = sorted(run.registrations, key=lambda r: r.urn)
    # Deserialized once per resource; every rule reads the same read-only proxies.
    prepared: list[Prepared] = [(r, _props(r), _options(r), providers.get(r.provider_urn or "")) for r in ordered]
    for policy in policies:
        level = enforcement(policy, config)
        severity = (policy.severity or Severity.MEDIUM).value
        kind = "stack" if isinstance(policy, StackValidationPolicy) else "resource"
        rules.append(
            RuleInfo(policy.name, policy.description, severity, level.value, policy.remediation_steps or "", kind)
        )
        if level is EnforcementLevel.DISABLED:
            continue
        rule_config = _rule_config(policy, config)
        if isinstance(policy, ResourceValidationPolicy):
            for r, props, opts, provider in prepared:
                args = ResourceValidationArgs(r.type, props, r.urn, r.name, opts, provider, rule_config)

                def report(
                    message: str, urn: str | None = None, *, _urn: str = r.urn, _name: str = policy.name
                ) -> None:
                    found.append((_name, urn or _urn, message))

                try:
                    _call(policy, args, report)
                except UnknownValueError as exc:
                    skipped.append(f"{policy.name}: {r.urn}: {exc.message}")
        else:
            if stack_resources is None:
                stack_resources = _stack_resources(prepared)
            stack_args = StackValidationArgs(stack_resources, rule_config)

            def stack_report(message: str, urn: str | None = None, *, _name: str = policy.name) -> None:
                found.append((_name, urn or "", message))

            try:
                _call(policy, stack_args, stack_report)
            except UnknownValueError as exc:
                skipped.append(f"{policy.name}: {exc.message}")
    return rules, found, skipped


class Locator:
    """Points a violation at the stack config line that caused it, else the component source line."""

    def __init__(self, run: ProgramRun, source: StackSource, project: Path) -> None:
        self.by_urn = {r.urn: r for r in run.registrations}
        self.source = source
        self.project = project
        fleet = source.fleet if isinstance(source.fleet, Mapping) else {}
        self.workloads = _index_by_name(fleet.get("workloads"))
        self.clusters = _index_by_name(fleet.get("clusters"))
        self.stack_file = _relative(Path(source.file), project)

    def locate(self, rule: str, urn: str) -> Location:
        hint = CONFIG_HINTS.get(rule, ())
        node = self.by_urn.get(urn)
        while node is not None:
            if node.type == "edgefleet:workloads:EdgeWorkload":
                workload = node.inputs.get("workload")
                if workload in self.workloads:
                    return self._config(("workloads", self.workloads[workload], *hint))
            if node.type.startswith("edgefleet:clusters:"):
                cluster = node.inputs.get("name")
                if cluster in self.clusters:
                    return self._config(("clusters", self.clusters[cluster]))
            node = self.by_urn.get(node.parent or "")
        origin = self.by_urn.get(urn)
        if origin is not None and origin.source is not None:
            return Location(origin.source[0], origin.source[1])
        return Location(self.stack_file, 1)

    def _config(self, path: tuple[str | int, ...]) -> Location:
        position = self.source.locate(path)
        if position is None:
            return Location(self.stack_file, 1)
        return Location(self.stack_file, position.line, position.col)


def _index_by_name(entries: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                out.setdefault(entry["name"], i)
    return out


def _relative(path: Path, project: Path) -> str:
    try:
        return path.resolve().relative_to(project.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def check(
    run: ProgramRun, source: StackSource, project: Path, policies: Sequence[Policy], config: Mapping[str, Any]
) -> CheckReport:
    """The whole check: evaluate, locate, sort (file order, then rule)."""
    rules, found, skipped = evaluate(run, policies, config)
    info = {r.id: r for r in rules}
    locator = Locator(run, source, project)
    violations = [
        Violation(rule, info[rule].enforcement, info[rule].severity, urn, message, locator.locate(rule, urn))
        for rule, urn, message in found
    ]
    violations.sort(key=lambda v: (v.location.file, v.location.line, v.rule, v.urn, v.message))
    return CheckReport(stack=run.stack, rules=rules, violations=violations, skipped=sorted(skipped))


def report_json(report: CheckReport) -> dict[str, Any]:
    """``edgefleet.check/v1``."""
    return {
        "format": CHECK_FORMAT,
        "stack": report.stack,
        "rules": [{"id": r.id, "severity": r.severity, "enforcement": r.enforcement} for r in report.rules],
        "violations": [
            {
                "rule": v.rule,
                "urn": v.urn,
                "message": v.message,
                "enforcement": v.enforcement,
                "severity": v.severity,
                "location": {"file": v.location.file, "line": v.location.line},
            }
            for v in report.violations
        ],
    }


SECURITY_SEVERITY = {"critical": "9.5", "high": "7.5", "medium": "5.0", "low": "2.0"}
SARIF_LEVEL = {"mandatory": "error", "advisory": "warning", "remediate": "error", "disabled": "none"}


def report_sarif(report: CheckReport, version: str) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning; rule ids and paths stable across runs."""
    rule_index = {r.id: i for i, r in enumerate(report.rules)}
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "edgefleet",
                        "version": version,
                        "informationUri": "https://github.com/edgefleet/edgefleet",
                        "rules": [
                            {
                                "id": r.id,
                                "name": r.id,
                                "shortDescription": {"text": r.description},
                                "fullDescription": {"text": r.description},
                                "help": {"text": r.remediation or r.description},
                                "defaultConfiguration": {"level": SARIF_LEVEL[r.enforcement]},
                                "properties": {
                                    "security-severity": SECURITY_SEVERITY[r.severity],
                                    "tags": ["security", r.kind],
                                },
                            }
                            for r in report.rules
                        ],
                    }
                },
                "automationDetails": {"id": f"edgefleet/check/{report.stack}/"},
                "results": [
                    {
                        "ruleId": v.rule,
                        "ruleIndex": rule_index[v.rule],
                        "level": SARIF_LEVEL[v.enforcement],
                        "message": {"text": f"{v.message} ({v.urn})"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": v.location.file},
                                    "region": {"startLine": v.location.line, "startColumn": v.location.col},
                                }
                            }
                        ],
                        "partialFingerprints": {"edgefleet/v1": f"{v.rule}:{v.urn}:{v.message}"},
                    }
                    for v in report.violations
                ],
            }
        ],
    }


def rules_table(policies: Iterable[Policy]) -> str:
    """The README's rules table, generated from the rules themselves."""
    lines = ["| rule | kind | severity | what it checks | fix |", "|---|---|---|---|---|"]
    for p in sorted(policies, key=lambda p: p.name):
        kind = "stack" if isinstance(p, StackValidationPolicy) else "resource"
        severity = (p.severity or Severity.MEDIUM).value
        lines.append(f"| `{p.name}` | {kind} | {severity} | {p.description} | {p.remediation_steps or ''} |")
    return "\n".join(lines) + "\n"

"""`edgefleet check`: the policy pack's own rules over an offline plan, as the engine runs them.

Props are deserialized from the wire form and wrapped in ``unknown_checking_proxy``, exactly as
``pulumi_policy``'s analyzer does, so a rule that passes here behaves the same under
``pulumi preview --policy-pack policies``. Enforcement comes from the pack's default (mandatory),
then ``policies/config/<stack>.json`` (the file given to ``--policy-pack-config``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from pathlib import Path
from typing import Any, Literal

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
from pydantic import BaseModel

from edgefleet.components.config.errors import ConfigError
from edgefleet.components.config.manifests import CONTAINER_LISTS, path_key, pod_spec_path
from edgefleet.components.config.model import Cluster, FleetSpec, ManifestObject
from edgefleet.components.config.parse import format_path, has_path
from edgefleet.components.config.slices import load_sliced
from edgefleet.components.config.source import (
    PathPart,
    StackSource,
)
from edgefleet.components.policy import read_pack_config
from edgefleet.components.tokens import CLUSTER_TYPES, CNI_INSTALL, DNS_STEERING
from edgefleet.engine import ProgramRun, Registration
from edgefleet.policies.locations import config_problems

CHECK_FORMAT = "edgefleet.check/v1"
PACK_DEFAULT = EnforcementLevel.MANDATORY


@dataclass(frozen=True)
class ConfigKey:
    """What a rule is about in edgefleet's config: keys inside a cluster's or a workload's entry
    (most specific first; the first one written, in the entry or inherited from `defaults`, is
    where a violation points) and, where the config can fix it, how."""

    scope: Literal["cluster", "workload"]
    paths: tuple[tuple[str, ...], ...]
    fix: str | None = None


_ENDPOINT = (("endpoint", "allowed_cidrs"), ("endpoint", "public"), ("endpoint",))
_PRIVATE_OR_LISTED = ConfigKey(
    "cluster",
    _ENDPOINT,
    "set `endpoint: {public: false}` on the cluster (or in `defaults`), or list only your admin networks in "
    "`endpoint.allowed_cidrs`",
)
_LISTED = ConfigKey(
    "cluster",
    _ENDPOINT,
    "list only your admin networks in the cluster's `endpoint.allowed_cidrs` (this vendor's API server is "
    "always public)",
)
_VERSION = ConfigKey(
    "cluster",
    (("kubernetes_version",),),
    'raise `kubernetes_version` (quoted, e.g. "1.33") one minor at a time, or remove it for the vendor\'s default',
)
_CNI = ConfigKey("cluster", (("cni",),), "set `cni: {plugin: cilium}` (or calico) on the cluster")
_NODE_POOLS = ConfigKey("cluster", (("node_pools",),))

# Rule -> the config key it is about, in one place. A rule not listed points at the entry of the
# cluster or workload that produced the resource (never at edgefleet's source).
RULE_CONFIG: dict[str, ConfigKey] = {
    # workloads
    "fleet-residency": ConfigKey(
        "workload", (("placement", "residency"),), "change `placement.residency`, or keep the workload off the cluster"
    ),
    "fleet-vendor-diversity": ConfigKey(
        "workload",
        (("placement", "min_vendors"),),
        "let the placement reach clusters of another vendor, or lower `placement.min_vendors`",
    ),
    "fleet-network-policy-required": ConfigKey(
        "workload",
        (("placement", "requires"),),
        "keep the workload off clusters whose CNI does not enforce NetworkPolicy, or run cilium or calico there",
    ),
    "k8s-public-workload-replicas": ConfigKey(
        "workload", (("replicas",),), "raise `replicas` or `min_replicas_per_location` to 2 or more"
    ),
    "k8s-pdb-allows-disruption": ConfigKey("workload", (("replicas",),)),
    "k8s-pdb-for-replicated": ConfigKey("workload", (("replicas",),)),
    "network-isolation-for-public-workloads": ConfigKey(
        "workload",
        (("expose",),),
        "keep the public workload off clusters without NetworkPolicy (`placement.requires: [network-policy]`), "
        "or run cilium or calico there",
    ),
    "network-no-egress-to-everywhere": ConfigKey(
        "workload", (("egress_cidrs",),), "list only the destinations the workload needs in `egress_cidrs`"
    ),
    "k8s-image-pinned": ConfigKey("workload", (("image",),), "pin `image` to a version tag or a digest"),
    "k8s-requests-and-limits": ConfigKey("workload", (("resources",),), "set `resources: {cpu, memory}`"),
    "k8s-probes": ConfigKey("workload", (("probe_path",),), "set `probe_path`"),
    "k8s-loadbalancer-only-public": ConfigKey(
        "workload", (("expose",),), "use `expose: internal` unless the workload is public on purpose"
    ),
    "traffic-public-health-check": ConfigKey("workload", (("probe_path",),), "set the workload's `probe_path`"),
    "traffic-public-multi-location": ConfigKey(
        "workload", (("placement", "min_locations"),), "raise `placement.min_locations` to 2"
    ),
    # clusters
    "eks-endpoint-not-public": _PRIVATE_OR_LISTED,
    "gke-control-plane-restricted": _PRIVATE_OR_LISTED,
    "aks-api-server-restricted": _PRIVATE_OR_LISTED,
    "lke-control-plane-acl": _LISTED,
    "doks-control-plane-firewall": _LISTED,
    "eks-private-endpoint-enabled": ConfigKey("cluster", _ENDPOINT[1:]),
    "eks-supported-version": _VERSION,
    "lke-supported-version": _VERSION,
    "doks-supported-version": _VERSION,
    "aks-network-policy": _CNI,
    "gke-network-policy": _CNI,
    "fleet-helm-chart-pinned": ConfigKey("cluster", (("cni",),)),
    "fleet-kubeconfig-secret": ConfigKey("cluster", (("kubeconfig",),)),
    "eks-node-imdsv2": _NODE_POOLS,
    "eks-node-imds-hop-limit": _NODE_POOLS,
    "eks-node-no-public-ip": _NODE_POOLS,
    "eks-node-group-no-remote-access": _NODE_POOLS,
    "eks-node-group-launch-template": _NODE_POOLS,
    "aks-no-node-public-ip": _NODE_POOLS,
    "gke-node-secure-boot": _NODE_POOLS,
    "gke-metadata-server": _NODE_POOLS,
    "gke-node-service-account": _NODE_POOLS,
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
    """Where in the user's config a violation comes from: a line of the stack file (or of the fleet
    file a slice stack names), the config path written there (``fleet.defaults.kubernetes_version``),
    and the cluster and workload the violating resource belongs to."""

    file: str
    line: int
    col: int = 1
    path: str = "fleet"
    cluster: str | None = None
    workload: str | None = None
    manifest: bool = False  # in one of the workload's own manifests (`manifests:`), not in the config

    @property
    def subject(self) -> str:
        """``workload web in cluster aws-eu-central-1``, ``cluster aws-eu-central-1``, or ''."""
        if self.workload and self.cluster:
            return f"workload {self.workload} in cluster {self.cluster}"
        if self.workload:
            return f"workload {self.workload}"
        return f"cluster {self.cluster}" if self.cluster else ""


@dataclass(frozen=True)
class Violation:
    rule: str
    enforcement: str
    severity: str
    urn: str
    message: str
    location: Location
    fix: str = ""  # what to change in the config (else the rule's remediation)


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
    """A ``--policy-pack-config`` file: ``{"all": "advisory", "<rule>": "mandatory" | {...}}``, read
    as placement reads it (``edgefleet.components.policy.read_pack_config``; a missing file is ``{}``), then
    its levels checked."""
    try:
        data = read_pack_config(path.parent, path.name, required=False)
    except ConfigError as exc:
        raise PackConfigError(f"{path}: {exc.issues[0].message}") from None
    return check_levels(data, str(path))


def check_levels(data: Any, where: str) -> dict[str, Any]:
    """A pack config's levels, each one the engine knows (``where`` names it in errors)."""
    if not isinstance(data, dict):
        raise PackConfigError(f"{where}: expected a JSON object of rule names")
    problems = config_problems(data)  # the same refusals as placement's (policies/locations.py)
    if problems:
        raise PackConfigError(f"{where}: {problems[0]}")
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
    """Points a violation at the stack config line that caused it: the key the rule is about
    (``RULE_CONFIG``) in the entry of the cluster or workload that produced the resource, or the
    `defaults` line the value was inherited from, else that entry; a resource of no cluster or
    workload points at the fleet config itself. Never at edgefleet's source."""

    def __init__(self, run: ProgramRun, source: StackSource, project: Path, spec: FleetSpec) -> None:
        self.by_urn = {r.urn: r for r in run.registrations}
        self.source = source
        self.raw = source.fleet if isinstance(source.fleet, Mapping) else {}
        # Resolved names (derived ones too, e.g. `aws-eu-central-1`) to their config entries.
        self.clusters: dict[str, Cluster] = {c.name: c for c in spec.clusters}
        self.workloads = {w.spec.name: w.config_index for w in spec.workloads}
        # A manifests workload's own objects by (kind, name): where each was written.
        self.manifests = {
            (w.spec.name, s.cluster): {(o.kind, o.name): o for o in w.objects_for(s.cluster)}
            for w in spec.workloads
            for s in w.settings
        }
        self.stack_file = _relative(Path(source.file), project)

    def owner(self, urn: str) -> tuple[str | None, str | None]:
        """(cluster, workload) of the nearest edgefleet component above the resource (or itself)."""
        node = self.by_urn.get(urn)
        while node is not None:
            if node.type == "edgefleet:index:EdgeWorkload":
                return _str(node.inputs.get("cluster")), _str(node.inputs.get("workload"))
            if node.type == DNS_STEERING or node.type.startswith("edgefleet:traffic:"):
                return None, _str(node.inputs.get("workload"))
            if node.type == CNI_INSTALL:
                return _str(node.inputs.get("cluster")), None
            if node.type in CLUSTER_TYPES:
                return _str(node.inputs.get("name")), None
            node = self.by_urn.get(node.parent or "")
        return None, None

    def locate(self, rule: str, urn: str, message: str = "") -> Location:
        cluster_name, workload = self.owner(urn)
        if workload is None and cluster_name is None:
            # A fleet-wide rule in a slice judges workloads placed in other slices (no resource of
            # theirs here): its message names the workload, which has an entry in the fleet file.
            workload = next((w for w in _NAMED_WORKLOAD.findall(message) if w in self.workloads), None)
        written = self._manifest_object(urn, workload, cluster_name)
        if written is not None:
            return _in_manifest(written, rule, message, cluster_name, workload)
        cluster = self.clusters.get(cluster_name or "")
        workload_index = self.workloads.get(workload or "")
        key = RULE_CONFIG.get(rule)
        names = {"cluster": cluster_name, "workload": workload}
        if key is not None and key.scope == "cluster" and cluster is not None:
            return self._at(self._cluster_key(cluster, key.paths), **names)
        if workload_index is not None:
            entry: tuple[PathPart, ...] = ("workloads", workload_index)
            paths = key.paths if key is not None and key.scope == "workload" else ()
            return self._at(self._written(entry, paths), **names)
        if cluster is not None:
            return self._at(("clusters", cluster.config_index), **names)
        if key is not None and workload is None and cluster_name is None:
            return self._at((f"{key.scope}s",))
        return self._at((), **names)

    def _manifest_object(self, urn: str, workload: str | None, cluster: str | None) -> ManifestObject | None:
        """The manifest object a resource was registered from (None: not a user's object)."""
        node = self.by_urn.get(urn)
        objects = self.manifests.get((workload or "", cluster or ""))
        parent = self.by_urn.get(node.parent or "") if node is not None else None
        if node is None or not objects or parent is None or parent.type != "edgefleet:index:EdgeWorkload":
            return None
        meta = node.inputs.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        return objects.get((node.type.rsplit(":", 1)[-1], str(name)))

    def _cluster_key(self, cluster: Cluster, paths: Sequence[tuple[str, ...]]) -> tuple[PathPart, ...]:
        """The first of ``paths`` written in the cluster's entry or inherited from `defaults`."""
        entry: tuple[PathPart, ...] = ("clusters", cluster.config_index)
        for path in paths:
            if has_path(self.raw, (*entry, *path)):
                return (*entry, *path)
            if has_path(self.raw, ("defaults", *path)) and _was_set(cluster.spec, path):
                return ("defaults", *path)  # merged into this cluster from `defaults`
        return self._written(entry, paths)

    def _written(self, entry: tuple[PathPart, ...], paths: Sequence[tuple[str, ...]]) -> tuple[PathPart, ...]:
        """The first of ``paths`` written in ``entry``, else the deepest part of the first one that is."""
        for path in paths:
            if has_path(self.raw, (*entry, *path)):
                return (*entry, *path)
        found = entry
        for part in paths[0] if paths else ():
            if not has_path(self.raw, (*found, part)):
                break
            found = (*found, part)
        return found

    def _at(self, path: tuple[PathPart, ...], cluster: str | None = None, workload: str | None = None) -> Location:
        position = self.source.locate(path)
        line, col = (position.line, position.col) if position is not None else (1, 1)
        return Location(self.stack_file, line, col, format_path(path), cluster, workload)


_NAMED_WORKLOAD = re.compile(r"\bworkload '([^']+)'")
_CONTAINER = re.compile(r"\bcontainer '([^']*)'")
_VOLUME = re.compile(r"\bvolume '([^']*)'")
_POD_KEY = re.compile(r"\bthe pod sets (\w+):")
# Where inside a container (first one written wins) or a pod spec a rule's finding is.
_CONTAINER_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "k8s-no-privileged": (("securityContext", "privileged"), ("securityContext",)),
    "k8s-no-privilege-escalation": (("securityContext", "allowPrivilegeEscalation"), ("securityContext",)),
    "k8s-run-as-non-root": (
        ("securityContext", "runAsUser"),
        ("securityContext", "runAsNonRoot"),
        ("securityContext",),
    ),
    "k8s-read-only-root-filesystem": (("securityContext", "readOnlyRootFilesystem"), ("securityContext",)),
    "k8s-drop-all-capabilities": (("securityContext", "capabilities"), ("securityContext",)),
    "k8s-seccomp-runtime-default": (("securityContext", "seccompProfile"), ("securityContext",)),
    "k8s-no-host-ports": (("ports",),),
    "k8s-requests-and-limits": (("resources", "limits"), ("resources",)),
    "k8s-image-pinned": (("image",),),
}
_POD_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "k8s-no-token-automount": (("automountServiceAccountToken",),),
    "k8s-run-as-non-root": (("securityContext", "runAsUser"), ("securityContext",)),
}


def _in_manifest(obj: ManifestObject, rule: str, message: str, cluster: str | None, workload: str | None) -> Location:
    """A violation in a user's manifest object: the line of the container, volume or pod key the
    finding is about (the deepest one written), else the object's first line."""
    candidates: list[tuple[PathPart, ...]] = []
    pod = pod_spec_path(obj.kind)
    if pod is not None:
        container, volume, pod_key = _CONTAINER.search(message), _VOLUME.search(message), _POD_KEY.search(message)
        if container is not None:
            for lists in CONTAINER_LISTS:
                items = _dig_list(obj.body, (*pod, lists))
                for index, item in enumerate(items):
                    if isinstance(item, Mapping) and str(item.get("name") or "?") == container[1]:
                        base: tuple[PathPart, ...] = (*pod, lists, index)
                        candidates += [(*base, *key) for key in _CONTAINER_KEYS.get(rule, ())] + [base]
        elif volume is not None:
            for index, item in enumerate(_dig_list(obj.body, (*pod, "volumes"))):
                if isinstance(item, Mapping) and str(item.get("name")) == volume[1]:
                    candidates += [(*pod, "volumes", index, "hostPath"), (*pod, "volumes", index)]
        elif pod_key is not None:
            candidates.append((*pod, pod_key[1]))
        candidates += [(*pod, *key) for key in _POD_KEYS.get(rule, ())]
    for path in candidates:
        found = obj.positions.get(path_key(path))
        if found is not None:
            return Location(
                obj.file, found[0], found[1], f"{obj.kind}/{obj.name}:{path_key(path)}", cluster, workload, True
            )
    return Location(obj.file, obj.line, obj.col, f"{obj.kind}/{obj.name}", cluster, workload, True)


def _dig_list(body: Mapping[str, Any], path: Sequence[str]) -> list[Any]:
    node: Any = body
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _was_set(model: BaseModel, path: Sequence[str]) -> bool:
    """Whether the merged config set ``path`` on the model (not left to its default)."""
    node: Any = model
    for part in path:
        if not isinstance(node, BaseModel) or part not in node.model_fields_set:
            return False
        node = getattr(node, part)
    return True


def _relative(path: Path, project: Path) -> str:
    try:
        return path.resolve().relative_to(project.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def check(
    run: ProgramRun,
    source: StackSource,
    project: Path,
    policies: Sequence[Policy],
    config: Mapping[str, Any],
    *,
    spec: FleetSpec | None = None,
) -> CheckReport:
    """The whole check: evaluate, locate, sort (file order, then rule). ``spec`` is the stack's
    parsed fleet (parsed here when not given)."""
    if spec is None:
        spec, _ = load_sliced(source, project)
    rules, found, skipped = evaluate(run, policies, config)
    info = {r.id: r for r in rules}
    locator = Locator(run, source, project, spec)
    violations = []
    for rule, urn, message in found:
        key = RULE_CONFIG.get(rule)
        location = locator.locate(rule, urn, message)
        fix = key.fix if key is not None and key.fix and not location.manifest else info[rule].remediation
        violations.append(Violation(rule, info[rule].enforcement, info[rule].severity, urn, message, location, fix))
    violations.sort(key=lambda v: (v.location.file, v.location.line, v.rule, v.location.subject, v.urn, v.message))
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
                "cluster": v.location.cluster,
                "workload": v.location.workload,
                "location": {
                    "file": v.location.file,
                    "line": v.location.line,
                    "col": v.location.col,
                    "path": v.location.path,
                },
                "fix": v.fix,
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
                        "message": {"text": _sarif_text(v)},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": v.location.file},
                                    "region": {"startLine": v.location.line, "startColumn": v.location.col},
                                },
                                "logicalLocations": [{"fullyQualifiedName": v.location.path, "kind": "member"}],
                            }
                        ],
                        "properties": _sarif_properties(v),
                        "partialFingerprints": {"edgefleet/v1": f"{v.rule}:{v.urn}:{v.message}"},
                    }
                    for v in report.violations
                ],
            }
        ],
    }


def _sarif_properties(v: Violation) -> dict[str, str]:
    named = {"cluster": v.location.cluster, "workload": v.location.workload, "urn": v.urn}
    return {k: value for k, value in named.items() if value}


def _sarif_text(v: Violation) -> str:
    subject = f"{v.location.subject}: " if v.location.subject else ""
    return f"{subject}{v.message}. Fix ({v.location.path}): {v.fix} ({v.urn})"


def rules_table(policies: Iterable[Policy]) -> str:
    """The README's rules table, generated from the rules themselves."""
    lines = ["| rule | kind | severity | what it checks | fix |", "|---|---|---|---|---|"]
    for p in sorted(policies, key=lambda p: p.name):
        kind = "stack" if isinstance(p, StackValidationPolicy) else "resource"
        severity = (p.severity or Severity.MEDIUM).value
        lines.append(f"| `{p.name}` | {kind} | {severity} | {p.description} | {p.remediation_steps or ''} |")
    return "\n".join(lines) + "\n"

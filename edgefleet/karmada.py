"""``edgefleet export karmada``: each workload as Karmada resource templates and policies that reproduce
edgefleet's placement exactly and let Karmada move replicas off a failed cluster between deploys.

Per workload (guide: ``docs/engines.md``; CRDs: ``policy.karmada.io/v1alpha1`` at Karmada commit
``edgefleet.webster.KARMADA_COMMIT``, copies in ``tests/ref/karmada/``):

- the **resource templates**, one per object, as they are created in the Karmada control plane: the objects
  every placed cluster gets in the plan, with what differs per cluster left out (it goes to the overrides),
  and the Deployment's ``spec.replicas`` = the sum of the placed counts. The Namespace carries
  ``namespace.karmada.io/skip-auto-propagation: "true"`` so that Karmada's namespace controller does not
  copy it to every member cluster: a ``ClusterPropagationPolicy`` sends it to the placed ones only.
- one **PropagationPolicy** selecting the namespaced templates by name: cluster affinity = the placed
  clusters, ``Divided``/``Weighted`` replica scheduling with one static weight per cluster equal to its
  placed count (Karmada's Webster division then gives back exactly the placed counts:
  ``edgefleet/webster.py``), and application failover with the safe defaults of ``KarmadaOptions``.
- **OverridePolicy** (namespaced objects) or **ClusterOverridePolicy** (the Namespace) objects, one per
  object that differs between clusters, with one rule per member cluster: metadata labels and annotations
  by ``labelsOverrider``/``annotationsOverrider``, anything else (an image, a pod template label, env) by
  ``plaintext`` JSON-patch operations. An object that some placed clusters lack cannot be expressed (a
  PropagationPolicy sends the same objects to every cluster it selects): the export refuses.

Pure: no Pulumi import, no cluster access.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from edgefleet.export import CLUSTER_SCOPED, ExportError, Identity, PlacedWorkload, describe, identity

__all__ = [
    "CLUSTER_NAME_MAX",
    "NAMESPACE_SKIP_LABEL",
    "POLICY_API",
    "ConflictResolution",
    "KarmadaOptions",
    "PurgeMode",
    "check_options",
    "karmada_files",
    "workload_documents",
]

POLICY_API = "policy.karmada.io/v1alpha1"
# pkg/apis/cluster/validation: a Cluster name is an RFC 1123 label of at most 48 characters.
CLUSTER_NAME_MAX = 48
# pkg/apis/policy/v1alpha1/well_known_constants.go: the namespace controller skips such a namespace.
NAMESPACE_SKIP_LABEL = "namespace.karmada.io/skip-auto-propagation"
MANAGED_BY = {"app.kubernetes.io/managed-by": "edgefleet"}
LABEL_WORKLOAD = "edgefleet.dev/workload"
LABEL_STACK = "edgefleet.dev/stack"
_INT32_MAX = 2**31 - 1


class PurgeMode(StrEnum):
    """What happens to the application on the cluster it fails over from (``failover.application.purgeMode``)."""

    GRACEFULLY = "Gracefully"  # kept until the new replicas are healthy, or gracePeriodSeconds passed
    DIRECTLY = "Directly"  # deleted first, then rescheduled: a capacity gap
    NEVER = "Never"  # never deleted by Karmada


class ConflictResolution(StrEnum):
    """What Karmada does when a member cluster already has the object (``spec.conflictResolution``)."""

    ABORT = "Abort"  # leave it alone and report the conflict (Karmada's default)
    OVERWRITE = "Overwrite"  # take it over: moving a fleet from `pulumi up` to Karmada


@dataclass(frozen=True)
class KarmadaOptions:
    """The settings the fleet definition does not say. Defaults are the safe choice (docs/engines.md)."""

    # An application unhealthy this long on a cluster is moved elsewhere (Karmada's own default, 300 s).
    toleration_seconds: int = 300
    purge_mode: PurgeMode = PurgeMode.GRACEFULLY
    # With Gracefully: the longest the old replicas wait for the new ones to become healthy (Karmada: 600 s).
    grace_period_seconds: int = 600
    conflict_resolution: ConflictResolution = ConflictResolution.ABORT
    stack: str = ""  # the stack exported, for the edgefleet.dev/stack label ("" = no label)


def _fail(option: str, problem: str, fix: str) -> ExportError:
    return ExportError(f"{option}: {problem}; {fix}")


def check_options(options: KarmadaOptions) -> None:
    """Raise ``ExportError`` (``--option: problem; fix``) for settings Karmada would reject or that are unsafe."""
    t = options.toleration_seconds
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= _INT32_MAX:
        raise _fail("--toleration-seconds", f"{t!r} is not a number of seconds", "pass an integer >= 0 (default 300)")
    g = options.grace_period_seconds
    if isinstance(g, bool) or not isinstance(g, int) or not 1 <= g <= _INT32_MAX:
        raise _fail("--grace-period-seconds", f"{g!r} is not a positive number of seconds", "pass e.g. 600")


def _pointer(parts: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _is_map_of_strings(path: Sequence[str | int]) -> bool:
    return bool(path) and path[-1] in ("labels", "annotations")


def _common(values: Sequence[Any], path: tuple[str | int, ...]) -> Any:
    """The template value the clusters' ``values`` share: equal -> that value; maps -> recursively, keys
    some clusters lack left out; a differing label/annotation left out; lists of one length item by item;
    any other difference -> the first cluster's value (its own override is then empty)."""
    first = values[0]
    if all(v == first for v in values):
        return first
    if all(isinstance(v, Mapping) for v in values):
        out: dict[str, Any] = {}
        for key in first:
            if not all(key in v for v in values):
                continue
            child = [v[key] for v in values]
            if _is_map_of_strings(path) and not all(c == child[0] for c in child):
                continue
            out[key] = _common(child, (*path, key))
        return out
    if all(isinstance(v, list) and len(v) == len(first) for v in values):
        return [_common([v[i] for v in values], (*path, i)) for i in range(len(first))]
    return first


def _diff(base: Any, obj: Any, path: tuple[str | int, ...]) -> list[tuple[str, tuple[str | int, ...], Any]]:
    """JSON-patch style operations (op, path, value) turning ``base`` into ``obj``; lists of one length item by
    item, others replaced whole."""
    if isinstance(base, Mapping) and isinstance(obj, Mapping):
        ops: list[tuple[str, tuple[str | int, ...], Any]] = []
        for key in sorted(set(base) | set(obj)):
            if key not in obj:
                ops.append(("remove", (*path, key), base[key]))
            elif key not in base:
                ops.append(("add", (*path, key), obj[key]))
            else:
                ops.extend(_diff(base[key], obj[key], (*path, key)))
        return ops
    if isinstance(base, list) and isinstance(obj, list) and len(base) == len(obj):
        return [op for i, (b, o) in enumerate(zip(base, obj, strict=True)) for op in _diff(b, o, (*path, i))]
    return [] if base == obj else [("replace", path, obj)]


def _overriders(ops: Sequence[tuple[str, tuple[str | int, ...], Any]]) -> dict[str, Any]:
    """Operations as Karmada overriders: top-level labels/annotations by their own overriders, the rest as
    plaintext (``value`` left out for ``remove``)."""
    labels: dict[str, dict[str, str]] = {}
    annotations: dict[str, dict[str, str]] = {}
    plaintext: list[dict[str, Any]] = []
    for op, path, value in ops:
        if path[:2] in (("metadata", "labels"), ("metadata", "annotations")):
            target = labels if path[1] == "labels" else annotations
            entries = value if len(path) == 2 else {str(path[2]): value}
            if not isinstance(entries, Mapping):
                raise ExportError(f"{_pointer(path)} is not a map of strings")
            target.setdefault(op, {}).update({str(k): str(v) for k, v in entries.items()})
            continue
        entry: dict[str, Any] = {"operator": op, "path": _pointer(path)}
        if op != "remove":
            entry["value"] = value
        plaintext.append(entry)
    out: dict[str, Any] = {}
    if labels:
        out["labelsOverrider"] = [
            {"operator": op, "value": dict(sorted(v.items()))} for op, v in sorted(labels.items())
        ]
    if annotations:
        out["annotationsOverrider"] = [
            {"operator": op, "value": dict(sorted(v.items()))} for op, v in sorted(annotations.items())
        ]
    if plaintext:
        out["plaintext"] = plaintext
    return out


def _metadata(name: str, workload: str, options: KarmadaOptions, namespace: str = "") -> dict[str, Any]:
    labels = {**MANAGED_BY, LABEL_WORKLOAD: workload}
    if options.stack:
        labels[LABEL_STACK] = options.stack
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _selector(ident: Identity) -> dict[str, Any]:
    api, kind, namespace, name = ident
    out = {"apiVersion": api, "kind": kind, "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


def _failover(options: KarmadaOptions) -> dict[str, Any]:
    application: dict[str, Any] = {
        "decisionConditions": {"tolerationSeconds": options.toleration_seconds},
        "purgeMode": options.purge_mode.value,
    }
    if options.purge_mode is PurgeMode.GRACEFULLY:
        application["gracePeriodSeconds"] = options.grace_period_seconds
    # Cluster failure (a NoExecute taint on the Cluster): schedule the replicas elsewhere first, then
    # remove the old ones, so the workload never drops below its total while a healthy cluster can take it.
    return {"application": application, "cluster": {"purgeMode": "Gracefully"}}


@dataclass(frozen=True)
class _Object:
    ident: Identity
    template: dict[str, Any]
    rules: list[dict[str, Any]]  # overrideRules, by member cluster name


def _objects(w: PlacedWorkload, members: Mapping[str, str]) -> list[_Object]:
    clusters = w.clusters
    by_ident: dict[Identity, dict[str, dict[str, Any]]] = {}
    for cluster in clusters:
        for obj in w.objects[cluster]:
            by_ident.setdefault(identity(obj), {})[cluster] = obj
    total = sum(w.replicas.values())
    out = []
    for ident in sorted(by_ident, key=_sort_key):
        per_cluster = by_ident[ident]
        missing = [c for c in clusters if c not in per_cluster]
        if missing:
            raise ExportError(
                f"workload {w.name}: {describe(ident)} is in clusters {', '.join(sorted(per_cluster))} but not in "
                f"{', '.join(missing)}; a PropagationPolicy sends the same objects to every placed cluster, so "
                "this placement cannot be exported to Karmada"
            )
        replicated = ident[1] == "Deployment"
        versions = []
        for cluster in clusters:
            obj = per_cluster[cluster]
            if replicated:  # Karmada divides spec.replicas; never an override
                obj = {**obj, "spec": {**obj["spec"], "replicas": total}}
            versions.append(obj)
        template = _common(versions, ())
        rules = []
        for cluster, obj in zip(clusters, versions, strict=True):
            ops = _diff(template, obj, ())
            for op, path, _ in ops:
                if path[:1] in (("apiVersion",), ("kind",)) or path[:2] in (
                    ("metadata", "name"),
                    ("metadata", "namespace"),
                ):
                    raise ExportError(f"workload {w.name}: {describe(ident)} differs in {_pointer(path)} ({op})")
            if ops:
                rules.append({"targetCluster": {"clusterNames": [members[cluster]]}, "overriders": _overriders(ops)})
        if ident[1] == "Namespace":
            labels = dict(template.get("metadata", {}).get("labels") or {})
            labels[NAMESPACE_SKIP_LABEL] = "true"
            template = {**template, "metadata": {**template["metadata"], "labels": labels}}
        rules.sort(key=lambda r: r["targetCluster"]["clusterNames"][0])
        out.append(_Object(ident, template, rules))
    return out


def _placement(w: PlacedWorkload, members: Mapping[str, str], replicas: bool) -> dict[str, Any]:
    placement: dict[str, Any] = {"clusterAffinity": {"clusterNames": sorted(members[c] for c in w.clusters)}}
    if replicas:
        placement["replicaScheduling"] = {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {
                "staticWeightList": [
                    {"targetCluster": {"clusterNames": [members[c]]}, "weight": n}
                    for c, n in sorted(w.replicas.items(), key=lambda kv: members[kv[0]])
                ]
            },
        }
    return placement


def _override_groups(policy_name: str, objects: Sequence[_Object]) -> list[tuple[str, list[_Object]]]:
    """Objects with the same override rules share one override policy (usually: every object but the
    Deployment differs only in its labels). The group holding the most objects is named ``policy_name``;
    any other after its first object (``<policy_name>-<kind>-<name>``)."""
    groups: dict[str, list[_Object]] = {}
    for o in objects:
        if o.rules:
            groups.setdefault(json.dumps(o.rules, sort_keys=True), []).append(o)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), _sort_key(g[0].ident)))
    return [
        (policy_name if i == 0 else f"{policy_name}-{g[0].ident[1].lower()}-{g[0].ident[3]}", g)
        for i, g in enumerate(ordered)
    ]


def _sort_key(ident: Identity) -> tuple[int, str, str, str]:
    return (0 if ident[1] in CLUSTER_SCOPED else 1, ident[1], ident[2], ident[3])


def _file_stem(kind: str, name: str) -> str:
    return f"{kind}-{name}"


def workload_documents(
    w: PlacedWorkload, members: Mapping[str, str], options: KarmadaOptions
) -> dict[str, dict[str, Any]]:
    """One workload's objects, by file name inside its directory (see ``karmada_files``)."""
    objects = _objects(w, members)
    files: dict[str, dict[str, Any]] = {}

    def put(prefix: str, doc: dict[str, Any]) -> None:
        rel = f"{prefix}-{_file_stem(doc['kind'], doc['metadata']['name'])}.yaml"
        if rel in files:
            raise ExportError(f"workload {w.name}: two objects would both be written to {rel}; rename one")
        files[rel] = doc

    cluster_scoped = [o for o in objects if o.ident[1] in CLUSTER_SCOPED]
    namespaced = [o for o in objects if o.ident[1] not in CLUSTER_SCOPED]
    policy_name = f"edgefleet-{w.name}"
    if cluster_scoped:
        for o in cluster_scoped:
            put("00", o.template)
        put(
            "01",
            {
                "apiVersion": POLICY_API,
                "kind": "ClusterPropagationPolicy",
                "metadata": _metadata(policy_name, w.name, options),
                "spec": {
                    "resourceSelectors": [_selector(o.ident) for o in cluster_scoped],
                    "placement": _placement(w, members, replicas=False),
                    "conflictResolution": options.conflict_resolution.value,
                },
            },
        )
        for name, group in _override_groups(policy_name, cluster_scoped):
            put(
                "02",
                {
                    "apiVersion": POLICY_API,
                    "kind": "ClusterOverridePolicy",
                    "metadata": _metadata(name, w.name, options),
                    "spec": {"resourceSelectors": [_selector(o.ident) for o in group], "overrideRules": group[0].rules},
                },
            )
    for namespace in sorted({o.ident[2] for o in namespaced}):
        in_ns = [o for o in namespaced if o.ident[2] == namespace]
        for o in in_ns:
            put("10", o.template)
        has_replicas = any(o.ident[1] == "Deployment" for o in in_ns)
        put(
            "20",
            {
                "apiVersion": POLICY_API,
                "kind": "PropagationPolicy",
                "metadata": _metadata(policy_name, w.name, options, namespace),
                "spec": {
                    "resourceSelectors": [_selector(o.ident) for o in in_ns],
                    "placement": _placement(w, members, replicas=has_replicas),
                    # Application failover needs the dependencies (ConfigMaps, Secrets a pod names) to move too.
                    "propagateDeps": True,
                    "failover": _failover(options),
                    "conflictResolution": options.conflict_resolution.value,
                },
            },
        )
        for name, group in _override_groups(policy_name, in_ns):
            put(
                "30",
                {
                    "apiVersion": POLICY_API,
                    "kind": "OverridePolicy",
                    "metadata": _metadata(name, w.name, options, namespace),
                    "spec": {"resourceSelectors": [_selector(o.ident) for o in group], "overrideRules": group[0].rules},
                },
            )
    for rel, doc in files.items():
        name = doc["metadata"]["name"]
        if len(name) > 253:
            raise ExportError(f"workload {w.name}: {rel} would be named {name!r}, over 253 characters")
    return files


def karmada_files(
    workloads: Sequence[PlacedWorkload], members: Mapping[str, str], options: KarmadaOptions
) -> dict[str, dict[str, Any]]:
    """Every file of the export: ``<workload>/<NN>-<Kind>-<name>.yaml``, where NN orders a recursive
    ``kubectl apply``: 00 cluster-scoped templates (the Namespace), 01 ClusterPropagationPolicy,
    02 ClusterOverridePolicy, 10 namespaced templates, 20 PropagationPolicy, 30 OverridePolicy."""
    check_options(options)
    if not workloads:
        raise ExportError("the plan places no workload on the stack's clusters; nothing to export")
    files: dict[str, dict[str, Any]] = {}
    for w in workloads:
        for rel, doc in workload_documents(w, members, options).items():
            files[f"{w.name}/{rel}"] = doc
    return files

"""What ``edgefleet export karmada|ocm`` share: the workloads' objects from the offline plan, the member
cluster names, and the output directory.

The objects are the plan's (``edgefleet plan`` runs the real program under the mock engine): for each
``EdgeWorkload`` component (one per placed workload and cluster), its Kubernetes children exactly as the
manifests show them. Only workload objects: never a cluster's infrastructure, its CNI's Helm releases or
their namespaces. A value that is a secret or unknown at preview (``"[secret]"``, ``"[unknown]"`` in the
plan) is never written: the export refuses, naming the object and the field.

Pure apart from ``write_export``: no Pulumi import, no cluster access. Guide: ``docs/engines.md``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from edgefleet.components.config import ConfigError, FleetSpec
from edgefleet.components.config.application import SECRET_KEYS_ANNOTATION
from edgefleet.components.config.errors import ConfigIssue
from edgefleet.files import replaced_dir_problem
from edgefleet.operator import DNS_LABEL
from edgefleet.plan import cluster_of, manifest

if TYPE_CHECKING:
    from edgefleet.components.config.source import StackSource
    from edgefleet.engine import ProgramRun

__all__ = [
    "EXPORT_MARKER",
    "MEMBER_CLUSTERS_KEY",
    "ExportDirError",
    "ExportError",
    "PlacedWorkload",
    "check_export_dir",
    "identity",
    "member_names",
    "render",
    "workload_objects",
    "write_export",
]

WORKLOAD_TYPE = "edgefleet:index:EdgeWorkload"
EXPORT_MARKER = ".edgefleet-export"
# A stack config key outside `edgefleet:fleet` (whose keys are a fixed contract): our cluster name ->
# the engine's member cluster name (Karmada `Cluster`, OCM `ManagedCluster`). Absent: the names are ours.
MEMBER_CLUSTERS_KEY = "edgefleet:memberClusters"
SECRET = "[secret]"
UNKNOWN = "[unknown]"

# Kinds that live outside a namespace, among those a workload can hold.
CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"})


class ExportError(Exception):
    """The plan cannot be exported as asked (one line: what, then the fix)."""


class ExportDirError(Exception):
    """The output directory cannot be used (not empty and not written by an edgefleet export)."""


Identity = tuple[str, str, str, str]  # apiVersion, kind, namespace ("" when cluster-scoped), name


def identity(obj: Mapping[str, Any]) -> Identity:
    meta = obj.get("metadata") or {}
    return (str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def describe(ident: Identity) -> str:
    _, kind, namespace, name = ident
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


@dataclass(frozen=True)
class PlacedWorkload:
    """One workload: its replicas per (our) cluster, as placed, and its objects in each of those clusters."""

    name: str
    replicas: Mapping[str, int]  # cluster -> replicas, sorted by cluster
    objects: Mapping[str, Sequence[dict[str, Any]]] = field(default_factory=dict)  # cluster -> objects

    @property
    def clusters(self) -> list[str]:
        return sorted(self.replicas)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def _stack_secret(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is the Secret edgefleet fills from stack secrets (``secret_env``): never
    exported, since edgefleet never writes secret values; the Deployment references it by name."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return obj.get("kind") == "Secret" and SECRET_KEYS_ANNOTATION in annotations


def _refuse_hidden(workload: str, cluster: str, obj: Mapping[str, Any]) -> None:
    for path, value in _walk(obj):
        if value == SECRET:
            raise ExportError(
                f"workload {workload} in cluster {cluster}: {describe(identity(obj))} carries a secret at {path}; "
                "edgefleet never writes secret values: keep the value in a Secret the engine does not manage "
                "and reference it by name"
            )
        if value == UNKNOWN:
            raise ExportError(
                f"workload {workload} in cluster {cluster}: {describe(identity(obj))} has {path} unknown until "
                "deployment; only values known at preview can be exported"
            )


def workload_objects(
    run: ProgramRun, spec: FleetSpec, *, clusters: Sequence[str] | None = None
) -> list[PlacedWorkload]:
    """Every workload placed on a deployed cluster, with its objects per cluster (the plan's manifests),
    sorted by workload name; objects sorted by (cluster-scoped first, kind, namespace, name).

    ``clusters``: the clusters the run deployed (a slice's); None = every placed cluster. Raises
    ``ExportError`` for a secret or unknown value, or a Deployment whose replicas differ from the placement.
    """
    by_urn = {r.urn: r for r in run.registrations}
    providers = cluster_of(run)
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in sorted(run.registrations, key=lambda r: r.urn):
        if not r.custom or not r.type.startswith("kubernetes:") or r.type.startswith("kubernetes:helm"):
            continue
        parent = by_urn.get(r.parent or "")
        if parent is None or parent.type != WORKLOAD_TYPE:
            continue  # CNI installs, cluster add-ons: infrastructure, never exported
        workload = str(parent.inputs.get("workload"))
        cluster = str(parent.inputs.get("cluster") or providers.get(r.provider_urn or "", ""))
        obj = manifest(r)
        if _stack_secret(obj):
            continue  # its values are stack secrets: the engine's clusters get this Secret another way (engines.md)
        _refuse_hidden(workload, cluster, obj)
        found.setdefault((workload, cluster), []).append(obj)
    out = []
    deployed = set(clusters) if clusters is not None else None
    for w in sorted(spec.workloads, key=lambda w: w.spec.name):
        replicas = {c: n for c, n in sorted(w.replicas) if deployed is None or c in deployed}
        if not replicas:
            continue
        objects: dict[str, list[dict[str, Any]]] = {}
        for cluster, n in replicas.items():
            objs = sorted(found.get((w.spec.name, cluster), []), key=_order)
            if not objs:
                raise ExportError(f"workload {w.spec.name} in cluster {cluster}: the plan has no objects for it")
            for obj in objs:
                if obj.get("kind") == "Deployment" and (obj.get("spec") or {}).get("replicas") != n:
                    raise ExportError(
                        f"workload {w.spec.name} in cluster {cluster}: {describe(identity(obj))} has "
                        f"{(obj.get('spec') or {}).get('replicas')} replicas, the placement {n}; re-run the export"
                    )
            objects[cluster] = objs
        out.append(PlacedWorkload(name=w.spec.name, replicas=replicas, objects=objects))
    return out


def _order(obj: Mapping[str, Any]) -> tuple[int, str, str, str]:
    _, kind, namespace, name = identity(obj)
    return (0 if kind in CLUSTER_SCOPED else 1, kind, namespace, name)


def member_names(
    source: StackSource, spec: FleetSpec, clusters: Sequence[str], *, engine: str, max_length: int
) -> dict[str, str]:
    """Our cluster name -> the engine's member cluster name, for ``clusters``: ``edgefleet:memberClusters``
    where it names one, else ours. Raises ``ConfigError`` (one issue per problem, with its position): not a
    mapping, an unknown or non-text entry, a name the engine cannot use, two clusters on one member name."""
    key = MEMBER_CLUSTERS_KEY
    value = source.values.get(key)
    raw: Any = value.value if value is not None else {}
    issues: list[ConfigIssue] = []
    if value is not None and (value.secure or not isinstance(raw, Mapping)):
        raise ConfigError(
            [
                ConfigIssue(
                    key,
                    "must be a plain mapping of our cluster names to member cluster names "
                    "(e.g. {store-berlin-01: berlin})",
                    source.locate_config(key),
                )
            ]
        )
    known = {c.name for c in spec.clusters}
    for ours, theirs in raw.items():
        where = source.locate_config(key, (str(ours),))
        if str(ours) not in known:
            issues.append(
                ConfigIssue(
                    f"{key}.{ours}",
                    f"no cluster is named {ours!r}; use one of the fleet's cluster names ({', '.join(sorted(known))})",
                    where,
                )
            )
        elif not isinstance(theirs, str):
            issues.append(ConfigIssue(f"{key}.{ours}", f"{theirs!r} is not a cluster name; write it as text", where))
    mapping = {c: str(raw.get(c, c)) for c in clusters}
    for ours, theirs in sorted(mapping.items()):
        if len(theirs) > max_length or not DNS_LABEL.fullmatch(theirs):
            path = f"{key}.{ours}" if ours in raw else key
            issues.append(
                ConfigIssue(
                    path,
                    f"{theirs!r} cannot name a {engine} cluster (an RFC 1123 label of at most {max_length} "
                    f"characters: lower-case letters, digits, '-'); map {ours} to such a name here",
                    source.locate_config(key, (ours,)) if ours in raw else source.locate_config(key),
                )
            )
    by_member: dict[str, list[str]] = {}
    for ours, theirs in mapping.items():
        by_member.setdefault(theirs, []).append(ours)
    for theirs, ours_list in sorted(by_member.items()):
        if len(ours_list) > 1:
            issues.append(
                ConfigIssue(
                    key,
                    f"clusters {', '.join(sorted(ours_list))} all map to the {engine} cluster {theirs!r}; "
                    "give each its own member cluster name",
                    source.locate_config(key),
                )
            )
    if issues:
        raise ConfigError(issues)
    return mapping


def _canonical(value: Any, *, top: bool = False) -> Any:
    """Keys sorted (an object's apiVersion, kind, metadata first), lists as they are: stable bytes."""
    if isinstance(value, Mapping):
        keys = sorted(value)
        if top:
            head = [k for k in ("apiVersion", "kind", "metadata") if k in value]
            keys = head + [k for k in keys if k not in head]
        return {k: _canonical(value[k]) for k in keys}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def render(document: Mapping[str, Any]) -> str:
    """One object as YAML text: canonical key order, no line wrapping, block style."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = StringIO()
    yaml.dump(_canonical(document, top=True), buffer)
    return buffer.getvalue()


def check_export_dir(directory: Path) -> None:
    """Raise ``ExportDirError`` unless ``directory`` is absent, empty, or an earlier edgefleet export."""
    problem = replaced_dir_problem(directory, EXPORT_MARKER, "`edgefleet export`")
    if problem is not None:
        raise ExportDirError(problem)


def write_export(directory: Path, files: Mapping[str, Mapping[str, Any]], command: str) -> list[Path]:
    """Write ``files`` (relative path -> object) under ``directory``, replacing an earlier export whole; refuse
    any other non-empty directory. The new tree is written beside it first, then swapped in."""
    check_export_dir(directory)
    for rel in files:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise ExportError(f"{rel!r} is not a relative path inside the export")
    staging = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        staging.mkdir()
        (staging / EXPORT_MARKER).write_text(
            f"written by `{command}`; replaced whole on every run\n", encoding="utf-8", newline="\n"
        )
        for rel in sorted(files):
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(files[rel]), encoding="utf-8", newline="\n")
        if directory.exists():
            old = directory.with_name(f".{directory.name}.{os.getpid()}.old")
            directory.rename(old)
            staging.rename(directory)
            shutil.rmtree(old)
        else:
            staging.rename(directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return [directory / rel for rel in sorted(files)]

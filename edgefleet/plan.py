"""The plan document (``edgefleet.plan/v1``) and the manifests, from a validated fleet and a run."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from edgefleet.components.config.application import SECRET_KEYS_ANNOTATION
from edgefleet.components.config.model import Cluster, FleetSpec, RttMatrixInfo, WindowInfo, Workload
from edgefleet.components.config.slices import SliceScope
from edgefleet.components.tokens import CLUSTER_TYPES, DNS_STEERING
from edgefleet.files import replaced_dir_problem

if TYPE_CHECKING:
    from edgefleet.engine import ProgramRun, Registration

PLAN_FORMAT = "edgefleet.plan/v1"
MANIFEST_MARKER = ".edgefleet-manifests"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


class ManifestDirError(Exception):
    """The manifests directory cannot be used (not empty and not ours)."""


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def cluster_entry(c: Cluster) -> dict[str, Any]:
    """One plan ``clusters`` entry: plain identity, location, labels and CNI capability; for cloud
    clusters also the Kubernetes version, node pools and address ranges."""
    entry: dict[str, Any] = {
        "name": c.name,
        "vendor": c.vendor.value,
        "region": c.region,
        "location": {"lat": c.location.lat, "lon": c.location.lon, "country": c.location.country},
        "labels": dict(sorted(c.labels.items())),
        "cni": {"plugin": c.cni.plugin.value, "mode": c.cni.mode, "network_policy": c.cni.network_policy},
    }
    if c.network is not None:
        entry["kubernetes_version"] = c.kubernetes_version
        entry["node_pools"] = [p.model_dump() for p in c.node_pools]
        entry["network"] = c.network.model_dump()
        entry["protect"] = c.protect
    return entry


def cluster_entries(spec: FleetSpec, scope: SliceScope | None = None) -> list[dict[str, Any]]:
    """The plan's ``clusters`` (those the stack deploys), by name."""
    return [cluster_entry(c) for c in deployed_clusters(spec, scope)]


def deployed_clusters(spec: FleetSpec, scope: SliceScope | None) -> list[Cluster]:
    """The clusters a stack deploys: all, or its slice's; by name."""
    return [c for c in sorted(spec.clusters, key=lambda c: c.name) if scope is None or scope.deploys(c.name)]


def slice_entry(scope: SliceScope) -> dict[str, Any]:
    """The plan's ``slice``: which stack of a shared fleet file this is, and what it deploys."""
    return {
        "stack": scope.slice.stack,
        "selector": scope.slice.spec.as_config(),
        "clusters": list(scope.slice.clusters),
        "reads": list(scope.peer_stacks()),
    }


def placement_entry(w: Workload) -> dict[str, Any]:
    """One workload's placement: locations with replicas and demand share; for latency, metrics."""
    shares = dict(w.latency.demand_share) if w.latency is not None else {}
    entry: dict[str, Any] = {
        "workload": w.spec.name,
        "strategy": w.strategy.value,
        # everywhere/pinned do not model demand: their shares are null.
        "locations": [
            {"cluster": name, "replicas": n, "demand_share": shares.get(name), "wave": wave_of(w, name)}
            for name, n in w.replicas
        ],
    }
    if len(w.waves) > 1:
        entry["waves"] = [list(wave) for wave in w.waves]
    if w.hostname is not None:
        entry["hostname"] = w.hostname
    if w.latency is not None:
        lat = w.latency
        entry["metrics"] = {
            "mean_rtt_ms": lat.mean_rtt_ms,
            "p95_rtt_ms": lat.p95_rtt_ms,
            "bound_mean_rtt_ms": lat.bound_mean_rtt_ms,
            "lower_bound_rtt_ms": lat.lower_bound_rtt_ms,
            "gap": lat.gap,
            "method": lat.method,
            "demand_points": lat.demand_points,
        }
        if lat.held_back is not None:
            entry["held_back"] = {
                "candidate": list(lat.held_back.candidate),
                "candidate_mean_rtt_ms": lat.held_back.candidate_mean_rtt_ms,
                "gain": lat.held_back.gain,
            }
        if lat.window is not None:
            entry["window"] = window_entry(lat.window)
        if lat.rtt_matrix is not None:
            entry["rtt_matrix"] = rtt_matrix_entry(lat.rtt_matrix)
            entry["rtt_matrix"]["by_distance"] = {
                "mean_rtt_ms": lat.by_distance_mean_rtt_ms,
                "share": lat.by_distance_share,
            }
    if w.excluded:
        entry["excluded"] = [{"cluster": name, "constraint": why} for name, why in w.excluded]
    return entry


def rtt_matrix_entry(info: RttMatrixInfo) -> dict[str, Any]:
    """What a workload placed with ``placement.rtt_matrix`` read from it: per eligible location its
    fitted path inflation and site delay (``pairs`` 0: not measured, the model's), and per pair the
    measurement beside the model's estimate and the fitted one (``docs/placement.md``)."""
    return {
        "file": info.file,
        "model_inflation": info.default_inflation,
        "rms_model_ms": info.rms_model_ms,
        "rms_fitted_ms": info.rms_fitted_ms,
        "locations": [
            {"cluster": loc.cluster, "inflation": loc.inflation, "delay_ms": loc.delay_ms, "pairs": loc.pairs}
            for loc in info.locations
        ],
        "pairs": [
            {
                "a": p.a,
                "b": p.b,
                "km": p.km,
                "measured_p50_ms": p.measured_ms,
                "model_ms": p.model_ms,
                "fitted_ms": p.fitted_ms,
            }
            for p in info.pairs
        ],
    }


def window_entry(win: WindowInfo) -> dict[str, Any]:
    """A scheduled placement's window and the move from the window before, in the order it is
    applied: create the new locations, wait until their Deployments are ready and their DNS health
    checks pass, then remove the old ones (``docs/placement.md#moving-between-windows``)."""
    moves: list[dict[str, Any]] = []
    if win.opened:
        moves.append({"step": len(moves) + 1, "action": "create", "clusters": list(win.opened)})
        moves.append(
            {"step": len(moves) + 1, "action": "wait", "clusters": list(win.opened), "until": list(WAIT_UNTIL)}
        )
    if win.closed:
        moves.append({"step": len(moves) + 1, "action": "remove", "clusters": list(win.closed)})
    return {
        "start": win.start,
        "end": win.end,
        "minutes": win.minutes,
        "demand": win.source,
        "requests_per_second": win.requests_per_second,
        "usage_rps": [{"cluster": name, "requests_per_second": rate} for name, rate in win.usage_rps],
        "previous": list(win.previous),
        "kept_by_dwell": list(win.kept_by_dwell),
        "moves": moves,
    }


# What a move waits for before the old locations go (edgefleet's Deployments are awaited by the
# Kubernetes provider; a location's DNS record is created once its health check exists).
WAIT_UNTIL = ("deployments-ready", "dns-health-check")


def wave_of(w: Workload, cluster: str) -> int:
    """The rollout wave (0 = first, the canary when there is one) of ``w``'s Deployment in ``cluster``."""
    for i, wave in enumerate(w.waves):
        if cluster in wave:
            return i
    return 0


def dns_entries(run: ProgramRun) -> list[dict[str, Any]]:
    """The plan's ``dns``: per steered workload, which record (or pool) serves which location, the
    routing policy that sends users there (``routing``; Route 53 ``geoproximity`` also shows the
    record's ``geoproximity`` location: AWS region or coordinates, and bias), its region(s) and
    health check."""
    out = []
    for steering in sorted((r for r in run.registrations if r.type == DNS_STEERING), key=lambda r: r.name):
        children = {r.name: r for r in run.registrations if r.parent == steering.urn}
        facts = steering.inputs
        route53 = facts.get("provider") == "route53"
        records = []
        for location in facts.get("locations") or []:
            cluster = location["cluster"]
            stem = f"{steering.name}-{cluster}"
            routing = location.get("routing") or ("geoproximity" if route53 else "geo")
            record = children.get(f"{stem}-{routing}") if route53 else children.get(f"{stem}-pool")
            check = children.get(f"{stem}-health") if route53 else children.get(f"{steering.name}-monitor")
            entry: dict[str, Any] = {
                "cluster": cluster,
                "routing": routing,
                "regions": list(location.get("regions") or []),
                "record": record.urn if record else None,
                "health_check": check.urn if check else None,
            }
            if record is not None and record.inputs.get("geoproximityRoutingPolicy") is not None:
                entry["geoproximity"] = _sorted(record.inputs["geoproximityRoutingPolicy"])
            address = children.get(f"{stem}-address")
            if address is not None:
                entry["address"] = {"name": address.inputs.get("name"), "type": address.inputs.get("type")}
            gate = children.get(f"{stem}-healthy")
            if gate is not None:  # a workload placed per window: the update waits for this location
                entry["gate"] = {
                    "urn": gate.urn,
                    "url": gate.inputs.get("url"),
                    "successes": gate.inputs.get("successes"),
                }
            records.append(entry)
        out.append(
            {
                "workload": facts.get("workload"),
                "hostname": facts.get("hostname"),
                "provider": facts.get("provider"),
                "health_check": _sorted(facts.get("healthCheck")),
                "records": records,
            }
        )
    return out


def placement_entries(spec: FleetSpec) -> list[dict[str, Any]]:
    """The plan's ``placements``: every workload, whatever its strategy."""
    return [placement_entry(w) for w in sorted(spec.workloads, key=lambda w: w.spec.name)]


def resource_entry(r: Registration) -> dict[str, Any]:
    return {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "custom": r.custom,
        "parent": r.parent,
        "provider": r.provider,
        "dependencies": list(r.dependencies),
        "protect": r.protect,
        "inputs": _sorted(r.inputs),
    }


def build_plan(spec: FleetSpec, run: ProgramRun, scope: SliceScope | None = None) -> dict[str, Any]:
    """The whole plan document; the same inputs give the same document. A slice's plan lists the
    clusters it deploys and, like every slice of its fleet, the whole fleet's placements."""
    document: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "project": run.project,
        "stack": run.stack,
    }
    if scope is not None:
        document["slice"] = slice_entry(scope)
    document.update(
        {
            "clusters": cluster_entries(spec, scope),
            "placements": placement_entries(spec),
            "dns": dns_entries(run),
            "resources": [resource_entry(r) for r in sorted(run.registrations, key=lambda r: r.urn)],
            "outputs": _sorted(run.outputs),
        }
    )
    return document


def dumps(document: Mapping[str, Any]) -> str:
    """Stable JSON text: fixed key order as built, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def cluster_of(run: ProgramRun) -> dict[str, str]:
    """Map each Kubernetes provider URN to the name of the cluster component that owns it."""
    by_urn = {r.urn: r for r in run.registrations}
    out: dict[str, str] = {}
    for r in run.registrations:
        if r.type == "pulumi:providers:kubernetes" and r.parent in by_urn:
            owner = by_urn[r.parent]
            if owner.type in CLUSTER_TYPES:
                out[r.urn] = owner.name
    return out


def kubernetes_objects(run: ProgramRun) -> list[tuple[str, Registration]]:
    """Every Kubernetes object registration with the cluster it goes to, sorted by URN."""
    clusters = cluster_of(run)
    out = []
    for r in sorted(run.registrations, key=lambda r: r.urn):
        if not r.custom or not r.type.startswith("kubernetes:") or r.type.startswith("kubernetes:helm"):
            continue
        cluster = clusters.get(r.provider_urn or "", "_default")
        out.append((cluster, r))
    return out


# pulumi-kubernetes makes a Secret's whole `stringData` secret; for the Secrets edgefleet fills
# from stack secrets (`secret_env`, keys named by SECRET_KEYS_ANNOTATION) the manifest shows each
# key with the value "[secret]" instead of one "[secret]" string where a mapping belongs.
SECRET = "[secret]"


def manifest(r: Registration) -> dict[str, Any]:
    """The object as ``kubectl apply`` takes it: apiVersion, kind, metadata first. A secret value
    stays ``[secret]``; a Secret's hidden ``stringData`` lists its keys (``SECRET_KEYS_ANNOTATION``)."""
    body = _sorted(r.inputs)
    head = {k: body.pop(k) for k in ("apiVersion", "kind", "metadata") if k in body}
    annotations = (head.get("metadata") or {}).get("annotations") or {}
    keys = annotations.get(SECRET_KEYS_ANNOTATION) if isinstance(annotations, dict) else None
    if head.get("kind") == "Secret" and body.get("stringData") == SECRET and isinstance(keys, str):
        body["stringData"] = {key: SECRET for key in keys.split(",") if key}
    return {**head, **body}


def check_manifest_dir(directory: Path) -> None:
    """Raise ``ManifestDirError`` unless ``directory`` is absent, empty, or an earlier manifests dir."""
    problem = replaced_dir_problem(directory, MANIFEST_MARKER, "edgefleet")
    if problem is not None:
        raise ManifestDirError(problem)


def write_manifests(run: ProgramRun, directory: Path) -> list[Path]:
    """``DIR/<cluster>/<namespace|_cluster>/<Kind>-<name>.yaml`` per object. Replaces a previous
    edgefleet manifests directory; refuses any other non-empty directory."""
    check_manifest_dir(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MANIFEST_MARKER).write_text("written by `edgefleet plan --manifests`; replaced on every run\n")
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    written: list[Path] = []
    for cluster, r in kubernetes_objects(run):
        obj = manifest(r)
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "_cluster"
        path = (
            directory
            / cluster
            / str(namespace)
            / f"{obj.get('kind', r.type.rsplit(':', 1)[-1])}-{meta.get('name', r.name)}.yaml"
        )
        written.append(_write_yaml(yaml, path, obj))
    for cluster, r in helm_releases(run):
        path = directory / cluster / "helm" / f"{r.inputs.get('name') or r.name}.yaml"
        written.append(_write_yaml(yaml, path, release_document(r)))
    return written


def _write_yaml(yaml: YAML, path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def helm_releases(run: ProgramRun) -> list[tuple[str, Registration]]:
    """Every Helm release with the cluster it goes to, sorted by URN."""
    clusters = cluster_of(run)
    return [
        (clusters.get(r.provider_urn or "", "_default"), r)
        for r in sorted(run.registrations, key=lambda r: r.urn)
        if r.type == HELM_RELEASE
    ]


def release_document(r: Registration) -> dict[str, Any]:
    """A Helm release as ``{chart, repository, version, namespace, values}``."""
    inputs = r.inputs
    repository = inputs.get("repositoryOpts") or {}
    return {
        "chart": inputs.get("chart"),
        "repository": repository.get("repo") if isinstance(repository, Mapping) else None,
        "version": inputs.get("version"),
        "namespace": inputs.get("namespace"),
        "values": _sorted(inputs.get("values") or {}),
    }


def counts_by_type(run: ProgramRun) -> list[tuple[str, int]]:
    """How many resources of each type, most first, then by name."""
    counter = Counter(r.type for r in run.registrations)
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))

"""From raw config to ``FleetSpec``: defaults, shape (pydantic), cross-checks, error locations."""

from __future__ import annotations

import copy
import difflib
import json
import re
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from edgefleet.components.cni import matrix
from edgefleet.components.config import geoproximity
from edgefleet.components.config import model as m
from edgefleet.components.config.addressing import AddressSpaceFull, allocate, block_count
from edgefleet.components.config.application import check_application, location_settings
from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.manifests import load_manifests
from edgefleet.components.config.requirements import LocationRequirement, policy_filters, strictest
from edgefleet.components.config.source import NotAFileError, PathPart, StackSource, normalize_key, project_file_problem
from edgefleet.components.config.vendors import DEFAULT_KUBERNETES_VERSION, DEFAULT_POOL, machine_type
from edgefleet.components.placement import catalog
from edgefleet.components.placement.cities import CityNotFound, known_countries, resolve_city, slug
from edgefleet.components.placement.demand import DemandPoint, preset
from edgefleet.components.placement.geo import DEMAND_PRESETS, RESIDENCY_GROUPS, residency_countries
from edgefleet.components.placement.latency import LatencyModel
from edgefleet.components.placement.place import DEFAULT_THRESHOLD, Placement, Site
from edgefleet.components.placement.place import place as place_workload
from edgefleet.components.placement.rtt import (
    MAX_RTT_BYTES,
    RTT_FORMAT,
    MeasuredPair,
    RttFit,
    RttMatrixError,
    fit,
    parse_matrix,
)
from edgefleet.components.placement.solver import Infeasible
from edgefleet.components.placement.timeline import (
    DAY_MINUTES,
    DemandSeries,
    ScheduleRules,
    diurnal_series,
    format_time,
    parse_duration,
    schedule,
    static_series,
    window_index,
    window_start,
)
from edgefleet.components.placement.timeline import Workload as TimedWorkload

DEFAULT_MAX_LOCATIONS = 5  # latency, when max_locations is not set (Section's default too)
DEMAND_POINTS = 2000


@dataclass(frozen=True)
class PlacementOptions:
    """How latency placement runs: the latency model, the previous placement per workload (cluster
    names) for stability, the threshold a move must beat, whether to solve exactly, and what the
    stack's mandatory policy rules require of locations (``components/policy.py``)."""

    model: LatencyModel = field(default_factory=LatencyModel)
    previous: Mapping[str, Sequence[str]] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    exact: bool = False
    requirements: tuple[LocationRequirement, ...] = ()
    # The time a scheduled placement is for (its window); None: the current UTC time.
    at: datetime | None = None
    # Also place every window of the day, and the best static placement (`edgefleet place --timeline`).
    timeline: bool = False


# Which `defaults` keys reach which vendor's clusters (the rest do not apply to it).
_DEFAULT_KEYS_CLOUD = frozenset({"kubernetes_version", "cni", "node_pools", "endpoint", "labels", "protect"})
_DEFAULT_KEYS_EXISTING = frozenset({"labels"})  # and `cni` as a record only: _merge_defaults
# Keys a cluster entry may set only for some vendors.
_ONLY_FOR: dict[str, frozenset[m.Vendor]] = {
    "project": frozenset({m.Vendor.GCP}),
    "kubeconfig": frozenset({m.Vendor.EXISTING}),
    "context": frozenset({m.Vendor.EXISTING}),
    "node_pools": frozenset(set(m.Vendor) - {m.Vendor.EXISTING}),
    "kubernetes_version": frozenset(set(m.Vendor) - {m.Vendor.EXISTING}),
    "endpoint": frozenset(set(m.Vendor) - {m.Vendor.EXISTING}),
    "autopilot": frozenset({m.Vendor.GCP}),
    "protect": frozenset(set(m.Vendor) - {m.Vendor.EXISTING}),
    "network": frozenset(set(m.Vendor) - {m.Vendor.EXISTING}),
}
LKE_MAX_POOL_NODES = 100
AKS_POOL_NAME = r"^[a-z][a-z0-9]{0,11}$"
POD_RANGE_NODES = 32  # a /19 pod range at a /24 per node (AKS overlay, GKE's 110 pods per node)
LKE_LABEL = (3, 32)  # an LKE cluster label's length
LINODE_TAG = (3, 50)  # a Linode tag's length (edgefleet writes tags as `key:value`)
# Vendors whose API server cannot be private: only a CIDR allow-list restricts it.
_PUBLIC_API_ONLY: dict[m.Vendor, str] = {
    m.Vendor.LINODE: "LKE's API server is always public; its control plane ACL restricts it",
    m.Vendor.DIGITALOCEAN: "DOKS' API server is always public; its control plane firewall restricts it",
}

_PATTERN_HELP: dict[str, str] = {
    m.CHART_VERSION: "give the chart's exact version (SemVer, e.g. `1.2.0`); no ranges: a plan must not change "
    "when the repository publishes a release",
    m.CHART_NAME: "use the chart's name as the repository lists it (lower-case letters, digits, '-', '_', '.')",
    m.NAME: "use 1-40 lower-case letters, digits and '-', starting and ending with a letter or digit",
    m.ENVIRONMENT: "use 1-20 lower-case letters, digits and '-', e.g. `prod`",
    m.LABEL_VALUE: "use at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
    "letter or digit (a Kubernetes label value)",
    m.LABEL_KEY: "use a Kubernetes label key such as `tier` or `example.com/tier`",
    m.TAG_KEY: "use 1-63 lower-case letters, digits, '-' or '_', starting with a letter "
    "(valid as a tag on every vendor)",
    m.CONFIG_KEY: "name a config key such as `storeBerlin01Kubeconfig` (letters, digits, '_'), "
    "without the `edgefleet:` prefix",
    m.CPU: "use a Kubernetes CPU quantity such as `250m` or `1`",
    m.MEMORY: "use a Kubernetes memory quantity such as `256Mi` or `1Gi`",
    m.IMAGE: "use an image reference such as `ghcr.io/acme/api:1.4.2` (lower-case repository)",
    m.K8S_VERSION: 'use a quoted minor version such as "1.33"',
    m.COUNTRY: "use an upper-case ISO 3166-1 alpha-2 code such as `DE`",
    m.CNI_MODE: "use a mode name such as `eni`, `byocni` or `policy-only` (lower-case letters, digits, '-')",
    m.REGION: "use the vendor's region id, such as `eu-central-1` (lower-case letters, digits, '-')",
    m.GCP_PROJECT: "use a Google Cloud project id (6-30 lower-case letters, digits, '-')",
    m.RESIDENCY: f"use a residency group ({', '.join(sorted(RESIDENCY_GROUPS))}) or an upper-case ISO 3166-1 "
    "alpha-2 code such as `DE`",
    m.PROBE_PATH: "use an HTTP path starting with '/', such as `/healthz` (no spaces)",
    m.TAG_VALUE: "use at most 63 lower-case letters, digits, '-' or '_', starting and ending with a letter or "
    "digit (valid as a tag and a label on every vendor)",
    m.PRESET: f"use a demand preset: {', '.join(DEMAND_PRESETS)}",
    m.ENV_NAME: "use an environment variable name: letters, digits and '_', not starting with a digit "
    "(e.g. `LOG_LEVEL`)",
    m.PORT_NAME: "use an IANA service name: at most 15 lower-case letters, digits and '-', with at least one "
    "letter, not starting or ending with '-' (e.g. `metrics`)",
    m.MOUNT_PATH: "use an absolute path such as `/etc/app/app.yaml` (letters, digits, '.', '_', '-' and '/')",
    m.DNS_LABEL: "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
}


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_./:-]+$")


def key_text(key: str) -> str:
    """A key as it can be shown on one line: plain keys as they are, anything else JSON-quoted."""
    return key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)


def format_path(loc: Sequence[PathPart]) -> str:
    """('clusters', 2, 'cni') -> 'fleet.clusters[2].cni'; odd keys quoted: fleet.labels."a b"."""
    out = "fleet"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{key_text(str(part))}"
    return out


class _Reporter:
    """Collects issues, locating each path in the source file when there is one."""

    def __init__(self, raw: Any, source: StackSource | None) -> None:
        self.raw = raw
        self.source = source
        self.issues: list[ConfigIssue] = []
        self._seen: set[tuple[str, str]] = set()

    def origin(self, loc: Sequence[PathPart]) -> Sequence[PathPart]:
        """Where a path's value was written: a cluster key that came from `defaults` is
        reported there (once), not once per cluster it was merged into."""
        if loc[:1] == ("clusters",) and len(loc) > 2 and not has_path(self.raw, loc):
            if loc[2] == "cni" and has_path(self.raw, loc[:3]) and _is_existing(self.raw, loc[1]):
                return loc  # an existing cluster's own `cni` replaces the default whole
            default_loc = ("defaults", *loc[2:])
            if has_path(self.raw, default_loc):
                return default_loc
            if not has_path(self.raw, loc[:3]) and has_path(self.raw, default_loc[:2]):
                return default_loc  # e.g. a key missing inside a mapping that came from defaults
        return loc

    def add(self, loc: Sequence[PathPart], message: str) -> None:
        loc = self.origin(loc)
        path = format_path(loc)
        if (path, message) in self._seen:
            return
        self._seen.add((path, message))
        position = self.source.locate(loc) if self.source else None
        self.issues.append(ConfigIssue(path, message, position))

    def raise_if_any(self) -> None:
        if self.issues:
            raise ConfigError(sorted(self.issues, key=_issue_order))


def _is_existing(raw: Any, index: PathPart) -> bool:
    clusters = raw.get("clusters") if isinstance(raw, Mapping) else None
    if not isinstance(clusters, list) or not isinstance(index, int) or not 0 <= index < len(clusters):
        return False
    entry = clusters[index]
    return isinstance(entry, Mapping) and entry.get("vendor") == "existing"


def has_path(raw: Any, loc: Sequence[PathPart]) -> bool:
    """Whether ``loc`` is written in the raw config (mapping keys and list indexes)."""
    node = raw
    for part in loc:
        if isinstance(node, Mapping) and isinstance(part, str) and part in node:
            node = node[part]
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            continue
        return False
    return True


def _issue_order(issue: ConfigIssue) -> tuple[int, int, str]:
    pos = issue.position
    return (pos.line if pos else 0, pos.col if pos else 0, issue.path)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``; mappings merge key by key, lists and scalars replace."""
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_defaults(raw: dict[str, Any], rep: _Reporter) -> dict[str, Any]:
    """Merge ``defaults`` under each cluster entry, by vendor.

    Cloud clusters take every default key. An ``existing`` cluster (one edgefleet does not own)
    takes ``labels``, and ``cni`` only as a record of what it already runs (``installed: true``)
    and only when it states no ``cni`` of its own: installing anything on a cluster someone
    brought must be written on that cluster. A default that would install a CNI there is an
    error naming the cluster, never a Helm release on the shop's network.
    """
    defaults = raw.get("defaults")
    clusters = raw.get("clusters")
    if not isinstance(defaults, Mapping) or not isinstance(clusters, list):
        return raw
    merged = []
    for i, entry in enumerate(clusters):
        if not isinstance(entry, Mapping):
            merged.append(entry)
            continue
        if entry.get("vendor") == "existing":
            applicable = {k: v for k, v in defaults.items() if k in _DEFAULT_KEYS_EXISTING}
            default_cni = defaults.get("cni")
            if "cni" not in entry and isinstance(default_cni, Mapping):
                if default_cni.get("installed") is True:
                    applicable["cni"] = default_cni
                else:
                    name = entry.get("name")
                    label = f"the existing cluster {name!r}" if isinstance(name, str) else "this existing cluster"
                    rep.add(
                        ("clusters", i),
                        f"`defaults.cni` installs {default_cni.get('plugin')!r}, and defaults never install "
                        f"anything on {label}: `defaults` give existing clusters only `labels`, and `cni` "
                        "only as a record (`installed: true`). State what it runs on the cluster itself "
                        "(`cni: {plugin: flannel, installed: true}`), or write `cni: {plugin: ...}` on it "
                        "to have edgefleet install that CNI there",
                    )
        else:
            keys = _DEFAULT_KEYS_CLOUD - {"node_pools"} if entry.get("autopilot") is True else _DEFAULT_KEYS_CLOUD
            applicable = {k: v for k, v in defaults.items() if k in keys}  # Autopilot manages nodes itself
        merged.append(deep_merge(applicable, entry))
    return {**raw, "clusters": merged}


# --- pydantic errors -> issues -------------------------------------------------------------


def _unwrap(tp: Any) -> list[Any]:
    """The concrete classes inside Optional/Annotated/tuple/dict annotations."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType, tuple, list):
        return [c for arg in typing.get_args(tp) if arg is not Ellipsis for c in _unwrap(arg)]
    if origin is dict:
        return _unwrap(typing.get_args(tp)[1])
    return [tp]


def _model_at(root: type[BaseModel], loc: Sequence[PathPart]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = root
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        models = [c for c in _unwrap(field.annotation) if isinstance(c, type) and issubclass(c, BaseModel)]
        current = models[0] if models else None
    return current


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(error: Mapping[str, Any], root: type[BaseModel], raw_text: str | None = None) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = key_text(str(loc[-1]))
        model = _model_at(root, loc[:-1])
        if model is m.VolumeSpec:
            return _volume_kind_message(key)
        allowed = sorted(model.model_fields) if model else []
        close = closest(key, allowed)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return f"unknown key `{key}`; {hint}allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return f"missing required key `{key_text(str(loc[-1]))}`"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        help_text = _PATTERN_HELP.get(pattern, f"must match {pattern}")
        return f"{_describe(error['input'])} is not valid: {help_text}"
    if kind == "enum":
        return f"{_describe(error['input'])} is not one of {ctx.get('expected', '')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {_describe(error['input'])}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, got {_describe(error['input'])}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    msg = str(error["msg"])
    if kind == "string_type" and isinstance(error["input"], (int, float)) and not isinstance(error["input"], bool):
        written = raw_text or str(error["input"])
        return f'expected a string, got the number {written}; quote it ("{written}")'
    if kind == "string_type" and isinstance(error["input"], bool):
        written = raw_text or ("true" if error["input"] else "false")
        return f'expected a string, got the boolean {written}; quote it ("{written}")'
    if kind == "too_short" and tuple(loc) == ("clusters",):
        return "needs at least one cluster"
    if "input" in error and kind != "too_short" and "got" not in msg:
        return f"{msg}, got {_describe(error['input'])}"
    return msg


# Volume kinds people reach for, and why edgefleet does not mount them.
_REFUSED_VOLUMES: dict[str, str] = {
    "hostPath": "it reaches the node's filesystem, which Pod Security `restricted` forbids",
    "host_path": "it reaches the node's filesystem, which Pod Security `restricted` forbids",
}


def _volume_kind_message(key: str) -> str:
    why = _REFUSED_VOLUMES.get(key, "edgefleet mounts only volumes whose contents it manages")
    return (
        f"volume kind `{key}` is not allowed: {why}; a volume is one of {', '.join(m.VOLUME_KINDS)} "
        "(the workload's own config files or secrets), with `name` and `path`"
    )


def _report_validation(exc: ValidationError, root: type[BaseModel], rep: _Reporter) -> None:
    errors = exc.errors(include_url=False)
    locs = [tuple(e["loc"]) for e in errors]
    for found in errors:
        # Union tags (`helm.chart`'s two forms) are no keys of the config: leave them out.
        where = tuple(p for p in found["loc"] if p not in m.UNION_TAGS)
        error = {**found, "loc": where}
        loc: tuple[PathPart, ...] = tuple(p for p in where if p != "[key]")
        if error["type"] == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs):
            continue  # the items themselves failed; their errors say why
        origin = rep.origin(loc)
        raw_text = rep.source.raw_text(origin) if rep.source is not None else None
        rep.add(loc, _message(error, root, raw_text))


# --- cross-checks -------------------------------------------------------------------------


def _cluster_checks(
    fleet: m.FleetInput,
    raw_clusters: list[Any],
    rep: _Reporter,
    available_keys: Collection[str] | None,
    provider_config: Mapping[str, str],
) -> list[m.Cluster]:
    environment = fleet.environment
    resolved: list[m.Cluster] = []
    first_index: dict[str, int] = {}
    for i, spec in enumerate(fleet.clusters):
        raw = raw_clusters[i] if i < len(raw_clusters) and isinstance(raw_clusters[i], Mapping) else {}
        loc: tuple[PathPart, ...] = ("clusters", i)
        ok = True
        for key, vendors in _ONLY_FOR.items():
            if key in raw and spec.vendor not in vendors:
                rep.add((*loc, key), f"`{key}` does not apply to {spec.vendor.value} clusters; remove it")
                ok = False
        if spec.vendor is m.Vendor.EXISTING:
            if spec.name is None:
                rep.add(loc, "an `existing` cluster needs a `name`")
                ok = False
            if spec.location is None:
                rep.add(loc, "an `existing` cluster needs a `location`: {city, country} or {lat, lon, country}")
                ok = False
            ok = _existing_cni_checks(spec, loc, rep) and ok
            if (
                spec.kubeconfig is not None
                and available_keys is not None
                and normalize_key(spec.kubeconfig) not in available_keys
            ):
                rep.add(
                    (*loc, "kubeconfig"),
                    f"config key `edgefleet:{spec.kubeconfig}` is not set; run "
                    f"`pulumi config set --secret {spec.kubeconfig} < kubeconfig.yaml`, or remove "
                    "`kubeconfig` to use the ambient kubeconfig",
                )
                ok = False
        else:
            ok = _cloud_checks(spec, raw, loc, rep) and ok
        name = spec.name or (f"{spec.vendor.value}-{spec.region}" if spec.region else None)
        if name is not None:
            if not re.fullmatch(m.NAME, name):
                rep.add((*loc, "region"), f"the default name {name!r} is too long or invalid; set `name`")
                ok = False
            elif spec.vendor is not m.Vendor.EXISTING and not name[0].isalpha():
                rep.add(
                    (*loc, "name"),
                    f"a cloud cluster's name starts with a letter (GKE, AKS and VPCs require it); {name!r} does not",
                )
                ok = False
            elif name in first_index:
                rep.add(
                    (*loc, "name") if spec.name else loc,
                    f"duplicate cluster name {name!r} (also fleet.clusters[{first_index[name]}]); "
                    "give each cluster a unique `name`",
                )
                ok = False
            else:
                first_index[name] = i
        if spec.vendor is m.Vendor.LINODE and name is not None:
            ok = _linode_checks(name, fleet, spec, loc, rep) and ok
        location = _resolve_location(spec, loc, rep)
        if not ok or name is None or location is None:
            continue
        if spec.vendor is m.Vendor.EXISTING:
            resolved.append(
                m.Cluster(
                    name=name,
                    vendor=spec.vendor,
                    region=spec.region or _region_from(location),
                    config_index=i,
                    labels=dict(sorted(spec.labels.items())),
                    cni=_existing_cni(spec.cni),
                    location=location,
                    spec=spec,
                )
            )
            continue
        project = spec.project or provider_config.get("gcp:project")
        if spec.vendor is m.Vendor.GCP and not project:
            rep.add(
                loc,
                "a gcp cluster needs a project: set `project: <project-id>` on it, or "
                "`pulumi config set gcp:project <project-id>` for the stack",
            )
            continue
        if spec.vendor is m.Vendor.GCP and not re.fullmatch(m.GCP_PROJECT, str(project)):
            rep.add(loc, f"the stack's gcp:project {project!r} is not valid: {_PATTERN_HELP[m.GCP_PROJECT]}")
            continue
        cell = matrix.resolve(
            spec.vendor,
            spec.cni.plugin if spec.cni else m.CniPlugin.VENDOR,
            spec.cni.mode if spec.cni else None,
            autopilot=spec.autopilot,
        )
        resolved.append(
            m.Cluster(
                name=name,
                vendor=spec.vendor,
                region=str(spec.region),
                config_index=i,
                labels=dict(sorted(spec.labels.items())),
                cni=m.CniInfo(
                    plugin=cell.plugin,
                    mode=cell.mode,
                    network_policy=cell.network_policy,
                    installs=cell.installs,
                    hubble=bool(spec.cni and spec.cni.hubble),
                ),
                location=location,
                spec=spec,
                kubernetes_version=spec.kubernetes_version or DEFAULT_KUBERNETES_VERSION[spec.vendor],
                node_pools=_node_pools(spec),
                zones=catalog.region(spec.vendor.value, str(spec.region)).zones,
                project=project if spec.vendor is m.Vendor.GCP else None,
                protect=spec.protect if spec.protect is not None else environment == "prod",
            )
        )
    return _with_networks(resolved, rep)


def _cloud_checks(spec: m.ClusterSpec, raw: Mapping[str, Any], loc: tuple[PathPart, ...], rep: _Reporter) -> bool:
    """What a cloud cluster entry must satisfy beyond its shape."""
    ok = True
    if spec.region is None:
        rep.add(loc, f"a {spec.vendor.value} cluster needs a `region`")
        ok = False
    if spec.location is not None:
        rep.add(
            (*loc, "location"), f"a cluster on {spec.vendor.value} gets its location from its region; remove `location`"
        )
        ok = False
    cni = spec.cni
    if cni is not None:
        if cni.installed:
            rep.add((*loc, "cni", "installed"), "`installed` applies to existing clusters only; remove it")
            ok = False
        if cni.pod_cidr is not None:
            rep.add(
                (*loc, "cni", "pod_cidr"),
                "a cloud cluster's pod range comes from its address block; remove `pod_cidr` "
                "(pin `network: {block: N}` to choose the block)",
            )
            ok = False
        ok = _cni_cell(spec, loc, rep) and ok
    if spec.autopilot and "node_pools" in raw:
        rep.add((*loc, "node_pools"), "GKE Autopilot manages nodes itself; remove `node_pools`")
        ok = False
    seen: set[str] = set()
    for j, pool in enumerate(spec.node_pools):
        if pool.name in seen:
            rep.add((*loc, "node_pools", j, "name"), f"duplicate node pool name {pool.name!r}")
            ok = False
        seen.add(pool.name)
        if spec.vendor is m.Vendor.GCP and not pool.name[0].isalpha():
            rep.add(
                (*loc, "node_pools", j, "name"), f"a GKE node pool name starts with a letter; {pool.name!r} does not"
            )
            ok = False
        if spec.vendor is m.Vendor.DIGITALOCEAN and pool.min < 1:
            rep.add((*loc, "node_pools", j, "min"), "a DOKS node pool autoscales from at least 1 node; set `min: 1`")
            ok = False
        if spec.vendor is m.Vendor.AZURE and not re.fullmatch(AKS_POOL_NAME, pool.name.replace("-", "")):
            rep.add(
                (*loc, "node_pools", j, "name"),
                "an AKS node pool name is a lower-case letter then at most 11 letters or digits "
                f"('-' is dropped); {pool.name!r} does not fit",
            )
            ok = False
        if spec.vendor is m.Vendor.AZURE and j == 0 and pool.min < 1:
            rep.add((*loc, "node_pools", j, "min"), "the first AKS pool is the system pool: set `min` to 1 or more")
            ok = False
        if spec.vendor is m.Vendor.LINODE and pool.max > LKE_MAX_POOL_NODES:
            rep.add(
                (*loc, "node_pools", j, "max"),
                f"an LKE node pool autoscales to at most {LKE_MAX_POOL_NODES} nodes; lower `max` or add a pool",
            )
            ok = False
    squashed = [p.name.replace("-", "") for p in spec.node_pools]
    if spec.vendor is m.Vendor.AZURE and len(set(squashed)) < len(squashed):
        rep.add((*loc, "node_pools"), "AKS drops '-' from pool names, and two pool names become the same; rename one")
        ok = False
    nodes = sum(p.max for p in spec.node_pools)
    if spec.vendor in (m.Vendor.AZURE, m.Vendor.GCP) and nodes > POD_RANGE_NODES:
        rep.add(
            (*loc, "node_pools"),
            f"the pools may grow to {nodes} nodes, but the cluster's pod range (/19, a /24 per node) holds "
            f"{POD_RANGE_NODES}; lower the pools' `max` or split the cluster",
        )
        ok = False
    endpoint = spec.endpoint
    if endpoint.public and not endpoint.allowed_cidrs:
        rep.add(
            (*loc, "endpoint", "allowed_cidrs"),
            "a public API endpoint needs `allowed_cidrs` (the networks that may reach it); "
            "write [0.0.0.0/0] to open it to everyone on purpose",
        )
        ok = False
    if not endpoint.public and endpoint.allowed_cidrs:
        rep.add((*loc, "endpoint", "allowed_cidrs"), "`allowed_cidrs` applies with `public: true` only")
        ok = False
    if not endpoint.public and spec.vendor in _PUBLIC_API_ONLY:
        # Point at the cluster when its endpoint came from `defaults`: the fix goes on this cluster.
        own = has_path(rep.raw, (*loc, "endpoint"))
        rep.add(
            (*loc, "endpoint") if own else loc,
            f"{_PUBLIC_API_ONLY[spec.vendor]}: set `endpoint: {{public: true, allowed_cidrs: [<your networks>]}}`"
            + ("" if own else " on this cluster (the private endpoint came from `defaults`)"),
        )
        ok = False
    return ok


def _linode_checks(
    name: str, fleet: m.FleetInput, spec: m.ClusterSpec, loc: tuple[PathPart, ...], rep: _Reporter
) -> bool:
    """LKE's own limits: a 3-32 character label, and `key:value` tags of 3-50 characters."""
    ok = True
    low, high = LKE_LABEL
    if not low <= len(name) <= high:
        rep.add(
            (*loc, "name") if spec.name else (*loc, "region"),
            f"an LKE cluster name has {low}-{high} characters; {name!r} has {len(name)}: set a `name` that fits",
        )
        ok = False
    # `edgefleet-cluster:<name>` fits whenever the name fits LKE's label (18 + 32 = 50); every
    # `key:value` is at least 3 characters. So only the fleet's own tags can be too long.
    high = LINODE_TAG[1]
    fleet_tags: list[tuple[tuple[PathPart, ...], str]] = [
        (("owner",), f"owner:{fleet.owner}"),
        (("environment",), f"environment:{fleet.environment}"),
        *((("tags", k), f"{k}:{v}") for k, v in fleet.tags.items()),
    ]
    for where, tag in fleet_tags:
        if len(tag) > high:
            rep.add(where, f"Linode tags have at most {high} characters; {tag!r} has {len(tag)}: shorten it")
            ok = False
    return ok


def _cni_cell(spec: m.ClusterSpec, loc: tuple[PathPart, ...], rep: _Reporter) -> bool:
    """Whether the cluster's CNI is a supported cell of the matrix (reported when not)."""
    cni = spec.cni
    if cni is None:
        return True
    try:
        cell = matrix.resolve(spec.vendor, cni.plugin, cni.mode, autopilot=spec.autopilot)
    except matrix.UnsupportedCni as exc:
        bad_mode = cni.mode is not None and bool(matrix.modes(matrix.row_of(spec.vendor, spec.autopilot), cni.plugin))
        rep.add((*loc, "cni", "mode" if bad_mode else "plugin"), str(exc))
        return False
    if cni.hubble and not cell.hubble:
        rep.add(
            (*loc, "cni", "hubble"),
            f"`hubble` applies to a Cilium edgefleet installs with Helm; {cell.summary} is managed by "
            "the vendor: remove `hubble`",
        )
        return False
    return True


def _existing_cni_checks(spec: m.ClusterSpec, loc: tuple[PathPart, ...], rep: _Reporter) -> bool:
    """An existing cluster either records its CNI (`installed: true`) or gets one installed."""
    cni = spec.cni
    if cni is None:
        return True
    if cni.installed:
        for key in ("pod_cidr", "hubble"):
            if getattr(cni, key):
                rep.add((*loc, "cni", key), f"`{key}` applies only when edgefleet installs the CNI; remove it")
                return False
        return True
    if cni.plugin is m.CniPlugin.VENDOR:
        rep.add(
            (*loc, "cni", "installed"),
            "`vendor` on an existing cluster is whatever it already runs: set `installed: true`, or name "
            "the plugin edgefleet should install (cilium, calico or flannel)",
        )
        return False
    return _cni_cell(spec, loc, rep)


def _existing_cni(spec: m.CniSpec | None) -> m.CniInfo:
    cni = spec or m.CniSpec(plugin=m.CniPlugin.VENDOR, installed=True)
    if cni.installed:
        return m.CniInfo(
            plugin=cni.plugin, mode=cni.mode, installed=True, network_policy=existing_network_policy(cni.plugin)
        )
    cell = matrix.resolve(m.Vendor.EXISTING, cni.plugin, cni.mode)
    default_cidr = matrix.KUBEADM_FLANNEL_POD_CIDR if cni.plugin is m.CniPlugin.FLANNEL else matrix.K3S_POD_CIDR
    return m.CniInfo(
        plugin=cell.plugin,
        mode=cell.mode,
        network_policy=cell.network_policy,
        installs=cell.installs,
        pod_cidr=cni.pod_cidr or default_cidr,
        hubble=cni.hubble,
    )


def _node_pools(spec: m.ClusterSpec) -> tuple[m.NodePool, ...]:
    if spec.autopilot:
        return ()
    pools = spec.node_pools or (m.NodePoolSpec.model_validate(dict(DEFAULT_POOL)),)
    return tuple(
        m.NodePool(
            name=p.name, machine_type=machine_type(spec.vendor, p.size, p.machine_type), min=p.min, max=max(p.max, 1)
        )
        for p in pools
    )


def _with_networks(clusters: list[m.Cluster], rep: _Reporter) -> list[m.Cluster]:
    """Give every cloud cluster its address block (see ``addressing``)."""
    cloud = [c for c in clusters if c.vendor is not m.Vendor.EXISTING]
    pinned = {c.name: c.spec.network.block for c in cloud if c.spec.network is not None}
    index = {c.name: i for i, c in enumerate(clusters)}
    bad = False
    for name, block in sorted(pinned.items(), key=lambda item: index[item[0]]):
        earlier = [n for n, b in pinned.items() if b == block and index[n] < index[name]]
        where = ("clusters", index[name], "network", "block")
        if not 0 <= block < block_count():
            rep.add(where, f"address block {block} is out of range; use 0..{block_count() - 1}")
            bad = True
        elif earlier:
            rep.add(where, f"address block {block} is already pinned by {earlier[0]!r}; pin a different block")
            bad = True
    if bad:
        return clusters
    try:
        plans = allocate([c.name for c in cloud], pinned)
    except AddressSpaceFull as exc:
        rep.add(("clusters",), f"{exc}; split the fleet into slices")
        return clusters
    return [_with_plan(c, m.NetworkPlan(**vars(plans[c.name]))) if c.name in plans else c for c in clusters]


def _with_plan(cluster: m.Cluster, plan: m.NetworkPlan) -> m.Cluster:
    """A cloud cluster with its address plan; a CNI edgefleet installs gets the plan's pod range."""
    update: dict[str, Any] = {"network": plan}
    if cluster.cni.installs:
        update["cni"] = cluster.cni.model_copy(update={"pod_cidr": plan.pods})
    return cluster.model_copy(update=update)


def existing_network_policy(plugin: m.CniPlugin) -> bool:
    """Whether an already installed CNI enforces NetworkPolicy (flannel alone does not; `vendor`
    is whatever the cluster has, so edgefleet does not count on it)."""
    return plugin in (m.CniPlugin.CILIUM, m.CniPlugin.CALICO)


def _region_from(location: m.ResolvedLocation) -> str:
    if location.city:
        return f"{location.country.lower()}-{slug(location.city)}"[:40].rstrip("-")
    return location.country.lower()


def _resolve_location(spec: m.ClusterSpec, loc: tuple[PathPart, ...], rep: _Reporter) -> m.ResolvedLocation | None:
    if spec.vendor is not m.Vendor.EXISTING and spec.region is not None:
        try:
            found = catalog.region(spec.vendor.value, spec.region)
        except LookupError as exc:
            rep.add((*loc, "region"), f"{exc} (the region catalog: components/placement/data/regions.json)")
            return None
        return m.ResolvedLocation(lat=found.lat, lon=found.lon, country=found.country, city=found.city)
    where = spec.location
    if where is None:
        return None
    if where.country not in known_countries():
        rep.add((*loc, "location", "country"), f"{where.country!r} is not a known ISO 3166-1 alpha-2 country code")
        return None
    if where.city is None:
        if where.lat is None or where.lon is None:  # pragma: no cover - LocationSpec guarantees both
            raise AssertionError("LocationSpec admitted a location without coordinates")
        return m.ResolvedLocation(lat=where.lat, lon=where.lon, country=where.country)
    try:
        city = resolve_city(where.city, where.country)
    except CityNotFound as exc:
        rep.add((*loc, "location", "city"), f"{exc}; or give `lat` and `lon` instead of `city`")
        return None
    return m.ResolvedLocation(lat=city.lat, lon=city.lon, country=city.country, city=city.name)


def _filters(spec: m.PlacementSpec) -> list[tuple[str, Callable[[m.Cluster], bool]]]:
    """Each constraint as a named filter; a cluster that fails one is removed, for that reason."""
    out: list[tuple[str, Callable[[m.Cluster], bool]]] = []
    if spec.selector:
        out.append(("selector", lambda c: all(c.labels.get(k) == v for k, v in spec.selector.items())))
    if spec.residency:
        allowed = frozenset().union(*(residency_countries(r) for r in spec.residency))
        out.append(("residency", lambda c: c.location.country in allowed))
    if m.Capability.NETWORK_POLICY in spec.requires:
        out.append(("requires", lambda c: c.cni.network_policy))
    if spec.must_exclude:
        out.append(("must_exclude", lambda c: c.name not in spec.must_exclude))
    return out


# Namespaces a workload must never take (its name is its namespace): Kubernetes' own (and the
# `kube-` prefix it reserves), the ones the CNIs edgefleet installs or records use, and the vendors'
# system namespaces. The CNI charts' namespaces come from the matrix, so a new chart cannot be missed.
SYSTEM_NAMESPACES: dict[str, str] = {
    "default": "the Kubernetes default namespace",
    "kube-system": "the Kubernetes system namespace",
    "kube-public": "a Kubernetes system namespace",
    "kube-node-lease": "a Kubernetes system namespace",
    "cilium": "a namespace Cilium uses (and the policy pack exempts as a system namespace)",
    "cilium-secrets": "a namespace Cilium uses",
    "cilium-spire": "a namespace Cilium uses",
    "calico-system": "a namespace Calico uses",
    "calico-apiserver": "a namespace Calico uses",
    "tigera-operator": "a namespace Calico uses",
    "kube-flannel": "a namespace flannel uses",
    "gmp-system": "a GKE system namespace",
    "gmp-public": "a GKE system namespace",
    "gke-gmp-system": "a GKE system namespace",
    "gke-managed-system": "a GKE system namespace",
    "gatekeeper-system": "an AKS system namespace (Azure Policy)",
    "aks-command": "an AKS system namespace",
    "amazon-cloudwatch": "an EKS add-on namespace",
    "amazon-guardduty": "an EKS add-on namespace",
    "lke-system": "an LKE system namespace",
    "edgefleet-netcheck": "the namespace of edgefleet's network probes (`netcheck`)",
    "edgefleet-netcheck-host": "the namespace of edgefleet's host-network probe (`netcheck`), the one Pod Security "
    "exception the policy pack accepts",
}
_RESERVED_PREFIXES = {"kube-": "in the `kube-` prefix Kubernetes reserves", "gke-": "in the `gke-` prefix GKE reserves"}


def reserved_namespace(name: str) -> str | None:
    """Why ``name`` cannot be a workload's namespace, or None when it can."""
    chart_namespaces = {chart.namespace for cell in matrix.CELLS for chart in cell.charts}
    if name in SYSTEM_NAMESPACES:
        return SYSTEM_NAMESPACES[name]
    for prefix, why in _RESERVED_PREFIXES.items():
        if name.startswith(prefix):
            return f"a system namespace name ({why})"
    if name in chart_namespaces:
        return "a namespace a CNI edgefleet installs uses"
    return None


def _workload_checks(
    fleet: m.FleetInput,
    clusters: list[m.Cluster],
    all_names: set[str],
    rep: _Reporter,
    options: PlacementOptions,
    *,
    available_keys: Collection[str] | None = None,
    project_dir: Path | None = None,
) -> list[m.Workload]:
    out: list[m.Workload] = []
    seen: dict[str, int] = {}
    claimed: dict[str, int] = {}  # manifest file -> the workload (index) whose objects it holds
    kubeconfigs = {normalize_key(c.spec.kubeconfig): c.name for c in clusters if c.spec.kubeconfig}
    for i, spec in enumerate(fleet.workloads):
        loc: tuple[PathPart, ...] = ("workloads", i)
        place = spec.placement
        ploc = (*loc, "placement")
        ok = True
        if spec.name in seen:
            rep.add((*loc, "name"), f"duplicate workload name {spec.name!r} (also fleet.workloads[{seen[spec.name]}])")
            ok = False
        seen.setdefault(spec.name, i)
        reserved = reserved_namespace(spec.name)
        if reserved:
            rep.add(
                (*loc, "name"),
                f"{spec.name!r} is {reserved}; a workload's name is its namespace on every cluster, where "
                "edgefleet enforces Pod Security `restricted` and a default-deny NetworkPolicy: choose another name",
            )
            ok = False
        for code_i, code in enumerate(place.residency):
            if code not in RESIDENCY_GROUPS and code not in known_countries():
                rep.add(
                    (*ploc, "residency", code_i),
                    f"{code!r} is neither a residency group ({', '.join(sorted(RESIDENCY_GROUPS))}) "
                    "nor an ISO 3166-1 alpha-2 country code",
                )
                ok = False
        refs = [
            ("clusters", place.clusters),
            ("must_include", place.must_include),
            ("must_exclude", place.must_exclude),
        ]
        for key, names in refs:
            for j, name in enumerate(names):
                if name not in all_names:
                    rep.add((*ploc, key, j), f"no cluster named {name!r}; {_known(name, all_names)}")
                    ok = False
        ok = _rollout_names(spec, loc, all_names, rep) and ok
        ok = _dns_checks(spec, fleet.traffic, loc, rep) and ok
        files = check_application(
            spec,
            loc,
            rep.add,
            all_names=all_names,
            known=lambda name: _known(name, all_names),
            available_keys=available_keys,
            project_dir=project_dir,
            kubeconfigs=kubeconfigs,
        )
        ok = files is not None and ok
        manifests: tuple[tuple[m.ManifestObject, ...], str] | None = None
        if spec.objects_source is not None and files is not None:
            manifests = load_manifests(spec, loc, rep.add, project_dir)
            ok = manifests is not None and ok
            # A file of `manifests:` belongs to one workload (kustomize bases and charts are shared:
            # each workload renders its own objects into its own namespace).
            shared = spec.manifests is not None and manifests
            for file in sorted({o.file for o in manifests[0]} if shared and manifests else ()):
                other = claimed.setdefault(file, i)
                if other != i:
                    rep.add(
                        (*loc, "manifests"),
                        f"{file} is also a manifest of fleet.workloads[{other}]; two workloads would create the same "
                        "objects: give each workload its own files",
                    )
                    ok = False
                    break
        public: tuple[str, int] | None = None
        if manifests is not None and fleet.traffic is not None and spec.expose is m.Expose.PUBLIC:
            public = _public_service(spec, manifests[0], loc, rep)
            ok = public is not None and ok
        if place.demand is not None and not _demand_checks(place.demand, (*ploc, "demand"), rep, project_dir):
            ok = False
        if place.rtt_matrix is not None and not _rtt_matrix_checks(place, ploc, rep, project_dir):
            ok = False
        if not _schedule_checks(spec, ploc, rep):
            ok = False
        both = sorted(set(place.must_include) & set(place.must_exclude))
        if both:
            rep.add((*ploc, "must_exclude"), f"{', '.join(both)} is in both must_include and must_exclude")
            ok = False
        if place.max_locations is not None and place.max_locations < place.min_locations:
            rep.add(
                (*ploc, "max_locations"),
                f"max_locations ({place.max_locations}) is smaller than min_locations ({place.min_locations})",
            )
            ok = False
        if place.strategy is m.Strategy.PINNED and not place.clusters:
            rep.add((*ploc, "clusters"), "strategy `pinned` needs the cluster names in `clusters`")
            ok = False
        if place.strategy is not m.Strategy.PINNED and place.clusters:
            rep.add((*ploc, "clusters"), "`clusters` is only for strategy `pinned`; use `must_include` instead")
            ok = False
        if len(set(place.clusters)) != len(place.clusters):
            rep.add((*ploc, "clusters"), "lists a cluster more than once")
            ok = False
        for key, names in refs[1:]:  # must_include, must_exclude: each cluster once
            for j, name in enumerate(names):
                if name in names[:j]:
                    rep.add(
                        (*ploc, key, j),
                        f"lists {name!r} again (also {key}[{names.index(name)}]); list each cluster once",
                    )
                    ok = False
        if not ok:
            continue
        choice = _choose(spec, clusters, ploc, rep, options, project_dir=project_dir)
        if choice is None:
            continue
        chosen = [name for name, _ in choice.replicas]
        waves = _waves(spec, chosen, loc, rep)
        if waves is None:
            continue
        draining_names = {name for name, _ in choice.draining}
        settings = location_settings(spec, [c for c in clusters if c.name in chosen or c.name in draining_names])
        variants: tuple[tuple[m.ManifestObject, ...], ...] = ()
        if manifests is not None and any(s.values_from for s in settings):
            rendered = _helm_variants(
                spec,
                loc,
                settings,
                target=manifests[1],
                public_service=public[0] if public else None,
                rep=rep,
                project_dir=project_dir,
            )
            if rendered is None:
                continue
            settings, variants = rendered
        out.append(
            m.Workload(
                spec=spec,
                strategy=place.strategy,
                config_index=i,
                allowed_countries=(
                    tuple(sorted(frozenset().union(*(residency_countries(r) for r in place.residency))))
                    if place.residency
                    else None
                ),
                replicas=choice.replicas,
                excluded=choice.excluded,
                latency=choice.latency,
                waves=waves,
                hostname=(
                    f"{spec.dns_name or spec.name}.{fleet.traffic.zone}"
                    if fleet.traffic is not None and spec.expose is m.Expose.PUBLIC
                    else None
                ),
                public_service=public[0] if public else None,
                public_port=public[1] if public else None,
                config_files=files or (),
                manifests=manifests[0] if manifests else (),
                scale_target=manifests[1] if manifests else None,
                variants=variants,
                settings=settings,
                day=choice.day,
                draining=choice.draining,
            )
        )
    return out


def _load_balancers(objects: Sequence[m.ManifestObject]) -> list[m.ManifestObject]:
    """The Services of ``type: LoadBalancer`` among a workload's own objects."""
    return [o for o in objects if o.kind == "Service" and (o.body.get("spec") or {}).get("type") == "LoadBalancer"]


def _public_service(
    spec: m.WorkloadSpec, objects: Sequence[m.ManifestObject], loc: tuple[PathPart, ...], rep: _Reporter
) -> tuple[str, int] | None:
    """A steered workload's own entry point: its one Service of type LoadBalancer, and the port its
    health checks and DNS records use (the Service's port named `http`, else its first port)."""
    source = str(spec.objects_source)
    services = [o for o in objects if o.kind == "Service"]
    balanced = _load_balancers(objects)
    if len(balanced) != 1:
        found = ", ".join(f"{o.name} ({(o.body.get('spec') or {}).get('type') or 'ClusterIP'})" for o in services)
        rep.add(
            (*loc, source),
            f"a public workload steered by DNS is reached through one Service of `type: LoadBalancer` among its "
            f"objects, and there are {len(balanced)} (Services: {found or 'none'}); make exactly one a LoadBalancer",
        )
        return None
    ports = (balanced[0].body.get("spec") or {}).get("ports") or []
    numbers: list[tuple[object, int]] = [
        (p.get("name"), p["port"]) for p in ports if isinstance(p, dict) and isinstance(p.get("port"), int)
    ]
    if not numbers:
        rep.add((*loc, source), f"Service {balanced[0].name!r} has no port for the DNS health checks; give it one")
        return None
    port = next((number for name, number in numbers if name == "http"), numbers[0][1])
    return balanced[0].name, port


def _helm_variants(
    spec: m.WorkloadSpec,
    loc: tuple[PathPart, ...],
    settings: tuple[m.LocationSettings, ...],
    *,
    target: str,
    public_service: str | None,
    rep: _Reporter,
    project_dir: Path | None,
) -> tuple[tuple[m.LocationSettings, ...], tuple[tuple[m.ManifestObject, ...], ...]] | None:
    """Render a helm workload's chart once more for each set of override `values` its placed
    clusters get: the settings with each cluster's rendering, and the renderings (None: reported)."""
    index: dict[tuple[int, ...], int] = {}
    variants: list[tuple[m.ManifestObject, ...]] = []
    for values_from in sorted({s.values_from for s in settings if s.values_from}):
        loaded = load_manifests(spec, loc, rep.add, project_dir, values_from=values_from)
        if loaded is None:
            return None
        if loaded[1] != target:
            rep.add(
                (*loc, "overrides", values_from[-1], "values"),
                f"with these values the chart's scale target is {loaded[1]}, not {target}; the values of an override "
                "may not change which object edgefleet scales: set `scale_target`",
            )
            return None
        if public_service is not None and public_service not in {o.name for o in _load_balancers(loaded[0])}:
            rep.add(
                (*loc, "overrides", values_from[-1], "values"),
                f"with these values the chart has no LoadBalancer Service {public_service!r}, which DNS steering "
                "points at; the values of an override may not remove the workload's entry point",
            )
            return None
        variants.append(loaded[0])
        index[values_from] = len(variants)
    updated = tuple(s.model_copy(update={"variant": index.get(s.values_from, 0)}) for s in settings)
    return updated, tuple(variants)


def _rollout_names(spec: m.WorkloadSpec, loc: tuple[PathPart, ...], all_names: set[str], rep: _Reporter) -> bool:
    """Rollout names exist and appear once across `canary` and `waves`."""
    ok = True
    listed: list[tuple[tuple[PathPart, ...], str]] = [
        ((*loc, "rollout", "canary", j), name) for j, name in enumerate(spec.rollout.canary)
    ]
    for w, wave in enumerate(spec.rollout.waves):
        if not wave:
            rep.add((*loc, "rollout", "waves", w), "an empty wave; remove it")
            ok = False
        listed += [((*loc, "rollout", "waves", w, j), name) for j, name in enumerate(wave)]
    seen: set[str] = set()
    for where, name in listed:
        if name not in all_names:
            rep.add(where, f"no cluster named {name!r}; {_known(name, all_names)}")
            ok = False
        elif name in seen:
            rep.add(where, f"{name!r} is already in an earlier wave; a cluster is updated once")
            ok = False
        seen.add(name)
    return ok


def _waves(
    spec: m.WorkloadSpec, chosen: Sequence[str], loc: tuple[PathPart, ...], rep: _Reporter
) -> tuple[tuple[str, ...], ...] | None:
    """Canary, the listed waves, then every other chosen cluster; None (reported) when a listed
    cluster is not among the workload's clusters."""
    listed: list[tuple[tuple[PathPart, ...], tuple[str, ...]]] = [
        ((*loc, "rollout", "canary"), tuple(spec.rollout.canary)),
        *(((*loc, "rollout", "waves", w), tuple(wave)) for w, wave in enumerate(spec.rollout.waves)),
    ]
    bad = False
    for where, wave in listed:
        outside = [name for name in wave if name not in chosen]
        if outside:
            rep.add(
                where,
                f"{', '.join(outside)} is not among the workload's clusters ({', '.join(chosen)}); "
                "a rollout wave can only name clusters the workload runs in",
            )
            bad = True
    if bad:
        return None
    waves = [wave for _, wave in listed if wave]
    named = {name for wave in waves for name in wave}
    rest = tuple(name for name in chosen if name not in named)
    if rest:
        waves.append(rest)
    return tuple(waves)


def _dns_checks(spec: m.WorkloadSpec, traffic: m.TrafficSpec | None, loc: tuple[PathPart, ...], rep: _Reporter) -> bool:
    """`dns_name` needs fleet `traffic` and a public workload; a steered workload needs a
    `probe_path` for its health checks."""
    source = spec.objects_source
    steered = traffic is not None and spec.expose is m.Expose.PUBLIC
    if source is not None and spec.probe_path is not None and not steered:
        rep.add(
            (*loc, "probe_path"),
            f"a `{source}` workload's objects hold their own probes; `probe_path` is the DNS health check of a "
            "public workload in a fleet with `traffic`: remove it",
        )
        return False
    if traffic is not None and spec.expose is m.Expose.PUBLIC and spec.probe_path is None:
        rep.add(
            (*loc, "expose"),
            "a public workload steered by DNS (`traffic`) is health-checked on its `probe_path`; set "
            "`probe_path` (an HTTP path answering 2xx when the workload can serve)",
        )
        return False
    if spec.dns_name is None:
        return True
    if spec.expose is not m.Expose.PUBLIC:
        rep.add((*loc, "dns_name"), "only a public workload (`expose: public`) gets a DNS name; remove `dns_name`")
        return False
    if traffic is None:
        rep.add((*loc, "dns_name"), "a DNS name needs the fleet's `traffic` (the zone and DNS provider)")
        return False
    return True


def _geoproximity_checks(clusters: Sequence[m.Cluster], workloads: Sequence[m.Workload], rep: _Reporter) -> None:
    """Route 53 geoproximity tells a steered workload's locations apart only by their place (an AWS
    region, or coordinates at two decimals): a second location at a place is refused at its entry,
    here rather than when the program builds the records, so `validate` and `place` say so too."""
    by_name = {c.name: c for c in clusters}
    for workload in workloads:
        if workload.hostname is None:
            continue
        seen: dict[str, str] = {}
        for name in sorted((n for n, _ in workload.replicas), key=lambda n: by_name[n].config_index):
            cluster = by_name[name]  # in config order: the later entry is the one to change
            where = geoproximity.place(cluster.vendor.value, cluster.region, cluster.location.lat, cluster.location.lon)
            other = seen.setdefault(where, name)
            if other == name:
                continue
            aws = cluster.vendor is m.Vendor.AWS
            rep.add(
                ("clusters", cluster.config_index, "region" if aws else "location"),
                f"{other} and {name} are both at {where} for Route 53 geoproximity routing (coordinates at two "
                f"decimals, about 1 km), which cannot tell them apart, so workload {workload.spec.name!r} would "
                f"never be answered with one of them: "
                + (
                    "place the workload in one AWS cluster per region (`placement.must_exclude`)"
                    if aws
                    else f"give {name} its own `location: {{lat, lon}}`, or exclude one (`placement.must_exclude`)"
                ),
            )


def _traffic_checks(traffic: m.TrafficSpec | None, rep: _Reporter) -> None:
    """Provider-specific keys of `traffic`."""
    if traffic is None:
        return
    if traffic.provider is m.DnsProvider.CLOUDFLARE:
        if traffic.account_id is None:
            rep.add(("traffic",), "Cloudflare load balancing needs `account_id` (its monitors live in the account)")
        if not re.fullmatch(m.CLOUDFLARE_ID, traffic.zone_id):
            rep.add(("traffic", "zone_id"), "a Cloudflare zone id is 32 lower-case hex digits")
    else:
        if traffic.account_id is not None:
            rep.add(("traffic", "account_id"), "`account_id` is for Cloudflare only; remove it")
        if not re.fullmatch(m.ROUTE53_ZONE_ID, traffic.zone_id):
            rep.add(("traffic", "zone_id"), "a Route 53 hosted zone id looks like Z0123456789ABCDEFGHIJ")


def _netcheck_checks(netcheck: m.NetcheckSpec, names: Collection[str], rep: _Reporter) -> None:
    """`netcheck.wan.skip` names clusters of this fleet, each once."""
    seen: set[str] = set()
    for i, name in enumerate(netcheck.wan.skip):
        if name not in names:
            hint = closest(name, names)
            rep.add(
                ("netcheck", "wan", "skip", i),
                f"no cluster {name!r} in this fleet" + (f"; did you mean {hint[0]!r}?" if hint else ""),
            )
        elif name in seen:
            rep.add(("netcheck", "wan", "skip", i), f"cluster {name!r} is listed twice")
        seen.add(name)


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> list[str]:
    """The candidate most similar to ``word`` (ties: alphabetical first), if any is close enough."""
    scored = []
    for candidate in candidates:
        ratio = difflib.SequenceMatcher(None, word, candidate).ratio()
        if ratio >= cutoff:
            scored.append((-ratio, candidate))
    return [min(scored)[1]] if scored else []


def _demand_checks(
    demand: m.DemandSpec, loc: tuple[PathPart, ...], rep: _Reporter, project_dir: Path | None = None
) -> bool:
    ok = True
    sources = [
        key
        for key, given in (
            ("preset", demand.preset is not None),
            ("points", bool(demand.points)),
            ("traffic", demand.traffic is not None),
            ("prometheus", demand.prometheus is not None),
        )
        if given
    ]
    if len(sources) > 1:
        what = "`, `".join(sources)
        rep.add(loc, f"give one of `preset`, `points`, `traffic` or `prometheus`, not `{what}`")
        ok = False
    measured = demand.traffic is not None or demand.prometheus is not None
    if measured and demand.diurnal:
        rep.add(
            (*loc, "diurnal"),
            "`diurnal` weights a model (`preset` or `points`) by local time; real traffic "
            "already has its own hours: remove `diurnal`",
        )
        ok = False
    if measured and demand.rate is not None:
        rep.add((*loc, "rate"), "`rate` gives a model its volume; real traffic has its own: remove `rate`")
        ok = False
    if demand.traffic is not None:
        if project_dir is None:
            rep.add((*loc, "traffic"), "a traffic file is read from the project directory; this loader has none")
            ok = False
        else:
            path, problem = project_file_problem(project_dir, demand.traffic, "traffic/requests.csv", "traffic file")
            if path is None:
                rep.add((*loc, "traffic"), problem)
                ok = False
    if demand.preset is not None and demand.preset not in DEMAND_PRESETS:
        rep.add((*loc, "preset"), f"unknown demand preset {demand.preset!r}; presets: {', '.join(DEMAND_PRESETS)}")
        ok = False
    for i, point in enumerate(demand.points):
        ploc = (*loc, "points", i)
        has_coords = point.lat is not None or point.lon is not None
        if point.city is not None and has_coords:
            rep.add(ploc, "give `city` (with `country`) or `lat` and `lon`, not both")
            ok = False
        elif point.city is None and (point.lat is None or point.lon is None):
            rep.add(ploc, "give `city` with `country`, or both `lat` and `lon`")
            ok = False
        elif point.city is not None:
            if point.country is None:
                rep.add(ploc, "a demand point with a `city` needs its `country`")
                ok = False
            elif point.country not in known_countries():
                rep.add((*ploc, "country"), f"{point.country!r} is not a known ISO 3166-1 alpha-2 country code")
                ok = False
            else:
                try:
                    resolve_city(point.city, point.country)
                except CityNotFound as exc:
                    rep.add((*ploc, "city"), f"{exc}; or give `lat` and `lon` instead of `city`")
                    ok = False
    return ok


def _rtt_matrix_checks(
    place: m.PlacementSpec, ploc: tuple[PathPart, ...], rep: _Reporter, project_dir: Path | None
) -> bool:
    """``rtt_matrix``: latency placement only, and a file inside the project (its content is read
    when the workload is placed, against the fleet's clusters)."""
    loc = (*ploc, "rtt_matrix")
    if place.strategy is not m.Strategy.LATENCY:
        rep.add(
            loc,
            f"a measured RTT matrix steers latency placement; strategy `{place.strategy.value}` does not use it: "
            "remove `rtt_matrix` or use strategy `latency`",
        )
        return False
    assert place.rtt_matrix is not None
    if project_dir is None:
        rep.add(loc, "an RTT matrix is read from the project directory; this loader has none")
        return False
    path, problem = project_file_problem(project_dir, place.rtt_matrix, "measurements/rtt.json", "RTT matrix")
    if path is None:
        rep.add(loc, problem)
        return False
    return True


def read_rtt_fit(
    project_dir: Path, written: str, locations: Mapping[str, tuple[float, float]], model: LatencyModel
) -> RttFit:
    """The fit of the RTT matrix ``written`` (project-relative, checked by ``_rtt_matrix_checks``)
    against the fleet's cluster ``locations``. Raises ``RttMatrixError``, ``OSError``
    (``NotAFileError``: a FIFO, a directory, a file over ``MAX_RTT_BYTES``), ``UnicodeDecodeError``.
    Memoised on the file's path, size and modification time: validation and the program it plans
    read it once."""
    path = project_dir / written
    stat = path.stat()
    return _rtt_fit(str(path), written, stat.st_mtime_ns, stat.st_size, tuple(sorted(locations.items())), model)


@lru_cache(maxsize=16)
def _rtt_pairs(path: str, shown: str, mtime_ns: int, size: int) -> tuple[MeasuredPair, ...]:
    from edgefleet.components.config.source import read_regular_file  # noqa: PLC0415

    text = read_regular_file(
        Path(path), max_bytes=MAX_RTT_BYTES, too_large="no fleet has that many pairs: write it again with doctor"
    )
    return parse_matrix(text, shown)


@lru_cache(maxsize=16)
def _rtt_fit(  # noqa: PLR0917  the cache key
    path: str,
    shown: str,
    mtime_ns: int,
    size: int,
    locations: tuple[tuple[str, tuple[float, float]], ...],
    model: LatencyModel,
) -> RttFit:
    return fit(_rtt_pairs(path, shown, mtime_ns, size), dict(locations), model, shown)


def _rtt_problem(exc: Exception, written: str) -> str:
    """One line for a problem reading the RTT matrix."""
    if isinstance(exc, RttMatrixError):
        return str(exc)
    if isinstance(exc, NotAFileError):
        return f"{written} {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"{written} is not UTF-8 text ({exc.reason}); an RTT matrix is JSON ({RTT_FORMAT})"
    if isinstance(exc, OSError):
        return f"{written} cannot be read: {exc.strerror or exc}"
    return f"{written}: {exc}"


def _measured_sites(
    place: m.PlacementSpec,
    sites: list[Site],
    clusters: Sequence[m.Cluster],
    *,
    ploc: tuple[PathPart, ...],
    rep: _Reporter,
    options: PlacementOptions,
    project_dir: Path | None,
) -> tuple[list[Site], m.RttMatrixInfo | None] | None:
    """``sites`` with their fitted numbers when the workload names an RTT matrix (None: a problem,
    reported at ``placement.rtt_matrix``)."""
    if place.rtt_matrix is None:
        return sites, None
    if project_dir is None:  # _rtt_matrix_checks reported it
        return None
    locations = {c.name: (c.location.lat, c.location.lon) for c in clusters}
    try:
        fitted = read_rtt_fit(project_dir, place.rtt_matrix, locations, options.model)
    except (RttMatrixError, OSError, UnicodeDecodeError) as exc:
        rep.add((*ploc, "rtt_matrix"), _rtt_problem(exc, place.rtt_matrix))
        return None
    out = []
    for site in sites:
        own = fitted.of(site.name)
        out.append(site if own is None else replace(site, inflation=own.inflation, delay_ms=own.delay_ms))
    eligible = {s.name for s in sites}
    rms_model, rms_fitted = fitted.rms_ms()
    info = m.RttMatrixInfo(
        file=place.rtt_matrix,
        default_inflation=fitted.default_inflation,
        rms_model_ms=rms_model,
        rms_fitted_ms=rms_fitted,
        locations=tuple(
            m.MeasuredLocation(
                cluster=s.name,
                inflation=s.inflation if s.inflation is not None else fitted.default_inflation,
                delay_ms=s.delay_ms,
                pairs=own.pairs if (own := fitted.of(s.name)) is not None else 0,
            )
            for s in out
        ),
        pairs=tuple(
            m.MeasuredPairInfo(
                a=p.a, b=p.b, km=p.km, measured_ms=p.measured_ms, model_ms=p.model_ms, fitted_ms=p.fitted_ms
            )
            for p in fitted.pairs
            if p.a in eligible or p.b in eligible
        ),
    )
    return out, info


MIN_WINDOW_MINUTES = 5
MAX_DWELL_MINUTES = 7 * DAY_MINUTES


def _duration(text: str, loc: tuple[PathPart, ...], rep: _Reporter) -> int | None:
    try:
        minutes = parse_duration(text)
    except ValueError as exc:
        rep.add(loc, str(exc))
        return None
    return minutes


def _schedule_checks(spec: m.WorkloadSpec, ploc: tuple[PathPart, ...], rep: _Reporter) -> bool:
    """``placement.schedule`` and time-varying demand: only for strategy ``latency``; durations that
    divide the day; replica bounds that hold; a volume for ``min_usage_per_location``."""
    place = spec.placement
    if not place.over_time:
        if place.demand is not None and place.demand.rate is not None:
            rep.add(
                (*ploc, "demand", "rate"),
                "`rate` gives demand over the day its volume, and this workload is placed once: add `diurnal: true` "
                "or a `schedule`, or remove `rate`",
            )
            return False
        return True
    if place.strategy is not m.Strategy.LATENCY:
        key = "schedule" if place.schedule is not None else "demand"
        rep.add((*ploc, key), f"placement over the day is for strategy `latency`, not `{place.strategy.value}`")
        return False
    sched = place.schedule or m.ScheduleSpec()
    sloc = (*ploc, "schedule")
    ok = True
    window = _duration(sched.window, (*sloc, "window"), rep)
    if window is not None and (window < MIN_WINDOW_MINUTES or DAY_MINUTES % window):
        rep.add(
            (*sloc, "window"),
            f"{sched.window} does not divide the day into windows of at least {MIN_WINDOW_MINUTES} minutes; use e.g. "
            "`15m`, `30m`, `1h`, `2h`, `3h`, `4h`, `6h`, `8h`, `12h` or `24h`",
        )
        ok = False
    ok = window is not None and ok
    if sched.min_dwell is not None:
        dwell = _duration(sched.min_dwell, (*sloc, "min_dwell"), rep)
        if dwell is not None and dwell > MAX_DWELL_MINUTES:
            rep.add((*sloc, "min_dwell"), f"{sched.min_dwell} is longer than a week; use at most `168h`")
            ok = False
        ok = dwell is not None and ok
    follows = sched.requests_per_replica is not None
    if not follows and (sched.min_replicas is not None or sched.max_replicas is not None):
        key = "min_replicas" if sched.min_replicas is not None else "max_replicas"
        rep.add((*sloc, key), "replica bounds are for replicas that follow the volume: set `requests_per_replica`")
        ok = False
    lo = sched.min_replicas or 1
    hi = sched.max_replicas if sched.max_replicas is not None else spec.replicas
    if follows and hi < lo:
        rep.add((*sloc, "max_replicas"), f"max_replicas ({hi}) is smaller than min_replicas ({lo})")
        ok = False
    demand = place.demand
    model = demand is None or not (demand.traffic is not None or demand.prometheus is not None)
    needs_volume = sched.min_usage_per_location > 0 or follows
    if model and needs_volume and (demand is None or demand.rate is None):
        key = "min_usage_per_location" if sched.min_usage_per_location > 0 else "requests_per_replica"
        rep.add(
            (*sloc, key),
            f"`{key}` is in requests per second, and a model demand has no volume: set `demand.rate` (the day's "
            "mean requests per second), or use real traffic (`demand.traffic` or `demand.prometheus`)",
        )
        ok = False
    return ok


def _known(name: str, names: Iterable[str]) -> str:
    close = closest(name, names)
    return f"did you mean {close[0]!r}?" if close else f"clusters: {', '.join(sorted(names))}"


@dataclass(frozen=True)
class _Choice:
    replicas: tuple[tuple[str, int], ...]
    excluded: tuple[tuple[str, str], ...]
    latency: m.LatencyResult | None = None
    day: m.DayPlan | None = None
    # A scheduled workload: the window before's locations this window closes, with their replicas.
    draining: tuple[tuple[str, int], ...] = ()


def _choose(
    spec: m.WorkloadSpec,
    clusters: list[m.Cluster],
    ploc: tuple[PathPart, ...],
    rep: _Reporter,
    options: PlacementOptions,
    *,
    project_dir: Path | None = None,
) -> _Choice | None:
    place = spec.placement
    pool = sorted(clusters, key=lambda c: c.name)
    if place.strategy is m.Strategy.PINNED:
        pool = [c for c in pool if c.name in place.clusters]
    removed: list[str] = []
    excluded: list[tuple[str, str]] = []
    reqs = options.requirements
    # The workload's own constraints, then what the stack's mandatory policy rules require of a
    # location (reason: the rule's name), so placement never chooses what `check` then rejects.
    steps: list[tuple[str, Callable[[m.Cluster], bool], LocationRequirement | None]] = [
        (constraint, keep, None) for constraint, keep in _filters(place)
    ]
    steps += [(r.reason, keep, r) for r, keep in policy_filters(spec, reqs)]
    for constraint, keep, rule in steps:
        gone = [c.name for c in pool if not keep(c)]
        if gone:
            removed.append(f"{rule.describe() if rule else constraint} removed {', '.join(gone)}")
            excluded.extend((name, constraint) for name in gone)
            if place.strategy is m.Strategy.PINNED or set(gone) & set(place.must_include):
                if rule is None:
                    rep.add(
                        (*ploc, constraint),
                        f"{constraint} rules out {', '.join(gone)}, which the placement names explicitly",
                    )
                else:
                    rep.add(
                        (*ploc[:-1], "expose"),
                        f"{rule.describe()} rules out {', '.join(gone)}, which the placement names explicitly; "
                        f"{rule.remedy}",
                    )
                return None
        pool = [c for c in pool if keep(c)]
    why = f" ({'; '.join(removed)})" if removed else ""
    least, least_by = strictest(spec, reqs, place.min_locations, lambda r: r.min_locations)
    per, per_by = strictest(spec, reqs, spec.min_replicas_per_location, lambda r: r.min_replicas_per_location)
    required = f" ({least_by.describe()})" if least_by else ""
    if place.max_locations is not None and place.max_locations < least and least_by is not None:
        rep.add(
            (*ploc, "max_locations"),
            f"max_locations ({place.max_locations}) is below the {least} location(s) required by "
            f"{least_by.describe()}; {least_by.remedy}",
        )
        return None
    if len(pool) < least:
        rep.add(
            (*ploc, "min_locations"),
            f"needs {least} location(s){required} but only {len(pool)} cluster(s) are eligible{why}",
        )
        return None
    latency = place.strategy is m.Strategy.LATENCY
    if not latency and place.max_locations is not None and len(pool) > place.max_locations:
        rep.add(
            (*ploc, "max_locations"),
            f"strategy `{place.strategy.value}` deploys to all {len(pool)} eligible clusters, more than "
            f"max_locations ({place.max_locations}); narrow it with `selector` or `pinned`, or use `latency`",
        )
        return None
    vendors = {c.vendor for c in pool}
    if len(vendors) < place.min_vendors:
        rep.add(
            (*ploc, "min_vendors"),
            f"needs {place.min_vendors} distinct vendors but the eligible clusters have "
            f"{len(vendors)} ({', '.join(sorted(v.value for v in vendors)) or 'none'}){why}",
        )
        return None
    per_why = f" ({per_by.describe()})" if per_by else ""
    if not latency:
        # `everywhere` and `pinned` run on every eligible (or named) cluster: they never open fewer.
        need = len(pool) * per
        if spec.replicas < need:
            which = "named" if place.strategy is m.Strategy.PINNED else "eligible"
            rep.add(
                (*ploc[:-1], "replicas"),
                f"strategy `{place.strategy.value}` runs on all {len(pool)} {which} cluster(s) and {spec.replicas} "
                f"replicas cannot give each at least {per}{per_why}; set replicas to {need} or more, or use "
                "strategy `latency`, which opens fewer locations",
            )
            return None
        names = [c.name for c in pool]
        return _Choice(split_evenly(spec.replicas, per, names), tuple(excluded))
    # Latency opens max_locations (default 5) of the eligible clusters, as many as the replicas
    # give `per` each, never fewer than it must: min_locations, every must_include, min_vendors.
    floor_sites, floor_why, floor_key = least, f"min_locations {least}{required}", "min_locations"
    named = len(set(place.must_include))
    if named > floor_sites:
        floor_sites, floor_why, floor_key = named, f"the {named} must_include clusters", "must_include"
    if place.min_vendors > floor_sites:
        floor_sites, floor_why, floor_key = place.min_vendors, f"min_vendors {place.min_vendors}", "min_vendors"
    # must_include's own vendors count towards min_vendors; each vendor missing takes one more site.
    covered = sorted({c.vendor.value for c in pool if c.name in place.must_include})
    with_vendors = named + max(0, place.min_vendors - len(covered))
    if named and with_vendors > floor_sites:
        floor_sites, floor_key = with_vendors, "min_vendors"
        floor_why = (
            f"the {named} must_include clusters (vendors: {', '.join(covered)}) and min_vendors "
            f"{place.min_vendors} (one more location per missing vendor)"
        )
    if place.max_locations is not None and place.max_locations < floor_sites:
        rep.add(
            (*ploc, "max_locations"),
            f"max_locations ({place.max_locations}) cannot hold {floor_why}: {floor_sites} location(s) are "
            f"needed; raise max_locations to {floor_sites} or relax `{floor_key}`",
        )
        return None
    # Without max_locations: the default, raised to what the workload's own constraints need.
    upper = place.max_locations if place.max_locations is not None else max(DEFAULT_MAX_LOCATIONS, floor_sites)
    most = _most_replicas(spec)
    count = min(upper, len(pool), most // per)
    if most < floor_sites * per:
        if most != spec.replicas:
            rep.add(
                (*ploc, "schedule", "max_replicas"),
                f"max_replicas ({most}) cannot give {floor_why} at least {per} each{per_why}; set it to "
                f"{floor_sites * per} or more",
            )
            return None
        rep.add(
            (*ploc[:-1], "replicas"),
            f"{spec.replicas} replicas cannot give {floor_why} at least {per} each{per_why}; set replicas to "
            f"{floor_sites * per} or more",
        )
        return None
    return _latency_choice(
        spec,
        pool,
        count,
        excluded=tuple(excluded),
        ploc=ploc,
        rep=rep,
        options=options,
        least=least,
        per=per,
        project_dir=project_dir,
        all_clusters=clusters,
    )


def schedule_minutes(spec: m.WorkloadSpec) -> int | None:
    """A workload's schedule window in minutes; None when it is not placed per window."""
    if not spec.placement.over_time:
        return None
    return parse_duration((spec.placement.schedule or m.ScheduleSpec()).window)


def _most_replicas(spec: m.WorkloadSpec) -> int:
    """The most replicas a workload runs: ``replicas``, or ``schedule.max_replicas`` (default
    ``replicas``) when its replicas follow the volume."""
    sched = spec.placement.schedule
    if sched is None or sched.requests_per_replica is None:
        return spec.replicas
    return sched.max_replicas if sched.max_replicas is not None else spec.replicas


def demand_points(demand: m.DemandSpec | None) -> tuple[DemandPoint, ...]:
    """A workload's demand: explicit points, a preset, or the world preset by default."""
    if demand is not None and demand.points:
        out = []
        for point in demand.points:
            if point.city is not None and point.country is not None:
                city = resolve_city(point.city, point.country)
                out.append(DemandPoint(city.lat, city.lon, point.weight, f"{city.name}, {city.country}"))
            elif point.lat is not None and point.lon is not None:
                out.append(DemandPoint(point.lat, point.lon, point.weight, f"{point.lat},{point.lon}"))
        return tuple(out)
    return preset(demand.preset if demand is not None and demand.preset else "world", DEMAND_POINTS)


def _latency_choice(
    spec: m.WorkloadSpec,
    pool: list[m.Cluster],
    count: int,
    *,
    excluded: tuple[tuple[str, str], ...],
    ploc: tuple[PathPart, ...],
    rep: _Reporter,
    options: PlacementOptions,
    least: int,
    per: int,
    project_dir: Path | None = None,
    all_clusters: Sequence[m.Cluster] = (),
) -> _Choice | None:
    place = spec.placement
    measured = _measured_sites(
        place,
        [Site(c.name, c.vendor.value, c.location.lat, c.location.lon) for c in pool],
        all_clusters or pool,
        ploc=ploc,
        rep=rep,
        options=options,
        project_dir=project_dir,
    )
    if measured is None:
        return None
    sites, rtt_info = measured
    if place.over_time:
        return _scheduled_choice(
            spec,
            sites,
            count,
            excluded=excluded,
            ploc=ploc,
            rep=rep,
            options=options,
            least=least,
            per=per,
            project_dir=project_dir,
            rtt_info=rtt_info,
        )
    points = demand_points(place.demand)
    try:
        decided = place_workload(
            sites,
            points,
            locations=count,
            min_locations=least,
            min_vendors=place.min_vendors,
            must_include=place.must_include,
            total_replicas=spec.replicas,
            min_replicas=per,
            model=options.model,
            previous=options.previous.get(spec.name),
            threshold=options.threshold,
            exact=options.exact,
        )
    except Infeasible as exc:
        rep.add(ploc, str(exc))
        return None
    result = _latency_result(decided, len(points), rtt_info=rtt_info)
    return _Choice(tuple(zip(decided.clusters, decided.replicas, strict=True)), excluded, result)


def _latency_result(
    decided: Placement, points: int, window: m.WindowInfo | None = None, *, rtt_info: m.RttMatrixInfo | None = None
) -> m.LatencyResult:
    held = decided.held_back
    return m.LatencyResult(
        demand_share=tuple(zip(decided.clusters, decided.demand_share, strict=True)),
        mean_rtt_ms=decided.mean_rtt_ms,
        p95_rtt_ms=decided.p95_rtt_ms,
        bound_mean_rtt_ms=decided.bound_mean_rtt_ms,
        lower_bound_rtt_ms=decided.lower_bound_rtt_ms,
        gap=decided.gap,
        method=decided.method,
        proven_optimal=decided.proven_optimal,
        demand_points=points,
        held_back=(
            m.HeldBackInfo(candidate=held.candidate, candidate_mean_rtt_ms=held.candidate_mean_rtt_ms, gain=held.gain)
            if held is not None
            else None
        ),
        window=window,
        rtt_matrix=rtt_info,
        by_distance_mean_rtt_ms=decided.by_distance.mean_rtt_ms if decided.by_distance else None,
        by_distance_share=decided.by_distance.share if decided.by_distance else None,
    )


def demand_series(
    demand: m.DemandSpec | None, window_minutes: int, at: datetime, project_dir: Path | None
) -> DemandSeries:
    """A workload's demand per window of the day: its traffic file, Prometheus (the UTC day before
    ``at``'s), or the model (a preset or points, ``diurnal`` or the same all day; ``rate`` requests
    per second on average, 1 when not given). Raises ``TrafficError``, ``PrometheusError``,
    ``OSError``, ``UnicodeDecodeError``."""
    from edgefleet.components.config.prometheus import prometheus_series  # noqa: PLC0415  (only Prometheus demand)
    from edgefleet.components.config.traffic import read_traffic  # noqa: PLC0415

    if demand is not None and demand.traffic is not None:
        if project_dir is None:
            raise OSError("no project directory to read the traffic file from")
        return read_traffic(project_dir / demand.traffic, demand.traffic, window_minutes)
    if demand is not None and demand.prometheus is not None:
        day = window_start(at, DAY_MINUTES)
        return _prometheus_day(demand.prometheus.url, demand.prometheus.query, window_minutes, day, prometheus_series)
    points = demand_points(demand)
    rate = demand.rate if demand is not None and demand.rate is not None else 1.0
    name = "points" if demand is not None and demand.points else (demand.preset if demand else None) or "world"
    if demand is not None and demand.diurnal:
        return diurnal_series(points, window_minutes, rate, f"{name}, diurnal")
    return static_series(points, window_minutes, rate, name)


_PROMETHEUS_DAYS: dict[tuple[str, str, int, datetime], DemandSeries] = {}


def _prometheus_day(
    url: str, query: str, window_minutes: int, day: datetime, fetch: Callable[[str, str, int, datetime], DemandSeries]
) -> DemandSeries:
    """Prometheus' answer for a UTC ``day`` (its day before), asked once per process: validation and
    the program it plans see the same demand, and every window of the day the same day of data."""
    key = (url, query, window_minutes, day)
    if key not in _PROMETHEUS_DAYS:
        if len(_PROMETHEUS_DAYS) >= 64:
            _PROMETHEUS_DAYS.clear()
        _PROMETHEUS_DAYS[key] = fetch(url, query, window_minutes, day)
    return _PROMETHEUS_DAYS[key]


def _demand_problem(exc: Exception, demand: m.DemandSpec | None) -> tuple[str, str]:
    """(the demand key, one line) for a problem reading the demand."""
    from edgefleet.components.config.prometheus import PrometheusError  # noqa: PLC0415
    from edgefleet.components.config.traffic import TrafficError  # noqa: PLC0415

    if isinstance(exc, PrometheusError):
        return "prometheus", str(exc)
    written = demand.traffic if demand is not None and demand.traffic else "the traffic file"
    if isinstance(exc, TrafficError):
        return "traffic", str(exc)
    if isinstance(exc, NotAFileError):
        return "traffic", f"{written} {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return "traffic", f"{written} is not UTF-8 text ({exc.reason}); a traffic file is CSV text"
    if isinstance(exc, OSError):
        return "traffic", f"{written} cannot be read: {exc.strerror or exc}"
    return "traffic", f"{written}: {exc}"


def _scheduled_choice(
    spec: m.WorkloadSpec,
    sites: list[Site],
    count: int,
    *,
    excluded: tuple[tuple[str, str], ...],
    ploc: tuple[PathPart, ...],
    rep: _Reporter,
    options: PlacementOptions,
    least: int,
    per: int,
    project_dir: Path | None,
    rtt_info: m.RttMatrixInfo | None = None,
) -> _Choice | None:
    """A workload placed per window of the day: the window of ``options.at`` (default: now)."""
    from edgefleet.components.config.prometheus import PrometheusError  # noqa: PLC0415
    from edgefleet.components.config.traffic import TrafficError  # noqa: PLC0415

    place = spec.placement
    sched = place.schedule or m.ScheduleSpec()
    window = parse_duration(sched.window)
    at = options.at or datetime.now(UTC)
    try:
        series = demand_series(place.demand, window, at, project_dir)
    except (TrafficError, PrometheusError, OSError, UnicodeDecodeError) as exc:
        key, message = _demand_problem(exc, place.demand)
        rep.add((*ploc, "demand", key), message)
        return None
    rules = ScheduleRules(
        min_dwell_minutes=parse_duration(sched.min_dwell) if sched.min_dwell else 0,
        min_usage_rps=sched.min_usage_per_location,
        threshold=options.threshold,
        requests_per_replica=sched.requests_per_replica,
        min_replicas=sched.min_replicas or 1,
        max_replicas=_most_replicas(spec),
    )
    timed = TimedWorkload(
        sites=tuple(sites),
        locations=count,
        min_locations=least,
        min_vendors=place.min_vendors,
        must_include=tuple(place.must_include),
        replicas=spec.replicas,
        min_replicas_per_location=per,
        model=options.model,
        exact=options.exact,
    )
    try:
        day = schedule(timed, series, rules)
    except Infeasible as exc:
        rep.add(ploc, str(exc))
        return None
    midnight = window_start(at, DAY_MINUTES)
    index = window_index(at, window)

    def info(i: int) -> m.WindowInfo:
        w = day[i]
        start = midnight + timedelta(minutes=w.start_minute)
        return m.WindowInfo(
            start=format_time(start),
            end=format_time(start + timedelta(minutes=window)),
            minutes=window,
            requests_per_second=round(w.requests_per_second, 3),
            usage_rps=tuple((c, round(u, 3)) for c, u in zip(w.placement.clusters, w.usage_rps, strict=True)),
            previous=day[i - 1].placement.clusters,
            opened=w.opened,
            closed=w.closed,
            kept_by_dwell=w.kept_by_dwell,
            source=series.source,
        )

    def entry(i: int) -> m.WindowPlacement:
        w = day[i]
        points = len(series.windows[i]) or len(series.day_total())
        return m.WindowPlacement(
            start=format_time(midnight + timedelta(minutes=w.start_minute)),
            replicas=tuple(zip(w.placement.clusters, w.placement.replicas, strict=True)),
            latency=_latency_result(w.placement, points, info(i), rtt_info=rtt_info),
        )

    now = entry(index)
    plan = None
    if options.timeline:
        from edgefleet.components.placement.timeline import best_static  # noqa: PLC0415

        static = best_static(timed, series)
        plan = m.DayPlan(
            windows=tuple(entry(i) for i in range(len(day))),
            static=tuple(
                m.WindowPlacement(
                    start=format_time(midnight + timedelta(minutes=i * window)),
                    replicas=tuple(zip(p.clusters, p.replicas, strict=True)),
                    latency=_latency_result(p, len(series.windows[i]) or len(series.day_total()), rtt_info=rtt_info),
                )
                for i, p in enumerate(static.per_window)
            ),
        )
    before = day[index - 1].placement  # the window before (the day is periodic: index 0's is the last)
    opened = set(day[index].placement.clusters)
    draining = tuple((c, r) for c, r in zip(before.clusters, before.replicas, strict=True) if c not in opened)
    return _Choice(now.replicas, excluded, now.latency, plan, draining)


def split_evenly(total: int, minimum: int, names: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """``total`` replicas over ``names`` (sorted), as even as possible, each at least ``minimum``.

    The remainder goes one each to the first clusters by name, so the split is deterministic.
    """
    if not names:
        return ()
    ordered = sorted(names)
    base, extra = divmod(total, len(ordered))
    if base < minimum:
        raise ValueError(f"{total} replicas cannot give {len(ordered)} locations {minimum} each")
    return tuple((name, base + (1 if k < extra else 0)) for k, name in enumerate(ordered))


def parse_fleet(
    raw: Any,
    *,
    available_keys: Collection[str] | None = (),
    source: StackSource | None = None,
    options: PlacementOptions | None = None,
    provider_config: Mapping[str, str] | None = None,
    project_dir: Path | None = None,
) -> m.FleetSpec:
    """Validate raw ``edgefleet:fleet`` data; raise ``ConfigError`` listing every problem.

    ``available_keys`` are the full config keys set in the stack (``edgefleet:storeKubeconfig``),
    secure or not: a referenced secret must be among them (None: not checked here; a slice checks
    its own clusters' keys, ``slices.resolve_scope``). ``options`` steer latency placement.
    ``provider_config`` holds the stack's plain provider settings edgefleet falls back on
    (``gcp:project``). ``project_dir`` is where project-relative files the fleet names
    (``config_files[].file``) are read from.
    """
    provider_config = provider_config or {}
    rep = _Reporter(raw, source)
    if not isinstance(raw, Mapping):
        rep.add((), f"expected a mapping with environment, owner, clusters; got {_describe(raw)}")
        rep.raise_if_any()
    prepared = _merge_defaults(dict(raw), rep)
    try:
        fleet = m.FleetInput.model_validate(prepared)
    except ValidationError as exc:
        _report_validation(exc, m.FleetInput, rep)
        rep.raise_if_any()
        raise  # unreachable: a ValidationError always has errors
    raw_clusters = prepared.get("clusters") or []
    clusters = _cluster_checks(fleet, raw_clusters, rep, available_keys, provider_config)
    names = {c.name for c in clusters} | {c.name for c in fleet.clusters if c.name}
    opts = options or PlacementOptions()
    workloads = (
        _workload_checks(fleet, clusters, names, rep, opts, available_keys=available_keys, project_dir=project_dir)
        if len(clusters) == len(fleet.clusters)
        else []
    )
    _traffic_checks(fleet.traffic, rep)
    _netcheck_checks(fleet.netcheck, names, rep)
    if fleet.traffic is not None and fleet.traffic.provider is m.DnsProvider.ROUTE53:
        _geoproximity_checks(clusters, workloads, rep)
    rep.raise_if_any()
    return m.FleetSpec(
        environment=fleet.environment,
        owner=fleet.owner,
        tags=dict(sorted(fleet.tags.items())),
        clusters=tuple(clusters),
        workloads=tuple(workloads),
        traffic=fleet.traffic,
        netcheck=fleet.netcheck if fleet.netcheck.on(fleet.environment) else None,
    )


def load_stack(source: StackSource, options: PlacementOptions | None = None) -> m.FleetSpec:
    """Parse the fleet of a stack file read by ``read_stack_file``. A stack with a shared fleet
    file checks its secrets per slice (``slices.load_sliced``)."""
    return parse_fleet(
        source.fleet,
        available_keys=None if source.fleet_file is not None else set(source.values),
        source=source,
        options=options,
        provider_config=provider_settings(source),
        project_dir=source.project_dir,
    )


def provider_settings(source: StackSource) -> dict[str, str]:
    """The plain provider settings of a stack file that edgefleet reads (``gcp:project``)."""
    out = {}
    for key in PROVIDER_KEYS:
        found = source.values.get(key)
        if found is not None and not found.secure and isinstance(found.value, str):
            out[key] = found.value
    return out


# Provider config keys the fleet falls back on when a cluster does not say.
PROVIDER_KEYS = ("gcp:project",)

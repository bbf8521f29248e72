"""Slices: one fleet definition deployed by many stacks.

A stack settings file may take its fleet from a shared fleet file (``edgefleet:fleetFile:
fleets/prod.yaml``, relative to the project) and deploy only a *slice* of it
(``edgefleet:slice``): the clusters the slice selects and the workloads placed on them. Exactly one
selector per slice:

- ``regions: [europe, asia]``: clusters whose country is on those continents (``REGION_GROUPS``);
- ``residency: [EU, CH]``: clusters in a residency group or country (as workload residency);
- ``clusters: [aws-us-east-1]``: by name;
- ``selector: {tier: store}``: clusters whose labels include all of these;
- ``global: true``: no cluster; the fleet-wide resources (DNS steering), which read every other
  slice's outputs through ``StackReference``\\ s and so deploy after them.

Placement always runs on the whole fleet, so every slice of one fleet computes the same
placement from the same input, and slices never disagree about where a workload runs.

The slices of a fleet are the stack settings files (in the project's ``stackConfigDir``) that
name the same fleet file. Every slice checks the others: two slices that deploy the same cluster
would both create it, so that is an error, as are slices that would place with different previous
placements (``edgefleet:placementsFile``), and a fleet that steers DNS without a global slice.
Nothing here imports ``pulumi``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from ruamel.yaml.error import YAMLError

from edgefleet.components.config import model as m
from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.parse import PlacementOptions, load_stack, schedule_minutes
from edgefleet.components.config.source import (
    FLEET_FILE_KEY,
    SLICE_KEY,
    PathPart,
    StackSource,
    normalize_key,
    read_regular_file,
    safe_yaml,
    stack_name_from_path,
)
from edgefleet.components.placement.demand import REGION_GROUPS, region_group
from edgefleet.components.placement.geo import RESIDENCY_GROUPS, residency_countries

PLACEMENTS_KEY = "edgefleet:placementsFile"
PACK_CONFIG_KEY = "edgefleet:policyPackConfig"

RegionGroup = Literal["africa", "asia", "europe", "north-america", "oceania", "south-america"]


class SliceSpec(BaseModel):
    """``edgefleet:slice``: exactly one selector."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    regions: tuple[RegionGroup, ...] | None = None
    residency: tuple[Annotated[str, StringConstraints(pattern=m.RESIDENCY)], ...] | None = None
    clusters: tuple[Annotated[str, StringConstraints(pattern=m.NAME)], ...] | None = None
    selector: dict[str, str] | None = None
    global_: bool | None = Field(default=None, alias="global")

    @property
    def is_global(self) -> bool:
        """Whether this is the fleet-wide slice."""
        return bool(self.global_)

    def chosen(self) -> list[str]:
        """The selectors that are set (a valid slice has exactly one)."""
        values = {
            "regions": self.regions,
            "residency": self.residency,
            "clusters": self.clusters,
            "selector": self.selector,
            "global": self.global_,
        }
        return [key for key, value in values.items() if value is not None]

    def describe(self) -> str:
        """One line for tables and reports: ``regions: europe, asia``."""
        if self.is_global:
            return "global"
        if self.selector is not None:
            return "selector: " + ", ".join(f"{k}={v}" for k, v in sorted(self.selector.items()))
        for key, value in (("regions", self.regions), ("residency", self.residency), ("clusters", self.clusters)):
            if value is not None:
                return f"{key}: {', '.join(value)}"
        return "-"

    def as_config(self) -> dict[str, Any]:
        """The value as a stack settings file holds it."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


@dataclass(frozen=True)
class Slice:
    """One stack of a sliced fleet: its name, file, selector and the clusters it deploys."""

    stack: str
    file: str
    spec: SliceSpec
    clusters: tuple[str, ...]
    placements_file: str | None = None
    secret_keys: tuple[str, ...] = ()
    # The shortest `placement.schedule` window of the fleet (minutes): every slice places the whole
    # fleet, so each one re-runs at least once per window (`edgefleet stacks export --operator`).
    window_minutes: int | None = None

    @property
    def is_global(self) -> bool:
        """Whether this is the fleet-wide slice."""
        return self.spec.is_global


@dataclass(frozen=True)
class SliceScope:
    """What one stack of a sliced fleet deploys, and (for the global slice) which stack deploys
    each cluster, whose outputs it reads."""

    slice: Slice
    peers: Mapping[str, str] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=dict)
    """Every other slice's clusters: cluster -> the stack that deploys it (a regional slice's
    WAN probes read those stacks' ``netcheckWan`` outputs)."""

    @property
    def is_global(self) -> bool:
        """Whether this stack is the fleet-wide slice."""
        return self.slice.is_global

    def deploys(self, cluster: str) -> bool:
        """Whether this stack creates ``cluster`` (and the workloads on it)."""
        return cluster in self.slice.clusters

    def peer_stacks(self) -> tuple[str, ...]:
        """The stacks whose outputs the global slice reads, sorted."""
        return tuple(sorted(set(self.peers.values())))


def _slice_path(loc: Sequence[PathPart]) -> str:
    out = f"config.{SLICE_KEY}"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_slice(value: Any, source: StackSource | None = None) -> SliceSpec:
    """Validate an ``edgefleet:slice`` value; ``ConfigError`` names the path and the fix."""

    def issue(loc: Sequence[PathPart], message: str) -> ConfigIssue:
        position = source.locate_config(SLICE_KEY, loc) if source is not None else None
        return ConfigIssue(_slice_path(loc), message, position)

    hint = (
        "a slice is one of {regions: [europe, ...]}, {residency: [EU, ...]}, {clusters: [name, ...]}, "
        "{selector: {label: value}} or {global: true}"
    )
    if not isinstance(value, Mapping):
        raise ConfigError([issue((), f"expected a mapping; {hint}")])
    try:
        spec = SliceSpec.model_validate(value)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden":
                message = f"unknown selector; {hint}"
            elif error["type"] == "literal_error":
                message = f"not a region group; use one of {', '.join(REGION_GROUPS)}"
            elif error["type"] == "string_pattern_mismatch" and loc[:1] == ("residency",):
                message = f"use a residency group ({', '.join(sorted(RESIDENCY_GROUPS))}) or an ISO 3166-1 code"
            elif error["type"] == "string_pattern_mismatch":
                message = "not a cluster name ([a-z0-9-], at most 40 characters)"
            else:
                message = str(error["msg"])
            issues.append(issue(loc, message))
        raise ConfigError(issues) from None
    chosen = spec.chosen()
    if len(chosen) != 1:
        found = f"it sets {' and '.join(chosen)}" if chosen else "it sets none"
        raise ConfigError([issue((), f"a slice has exactly one selector, {found}; {hint}")])
    if spec.global_ is False:
        raise ConfigError(
            [issue(("global",), "`global: false` selects nothing; use `global: true` or another selector")]
        )
    for key in ("regions", "residency", "clusters", "selector"):
        if getattr(spec, key) is not None and not getattr(spec, key):
            raise ConfigError([issue((key,), f"`{key}` is empty: the slice would deploy nothing")])
    return spec


def select(spec: SliceSpec, fleet: m.FleetSpec) -> tuple[str, ...]:
    """The names of the clusters ``spec`` selects, sorted (the global slice: none)."""
    if spec.is_global:
        return ()
    chosen: Iterable[m.Cluster]
    if spec.regions is not None:
        wanted = set(spec.regions)
        chosen = (c for c in fleet.clusters if region_group(c.location.country) in wanted)
    elif spec.residency is not None:
        allowed = frozenset().union(*(residency_countries(code) for code in spec.residency))
        chosen = (c for c in fleet.clusters if c.location.country in allowed)
    elif spec.clusters is not None:
        names = set(spec.clusters)
        chosen = (c for c in fleet.clusters if c.name in names)
    else:
        labels = spec.selector or {}
        chosen = (c for c in fleet.clusters if all(c.labels.get(k) == v for k, v in labels.items()))
    return tuple(sorted(c.name for c in chosen))


def secret_keys(fleet: m.FleetSpec, clusters: Collection[str]) -> tuple[str, ...]:
    """The config keys (``edgefleet:<key>``) the slice's clusters read as secrets (their
    kubeconfigs, and the ``secret_env`` of the workloads placed on them), sorted."""
    kubeconfigs = {normalize_key(c.spec.kubeconfig) for c in fleet.clusters if c.name in clusters and c.spec.kubeconfig}
    env = {normalize_key(key) for w in placed_on(fleet, clusters) for key in w.spec.secret_env.values()}
    return tuple(sorted(kubeconfigs | env))


def placed_on(fleet: m.FleetSpec, clusters: Collection[str]) -> list[m.Workload]:
    """The workloads with at least one location among ``clusters``."""
    return [w for w in fleet.workloads if any(cluster in clusters for cluster, _ in w.replicas)]


def stack_config_dir(project_dir: Path) -> Path:
    """Where the project keeps its stack settings files (``stackConfigDir`` in Pulumi.yaml)."""
    try:
        data = safe_yaml().load(read_regular_file(project_dir / "Pulumi.yaml"))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError, RecursionError):
        data = None
    configured = data.get("stackConfigDir") if isinstance(data, dict) else None
    # a path is text: anything else (`[1]`, a number too large to print) is not a directory name
    return project_dir / (configured if isinstance(configured, str) and configured else ".")


def same_fleet_file(a: str, b: str) -> bool:
    """Whether two ``edgefleet:fleetFile`` values name the same file (``./fleets/x.yaml`` = ``fleets/x.yaml``)."""
    return Path(a).as_posix().removeprefix("./") == Path(b).as_posix().removeprefix("./")


@dataclass(frozen=True)
class _Sibling:
    stack: str
    file: Path
    spec: SliceSpec | None  # None: the stack deploys the whole fleet file (no `edgefleet:slice`)
    placements_file: str | None
    pack_config: Any = None  # its `edgefleet:policyPackConfig` (None: policies/config/<stack>.json)


def _siblings(project_dir: Path, fleet_file: str) -> list[_Sibling]:
    """Every stack settings file of the project that names ``fleet_file``, by stack name. A file
    that cannot be read, or whose slice is invalid, is left out: its own validation reports it."""
    out = []
    directory = stack_config_dir(project_dir)
    for path in sorted(directory.glob("Pulumi.*.y*ml")):
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        settings = _slice_settings(str(path), stat.st_mtime_ns, stat.st_size)
        if settings is None or settings[0] is None or not same_fleet_file(settings[0], fleet_file):
            continue
        _, value, placements_file, pack_config = settings
        try:
            spec = parse_slice(value) if value is not None else None
        except ConfigError:
            continue
        out.append(_Sibling(stack_name_from_path(path), path, spec, placements_file, pack_config))
    return out


@lru_cache(maxsize=4096)
def _slice_settings(path: str, mtime_ns: int, size: int) -> tuple[str | None, Any, str | None, Any] | None:
    """A stack file's ``edgefleet:fleetFile``, ``edgefleet:slice`` and ``edgefleet:placementsFile``
    (None: unreadable). Every slice reads every other slice's file, so this reads only those keys
    (not the fleet file) and caches them per file version (``mtime_ns``, ``size``)."""
    try:
        data = safe_yaml().load(read_regular_file(Path(path)))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError, RecursionError):
        return None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        return None
    values = {normalize_key(str(k)): v for k, v in config.items()}
    fleet_file, placements = values.get(FLEET_FILE_KEY), values.get(PLACEMENTS_KEY)
    return (
        fleet_file if isinstance(fleet_file, str) else None,
        values.get(SLICE_KEY),
        placements if isinstance(placements, str) else None,
        values.get(PACK_CONFIG_KEY),
    )


def fleet_slices(project_dir: Path, fleet_file: str, fleet: m.FleetSpec) -> list[Slice]:
    """The slices of ``fleet_file`` found in the project's stack files, sorted by stack name."""
    out = []
    for sibling in _siblings(project_dir, fleet_file):
        if sibling.spec is None:
            continue
        clusters = select(sibling.spec, fleet)
        out.append(
            Slice(
                stack=sibling.stack,
                file=_relative(sibling.file, project_dir),
                spec=sibling.spec,
                clusters=clusters,
                placements_file=sibling.placements_file,
                secret_keys=secret_keys(fleet, clusters),
                window_minutes=schedule_window(fleet),
            )
        )
    return sorted(out, key=lambda s: s.stack)


def schedule_window(fleet: m.FleetSpec) -> int | None:
    """The shortest window (minutes) of the fleet's scheduled workloads; None when none is scheduled."""
    windows = [minutes for w in fleet.workloads if (minutes := schedule_minutes(w.spec)) is not None]
    return min(windows) if windows else None


def _relative(path: Path, project_dir: Path) -> str:
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class SliceRequest:
    """What the program or the CLI read from a stack: its name, the fleet file it names, its raw
    ``edgefleet:slice`` (None: the whole fleet), the config keys set in it, its previous
    placements file, and the source for positions (when read from the file)."""

    stack: str
    fleet_file: str
    value: Any
    available_keys: Collection[str]
    placements_file: str | None = None
    source: StackSource | None = None
    pack_config: Any = None  # `edgefleet:policyPackConfig`: a path, levels inline, or None (the default file)


def resolve_scope(request: SliceRequest, fleet: m.FleetSpec, project_dir: Path) -> SliceScope | None:
    """Check a stack of a shared fleet file against the fleet and its other stacks; return what
    it deploys (None: the whole fleet). Raise ``ConfigError`` listing every problem."""
    source = request.source
    spec = parse_slice(request.value, source) if request.value is not None else None
    own_clusters = select(spec, fleet) if spec is not None else tuple(c.name for c in fleet.clusters)
    issues = _missing_secrets(fleet, own_clusters, request)
    if spec is None:
        for other in _siblings(project_dir, request.fleet_file):
            if other.stack != request.stack:
                issues.append(
                    ConfigIssue(
                        f"config.{FLEET_FILE_KEY}",
                        f"stack {other.stack!r} ({other.file.name}) also deploys {request.fleet_file}; this stack "
                        "deploys all of it, so both would create the same clusters: give each stack an "
                        "`edgefleet:slice` (`edgefleet stacks sync` writes disjoint slices)",
                        source.locate_config(FLEET_FILE_KEY) if source is not None else None,
                    )
                )
        if issues:
            raise ConfigError(issues)
        return None

    def here(loc: Sequence[PathPart], message: str) -> ConfigIssue:
        position = source.locate_config(SLICE_KEY, loc) if source is not None else None
        return ConfigIssue(_slice_path(loc), message, position)

    if spec.clusters is not None:
        names = {c.name for c in fleet.clusters}
        for i, name in enumerate(spec.clusters):
            if name not in names:
                issues.append(here(("clusters", i), f"no cluster {name!r} in {request.fleet_file}"))
    if not spec.is_global and not own_clusters and not issues:
        issues.append(
            here(
                (spec.chosen()[0],),
                f"selects no cluster of {request.fleet_file}; change the selector, or delete the stack "
                "(`edgefleet stacks sync` lists slices that became empty)",
            )
        )
    others = [s for s in _siblings(project_dir, request.fleet_file) if s.stack != request.stack]
    own_rules = _placing_rules(project_dir, request.stack, request.pack_config)
    peers: dict[str, str] = {}
    for other in others:
        other_clusters = select(other.spec, fleet) if other.spec is not None else tuple(c.name for c in fleet.clusters)
        for name in other_clusters:
            peers.setdefault(name, other.stack)
            if name in own_clusters:
                issues.append(
                    here(
                        (),
                        f"cluster {name!r} is also deployed by stack {other.stack!r} ({other.file.name}); a cluster "
                        "belongs to one slice: change one selector (`edgefleet stacks sync` writes disjoint slices)",
                    )
                )
        theirs, ours = _placing_rules(project_dir, other.stack, other.pack_config), own_rules
        if theirs is not None and ours is not None and theirs != ours:
            issues.append(
                ConfigIssue(
                    f"config.{PACK_CONFIG_KEY}",
                    f"stack {other.stack!r} places under the policy rules {_rules_text(theirs)} and this stack "
                    f"under {_rules_text(ours)}: slices of one fleet must place alike, so the same rules must be "
                    f"mandatory in every slice's pack config; set the same `{PACK_CONFIG_KEY}` in every slice",
                    source.locate_config(PACK_CONFIG_KEY) if source is not None else None,
                )
            )
        if (other.placements_file or None) != (request.placements_file or None):
            issues.append(
                ConfigIssue(
                    f"config.{PLACEMENTS_KEY}",
                    f"stack {other.stack!r} places with previous placements {other.placements_file or '(none)'} and "
                    f"this stack with {request.placements_file or '(none)'}: slices of one fleet must place alike; "
                    "set the same `edgefleet:placementsFile` in every slice",
                    source.locate_config(PLACEMENTS_KEY) if source is not None else None,
                )
            )
    if spec.is_global:
        if fleet.traffic is None:
            issues.append(
                here(("global",), "the global slice holds DNS steering (`traffic`), which this fleet does not set")
            )
        for workload in fleet.workloads:
            if workload.hostname is None:
                continue
            for cluster, _ in workload.replicas:
                if cluster not in peers:
                    issues.append(
                        here(
                            ("global",),
                            f"workload {workload.spec.name!r} runs on cluster {cluster!r}, which no stack of "
                            f"{request.fleet_file} deploys, so it cannot be steered; run `edgefleet stacks sync`",
                        )
                    )
    elif fleet.traffic is not None and not any(o.spec is not None and o.spec.is_global for o in others):
        issues.append(
            here(
                (),
                f"{request.fleet_file} steers DNS (`traffic`), which a global slice deploys, and no stack has "
                "`edgefleet:slice: {global: true}`; run `edgefleet stacks sync`",
            )
        )
    if issues:
        raise ConfigError(_unique(issues))
    owners = dict(sorted(peers.items()))
    steered = {cluster for w in fleet.workloads if w.hostname is not None for cluster, _ in w.replicas}
    peers = {cluster: stack for cluster, stack in peers.items() if cluster in steered}
    clusters = () if spec.is_global else own_clusters
    own = Slice(
        stack=request.stack,
        file=request.source.config_file if request.source is not None else "",
        spec=spec,
        clusters=clusters,
        placements_file=request.placements_file,
        secret_keys=secret_keys(fleet, clusters),
    )
    return SliceScope(own, dict(sorted(peers.items())) if spec.is_global else {}, owners)


def _missing_secrets(fleet: m.FleetSpec, clusters: Collection[str], request: SliceRequest) -> list[ConfigIssue]:
    """A kubeconfig key each deployed `existing` cluster names, and each `secret_env` key of a
    workload placed on the slice's clusters, must be set in this stack."""
    issues = []
    for i, cluster in enumerate(fleet.clusters):
        key = cluster.spec.kubeconfig
        if cluster.name not in clusters or key is None or normalize_key(key) in request.available_keys:
            continue
        loc: tuple[PathPart, ...] = ("clusters", i, "kubeconfig")
        position = request.source.locate(loc) if request.source is not None else None
        issues.append(
            ConfigIssue(
                f"clusters[{i}].kubeconfig",
                f"config key `edgefleet:{key}` is not set in stack {request.stack!r}; run "
                f"`pulumi config set --secret -s {request.stack} {key} < kubeconfig.yaml`",
                position,
            )
        )
    for workload in placed_on(fleet, clusters):
        for name, key in workload.spec.secret_env.items():
            if normalize_key(key) in request.available_keys:
                continue
            loc = ("workloads", workload.config_index, "secret_env", name)
            issues.append(
                ConfigIssue(
                    f"workloads[{workload.config_index}].secret_env.{name}",
                    f"config key `edgefleet:{key}` is not set in stack {request.stack!r}, which runs workload "
                    f"{workload.spec.name!r}; run `pulumi config set --secret -s {request.stack} {key}`",
                    request.source.locate(loc) if request.source is not None else None,
                )
            )
    return issues


def _unique(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    seen: set[tuple[str, str]] = set()
    out = []
    for issue in issues:
        if (issue.path, issue.message) not in seen:
            seen.add((issue.path, issue.message))
            out.append(issue)
    return out


_PlacingRules = tuple[tuple[str, tuple[str, ...]], ...]


def _placing_rules(project_dir: Path, stack: str, pack_config: Any) -> _PlacingRules | None:
    """The location rules a slice's pack config makes mandatory, each with the workloads it exempts
    (None: its pack config is unreadable; that slice's own validation reports it)."""
    # The loaders' module, which imports this package: imported when first needed.
    from edgefleet.components.policy import location_requirements  # noqa: PLC0415

    try:
        requirements = location_requirements(project_dir, stack, pack_config)
    except ConfigError:
        return None
    return tuple(sorted((r.rule, tuple(sorted(r.exempt))) for r in requirements))


def _rules_text(rules: _PlacingRules) -> str:
    shown = [rule + (f" (allow {', '.join(exempt)})" if exempt else "") for rule, exempt in rules]
    return "{" + ", ".join(shown) + "}" if shown else "{} (none mandatory)"


def request_from_source(source: StackSource) -> SliceRequest | None:
    """The slice request of a stack file read by ``read_stack_file`` (None: it holds its fleet)."""
    if source.fleet_file is None:
        if SLICE_KEY in source.values:
            raise ConfigError(
                [
                    ConfigIssue(
                        f"config.{SLICE_KEY}",
                        f"a slice needs a shared fleet file: set `{FLEET_FILE_KEY}` and move the fleet there",
                        source.locate_config(SLICE_KEY),
                    )
                ]
            )
        return None
    entry = source.values.get(SLICE_KEY)
    placements = source.values.get(PLACEMENTS_KEY)
    return SliceRequest(
        stack=source.stack,
        fleet_file=source.fleet_file,
        value=entry.value if entry is not None else None,
        available_keys=set(source.values),
        placements_file=placements.value if placements is not None and isinstance(placements.value, str) else None,
        source=source,
        pack_config=pack.value if (pack := source.values.get(PACK_CONFIG_KEY)) is not None else None,
    )


def load_sliced(
    source: StackSource, project_dir: Path, options: PlacementOptions | None = None
) -> tuple[m.FleetSpec, SliceScope | None]:
    """The whole fleet of a stack file (placement on every cluster) and what the stack deploys of
    it (None: all of it)."""
    request = request_from_source(source)
    spec = load_stack(source, options)
    if request is None:
        return spec, None
    return spec, resolve_scope(request, spec, project_dir)

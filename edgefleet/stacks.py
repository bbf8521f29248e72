"""``edgefleet stacks sync``: one stack settings file per slice of a shared fleet file.

The fleet file is the one definition; each slice's stack file names it (``edgefleet:fleetFile``)
and selects its clusters (``edgefleet:slice``). ``sync`` computes the slices (one per region group,
or one per cluster, plus a ``global`` slice when the fleet steers DNS), then creates or updates
each stack file, touching only the keys it owns (``edgefleet:fleetFile``, ``edgefleet:slice``, and
``edgefleet:placementsFile`` when asked) and keeping everything else (secrets, provider settings,
comments) as it was. Running it twice changes nothing the second time. Slices that no longer
select anything are reported, never deleted: their stacks still hold resources.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from edgefleet.components.config import ConfigError, FleetSpec, parse_fleet
from edgefleet.components.config.errors import ConfigIssue, StackFileError
from edgefleet.components.config.parse import provider_settings
from edgefleet.components.config.previous import placements_file_path
from edgefleet.components.config.slices import (
    PLACEMENTS_KEY,
    Slice,
    SliceSpec,
    fleet_slices,
    secret_keys,
    select,
    stack_config_dir,
)
from edgefleet.components.config.source import (
    FLEET_FILE_KEY,
    FLEET_KEY,
    SLICE_KEY,
    ConfigValue,
    StackSource,
    fleet_file_path,
    normalize_key,
    read_fleet_file,
    read_regular_file,
    read_stack_file,
    to_plain,
)
from edgefleet.components.placement.demand import region_group

STACK_NAME_MAX = 100  # Pulumi: letters, digits, `-`, `_`, `.`; at most 100 characters
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class GroupBy(StrEnum):
    """How ``sync`` cuts a fleet into slices."""

    REGION = "region"
    CLUSTER = "cluster"


class Change(StrEnum):
    """What ``sync`` did (or would do) to one stack file."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"


@dataclass(frozen=True)
class SliceFile:
    """One slice's stack file and what ``sync`` did to it."""

    stack: str
    path: Path
    spec: SliceSpec
    clusters: tuple[str, ...]
    change: Change
    missing_secrets: tuple[str, ...] = ()


@dataclass
class SyncReport:
    """Every slice file of the fleet, in stack order, and the stale ones."""

    fleet_file: str
    files: list[SliceFile] = field(default_factory=list)

    @property
    def changed(self) -> list[SliceFile]:
        """The files that were (or would be) created or updated."""
        return [f for f in self.files if f.change in (Change.CREATED, Change.UPDATED)]


def fleet_file_argument(project: Path, given: Path) -> str:
    """``FLEET`` as ``edgefleet:fleetFile`` holds it: a path relative to the project."""
    resolved = given if given.is_absolute() else Path.cwd() / given
    try:
        relative = resolved.resolve().relative_to(project.resolve()).as_posix()
    except ValueError:
        raise StackFileError.at(
            str(given), f"the fleet file must be inside the project ({project}), so every stack can read it"
        ) from None
    if fleet_file_path(project, relative) is None:
        raise StackFileError.at(str(given), "the fleet file must be a file inside the project")
    return relative


def load_fleet_file(project: Path, fleet_file: str) -> tuple[StackSource, FleetSpec]:
    """Read and validate a fleet file on its own (no stack: secrets are checked per slice)."""
    source = read_fleet_file(project, ConfigValue(FLEET_FILE_KEY, False, fleet_file), stack="(fleet file)")
    spec = parse_fleet(
        source.fleet,
        available_keys=None,
        source=source,
        provider_config=provider_settings(source),
        project_dir=source.project_dir,
    )
    return source, spec


def desired_slices(
    spec: FleetSpec, *, prefix: str, by: GroupBy, fleet_file: str
) -> list[tuple[str, SliceSpec, tuple[str, ...]]]:
    """The slices ``sync`` writes: (stack, selector, clusters), by stack name."""
    out: dict[str, tuple[SliceSpec, tuple[str, ...]]] = {}
    if by is GroupBy.REGION:
        groups = sorted({region_group(c.location.country) or "" for c in spec.clusters})
        if "" in groups:
            odd = sorted(c.name for c in spec.clusters if region_group(c.location.country) is None)
            raise ConfigError(
                [ConfigIssue(fleet_file, f"no region group for cluster(s) {', '.join(odd)}; use `--by cluster`")]
            )
        for group in groups:
            selector = SliceSpec.model_validate({"regions": [group]})
            out[f"{prefix}-{group}"] = (selector, select(selector, spec))
    else:
        for cluster in sorted(c.name for c in spec.clusters):
            selector = SliceSpec.model_validate({"clusters": [cluster]})
            out[f"{prefix}-{cluster}"] = (selector, (cluster,))
    if spec.traffic is not None:
        name = f"{prefix}-global"
        if name in out:
            raise ConfigError(
                [ConfigIssue(fleet_file, f"a slice would be called {name!r} twice (a cluster named `global`?)")]
            )
        out[name] = (SliceSpec.model_validate({"global": True}), ())
    for stack in out:
        if not STACK_NAME.fullmatch(stack) or stack in (".", ".."):
            raise ConfigError(
                [
                    ConfigIssue(
                        fleet_file,
                        f"stack name {stack!r} is not a Pulumi stack name (letters, digits, '-', '_' and '.' only; "
                        "its file is written in the stacks directory); use a --prefix of those characters",
                    )
                ]
            )
        if len(stack) > STACK_NAME_MAX:
            raise ConfigError(
                [
                    ConfigIssue(
                        fleet_file, f"stack name {stack!r} is longer than {STACK_NAME_MAX}; use a shorter --prefix"
                    )
                ]
            )
    return [(stack, selector, clusters) for stack, (selector, clusters) in sorted(out.items())]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _flow(value: Any) -> Any:
    """Plain data as ruamel nodes written in flow style: ``{regions: [europe]}``."""
    if isinstance(value, Mapping):
        mapping = CommentedMap((k, _flow(v)) for k, v in value.items())
        mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq(_flow(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    return value


def _header(fleet_file: str, stack: str, selector: SliceSpec) -> str:
    return (
        f"# {stack}: the slice `{selector.describe()}` of {fleet_file}, written by `edgefleet stacks sync`.\n"
        f"# Edit the fleet in {fleet_file}; this file holds the slice's own settings and secrets.\n"
    )


def _set(config: CommentedMap, key: str, value: Any) -> bool:
    """Set ``key`` (however its namespace was written) to ``value``; whether it changed."""
    for raw_key in list(config):
        if normalize_key(str(raw_key)) == key:
            current = config[raw_key]
            if to_plain(current) == to_plain(value):
                return False
            config[raw_key] = value
            return True
    config[key] = value
    return True


def _render(yaml: YAML, document: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def sync(
    project: Path,
    fleet_file: str,
    *,
    prefix: str,
    by: GroupBy = GroupBy.REGION,
    placements_file: str | None = None,
    write: bool = True,
) -> SyncReport:
    """Create or update the slice files of ``fleet_file``; with ``write=False`` only report.

    Raises ``ConfigError`` (before writing anything) for an invalid fleet, or a stack file in the
    way that is not a slice of this fleet file.
    """
    if placements_file is not None:  # the rules of edgefleet:placementsFile, before anything is written
        try:
            placements_file_path(project, placements_file)
        except ConfigError as exc:
            option = f"--placements-file {placements_file}"
            raise ConfigError([ConfigIssue(option, issue.message) for issue in exc.issues]) from None
    _, spec = load_fleet_file(project, fleet_file)
    directory = stack_config_dir(project)
    yaml = _yaml()
    planned: list[tuple[SliceFile, str | None]] = []
    problems: list[ConfigIssue] = []
    desired = desired_slices(spec, prefix=prefix, by=by, fleet_file=fleet_file)
    for stack, selector, clusters in desired:
        path = directory / f"Pulumi.{stack}.yaml"
        text, change, available = _updated_text(
            yaml,
            path,
            fleet_file=fleet_file,
            stack=stack,
            selector=selector,
            placements_file=placements_file,
            problems=problems,
        )
        missing = tuple(k for k in secret_keys(spec, clusters) if k not in available)
        planned.append((SliceFile(stack, path, selector, clusters, change, missing), text))
    if problems:
        raise ConfigError(problems)
    report = SyncReport(fleet_file)
    wanted = {stack for stack, _, _ in desired}
    existing: Sequence[Slice] = fleet_slices(project, fleet_file, spec)
    for found in existing:
        if found.stack not in wanted:
            report.files.append(SliceFile(found.stack, project / found.file, found.spec, found.clusters, Change.STALE))
    for item, text in planned:
        if write and text is not None:
            item.path.parent.mkdir(parents=True, exist_ok=True)
            item.path.write_text(text, encoding="utf-8")
        report.files.append(item)
    report.files.sort(key=lambda f: f.stack)
    return report


def _updated_text(
    yaml: YAML,
    path: Path,
    *,
    fleet_file: str,
    stack: str,
    selector: SliceSpec,
    placements_file: str | None,
    problems: list[ConfigIssue],
) -> tuple[str | None, Change, set[str]]:
    """The new text of a slice file (None: unchanged), the change, and the config keys set in it."""
    if not path.is_file():
        fresh = CommentedMap()
        fresh[FLEET_FILE_KEY] = fleet_file
        fresh[SLICE_KEY] = _flow(selector.as_config())
        if placements_file is not None:
            fresh[PLACEMENTS_KEY] = placements_file
        created = CommentedMap([("config", fresh)])
        return _header(fleet_file, stack, selector) + _render(yaml, created), Change.CREATED, set()
    try:
        source = read_stack_file(path)
    except ConfigError as exc:
        problems.extend(exc.issues)
        return None, Change.UNCHANGED, set()
    if source.fleet_file is None:
        problems.append(
            ConfigIssue(
                str(path),
                f"stack {stack!r} exists and holds its own fleet (`{FLEET_KEY}`), not a slice of {fleet_file}; "
                "move it away or pick another --prefix",
            )
        )
        return None, Change.UNCHANGED, set()
    if source.fleet_file != fleet_file:
        problems.append(
            ConfigIssue(
                str(path),
                f"stack {stack!r} is a slice of {source.fleet_file}, not of {fleet_file}; pick another --prefix",
            )
        )
        return None, Change.UNCHANGED, set()
    text = read_regular_file(path)
    document = yaml.load(text)
    existing = document.get("config") if isinstance(document, CommentedMap) else None
    if not isinstance(existing, CommentedMap):  # read_stack_file already required it
        problems.append(ConfigIssue(str(path), "has no `config:` mapping; fix or remove the file"))
        return None, Change.UNCHANGED, set()
    config = existing
    changed = _set(config, FLEET_FILE_KEY, fleet_file)
    changed = _set(config, SLICE_KEY, _flow(selector.as_config())) or changed
    if placements_file is not None:
        changed = _set(config, PLACEMENTS_KEY, placements_file) or changed
    available = {normalize_key(str(k)) for k in config}
    if not changed:
        return None, Change.UNCHANGED, available
    return _render(yaml, document), Change.UPDATED, available

"""The previous placement, for stability: an ``edgefleet place --json`` file (edgefleet.placements/v1)
or a plan (edgefleet.plan/v1). A stack names it with ``edgefleet:placementsFile`` (relative to the
project); ``edgefleet place --previous FILE`` overrides it for a what-if."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from edgefleet.components.config.errors import ConfigError, ConfigIssue, Position
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.config.source import (
    NotAFileError,
    StackSource,
    display_path,
    json_problem,
    outside_project,
    path_exists,
    read_regular_file,
)
from edgefleet.components.placement.timeline import parse_time

PLACEMENTS_KEY = "edgefleet:placementsFile"
FORMATS = ("edgefleet.placements/v1", "edgefleet.plan/v1")


def read_previous(path: Path, shown: str | None = None) -> dict[str, tuple[str, ...]]:
    """Workload name -> the cluster names it was placed on."""
    label = shown or str(path)
    try:
        data: Any = json.loads(read_regular_file(path))
    except FileNotFoundError:
        raise ConfigError(
            [
                ConfigIssue(
                    label, "previous placements file not found; write it with `edgefleet place STACK --json FILE`"
                )
            ]
        ) from None
    except NotAFileError as exc:
        raise ConfigError([ConfigIssue(label, f"the previous placements file {exc}")]) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(label, f"cannot be read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(label, f"is not UTF-8 text ({exc.reason})")]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue(label, f"invalid JSON at {exc.lineno}:{exc.colno}: {exc.msg}")]) from None
    except (ValueError, RecursionError) as exc:  # a number of over 4,300 digits; arrays nested too deeply
        raise ConfigError([ConfigIssue(label, f"invalid JSON: {json_problem(exc)}")]) from None
    if not isinstance(data, dict) or data.get("format") not in FORMATS:
        raise ConfigError(
            [ConfigIssue(label, f"not a placements or plan file (format must be one of {', '.join(FORMATS)})")]
        )
    out: dict[str, tuple[str, ...]] = {}
    for entry in data.get("placements") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("workload"), str):
            raise ConfigError([ConfigIssue(label, "a placements entry has no `workload`")])
        locations = entry.get("locations") or []
        names = [loc.get("cluster") for loc in locations if isinstance(loc, dict)]
        if not all(isinstance(n, str) for n in names):
            raise ConfigError([ConfigIssue(label, f"placements of {entry['workload']!r}: a location has no `cluster`")])
        out[entry["workload"]] = tuple(sorted(str(n) for n in names))
    return out


def placements_file_path(project: Path, written: str, where: Position | None = None) -> Path:
    """Where ``edgefleet:placementsFile`` points: a relative path inside the project (its real path
    too, so a symbolic link cannot lead out of it), else a ``ConfigError``."""
    relative = Path(written)
    if not written or relative.is_absolute() or ".." in relative.parts:
        raise ConfigError(
            [
                ConfigIssue(
                    f"config.{PLACEMENTS_KEY}",
                    "must be a relative path inside the project, e.g. `placements/prod.json`",
                    where,
                )
            ]
        )
    path = project / relative
    real = outside_project(project, path) if path_exists(path) else None
    if real is not None:
        raise ConfigError(
            [
                ConfigIssue(
                    f"config.{PLACEMENTS_KEY}",
                    f"{written} is a symbolic link to {real}, outside the project; name a file inside the project",
                    where,
                )
            ]
        )
    return path


def placement_options(
    project: Path, source: StackSource, *, previous: Path | None = None, exact: bool = False
) -> PlacementOptions:
    """Placement options for a stack file: its previous placement (``edgefleet:placementsFile``,
    relative to the project, or ``previous``) for stability, and whether to solve exactly."""
    path = previous
    entry = source.values.get(PLACEMENTS_KEY)
    if path is None and entry is not None and not entry.secure and isinstance(entry.value, str):
        path = placements_file_path(project, entry.value, source.locate_config(PLACEMENTS_KEY))
    return PlacementOptions(previous=read_previous(path, display_path(path)) if path else {}, exact=exact)


PLACEMENT_TIME_KEY = "edgefleet:placementTime"


# Set by `edgefleet up`/`preview` for every slice of one run, so all of them place the same window.
PLACEMENT_TIME_ENV = "EDGEFLEET_PLACEMENT_TIME"


def placement_time(source: StackSource, environ: Mapping[str, str] | None = None) -> tuple[datetime, str] | None:
    """The window a scheduled placement is for, and what set it: the stack's
    ``edgefleet:placementTime`` (ISO 8601 UTC; ``edgefleet plan --at`` sets it for the program it
    runs), else ``EDGEFLEET_PLACEMENT_TIME`` in ``environ`` (the caller's environment); None when
    neither is set. The program reads them in the same order (``components/entry.py``)."""
    entry = source.values.get(PLACEMENT_TIME_KEY)
    if entry is not None and not entry.secure:
        try:
            return parse_time(str(entry.value)), PLACEMENT_TIME_KEY
        except ValueError as exc:
            raise ConfigError(
                [ConfigIssue(f"config.{PLACEMENT_TIME_KEY}", str(exc), source.locate_config(PLACEMENT_TIME_KEY))]
            ) from None
    written = (environ or {}).get(PLACEMENT_TIME_ENV)
    if written is None:
        return None
    try:
        return parse_time(written), PLACEMENT_TIME_ENV
    except ValueError as exc:
        raise ConfigError([ConfigIssue(f"environment variable {PLACEMENT_TIME_ENV}", str(exc))]) from None

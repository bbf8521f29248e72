"""Finding the Pulumi project and a stack's settings file from what the user typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from edgefleet.components.config.errors import StackFileError
from edgefleet.components.config.slices import stack_config_dir
from edgefleet.components.config.source import PROJECT, read_regular_file, safe_yaml

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def find_project(start: Path | None = None) -> Path:
    """The nearest directory (from ``start`` up) with a ``Pulumi.yaml``, which must be edgefleet's;
    with none up to the root, the checkout this package was installed from."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        project_file = candidate / "Pulumi.yaml"
        if not _exists(project_file):
            continue
        name, problem = _project_name(project_file)
        if name == PROJECT:
            return candidate
        # The nearest Pulumi.yaml is the project `pulumi` itself would use here: never skip past a
        # broken or foreign one to plan some other checkout.
        shown = str(project_file)
        if problem is not None:
            raise StackFileError.at(shown, f"{problem}; fix the project file, or run edgefleet from its project")
        raise StackFileError.at(
            shown,
            f"is the Pulumi project {name!r}, not edgefleet's (`name: {PROJECT}`); run edgefleet from the "
            "edgefleet project checkout",
        )
    if (_PACKAGE_ROOT / "Pulumi.yaml").is_file() and _project_name(_PACKAGE_ROOT / "Pulumi.yaml")[0] == PROJECT:
        return _PACKAGE_ROOT
    raise StackFileError.at(
        "Pulumi.yaml",
        "no edgefleet project found (a Pulumi.yaml with `name: edgefleet`) in this directory or above; "
        "run edgefleet from the project checkout",
    )


def _exists(path: Path) -> bool:
    """Whether ``path`` names anything, a dangling link included (it still is the nearest
    ``Pulumi.yaml``); False, not an ``OSError``, for a name no file can have."""
    try:
        path.lstat()
    except (OSError, ValueError):
        return False
    return True


def _read_project(project_file: Path) -> tuple[dict[str, Any], str | None]:
    """The project file's mapping, and why it could not be read (None: it was)."""
    try:
        data = safe_yaml().load(read_regular_file(project_file))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        return {}, f"cannot be read: {reason}"
    if not isinstance(data, dict):
        return {}, "is not a Pulumi project file (a mapping with `name`, `runtime`)"
    return data, None


def _project_name(project_file: Path) -> tuple[str | None, str | None]:
    data, problem = _read_project(project_file)
    name = data.get("name")
    return (name if isinstance(name, str) else None), problem


def _is_file(path: Path) -> bool:
    """``Path.is_file`` without its ``OSError`` for a name no file can have (longer than the
    system allows): such a STACK is a stack name, and not finding it is the one-line error."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def stack_file(project: Path, stack: str) -> Path:
    """``STACK`` is a stack name (``stacks/Pulumi.<STACK>.yaml``) or a path to a settings file."""
    as_path = Path(stack)
    if as_path.suffix in (".yaml", ".yml") or "/" in stack or _is_file(as_path):
        return as_path
    return stack_config_dir(project) / f"Pulumi.{stack}.yaml"

"""Finding the Pulumi project and a stack's settings file from what the user typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from components.config.errors import StackFileError
from components.config.slices import stack_config_dir
from components.config.source import PROJECT, read_regular_file, safe_yaml

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def find_project(start: Path | None = None) -> Path:
    """The nearest directory (from ``start`` up) with an edgefleet ``Pulumi.yaml``, else the one
    this package was installed from."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents, _PACKAGE_ROOT):
        project_file = candidate / "Pulumi.yaml"
        if project_file.is_file() and _project_name(project_file) == PROJECT:
            return candidate
    raise StackFileError.at(
        "Pulumi.yaml",
        "no edgefleet project found (a Pulumi.yaml with `name: edgefleet`) in this directory or above; "
        "run edgefleet from the project checkout",
    )


def _project_data(project_file: Path) -> dict[str, Any]:
    try:
        data = safe_yaml().load(read_regular_file(project_file))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _project_name(project_file: Path) -> str | None:
    name = _project_data(project_file).get("name")
    return name if isinstance(name, str) else None


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

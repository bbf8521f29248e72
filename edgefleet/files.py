"""Writing outputs safely: one atomic file write and one check of a directory edgefleet replaces
whole (``plan --manifests``, ``export karmada|ocm``), shared by every command that writes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def replace_file(path: Path, text: str) -> None:
    """Write beside ``path``, then rename over it: a reader never sees half a file, a failed write
    leaves the old one, and a file that is not one edgefleet can replace (``/proc/sys/...``, which
    looks like a regular file but is a kernel setting) is refused instead of written into. The
    mode follows the umask."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def replaced_dir_problem(directory: Path, marker: str, writer: str) -> str | None:
    """Why ``directory`` cannot be replaced whole by ``writer`` (None: it is absent, empty, or has
    ``marker``, left by an earlier run): a directory edgefleet did not write is never replaced."""
    if directory.is_symlink():
        return f"{directory} is a symbolic link; name a real directory (it is replaced whole)"
    if directory.exists():
        if not directory.is_dir():
            return f"{directory} exists and is not a directory; name a directory"
        if any(directory.iterdir()) and not (directory / marker).is_file():
            return f"{directory} is not empty and was not written by {writer}; choose an empty or new directory"
    return None

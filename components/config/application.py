"""A workload's application settings, cross-checked: ``env``, ``secret_env``, ``config_files``,
``ports``, ``volumes`` and ``overrides`` (``docs/fleet-config.md#application-settings``).

Pure: no ``pulumi``. ``config_files`` entries with ``file:`` are read here, from the project
directory, so both loaders (the CLI and the program) put the same text in the ``FleetSpec``.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path

from edgefleet.components.config import model as m
from edgefleet.components.config.source import (
    NotAFileError,
    PathPart,
    is_stack_settings_file,
    normalize_key,
    project_file_problem,
    read_regular_file,
)

Report = Callable[[tuple[PathPart, ...], str], None]

# The labels edgefleet sets on every object (selectors, ownership, Pod Security): an override's
# `labels` may not change them.
RESERVED_LABELS = frozenset(
    {
        "owner",
        "environment",
        "edgefleet-cluster",
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/part-of",
    }
)
RESERVED_LABEL_PREFIXES = ("pod-security.kubernetes.io/",)
# What only an `image` workload has: a `manifests`, `kustomize` or `helm` workload writes these in its
# own objects (`probe_path` and `dns_name` are DNS steering's there: parse._dns_checks).
IMAGE_ONLY_KEYS = (
    "port",
    "resources",
    "secret_env",
    "config_files",
    "command",
    "args",
    "ports",
    "volumes",
)
# Volume names edgefleet uses itself on every pod.
RESERVED_VOLUMES = frozenset({"tmp", "edgefleet-files"})
# The annotation on a workload's Secret naming its keys (the `secret_env` names, comma-separated):
# the plan's manifests show the keys of a Secret whose values are secret.
SECRET_KEYS_ANNOTATION = "edgefleet.io/secret-keys"
# The main port's name on the container and the Service.
MAIN_PORT_NAME = "http"
# A stack settings file (`Pulumi.<stack>.yaml`): never a config file, whatever links lead to it.


# The longest config file name: its ConfigMap key, with room for an index (`<index>-<name>`), stays
# within Kubernetes' 253 characters.
FILE_NAME_MAX = 200


def configmap_keys(paths: Sequence[str]) -> list[str]:
    """The ConfigMap key of each config file: its base name, or ``<index>-<base name>`` when two
    files share a base name (keys are flat; every path's characters are valid in a key). An indexed
    key equal to another file's own name gets the index again (``1-1-x``): two files never share a
    key, or one's text would be mounted at both paths. Indexed keys start with their index, so they
    never equal each other; base names (at most ``FILE_NAME_MAX``) keep every key within 253."""
    names = [posixpath.basename(p) for p in paths]
    own = {n for n in names if names.count(n) == 1}
    keys = []
    for i, name in enumerate(names):
        key = name
        if names.count(name) > 1:
            key = f"{i}-{name}"
            while key in own:
                key = f"{i}-{key}"
        keys.append(key)
    return keys


def files_checksum(files: Iterable[m.ResolvedFile]) -> str:
    """The checksum of a workload's config files (sha256 of the sorted paths and contents), as the
    pod template's annotation: it changes exactly when a file's path or text changes, so a changed
    file rolls the Deployment."""
    pairs = sorted((f.path, f.content) for f in files)
    return hashlib.sha256(json.dumps(pairs, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def check_application(
    spec: m.WorkloadSpec,
    loc: tuple[PathPart, ...],
    report: Report,
    *,
    all_names: Collection[str],
    known: Callable[[str], str],
    available_keys: Collection[str] | None,
    project_dir: Path | None,
    kubeconfigs: Mapping[str, str] | None = None,
) -> tuple[m.ResolvedFile, ...] | None:
    """Report what the application settings get wrong; return the config files with their text
    (None: something was reported). ``kubeconfigs``: the cluster each kubeconfig config key
    (normalised) belongs to."""
    ok = True

    def bad(where: tuple[PathPart, ...], message: str) -> None:
        nonlocal ok
        report((*loc, *where), message)
        ok = False

    source = spec.objects_source
    if source is not None:
        for key in IMAGE_ONLY_KEYS:
            if key in spec.model_fields_set:
                bad(
                    (key,),
                    f"`{key}` is for `image` workloads; a `{source}` workload sets it in its own objects "
                    "(docs/workloads.md): remove it here",
                )

    for name, key in spec.secret_env.items():
        if name in spec.env:
            bad(("secret_env", name), f"{name} is also in `env`; a variable comes from `env` or `secret_env`, not both")
        owner = (kubeconfigs or {}).get(normalize_key(key))
        if owner is not None:
            bad(
                ("secret_env", name),
                f"config key `edgefleet:{key}` is the kubeconfig of cluster {owner}, the credential edgefleet deploys "
                "with: a pod never gets it; store what the application needs under its own key "
                "(`pulumi config set --secret <key>`)",
            )
    if spec.command is not None and not spec.command[0]:
        bad(("command", 0), "the program to run is empty; name it (e.g. `command: [/app/run]`)")
    for j, entry in enumerate(spec.config_files):
        base = posixpath.basename(entry.path)
        if base.startswith(".."):
            bad(
                ("config_files", j, "path"),
                f"the file name {base!r} is not a ConfigMap key (Kubernetes keeps names starting with `..` "
                "for itself); rename the file",
            )
        elif len(base) > FILE_NAME_MAX:
            bad(
                ("config_files", j, "path"),
                f"the file name is {len(base)} characters long; a config file's name is at most {FILE_NAME_MAX} "
                "characters (it is the file's ConfigMap key, at most 253 with an index); shorten it",
            )
    if available_keys is not None:
        for name, key in spec.secret_env.items():
            if normalize_key(key) not in available_keys:
                bad(
                    ("secret_env", name),
                    f"config key `edgefleet:{key}` is not set; run `pulumi config set --secret {key}` "
                    "(the value stays encrypted in the stack)",
                )
    # Ports: names and (port, protocol) unique, and apart from the main port (`http`, TCP).
    names = {MAIN_PORT_NAME: "the main `port`"}
    numbers = {(spec.main_port, "TCP"): "the main `port`"}
    for j, port in enumerate(spec.ports):
        if port.name in names:
            bad(("ports", j, "name"), f"port name {port.name!r} is already {names[port.name]}; choose another name")
        if (port.port, port.protocol) in numbers:
            taken = numbers[(port.port, port.protocol)]
            bad(("ports", j, "port"), f"{port.protocol} port {port.port} is already {taken}; choose another port")
        names.setdefault(port.name, f"ports[{j}]")
        numbers.setdefault((port.port, port.protocol), f"ports[{j}]")
    # Mount paths: config files are mounted one by one (subPath), volumes as directories. No
    # path twice, no file inside a volume or another file, no volume inside another.
    mounts: list[tuple[tuple[PathPart, ...], str, bool]] = [
        (("config_files", j, "path"), f.path, False) for j, f in enumerate(spec.config_files)
    ]
    mounts += [(("volumes", j, "path"), v.path, True) for j, v in enumerate(spec.volumes)]
    for i, (where, path, _) in enumerate(mounts):
        for other_where, other, other_is_dir in mounts[:i]:
            shown = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in other_where).replace(".[", "[")
            if path == other:
                bad(where, f"{path} is already mounted by {shown}; mount each path once")
            elif _under(path, other) or _under(other, path):
                inner = "a volume" if other_is_dir and _under(path, other) else "a file's path"
                bad(
                    where,
                    f"{path} overlaps {other} ({shown}): a path cannot be inside a file or another volume "
                    f"(each config file is mounted on its own; {inner} cannot hold another mount); use separate "
                    "directories",
                )
    seen_volumes: dict[str, int] = {}
    for j, volume in enumerate(spec.volumes):
        if volume.name in RESERVED_VOLUMES:
            bad(("volumes", j, "name"), f"volume name {volume.name!r} is edgefleet's own; choose another name")
        elif volume.name in seen_volumes:
            bad(
                ("volumes", j, "name"),
                f"duplicate volume name {volume.name!r} (also volumes[{seen_volumes[volume.name]}])",
            )
        seen_volumes.setdefault(volume.name, j)
        if volume.secret is not None and not spec.secret_env:
            bad(("volumes", j, "secret"), "the workload's Secret holds its `secret_env` values, and it has none")
        if volume.config_map is not None and not spec.config_files:
            bad(("volumes", j, "config_map"), "the workload's ConfigMap holds its `config_files`, and it has none")
    for j, override in enumerate(spec.overrides):
        oloc: tuple[PathPart, ...] = ("overrides", j)
        for k, cluster in enumerate(override.clusters or ()):
            if cluster not in all_names:
                bad((*oloc, "clusters", k), f"no cluster named {cluster!r}; {known(cluster)}")
        if override.clusters is not None and not override.clusters:
            bad((*oloc, "clusters"), "lists no cluster; name at least one, or remove the override")
        for name in override.env:
            if name in spec.secret_env:
                bad(
                    (*oloc, "env", name),
                    f"{name} comes from `secret_env`; an override cannot replace it with a plain value",
                )
        if override.values and spec.helm is None:
            bad(
                (*oloc, "values"),
                "`values` are a Helm chart's; this workload has no `helm` source: use `image`, `env` or `labels`",
            )
        for key in override.labels:
            if key in RESERVED_LABELS or key.startswith(RESERVED_LABEL_PREFIXES):
                bad(
                    (*oloc, "labels", key),
                    f"label {key!r} is set by edgefleet (selectors, ownership); choose another key",
                )
    files = _read_files(spec, loc, report, project_dir)
    if files is None:
        return None
    return files if ok else None


def _read_files(
    spec: m.WorkloadSpec, loc: tuple[PathPart, ...], report: Report, project_dir: Path | None
) -> tuple[m.ResolvedFile, ...] | None:
    ok = True
    contents: list[str] = []
    for j, entry in enumerate(spec.config_files):
        if entry.content is not None:
            contents.append(entry.content)
            continue
        text = _read_project_file(str(entry.file), (*loc, "config_files", j, "file"), report, project_dir)
        if text is None:
            ok = False
            contents.append("")
        else:
            contents.append(text)
    if not ok:
        return None
    keys = configmap_keys([f.path for f in spec.config_files])
    files = tuple(
        m.ResolvedFile(path=f.path, key=key, content=text)
        for f, key, text in zip(spec.config_files, keys, contents, strict=True)
    )
    size = sum(len(f.key.encode()) + len(f.content.encode()) for f in files)
    if size > m.CONFIGMAP_MAX_BYTES:
        report(
            (*loc, "config_files"),
            f"the config files hold {size:,} bytes, more than a ConfigMap takes ({m.CONFIGMAP_MAX_BYTES:,} bytes, "
            "1 MiB); ship large files in the image, or split the workload",
        )
        return None
    return files


def _read_project_file(
    written: str, where: tuple[PathPart, ...], report: Report, project_dir: Path | None
) -> str | None:
    if project_dir is None:
        report(where, "a `file` is read from the project directory, which this loader was not given")
        return None
    path, problem = project_file_problem(project_dir, written, "apps/pos-sync/app.yaml", "file")
    if path is None:
        report(where, problem)
        return None
    if is_stack_settings_file(path):
        report(
            where,
            f"{written} is a stack settings file ({path.resolve().name}): it holds the stack's config values, those "
            "set without --secret in clear, and a config file's text is shown in the plan and stored in a ConfigMap; "
            "put the application's settings in a file of their own",
        )
        return None
    try:
        return read_regular_file(
            path,
            max_bytes=m.CONFIGMAP_MAX_BYTES,
            too_large="a ConfigMap holds at most 1 MiB; ship large files in the image",
        )
    except NotAFileError as exc:
        report(where, f"{written} {exc}")
    except UnicodeDecodeError as exc:
        report(where, f"{written} is not UTF-8 text ({exc.reason}); config files hold text")
    except OSError as exc:
        report(where, f"{written} cannot be read: {exc.strerror or exc}")
    return None


def location_settings(spec: m.WorkloadSpec, clusters: Sequence[m.Cluster]) -> tuple[m.LocationSettings, ...]:
    """Image, env and labels per cluster (sorted by name): the workload's own, then each matching
    override in order (a later one wins); for a helm workload, the overrides whose `values` apply."""
    out = []
    for cluster in sorted(clusters, key=lambda c: c.name):
        image, env, labels = spec.image, dict(spec.env), {}
        values_from: list[int] = []
        for index, override in enumerate(spec.overrides):
            if override.clusters is not None:
                matches = cluster.name in override.clusters
            else:
                selector = override.selector or {}
                matches = all(cluster.labels.get(k) == v for k, v in selector.items())
            if not matches:
                continue
            image = override.image or image
            env.update(override.env)
            labels.update(override.labels)
            if override.values:
                values_from.append(index)
        out.append(
            m.LocationSettings(
                cluster=cluster.name,
                image=image,
                env=dict(sorted(env.items())),
                labels=dict(sorted(labels.items())),
                values_from=tuple(values_from),
            )
        )
    return tuple(out)

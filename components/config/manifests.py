"""A workload's own Kubernetes objects (``manifests: <path>``): read, checked and changed as plain data.

Pure: no ``pulumi``. ``load_manifests`` reads a YAML file, or every ``*.yaml``/``*.yml`` file of a
directory (recursively, sorted; several documents per file allowed) from inside the project with
ruamel's round-trip loader, so every object keeps the file and line it was written at (and the
line of every key and list item inside it, for ``edgefleet check``). It refuses, each as a config
error naming the manifest's ``file:line``: YAML that does not parse, an object without
``apiVersion``/``kind``/``metadata.name``, a kind edgefleet does not know to be namespaced
(cluster-scoped kinds by name), another namespace, an object the Kubernetes API schema or the
label/annotation key rules refuse, ``!!binary``, the same object twice, an object edgefleet creates
itself, a missing or ambiguous scale target, and objects that would undo edgefleet's guards
(``check_interference``: an autoscaler or a second budget on the scale target, RBAC escalation).
``render`` applies what edgefleet changes per location (replicas, ``overrides``, labels,
``EDGEFLEET_*``) to a copy of the objects.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from edgefleet.components.config import model as m
from edgefleet.components.config import rendering
from edgefleet.components.config.source import (
    NotAFileError,
    PathPart,
    _Composer,
    _Constructor,
    _Plain,
    _TooLarge,
    is_stack_settings_file,
    item_position,
    key_position,
    outside_project,
    project_file_problem,
    read_regular_file,
)

Report = Callable[[tuple[PathPart, ...], str], None]

# The namespaced kinds edgefleet deploys, by (apiVersion, kind), with the top-level fields each
# takes besides apiVersion, kind and metadata (a `status` is dropped: the cluster writes it).
# Each has a typed pulumi-kubernetes class (components/workloads/manifest_objects.py).
KINDS: dict[tuple[str, str], frozenset[str]] = {
    ("v1", "ConfigMap"): frozenset({"data", "binaryData", "immutable"}),
    ("v1", "Secret"): frozenset({"data", "stringData", "type", "immutable"}),
    ("v1", "Service"): frozenset({"spec"}),
    ("v1", "ServiceAccount"): frozenset({"automountServiceAccountToken", "imagePullSecrets", "secrets"}),
    ("v1", "PersistentVolumeClaim"): frozenset({"spec"}),
    ("v1", "LimitRange"): frozenset({"spec"}),
    ("v1", "ResourceQuota"): frozenset({"spec"}),
    ("apps/v1", "Deployment"): frozenset({"spec"}),
    ("apps/v1", "StatefulSet"): frozenset({"spec"}),
    ("apps/v1", "DaemonSet"): frozenset({"spec"}),
    ("batch/v1", "Job"): frozenset({"spec"}),
    ("batch/v1", "CronJob"): frozenset({"spec"}),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): frozenset({"spec"}),
    ("policy/v1", "PodDisruptionBudget"): frozenset({"spec"}),
    ("networking.k8s.io/v1", "NetworkPolicy"): frozenset({"spec"}),
    ("networking.k8s.io/v1", "Ingress"): frozenset({"spec"}),
    ("rbac.authorization.k8s.io/v1", "Role"): frozenset({"rules"}),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): frozenset({"roleRef", "subjects"}),
}
# Kinds known to be cluster-scoped: refused by name (one workload's objects live in its namespace).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "StorageClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "IngressClass",
        "RuntimeClass",
        "APIService",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "CertificateSigningRequest",
        "ComponentStatus",
    }
)
SCALABLE = ("Deployment", "StatefulSet")
# Where each kind keeps its pod template's spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
MANIFEST_MAX_BYTES = 1024 * 1024  # per file: about what the API server takes for one object
MANIFEST_MAX_FILES = 100
MANIFEST_MAX_OBJECTS = 500
YAML_SUFFIXES = (".yaml", ".yml")
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# The Kubernetes API schema every object is checked against (strict: no field the kind lacks), the
# oldest minor edgefleet's vendors run; its types are what the typed pulumi-kubernetes classes take.
SCHEMA_VERSION = "1.33"
# A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
# characters; a label value: at most 63 such characters, or empty.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
# Who a RoleBinding may not name: every user, every service account, anonymous requests, the nodes.
_SYSTEM_SUBJECT = "system:"
# Role verbs that grant more than the rules say (edit RBAC, bind roles, act as someone else).
_ESCALATING_VERBS = frozenset({"*", "escalate", "bind", "impersonate"})


def own_objects(workload: str) -> dict[tuple[str, str], str]:
    """The objects edgefleet creates in a manifests workload's namespace: (kind, name) -> what."""
    return {
        ("NetworkPolicy", "default-deny"): "edgefleet's default-deny NetworkPolicy",
        ("NetworkPolicy", f"allow-{workload}"): "edgefleet's allow rule for the workload",
        ("PodDisruptionBudget", workload): "edgefleet's PodDisruptionBudget for the scale target",
    }


def path_key(parts: Sequence[PathPart]) -> str:
    """A path inside an object as text: ``spec.template.spec.containers[0].image``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class _Found:
    file: str  # project-relative
    line: int
    col: int
    body: dict[str, Any]
    positions: dict[str, tuple[int, int]]


def _positions(node: Any, parts: tuple[PathPart, ...], out: dict[str, tuple[int, int]], seen: set[int]) -> None:
    """The 1-based (line, col) of every key and list item below ``node``, by ``path_key``."""
    if id(node) in seen or len(out) > 20_000:
        return
    seen.add(id(node))
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            here = (*parts, str(key))
            line, col = key_position(node, key)
            out[path_key(here)] = (line + 1, col + 1)
            _positions(value, here, out, seen)
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            here = (*parts, index)
            try:
                line, col = item_position(node, index)
            except (KeyError, TypeError):
                continue
            out[path_key(here)] = (line + 1, col + 1)
            _positions(value, here, out, seen)


class _ManifestConstructor(_Constructor):
    """The stack loader's constructor, refusing ``!!binary``: its bytes are no JSON value (they
    would reach the object as the text ``b'...'``), and ``binaryData`` takes base64 text as is."""

    def construct_binary(self, node: Any) -> Any:
        raise ConstructorError(
            None,
            None,
            "`!!binary` decodes to bytes, which no Kubernetes field takes; write the base64 text as a plain "
            "string (`binaryData` takes base64)",
            node.start_mark,
        )


_ManifestConstructor.add_constructor("tag:yaml.org,2002:binary", _ManifestConstructor.construct_binary)


class _Refused(Exception):
    """Why the objects cannot be placed; ``where``: the key below the workload it is about, when
    not the source's own key (``("helm", "values_files", 0)``)."""

    def __init__(self, message: str, where: tuple[PathPart, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


def _parse(text: str, shown: str) -> list[_Found]:
    """Every non-empty document of a manifest file, plain, with positions (``_Refused``: why not)."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _ManifestConstructor
    yaml.Composer = _Composer
    try:
        documents = list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}" if mark else shown
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise _Refused(f"{where}: invalid YAML: {reason}; fix the manifest") from None
    except ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise _Refused(f"{shown}:{line}: invalid YAML: the character {char!r} is not allowed in a YAML file") from None
    except RecursionError:
        raise _Refused(f"{shown}: invalid YAML: nested too deeply; fix the manifest") from None
    except ValueError as exc:
        if "digits" in str(exc):
            raise _Refused(f"{shown}: invalid YAML: a number of more than 4,000 digits; fix the manifest") from None
        reason = " ".join(str(exc).split())[:120]
        raise _Refused(f"{shown}: invalid YAML: a value cannot be read ({reason}); fix the manifest") from None
    except (YAMLError, TypeError, KeyError, AttributeError) as exc:
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise _Refused(f"{shown}: invalid YAML: cannot be read as plain mappings and lists ({reason})") from None
    out = []
    for document in documents:
        if document is None:
            continue
        line = (document.lc.line + 1) if isinstance(document, (CommentedMap, CommentedSeq)) else 1
        if not isinstance(document, CommentedMap):
            raise _Refused(f"{shown}:{line}: a document is not a Kubernetes object (a mapping); fix the manifest")
        plain = _Plain()
        try:
            body = plain.value(document, "", None)
        except _TooLarge:
            raise _Refused(f"{shown}:{line}: aliases repeat too many values; write the object out") from None
        if plain.bad_keys:
            _, message, (bad_line, _) = plain.bad_keys[0]
            raise _Refused(f"{shown}:{bad_line + 1}: {message}")
        positions: dict[str, tuple[int, int]] = {}
        _positions(document, (), positions, set())
        out.append(_Found(shown, line, (document.lc.col or 0) + 1, body, positions))
    return out


def _files(root: Path, written: str, project_dir: Path) -> list[tuple[Path, str]]:
    """The manifest files ``written`` names (one file, or a directory's YAML files, sorted)."""
    if root.is_dir():
        found = sorted(p for p in root.rglob("*") if p.suffix in YAML_SUFFIXES and not p.is_dir())
        if not found:
            raise _Refused(f"{written} holds no .yaml or .yml file; put the workload's manifests there")
        if len(found) > MANIFEST_MAX_FILES:
            raise _Refused(
                f"{written} holds {len(found)} YAML files, more than {MANIFEST_MAX_FILES}; split the workload"
            )
    else:
        found = [root]
    out = []
    for path in found:
        shown = path.relative_to(project_dir).as_posix()
        real = outside_project(project_dir, path)
        if real is not None:
            raise _Refused(
                f"{shown} is a symbolic link to {real}, outside the project ({project_dir.resolve()}); copy the "
                "manifest into the project instead of linking"
            )
        if is_stack_settings_file(path):
            raise _Refused(
                f"{shown} is a stack settings file ({path.resolve().name}), not a manifest; point `manifests` at "
                "the workload's own files"
            )
        out.append((path, shown))
    return out


def _dig(node: Any, *parts: str) -> Any:
    for part in parts:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _check_object(found: _Found, workload: str) -> m.ManifestObject:
    body = found.body
    where = f"{found.file}:{found.line}"
    api_version, kind, meta = body.get("apiVersion"), body.get("kind"), body.get("metadata")
    missing = [
        key
        for key, ok in (
            ("apiVersion", isinstance(api_version, str) and api_version),
            ("kind", isinstance(kind, str) and kind),
            ("metadata.name", isinstance(meta, Mapping) and isinstance(meta.get("name"), str) and meta.get("name")),
        )
        if not ok
    ]
    if missing:
        raise _Refused(f"{where}: the object has no {', '.join(missing)}; every Kubernetes object names them")
    name = str(_dig(meta, "name"))
    api_version, kind = str(api_version), str(kind)
    label = f"{kind} {name!r}"
    if kind in CLUSTER_SCOPED:
        raise _Refused(
            f"{where}: {label} is cluster-scoped; a workload's objects live in its own namespace ({workload}): "
            "install cluster-wide objects with the cluster, not with a workload"
        )
    if kind == "Secret":
        raise _Refused(
            f"{where}: {label}: a Secret's values in a manifest file would sit in git in clear; create it out of "
            "band (kubectl, an external secrets operator) and reference it by name, or run the app as an image "
            "workload with `secret_env`, which takes values from stack secrets"
        )
    fields = KINDS.get((api_version, kind))
    if fields is None:
        known = ", ".join(sorted({f"{k} ({v})" for v, k in KINDS}))
        raise _Refused(
            f"{where}: {api_version} {kind} is not a kind edgefleet knows to be namespaced; a workload's manifests "
            f"hold only {known}"
        )
    if not OBJECT_NAME.fullmatch(name):
        raise _Refused(
            f"{where}: {label}: the name is not a valid Kubernetes object name (lower-case, digits, - and .)"
        )
    namespace = _dig(meta, "namespace")
    if namespace is not None and namespace != workload:
        line = found.positions.get("metadata.namespace", (found.line, 1))[0]
        raise _Refused(
            f"{found.file}:{line}: {label} names namespace {namespace!r}; a workload's objects go to its own "
            f"namespace ({workload}): remove `metadata.namespace`"
        )
    extra = sorted(set(body) - fields - {"apiVersion", "kind", "metadata", "status"})
    if extra:
        line = found.positions.get(extra[0], (found.line, 1))[0]
        raise _Refused(
            f"{found.file}:{line}: {label} has {', '.join(f'`{e}`' for e in extra)}, not a field of a {kind}; remove it"
        )
    own = own_objects(workload).get((kind, name))
    if own is not None:
        raise _Refused(f"{where}: {label} is {own}; rename the object")
    _check_metadata(found, label)
    _check_schema(found, label)
    clean = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "status")}
    return m.ManifestObject(
        file=found.file,
        line=found.line,
        col=found.col,
        api_version=api_version,
        kind=kind,
        name=name,
        body=clean,
        positions=found.positions,
    )


def _at(found: _Found | m.ManifestObject, parts: Sequence[PathPart]) -> str:
    """``file:line`` of the deepest written part of ``parts`` (else the object's line)."""
    for end in range(len(parts), 0, -1):
        position = found.positions.get(path_key(parts[:end]))
        if position is not None:
            return f"{found.file}:{position[0]}"
    return f"{found.file}:{found.line}"


def _label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "its prefix (before `/`) is not a DNS subdomain (lower-case, digits, - and .)"
    if not _LABEL_NAME.fullmatch(name):
        return "its name is not 1-63 letters, digits, -, _ and ., starting and ending with a letter or digit"
    return None


def _check_metadata(found: _Found, label: str) -> None:
    """Label and annotation keys, and label values, the API server takes (it would refuse the
    object at `pulumi up`, after other objects were created)."""
    meta = found.body.get("metadata")
    for field in ("labels", "annotations"):
        values = meta.get(field) if isinstance(meta, Mapping) else None
        if not isinstance(values, Mapping):
            continue  # not a mapping: the schema check says so
        for key, value in values.items():
            problem = _label_key_problem(str(key))
            if (
                problem is None
                and field == "labels"
                and isinstance(value, str)
                and value
                and not _LABEL_NAME.fullmatch(value)
            ):
                problem = "its value is not at most 63 letters, digits, -, _ and ., starting and ending with one"
            if problem is not None:
                at = _at(found, ("metadata", field, str(key)))
                raise _Refused(f"{at}: {label}: {field[:-1]} {str(key)!r}: {problem}; fix the manifest")


def _check_schema(found: _Found, label: str) -> None:
    """The object against the Kubernetes API schema (types, and no field the kind lacks at any
    depth): what the typed pulumi-kubernetes class and the API server would refuse, refused first."""
    body = {k: v for k, v in found.body.items() if k != "status"}
    try:
        kubernetes_validate.validate(body, SCHEMA_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        parts = [str(p) if not isinstance(p, int) else p for p in exc.absolute_path]
        where = path_key(parts) or "the object"
        reason = " ".join(str(exc.message).split())
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise _Refused(f"{_at(found, parts)}: {label}: {where}: {reason}; fix the manifest") from None


def _matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether a label selector (``matchLabels`` and ``matchExpressions``) selects ``labels``."""
    if not isinstance(selector, Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, Mapping):
            return False
        key, op, values = str(expr.get("key")), expr.get("operator"), list(expr.get("values") or [])
        present = key in labels
        if (
            (op == "In" and (not present or labels[key] not in values))
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


# What edgefleet creates in a workload's namespace to guard it, by API group and resource: a Role of
# the workload may read them, never change them.
_GUARDED = {("networking.k8s.io", "networkpolicies"), ("policy", "poddisruptionbudgets")}
_READ_VERBS = frozenset({"get", "list", "watch"})


def _guarded_writes(rule: Any) -> str | None:
    """The guarded resources (``networkpolicies``, ``poddisruptionbudgets``) a Role rule may change
    (any verb but get, list and watch; ``*`` groups and resources included), as text, or None."""
    if not isinstance(rule, Mapping):
        return None
    groups, resources, verbs = (rule.get(key) for key in ("apiGroups", "resources", "verbs"))
    if not (isinstance(groups, list) and isinstance(resources, list) and isinstance(verbs, list)):
        return None
    if not {str(v) for v in verbs} - _READ_VERBS:
        return None
    names = {str(r).split("/", 1)[0] for r in resources}  # `networkpolicies/status` is the same object
    hit = sorted(
        resource
        for group, resource in _GUARDED
        if ("*" in groups or group in groups) and ("*" in names or resource in names)
    )
    return " and ".join(hit) or None


def check_interference(objects: Sequence[m.ManifestObject], target: str, workload: str) -> None:
    """Objects that would undo what edgefleet sets or guards (``_Refused``: the first one): a
    HorizontalPodAutoscaler of the scale target (it would fight the placed replicas), a second
    PodDisruptionBudget over its pods (the eviction API refuses to drain a pod two budgets cover),
    a RoleBinding to a ClusterRole, to another namespace's service account or to a ``system:``
    user or group, and a Role rule with an escalating verb."""
    kind, _, name = target.partition("/")
    pod_labels: Mapping[str, Any] = {}
    for obj in objects:
        if obj.kind == kind and obj.name == name:
            found = _dig(obj.body, "spec", "template", "metadata", "labels")
            pod_labels = found if isinstance(found, Mapping) else {}
    for obj in objects:
        label = f"{obj.kind} {obj.name!r}"

        def at(*parts: PathPart, obj: m.ManifestObject = obj) -> str:
            return _at(obj, parts)

        if obj.kind == "HorizontalPodAutoscaler":
            ref = _dig(obj.body, "spec", "scaleTargetRef")
            if isinstance(ref, Mapping) and f"{ref.get('kind')}/{ref.get('name')}" == target:
                raise _Refused(
                    f"{at('spec', 'scaleTargetRef')}: {label} scales {target}, whose replicas edgefleet sets per "
                    "location (they would fight); remove the autoscaler, or set `replicas` and let placement split them"
                )
        elif obj.kind == "PodDisruptionBudget":
            if pod_labels and _matches(_dig(obj.body, "spec", "selector"), pod_labels):
                raise _Refused(
                    f"{at('spec', 'selector')}: {label} selects the pods of {target}, which edgefleet's "
                    f"PodDisruptionBudget {workload!r} covers; a pod under two budgets cannot be evicted (node "
                    "drains fail): remove this one"
                )
        elif obj.kind == "RoleBinding":
            role_kind = _dig(obj.body, "roleRef", "kind")
            if role_kind != "Role":
                raise _Refused(
                    f"{at('roleRef', 'kind')}: {label} binds {role_kind} "
                    f"{_dig(obj.body, 'roleRef', 'name')!r}; a ClusterRole's rules are defined outside the "
                    "workload (cluster-admin, admin, aggregated roles): bind a Role of the manifests that lists "
                    "what the pods need"
                )
            subjects = obj.body.get("subjects")
            for index, subject in enumerate(subjects if isinstance(subjects, list) else []):
                if not isinstance(subject, Mapping):
                    continue
                subject_name, namespace = str(subject.get("name") or ""), subject.get("namespace")
                if subject.get("kind") == "ServiceAccount" and namespace not in (None, workload):
                    raise _Refused(
                        f"{at('subjects', index, 'namespace')}: {label} grants to service account "
                        f"{subject_name!r} of namespace {namespace!r}; a workload grants only to its own "
                        f"namespace's ({workload}) service accounts"
                    )
                if subject.get("kind") in ("User", "Group") and subject_name.startswith(_SYSTEM_SUBJECT):
                    raise _Refused(
                        f"{at('subjects', index, 'name')}: {label} grants to {subject.get('kind')} "
                        f"{subject_name!r}, a Kubernetes system identity (every user, every service account, "
                        "anonymous requests or the nodes); name the workload's own service accounts"
                    )
        elif obj.kind == "Role":
            rules = obj.body.get("rules")
            for index, rule in enumerate(rules if isinstance(rules, list) else []):
                verbs = rule.get("verbs") if isinstance(rule, Mapping) else None
                bad = sorted({str(v) for v in verbs if str(v) in _ESCALATING_VERBS}) if isinstance(verbs, list) else []
                if bad:
                    raise _Refused(
                        f"{at('rules', index, 'verbs')}: {label} grants {', '.join(repr(v) for v in bad)}, which "
                        "reaches past the rules written (edit RBAC, bind any role, act as another identity); "
                        "list the verbs the pods need"
                    )
                guarded = _guarded_writes(rule)
                if guarded:
                    raise _Refused(
                        f"{at('rules', index, 'resources')}: {label} lets its subjects change {guarded}, which "
                        "edgefleet creates to guard the namespace (a pod could delete the default-deny policy or its "
                        "disruption budget); grant only `get`, `list` and `watch` on them"
                    )


def scale_target(objects: Sequence[m.ManifestObject], written: str | None) -> str:
    """The scale target (``Kind/name``): the one ``scale_target`` names, else the only Deployment
    or StatefulSet (``_Refused``: none, several, or not there)."""
    scalable = [f"{o.kind}/{o.name}" for o in objects if o.kind in SCALABLE]
    if written is not None:
        if written not in scalable:
            there = ", ".join(scalable) or "none"
            raise _Refused(f"{written} is not among the workload's manifests (Deployments and StatefulSets: {there})")
        return written
    if len(scalable) == 1:
        return scalable[0]
    if not scalable:
        raise _Refused(
            "the manifests hold no Deployment or StatefulSet, whose replicas edgefleet sets per location; add one"
        )
    raise _Refused(
        f"the manifests hold several Deployments or StatefulSets ({', '.join(scalable)}); name the one whose "
        "replicas edgefleet sets per location with `scale_target: <Kind>/<name>`"
    )


def _manifest_text(path: Path, shown: str) -> str:
    try:
        return read_regular_file(path, max_bytes=MANIFEST_MAX_BYTES, too_large="split the manifest into several files")
    except NotAFileError as exc:
        raise _Refused(f"{shown} {exc}") from None
    except UnicodeDecodeError as exc:
        raise _Refused(f"{shown} is not UTF-8 text ({exc.reason}); manifests are YAML text") from None
    except OSError as exc:
        raise _Refused(f"{shown} cannot be read: {exc.strerror or exc}") from None


def _manifests_found(root: Path, written: str, project_dir: Path) -> list[_Found]:
    """``manifests:``: every document of the file or the directory's YAML files, as written."""
    out: list[_Found] = []
    for path, shown in _files(root, written, project_dir):
        out += _parse(_manifest_text(path, shown), shown)
    return out


def _project_relative(project_dir: Path, real: Path) -> str | None:
    try:
        return real.relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return None


def _take_origin(body: dict[str, Any]) -> Any:
    """Remove kustomize's origin annotation from ``body`` (and an emptied ``annotations``); its value."""
    annotations = _dig(body, "metadata", "annotations")
    if not isinstance(annotations, dict) or rendering.ORIGIN_ANNOTATION not in annotations:
        return None
    written = annotations.pop(rendering.ORIGIN_ANNOTATION)
    if not annotations:
        del body["metadata"]["annotations"]
    try:
        return YAML(typ="safe").load(str(written))
    except YAMLError:
        return None


def _source_document(documents: Sequence[_Found], kind: str, name: str) -> _Found | None:
    """The written document an object kustomize rendered came from: the same kind, and the name it
    had before a name prefix or suffix (the longest written name inside the rendered one)."""
    same_kind = [d for d in documents if d.body.get("kind") == kind]
    names = [(str(_dig(d.body, "metadata", "name")), d) for d in same_kind]
    named = [(len(written), d) for written, d in names if written in name]
    if named:
        return max(named, key=lambda pair: pair[0])[1]
    return same_kind[0] if len(same_kind) == 1 else None


def _generator_line(text: str) -> int:
    """The line of a kustomization's generators (where a generated object was configured)."""
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"\s*(configMapGenerator|secretGenerator)\s*:", line):
            return number
    return 1


def _kustomize_found(root: Path, written: str, project_dir: Path) -> list[_Found]:
    """``kustomize:``: the objects ``kubectl kustomize`` builds, each located at the file (and the
    lines) of the project it came from; refused when any came from outside the project."""
    if not root.is_dir() or rendering.kustomization_file(root) is None:
        raise _Refused(
            f"{written} is not a Kustomize directory (one holding kustomization.yaml); point `kustomize` at the "
            "overlay's directory"
        )
    try:
        built = rendering.kustomize_build(root)
    except rendering.RenderError as exc:
        raise _Refused(f"{written}: kustomize cannot build it: {exc.message}") from None
    sources: dict[str, list[_Found]] = {}
    out: list[_Found] = []
    for doc in _parse(built.text, f"{written} (kustomize output)"):
        origin = _take_origin(doc.body)
        label = f"{doc.body.get('kind')} {str(_dig(doc.body, 'metadata', 'name'))!r}"
        if not isinstance(origin, Mapping) or not (origin.get("path") or origin.get("configuredIn")):
            raise _Refused(f"{written}: kustomize did not say where {label} came from; build it with kubectl 1.27+")
        if origin.get("repo"):
            raise _Refused(
                f"{written}: {label} comes from the remote base {origin.get('repo')}, which may change between plans "
                "and deploys; copy the base into the project (pinned) and refer to it by a relative path"
            )
        from_file = str(origin.get("path") or origin.get("configuredIn"))
        real = rendering.origin_path(built.base, from_file).resolve()
        shown = _project_relative(project_dir, real)
        if shown is None:
            raise _Refused(
                f"{written}: {label} comes from {real}, outside the project ({project_dir.resolve()}); copy the base "
                "into the project"
            )
        generated = not origin.get("path")  # made by a generator of the kustomization `configuredIn`
        if shown not in sources:
            text = _manifest_text(real, shown)
            sources[shown] = [_Found(shown, _generator_line(text), 1, {}, {})] if generated else _parse(text, shown)
        kind, name = str(doc.body.get("kind")), str(_dig(doc.body, "metadata", "name"))
        source = sources[shown][0] if generated else _source_document(sources[shown], kind, name)
        if source is None:
            out.append(_Found(shown, 1, 1, doc.body, {}))
        else:
            out.append(_Found(shown, source.line, source.col, doc.body, dict(source.positions)))
    return out


_SOURCE_LINE = re.compile(r"#\s*Source:\s*(\S+)\s*$")


def _key_of(line: str) -> str | None:
    """The mapping key a YAML line starts with (``- name: x`` -> ``name``), if any."""
    found = re.match(r"\s*(?:-\s+)*([\w./-]+)\s*:", line)
    return found.group(1) if found else None


def _line_map(rendered: Sequence[str], template: Sequence[str]) -> list[int]:
    """For each rendered line (0-based), the 1-based template line it came from. Lines Helm copied
    unchanged match (difflib, indentation aside); a templated line (``privileged: {{ ... }}``)
    matches the template line of the same key among those it replaced, else the one at the same
    offset when as many were replaced, else the first of them (``{{ include ... | nindent }}``);
    lines with no template counterpart take the line above them."""
    a = [line.strip() for line in rendered]
    b = [line.strip() for line in template]
    out = [1] * len(rendered)
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for i in range(i1, i2):
            if op == "equal":
                out[i] = j1 + (i - i1) + 1
            elif op == "replace":
                key = _key_of(rendered[i])
                same = [j for j in range(j1, j2) if key is not None and _key_of(template[j]) == key]
                if same:
                    out[i] = same[0] + 1
                elif i2 - i1 == j2 - j1:
                    out[i] = j1 + (i - i1) + 1
                else:
                    out[i] = j1 + 1
            else:  # insert: nothing in the template
                out[i] = max(j1, 1)
    return out


def _chart_name(chart_dir: Path) -> str:
    try:
        meta = YAML(typ="safe").load(read_regular_file(chart_dir / "Chart.yaml", max_bytes=MANIFEST_MAX_BYTES))
    except (OSError, UnicodeDecodeError, YAMLError):
        return chart_dir.name
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return str(name) if name else chart_dir.name


CHART_MAX_FILES = 2000


def _chart_stays_inside(root: Path, chart_shown: str, project_dir: Path) -> None:
    """Every file of a project chart is the project's: Helm follows links, so a template or a
    `.Files.Get` file linked out of the project would render another file of the machine (a CI
    credential, say) into the plan."""
    for count, path in enumerate(sorted(root.rglob("*")), start=1):
        if count > CHART_MAX_FILES:
            raise _Refused(f"{chart_shown} holds more than {CHART_MAX_FILES} files; is it a chart?", ("helm", "chart"))
        real = outside_project(project_dir, path)
        if real is not None:
            shown = path.relative_to(project_dir).as_posix()
            raise _Refused(
                f"{shown} is a symbolic link to {real}, outside the project ({project_dir.resolve()}); a chart's "
                "files are rendered into the plan: copy the file into the chart instead of linking",
                ("helm", "chart"),
            )


def _helm_found(spec: m.WorkloadSpec, project_dir: Path, values_from: Sequence[int]) -> list[_Found]:
    """``helm:``: the objects ``helm template`` renders (the overrides' ``values`` in
    ``values_from`` over the workload's), each located at its template's file and line."""
    helm = spec.helm
    assert helm is not None
    local: Path | None = None
    remote: tuple[str, str, str] | None = None
    if isinstance(helm.chart, str):
        root, problem = project_file_problem(project_dir, helm.chart, "charts/web", "chart")
        if root is None:
            raise _Refused(problem, ("helm", "chart"))
        if not root.is_dir() or not (root / "Chart.yaml").is_file():
            raise _Refused(
                f"{helm.chart} is not a chart directory (one holding Chart.yaml); unpack a packaged chart into the "
                "project with `tar xzf`, or name a repository's chart as `{repo, name, version}`",
                ("helm", "chart"),
            )
        local = root
        chart_shown = root.relative_to(project_dir).as_posix()
        _chart_stays_inside(root, chart_shown, project_dir)
    else:
        remote = (helm.chart.repo, helm.chart.name, helm.chart.version)
        chart_shown = f"{helm.chart.name}-{helm.chart.version}"
    files: list[Path] = []
    for index, written in enumerate(helm.values_files):
        path, problem = project_file_problem(project_dir, written, "apps/web/values.yaml", "values file")
        if path is None:
            raise _Refused(problem, ("helm", "values_files", index))
        if is_stack_settings_file(path):
            raise _Refused(
                f"{written} is a stack settings file, not a values file; the stack's secrets stay out of charts",
                ("helm", "values_files", index),
            )
        try:
            read_regular_file(path, max_bytes=MANIFEST_MAX_BYTES, too_large="split the values")
        except NotAFileError as exc:
            raise _Refused(f"{written} {exc}", ("helm", "values_files", index)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _Refused(f"{written} cannot be read as text: {exc}", ("helm", "values_files", index)) from None
        files.append(path)
    layers = [helm.values, *(spec.overrides[i].values for i in values_from)]
    try:
        with rendering.helm_chart(local, remote) as (chart_dir, scratch):
            name = _chart_name(chart_dir)
            try:
                # Twice: a chart that renders differently each time (`randAlphaNum`, `uuidv4`, `now`)
                # would change its objects at every `pulumi up` and make no two plans alike.
                text, again = (
                    rendering.helm_template(
                        chart_dir,
                        release=spec.name,
                        namespace=spec.name,
                        values_files=files,
                        values=layers,
                        scratch=scratch,
                    )
                    for _ in range(2)
                )
            except rendering.ToolMissing:
                raise
            except rendering.RenderError as exc:
                said = re.sub(rf"(?<![\w/.-]){re.escape(name)}/", f"{chart_shown}/", exc.message)
                said = said.replace(str(chart_dir), chart_shown)
                raise _Refused(f"{chart_shown}: the chart fails to render: {said}", ("helm",)) from None
            documents = _helm_documents(text, chart_dir, chart_shown)
            if again != text:
                raise _Refused(_unstable(documents, _helm_documents(again, chart_dir, chart_shown)), ("helm",))
            return documents
    except rendering.ToolMissing as exc:
        raise _Refused(exc.message, ("helm",)) from None
    except rendering.RenderError as exc:  # the chart could not be fetched
        assert remote is not None
        raise _Refused(
            f"chart {remote[1]} {remote[2]} cannot be fetched from {remote[0]}: {exc.message}; edgefleet renders "
            "a repository chart by fetching it at every plan: where there is no network, vendor it into the "
            "project (`helm pull --untar`) and point `chart` at its directory",
            ("helm", "chart"),
        ) from None


def _first_difference(one: Any, two: Any, parts: tuple[PathPart, ...] = ()) -> tuple[PathPart, ...] | None:
    """The path of the first value that differs between two plain JSON values (None: equal)."""
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        for key in sorted(set(one) | set(two), key=str):
            found = _first_difference(one.get(key), two.get(key), (*parts, str(key)))
            if found is not None:
                return found
        return None
    if isinstance(one, list) and isinstance(two, list) and len(one) == len(two):
        for index, (a, b) in enumerate(zip(one, two, strict=True)):
            found = _first_difference(a, b, (*parts, index))
            if found is not None:
                return found
        return None
    return None if one == two else parts


def _unstable(first: Sequence[_Found], second: Sequence[_Found]) -> str:
    """Where two renderings of a chart differ (the first differing field of the first differing
    object), as a refusal."""
    for one, two in zip(first, second, strict=False):
        where = _first_difference(one.body, two.body)
        if where is None:
            continue
        label = f"{one.body.get('kind')} {str(_dig(one.body, 'metadata', 'name'))!r}"
        return (
            f"{_at(one, where)}: {label}: {path_key(where)} is different at every rendering (a random or time "
            "function such as `randAlphaNum`, `uuidv4` or `now`), so the object would change at every deploy and no "
            "two plans would match: give the value in the chart's values"
        )
    return "the chart renders different objects at every rendering; give its random values in the chart's values"


def _helm_documents(text: str, chart_dir: Path, chart_shown: str) -> list[_Found]:
    out: list[_Found] = []
    templates: dict[str, list[str]] = {}
    for chunk in re.split(r"(?m)^---[ \t]*$\n?", text):
        if not chunk.strip():
            continue
        lines = chunk.splitlines()
        found = _SOURCE_LINE.match(lines[0].strip()) if lines else None
        relative = found.group(1).split("/", 1)[1] if found and "/" in found.group(1) else ""
        shown = f"{chart_shown}/{relative}" if relative else chart_shown
        if relative and relative not in templates:
            path = chart_dir / relative
            inside = _project_relative(chart_dir, path.resolve()) is not None
            try:
                templates[relative] = _manifest_text(path, shown).splitlines() if inside else []
            except _Refused:
                templates[relative] = []
        line_of = _line_map(lines, templates.get(relative, []))

        def mapped(line: int, line_of: list[int] = line_of) -> int:
            return line_of[min(max(line, 1), len(line_of)) - 1] if line_of else line

        for doc in _parse(chunk, shown):
            annotations = _dig(doc.body, "metadata", "annotations")
            hook = annotations.get(rendering.HOOK_ANNOTATION) if isinstance(annotations, Mapping) else None
            label = f"{doc.body.get('kind')} {str(_dig(doc.body, 'metadata', 'name'))!r}"
            if hook is not None:
                raise _Refused(
                    f"{shown}:{mapped(doc.line)}: {label} is a Helm hook ({rendering.HOOK_ANNOTATION}: {hook}); "
                    "edgefleet applies a chart's objects as ordinary resources, so a hook would not run at its "
                    "moment: turn it off in the chart's values, or run the task as a Job of its own",
                    ("helm",),
                )
            positions = {key: (mapped(line), col) for key, (line, col) in doc.positions.items()}
            out.append(_Found(shown, mapped(doc.line), doc.col, doc.body, positions))
    return out


def _source_found(spec: m.WorkloadSpec, source: str, project_dir: Path, values_from: Sequence[int]) -> list[_Found]:
    if source == "helm":
        return _helm_found(spec, project_dir, values_from)
    written = str(getattr(spec, source))
    root, problem = project_file_problem(
        project_dir, written, "apps/web/" if source == "manifests" else "apps/web/overlays/prod", source
    )
    if root is None:
        raise _Refused(problem)
    if source == "kustomize":
        return _kustomize_found(root, written, project_dir)
    return _manifests_found(root, written, project_dir)


def load_manifests(
    spec: m.WorkloadSpec,
    loc: tuple[PathPart, ...],
    report: Report,
    project_dir: Path | None,
    values_from: Sequence[int] = (),
) -> tuple[tuple[m.ManifestObject, ...], str] | None:
    """The workload's own objects (``manifests``, ``kustomize`` or ``helm``; for a helm workload,
    with the ``values`` of the overrides ``values_from``) and its scale target (None: something
    was reported)."""
    source = spec.objects_source
    assert source is not None
    where: tuple[PathPart, ...] = (*loc, source)
    if values_from:
        where = (*loc, "overrides", values_from[-1], "values")
    if project_dir is None:
        report(where, f"{source} are read from the project directory, which this loader was not given")
        return None
    objects: list[m.ManifestObject] = []
    seen: dict[tuple[str, str], m.ManifestObject] = {}
    try:
        for found in _source_found(spec, source, project_dir, values_from):
            obj = _check_object(found, spec.name)
            other = seen.get((obj.kind, obj.name))
            if other is not None:
                raise _Refused(
                    f"{obj.file}:{obj.line}: {obj.kind} {obj.name!r} is already defined at {other.file}:"
                    f"{other.line}; an object is created once: remove or rename one"
                )
            seen[(obj.kind, obj.name)] = obj
            objects.append(obj)
            if len(objects) > MANIFEST_MAX_OBJECTS:
                raise _Refused(f"the {source} source holds more than {MANIFEST_MAX_OBJECTS} objects; split it")
        if not objects:
            raise _Refused(f"the {source} source gives no Kubernetes object; add the workload's objects")
    except _Refused as exc:
        report((*loc, *exc.where) if exc.where and not values_from else where, exc.message)
        return None
    try:
        target = scale_target(objects, spec.scale_target)
    except _Refused as exc:
        report((*loc, "scale_target") if spec.scale_target is not None else where, exc.message)
        return None
    try:
        check_interference(objects, target, spec.name)
    except _Refused as exc:
        report(where, exc.message)
        return None
    return tuple(objects), target


def pod_spec_path(kind: str) -> tuple[str, ...] | None:
    """Where ``kind`` keeps its pod spec (None: it has no pods)."""
    return POD_SPEC_PATHS.get(kind)


def service_ports(objects: Sequence[m.ManifestObject]) -> list[tuple[int | str, str]]:
    """The (pod port, protocol) pairs the workload's Services send traffic to: each port's
    ``targetPort``, else its ``port`` (sorted, each once): the allow rule's ports."""
    found: set[tuple[int | str, str]] = set()
    for obj in objects:
        if obj.kind != "Service":
            continue
        ports = _dig(obj.body, "spec", "ports")
        for port in ports if isinstance(ports, list) else []:
            if not isinstance(port, Mapping):
                continue
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, bool) or not isinstance(target, (int, str)):
                continue
            found.add((target, str(port.get("protocol") or "TCP")))
    return sorted(found, key=lambda p: (str(type(p[0])), str(p[0]).zfill(5), p[1]))


def scale_selector(objects: Sequence[m.ManifestObject], target: str) -> dict[str, Any]:
    """The scale target's ``spec.selector`` (the PodDisruptionBudget selects the same pods)."""
    for obj in objects:
        if f"{obj.kind}/{obj.name}" == target:
            selector = _dig(obj.body, "spec", "selector")
            return copy.deepcopy(dict(selector)) if isinstance(selector, Mapping) else {}
    return {}


def _containers(pod: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers"):
        value = pod.get(key)
        for container in value if isinstance(value, list) else []:
            if isinstance(container, dict):
                yield container


def render(
    objects: Sequence[m.ManifestObject],
    target: str,
    *,
    replicas: int,
    settings: m.LocationSettings,
    labels: Mapping[str, str],
    site_env: Mapping[str, str],
) -> list[tuple[m.ManifestObject, dict[str, Any]]]:
    """Each object as it goes to one location (a deep copy): ``labels`` and the override's labels on
    every object; on the scale target, ``replicas``, and on each container of its pod template the
    override's ``image``, the ``EDGEFLEET_*`` variables first and the ``env`` values (replacing a
    variable of the same name)."""
    out = []
    for obj in objects:
        body = copy.deepcopy(obj.body)
        meta = body.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), **settings.labels, **labels}
        pod_path = POD_SPEC_PATHS.get(obj.kind)
        template = _dig(body, *pod_path[:-1]) if pod_path else None
        if isinstance(template, dict) and settings.labels:  # the override's labels reach the pods too
            template_meta = template.setdefault("metadata", {})
            template_meta["labels"] = {**(template_meta.get("labels") or {}), **settings.labels}
        if f"{obj.kind}/{obj.name}" == target:
            spec = body.setdefault("spec", {})
            spec["replicas"] = replicas
            pod = _dig(spec, "template", "spec")
            for container in _containers(pod if isinstance(pod, dict) else {}):
                if settings.image is not None:
                    container["image"] = settings.image
                ours = {**site_env, **settings.env}
                theirs = [
                    e for e in container.get("env") or [] if not (isinstance(e, Mapping) and e.get("name") in ours)
                ]
                container["env"] = [
                    *({"name": k, "value": v} for k, v in site_env.items()),
                    *theirs,
                    *({"name": k, "value": v} for k, v in sorted(settings.env.items())),
                ]
        out.append((obj, body))
    return out

"""Public component args to the resolved models the components build from, and back.

A public component (``EksCluster(name, {...})``) validates its args with the fleet config's own
parser, as a one-cluster fleet: the same defaults, rules and messages, before any resource is
registered. A bad argument is a ``pulumi.RunError`` (no traceback) naming the component, the
resource and the argument (``EksCluster 'edge-1': args.node_pools[0].max: ...``).

The fleet path goes through the same door: ``cluster_args`` writes a resolved cluster of a fleet
back as public args (with what the fleet decided - its name, address block, project - spelled
out), and the component resolves them again. ``tests/test_public_api.py`` shows the round trip
gives every example cluster back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import ValidationError

from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.model import Cluster, FleetSpec, PlacementSpec, RolloutSpec, Vendor, Workload
from edgefleet.components.config.parse import parse_fleet

# An existing cluster's kubeconfig arrives as a value; the fleet config names it by config key.
# The parser only checks the key's shape here (no stack config to look it up in).
KUBECONFIG_KEY = "kubeconfig"

# Keys of the args that are not part of the fleet config's cluster entry.
_FLEET_KEYS = ("owner", "environment", "tags")


class ArgsError(pulumi.RunError, ValueError):
    """A public component's args are invalid; nothing was registered. A ``RunError`` (the
    program stops with this message, no traceback) and a ``ValueError`` for library callers."""


def plain_args(value: Any) -> Any:
    """``value`` with ``None`` entries dropped at every level (another language's SDK sends an
    unset optional key as null) and tuples as lists (what a YAML fleet would hold)."""
    if isinstance(value, Mapping):
        return {k: plain_args(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain_args(v) for v in value]
    return value


def _arg_path(path: str) -> str:
    """``fleet.clusters[0].node_pools[1].max`` -> ``args.node_pools[1].max``; ``fleet.owner`` ->
    ``args.owner``."""
    path = re.sub(r"^fleet\.clusters\[0\]", "args", path)
    path = re.sub(r"^fleet\b", "args", path)
    return path


def _fail(component: str, resource_name: str, issues: list[ConfigIssue]) -> ArgsError:
    lines = [f"{component} {resource_name!r}: {_arg_path(i.path)}: {i.message}" for i in issues]
    return ArgsError("\n".join(lines))


def cluster_from_args(
    vendor: Vendor, resource_name: str, args: object, component: str
) -> tuple[Cluster, FleetSpec, pulumi.Input[str] | None]:
    """Validate a cluster component's public args: the resolved cluster, its one-cluster fleet
    (owner, environment, tags) and the kubeconfig given (existing clusters), or ``ArgsError``."""
    if not isinstance(args, Mapping):
        raise ArgsError(
            f"{component} {resource_name!r}: args must be a mapping of the cluster's settings "
            f"({component}Args), got {type(args).__name__}"
        )
    kubeconfig = args.get("kubeconfig")
    entry = plain_args({k: v for k, v in args.items() if k != "kubeconfig"})
    raw: dict[str, Any] = {k: entry.pop(k) for k in _FLEET_KEYS if k in entry}
    entry.setdefault("name", resource_name)
    if kubeconfig is not None:
        entry["kubeconfig"] = KUBECONFIG_KEY
    raw["clusters"] = [{"vendor": vendor.value, **entry}]
    try:
        fleet = parse_fleet(raw, available_keys=None)
    except ConfigError as exc:
        raise _fail(component, resource_name, list(exc.issues)) from None
    return fleet.clusters[0], fleet, kubeconfig


def cluster_args(cluster: Cluster, fleet: FleetSpec, kubeconfig: pulumi.Input[str] | None) -> dict[str, Any]:
    """A resolved cluster of ``fleet`` as its component's public args: the entry as written (with
    the fleet's defaults merged), plus what the fleet decided for it spelled out (its name,
    address block, GCP project, ``protect``), so resolving them again gives the same cluster."""
    entry = cluster.spec.model_dump(mode="json", exclude_unset=True, exclude_none=True, serialize_as_any=True)
    entry.pop("vendor")
    entry.pop("kubeconfig", None)
    entry["name"] = cluster.name
    if cluster.network is not None:  # a cloud cluster
        entry["network"] = {"block": cluster.network.block}
        entry["protect"] = cluster.protect
    if cluster.project is not None:
        entry["project"] = cluster.project
    out: dict[str, Any] = {"owner": fleet.owner, "environment": fleet.environment, "tags": dict(fleet.tags), **entry}
    if kubeconfig is not None:
        out["kubeconfig"] = kubeconfig
    return out


def cluster_labels(owner: str, environment: str, cluster: str) -> dict[str, str]:
    """Labels every Kubernetes object edgefleet creates in ``cluster`` carries."""
    return {"owner": owner, "environment": environment, "edgefleet-cluster": cluster}


# -- resource options ------------------------------------------------------------------------------


def kubernetes_provider(opts: pulumi.ResourceOptions | None) -> k8s.Provider | None:
    """The Kubernetes provider the options give a component: ``provider``, a ``providers``
    entry, or the parent's."""
    if opts is None:
        return None
    if isinstance(opts.provider, k8s.Provider):
        return opts.provider
    providers = opts.providers
    found = (
        providers.get("kubernetes")
        if isinstance(providers, Mapping)
        else next((p for p in providers or () if isinstance(p, k8s.Provider)), None)
    )
    if found is None and opts.parent is not None:
        found = opts.parent.get_provider("kubernetes::")
    return found if isinstance(found, k8s.Provider) else None


def depends_on_of(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The resources the options say must exist first."""
    waits = opts.depends_on if opts is not None else None
    if isinstance(waits, pulumi.Resource):
        return [waits]
    if isinstance(waits, list | tuple):
        return [w for w in waits if isinstance(w, pulumi.Resource)]
    return []


# -- workloads -------------------------------------------------------------------------------------

# The cluster entry keys a workload's resolution reads (the rest are the cluster component's).
_WORKLOAD_CLUSTER_KEYS = (
    "name", "vendor", "region", "location", "labels", "cni", "project", "autopilot",
    "endpoint", "kubernetes_version", "node_pools", "network", "protect",
)  # fmt: skip


def workload_from_args(
    resource_name: str, args: object, component: str = "EdgeWorkload"
) -> tuple[Workload, Cluster, FleetSpec, dict[str, Any]]:
    """Validate an EdgeWorkload's public args as a one-cluster fleet: the resolved workload, its
    cluster, the fleet (owner, environment) and the secret values by variable, or ``ArgsError``.

    Placement and rollout name the whole fleet's clusters: the workload is resolved as placed on
    this cluster alone, and its own ``placement`` (validated) is kept for what the component
    declares (``min_vendors``, ``requires``, residency). Overrides for other clusters are left out
    (they change nothing here)."""
    if not isinstance(args, Mapping):
        raise ArgsError(
            f"{component} {resource_name!r}: args must be a mapping (EdgeWorkloadArgs), got {type(args).__name__}"
        )
    secret_values = args.get("secret_env") or {}
    plain = plain_args({k: v for k, v in args.items() if k != "secret_env"})
    unknown = sorted(set(plain) - {"owner", "environment", "cluster", "workload", "replicas", "steered", "project_dir"})
    problems = [ConfigIssue(f"fleet.{key}", "not an EdgeWorkload argument; remove it") for key in unknown]
    cluster = plain.get("cluster")
    workload = plain.get("workload")
    if not isinstance(cluster, Mapping):
        problems.append(
            ConfigIssue("fleet.cluster", "give the cluster it goes to: `{name, vendor, region or location}`")
        )
        cluster = {}
    if not isinstance(workload, Mapping):
        problems.append(ConfigIssue("fleet.workload", "give the workload (a fleet config `workloads[]` entry)"))
        workload = {}
    if not isinstance(secret_values, Mapping):
        problems.append(ConfigIssue("fleet.secret_env", "give a mapping of variable name to secret value"))
        secret_values = {}
    if problems:
        raise _fail(component, resource_name, problems)
    name = cluster.get("name")
    entry = {k: v for k, v in cluster.items() if k in _WORKLOAD_CLUSTER_KEYS}
    extra = sorted(set(cluster) - set(_WORKLOAD_CLUSTER_KEYS))
    if extra:
        raise _fail(
            component, resource_name, [ConfigIssue(f"fleet.cluster.{k}", "not read here; remove it") for k in extra]
        )
    if "secret_env" in workload:
        raise _fail(
            component,
            resource_name,
            [ConfigIssue("fleet.workload.secret_env", "give the secret values as `secret_env` beside `workload`")],
        )
    placement = workload.get("placement") or {}
    own = {k: v for k, v in workload.items() if k not in ("placement", "rollout", "overrides")}
    own["placement"] = {
        "strategy": "pinned",
        "clusters": [name],
        **{k: placement[k] for k in ("residency", "requires") if isinstance(placement, Mapping) and k in placement},
    }
    if "replicas" in plain:
        own["replicas"] = plain["replicas"]
    overrides = workload.get("overrides")
    if isinstance(overrides, list):
        own["overrides"] = [
            o for o in overrides if not isinstance(o, Mapping) or "clusters" not in o or name in (o["clusters"] or ())
        ]
    if secret_values:
        own["secret_env"] = {variable: _secret_key(i) for i, variable in enumerate(sorted(secret_values))}
    raw: dict[str, Any] = {
        "owner": plain.get("owner"),
        "environment": plain.get("environment"),
        "clusters": [entry],
        "workloads": [own],
        "netcheck": {"enabled": False},
    }
    if plain.get("steered") is True:
        raw["traffic"] = STEERED
    project = plain.get("project_dir")
    try:
        fleet = parse_fleet(
            raw, available_keys=None, project_dir=Path(project) if isinstance(project, str) else Path.cwd()
        )
        kept = PlacementSpec.model_validate(placement)
    except ConfigError as exc:
        raise _fail(component, resource_name, [_workload_path(i) for i in exc.issues]) from None
    except ValidationError as exc:
        issues = [
            ConfigIssue("fleet.workload.placement." + ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()
        ]
        raise _fail(component, resource_name, issues) from None
    (resolved,) = fleet.workloads
    spec = resolved.spec.model_copy(update={"placement": kept, "rollout": RolloutSpec()})
    resolved = resolved.model_copy(update={"spec": spec})
    return resolved, fleet.clusters[0], fleet, dict(secret_values)


# What a one-cluster fleet says about DNS when the workload is steered: only that there is a
# `traffic` block (its zone and provider are the DnsSteering's business, not the workload's).
STEERED: dict[str, Any] = {"provider": "route53", "zone": "steered.invalid", "zone_id": "Z0000000000000000000"}


def _secret_key(index: int) -> str:
    """A config-key-shaped name for the parser (the values come with the args)."""
    return f"secret{index}"


def _workload_path(issue: ConfigIssue) -> ConfigIssue:
    """A one-cluster fleet's issue at the EdgeWorkload argument it came from."""
    path = re.sub(r"^fleet\.workloads\[0\]", "fleet.workload", issue.path)
    path = re.sub(r"^fleet\.clusters\[0\]", "fleet.cluster", path)
    return ConfigIssue(path, issue.message, issue.position)


def workload_args(
    workload: Workload,
    cluster: Cluster,
    fleet: FleetSpec,
    replicas: int,
    *,
    secrets: Mapping[str, pulumi.Input[str]],
    project_dir: Path | None,
) -> dict[str, Any]:
    """A fleet's workload on one of its clusters as EdgeWorkload's public args."""
    entry = workload.spec.model_dump(mode="json", exclude_unset=True, exclude_none=True, serialize_as_any=True)
    entry.pop("secret_env", None)
    cluster_entry = {k: v for k, v in cluster_args(cluster, fleet, None).items() if k in _WORKLOAD_CLUSTER_KEYS}
    cluster_entry["vendor"] = cluster.vendor.value
    out: dict[str, Any] = {
        "owner": fleet.owner,
        "environment": fleet.environment,
        "cluster": cluster_entry,
        "workload": entry,
        "replicas": replicas,
    }
    if workload.hostname is not None:
        out["steered"] = True
    if workload.spec.secret_env:
        out["secret_env"] = {name: secrets[key] for name, key in sorted(workload.spec.secret_env.items())}
    if project_dir is not None:
        out["project_dir"] = str(project_dir)
    return out

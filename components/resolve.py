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
from typing import Any

import pulumi

from edgefleet.components.config.errors import ConfigError, ConfigIssue
from edgefleet.components.config.model import Cluster, FleetSpec, Vendor
from edgefleet.components.config.parse import parse_fleet

# An existing cluster's kubeconfig arrives as a value; the fleet config names it by config key.
# The parser only checks the key's shape here (no stack config to look it up in).
KUBECONFIG_KEY = "kubeconfig"

# Keys of the args that are not part of the fleet config's cluster entry.
_FLEET_KEYS = ("owner", "environment", "tags")


class ArgsError(pulumi.RunError):
    """A public component's args are invalid; nothing was registered."""


def _plain(value: Any) -> Any:
    """``value`` with ``None`` entries dropped at every level (another language's SDK sends an
    unset optional key as null) and tuples as lists (what a YAML fleet would hold)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
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
    entry = _plain({k: v for k, v in args.items() if k != "kubeconfig"})
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
    entry = cluster.spec.model_dump(mode="json", exclude_unset=True, exclude_none=True)
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

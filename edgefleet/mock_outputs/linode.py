"""Mock outputs for the linode provider's resources and functions (see ``edgefleet/mocks.py``).

An LKE cluster reports what the Linode API does for a standard-tier cluster: a numeric id, the API
endpoints (the ``<uuid>.<region>-1-gw.linodelke.net`` name first, then the gateway address), a
base64 kubeconfig whose user holds a bearer token (LKE has no exec credential plugin), its pools
with ids and ready nodes, ``tier: standard`` and no VPC. State keys are the wire names.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from pulumi.runtime import MockResourceArgs

from edgefleet.mock_outputs.common import CallMock, ResourceMock, documentation_ip, fake_ca, stable_hex, stable_uuid

LKE_CLUSTER = "linode:index/lkeCluster:LkeCluster"


def _number(digits: int, *parts: str) -> int:
    """A positive integer of ``digits`` digits that depends only on ``parts``."""
    low = int(10 ** (digits - 1))
    return low + int(stable_hex(12, *parts), 16) % (9 * low)


def _kubeconfig(cluster_id: int, server: str, *parts: str) -> str:
    """Base64 of the kubeconfig LKE hands out (``lke<id>`` cluster, ``lke<id>-admin`` token user)."""
    name = f"lke{cluster_id}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": fake_ca(*parts)}}],
        "users": [{"name": f"{name}-admin", "user": {"as-user-extra": {}, "token": stable_hex(64, "token", *parts)}}],
        "contexts": [
            {"name": f"{name}-ctx", "context": {"cluster": name, "namespace": "default", "user": f"{name}-admin"}}
        ],
        "current-context": f"{name}-ctx",
    }
    return base64.b64encode(json.dumps(doc, indent=2, sort_keys=True).encode()).decode()


def _pool(pool: dict[str, Any], index: int, *parts: str) -> dict[str, Any]:
    """A node pool as read back: id, node count (the autoscaler's minimum when unset), ready nodes."""
    out = copy.deepcopy(pool)
    pool_id = _number(6, "pool", str(index), *parts)
    count = int(out.get("count") or (out.get("autoscaler") or {}).get("min") or 1)
    out.update(
        {
            "id": pool_id,
            "count": count,
            "diskEncryption": out.get("diskEncryption") or "disabled",
            "label": out.get("label") or "",
            "tags": out.get("tags") or [],
            "nodes": [
                {
                    "id": f"{pool_id}-{stable_hex(8, 'node', str(n), *parts)}",
                    "instanceId": _number(8, "node", str(index), str(n), *parts),
                    "status": "ready",
                }
                for n in range(count)
            ],
        }
    )
    return out


def lke_cluster(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """``linode.LkeCluster``: inputs plus id, endpoints, kubeconfig, status and pool details."""
    parts = (args.typ, args.name)
    state: dict[str, Any] = copy.deepcopy(dict(args.inputs))
    cluster_id = _number(6, *parts)
    region = str(state.get("region") or "us-ord")
    host = f"{stable_uuid(*parts)}.{region}-1-gw.linodelke.net"
    address = documentation_ip(*parts)
    endpoints = [f"https://{host}:443", f"https://{host}:6443", f"https://{address}:443", f"https://{address}:6443"]
    control_plane = state.get("controlPlane") or {}
    control_plane.setdefault("highAvailability", False)
    control_plane.setdefault("auditLogsEnabled", False)
    control_plane.setdefault("acl", {"enabled": False, "addresses": []})
    state.update(
        {
            "apiEndpoints": endpoints,
            "kubeconfig": _kubeconfig(cluster_id, endpoints[0], *parts),
            "status": "ready",
            "tier": "standard",
            "stackType": "ipv4",
            "vpcId": 0,
            "subnetId": 0,
            "aplEnabled": False,
            "controlPlane": control_plane,
            "tags": state.get("tags") or [],
            "pools": [_pool(p, i, *parts) for i, p in enumerate(state.get("pools") or [])],
        }
    )
    return str(cluster_id), state


RESOURCES: dict[str, ResourceMock] = {LKE_CLUSTER: lke_cluster}
CALLS: dict[str, CallMock] = {}

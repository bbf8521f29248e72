"""Mock outputs for the digitalocean provider's resources and functions (see ``edgefleet/mocks.py``).

Shapes follow pulumi-digitalocean 4.x (wire names) and the DigitalOcean API: resource ids are
UUIDs, URNs are ``do:<kind>:<uuid>``, a cluster's endpoint is ``https://<uuid>.k8s.ondigitalocean.com``
and its ``kubeConfigs`` carry the token kubeconfig DigitalOcean returns (7-day token).
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs

from edgefleet.mock_outputs.common import CallMock, ResourceMock, documentation_ip, fake_ca, stable_hex, stable_uuid

CREATED_AT = "2026-01-05T09:00:00Z"
TOKEN_EXPIRES_AT = "2026-01-12T09:00:00Z"  # DOKS kubeconfig tokens last 7 days by default
# DOKS' overlay ranges when a cluster is not VPC-native (no clusterSubnet/serviceSubnet given).
DEFAULT_CLUSTER_SUBNET = "10.244.0.0/16"
DEFAULT_SERVICE_SUBNET = "10.245.0.0/16"
# What getKubernetesVersions answers without a prefix (newest first, as the API lists them).
VERSIONS = ("1.36.1-do.0", "1.35.1-do.0", "1.34.3-do.0")


def _nodes(pool_name: str, count: int, *parts: str) -> list[dict[str, Any]]:
    """A pool's nodes as the provider reports them (name ``<pool>-<5 chars>``, droplet ids)."""
    out = []
    for i in range(count):
        key = (*parts, pool_name, str(i))
        out.append(
            {
                "id": stable_uuid("node", *key),
                "name": f"{pool_name}-{stable_hex(5, 'node-name', *key)}",
                "status": "running",
                "dropletId": str(400_000_000 + int(stable_hex(7, "droplet", *key), 16) % 100_000_000),
                "createdAt": CREATED_AT,
                "updatedAt": CREATED_AT,
            }
        )
    return out


def _pool_state(pool: dict[str, Any], pool_id: str, *parts: str) -> dict[str, Any]:
    count = int(pool.get("nodeCount") or pool.get("minNodes") or 1)
    return {
        **pool,
        "id": pool_id,
        "actualNodeCount": count,
        "nodes": _nodes(str(pool.get("name", "pool")), count, *parts),
    }


def _raw_kubeconfig(context: str, endpoint: str, ca: str, token: str) -> str:
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        f"    certificate-authority-data: {ca}\n"
        f"    server: {endpoint}\n"
        f"  name: {context}\n"
        "contexts:\n"
        "- context:\n"
        f"    cluster: {context}\n"
        f"    user: {context}-admin\n"
        f"  name: {context}\n"
        f"current-context: {context}\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {context}-admin\n"
        "  user:\n"
        f"    token: {token}\n"
    )


def kubernetes_cluster(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """``digitalocean:index/kubernetesCluster:KubernetesCluster``: id, endpoint, kubeConfigs, pool."""
    inputs = dict(args.inputs)
    cluster_id = stable_uuid(args.typ, args.name)
    endpoint = f"https://{cluster_id}.k8s.ondigitalocean.com"
    ca = fake_ca(args.typ, args.name)
    token = "doo_v1_" + stable_hex(64, "token", args.typ, args.name)
    context = f"do-{inputs.get('region', '')}-{inputs.get('name', args.name)}"
    ha = bool(inputs.get("ha", False))
    state = {
        **inputs,
        "endpoint": endpoint,
        "clusterUrn": f"do:kubernetes:{cluster_id}",
        "status": "running",
        "ha": ha,
        # Not set when the control plane is highly available (provider docs).
        "ipv4Address": "" if ha else documentation_ip(args.typ, args.name),
        "clusterSubnet": inputs.get("clusterSubnet", DEFAULT_CLUSTER_SUBNET),
        "serviceSubnet": inputs.get("serviceSubnet", DEFAULT_SERVICE_SUBNET),
        "surgeUpgrade": inputs.get("surgeUpgrade", True),
        "registryIntegration": inputs.get("registryIntegration", False),
        "destroyAllAssociatedResources": inputs.get("destroyAllAssociatedResources", False),
        "maintenancePolicy": {**(inputs.get("maintenancePolicy") or {}), "duration": "4h0m0s"},
        "nodePool": _pool_state(
            dict(inputs.get("nodePool") or {}), stable_uuid("pool", args.typ, args.name), args.typ, args.name
        ),
        "kubeConfigs": [
            {
                "rawConfig": _raw_kubeconfig(context, endpoint, ca, token),
                "host": endpoint,
                "clusterCaCertificate": ca,
                "token": token,
                "expiresAt": TOKEN_EXPIRES_AT,
            }
        ],
        "createdAt": CREATED_AT,
        "updatedAt": CREATED_AT,
    }
    return cluster_id, state


def kubernetes_node_pool(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """``digitalocean:index/kubernetesNodePool:KubernetesNodePool``: id, actualNodeCount, nodes."""
    pool_id = stable_uuid(args.typ, args.name)
    return pool_id, _pool_state(dict(args.inputs), pool_id, args.typ, args.name)


def vpc(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """``digitalocean:index/vpc:Vpc``: id and URN."""
    vpc_id = stable_uuid(args.typ, args.name)
    return vpc_id, {**args.inputs, "urn": f"do:vpc:{vpc_id}", "default": False, "createdAt": CREATED_AT}


def kubernetes_versions(args: MockCallArgs) -> dict[str, Any]:
    """``getKubernetesVersions``: the slugs starting with ``versionPrefix``, newest first. A
    ``1.NN.`` prefix always matches ``1.NN.1-do.0`` and ``1.NN.0-do.0``, so any configured minor plans."""
    prefix = str(args.args.get("versionPrefix") or "")
    valid = [f"{prefix}1-do.0", f"{prefix}0-do.0"] if prefix else list(VERSIONS)
    answer: dict[str, Any] = {
        "id": stable_uuid("kubernetes-versions", prefix),
        "latestVersion": valid[0],
        "validVersions": valid,
    }
    if prefix:
        answer["versionPrefix"] = prefix
    return answer


RESOURCES: dict[str, ResourceMock] = {
    "digitalocean:index/kubernetesCluster:KubernetesCluster": kubernetes_cluster,
    "digitalocean:index/kubernetesNodePool:KubernetesNodePool": kubernetes_node_pool,
    "digitalocean:index/vpc:Vpc": vpc,
}
CALLS: dict[str, CallMock] = {
    "digitalocean:index/getKubernetesVersions:getKubernetesVersions": kubernetes_versions,
}

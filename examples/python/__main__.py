"""Your own Pulumi program with edgefleet's components, no fleet config: a shop's k3s cluster that
gets Calico and runs a price board, and an EKS cluster with Cilium.

    pulumi config set --secret shopKubeconfig < k3s.yaml
    pulumi config set --secret priceBoardToken <token>
    pulumi up

tests/test_public_api.py runs it under mocks and compares it with the fleet path for the same
clusters and workload."""

import pulumi

from edgefleet.components.index import EdgeWorkload, EksCluster, ExistingCluster, ExistingClusterArgs

config = pulumi.Config()

berlin: ExistingClusterArgs = {
    "owner": "platform-team",
    "environment": "dev",
    "name": "store-berlin-01",
    "location": {"country": "DE", "city": "Berlin"},
    "labels": {"tier": "store"},
    # edgefleet installs Calico on the shop's nodes (a CniInstall inside the cluster).
    "cni": {"plugin": "calico", "pod_cidr": "10.42.0.0/16"},
}
shop = ExistingCluster("store-berlin-01", {**berlin, "kubeconfig": config.require_secret("shopKubeconfig")})

# A workload on the shop: namespace (Pod Security restricted), Deployment, PodDisruptionBudget and
# default-deny NetworkPolicies, through the shop's provider.
EdgeWorkload(
    "price-board-store-berlin-01",
    {
        "owner": "platform-team",
        "environment": "dev",
        "cluster": {
            "vendor": "existing",
            "name": "store-berlin-01",
            "location": berlin["location"],
            "labels": {"tier": "store"},
            "cni": berlin["cni"],
        },
        "workload": {
            "name": "price-board",
            "image": "ghcr.io/acme/price-board:1.2.0",
            "port": 8080,
            "probe_path": "/healthz",
            "env": {"CURRENCY": "EUR"},
        },
        "replicas": 2,
        "secret_env": {"API_TOKEN": config.require_secret("priceBoardToken")},
    },
    pulumi.ResourceOptions(provider=shop.provider),
)

edge = EksCluster(
    "aws-eu-central-1",
    {
        "owner": "platform-team",
        "environment": "dev",
        "region": "eu-central-1",
        "labels": {"tier": "core"},
        "cni": {"plugin": "cilium"},  # EKS without the VPC CNI, Cilium in its place
        "node_pools": [{"name": "general", "size": "medium", "min": 2, "max": 4}],
    },
)

pulumi.export("endpoints", {"store-berlin-01": shop.endpoint, "aws-eu-central-1": edge.endpoint})
pulumi.export("kubeconfigs", pulumi.Output.secret({"aws-eu-central-1": edge.kubeconfig}))

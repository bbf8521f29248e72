"""Your own Pulumi program with edgefleet's components, no fleet config: a shop's k3s cluster that
gets Calico, and an EKS cluster with Cilium. ``pulumi config set --secret shopKubeconfig < k3s.yaml``
then ``pulumi up``. tests/test_public_api.py runs it under mocks and compares it with the fleet
path for the same clusters."""

import pulumi

from edgefleet.components.index import EksCluster, ExistingCluster

config = pulumi.Config()

shop = ExistingCluster(
    "store-berlin-01",
    {
        "owner": "platform-team",
        "environment": "dev",
        "location": {"country": "DE", "city": "Berlin"},
        "labels": {"tier": "store"},
        "kubeconfig": config.require_secret("shopKubeconfig"),
        # edgefleet installs Calico on the shop's nodes (a CniInstall inside the cluster).
        "cni": {"plugin": "calico", "pod_cidr": "10.42.0.0/16"},
    },
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

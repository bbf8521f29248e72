"""A fake cluster vendor for tests: meets contract v1 with no cloud at all (like Cluster API's
docker provider). It proves the contract test checks the contract, not one vendor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from edgefleet.components.clusters.common import resolved_args
from edgefleet.components.config.model import CniInfo, ResolvedLocation, Vendor
from edgefleet.components.contract import cluster_facts, cluster_options

FAKE_TYPE = "edgefleet:clusters:FakeCluster"


def fake_kubeconfig(name: str) -> str:
    """Exec auth, like the cloud vendors: no token is stored."""
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: {name}, cluster: {{server: 'https://{name}.fake.invalid'}}}}]\n"
        f"contexts: [{{name: {name}, context: {{cluster: {name}, user: {name}}}}}]\n"
        f"current-context: {name}\n"
        f"users: [{{name: {name}, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1beta1, "
        f"command: fake-auth, args: [{name}]}}}}}}]\n"
    )


class FakeCluster(pulumi.ComponentResource):
    """A cluster of the fake vendor."""

    def __init__(self, name: str, args: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        spec = resolved_args(Vendor.EXISTING, name, args, "FakeCluster").cluster
        super().__init__(FAKE_TYPE, name, cluster_facts(spec), cluster_options(opts))
        self.name: str = spec.name
        self.vendor: str = "fake"
        self.region: str = spec.region
        self.location: ResolvedLocation = spec.location
        self.labels: Mapping[str, str] = dict(spec.labels)
        self.cni: CniInfo = spec.cni
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(fake_kubeconfig(name))
        self.endpoint: pulumi.Output[str] = pulumi.Output.from_input(f"https://{name}.fake.invalid")
        self.provider: k8s.Provider = k8s.Provider(
            f"{name}-k8s", k8s.ProviderArgs(kubeconfig=self.kubeconfig), opts=pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs({"endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

"""Bring your own cluster (k3s in a shop, on-prem, kind on a laptop): vendor ``existing``.

Nothing is created but the Kubernetes provider. Its kubeconfig comes from a secret config key, or,
when the cluster names none, the provider uses the ambient kubeconfig (``KUBECONFIG`` or
``~/.kube/config``, optionally a ``context``) at deploy time; edgefleet never reads that file.
"""

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from edgefleet.components.args import ExistingClusterArgs
from edgefleet.components.clusters.common import resolved_args
from edgefleet.components.clusters.kubeconfig import api_server
from edgefleet.components.config.model import CniInfo, ResolvedLocation, Vendor
from edgefleet.components.contract import cluster_facts, cluster_options
from edgefleet.components.tokens import EXISTING_CLUSTER, aliased


class ExistingCluster(pulumi.ComponentResource):
    """A cluster edgefleet does not create; contract v1."""

    kubeconfig: pulumi.Output[str]
    """The kubeconfig given (secret); empty when the ambient one is used at deploy time."""
    endpoint: pulumi.Output[str]
    """The API server's URL from the kubeconfig (empty for the ambient one)."""

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = resolved_args(Vendor.EXISTING, name, args, "ExistingCluster")  # before any resource
        spec = resolved.cluster
        super().__init__(EXISTING_CLUSTER, name, cluster_facts(spec), aliased(EXISTING_CLUSTER, cluster_options(opts)))
        self.name: str = spec.name
        self.vendor: str = spec.vendor.value
        self.region: str = spec.region
        self.location: ResolvedLocation = spec.location
        self.labels: Mapping[str, str] = dict(spec.labels)
        self.cni: CniInfo = spec.cni
        context = spec.spec.context
        if resolved.kubeconfig is not None:
            # Secret whatever its origin: a plain config value is wrapped too.
            self.kubeconfig = pulumi.Output.secret(resolved.kubeconfig)
            self.endpoint = pulumi.Output.unsecret(
                self.kubeconfig.apply(lambda text: api_server(text, context))
            )
        else:
            # Ambient: the provider resolves it when it runs; nothing to store or show.
            self.kubeconfig = pulumi.Output.secret("")
            self.endpoint = pulumi.Output.from_input("")
        self.provider: k8s.Provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                kubeconfig=self.kubeconfig if resolved.kubeconfig is not None else None,
                context=context,
                enable_server_side_apply=True,
                delete_unreachable=False,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if resolved.cni_installer is not None and self.cni.installs:
            # The nodes exist already: the CNI goes on through the contract provider.
            resolved.cni_installer(self.provider, "", self, [])
        self.register_outputs({"endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

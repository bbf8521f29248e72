"""The cluster contract (v1): what every cluster component exposes, whatever the vendor.

| member       | kind                         | rule                                                     |
|--------------|------------------------------|----------------------------------------------------------|
| name, vendor, region | plain ``str``        | known at preview; with location and labels, all placement reads |
| location     | ``ResolvedLocation``         | from the region catalog, or given for existing clusters  |
| labels       | plain mapping                | from config                                              |
| cni          | ``CniInfo``                  | plugin, mode, ``network_policy``                         |
| kubeconfig   | ``Output[str]``, secret      | exec auth where the vendor has it; MUST be secret        |
| provider     | ``pulumi_kubernetes.Provider`` | built inside the component, ``parent=self``            |
| endpoint     | ``Output[str]``              | the API server URL                                       |

``register_outputs`` is called once, last. ``tests/test_contract.py`` enforces this for every vendor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pulumi
import pulumi_kubernetes as k8s

from edgefleet.components.config.model import Cluster, CniInfo, ResolvedLocation

CONTRACT_VERSION = "v1"


@runtime_checkable
class KubernetesCluster(Protocol):
    """A cluster component that meets contract v1."""

    name: str
    vendor: str
    region: str
    location: ResolvedLocation
    labels: Mapping[str, str]
    cni: CniInfo
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    endpoint: pulumi.Output[str]


def cluster_facts(cluster: Cluster) -> dict[str, object]:
    """A cluster component's own inputs: the plain identity the policy pack reads."""
    return {
        "name": cluster.name,
        "vendor": cluster.vendor.value,
        "region": cluster.region,
        "country": cluster.location.country,
        "cni": {
            "plugin": cluster.cni.plugin.value,
            "mode": cluster.cni.mode,
            "networkPolicy": cluster.cni.network_policy,
        },
    }


def cluster_options(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Every cluster component declares its ``kubeconfig`` output secret to the engine."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"]))


class CniInstaller(Protocol):
    """Installs a cluster's CNI (``components/cni``), given a provider for the cluster, the API
    server's host name (Cilium's kube-proxy replacement needs it), the parent for what it creates,
    and what must exist first. Returns what node pools must wait for (the Helm releases)."""

    def __call__(
        self,
        provider: k8s.Provider,
        api_host: pulumi.Input[str],
        parent: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource],
    ) -> Sequence[pulumi.Resource]:
        """Create the CNI's resources; return what node pools depend on."""
        ...


@dataclass(frozen=True)
class ClusterArgs:
    """What a cluster component gets: the resolved spec, fleet-wide tags, and its secrets.

    ``kubeconfig`` is only for vendors that bring their own cluster (``existing``); it must be a
    secret Output (the entry point reads it with ``get_secret``), or ``None`` for the ambient one.
    ``cni_installer`` is set when edgefleet installs the cluster's CNI (``cluster.cni.installs``):
    a component calls it once, after the control plane and before node pools, which depend on
    what it returns (the fleet wires it; cluster modules read the pure matrix but never import
    ``components/cni/install``).
    """

    cluster: Cluster
    owner: str
    environment: str
    tags: Mapping[str, str]
    kubeconfig: pulumi.Output[str] | None = None
    cni_installer: CniInstaller | None = None

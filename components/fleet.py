"""The fleet: every cluster (through its vendor component) and every workload on its clusters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.clusters import VENDORS, ClusterFactory
from components.cni import matrix
from components.cni.install import CniInstall, CniInstallArgs
from components.config.model import Cluster, FleetSpec, Vendor
from components.contract import ClusterArgs, CniInstaller, KubernetesCluster
from components.traffic.dns import DnsSteering, DnsSteeringArgs, SteeredLocation, dns_provider
from components.workloads import EdgeWorkload, EdgeWorkloadArgs


@dataclass(frozen=True)
class FleetArgs:
    """A validated fleet, the secret kubeconfigs it references (by config key), and the vendor
    components to build clusters with (tests swap in a fake vendor)."""

    spec: FleetSpec
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    vendors: Mapping[Vendor, ClusterFactory] = field(default_factory=lambda: dict(VENDORS))


def cluster_labels(spec: FleetSpec, cluster: str) -> dict[str, str]:
    """Labels every Kubernetes object edgefleet creates in ``cluster`` carries."""
    return {"owner": spec.owner, "environment": spec.environment, "edgefleet-cluster": cluster}


def cni_installer(cluster: Cluster, labels: Mapping[str, str]) -> CniInstaller | None:
    """How ``cluster``'s CNI gets installed, or None when edgefleet installs nothing there."""
    if not cluster.cni.installs:
        return None
    cell = matrix.resolve(cluster.vendor, cluster.cni.plugin, cluster.cni.mode, autopilot=cluster.spec.autopilot)
    pod_cidr = cluster.cni.pod_cidr
    if pod_cidr is None:  # parse_fleet sets it for every CNI edgefleet installs
        raise ValueError(f"cluster {cluster.name!r}: no pod range for its CNI; build it from parse_fleet")

    def install(
        provider: k8s.Provider,
        api_host: pulumi.Input[str],
        parent: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource],
    ) -> Sequence[pulumi.Resource]:
        context = matrix.ValuesContext(
            cluster=cluster.name, pod_cidr=pod_cidr, api_host=api_host, hubble=cluster.cni.hubble
        )
        made = CniInstall(
            f"{cluster.name}-cni",
            CniInstallArgs(cell=cell, context=context, provider=provider, labels=labels, depends_on=depends_on),
            pulumi.ResourceOptions(parent=parent),
        )
        return made.releases

    return install


class Fleet(pulumi.ComponentResource):
    """All clusters and workloads of one stack. Decisions were made on plain values already."""

    clusters: dict[str, KubernetesCluster]
    workloads: dict[tuple[str, str], EdgeWorkload]
    dns: dict[str, DnsSteering]

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("edgefleet:fleet:Fleet", name, None, opts)
        spec = args.spec
        self.clusters = {}
        for cluster in spec.clusters:
            key = cluster.spec.kubeconfig
            factory = args.vendors[cluster.vendor]
            self.clusters[cluster.name] = factory(
                cluster.name,
                ClusterArgs(
                    cluster=cluster,
                    owner=spec.owner,
                    environment=spec.environment,
                    tags=spec.tags,
                    kubeconfig=args.secrets[key] if key else None,
                    cni_installer=cni_installer(cluster, cluster_labels(spec, cluster.name)),
                ),
                pulumi.ResourceOptions(parent=self),
            )
        self.workloads = {}
        for workload in spec.workloads:
            replicas_in = dict(workload.replicas)
            # Wave by wave (canary first): a wave's Deployments wait for every earlier wave's.
            earlier: list[pulumi.Resource] = []
            for wave in workload.waves or (tuple(replicas_in),):
                current: list[pulumi.Resource] = []
                for cluster_name in wave:
                    made = EdgeWorkload(
                        f"{workload.spec.name}-{cluster_name}",
                        EdgeWorkloadArgs(
                            workload=workload.spec,
                            cluster=cluster_name,
                            replicas=replicas_in[cluster_name],
                            allowed_countries=workload.allowed_countries,
                            provider=self.clusters[cluster_name].provider,
                            labels=cluster_labels(spec, cluster_name),
                            vendor=spec.cluster(cluster_name).vendor.value,
                            depends_on=tuple(earlier),
                        ),
                        pulumi.ResourceOptions(parent=self),
                    )
                    self.workloads[(workload.spec.name, cluster_name)] = made
                    current.append(made.deployment)
                earlier += current
        self.dns = self._steer(spec) if spec.traffic is not None else {}
        self.register_outputs({})

    def _steer(self, spec: FleetSpec) -> dict[str, DnsSteering]:
        """One DNS name per public workload, steering to its locations (``traffic``)."""
        traffic = spec.traffic
        steered = [w for w in spec.workloads if w.hostname is not None]
        if traffic is None or not steered:
            return {}
        provider = dns_provider(traffic, self)
        out: dict[str, DnsSteering] = {}
        for workload in steered:
            locations = []
            for cluster_name, _ in workload.replicas:
                cluster = spec.cluster(cluster_name)
                locations.append(
                    SteeredLocation(
                        cluster=cluster_name,
                        vendor=cluster.vendor.value,
                        lat=cluster.location.lat,
                        lon=cluster.location.lon,
                        target=self.workloads[(workload.spec.name, cluster_name)].endpoint,
                        port=workload.spec.port,
                    )
                )
            out[workload.spec.name] = DnsSteering(
                f"{workload.spec.name}-dns",
                DnsSteeringArgs(
                    traffic=traffic,
                    workload=workload.spec.name,
                    hostname=str(workload.hostname),
                    probe_path=str(workload.spec.probe_path),  # parse_fleet requires it with traffic
                    locations=locations,
                    provider=provider,
                    tags={"owner": spec.owner, "environment": spec.environment, **spec.tags},
                ),
                pulumi.ResourceOptions(parent=self),
            )
        return out

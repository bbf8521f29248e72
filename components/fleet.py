"""The fleet: every cluster (through its vendor component) and every workload on its clusters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from edgefleet.components.clusters import VENDORS, ClusterFactory
from edgefleet.components.cni import matrix
from edgefleet.components.cni.install import CniInstall, CniInstallArgs
from edgefleet.components.config.model import Cluster, FleetSpec, Vendor, Workload
from edgefleet.components.config.slices import SliceScope
from edgefleet.components.contract import ClusterArgs, CniInstaller, KubernetesCluster
from edgefleet.components.netcheck import Netcheck, NetcheckArgs, NetcheckKey, NetcheckWan, NetcheckWanArgs, wan_layout
from edgefleet.components.traffic.dns import DnsSteering, DnsSteeringArgs, SteeredLocation, dns_provider
from edgefleet.components.workloads import EdgeWorkload, EdgeWorkloadArgs, Site


@dataclass(frozen=True)
class FleetArgs:
    """A validated fleet, the secret kubeconfigs it references (by config key), the vendor
    components to build clusters with (tests swap in a fake vendor), and the slice of the fleet
    this stack deploys (None: all of it)."""

    spec: FleetSpec
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    vendors: Mapping[Vendor, ClusterFactory] = field(default_factory=lambda: dict(VENDORS))
    scope: SliceScope | None = None


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


def slice_stack_name(stack: str) -> str:
    """The fully qualified name of a stack of this project, for a ``StackReference``
    (``<organization>/<project>/<stack>``; self-managed backends use the organization
    ``organization``, which ``pulumi.get_organization`` returns there)."""
    organization = pulumi.get_organization() or "organization"
    return f"{organization}/{pulumi.get_project()}/{stack}"


def slice_endpoint(endpoints: object, stack: str, workload: str, cluster: str) -> str:
    """``workload``'s endpoint on ``cluster`` from stack ``stack``'s ``endpoints`` output, or an
    error that says to deploy that slice first."""
    by_cluster = endpoints.get(workload) if isinstance(endpoints, Mapping) else None
    found = by_cluster.get(cluster) if isinstance(by_cluster, Mapping) else None
    if not isinstance(found, str) or not found:
        raise pulumi.RunError(
            f"stack {stack!r} has no endpoint for workload {workload!r} on cluster {cluster!r} yet; deploy that "
            "slice first (`edgefleet up` runs the global slice after every other slice)"
        )
    return found


def slice_facts(spec: FleetSpec, scope: SliceScope | None) -> dict[str, object] | None:
    """A slice's view of the whole fleet, as plain inputs of the Fleet component: which slice this
    is, and where every workload runs across all slices. Fleet-wide policies (vendor diversity,
    public workloads in several locations, every steered location health-checked) read these in a
    slice, whose own resources show only part of each placement. None for a whole-fleet stack."""
    if scope is None:
        return None
    return {
        "slice": {"stack": scope.slice.stack, "global": scope.is_global, "clusters": list(scope.slice.clusters)},
        "placements": [
            {
                "workload": w.spec.name,
                "expose": w.spec.expose.value,
                "minVendors": w.spec.placement.min_vendors,
                "hostname": w.hostname,
                "locations": [
                    {"cluster": cluster, "vendor": spec.cluster(cluster).vendor.value} for cluster, _ in w.replicas
                ],
            }
            for w in sorted(spec.workloads, key=lambda w: w.spec.name)
        ],
    }


class Fleet(pulumi.ComponentResource):
    """All clusters and workloads of one stack (or of its slice). Decisions were made on plain values already."""

    clusters: dict[str, KubernetesCluster]
    workloads: dict[tuple[str, str], EdgeWorkload]
    dns: dict[str, DnsSteering]
    slices: dict[str, pulumi.StackReference]

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = args.spec
        scope = args.scope
        super().__init__("edgefleet:index:Fleet", name, slice_facts(spec, scope), opts)

        def here(cluster: str) -> bool:
            return scope is None or scope.deploys(cluster)

        self.clusters = {}
        for cluster in spec.clusters:
            if not here(cluster.name):
                continue
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
        # The network doctor's probes (netcheck): on every cluster of this stack, when enabled.
        self.netchecks: dict[str, Netcheck] = {}
        self.netcheck_wans: dict[str, NetcheckWan] = {}
        if spec.netcheck is not None:
            netcheck = spec.netcheck
            # Location to location: the clusters of this stack that have designated WAN probes,
            # one key for all of them (docs/doctor.md#location-to-location-wan-probes).
            layout = wan_layout([(n, c.vendor) for n, c in self.clusters.items()], netcheck.wan)
            wan_key = NetcheckKey("netcheck-wan-key", pulumi.ResourceOptions(parent=self)) if layout.members else None
            for name_, built in self.clusters.items():
                self.netchecks[name_] = Netcheck(
                    f"{name_}-netcheck",
                    NetcheckArgs(
                        cluster=name_,
                        spec=netcheck,
                        provider=built.provider,
                        labels=cluster_labels(spec, name_),
                        vendor=built.vendor,
                        wan_key=wan_key.key if wan_key is not None and name_ in layout.members else None,
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
            # Every WAN Service exists now: each cluster's designated probes read the others'.
            for name_ in layout.members:
                self.netcheck_wans[name_] = NetcheckWan(
                    f"{name_}-netcheck-wan",
                    NetcheckWanArgs(
                        cluster=name_,
                        spec=netcheck,
                        provider=self.clusters[name_].provider,
                        labels=cluster_labels(spec, name_),
                        peers={o: self.netchecks[o].wan_address for o in layout.members if o != name_},
                    ),
                    pulumi.ResourceOptions(parent=self.netchecks[name_]),
                )
        self.workloads = {}
        for workload in spec.workloads:
            replicas_in = dict(workload.replicas)
            # Wave by wave (canary first): a wave's Deployments wait for every earlier wave's.
            earlier: list[pulumi.Resource] = []
            for wave in workload.waves or (tuple(replicas_in),):
                current = [
                    self._deploy(spec, workload, c, replicas_in[c], earlier=tuple(earlier), secrets=args.secrets)
                    for c in wave
                    if here(c)
                ]
                earlier += current
            # A regional slice of a sliced fleet keeps a steered workload's closed locations for
            # this window: the global slice, which runs after it, moves DNS off them first, and the
            # next window's run removes them (docs/placement.md#moving-between-windows).
            if scope is not None and not scope.is_global and workload.hostname is not None:
                for closed, count in workload.draining:
                    if here(closed):
                        self._deploy(spec, workload, closed, count, earlier=tuple(earlier), secrets=args.secrets)
        # The global slice reads each other slice's endpoints through a StackReference.
        self.slices = {}
        if scope is not None and scope.is_global:
            for stack in scope.peer_stacks():
                self.slices[stack] = pulumi.StackReference(
                    f"slice-{stack}", slice_stack_name(stack), pulumi.ResourceOptions(parent=self)
                )
        steers = spec.traffic is not None and (scope is None or scope.is_global)
        self.dns = self._steer(spec, scope) if steers else {}
        self.register_outputs({})

    def _deploy(
        self,
        spec: FleetSpec,
        workload: Workload,
        cluster_name: str,
        replicas: int,
        *,
        earlier: tuple[pulumi.Resource, ...],
        secrets: Mapping[str, pulumi.Output[str]],
    ) -> pulumi.Resource:
        """The workload's EdgeWorkload on one cluster; its Deployment (what a later wave waits for)."""
        cluster = spec.cluster(cluster_name)
        made = EdgeWorkload(
            f"{workload.spec.name}-{cluster_name}",
            EdgeWorkloadArgs(
                workload=workload.spec,
                cluster=cluster_name,
                replicas=replicas,
                allowed_countries=workload.allowed_countries,
                provider=self.clusters[cluster_name].provider,
                labels=cluster_labels(spec, cluster_name),
                vendor=cluster.vendor.value,
                depends_on=earlier,
                site=Site(
                    cluster=cluster_name,
                    vendor=cluster.vendor.value,
                    region=cluster.region,
                    country=cluster.location.country,
                    city=cluster.location.city,
                    environment=spec.environment,
                ),
                settings=workload.settings_for(cluster_name),
                config_files=workload.config_files,
                manifests=workload.objects_for(cluster_name),
                scale_target=workload.scale_target,
                public_service=workload.public_service,
                secret_env={name: secrets[key] for name, key in sorted(workload.spec.secret_env.items())},
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.workloads[(workload.spec.name, cluster_name)] = made
        return made.deployment

    def _target(self, scope: SliceScope | None, workload: str, cluster: str) -> pulumi.Input[str]:
        """Where a location's users connect: this stack's EdgeWorkload, or the slice's output."""
        if scope is None:
            return self.workloads[(workload, cluster)].endpoint
        stack = scope.peers[cluster]
        endpoints = self.slices[stack].get_output("endpoints")
        return endpoints.apply(lambda e: slice_endpoint(e, stack, workload, cluster))

    def _steer(self, spec: FleetSpec, scope: SliceScope | None) -> dict[str, DnsSteering]:
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
                        target=self._target(scope, workload.spec.name, cluster_name),
                        port=workload.public_port or workload.spec.main_port,
                        region=cluster.region,
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
                    gate=workload.spec.placement.over_time,
                ),
                pulumi.ResourceOptions(parent=self),
            )
        return out

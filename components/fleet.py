"""The fleet: every cluster (through its vendor component) and every workload on its clusters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pulumi

from edgefleet.components.args import EdgeWorkloadArgs
from edgefleet.components.clusters import VENDORS, ClusterFactory
from edgefleet.components.config.model import FleetSpec, Vendor, Workload
from edgefleet.components.config.slices import SliceScope
from edgefleet.components.contract import KubernetesCluster
from edgefleet.components.netcheck import Netcheck, NetcheckArgs
from edgefleet.components.resolve import cluster_args, workload_args
from edgefleet.components.tokens import FLEET, aliased
from edgefleet.components.traffic.dns import (
    DnsSteering,
    ResolvedSteeringArgs,
    SteeredLocation,
    dns_provider,
    steering_args,
)
from edgefleet.components.workloads import EdgeWorkload


@dataclass(frozen=True)
class FleetArgs:
    """A validated fleet, the secret kubeconfigs it references (by config key), the vendor
    components to build clusters with (tests swap in a fake vendor), and the slice of the fleet
    this stack deploys (None: all of it)."""

    spec: FleetSpec
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    vendors: Mapping[Vendor, ClusterFactory] = field(default_factory=lambda: dict(VENDORS))
    scope: SliceScope | None = None
    # Where the fleet's project files are (manifests, charts, config files); None: the working directory.
    project_dir: Path | None = None


def cluster_labels(spec: FleetSpec, cluster: str) -> dict[str, str]:
    """Labels every Kubernetes object edgefleet creates in ``cluster`` carries."""
    return {"owner": spec.owner, "environment": spec.environment, "edgefleet-cluster": cluster}


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
        self.project_dir = args.project_dir
        super().__init__(FLEET, name, slice_facts(spec, scope), aliased(FLEET, opts))

        def here(cluster: str) -> bool:
            return scope is None or scope.deploys(cluster)

        self.clusters = {}
        for cluster in spec.clusters:
            if not here(cluster.name):
                continue
            key = cluster.spec.kubeconfig
            factory = args.vendors[cluster.vendor]
            # Through the public API: the cluster's entry as public args, resolved again there.
            self.clusters[cluster.name] = factory(
                cluster.name,
                cluster_args(cluster, spec, args.secrets[key] if key else None),
                pulumi.ResourceOptions(parent=self),
            )
        # The network doctor's probes (netcheck): on every cluster of this stack, when enabled.
        self.netchecks: dict[str, Netcheck] = {}
        if spec.netcheck is not None:
            for name_, built in self.clusters.items():
                self.netchecks[name_] = Netcheck(
                    f"{name_}-netcheck",
                    NetcheckArgs(
                        cluster=name_, spec=spec.netcheck, provider=built.provider, labels=cluster_labels(spec, name_)
                    ),
                    pulumi.ResourceOptions(parent=self),
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
        # Through the public API: the workload on this cluster as EdgeWorkload's args.
        made = EdgeWorkload(
            f"{workload.spec.name}-{cluster_name}",
            cast(
                "EdgeWorkloadArgs",
                workload_args(workload, cluster, spec, replicas, secrets=secrets, project_dir=self.project_dir),
            ),
            pulumi.ResourceOptions(
                parent=self, provider=self.clusters[cluster_name].provider, depends_on=list(earlier) or None
            ),
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
            # Through the public API: the steering as DnsSteering's args, the DNS provider in the options.
            out[workload.spec.name] = DnsSteering(
                f"{workload.spec.name}-dns",
                steering_args(
                    ResolvedSteeringArgs(
                        traffic=traffic,
                        workload=workload.spec.name,
                        hostname=str(workload.hostname),
                        probe_path=str(workload.spec.probe_path),  # parse_fleet requires it with traffic
                        locations=locations,
                        provider=provider,
                        tags={"owner": spec.owner, "environment": spec.environment, **spec.tags},
                        gate=workload.spec.placement.over_time,
                    )
                ),
                pulumi.ResourceOptions(parent=self, provider=provider),
            )
        return out

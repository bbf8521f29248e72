"""The fleet: every cluster (through its vendor component) and every workload on its clusters."""

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any, cast

import pulumi

from edgefleet.components.args import EdgeWorkloadArgs, FleetArgs
from edgefleet.components.clusters import VENDORS
from edgefleet.components.config.model import FleetSpec, Workload
from edgefleet.components.config.slices import SliceScope
from edgefleet.components.contract import KubernetesCluster
from edgefleet.components.fleet_args import fleet_from_args
from edgefleet.components.netcheck import (
    WAN_KEY_OUTPUT,
    WAN_OUTPUT,
    Netcheck,
    NetcheckArgs,
    NetcheckWan,
    NetcheckWanArgs,
    fleet_wan_layout,
    peer_address,
    peer_keys,
    wan_key,
)
from edgefleet.components.resolve import cluster_args, workload_args
from edgefleet.components.resolve import cluster_labels as labels_of
from edgefleet.components.tokens import FLEET, aliased
from edgefleet.components.traffic.dns import (
    DnsSteering,
    ResolvedSteeringArgs,
    SteeredLocation,
    dns_provider,
    steering_args,
)
from edgefleet.components.workloads import EdgeWorkload


def cluster_labels(spec: FleetSpec, cluster: str) -> dict[str, str]:
    """Labels every Kubernetes object edgefleet creates in ``cluster`` carries."""
    return labels_of(spec.owner, spec.environment, cluster)


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
    """A whole fleet from one fleet config (``docs/fleet-config.md``): every cluster through its
    vendor's component, every workload on the clusters placement chose (``EdgeWorkload``, rollout
    waves in order), DNS steering of public workloads (``DnsSteering``) and the network probes.
    The config is validated, and placement decided, before any resource is registered."""

    kubeconfigs: pulumi.Output[dict[str, str]]
    """Each cluster's kubeconfig, by cluster name (secret)."""
    endpoints: pulumi.Output[dict[str, dict[str, str]]]
    """Each public workload's load balancer address per cluster."""
    replicas: pulumi.Output[dict[str, dict[str, int]]]
    """Each workload's replicas per cluster, as placement decided (the stack output ``placements``;
    not that name here: the component's input ``placements`` is a slice's view of the fleet)."""
    hostnames: pulumi.Output[dict[str, str]]
    """Each steered workload's DNS name."""
    netcheck_wan: pulumi.Output[dict[str, str]]
    """Each cluster's WAN probe load balancer address, for this stack's clusters with designated
    WAN probes (a regional slice exports it as ``netcheckWan``; the other slices' probes read it)."""
    netcheck_wan_key: pulumi.Output[str]
    """This stack's WAN probe key, hex (secret; empty without WAN probes): the other slices'
    agents answer probes signed with it (a regional slice exports it as ``netcheckWanKey``)."""

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = fleet_from_args(name, args)  # before any resource
        spec = resolved.spec
        scope = resolved.scope
        secrets = resolved.secrets
        self.spec: FleetSpec = spec
        self.scope: SliceScope | None = scope
        self.project_dir: Path = resolved.project_dir
        self.clusters: dict[str, KubernetesCluster] = {}
        self.workloads: dict[tuple[str, str], EdgeWorkload] = {}
        self.dns: dict[str, DnsSteering] = {}
        self.slices: dict[str, pulumi.StackReference] = {}
        super().__init__(FLEET, name, slice_facts(spec, scope), aliased(FLEET, opts))

        def here(cluster: str) -> bool:
            return scope is None or scope.deploys(cluster)

        for cluster in spec.clusters:
            if not here(cluster.name):
                continue
            key = cluster.spec.kubeconfig
            factory = VENDORS[cluster.vendor]
            # Through the public API: the cluster's entry as public args, resolved again there.
            self.clusters[cluster.name] = factory(
                cluster.name,
                cluster_args(cluster, spec, secrets[key] if key else None),
                pulumi.ResourceOptions(parent=self),
            )
        # The network doctor's probes (netcheck): on every cluster of this stack, when enabled.
        self.netchecks: dict[str, Netcheck] = {}
        self.netcheck_wans: dict[str, NetcheckWan] = {}
        wan_addresses: dict[str, pulumi.Output[str]] = {}
        shared_key: pulumi.Output[str] | None = None
        if spec.netcheck is not None:
            netcheck = spec.netcheck
            # Location to location: the fleet's clusters that have designated WAN probes (in every
            # slice), one key for this stack's (docs/doctor.md#location-to-location-wan-probes).
            layout = fleet_wan_layout(spec)
            local = [n for n in layout.members if n in self.clusters]
            shared_key = wan_key("netcheck-wan-key", pulumi.ResourceOptions(parent=self)) if local else None
            # The other slices' probes: their addresses and keys from their outputs.
            remote: dict[str, pulumi.Output[str]] = {}
            remote_keys: list[pulumi.Output[Any]] = []
            if scope is not None and local:
                # A cluster no slice deploys yet (the fleet file changed, `stacks sync` not run)
                # has no stack to read: left out until one does.
                owners = {n: scope.owners[n] for n in layout.members if n not in self.clusters and n in scope.owners}
                for stack in sorted(set(owners.values())):
                    reference = self._slice(stack)
                    remote_keys.append(reference.get_output(WAN_KEY_OUTPUT))
                    wan = reference.get_output(WAN_OUTPUT)
                    for cluster_, owner in owners.items():
                        if owner == stack:
                            remote[cluster_] = wan.apply(partial(peer_address, cluster=cluster_))
            answered: pulumi.Output[str] = pulumi.Output.secret(pulumi.Output.all(*remote_keys).apply(peer_keys))
            for name_, built in self.clusters.items():
                self.netchecks[name_] = Netcheck(
                    f"{name_}-netcheck",
                    NetcheckArgs(
                        cluster=name_,
                        spec=netcheck,
                        provider=built.provider,
                        labels=cluster_labels(spec, name_),
                        vendor=built.vendor,
                        wan_key=shared_key if name_ in local else None,
                        wan_peer_keys=answered if name_ in local else "",
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
            # Every WAN Service exists now: each cluster's designated probes read the others'.
            for name_ in local:
                self.netcheck_wans[name_] = NetcheckWan(
                    f"{name_}-netcheck-wan",
                    NetcheckWanArgs(
                        cluster=name_,
                        spec=netcheck,
                        provider=self.clusters[name_].provider,
                        labels=cluster_labels(spec, name_),
                        peers={o: self.netchecks[o].wan_address for o in local if o != name_},
                        remote=remote,
                    ),
                    pulumi.ResourceOptions(parent=self.netchecks[name_]),
                )
                wan_addresses[name_] = self.netchecks[name_].wan_address
        for workload in spec.workloads:
            replicas_in = dict(workload.replicas)
            # Wave by wave (canary first): a wave's Deployments wait for every earlier wave's.
            earlier: list[pulumi.Resource] = []
            for wave in workload.waves or (tuple(replicas_in),):
                current = [
                    self._deploy(spec, workload, c, replicas_in[c], earlier=tuple(earlier), secrets=secrets)
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
                        self._deploy(spec, workload, closed, count, earlier=tuple(earlier), secrets=secrets)
        # The global slice reads each other slice's endpoints through a StackReference.
        if scope is not None and scope.is_global:
            for stack in scope.peer_stacks():
                self._slice(stack)
        steers = spec.traffic is not None and (scope is None or scope.is_global)
        self.dns = self._steer(spec, scope) if steers else {}
        by_cluster: dict[str, Any] = {name_: c.kubeconfig for name_, c in self.clusters.items()}
        self.kubeconfigs = cast("pulumi.Output[dict[str, str]]", pulumi.Output.secret(by_cluster))
        self.replicas = pulumi.Output.from_input({w.spec.name: dict(w.replicas) for w in spec.workloads})
        endpoints: dict[str, Any] = {
            w.spec.name: {
                cluster: self.workloads[(w.spec.name, cluster)].endpoint
                for cluster, _ in w.replicas
                if cluster in self.clusters
            }
            for w in spec.workloads
            if w.spec.expose.value == "public" and any(cluster in self.clusters for cluster, _ in w.replicas)
        }
        self.endpoints = cast("pulumi.Output[dict[str, dict[str, str]]]", pulumi.Output.from_input(endpoints))
        steered = scope is None or scope.is_global
        self.hostnames = pulumi.Output.from_input(
            {w.spec.name: w.hostname for w in spec.workloads if w.hostname is not None} if steered else {}
        )
        self.netcheck_wan = cast("pulumi.Output[dict[str, str]]", pulumi.Output.from_input(wan_addresses))
        self.netcheck_wan_key = pulumi.Output.secret(shared_key if shared_key is not None else "")
        self.register_outputs(
            {
                "kubeconfigs": self.kubeconfigs,
                "replicas": self.replicas,
                "endpoints": self.endpoints,
                "hostnames": self.hostnames,
                "netcheckWan": self.netcheck_wan,
                "netcheckWanKey": self.netcheck_wan_key,
            }
        )

    def _slice(self, stack: str) -> pulumi.StackReference:
        """The StackReference to another slice of the fleet (one per stack)."""
        if stack not in self.slices:
            self.slices[stack] = pulumi.StackReference(
                f"slice-{stack}", slice_stack_name(stack), pulumi.ResourceOptions(parent=self)
            )
        return self.slices[stack]

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

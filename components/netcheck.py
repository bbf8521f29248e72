"""The network doctor's probes in one cluster (``netcheck``; docs/doctor.md).

Two DaemonSets of the ``netprobe`` agent (``netprobe/``), one per node each:

- ``edgefleet-netcheck/netprobe``, on the pod network, Pod Security ``restricted``: probes every
  other agent pod (same node and across nodes, small and near-MTU with DF set) and the ``netprobe``
  Service address (the service path). Peers come from the headless Service ``netprobe-pods``.
- ``edgefleet-netcheck-host/netprobe-host``, on the host network (``hostNetwork: true``; nothing
  else beyond ``restricted``): node to node, and the NIC and conntrack counters. Its namespace is
  the one Pod Security exception (``enforce: privileged``, ``warn``/``audit: restricted``); the
  policy pack accepts exactly this DaemonSet there (``policies/rules/kubernetes.py``).

Both export Prometheus metrics on port 9799 (``prometheus.io/scrape`` annotations).

Location to location (WAN), when the stack has two clusters or more that can carry it
(``wan_layout``): per cluster a Deployment ``edgefleet-netcheck/netprobe-wan`` (``wan.replicas``
designated agents, restricted) behind a public UDP load balancer (Service ``netprobe-wan``,
``type: LoadBalancer``, ``externalTrafficPolicy: Local``, the vendor's annotations from
``wan_service_annotations``). Each cluster's designated agents probe every other cluster's load
balancer, whose address comes from that Service's status (an Output): the Services come first, the
Deployments after all of them, so there is no cycle (``NetcheckWan``, registered by the fleet once
every cluster's ``Netcheck`` exists). Probes and replies are authenticated with a key the stack
generates once (``RandomBytes`` of the random provider, a secret output), kept in a Kubernetes
Secret ``netprobe-wan-key``:
the agent answers only signed, fresh, first-time probes, with replies never larger than the request
(``edgefleet.netprobe.agent``).

Across the slices of a sliced fleet (one stack per region): the layout is the whole fleet's, so a
slice's designated probes also probe the other slices' clusters. Each regional slice keeps its own
key and exports its load balancers' addresses (``netcheckWan``) and its key (``netcheckWanKey``,
secret); it reads the other slices' through StackReferences (``peer_address``,
``peer_key``). Its agents sign with their own key and also answer probes signed with a peer slice's
key (``peers`` in the Secret, ``NETPROBE_PEER_KEYS``). A peer slice not deployed yet (no outputs) is
left out until this slice's next update (``edgefleet up FLEET`` runs it again).

Zones on clusters without a metadata service (``existing``): the host agent reads its node's
``topology.kubernetes.io/zone`` label through the API, with a ServiceAccount ``netprobe-host`` bound
to a ClusterRole that may only ``get`` ``nodes``; the token is mounted in that DaemonSet alone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_kubernetes.apps.v1 import DaemonSetSpecArgsDict, DeploymentSpecArgsDict
from pulumi_kubernetes.core.v1 import (
    ContainerArgsDict,
    EnvVarArgsDict,
    PodSpecArgsDict,
    ProbeArgsDict,
    ServiceSpecArgsDict,
)
from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
from pulumi_kubernetes.networking.v1 import (
    NetworkPolicyEgressRuleArgsDict,
    NetworkPolicyPeerArgsDict,
    NetworkPolicySpecArgsDict,
)

from edgefleet.components.config.application import SECRET_KEYS_ANNOTATION
from edgefleet.components.config.model import FleetSpec, LinodeWan, NetcheckSpec, NetcheckWanSpec, Vendor
from edgefleet.components.workloads.edge_workload import ingress_address, restricted_container

COMPONENT = "edgefleet:netcheck:Netcheck"
WAN_COMPONENT = "edgefleet:netcheck:NetcheckWan"
NAMESPACE = "edgefleet-netcheck"
HOST_NAMESPACE = "edgefleet-netcheck-host"
POD_AGENT = "netprobe"
HOST_AGENT = "netprobe-host"
WAN_AGENT = "netprobe-wan"
WAN_KEY_SECRET = "netprobe-wan-key"
WAN_POLICY = "allow-netprobe-wan"
WAN_SLICES_POLICY = "allow-netprobe-wan-slices"  # egress to the other slices' probes
NODE_READER = "edgefleet-netcheck-node-reader"  # the ClusterRole: get nodes, nothing else
KEY_BYTES = 32
# A regional slice's stack outputs that the other slices' WAN probes read (StackReference).
WAN_OUTPUT = "netcheckWan"  # cluster -> its WAN load balancer's address
WAN_KEY_OUTPUT = "netcheckWanKey"  # the slice's key, hex (secret)
PROBE_PORT = 9798
METRICS_PORT = 9799
SMALL_PACKET = 64
RUN_AS = 65532
SELECTOR = {"app.kubernetes.io/name": "netprobe"}


# Where the node's zone comes from: the cloud's instance metadata, or the node's label.
ZONE_FROM = {
    Vendor.AWS: "metadata", Vendor.GCP: "metadata", Vendor.AZURE: "metadata", Vendor.EXISTING: "node-label",
}  # fmt: skip
_AWS = "service.beta.kubernetes.io/aws-load-balancer-"
_LINODE = "service.beta.kubernetes.io/linode-loadbalancer-"


@dataclass(frozen=True)
class NetcheckArgs:
    """One cluster's probes: its name, vendor, the settings, its provider and the fleet's labels;
    ``wan_key`` (the stack's shared key, secret) when this cluster has designated WAN probes."""

    cluster: str
    spec: NetcheckSpec
    provider: k8s.Provider
    labels: Mapping[str, str]
    vendor: str = Vendor.EXISTING.value
    wan_key: pulumi.Output[str] | None = None
    wan_peer_keys: pulumi.Input[str] = ""
    """The other slices' keys its designated probes answer (comma-separated hex, secret)."""


@dataclass(frozen=True)
class WanLayout:
    """Which clusters of the fleet have designated WAN probes, and why the others do not."""

    members: tuple[str, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)  # cluster -> reason


def wan_layout(clusters: Sequence[tuple[str, str]], spec: NetcheckWanSpec) -> WanLayout:
    """The WAN probes of a fleet whose clusters are ``(name, vendor)`` (all of them, in every slice:
    slices probe each other): every cluster but those ``wan.skip`` names, Linode's unless
    ``wan.linode: premium``; none when fewer than two remain (nothing to probe) or ``wan.enabled``
    is false. Pure: the doctor and ``edgefleet up`` read the same layout."""
    skipped: dict[str, str] = {}
    members = []
    for name, vendor in clusters:
        if not spec.enabled:
            skipped[name] = "netcheck.wan.enabled is false"
        elif name in spec.skip:
            skipped[name] = "listed in netcheck.wan.skip"
        elif vendor == Vendor.LINODE.value and spec.linode is LinodeWan.SKIP:
            skipped[name] = (
                "Linode NodeBalancers carry UDP only as premium NodeBalancers (beta); "
                "set netcheck.wan.linode: premium to use one"
            )
        else:
            members.append(name)
    if len(members) < 2:
        for name in members:
            skipped[name] = "no other cluster of this fleet has WAN probes"
        members = []
    return WanLayout(tuple(members), dict(sorted(skipped.items())))


def fleet_wan_layout(spec: FleetSpec) -> WanLayout:
    """The fleet's WAN layout (``wan_layout`` over every cluster of the fleet); none without
    ``netcheck``. The program, ``edgefleet up`` and the doctor all read this one."""
    if spec.netcheck is None:
        return WanLayout(())
    return wan_layout([(c.name, c.vendor.value) for c in spec.clusters], spec.netcheck.wan)


def wan_service_annotations(vendor: str, spec: NetcheckWanSpec) -> dict[str, str]:
    """The WAN Service's annotations: a public UDP load balancer on every vendor.

    - ``aws``: the cloud controller manager's Network Load Balancer (the Classic ELB has no UDP:
      ``checkProtocol`` in cloud-provider-aws pkg/providers/v1/aws.go); with
      ``externalTrafficPolicy: Local`` its health check is HTTP on the Service's
      ``healthCheckNodePort`` (``buildNLBHealthCheckConfiguration``), so no check annotation
      (the default, TCP on the traffic port, would never pass for a UDP port).
    - ``gcp``: none: the external passthrough Network Load Balancer carries UDP, and with ``Local``
      checks the health check node port itself.
    - ``azure``: none: the Standard Load Balancer carries UDP; with ``Local`` the probe is HTTP on
      the health check node port (cloud-provider-azure).
    - ``digitalocean``: none: the CCM makes UDP forwarding rules and, without
      ``do-loadbalancer-override-health-check``, checks the health check node port over HTTP
      (``buildHealthCheck`` in digitalocean-cloud-controller-manager).
    - ``linode`` (only with ``wan.linode: premium``): ``linode-loadbalancer-nodebalancer-type:
      premium``: NodeBalancers carry UDP only as premium ones (Akamai's changelog, 2 July 2025,
      beta); the CCM sets no health check for a UDP port by default.
    - ``existing``: none: k3s' ServiceLB carries UDP and, with ``Local``, advertises only nodes
      that run a designated probe; MetalLB and others carry UDP too.
    """
    kind = Vendor(vendor)
    if kind is Vendor.AWS:
        return {f"{_AWS}type": "nlb", f"{_AWS}scheme": "internet-facing"}
    if kind is Vendor.LINODE and spec.linode is LinodeWan.PREMIUM:
        return {f"{_LINODE}nodebalancer-type": "premium"}
    return {}


def wan_traffic_policy(vendor: str) -> str:
    """``Local`` (the probe lands on a node that runs a designated agent, its source kept) where
    the load balancer checks the health check node port; ``Cluster`` on Linode, whose UDP
    NodeBalancer checks nothing and would send probes to nodes without an agent."""
    return "Cluster" if Vendor(vendor) is Vendor.LINODE else "Local"


def _field(path: str) -> EnvVarArgsDict:
    return {"name": "", "value_from": {"field_ref": {"field_path": path}}}


ZONE_LABEL = "topology.kubernetes.io/zone"


def zone_env() -> EnvVarArgsDict:
    """The node's zone through the Downward API, where the PodTopologyLabels admission plugin
    (KEP-4742: alpha in Kubernetes 1.33, beta in 1.35) copied it onto the pod; "" elsewhere, and the
    host agent then asks the metadata service or the API (``ZONE_FROM``)."""
    return {**_field(f"metadata.labels['{ZONE_LABEL}']"), "name": "NETPROBE_ZONE"}


def _scraped(labels: Mapping[str, str]) -> ObjectMetaArgsDict:
    """An agent pod's metadata: its labels, and the annotations any Prometheus with the usual pod
    discovery scrapes it by (``/metrics`` on ``METRICS_PORT``)."""
    return {
        "labels": dict(labels),
        "annotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(METRICS_PORT),
            "prometheus.io/path": "/metrics",
        },
    }


def agent_env(
    cluster: str, spec: NetcheckSpec, *, host: bool, vendor: str = Vendor.EXISTING.value
) -> list[EnvVarArgsDict]:
    """The agent's ``NETPROBE_*`` settings (``edgefleet.netprobe.agent.config_from_env``): who it is from the
    Downward API, its peers by headless Service, the packet sizes and the rate."""
    domain = "svc.cluster.local"
    if host:
        peers = f"host={HOST_AGENT}.{HOST_NAMESPACE}.{domain}"
    else:
        peers = f"pod={POD_AGENT}-pods.{NAMESPACE}.{domain},service={POD_AGENT}.{NAMESPACE}.{domain}"
    env: list[EnvVarArgsDict] = [
        {"name": "NETPROBE_CLUSTER", "value": cluster},
        {**_field("spec.nodeName"), "name": "NETPROBE_NODE"},
        zone_env(),
        {**_field("status.hostIP" if host else "status.podIP"), "name": "NETPROBE_OWN_IP"},
        {"name": "NETPROBE_PEERS", "value": peers},
        {"name": "NETPROBE_SIZES", "value": f"{SMALL_PACKET},{spec.large_packet}"},
        {"name": "NETPROBE_RATE", "value": str(spec.rate)},
    ]
    if host:
        env.append({"name": "NETPROBE_NIC", "value": ",".join(spec.nic_devices)})
        # The zone from the cloud's instance metadata (reachable on the host network), or the
        # node's label where there is none; the doctor gives a node's pod agents the zone its
        # host agent reports. Linode and DigitalOcean regions have no zones.
        zone_from = ZONE_FROM.get(Vendor(vendor))
        if zone_from is not None:
            env.append({"name": "NETPROBE_ZONE_FROM", "value": zone_from})
    else:
        env.append({**_field("metadata.name"), "name": "NETPROBE_POD"})
    return env


def agent_container(
    cluster: str, spec: NetcheckSpec, *, host: bool, vendor: str = Vendor.EXISTING.value
) -> ContainerArgsDict:
    """The agent container: ``restricted`` in every respect (non-root, no capabilities, read-only
    root, RuntimeDefault seccomp); UDP sockets with DF set need no capability."""
    probe: ProbeArgsDict = {
        "http_get": {"path": "/metrics", "port": METRICS_PORT},
        "period_seconds": 20,
        "timeout_seconds": 3,
    }
    return {
        "name": "netprobe",
        "image": spec.image,
        "args": [],
        "env": agent_env(cluster, spec, host=host, vendor=vendor),
        "ports": [
            {"name": "probe", "container_port": PROBE_PORT, "protocol": "UDP"},
            {"name": "metrics", "container_port": METRICS_PORT, "protocol": "TCP"},
        ],
        "readiness_probe": probe,
        "liveness_probe": {**probe, "failure_threshold": 3},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "96Mi"}},
        "security_context": {**restricted_container(), "run_as_user": RUN_AS, "run_as_group": RUN_AS},
    }


def reads_node_zone(vendor: str) -> bool:
    """Does the host agent read its node's zone label through the API (a token, RBAC)?"""
    return ZONE_FROM.get(Vendor(vendor)) == "node-label"


def daemonset_spec(
    cluster: str, spec: NetcheckSpec, labels: Mapping[str, str], *, host: bool, vendor: str = Vendor.EXISTING.value
) -> DaemonSetSpecArgsDict:
    """One agent per node; every node, tainted ones too (a node without a probe is a blind spot)."""
    role = {"app.kubernetes.io/component": "host" if host else "pod"}
    select = {**SELECTOR, **role}
    pod_spec: PodSpecArgsDict = {
        "automount_service_account_token": False,
        "enable_service_links": False,
        "security_context": {"run_as_non_root": True, "seccomp_profile": {"type": "RuntimeDefault"}},
        "tolerations": [{"operator": "Exists"}],
        "priority_class_name": "system-node-critical",
        "containers": [agent_container(cluster, spec, host=host, vendor=vendor)],
    }
    if host:
        pod_spec["host_network"] = True
        pod_spec["dns_policy"] = "ClusterFirstWithHostNet"
        if reads_node_zone(vendor):
            # The one token of netcheck: its ServiceAccount may only get nodes (its zone label).
            pod_spec["service_account_name"] = HOST_AGENT
            pod_spec["automount_service_account_token"] = True
    return {
        "selector": {"match_labels": select},
        "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": "25%"}},
        "template": {"metadata": _scraped({**labels, **select}), "spec": pod_spec},
    }


def _dns_egress() -> NetworkPolicyEgressRuleArgsDict:
    return {
        "to": [
            {
                "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}},
                "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
    }


def allow_policy(namespace: str, role: str) -> NetworkPolicySpecArgsDict:
    """Probes between the agents of one role (``pod``, ``host``), metrics scraped from inside the
    cluster, DNS; nothing else (the designated WAN probes have their own policy)."""
    select = {**SELECTOR, "app.kubernetes.io/component": role}
    agents: NetworkPolicyPeerArgsDict = {
        "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": namespace}},
        "pod_selector": {"match_labels": select},
    }
    return {
        "pod_selector": {"match_labels": select},
        "policy_types": ["Ingress", "Egress"],
        "ingress": [
            {"from_": [agents], "ports": [{"port": PROBE_PORT, "protocol": "UDP"}]},
            {"from_": [{"namespace_selector": {}}], "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]},
        ],
        "egress": [{"to": [agents], "ports": [{"port": PROBE_PORT, "protocol": "UDP"}]}, _dns_egress()],
    }


class Netcheck(pulumi.ComponentResource):
    """The probe agents of one cluster (pod network, and host network unless ``host_network: false``)."""

    def __init__(self, name: str, args: NetcheckArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT, name, {"cluster": args.cluster, "image": args.spec.image}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = {**args.labels, "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "edgefleet"}
        self.daemonsets: list[k8s.apps.v1.DaemonSet] = []
        # The WAN load balancer's address once the vendor assigned one ("" without WAN probes).
        self.wan_address: pulumi.Output[str] = pulumi.Output.from_input("")
        self.wan_service: k8s.core.v1.Service | None = None
        layouts = [(NAMESPACE, POD_AGENT, False)]
        if args.spec.host_network:
            layouts.append((HOST_NAMESPACE, HOST_AGENT, True))
        for namespace_name, agent, host in layouts:
            level = "privileged" if host else "restricted"
            role = "host" if host else "pod"
            namespace = k8s.core.v1.Namespace(
                f"{name}-{role}-namespace",
                metadata={
                    "name": namespace_name,
                    "labels": {
                        **labels,
                        "pod-security.kubernetes.io/enforce": level,
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        # The host agent needs hostNetwork and nothing else: anything more is reported.
                        "pod-security.kubernetes.io/audit": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted",
                    },
                },
                opts=child,
            )
            ns = namespace.metadata.name

            def meta(object_name: str, ns: pulumi.Output[str] = ns) -> ObjectMetaArgsDict:
                return {"name": object_name, "namespace": ns, "labels": labels}

            k8s.networking.v1.NetworkPolicy(
                f"{name}-{role}-default-deny",
                metadata=meta("default-deny"),
                spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
                opts=child,
            )
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{role}-allow",
                metadata=meta("allow-netprobe"),
                spec=allow_policy(namespace_name, role),
                opts=child,
            )
            select = {**SELECTOR, "app.kubernetes.io/component": role}
            headless: ServiceSpecArgsDict = {
                "cluster_ip": "None",
                "publish_not_ready_addresses": True,
                "selector": select,
                "ports": [{"name": "probe", "port": PROBE_PORT, "target_port": "probe", "protocol": "UDP"}],
            }
            k8s.core.v1.Service(f"{name}-{role}-peers", metadata=meta(f"{agent}-pods" if not host else agent),
                                spec=headless, opts=child)  # fmt: skip
            if not host:
                service: ServiceSpecArgsDict = {
                    "type": "ClusterIP",
                    "selector": select,
                    "ports": [{"name": "probe", "port": PROBE_PORT, "target_port": "probe", "protocol": "UDP"}],
                }
                k8s.core.v1.Service(f"{name}-service", metadata=meta(POD_AGENT), spec=service, opts=child)
            if host and reads_node_zone(args.vendor):
                self._node_reader(name, meta, labels, child)
            if not host and args.wan_key is not None:
                self._wan_entry(name, args, meta, labels, child)
            self.daemonsets.append(
                k8s.apps.v1.DaemonSet(
                    f"{name}-{role}-agent",
                    metadata=meta(agent),
                    spec=daemonset_spec(args.cluster, args.spec, labels, host=host, vendor=args.vendor),
                    opts=child,
                )
            )
        self.register_outputs({"wanAddress": self.wan_address})

    def _node_reader(self, name: str, meta: Any, labels: Mapping[str, str], child: pulumi.ResourceOptions) -> None:
        """The host agent's ServiceAccount and the only permission it has: get nodes."""
        account = k8s.core.v1.ServiceAccount(
            f"{name}-host-account", metadata=meta(HOST_AGENT), automount_service_account_token=False, opts=child
        )
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-node-reader",
            metadata={"name": NODE_READER, "labels": labels},
            rules=[{"api_groups": [""], "resources": ["nodes"], "verbs": ["get"]}],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-node-reader-binding",
            metadata={"name": NODE_READER, "labels": labels},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": HOST_NAMESPACE}],
            opts=child,
        )

    def _wan_entry(self, name: str, args: NetcheckArgs, meta: Any, labels: Mapping[str, str],
                   child: pulumi.ResourceOptions) -> None:  # fmt: skip
        """The designated probes' public UDP load balancer and the Secret with the stack's key."""
        assert args.wan_key is not None
        select = {**SELECTOR, "app.kubernetes.io/component": "wan"}
        service_meta = meta(WAN_AGENT)
        annotations = wan_service_annotations(args.vendor, args.spec.wan)
        if annotations:
            service_meta["annotations"] = annotations
        service: ServiceSpecArgsDict = {
            "type": "LoadBalancer",
            "external_traffic_policy": wan_traffic_policy(args.vendor),
            "selector": select,
            "ports": [{"name": "probe", "port": PROBE_PORT, "target_port": "probe", "protocol": "UDP"}],
        }
        self.wan_service = k8s.core.v1.Service(f"{name}-wan-service", metadata=service_meta, spec=service, opts=child)
        self.wan_address = self.wan_service.status.apply(ingress_address)
        secret_meta = meta(WAN_KEY_SECRET)
        secret_meta["annotations"] = {SECRET_KEYS_ANNOTATION: "key,peers"}
        k8s.core.v1.Secret(
            f"{name}-wan-key",
            metadata=secret_meta,
            type="Opaque",
            string_data=pulumi.Output.secret({"key": args.wan_key, "peers": args.wan_peer_keys}),
            opts=child,
        )


def wan_env(cluster: str, spec: NetcheckSpec, peers: Mapping[str, pulumi.Input[str]]) -> list[EnvVarArgsDict]:
    """The designated agent's settings: who it is, the other locations' load balancers
    (``cluster=address:port``, from their Services' status or a peer slice's output; a location
    without an address yet is left out), its key and the peer slices' keys from the Secret."""
    addresses = pulumi.Output.all(*(pulumi.Output.from_input(peers[c]) for c in sorted(peers)))
    listing = addresses.apply(
        lambda found: ",".join(f"{c}={a}:{PROBE_PORT}" for c, a in zip(sorted(peers), found, strict=True) if a)
    )
    return [
        {"name": "NETPROBE_CLUSTER", "value": cluster},
        {**_field("spec.nodeName"), "name": "NETPROBE_NODE"},
        {**_field("metadata.name"), "name": "NETPROBE_POD"},
        zone_env(),
        {**_field("status.podIP"), "name": "NETPROBE_OWN_IP"},
        {"name": "NETPROBE_WAN_PEERS", "value": listing},
        {"name": "NETPROBE_SIZES", "value": f"{SMALL_PACKET},{spec.large_packet}"},
        {"name": "NETPROBE_RATE", "value": str(spec.rate)},
        {"name": "NETPROBE_KEY", "value_from": {"secret_key_ref": {"name": WAN_KEY_SECRET, "key": "key"}}},
        # Optional: a pod of the new Deployment may start before the Secret has its `peers` key.
        {
            "name": "NETPROBE_PEER_KEYS",
            "value_from": {"secret_key_ref": {"name": WAN_KEY_SECRET, "key": "peers", "optional": True}},
        },
    ]


def wan_egress(addresses: Sequence[str]) -> list[NetworkPolicyEgressRuleArgsDict]:
    """Probes out to the other locations' load balancers, and nowhere else: one ``/32`` (or
    ``/128``) per address; a load balancer known by name only (AWS) can be at any address, so
    then UDP to the probe port anywhere (the policy pack accepts exactly that, here alone). An
    empty address (none assigned yet, a peer slice not deployed yet) allows nothing."""
    blocks: list[NetworkPolicyPeerArgsDict] = []
    named = False
    for address in sorted(set(addresses)):
        if not address:
            continue  # no load balancer address yet: nothing to allow
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            named = True
            continue
        blocks.append({"ip_block": {"cidr": f"{ip}/{ip.max_prefixlen}"}})
    if named:
        blocks = [{"ip_block": {"cidr": "0.0.0.0/0"}}]
    if not blocks:
        return []
    return [{"to": blocks, "ports": [{"port": PROBE_PORT, "protocol": "UDP"}]}]


@dataclass(frozen=True)
class NetcheckWanArgs:
    """One cluster's designated WAN probes: the other clusters' load balancer addresses."""

    cluster: str
    spec: NetcheckSpec
    provider: k8s.Provider
    labels: Mapping[str, str]
    peers: Mapping[str, pulumi.Output[str]]
    """The other clusters of this stack: cluster -> address (their Services' status)."""
    remote: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """The other slices' clusters: cluster -> address ("" until that slice deployed it)."""


class NetcheckWan(pulumi.ComponentResource):
    """The designated probes of one cluster (a child of its ``Netcheck``): registered once every
    cluster's WAN Service exists, so each reads the others' addresses without a cycle."""

    def __init__(self, name: str, args: NetcheckWanArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        inputs = {"cluster": args.cluster, "peers": sorted(args.peers), "slicePeers": sorted(args.remote)}
        super().__init__(WAN_COMPONENT, name, inputs, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = {**args.labels, "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "edgefleet"}
        select = {**SELECTOR, "app.kubernetes.io/component": "wan"}

        def meta(object_name: str) -> ObjectMetaArgsDict:
            return {"name": object_name, "namespace": NAMESPACE, "labels": labels}

        container = agent_container(args.cluster, args.spec, host=False)
        container["env"] = wan_env(args.cluster, args.spec, {**args.peers, **args.remote})
        pod_spec: PodSpecArgsDict = {
            "automount_service_account_token": False,
            "enable_service_links": False,
            "security_context": {"run_as_non_root": True, "seccomp_profile": {"type": "RuntimeDefault"}},
            "containers": [container],
            # One designated probe per node where there are enough nodes: a node's loss is then
            # told from the WAN's.
            "topology_spread_constraints": [
                {
                    "max_skew": 1,
                    "topology_key": "kubernetes.io/hostname",
                    "when_unsatisfiable": "ScheduleAnyway",
                    "label_selector": {"match_labels": select},
                }
            ],
        }
        deployment: DeploymentSpecArgsDict = {
            "replicas": args.spec.wan.replicas,
            "selector": {"match_labels": select},
            "template": {"metadata": _scraped({**labels, **select}), "spec": pod_spec},
        }
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-agents", metadata=meta(WAN_AGENT), spec=deployment, opts=child
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(WAN_AGENT),
            spec={"max_unavailable": 1, "selector": {"match_labels": select}},
            opts=child,
        )
        addresses = pulumi.Output.all(*(args.peers[c] for c in sorted(args.peers)))
        policy: NetworkPolicySpecArgsDict = {
            "pod_selector": {"match_labels": select},
            "policy_types": ["Ingress", "Egress"],
            # The other locations' probes arrive from their public addresses, unknown here (with
            # externalTrafficPolicy Local the source is kept); only signed ones are answered.
            "ingress": [
                {"from_": [{"ip_block": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": PROBE_PORT, "protocol": "UDP"}]},
                {"from_": [{"namespace_selector": {}}], "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]},
            ],
            "egress": addresses.apply(lambda found: [*wan_egress(found), _dns_egress()]),
        }
        k8s.networking.v1.NetworkPolicy(f"{name}-allow", metadata=meta(WAN_POLICY), spec=policy, opts=child)
        if args.remote:
            # The other slices' load balancers, in a policy of their own (NetworkPolicies add up):
            # their addresses are read at deploy, so offline only this one is unknown.
            remote = pulumi.Output.all(*(args.remote[c] for c in sorted(args.remote)))
            slices: NetworkPolicySpecArgsDict = {
                "pod_selector": {"match_labels": select},
                "policy_types": ["Egress"],
                "egress": remote.apply(wan_egress),
            }
            k8s.networking.v1.NetworkPolicy(
                f"{name}-allow-slices", metadata=meta(WAN_SLICES_POLICY), spec=slices, opts=child
            )
        self.register_outputs({})


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def peer_address(outputs: object, cluster: str) -> str:
    """``cluster``'s WAN load balancer address from a peer slice's ``netcheckWan`` output (cluster ->
    address): an IP address or a DNS name (an AWS NLB's), else "" (the slice has not deployed it
    yet, or the output is not what edgefleet writes: never passed on to the agent or the policy)."""
    found = outputs.get(cluster) if isinstance(outputs, Mapping) else None
    if not isinstance(found, str) or not found:
        return ""
    try:
        return str(ipaddress.ip_address(found))
    except ValueError:
        pass
    name = found.lower().rstrip(".")
    labels = name.split(".")
    if len(name) <= 253 and len(labels) >= 2 and all(_HOST_LABEL.fullmatch(label) for label in labels):
        return name
    return ""


def peer_key(value: object) -> str:
    """A peer slice's WAN key from its ``netcheckWanKey`` output: hex of ``KEY_BYTES`` bytes
    (what ``wan_key`` makes), else "" (not deployed yet, or not an edgefleet key)."""
    if not isinstance(value, str) or not re.fullmatch(f"[0-9a-fA-F]{{{2 * KEY_BYTES}}}", value):
        return ""
    return value.lower()


def peer_keys(values: Sequence[object]) -> str:
    """The peer slices' keys the designated probes answer: comma-separated, sorted, unique."""
    return ",".join(sorted({k for k in (peer_key(v) for v in values) if k}))


def wan_key(name: str, opts: pulumi.ResourceOptions | None = None) -> pulumi.Output[str]:
    """The stack's shared key for the WAN probes: ``KEY_BYTES`` random bytes (hex) from the random
    provider, made once at create and kept in the state as a secret output (its ``hex`` and
    ``base64`` are secret outputs of ``RandomBytes``), never in the program or the plan."""
    made = random.RandomBytes(name, random.RandomBytesArgs(length=KEY_BYTES), opts=opts)
    return pulumi.Output.secret(made.hex)

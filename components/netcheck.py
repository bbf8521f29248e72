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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import DaemonSetSpecArgsDict
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

from edgefleet.components.config.model import NetcheckSpec
from edgefleet.components.workloads.edge_workload import restricted_container

COMPONENT = "edgefleet:netcheck:Netcheck"
NAMESPACE = "edgefleet-netcheck"
HOST_NAMESPACE = "edgefleet-netcheck-host"
POD_AGENT = "netprobe"
HOST_AGENT = "netprobe-host"
PROBE_PORT = 9798
METRICS_PORT = 9799
SMALL_PACKET = 64
RUN_AS = 65532
SELECTOR = {"app.kubernetes.io/name": "netprobe"}


@dataclass(frozen=True)
class NetcheckArgs:
    """One cluster's probes: its name, the settings, its provider and the fleet's labels."""

    cluster: str
    spec: NetcheckSpec
    provider: k8s.Provider
    labels: Mapping[str, str]


def _field(path: str) -> EnvVarArgsDict:
    return {"name": "", "value_from": {"field_ref": {"field_path": path}}}


def agent_env(cluster: str, spec: NetcheckSpec, *, host: bool) -> list[EnvVarArgsDict]:
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
        {**_field("status.hostIP" if host else "status.podIP"), "name": "NETPROBE_OWN_IP"},
        {"name": "NETPROBE_PEERS", "value": peers},
        {"name": "NETPROBE_SIZES", "value": f"{SMALL_PACKET},{spec.large_packet}"},
        {"name": "NETPROBE_RATE", "value": str(spec.rate)},
    ]
    if host:
        env.append({"name": "NETPROBE_NIC", "value": ",".join(spec.nic_devices)})
        # The zone from the cloud's instance metadata (reachable on the host network); the doctor
        # gives a node's pod agents the zone its host agent reports.
        env.append({"name": "NETPROBE_ZONE_FROM", "value": "metadata"})
    else:
        env.append({**_field("metadata.name"), "name": "NETPROBE_POD"})
    return env


def agent_container(cluster: str, spec: NetcheckSpec, *, host: bool) -> ContainerArgsDict:
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
        "env": agent_env(cluster, spec, host=host),
        "ports": [
            {"name": "probe", "container_port": PROBE_PORT, "protocol": "UDP"},
            {"name": "metrics", "container_port": METRICS_PORT, "protocol": "TCP"},
        ],
        "readiness_probe": probe,
        "liveness_probe": {**probe, "failure_threshold": 3},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "96Mi"}},
        "security_context": {**restricted_container(), "run_as_user": RUN_AS, "run_as_group": RUN_AS},
    }


def daemonset_spec(cluster: str, spec: NetcheckSpec, labels: Mapping[str, str], *, host: bool) -> DaemonSetSpecArgsDict:
    """One agent per node; every node, tainted ones too (a node without a probe is a blind spot)."""
    role = {"app.kubernetes.io/component": "host" if host else "pod"}
    select = {**SELECTOR, **role}
    pod_spec: PodSpecArgsDict = {
        "automount_service_account_token": False,
        "enable_service_links": False,
        "security_context": {"run_as_non_root": True, "seccomp_profile": {"type": "RuntimeDefault"}},
        "tolerations": [{"operator": "Exists"}],
        "priority_class_name": "system-node-critical",
        "containers": [agent_container(cluster, spec, host=host)],
    }
    if host:
        pod_spec["host_network"] = True
        pod_spec["dns_policy"] = "ClusterFirstWithHostNet"
    return {
        "selector": {"match_labels": select},
        "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": "25%"}},
        "template": {
            "metadata": {
                "labels": {**labels, **select},
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(METRICS_PORT),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": pod_spec,
        },
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


def allow_policy(namespace: str) -> NetworkPolicySpecArgsDict:
    """Probes between the agents, metrics scraped from inside the cluster, DNS; nothing else."""
    agents: NetworkPolicyPeerArgsDict = {
        "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": namespace}},
        "pod_selector": {"match_labels": SELECTOR},
    }
    return {
        "pod_selector": {"match_labels": SELECTOR},
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
                f"{name}-{role}-allow", metadata=meta("allow-netprobe"), spec=allow_policy(namespace_name), opts=child
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
            self.daemonsets.append(
                k8s.apps.v1.DaemonSet(
                    f"{name}-{role}-agent",
                    metadata=meta(agent),
                    spec=daemonset_spec(args.cluster, args.spec, labels, host=host),
                    opts=child,
                )
            )
        self.register_outputs({})

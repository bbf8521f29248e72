"""One workload in one cluster, hardened to Pod Security "restricted".

Namespace (restricted Pod Security labels) -> Deployment (non-root, read-only root FS, no
capabilities, RuntimeDefault seccomp, no privilege escalation, no token automount, probes,
requests = limits) -> Service (ClusterIP or LoadBalancer) -> PodDisruptionBudget -> a default-deny
NetworkPolicy and the allow rule for the workload's own port (and DNS, and any `egress_cidrs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import (
    DeploymentInitArgs,
    DeploymentSpecArgs,
    DeploymentStrategyArgs,
    RollingUpdateDeploymentArgs,
)
from pulumi_kubernetes.core.v1 import (
    CapabilitiesArgs,
    ContainerArgs,
    ContainerPortArgs,
    EmptyDirVolumeSourceArgs,
    HTTPGetActionArgs,
    NamespaceInitArgs,
    PodSecurityContextArgs,
    PodSpecArgs,
    PodTemplateSpecArgs,
    ProbeArgs,
    ResourceRequirementsArgs,
    SeccompProfileArgs,
    SecurityContextArgs,
    ServiceInitArgs,
    ServicePortArgs,
    ServiceSpecArgs,
    TCPSocketActionArgs,
    TopologySpreadConstraintArgs,
    VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import (
    IPBlockArgs,
    NetworkPolicyEgressRuleArgs,
    NetworkPolicyIngressRuleArgs,
    NetworkPolicyInitArgs,
    NetworkPolicyPeerArgs,
    NetworkPolicyPortArgs,
    NetworkPolicySpecArgs,
)
from pulumi_kubernetes.policy.v1 import PodDisruptionBudgetInitArgs, PodDisruptionBudgetSpecArgs

from components.config.model import Expose, WorkloadSpec

# A UID/GID no base image maps to root; with runAsNonRoot the kubelet refuses root anyway.
RUN_AS = 65532
POD_SECURITY_LEVEL = "restricted"


@dataclass(frozen=True)
class EdgeWorkloadArgs:
    """A workload, the cluster it goes to, its replica count there, and that cluster's provider."""

    workload: WorkloadSpec
    cluster: str
    replicas: int
    allowed_countries: tuple[str, ...] | None
    provider: k8s.Provider
    labels: Mapping[str, str]  # owner/environment/cluster labels added to every object


def selector_labels(workload: str) -> dict[str, str]:
    """The labels that select a workload's pods (stable across releases)."""
    return {"app.kubernetes.io/name": workload, "app.kubernetes.io/instance": workload}


def _probe(spec: WorkloadSpec, *, period: int, failures: int) -> ProbeArgs:
    if spec.probe_path:
        return ProbeArgs(
            http_get=HTTPGetActionArgs(path=spec.probe_path, port="http"),
            period_seconds=period,
            failure_threshold=failures,
            timeout_seconds=2,
        )
    return ProbeArgs(
        tcp_socket=TCPSocketActionArgs(port="http"),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=2,
    )


class EdgeWorkload(pulumi.ComponentResource):
    """A workload's Kubernetes objects in one cluster, all through that cluster's provider."""

    def __init__(self, name: str, args: EdgeWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = args.workload
        # Plain facts about the placement, as component inputs: what the policy pack checks
        # (residency, capabilities, exposure) without reading edgefleet's config.
        facts = {
            "workload": spec.name,
            "cluster": args.cluster,
            "replicas": args.replicas,
            "expose": spec.expose.value,
            "requires": [c.value for c in spec.placement.requires],
            "allowedCountries": list(args.allowed_countries) if args.allowed_countries is not None else None,
            "minVendors": spec.placement.min_vendors,
        }
        super().__init__("edgefleet:workloads:EdgeWorkload", name, facts, opts)
        wl = spec.name
        select = selector_labels(wl)
        labels = {
            **args.labels,
            **select,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/part-of": "edgefleet",
        }
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.cluster = args.cluster
        self.replicas = args.replicas

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            NamespaceInitArgs(
                metadata=ObjectMetaArgs(
                    name=wl,
                    labels={
                        **labels,
                        "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
                        "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
                    },
                )
            ),
            opts=child,
        )
        ns = self.namespace.metadata.name

        def meta(object_name: str) -> ObjectMetaArgs:
            return ObjectMetaArgs(name=object_name, namespace=ns, labels=labels)

        drop_all = SecurityContextArgs(
            allow_privilege_escalation=False,
            privileged=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            capabilities=CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=SeccompProfileArgs(type="RuntimeDefault"),
        )
        requests = {"cpu": spec.resources.cpu, "memory": spec.resources.memory}
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            DeploymentInitArgs(
                metadata=meta(wl),
                spec=DeploymentSpecArgs(
                    replicas=args.replicas,
                    revision_history_limit=5,
                    selector=LabelSelectorArgs(match_labels=select),
                    # Never below the desired count during a rollout: surge one, then retire one.
                    strategy=DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                    ),
                    template=PodTemplateSpecArgs(
                        metadata=ObjectMetaArgs(labels=labels),
                        spec=PodSpecArgs(
                            automount_service_account_token=False,
                            enable_service_links=False,
                            security_context=PodSecurityContextArgs(
                                run_as_non_root=True,
                                run_as_user=RUN_AS,
                                run_as_group=RUN_AS,
                                fs_group=RUN_AS,
                                seccomp_profile=SeccompProfileArgs(type="RuntimeDefault"),
                            ),
                            containers=[
                                ContainerArgs(
                                    name=wl,
                                    image=spec.image,
                                    ports=[ContainerPortArgs(name="http", container_port=spec.port, protocol="TCP")],
                                    resources=ResourceRequirementsArgs(requests=requests, limits=requests),
                                    security_context=drop_all,
                                    readiness_probe=_probe(spec, period=5, failures=3),
                                    liveness_probe=_probe(spec, period=10, failures=6),
                                    # A writable scratch dir, since the root filesystem is read-only.
                                    volume_mounts=[VolumeMountArgs(name="tmp", mount_path="/tmp")],
                                )
                            ],
                            volumes=[VolumeArgs(name="tmp", empty_dir=EmptyDirVolumeSourceArgs(size_limit="64Mi"))],
                            topology_spread_constraints=[
                                TopologySpreadConstraintArgs(
                                    max_skew=1,
                                    topology_key="kubernetes.io/hostname",
                                    when_unsatisfiable="ScheduleAnyway",
                                    label_selector=LabelSelectorArgs(match_labels=select),
                                )
                            ],
                        ),
                    ),
                ),
            ),
            opts=child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            ServiceInitArgs(
                metadata=meta(wl),
                spec=ServiceSpecArgs(
                    type="LoadBalancer" if spec.expose is Expose.PUBLIC else "ClusterIP",
                    selector=select,
                    ports=[ServicePortArgs(name="http", port=spec.port, target_port="http", protocol="TCP")],
                ),
            ),
            opts=child,
        )
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            PodDisruptionBudgetInitArgs(
                metadata=meta(wl),
                spec=PodDisruptionBudgetSpecArgs(max_unavailable=1, selector=LabelSelectorArgs(match_labels=select)),
            ),
            opts=child,
        )
        self.default_deny = k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            NetworkPolicyInitArgs(
                metadata=meta("default-deny"),
                spec=NetworkPolicySpecArgs(pod_selector=LabelSelectorArgs(), policy_types=["Ingress", "Egress"]),
            ),
            opts=child,
        )
        # Public: any source (the load balancer forwards client traffic). Internal: pods of this cluster.
        sources = (
            None if spec.expose is Expose.PUBLIC else [NetworkPolicyPeerArgs(namespace_selector=LabelSelectorArgs())]
        )
        egress = [
            NetworkPolicyEgressRuleArgs(
                to=[
                    NetworkPolicyPeerArgs(
                        namespace_selector=LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": "kube-system"}
                        ),
                        pod_selector=LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
                    )
                ],
                ports=[NetworkPolicyPortArgs(port=53, protocol="UDP"), NetworkPolicyPortArgs(port=53, protocol="TCP")],
            )
        ]
        if spec.egress_cidrs:
            egress.append(
                NetworkPolicyEgressRuleArgs(
                    to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr=c)) for c in spec.egress_cidrs]
                )
            )
        self.allow = k8s.networking.v1.NetworkPolicy(
            f"{name}-allow",
            NetworkPolicyInitArgs(
                metadata=meta(f"allow-{wl}"),
                spec=NetworkPolicySpecArgs(
                    pod_selector=LabelSelectorArgs(match_labels=select),
                    policy_types=["Ingress", "Egress"],
                    ingress=[
                        NetworkPolicyIngressRuleArgs(
                            from_=sources,
                            ports=[NetworkPolicyPortArgs(port=spec.port, protocol="TCP")],
                        )
                    ],
                    egress=egress,
                ),
            ),
            opts=child,
        )
        self.register_outputs({"replicas": self.replicas})

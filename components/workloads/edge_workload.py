"""One workload in one cluster, hardened to Pod Security "restricted".

Namespace (restricted Pod Security labels) -> Deployment (non-root, read-only root FS, no
capabilities, RuntimeDefault seccomp, no privilege escalation, no token automount, probes,
requests = limits) -> Service (ClusterIP or LoadBalancer) -> PodDisruptionBudget -> a default-deny
NetworkPolicy and the allow rule for the workload's own port (and DNS, and any `egress_cidrs`).

Progressive rollout: ``depends_on`` holds the Deployments of the rollout wave before this one
(``Workload.waves``, canary first). Only the Deployment depends on them: pulumi-kubernetes waits
until a Deployment is ready (its rollout finished, its pods pass readiness), so a release that
fails in the canary stops ``pulumi up`` before any later wave's Deployment is touched, while
Namespaces, Services, PDBs and NetworkPolicies everywhere go ahead as usual.

A public workload's Service is a LoadBalancer that the vendor's load balancer health-checks on the
workload's probe path (``load_balancer_annotations`` says what each vendor gets, and why), and its
address is ``endpoint``: what global DNS steering points at.

Arguments are pulumi-kubernetes' TypedDict input types (``...ArgsDict``), not its Args classes:
mypy checks every key (a misspelt one fails ``make typecheck``), and at run time they are plain
dicts, which the SDK serializes without first turning each nested Args object back into a dict
(a Deployment's inputs serialize about a quarter faster; benchmarks/README.md, "Plan scale").
"""

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import DeploymentSpecArgsDict
from pulumi_kubernetes.core.v1 import (
    ContainerArgsDict,
    ContainerPortArgsDict,
    EmptyDirVolumeSourceArgsDict,
    EnvVarArgsDict,
    PodSecurityContextArgsDict,
    ProbeArgsDict,
    SecurityContextArgsDict,
    ServicePortArgsDict,
    ServiceSpecArgsDict,
    VolumeArgsDict,
    VolumeMountArgsDict,
)
from pulumi_kubernetes.core.v1.outputs import ServiceStatus
from pulumi_kubernetes.meta.v1 import LabelSelectorArgsDict, ObjectMetaArgsDict
from pulumi_kubernetes.networking.v1 import (
    NetworkPolicyEgressRuleArgsDict,
    NetworkPolicyIngressRuleArgsDict,
    NetworkPolicyPortArgsDict,
    NetworkPolicySpecArgsDict,
)
from pulumi_kubernetes.policy.v1 import PodDisruptionBudgetSpecArgsDict

from edgefleet.components.args import EdgeWorkloadArgs
from edgefleet.components.config import manifests as user_manifests
from edgefleet.components.config.application import MAIN_PORT_NAME, SECRET_KEYS_ANNOTATION, files_checksum
from edgefleet.components.config.model import (
    Expose,
    LocationSettings,
    ManifestObject,
    ResolvedFile,
    Vendor,
    WorkloadSpec,
)
from edgefleet.components.resolve import (
    ArgsError,
    cluster_labels,
    depends_on_of,
    kubernetes_provider,
    workload_from_args,
)
from edgefleet.components.tokens import EDGE_WORKLOAD, aliased
from edgefleet.components.workloads.manifest_objects import POD_INPUT_KINDS, register

# A UID/GID no base image maps to root; with runAsNonRoot the kubelet refuses root anyway.
RUN_AS = 65532
POD_SECURITY_LEVEL = "restricted"
# The pod template annotation that rolls the Deployment when a config file changes.
CHECKSUM_ANNOTATION = "edgefleet.io/config-files-sha256"
FILES_VOLUME = "edgefleet-files"
# Containers run as RUN_AS with every capability dropped (no NET_BIND_SERVICE), so they bind a port
# below 1024 only where this sysctl allows it, which differs by runtime (containerd 2 sets it to 0,
# containerd 1.7 and CRI-O leave the kernel's 1024). It is namespaced per pod and on Kubernetes'
# safe list (allowed by Pod Security `restricted`): a pod with a lower port sets it to that port.
UNPRIVILEGED_PORT_START = "net.ipv4.ip_unprivileged_port_start"
PRIVILEGED_PORTS_END = 1024


@dataclass(frozen=True)
class Site:
    """Where a pod runs, as every pod learns it (``EDGEFLEET_*`` environment variables)."""

    cluster: str
    vendor: str
    region: str
    country: str
    city: str | None
    environment: str

    def env(self, workload: str) -> dict[str, str]:
        """The ``EDGEFLEET_*`` variables, in a fixed order (``EDGEFLEET_CITY`` only when known)."""
        out = {
            "EDGEFLEET_CLUSTER": self.cluster,
            "EDGEFLEET_VENDOR": self.vendor,
            "EDGEFLEET_REGION": self.region,
            "EDGEFLEET_COUNTRY": self.country,
        }
        if self.city:
            out["EDGEFLEET_CITY"] = self.city
        out |= {"EDGEFLEET_WORKLOAD": workload, "EDGEFLEET_ENVIRONMENT": self.environment}
        return out


def secret_name(workload: str) -> str:
    """The name of the Secret holding a workload's ``secret_env`` values (keys: the variable names)."""
    return f"{workload}-env"


def files_name(workload: str) -> str:
    """The name of the ConfigMap holding a workload's ``config_files``."""
    return f"{workload}-files"


@dataclass(frozen=True)
class ResolvedWorkloadArgs:
    """A workload, the cluster it goes to, its replica count there, that cluster's provider and
    vendor, and the Deployments of the previous rollout wave (none for the first wave). ``site``
    is where it runs (the ``EDGEFLEET_*`` variables; None: none are set), ``settings`` its image,
    env and labels there after ``overrides`` (None: the workload's own), ``config_files`` the files
    with their text, ``secret_env`` the secret value of each ``secret_env`` variable."""

    workload: WorkloadSpec
    cluster: str
    replicas: int
    allowed_countries: tuple[str, ...] | None
    provider: k8s.Provider
    labels: Mapping[str, str]  # owner/environment/cluster labels added to every object
    vendor: str  # the cluster's vendor (a `Vendor` value): decides the load balancer annotations
    depends_on: Sequence[pulumi.Resource] = ()  # the previous wave's Deployments; only ours waits
    site: Site | None = None
    settings: LocationSettings | None = None
    config_files: tuple[ResolvedFile, ...] = ()
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    manifests: tuple[ManifestObject, ...] = ()  # a `manifests` workload's objects, as written
    scale_target: str | None = None  # and the one whose replicas are set (`Kind/name`)
    public_service: str | None = None  # a steered one's LoadBalancer Service (DNS points at its address)


# Annotation prefixes of the vendors' load balancer controllers. The health checks they configure
# (public workloads with a `probe_path`; plain HTTP, like the readiness probe) go to the Service's
# node port, and the Service keeps the default `externalTrafficPolicy: Cluster`: kube-proxy forwards
# a check to any ready pod of the cluster, so a location passes exactly when it serves the probe
# path. `Local` is not set: AWS, Azure, GKE and DigitalOcean would then check kube-proxy's
# `healthCheckNodePort` instead (Azure ignoring the custom path), and traffic would split per node
# rather than per pod. What it would buy, client source IPs, nothing here needs yet.
_AWS = "service.beta.kubernetes.io/aws-load-balancer-"
_AZURE = "service.beta.kubernetes.io/azure-load-balancer-"
_DO = "service.beta.kubernetes.io/do-loadbalancer-"
_LINODE = "service.beta.kubernetes.io/linode-loadbalancer-"


def restricted_container() -> SecurityContextArgsDict:
    """A container's security context under Pod Security ``restricted``: no privilege or its
    escalation, a read-only root filesystem, not root, every capability dropped, the runtime's
    seccomp profile. Every container edgefleet writes itself runs with it."""
    return {
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def load_balancer_annotations(vendor: str, spec: WorkloadSpec) -> dict[str, str]:
    """The annotations of ``spec``'s LoadBalancer Service on a ``vendor`` cluster: a public L4 load
    balancer, health-checked over HTTP on the probe path where the workload has one. Empty for
    internal workloads. Only documented annotations, each with its source:

    - ``aws``: EKS runs the AWS cloud controller manager (cloud-provider-aws), and edgefleet
      installs no AWS Load Balancer Controller, so the CCM's annotations apply.
      ``aws-load-balancer-type: nlb`` gets a Network Load Balancer (instance targets) instead of
      the default Classic ELB; with HTTP checks, ``aws-load-balancer-healthcheck-protocol: http``
      and ``-healthcheck-path`` (NLB only; port: the traffic port)
      (https://github.com/kubernetes/cloud-provider-aws/blob/master/docs/service_controller.md,
      ``buildNLBHealthCheckConfiguration`` in pkg/providers/v1/aws.go). The CCM makes an
      internet-facing NLB unless ``aws-load-balancer-internal`` is set, in the public subnets
      tagged ``kubernetes.io/role/elb`` (components/clusters/aws.py).
      ``aws-load-balancer-scheme: internet-facing`` is read by the AWS Load Balancer Controller
      only (https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/,
      default ``internal``): a no-op today, it keeps the Service public should someone install
      that controller and its webhook take the Service over.
    - ``azure``: public is the default (``azure-load-balancer-internal`` unset). With
      ``externalTrafficPolicy: Cluster`` the probe is TCP unless a protocol is given, and the
      request path is ignored without one: ``azure-load-balancer-health-probe-protocol: http`` and
      ``azure-load-balancer-health-probe-request-path``
      (https://kubernetes-sigs.github.io/cloud-provider-azure/topics/loadbalancer/#custom-load-balancer-health-probe;
      ``buildHealthProbeRulesForPort`` in cloud-provider-azure's
      pkg/provider/azure_loadbalancer_healthprobe.go takes the protocol from the port annotation,
      then ``appProtocol``, then this annotation, and reads the path for HTTP(S) probes only).
    - ``digitalocean``: the CCM checks kube-proxy's ``/healthz`` (port 10256) by default and
      applies ``do-loadbalancer-healthcheck-protocol: http`` and ``-healthcheck-path`` only with
      ``do-loadbalancer-override-health-check`` set (the check then goes to the first port's
      node port)
      (https://github.com/digitalocean/digitalocean-cloud-controller-manager/blob/master/docs/controllers/services/annotations.md;
      ``buildHealthCheck`` in cloud-controller-manager/do/loadbalancers.go).
    - ``linode``: NodeBalancers check a TCP connection by default;
      ``linode-loadbalancer-check-type: http`` and ``-check-path`` check the probe path
      (https://github.com/linode/linode-cloud-controller-manager/blob/main/docs/configuration/annotations.md).
    - ``gcp``: none. An external passthrough Network Load Balancer is GKE's default for a
      LoadBalancer Service, and its health check follows ``externalTrafficPolicy`` with no
      annotation for a path (https://cloud.google.com/kubernetes-engine/docs/how-to/service-parameters).
    - ``existing``: none. Whatever implements LoadBalancer Services there (k3s' ServiceLB,
      MetalLB, a cloud) is not edgefleet's to know.

    Without a probe path the vendor's default checks stay (TCP, or kube-proxy's ``/healthz``).
    """
    kind = Vendor(vendor)  # ValueError for a vendor edgefleet does not know
    if spec.expose is not Expose.PUBLIC:
        return {}
    path = spec.probe_path
    if kind is Vendor.AWS:
        out = {f"{_AWS}type": "nlb", f"{_AWS}scheme": "internet-facing"}
        if path:
            out |= {f"{_AWS}healthcheck-protocol": "http", f"{_AWS}healthcheck-path": path}
        return out
    if path is None:
        return {}
    if kind is Vendor.AZURE:
        return {f"{_AZURE}health-probe-protocol": "http", f"{_AZURE}health-probe-request-path": path}
    if kind is Vendor.DIGITALOCEAN:
        return {
            f"{_DO}override-health-check": "true",
            f"{_DO}healthcheck-protocol": "http",
            f"{_DO}healthcheck-path": path,
        }
    if kind is Vendor.LINODE:
        return {f"{_LINODE}check-type": "http", f"{_LINODE}check-path": path}
    return {}


def ingress_address(status: ServiceStatus | None) -> str:
    """The load balancer's address from a Service's status: the first ingress' IP, else its host
    name (AWS NLBs have names only); "" while there is none."""
    ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
    if not ingress:
        return ""
    return ingress[0].ip or ingress[0].hostname or ""


def selector_labels(workload: str) -> dict[str, str]:
    """The labels that select a workload's pods (stable across releases)."""
    return {"app.kubernetes.io/name": workload, "app.kubernetes.io/instance": workload}


def _probe(spec: WorkloadSpec, *, period: int, failures: int) -> ProbeArgsDict:
    if spec.probe_path:
        return {
            "http_get": {"path": spec.probe_path, "port": "http"},
            "period_seconds": period,
            "failure_threshold": failures,
            "timeout_seconds": 2,
        }
    return {
        "tcp_socket": {"port": "http"},
        "period_seconds": period,
        "failure_threshold": failures,
        "timeout_seconds": 2,
    }


def _container_ports(spec: WorkloadSpec) -> list[ContainerPortArgsDict]:
    main: ContainerPortArgsDict = {"name": MAIN_PORT_NAME, "container_port": spec.main_port, "protocol": "TCP"}
    extra: list[ContainerPortArgsDict] = [
        {"name": p.name, "container_port": p.port, "protocol": p.protocol} for p in spec.ports
    ]
    return [main, *extra]


def _service_ports(spec: WorkloadSpec) -> list[ServicePortArgsDict]:
    main: ServicePortArgsDict = {
        "name": MAIN_PORT_NAME,
        "port": spec.main_port,
        "target_port": MAIN_PORT_NAME,
        "protocol": "TCP",
    }
    extra: list[ServicePortArgsDict] = [
        {"name": p.name, "port": p.port, "target_port": p.name, "protocol": p.protocol} for p in spec.ports
    ]
    return [main, *extra]


def _policy_ports(spec: WorkloadSpec) -> list[NetworkPolicyPortArgsDict]:
    main: NetworkPolicyPortArgsDict = {"port": spec.main_port, "protocol": "TCP"}
    extra: list[NetworkPolicyPortArgsDict] = [{"port": p.port, "protocol": p.protocol} for p in spec.ports]
    return [main, *extra]


def _pod_security(spec: WorkloadSpec) -> PodSecurityContextArgsDict:
    out: PodSecurityContextArgsDict = {
        "run_as_non_root": True,
        "run_as_user": RUN_AS,
        "run_as_group": RUN_AS,
        "fs_group": RUN_AS,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }
    lowest = min([spec.main_port, *(p.port for p in spec.ports)])
    if lowest < PRIVILEGED_PORTS_END:
        out["sysctls"] = [{"name": UNPRIVILEGED_PORT_START, "value": str(lowest)}]
    return out


def _env(workload: str, site: Site | None, plain: Mapping[str, str], secret: Sequence[str]) -> list[EnvVarArgsDict]:
    """``EDGEFLEET_*`` first (so ``$(EDGEFLEET_CLUSTER)`` works in the values after it), then the
    plain variables by name, then each ``secret_env`` variable from the workload's Secret."""
    out: list[EnvVarArgsDict] = [{"name": k, "value": v} for k, v in (site.env(workload) if site else {}).items()]
    out += [{"name": k, "value": v} for k, v in sorted(plain.items())]
    out += [{"name": k, "value_from": {"secret_key_ref": {"name": secret_name(workload), "key": k}}} for k in secret]
    return out


def _mounts(spec: WorkloadSpec, files: Sequence[ResolvedFile]) -> list[VolumeMountArgsDict]:
    """/tmp (scratch: the root filesystem is read-only), each config file on its own (subPath,
    read-only), then the workload's volumes (read-only unless an emptyDir)."""
    out: list[VolumeMountArgsDict] = [{"name": "tmp", "mount_path": "/tmp"}]
    out += [{"name": FILES_VOLUME, "mount_path": f.path, "sub_path": f.key, "read_only": True} for f in files]
    out += [{"name": v.name, "mount_path": v.path, "read_only": v.empty_dir is None} for v in spec.volumes]
    return out


def _volumes(spec: WorkloadSpec, workload: str, files: bool) -> list[VolumeArgsDict]:
    out: list[VolumeArgsDict] = [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}]
    if files:
        out.append({"name": FILES_VOLUME, "config_map": {"name": files_name(workload), "default_mode": 0o444}})
    for volume in spec.volumes:
        if volume.empty_dir is not None:
            source: EmptyDirVolumeSourceArgsDict = {}
            if volume.empty_dir.size_limit is not None:
                source["size_limit"] = volume.empty_dir.size_limit
            if volume.empty_dir.medium is not None:
                source["medium"] = volume.empty_dir.medium
            scratch: VolumeArgsDict = {"name": volume.name, "empty_dir": source}
            out.append(scratch)
        elif volume.config_map is not None:
            out.append({"name": volume.name, "config_map": {"name": files_name(workload), "default_mode": 0o444}})
        else:
            out.append({"name": volume.name, "secret": {"secret_name": secret_name(workload), "default_mode": 0o440}})
    return out


def resolved_workload_args(
    name: str, args: object, opts: pulumi.ResourceOptions | None, component: str = "EdgeWorkload"
) -> ResolvedWorkloadArgs:
    """EdgeWorkload's public args, validated as a one-cluster fleet (``components/resolve.py``),
    with the provider and what the Deployment waits for from the options; ``ArgsError`` first."""
    workload, cluster, fleet, secrets = workload_from_args(name, args, component)
    provider = kubernetes_provider(opts)
    if provider is None:
        raise ArgsError(
            f"{component} {name!r}: no Kubernetes provider; give the cluster's: "
            "opts=ResourceOptions(provider=cluster.provider)"
        )
    here = cluster.name
    return ResolvedWorkloadArgs(
        workload=workload.spec,
        cluster=here,
        replicas=dict(workload.replicas)[here],
        allowed_countries=workload.allowed_countries,
        provider=provider,
        labels=cluster_labels(fleet.owner, fleet.environment, here),
        vendor=cluster.vendor.value,
        depends_on=tuple(depends_on_of(opts)),
        site=Site(
            cluster=here,
            vendor=cluster.vendor.value,
            region=cluster.region,
            country=cluster.location.country,
            city=cluster.location.city,
            environment=fleet.environment,
        ),
        settings=workload.settings_for(here),
        config_files=workload.config_files,
        manifests=workload.objects_for(here),
        scale_target=workload.scale_target,
        public_service=workload.public_service,
        secret_env={variable: secrets[variable] for variable in sorted(workload.spec.secret_env)},
    )


class EdgeWorkload(pulumi.ComponentResource):
    """A workload's Kubernetes objects in one cluster: its namespace (Pod Security ``restricted``),
    its Deployment and Service (or its own manifests, kustomization or chart), a
    PodDisruptionBudget and default-deny NetworkPolicies, all through the cluster's provider
    (``provider=`` in the options). ``depends_on`` in the options is what its Deployment waits for
    (an earlier rollout wave); nothing else waits."""

    endpoint: pulumi.Output[str]
    """The address its users connect to: the load balancer's host name or IP (public workloads),
    else empty."""

    def __init__(self, name: str, args: EdgeWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = resolved_workload_args(name, args, opts)  # before any resource
        # Only the Deployment waits for `depends_on` (below); the component itself does not.
        own = copy.copy(opts) if opts is not None else None
        if own is not None:
            own.depends_on = None
        spec = resolved.workload
        # Plain facts about the placement, as component inputs: what the policy pack checks
        # (residency, capabilities, exposure) without reading edgefleet's config.
        facts = {
            "workload": spec.name,
            "cluster": resolved.cluster,
            "replicas": resolved.replicas,
            "expose": spec.expose.value,
            "requires": [c.value for c in spec.placement.requires],
            "allowedCountries": list(resolved.allowed_countries) if resolved.allowed_countries is not None else None,
            "minVendors": spec.placement.min_vendors,
            "probePath": spec.probe_path,
        }
        super().__init__(EDGE_WORKLOAD, name, facts, aliased(EDGE_WORKLOAD, own))
        wl = spec.name
        select = selector_labels(wl)
        settings = resolved.settings or LocationSettings(
            cluster=resolved.cluster, image=spec.image, env=dict(spec.env), labels={}
        )
        labels = {
            **settings.labels,
            **resolved.labels,
            **select,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/part-of": "edgefleet",
        }
        child = pulumi.ResourceOptions(parent=self, provider=resolved.provider)
        self.cluster = resolved.cluster
        self.replicas = resolved.replicas

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": wl,
                "labels": {
                    **labels,
                    "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
                    "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
                },
            },
            opts=child,
        )
        ns = self.namespace.metadata.name

        def meta(object_name: str) -> ObjectMetaArgsDict:
            return {"name": object_name, "namespace": ns, "labels": labels}

        def match(match_labels: Mapping[str, str]) -> LabelSelectorArgsDict:
            return {"match_labels": match_labels}

        if resolved.scale_target is not None:
            self._from_manifests(
                name,
                args=resolved,
                settings=settings,
                labels={k: v for k, v in labels.items() if k not in select},
                ns=ns,
                child=child,
                meta=meta,
            )
            return

        drop_all = restricted_container()
        requests = {"cpu": spec.resources.cpu, "memory": spec.resources.memory}
        # Pod dependencies: the Secret and the ConfigMap exist before the pods that read them.
        needs: list[pulumi.Resource] = []
        self.secret: k8s.core.v1.Secret | None = None
        if spec.secret_env:
            self.secret = k8s.core.v1.Secret(
                f"{name}-secret-env",
                metadata={
                    **meta(secret_name(wl)),
                    "annotations": {SECRET_KEYS_ANNOTATION: ",".join(sorted(spec.secret_env))},
                },
                type="Opaque",
                string_data={key: pulumi.Output.secret(resolved.secret_env[key]) for key in sorted(spec.secret_env)},
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
                ),
            )
            needs.append(self.secret)
        self.config_map: k8s.core.v1.ConfigMap | None = None
        if resolved.config_files:
            self.config_map = k8s.core.v1.ConfigMap(
                f"{name}-config-files",
                metadata=meta(files_name(wl)),
                data={f.key: f.content for f in resolved.config_files},
                opts=child,
            )
            needs.append(self.config_map)
        container: ContainerArgsDict = {
            "name": wl,
            "image": settings.image,
            "ports": _container_ports(spec),
            "env": _env(wl, resolved.site, settings.env, sorted(spec.secret_env)),
            "resources": {"requests": requests, "limits": requests},
            "security_context": drop_all,
            "readiness_probe": _probe(spec, period=5, failures=3),
            "liveness_probe": _probe(spec, period=10, failures=6),
            # A writable scratch dir, since the root filesystem is read-only.
            "volume_mounts": _mounts(spec, resolved.config_files),
        }
        if spec.command is not None:
            container["command"] = list(spec.command)
        if spec.args is not None:
            container["args"] = list(spec.args)
        template_meta: ObjectMetaArgsDict = {"labels": labels}
        if resolved.config_files:
            template_meta["annotations"] = {CHECKSUM_ANNOTATION: files_checksum(resolved.config_files)}
        deployment: DeploymentSpecArgsDict = {
            "replicas": resolved.replicas,
            "revision_history_limit": 5,
            "selector": match(select),
            # Never below the desired count during a rollout: surge one, then retire one.
            "strategy": {"type": "RollingUpdate", "rolling_update": {"max_surge": 1, "max_unavailable": 0}},
            "template": {
                "metadata": template_meta,
                "spec": {
                    "automount_service_account_token": False,
                    "enable_service_links": False,
                    "security_context": _pod_security(spec),
                    "containers": [container],
                    "volumes": _volumes(spec, wl, bool(resolved.config_files)),
                    "topology_spread_constraints": [
                        {
                            "max_skew": 1,
                            "topology_key": "kubernetes.io/hostname",
                            "when_unsatisfiable": "ScheduleAnyway",
                            "label_selector": match(select),
                        }
                    ],
                },
            },
        }
        self.deployment: pulumi.CustomResource = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(wl),
            spec=deployment,
            # The previous wave's Deployments must be ready first (pulumi-kubernetes awaits them).
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[*resolved.depends_on, *needs])),
        )
        public = spec.expose is Expose.PUBLIC
        service_meta: ObjectMetaArgsDict = {"name": wl, "namespace": ns, "labels": labels}
        annotations = load_balancer_annotations(resolved.vendor, spec)
        if annotations:
            service_meta["annotations"] = annotations
        service: ServiceSpecArgsDict = {
            "type": "LoadBalancer" if public else "ClusterIP",
            "selector": select,
            "ports": _service_ports(spec),
        }
        self.service = k8s.core.v1.Service(f"{name}-service", metadata=service_meta, spec=service, opts=child)
        pdb: PodDisruptionBudgetSpecArgsDict = {"max_unavailable": 1, "selector": match(select)}
        self.pdb = k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta(wl), spec=pdb, opts=child)
        self.default_deny, self.allow = _network_policies(
            name, spec, meta, _policy_ports(spec), match(select), public=public, opts=child
        )
        # The load balancer's IP or host name once the vendor assigned one; "" for internal workloads.
        self.endpoint: pulumi.Output[str] = (
            self.service.status.apply(ingress_address) if public else pulumi.Output.from_input("")
        )
        self.register_outputs({"replicas": self.replicas, "endpoint": self.endpoint})

    def _from_manifests(
        self,
        name: str,
        *,
        args: ResolvedWorkloadArgs,
        settings: LocationSettings,
        labels: Mapping[str, str],
        ns: pulumi.Output[str],
        child: pulumi.ResourceOptions,
        meta: Callable[[str], ObjectMetaArgsDict],
    ) -> None:
        """The workload's own objects in its namespace (``render``: replicas, overrides, labels,
        ``EDGEFLEET_*``), then edgefleet's PodDisruptionBudget for the scale target and its
        NetworkPolicies, allowing in the ports of the workload's Services."""
        spec = args.workload
        target = str(args.scale_target)
        rendered = user_manifests.render(
            args.manifests,
            target,
            replicas=args.replicas,
            settings=settings,
            labels=labels,
            site_env=args.site.env(spec.name) if args.site else {},
        )
        self.objects: dict[str, pulumi.CustomResource] = {}
        inputs: list[pulumi.Resource] = []
        # What pods read first, then the rest; the scale target waits for both and the previous wave.
        ordered = sorted(
            rendered, key=lambda pair: (pair[0].kind not in POD_INPUT_KINDS, f"{pair[0].kind}/{pair[0].name}" == target)
        )
        scaled: pulumi.CustomResource | None = None
        public: k8s.core.v1.Service | None = None
        for obj, body in ordered:
            body["metadata"] = {**body["metadata"], "namespace": ns}
            key = f"{obj.kind}/{obj.name}"
            if obj.kind == "Service" and obj.name == args.public_service:
                # The vendor's public load balancer, health-checked on the probe path (as for an image
                # workload); an annotation the manifest sets itself wins.
                written = body["metadata"].get("annotations") or {}
                ours = load_balancer_annotations(args.vendor, spec)
                if ours:
                    body["metadata"]["annotations"] = {**ours, **written}
            depends = [*args.depends_on, *inputs] if key == target else []
            made = register(
                f"{name}-{obj.kind.lower()}-{obj.name}",
                obj.api_version,
                obj.kind,
                body,
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)),
            )
            self.objects[key] = made
            if obj.kind in POD_INPUT_KINDS:
                inputs.append(made)
            if key == target:
                scaled = made
            if obj.kind == "Service" and obj.name == args.public_service:
                assert isinstance(made, k8s.core.v1.Service)
                public = made
        assert scaled is not None  # parse_fleet resolved the scale target among the objects
        self.deployment = scaled
        wl = spec.name
        pdb: PodDisruptionBudgetSpecArgsDict = {
            "max_unavailable": 1,
            # The user's selector as written (camelCase): the wire form, passed through as is.
            "selector": cast(LabelSelectorArgsDict, user_manifests.scale_selector(args.manifests, target)),
        }
        self.pdb = k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta(wl), spec=pdb, opts=child)
        ports: list[NetworkPolicyPortArgsDict] = [
            {"port": port, "protocol": protocol} for port, protocol in user_manifests.service_ports(args.manifests)
        ]
        self.default_deny, self.allow = _network_policies(
            name, spec, meta, ports, {}, public=spec.expose is Expose.PUBLIC, opts=child
        )
        self.endpoint = public.status.apply(ingress_address) if public is not None else pulumi.Output.from_input("")
        self.register_outputs({"replicas": self.replicas, "endpoint": self.endpoint})


def _network_policies(
    name: str,
    spec: WorkloadSpec,
    meta: Callable[[str], ObjectMetaArgsDict],
    ports: list[NetworkPolicyPortArgsDict],
    pods: LabelSelectorArgsDict,
    *,
    public: bool,
    opts: pulumi.ResourceOptions,
) -> tuple[k8s.networking.v1.NetworkPolicy, k8s.networking.v1.NetworkPolicy]:
    """The namespace's default-deny NetworkPolicy, and the allow rule for the workload's pods
    (``pods``): ``ports`` in (from anywhere when public, else from this cluster's pods; none: no
    ingress), DNS and ``egress_cidrs`` out."""
    deny: NetworkPolicySpecArgsDict = {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]}
    default_deny = k8s.networking.v1.NetworkPolicy(
        f"{name}-default-deny", metadata=meta("default-deny"), spec=deny, opts=opts
    )
    # Public: any source (the load balancer forwards client traffic). Internal: pods of this cluster.
    ingress: NetworkPolicyIngressRuleArgsDict = {"ports": ports}
    if not public:
        ingress["from_"] = [{"namespace_selector": {}}]
    egress: list[NetworkPolicyEgressRuleArgsDict] = [
        {
            "to": [
                {
                    "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        }
    ]
    if spec.egress_cidrs:
        egress.append({"to": [{"ip_block": {"cidr": c}} for c in spec.egress_cidrs]})
    allow: NetworkPolicySpecArgsDict = {
        "pod_selector": pods,
        "policy_types": ["Ingress", "Egress"],
        "ingress": [ingress] if ports else [],
        "egress": egress,
    }
    allowed = k8s.networking.v1.NetworkPolicy(
        f"{name}-allow", metadata=meta(f"allow-{spec.name}"), spec=allow, opts=opts
    )
    return default_deny, allowed

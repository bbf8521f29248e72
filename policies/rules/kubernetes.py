"""Kubernetes workloads to Pod Security "restricted", plus availability and hygiene rules."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from ._util import EDGE_WORKLOAD, dig, items, of_type, resource_rule, stack_rule

try:  # imported as `edgefleet.policies.rules` (tests, `edgefleet check`)
    from ..locations import PUBLIC_REPLICAS
except ImportError:  # the pack's own runtime: its directory is on sys.path and `rules` is top-level
    from locations import PUBLIC_REPLICAS  # type: ignore[no-redef,import-not-found]

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
NAMESPACE = "kubernetes:core/v1:Namespace"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    DEPLOYMENT: ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
WORKLOAD_TYPES = tuple(POD_SPEC_PATHS)
# Namespaces that platform components (CNI agents, the control plane) need outside "restricted".
SYSTEM_NAMESPACES = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "kube-flannel", "tigera-operator", "calico-system", "cilium"}
)


# The one Pod Security exception (docs/doctor.md): netcheck's host-network probe. Its namespace may
# enforce "privileged" (warn and audit "restricted"), and its DaemonSet may set hostNetwork (not
# hostPID, hostIPC, host ports or paths: the other rules still apply), both only as registered by
# the netcheck component (the type chain of the URN says so), under exactly these names.
NETCHECK_COMPONENT = "edgefleet:netcheck:Netcheck"
NETCHECK_HOST_NAMESPACE = "edgefleet-netcheck-host"
NETCHECK_HOST_DAEMONSET = "netprobe-host"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
# netcheck's designated WAN probes: one public UDP load balancer per cluster, on the probe port only.
NETCHECK_NAMESPACE = "edgefleet-netcheck"
NETCHECK_WAN_SERVICE = "netprobe-wan"
NETCHECK_PROBE_PORT = 9798
# The host agent of an `existing` cluster reads its node's zone label: its ServiceAccount may get
# nodes, nothing else, and its token is mounted in that DaemonSet alone.
NETCHECK_HOST_ACCOUNT = "netprobe-host"
NETCHECK_NODE_READER = "edgefleet-netcheck-node-reader"
NETCHECK_NODE_READER_RULES = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
RBAC_TYPES = (CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING)


def netcheck_made(urn: str) -> bool:
    """Registered by the netcheck component: its type is in the URN's type chain."""
    parts = urn.split("::")
    return len(parts) >= 3 and NETCHECK_COMPONENT in parts[2].split("$")[:-1]


def netcheck_host_agent(args: ResourceValidationArgs) -> bool:
    """Is this netcheck's host-network probe DaemonSet (and nothing else)?"""
    return (
        args.resource_type == DAEMONSET
        and netcheck_made(args.urn)
        and dig(args.props, "metadata", "name") == NETCHECK_HOST_DAEMONSET
        and dig(args.props, "metadata", "namespace") == NETCHECK_HOST_NAMESPACE
    )


def netcheck_wan_service(args: ResourceValidationArgs | Any) -> bool:
    """Is this netcheck's WAN load balancer, exactly: made by the component, its name and
    namespace, one UDP port, the probe port?"""
    ports = items(dig(args.props, "spec", "ports"))
    return (
        netcheck_made(args.urn)
        and dig(args.props, "metadata", "name") == NETCHECK_WAN_SERVICE
        and dig(args.props, "metadata", "namespace") == NETCHECK_NAMESPACE
        and len(ports) == 1
        and dig(ports[0], "protocol") == "UDP"
        and dig(ports[0], "port") == NETCHECK_PROBE_PORT
    )


def _plain(value: Any) -> Any:
    """Props (proxied Mappings and Sequences) as plain dicts and lists, to compare whole."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


def pod_spec(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    spec = dig(args.props, *POD_SPEC_PATHS.get(args.resource_type, ("-",)))
    return spec if isinstance(spec, Mapping) else None


def containers(pod: Mapping[str, Any], *, init: bool = True) -> Iterator[Mapping[str, Any]]:
    kinds = ("initContainers", "containers", "ephemeralContainers") if init else ("containers",)
    for kind in kinds:
        for container in items(pod.get(kind)):
            if isinstance(container, Mapping):
                yield container


def _name(container: Mapping[str, Any]) -> str:
    return str(container.get("name") or "?")


def _pods(args: ResourceValidationArgs) -> Iterator[Mapping[str, Any]]:
    pod = pod_spec(args)
    if pod is not None:
        yield pod


def _privileged(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for c in containers(pod):
            if dig(c, "securityContext", "privileged") is True:
                yield f"container '{_name(c)}' runs privileged"


def _escalation(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for c in containers(pod):
            if dig(c, "securityContext", "allowPrivilegeEscalation") is not False:
                yield f"container '{_name(c)}' does not set securityContext.allowPrivilegeEscalation: false"


def _non_root(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        pod_non_root = dig(pod, "securityContext", "runAsNonRoot")
        if dig(pod, "securityContext", "runAsUser") == 0:
            yield "the pod runs as user 0 (root)"
        for c in containers(pod):
            own = dig(c, "securityContext", "runAsNonRoot")
            if dig(c, "securityContext", "runAsUser") == 0:
                yield f"container '{_name(c)}' runs as user 0 (root)"
            elif own is not True and not (own is None and pod_non_root is True):
                yield f"container '{_name(c)}' may run as root: set runAsNonRoot: true"


def _read_only_root(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for c in containers(pod):
            if dig(c, "securityContext", "readOnlyRootFilesystem") is not True:
                yield f"container '{_name(c)}' has a writable root filesystem"


def _drop_all(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for c in containers(pod):
            drop = [str(x) for x in items(dig(c, "securityContext", "capabilities", "drop"))]
            add = [str(x) for x in items(dig(c, "securityContext", "capabilities", "add"))]
            if "ALL" not in drop:
                yield f"container '{_name(c)}' does not drop ALL capabilities"
            extra = sorted(set(add) - {"NET_BIND_SERVICE"})
            if extra:
                yield f"container '{_name(c)}' adds capabilities {', '.join(extra)}"


def _seccomp(args: ResourceValidationArgs) -> Iterator[str]:
    allowed = ("RuntimeDefault", "Localhost")
    for pod in _pods(args):
        pod_type = dig(pod, "securityContext", "seccompProfile", "type")
        for c in containers(pod):
            own = dig(c, "securityContext", "seccompProfile", "type")
            effective = own if own is not None else pod_type
            if effective not in allowed:
                yield f"container '{_name(c)}' has seccomp profile {effective or 'unset'}; use RuntimeDefault"


def _host_namespaces(args: ResourceValidationArgs) -> Iterator[str]:
    # netcheck's host probe may share the host's network namespace, and no other.
    excepted = {"hostNetwork"} if netcheck_host_agent(args) else set()
    for pod in _pods(args):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(key) is True and key not in excepted:
                yield f"the pod sets {key}: true"


def _host_ports(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for c in containers(pod):
            for port in items(c.get("ports")):
                if isinstance(port, Mapping) and port.get("hostPort"):
                    yield f"container '{_name(c)}' binds host port {int(port['hostPort'])}"


def _host_paths(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for volume in items(pod.get("volumes")):
            if isinstance(volume, Mapping) and volume.get("hostPath") is not None:
                yield f"volume '{volume.get('name')}' mounts a host path ({dig(volume, 'hostPath', 'path')})"


def _token(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        # netcheck's host agent may mount its own account's token (it reads its node's zone);
        # k8s-netcheck-rbac-exact keeps that account to `get nodes`.
        if netcheck_host_agent(args) and pod.get("serviceAccountName") == NETCHECK_HOST_ACCOUNT:
            continue
        if pod.get("automountServiceAccountToken") is not False:
            yield "the pod mounts a service account token: set automountServiceAccountToken: false"


def _resources(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for c in containers(pod):
            missing = [
                f"{kind}.{res}"
                for kind in ("requests", "limits")
                for res in ("cpu", "memory")
                if dig(c, "resources", kind, res) is None
            ]
            if missing:
                yield f"container '{_name(c)}' has no resources {', '.join(missing)}"


def _probes(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type in ("kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"):
        return
    for pod in _pods(args):
        for c in containers(pod, init=False):
            missing = [p for p in ("readinessProbe", "livenessProbe") if c.get(p) is None]
            if missing:
                yield f"container '{_name(c)}' has no {' or '.join(missing)}"


_DIGEST = re.compile(r"@sha256:[a-f0-9]{64}\Z")


def _image(args: ResourceValidationArgs) -> Iterator[str]:
    for pod in _pods(args):
        for c in containers(pod):
            image = str(c.get("image") or "")
            if _DIGEST.search(image):
                continue
            last = image.rsplit("/", 1)[-1]
            if ":" not in last:
                yield f"container '{_name(c)}' image {image!r} has no tag or digest"
            elif last.endswith(":latest"):
                yield f"container '{_name(c)}' image {image!r} uses the mutable tag `latest`"


def _namespace_restricted(args: ResourceValidationArgs) -> Iterator[str]:
    name = dig(args.props, "metadata", "name")
    if name in SYSTEM_NAMESPACES:
        return
    labels = dig(args.props, "metadata", "labels")
    level = dig(labels, "pod-security.kubernetes.io/enforce")
    if level == "privileged" and name == NETCHECK_HOST_NAMESPACE and netcheck_made(args.urn):
        for mode in ("warn", "audit"):
            if dig(labels, f"pod-security.kubernetes.io/{mode}") != "restricted":
                yield f"namespace '{name}' (netcheck's host probe) must still {mode} at Pod Security restricted"
        return
    if level != "restricted":
        yield f"namespace '{name}' enforces Pod Security level {level or 'none'}, not restricted"


def _default_namespace(args: ResourceValidationArgs) -> Iterator[str]:
    namespace = dig(args.props, "metadata", "namespace")
    if namespace in (None, "", "default"):
        kind = args.resource_type.rsplit(":", 1)[-1]
        yield f"{kind} '{dig(args.props, 'metadata', 'name')}' is in the default namespace"


def _pdb_zero_disruption(args: ResourceValidationArgs) -> Iterator[str]:
    max_unavailable = dig(args.props, "spec", "maxUnavailable")
    if max_unavailable in (0, "0", "0%"):
        yield "maxUnavailable 0 blocks every voluntary disruption (node drains, upgrades)"
    if dig(args.props, "spec", "minAvailable") == "100%":
        yield "minAvailable 100% blocks every voluntary disruption (node drains, upgrades)"


def _public_replicas(args: ResourceValidationArgs) -> Iterator[str]:
    replicas = int(args.props.get("replicas") or 0)
    if args.props.get("expose") == "public" and replicas < PUBLIC_REPLICAS.min_replicas_per_location:
        yield (
            f"public workload '{args.props.get('workload')}' has {replicas} replica in "
            f"{args.props.get('cluster')}: one pod restart takes the location down"
        )


def _selects(selector: Any, labels: Any) -> bool:
    match = dig(selector, "matchLabels")
    if not isinstance(match, Mapping) or not isinstance(labels, Mapping) or not match:
        return False
    return all(labels.get(k) == v for k, v in match.items())


def _pdb_for_replicated(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    pdbs = of_type(args.resources, PDB)
    for dep in of_type(args.resources, DEPLOYMENT):
        replicas = dig(dep.props, "spec", "replicas")
        # Numbers arrive as the engine sends them: floats (protobuf Struct).
        if not isinstance(replicas, (int, float)) or isinstance(replicas, bool) or replicas < 2:
            continue
        replicas = int(replicas)
        namespace = dig(dep.props, "metadata", "namespace")
        labels = dig(dep.props, "spec", "template", "metadata", "labels")
        covered = any(
            dig(p.props, "metadata", "namespace") == namespace
            and (p.provider.urn if p.provider else None) == (dep.provider.urn if dep.provider else None)
            and _selects(dig(p.props, "spec", "selector"), labels)
            for p in pdbs
        )
        if not covered:
            name = dig(dep.props, "metadata", "name")
            yield f"Deployment '{name}' has {replicas} replicas and no PodDisruptionBudget selecting them", dep.urn


def _loadbalancer_only_public(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    for svc in of_type(args.resources, SERVICE):
        if dig(svc.props, "spec", "type") != "LoadBalancer":
            continue
        owner = svc.parent
        while owner is not None and owner.resource_type != EDGE_WORKLOAD:
            owner = owner.parent
        if owner is None and netcheck_wan_service(svc):
            continue  # netcheck's designated WAN probes: one UDP port, answering signed probes only
        if owner is None or owner.props.get("expose") != "public":
            name = dig(svc.props, "metadata", "name")
            yield f"Service '{name}' is a LoadBalancer but its workload is not `expose: public`", svc.urn


def _netcheck_rbac(args: StackValidationArgs) -> Iterator[tuple[str, str | None]]:
    """netcheck's RBAC is exactly the node reader (a ClusterRole that may get nodes, bound to the
    host agent's ServiceAccount), and nothing else in the stack binds that account."""
    expected_subject = [{"kind": "ServiceAccount", "name": NETCHECK_HOST_ACCOUNT, "namespace": NETCHECK_HOST_NAMESPACE}]
    for resource in (r for t in RBAC_TYPES for r in of_type(args.resources, t)):
        kind = resource.resource_type.rsplit(":", 1)[-1]
        name = dig(resource.props, "metadata", "name")
        subjects = _plain(items(dig(resource.props, "subjects")))
        binds_account = any(
            dig(s, "kind") == "ServiceAccount"
            and dig(s, "name") == NETCHECK_HOST_ACCOUNT
            and dig(s, "namespace") == NETCHECK_HOST_NAMESPACE
            for s in subjects
        )
        if not netcheck_made(resource.urn):
            if binds_account:
                yield f"{kind} '{name}' grants netcheck's host agent account more than netcheck does", resource.urn
            continue
        if resource.resource_type == CLUSTER_ROLE and name == NETCHECK_NODE_READER:
            rules = _plain(items(dig(resource.props, "rules")))
            if rules != NETCHECK_NODE_READER_RULES or dig(resource.props, "aggregationRule") is not None:
                yield f"ClusterRole '{name}' may do more than get nodes: {rules}", resource.urn
        elif resource.resource_type == CLUSTER_ROLE_BINDING and name == NETCHECK_NODE_READER:
            role = _plain(dig(resource.props, "roleRef"))
            if role != {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NETCHECK_NODE_READER}:
                yield f"ClusterRoleBinding '{name}' binds another role: {role}", resource.urn
            if subjects != expected_subject:
                yield f"ClusterRoleBinding '{name}' binds more than the host agent's account: {subjects}", resource.urn
        else:
            yield f"{kind} '{name}': netcheck grants no permission but its node reader", resource.urn


K8S_NO_PRIVILEGED = resource_rule(
    name="k8s-no-privileged",
    description="Containers never run privileged.",
    severity=Severity.CRITICAL,
    remediation="Remove securityContext.privileged (edgefleet workloads set it false).",
    types=WORKLOAD_TYPES,
    check=_privileged,
)
K8S_NO_PRIVILEGE_ESCALATION = resource_rule(
    name="k8s-no-privilege-escalation",
    description="Containers set allowPrivilegeEscalation: false.",
    severity=Severity.HIGH,
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    types=WORKLOAD_TYPES,
    check=_escalation,
)
K8S_RUN_AS_NON_ROOT = resource_rule(
    name="k8s-run-as-non-root",
    description="Containers run as a non-root user (runAsNonRoot: true, never runAsUser: 0).",
    severity=Severity.HIGH,
    remediation="Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod or each container.",
    types=WORKLOAD_TYPES,
    check=_non_root,
)
K8S_READ_ONLY_ROOT_FILESYSTEM = resource_rule(
    name="k8s-read-only-root-filesystem",
    description="Containers have a read-only root filesystem.",
    severity=Severity.MEDIUM,
    remediation="Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the app writes.",
    types=WORKLOAD_TYPES,
    check=_read_only_root,
)
K8S_DROP_ALL_CAPABILITIES = resource_rule(
    name="k8s-drop-all-capabilities",
    description="Containers drop ALL capabilities and add none but NET_BIND_SERVICE.",
    severity=Severity.HIGH,
    remediation="Set securityContext.capabilities.drop: [ALL]; add at most NET_BIND_SERVICE.",
    types=WORKLOAD_TYPES,
    check=_drop_all,
)
K8S_SECCOMP_RUNTIME_DEFAULT = resource_rule(
    name="k8s-seccomp-runtime-default",
    description="Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
    severity=Severity.MEDIUM,
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
    types=WORKLOAD_TYPES,
    check=_seccomp,
)
K8S_NO_HOST_NAMESPACES = resource_rule(
    name="k8s-no-host-namespaces",
    description="Pods do not share the host's network, PID or IPC namespace.",
    severity=Severity.CRITICAL,
    remediation="Remove hostNetwork, hostPID and hostIPC.",
    types=WORKLOAD_TYPES,
    check=_host_namespaces,
)
K8S_NO_HOST_PORTS = resource_rule(
    name="k8s-no-host-ports",
    description="Containers do not bind host ports.",
    severity=Severity.HIGH,
    remediation="Remove ports[].hostPort; expose the workload through its Service.",
    types=WORKLOAD_TYPES,
    check=_host_ports,
)
K8S_NO_HOST_PATH_VOLUMES = resource_rule(
    name="k8s-no-host-path-volumes",
    description="Pods do not mount host paths.",
    severity=Severity.CRITICAL,
    remediation="Replace hostPath volumes with emptyDir, ConfigMap, Secret or a PersistentVolumeClaim.",
    types=WORKLOAD_TYPES,
    check=_host_paths,
)
K8S_NO_TOKEN_AUTOMOUNT = resource_rule(
    name="k8s-no-token-automount",
    description="Pods do not mount a service account token they do not need.",
    severity=Severity.MEDIUM,
    remediation="Set automountServiceAccountToken: false on the pod spec.",
    types=WORKLOAD_TYPES,
    check=_token,
)
K8S_REQUESTS_AND_LIMITS = resource_rule(
    name="k8s-requests-and-limits",
    description="Containers declare CPU and memory requests and limits.",
    severity=Severity.MEDIUM,
    remediation="Set resources.requests and resources.limits for cpu and memory (edgefleet: `resources`).",
    types=WORKLOAD_TYPES,
    check=_resources,
)
K8S_PROBES = resource_rule(
    name="k8s-probes",
    description="Long-running containers have readiness and liveness probes.",
    severity=Severity.MEDIUM,
    remediation="Add readinessProbe and livenessProbe (edgefleet: `probe_path`, or a TCP probe on the port).",
    types=WORKLOAD_TYPES,
    check=_probes,
)
K8S_IMAGE_PINNED = resource_rule(
    name="k8s-image-pinned",
    description="Images are pinned by a version tag or a digest, never `latest`.",
    severity=Severity.HIGH,
    remediation="Use image:1.2.3 or image@sha256:<digest>.",
    types=WORKLOAD_TYPES,
    check=_image,
)
K8S_NAMESPACE_RESTRICTED = resource_rule(
    name="k8s-namespace-pod-security-restricted",
    description='Workload namespaces enforce the Pod Security "restricted" level.',
    severity=Severity.HIGH,
    remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted.",
    types=(NAMESPACE,),
    check=_namespace_restricted,
)
K8S_NO_DEFAULT_NAMESPACE = resource_rule(
    name="k8s-no-default-namespace",
    description="Workloads and Services live in their own namespace, not `default`.",
    severity=Severity.LOW,
    remediation="Set metadata.namespace to the workload's namespace.",
    types=(*WORKLOAD_TYPES, SERVICE),
    check=_default_namespace,
)
K8S_PDB_ALLOWS_DISRUPTION = resource_rule(
    name="k8s-pdb-allows-disruption",
    description="PodDisruptionBudgets allow at least one voluntary disruption.",
    severity=Severity.MEDIUM,
    remediation="Use maxUnavailable: 1 (or a minAvailable below the replica count).",
    types=(PDB,),
    check=_pdb_zero_disruption,
)
K8S_PUBLIC_WORKLOAD_REPLICAS = resource_rule(
    name=PUBLIC_REPLICAS.rule,  # placement honours it where mandatory (policies/locations.py)
    description="A public workload runs at least two replicas in every location.",
    severity=Severity.MEDIUM,
    remediation="Raise `replicas` or `min_replicas_per_location` to 2 or more.",
    types=(EDGE_WORKLOAD,),
    check=_public_replicas,
)
K8S_PDB_FOR_REPLICATED = stack_rule(
    name="k8s-pdb-for-replicated",
    description="Every Deployment with two or more replicas has a PodDisruptionBudget.",
    severity=Severity.MEDIUM,
    remediation="Add a PodDisruptionBudget selecting the pods (edgefleet workloads have one).",
    check=_pdb_for_replicated,
)
K8S_LOADBALANCER_ONLY_PUBLIC = stack_rule(
    name="k8s-loadbalancer-only-public",
    description="Only workloads with `expose: public` get a LoadBalancer Service.",
    severity=Severity.HIGH,
    remediation="Use a ClusterIP Service, or set the workload's `expose: public` on purpose.",
    check=_loadbalancer_only_public,
)
K8S_NETCHECK_RBAC_EXACT = stack_rule(
    name="k8s-netcheck-rbac-exact",
    description="netcheck's only permission: its host agent's account may get nodes (their zone label), "
    "and nothing else binds that account.",
    severity=Severity.CRITICAL,
    remediation="Keep the ClusterRole edgefleet-netcheck-node-reader at get on nodes, bound to "
    "edgefleet-netcheck-host/netprobe-host alone.",
    check=_netcheck_rbac,
)

RESOURCE_POLICIES = (
    K8S_NO_PRIVILEGED,
    K8S_NO_PRIVILEGE_ESCALATION,
    K8S_RUN_AS_NON_ROOT,
    K8S_READ_ONLY_ROOT_FILESYSTEM,
    K8S_DROP_ALL_CAPABILITIES,
    K8S_SECCOMP_RUNTIME_DEFAULT,
    K8S_NO_HOST_NAMESPACES,
    K8S_NO_HOST_PORTS,
    K8S_NO_HOST_PATH_VOLUMES,
    K8S_NO_TOKEN_AUTOMOUNT,
    K8S_REQUESTS_AND_LIMITS,
    K8S_PROBES,
    K8S_IMAGE_PINNED,
    K8S_NAMESPACE_RESTRICTED,
    K8S_NO_DEFAULT_NAMESPACE,
    K8S_PDB_ALLOWS_DISRUPTION,
    K8S_PUBLIC_WORKLOAD_REPLICAS,
)
STACK_POLICIES = (K8S_PDB_FOR_REPLICATED, K8S_LOADBALANCER_ONLY_PUBLIC, K8S_NETCHECK_RBAC_EXACT)

"""The vendor x CNI matrix: what works where, what the cluster needs, what gets installed.

Pure data and pure functions, no ``pulumi``: the config model validates against it, the vendor
components read their cluster-side settings from it, ``components/cni/install.py`` installs the
Helm releases it names, and ``docs/cni.md`` is generated from it (``make docs``).

Facts and sources: ``docs/cni.md`` (generated) and the design notes it was built from; the charts'
own ``values.yaml`` files (Cilium 1.20.0, tigera-operator v3.32.1, flannel v0.28.9). Where no
source states a fact outright, the conservative answer is taken and marked "inferred".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from edgefleet.components.config.model import CniPlugin, Vendor

# The "vendor" key of the matrix: a Vendor, with GKE Autopilot as its own row.
GKE_AUTOPILOT = "gcp-autopilot"
ROWS: tuple[str, ...] = ("aws", "gcp", GKE_AUTOPILOT, "azure", "linode", "digitalocean", "existing")

CILIUM_AGENT_NOT_READY = ("node.cilium.io/agent-not-ready", "true", "NoExecute")
K3S_POD_CIDR = "10.42.0.0/16"  # k3s' default --cluster-cidr
KUBEADM_FLANNEL_POD_CIDR = "10.244.0.0/16"  # the flannel chart's default (kubeadm --pod-network-cidr)


@dataclass(frozen=True)
class Chart:
    """A pinned Helm chart and the namespace its release goes to."""

    repository: str
    chart: str
    version: str
    namespace: str
    # Pod Security admission label for a namespace edgefleet creates (None: the namespace exists,
    # e.g. kube-system, or the chart's default is fine).
    namespace_pod_security: str | None = None


CILIUM = Chart("https://helm.cilium.io/", "cilium", "1.20.0", "kube-system")
CALICO_CRDS = Chart("https://docs.tigera.io/calico/charts", "crd.projectcalico.org.v1", "v3.32.1", "tigera-operator")
CALICO = Chart("https://docs.tigera.io/calico/charts", "tigera-operator", "v3.32.1", "tigera-operator", "privileged")
FLANNEL = Chart("https://flannel-io.github.io/flannel/", "flannel", "v0.28.9", "kube-flannel", "privileged")


@dataclass(frozen=True)
class EksSide:
    """EKS settings: ``bootstrap_self_managed_addons`` and which managed add-ons to create."""

    self_managed_addons: bool  # False when a CNI replaces the VPC CNI (also drops kube-proxy, CoreDNS)
    addons: tuple[str, ...]  # of "vpc-cni", "kube-proxy", "coredns"
    vpc_cni_network_policy: bool = False  # vpc-cni configuration_values {"enableNetworkPolicy": "true"}
    node_taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect) on every node group
    kube_proxy_replacement: bool = False  # Cilium replaces kube-proxy: k8sServiceHost = API host


@dataclass(frozen=True)
class GkeSide:
    """GKE settings: the datapath and the Calico network policy add-on."""

    datapath_provider: str  # ADVANCED_DATAPATH (Dataplane V2) | LEGACY_DATAPATH
    calico_network_policy: bool = False  # network_policy{enabled, CALICO} + addons network_policy_config


@dataclass(frozen=True)
class AksSide:
    """AKS ``network_profile`` settings."""

    network_plugin: str  # azure | none (BYOCNI)
    network_policy: str  # azure | calico | cilium | none
    network_plugin_mode: str | None = "overlay"
    network_dataplane: str | None = None  # cilium (Azure CNI powered by Cilium) | None
    pod_cidr: bool = True  # set pod_cidr (overlay and BYOCNI)


ClusterSide = EksSide | GkeSide | AksSide | None


@dataclass(frozen=True)
class ValuesContext:
    """What a chart's values depend on. ``api_host`` may be a Pulumi Output (the matrix never
    looks inside it); ``pod_cidr`` is the cluster's pod range."""

    cluster: str
    pod_cidr: str
    api_host: object = None
    hubble: bool = False


Values = Callable[[ValuesContext], dict[str, Any]]


@dataclass(frozen=True)
class Cell:
    """One supported vendor x plugin x mode."""

    row: str
    plugin: CniPlugin
    mode: str
    network_policy: bool
    summary: str
    cluster: ClusterSide = None
    charts: tuple[Chart, ...] = ()  # installed in this order (CRDs first)
    values: Values | None = None  # values of the last chart (the CNI itself)
    skip_await: bool = False  # readiness cannot come before nodes exist
    notes: str = ""
    hubble: bool = False  # Hubble relay/UI can be turned on (a Helm-installed Cilium)

    @property
    def installs(self) -> bool:
        """Whether edgefleet installs anything in the cluster."""
        return bool(self.charts)


@dataclass(frozen=True)
class Unsupported:
    """A vendor x plugin that cannot work, and why."""

    row: str
    plugin: CniPlugin
    reason: str


class UnsupportedCni(ValueError):
    """A vendor x plugin x mode that does not work; the message says why and what to use."""


# --- values ------------------------------------------------------------------------------


# Hubble's metrics: `drop` gives hubble_drop_total{reason, protocol} per node (port 9965 of every
# Cilium agent), which `edgefleet doctor --prometheus` attaches to Kubernetes-layer findings.
HUBBLE_METRICS = ("drop",)


def _cilium_base(ctx: ValuesContext) -> dict[str, Any]:
    values: dict[str, Any] = {"cluster": {"name": ctx.cluster[:32].rstrip("-")}}  # DNS label, <= 32
    # Hubble runs in every Cilium agent by default; its drop counters are off until listed here.
    values["hubble"] = {"enabled": True, "metrics": {"enabled": list(HUBBLE_METRICS)}}
    if ctx.hubble:
        # Helm-generated certificates change on every render (a permanent diff): a CronJob
        # issues them in the cluster instead.
        values["hubble"] |= {
            "relay": {"enabled": True},
            "ui": {"enabled": True},
            "tls": {"auto": {"enabled": True, "method": "cronJob"}},
        }
    return values


def _cilium_eks_eni(ctx: ValuesContext) -> dict[str, Any]:
    return {
        **_cilium_base(ctx),
        "eni": {"enabled": True},
        "ipam": {"mode": "eni"},
        "routingMode": "native",
        "kubeProxyReplacement": "true",
        "k8sServiceHost": ctx.api_host,
        "k8sServicePort": 443,
    }


def _cilium_eks_chaining(ctx: ValuesContext) -> dict[str, Any]:
    return {
        **_cilium_base(ctx),
        "cni": {"chainingMode": "aws-cni", "exclusive": False},
        "enableIPv4Masquerade": False,
        "routingMode": "native",
        "endpointRoutes": {"enabled": True},
    }


def _cilium_aks_byocni(ctx: ValuesContext) -> dict[str, Any]:
    return {
        **_cilium_base(ctx),
        "aksbyocni": {"enabled": True},
        "routingMode": "tunnel",
        "tunnelProtocol": "vxlan",
        "ipam": {"mode": "cluster-pool", "operator": {"clusterPoolIPv4PodCIDRList": [ctx.pod_cidr]}},
    }


def _cilium_existing(ctx: ValuesContext) -> dict[str, Any]:
    return {
        **_cilium_base(ctx),
        "routingMode": "tunnel",
        "tunnelProtocol": "vxlan",
        "ipam": {"mode": "cluster-pool", "operator": {"clusterPoolIPv4PodCIDRList": [ctx.pod_cidr]}},
        "operator": {"replicas": 1},
    }


def _calico(provider: str, cni: str, pool: bool) -> Values:
    def values(ctx: ValuesContext) -> dict[str, Any]:
        network: dict[str, Any] = {"bgp": "Disabled"}
        if pool:
            network["ipPools"] = [{"cidr": ctx.pod_cidr, "encapsulation": "VXLAN", "natOutgoing": "Enabled"}]
        installation: dict[str, Any] = {"cni": {"type": cni}, "calicoNetwork": network}
        if provider:
            installation["kubernetesProvider"] = provider
        # CRDs come from their own chart (v3.32+): the operator chart must not manage them.
        return {"installation": installation, "manageCRDs": False}

    return values


def _flannel(ctx: ValuesContext) -> dict[str, Any]:
    return {"podCidr": ctx.pod_cidr, "flannel": {"backend": "vxlan"}, "netpol": {"enabled": True}}


# --- the matrix ----------------------------------------------------------------------------

_AGENT_TAINT = (CILIUM_AGENT_NOT_READY,)
CELLS: tuple[Cell, ...] = (
    # AWS EKS
    Cell(
        "aws",
        CniPlugin.VENDOR,
        "vpc-cni",
        True,
        "Amazon VPC CNI with its network policy agent",
        EksSide(True, ("vpc-cni", "kube-proxy", "coredns"), vpc_cni_network_policy=True),
    ),
    Cell(
        "aws",
        CniPlugin.CILIUM,
        "eni",
        True,
        "Cilium replaces the VPC CNI: ENI IPAM, native routing, kube-proxy replacement (IPv4 only)",
        EksSide(False, ("coredns",), node_taints=_AGENT_TAINT, kube_proxy_replacement=True),
        (CILIUM,),
        _cilium_eks_eni,
        skip_await=True,
        hubble=True,
    ),
    Cell(
        "aws",
        CniPlugin.CILIUM,
        "chaining",
        True,
        "Cilium chained on the VPC CNI (policy and observability)",
        EksSide(True, ("vpc-cni", "kube-proxy", "coredns"), node_taints=_AGENT_TAINT),
        (CILIUM,),
        _cilium_eks_chaining,
        skip_await=True,
        hubble=True,
    ),
    Cell(
        "aws",
        CniPlugin.CALICO,
        "policy-only",
        True,
        "Calico enforces policy on the VPC CNI (the VPC CNI's own policy agent off)",
        EksSide(True, ("vpc-cni", "kube-proxy", "coredns")),
        (CALICO_CRDS, CALICO),
        _calico("EKS", "AmazonVPC", pool=False),
        skip_await=True,
    ),
    Cell(
        "aws",
        CniPlugin.CALICO,
        "full",
        True,
        "Calico replaces the VPC CNI: Calico IPAM, VXLAN",
        EksSide(False, ("kube-proxy", "coredns")),
        (CALICO_CRDS, CALICO),
        _calico("EKS", "Calico", pool=True),
        skip_await=True,
        notes="Pods get addresses from the cluster's pod range, not the VPC: the API server cannot "
        "reach webhooks in pods unless they use host networking.",
    ),
    # GKE Standard
    Cell(
        "gcp",
        CniPlugin.VENDOR,
        "dataplane-v2",
        True,
        "GKE Dataplane V2 (Cilium-based, managed)",
        GkeSide("ADVANCED_DATAPATH"),
    ),
    Cell(
        "gcp",
        CniPlugin.CILIUM,
        "dataplane-v2",
        True,
        "GKE Dataplane V2 is Google's managed Cilium; GKE does not support replacing its CNI",
        GkeSide("ADVANCED_DATAPATH"),
    ),
    Cell(
        "gcp",
        CniPlugin.CALICO,
        "policy-only",
        True,
        "GKE's managed Calico network policy add-on on the legacy datapath",
        GkeSide("LEGACY_DATAPATH", True),
    ),
    # GKE Autopilot
    Cell(
        GKE_AUTOPILOT,
        CniPlugin.VENDOR,
        "dataplane-v2",
        True,
        "Dataplane V2, always on in Autopilot",
        GkeSide("ADVANCED_DATAPATH"),
    ),
    Cell(
        GKE_AUTOPILOT,
        CniPlugin.CILIUM,
        "dataplane-v2",
        True,
        "Dataplane V2 (managed Cilium), always on",
        GkeSide("ADVANCED_DATAPATH"),
    ),
    # AKS
    Cell(
        "azure",
        CniPlugin.VENDOR,
        "azure-overlay",
        True,
        "Azure CNI overlay with Azure network policy",
        AksSide("azure", "azure"),
    ),
    Cell(
        "azure",
        CniPlugin.CILIUM,
        "managed",
        True,
        "Azure CNI powered by Cilium (managed, no Helm)",
        AksSide("azure", "cilium", network_dataplane="cilium"),
    ),
    Cell(
        "azure",
        CniPlugin.CILIUM,
        "byocni",
        True,
        "Bring your own CNI: Cilium from Helm, tunnel routing, cluster-pool IPAM on the pod range",
        AksSide("none", "none", network_plugin_mode=None),
        (CILIUM,),
        _cilium_aks_byocni,
        skip_await=True,
        hubble=True,
    ),
    Cell(
        "azure",
        CniPlugin.CALICO,
        "managed",
        True,
        "Azure CNI overlay with Calico network policy (managed)",
        AksSide("azure", "calico"),
    ),
    Cell(
        "azure",
        CniPlugin.CALICO,
        "policy-only",
        True,
        "Calico from Helm enforces policy on Azure CNI",
        AksSide("azure", "none"),
        (CALICO_CRDS, CALICO),
        _calico("AKS", "AzureVNET", pool=False),
        skip_await=True,
    ),
    Cell(
        "azure",
        CniPlugin.CALICO,
        "full",
        True,
        "Bring your own CNI: Calico from Helm, VXLAN pool = the pod range",
        AksSide("none", "none", network_plugin_mode=None),
        (CALICO_CRDS, CALICO),
        _calico("AKS", "Calico", True),
        skip_await=True,
    ),
    # LKE
    Cell("linode", CniPlugin.VENDOR, "calico", True, "LKE's pre-installed, managed Calico"),
    Cell(
        "linode", CniPlugin.CALICO, "managed", True, "LKE's pre-installed, managed Calico: nothing is installed again"
    ),
    # DOKS
    Cell("digitalocean", CniPlugin.VENDOR, "cilium", True, "DOKS' pre-installed, managed Cilium"),
    Cell(
        "digitalocean",
        CniPlugin.CILIUM,
        "managed",
        True,
        "DOKS' pre-installed, managed Cilium: nothing is installed or modified (NetworkPolicy: inferred)",
    ),
    # existing (k3s, kubeadm, kind): installed by edgefleet when `installed: false`
    Cell(
        "existing",
        CniPlugin.CILIUM,
        "overlay",
        True,
        "Cilium from Helm: VXLAN, cluster-pool IPAM on `pod_cidr`",
        None,
        (CILIUM,),
        _cilium_existing,
        hubble=True,
        notes="k3s: start the server with `--flannel-backend=none --disable-network-policy` "
        "(add `--disable-kube-proxy` only if you also set kube-proxy replacement yourself).",
    ),
    Cell(
        "existing",
        CniPlugin.CALICO,
        "vxlan",
        True,
        "Calico from Helm: VXLAN pool = `pod_cidr`",
        None,
        (CALICO_CRDS, CALICO),
        _calico("", "Calico", pool=True),
        notes="k3s: start the server with `--flannel-backend=none --disable-network-policy "
        "--cluster-cidr=<pod_cidr>`; the pool must equal the cluster CIDR.",
    ),
    Cell(
        "existing",
        CniPlugin.FLANNEL,
        "vxlan",
        True,
        "Flannel from Helm (kubeadm) with kube-network-policies enforcing NetworkPolicy",
        None,
        (FLANNEL,),
        _flannel,
        notes="kubeadm: `kubeadm init --pod-network-cidr=<pod_cidr>` (default 10.244.0.0/16). k3s ships "
        "flannel itself: record it with `installed: true` instead.",
    ),
)

UNSUPPORTED: tuple[Unsupported, ...] = (
    Unsupported(
        "aws",
        CniPlugin.FLANNEL,
        "flannel cannot run on aws: EKS does not assign node pod CIDRs, which flannel needs; "
        "use cilium (eni or chaining) or calico (policy-only or full)",
    ),
    Unsupported(
        "gcp",
        CniPlugin.FLANNEL,
        "flannel cannot run on gcp: GKE does not support replacing its CNI; use vendor (Dataplane V2), "
        "cilium (Dataplane V2) or calico (policy-only)",
    ),
    Unsupported(
        GKE_AUTOPILOT,
        CniPlugin.CALICO,
        "calico cannot run on GKE Autopilot: Autopilot always runs Dataplane V2; use vendor",
    ),
    Unsupported(
        GKE_AUTOPILOT,
        CniPlugin.FLANNEL,
        "flannel cannot run on GKE Autopilot: Autopilot always runs Dataplane V2; use vendor",
    ),
    Unsupported(
        "azure",
        CniPlugin.FLANNEL,
        "flannel cannot run on azure: AKS BYOCNI gives nodes no pod CIDR (inferred); "
        "use cilium (managed or byocni) or calico (managed, policy-only or full)",
    ),
    Unsupported(
        "linode",
        CniPlugin.CILIUM,
        "cilium cannot run on linode: LKE runs its own managed Calico and does not support "
        "replacing it; use vendor or calico",
    ),
    Unsupported(
        "linode",
        CniPlugin.FLANNEL,
        "flannel cannot run on linode: LKE runs its own managed Calico and does not support "
        "replacing it; use vendor or calico",
    ),
    Unsupported(
        "digitalocean",
        CniPlugin.CALICO,
        "calico cannot run on digitalocean: DOKS runs its own managed Cilium, which must not be "
        "modified; use vendor or cilium",
    ),
    Unsupported(
        "digitalocean",
        CniPlugin.FLANNEL,
        "flannel cannot run on digitalocean: DOKS runs its own managed Cilium, which must not be "
        "modified; use vendor or cilium",
    ),
)

# The mode a plugin gets on a row when the config names none.
DEFAULT_MODE: Mapping[tuple[str, CniPlugin], str] = MappingProxyType(
    {
        ("aws", CniPlugin.CILIUM): "eni",
        ("aws", CniPlugin.CALICO): "policy-only",
        ("azure", CniPlugin.CILIUM): "byocni",
        ("azure", CniPlugin.CALICO): "managed",
    }
)


@dataclass(frozen=True)
class _Index:
    cells: dict[tuple[str, CniPlugin, str], Cell] = field(default_factory=dict)
    unsupported: dict[tuple[str, CniPlugin], Unsupported] = field(default_factory=dict)


def _index() -> _Index:
    index = _Index()
    for cell in CELLS:
        index.cells[(cell.row, cell.plugin, cell.mode)] = cell
    for bad in UNSUPPORTED:
        index.unsupported[(bad.row, bad.plugin)] = bad
    return index


_INDEX = _index()


def row_of(vendor: Vendor, autopilot: bool = False) -> str:
    """The matrix row of a vendor (GKE Autopilot has its own)."""
    return GKE_AUTOPILOT if vendor is Vendor.GCP and autopilot else vendor.value


def modes(row: str, plugin: CniPlugin) -> tuple[str, ...]:
    """The supported modes of ``plugin`` on ``row``, in matrix order."""
    return tuple(c.mode for c in CELLS if c.row == row and c.plugin is plugin)


def default_mode(row: str, plugin: CniPlugin) -> str | None:
    """The mode used when the config names none (None when the plugin has no mode there)."""
    found = modes(row, plugin)
    if not found:
        return None
    return DEFAULT_MODE.get((row, plugin), found[0])


def resolve(vendor: Vendor, plugin: CniPlugin, mode: str | None, *, autopilot: bool = False) -> Cell:
    """The cell for a cluster's CNI, or ``UnsupportedCni`` saying why not and what to use."""
    row = row_of(vendor, autopilot)
    bad = _INDEX.unsupported.get((row, plugin))
    if bad is not None:
        raise UnsupportedCni(bad.reason)
    available = modes(row, plugin)
    if not available:
        raise UnsupportedCni(f"{plugin.value} is not supported on {row}")  # pragma: no cover - matrix is total
    chosen = mode or default_mode(row, plugin)
    cell = _INDEX.cells.get((row, plugin, str(chosen)))
    if cell is None:
        raise UnsupportedCni(f"{plugin.value} on {row} has no mode {chosen!r}; use one of: {', '.join(available)}")
    return cell


def vendor_dataplane(vendor: Vendor, autopilot: bool = False) -> Cell:
    """The cell of ``cni: {plugin: vendor}`` on a cloud vendor."""
    return resolve(vendor, CniPlugin.VENDOR, None, autopilot=autopilot)


def is_total() -> bool:
    """Every row x plugin is either a supported cell or an explained refusal (exactly one)."""
    for row in ROWS:
        for plugin in CniPlugin:
            supported = bool(modes(row, plugin))
            refused = (row, plugin) in _INDEX.unsupported
            if row == "existing" and plugin is CniPlugin.VENDOR:
                continue  # `vendor` on an existing cluster is whatever it runs: only `installed: true`
            if supported == refused:
                return False
    return True

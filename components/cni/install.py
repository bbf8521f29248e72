"""Install a cluster's CNI: the Helm releases its matrix cell names, in order, on one provider.

``helm.v3.Release`` (a custom resource), not ``helm.v4.Chart``: v4 is a multi-language component
that cannot be constructed with a provider whose kubeconfig is unknown at preview (a cluster made
in the same program), and under mocks it would be one opaque resource.
"""

from collections.abc import Mapping, Sequence
from typing import Annotated

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, StrictBool, StringConstraints, ValidationError

from edgefleet.components.args import CniInstallArgs
from edgefleet.components.cni import matrix
from edgefleet.components.cni.matrix import Chart, ValuesContext
from edgefleet.components.config.model import (
    CNI_MODE,
    Cluster,
    CniPlugin,
    LabelKey,
    LabelValue,
    Name,
    PodCidr,
    Vendor,
    _Model,
)
from edgefleet.components.contract import CniInstaller
from edgefleet.components.resolve import ArgsError, depends_on_of, kubernetes_provider
from edgefleet.components.tokens import CNI_INSTALL, aliased

# Releases are named after their chart (no random suffix), so a preview never shows a rename.
RELEASE_TIMEOUT_SECONDS = 600


class _Plain(_Model):
    """CniInstall's plain args, validated with the fleet config's own types."""

    cluster: Name
    vendor: Vendor
    plugin: CniPlugin
    pod_cidr: PodCidr
    mode: Annotated[str, StringConstraints(pattern=CNI_MODE)] | None = None
    hubble: StrictBool = False
    autopilot: StrictBool = False
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)


def release_name(chart: Chart) -> str:
    """The Helm release name of a chart (the chart name; CRD charts get a short one)."""
    return "calico-crds" if chart.chart.startswith("crd.") else chart.chart


class CniInstall(pulumi.ComponentResource):
    """A cluster's CNI: its namespaces and the Helm releases its vendor and plugin need, in order
    (``docs/cni.md``). The Kubernetes provider comes from the options (``provider=`` the
    cluster's); ``depends_on`` in the options is what must exist first (the control plane).
    ``releases`` is what node pools wait for."""

    def __init__(self, name: str, args: CniInstallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Everything is checked before the component registers: a bad argument creates nothing.
        if not isinstance(args, Mapping):
            raise ArgsError(f"CniInstall {name!r}: args must be a mapping (CniInstallArgs), got {type(args).__name__}")
        plain = {k: v for k, v in args.items() if k != "api_host" and v is not None}
        try:
            valid = _Plain.model_validate(plain)
        except ValidationError as exc:
            problems = [f"CniInstall {name!r}: args.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            raise ArgsError("\n".join(problems)) from None
        try:
            cell = matrix.resolve(valid.vendor, valid.plugin, valid.mode, autopilot=valid.autopilot)
        except matrix.UnsupportedCni as exc:
            raise ArgsError(f"CniInstall {name!r}: args.plugin: {exc}") from None
        provider = kubernetes_provider(opts)
        if provider is None:
            raise ArgsError(
                f"CniInstall {name!r}: no Kubernetes provider; give the cluster's: "
                "opts=ResourceOptions(provider=cluster.provider)"
            )
        depends_on = depends_on_of(opts)
        context = ValuesContext(
            cluster=valid.cluster, pod_cidr=valid.pod_cidr, api_host=args.get("api_host"), hubble=valid.hubble
        )
        labels = dict(valid.labels)
        super().__init__(
            CNI_INSTALL,
            name,
            {"cluster": valid.cluster, "plugin": cell.plugin.value, "mode": cell.mode},
            aliased(CNI_INSTALL, opts),
        )
        self.releases: list[k8s.helm.v3.Release] = []
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for chart in cell.charts:
            if chart.namespace_pod_security is None or chart.namespace in namespaces:
                continue
            level = chart.namespace_pod_security
            namespaces[chart.namespace] = k8s.core.v1.Namespace(
                f"{name}-{chart.namespace}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=chart.namespace,
                    labels={
                        **labels,
                        # A CNI runs privileged host agents: its namespace cannot be `restricted`.
                        "pod-security.kubernetes.io/enforce": level,
                        "pod-security.kubernetes.io/audit": level,
                        "pod-security.kubernetes.io/warn": level,
                    },
                ),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(depends_on))),
            )
        previous: list[pulumi.Resource] = list(depends_on)
        for i, chart in enumerate(cell.charts):
            last = i == len(cell.charts) - 1
            values = cell.values(context) if last and cell.values is not None else {}
            waits_on = [*previous]
            if chart.namespace in namespaces:
                waits_on.append(namespaces[chart.namespace])
            release = k8s.helm.v3.Release(
                f"{name}-{release_name(chart)}",
                k8s.helm.v3.ReleaseArgs(
                    name=release_name(chart),
                    chart=chart.chart,
                    version=chart.version,
                    repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
                    namespace=chart.namespace,
                    create_namespace=False,
                    values=values,
                    skip_await=cell.skip_await,
                    atomic=False,
                    cleanup_on_fail=True,
                    max_history=5,
                    timeout=RELEASE_TIMEOUT_SECONDS,
                ),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=waits_on)),
            )
            self.releases.append(release)
            previous = [release]
        self.register_outputs({})


def installer_for(cluster: Cluster, labels: Mapping[str, str]) -> CniInstaller | None:
    """How a cluster component installs ``cluster``'s CNI (through ``CniInstall``), or None when
    edgefleet installs nothing there."""
    if not cluster.cni.installs:
        return None
    pod_cidr = cluster.cni.pod_cidr
    if pod_cidr is None:  # resolution sets it for every CNI edgefleet installs
        raise ValueError(f"cluster {cluster.name!r}: no pod range for its CNI; resolve it with parse_fleet")

    def install(
        provider: k8s.Provider,
        api_host: pulumi.Input[str],
        parent: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource],
    ) -> Sequence[pulumi.Resource]:
        args: CniInstallArgs = {
            "cluster": cluster.name,
            "vendor": cluster.vendor.value,
            "plugin": cluster.cni.plugin.value,
            "pod_cidr": pod_cidr,
            "hubble": cluster.cni.hubble,
            "autopilot": cluster.spec.autopilot,
            "api_host": api_host,
            "labels": dict(labels),
        }
        if cluster.cni.mode is not None:
            args["mode"] = cluster.cni.mode
        made = CniInstall(
            f"{cluster.name}-cni",
            args,
            pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on) or None),
        )
        return made.releases

    return install

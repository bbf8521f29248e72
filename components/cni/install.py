"""Install a cluster's CNI: the Helm releases its matrix cell names, in order, on one provider.

``helm.v3.Release`` (a custom resource), not ``helm.v4.Chart``: v4 is a multi-language component
that cannot be constructed with a provider whose kubeconfig is unknown at preview (a cluster made
in the same program), and under mocks it would be one opaque resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from edgefleet.components.cni.matrix import Cell, Chart, ValuesContext

# Releases are named after their chart (no random suffix), so a preview never shows a rename.
RELEASE_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class CniInstallArgs:
    """What to install (``cell``), with which values context, through which provider."""

    cell: Cell
    context: ValuesContext
    provider: k8s.Provider
    labels: Mapping[str, str]
    depends_on: Sequence[pulumi.Resource] = ()


def release_name(chart: Chart) -> str:
    """The Helm release name of a chart (the chart name; CRD charts get a short one)."""
    return "calico-crds" if chart.chart.startswith("crd.") else chart.chart


class CniInstall(pulumi.ComponentResource):
    """The CNI's namespaces and Helm releases. ``releases`` is what node pools wait for."""

    releases: list[k8s.helm.v3.Release]

    def __init__(self, name: str, args: CniInstallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cell = args.cell
        super().__init__(
            "edgefleet:cni:CniInstall",
            name,
            {"cluster": args.context.cluster, "plugin": cell.plugin.value, "mode": cell.mode},
            opts,
        )
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
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
                        **args.labels,
                        # A CNI runs privileged host agents: its namespace cannot be `restricted`.
                        "pod-security.kubernetes.io/enforce": level,
                        "pod-security.kubernetes.io/audit": level,
                        "pod-security.kubernetes.io/warn": level,
                    },
                ),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(args.depends_on))),
            )
        self.releases = []
        previous: list[pulumi.Resource] = list(args.depends_on)
        for i, chart in enumerate(cell.charts):
            last = i == len(cell.charts) - 1
            values = cell.values(args.context) if last and cell.values is not None else {}
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

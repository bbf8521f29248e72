"""Regenerate the generated parts of the docs (`make docs`), so they cannot drift from the code:
the README's policy rules table and the vendor x CNI tables in ``docs/cni.md``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from edgefleet.check import rules_table
from edgefleet.components.cni import matrix
from edgefleet.components.cni.matrix import AksSide, Cell, EksSide, GkeSide
from edgefleet.components.config.model import CniPlugin
from edgefleet.policies.rules import ALL_POLICIES

START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"
CNI_START, CNI_END = "<!-- cni:start -->\n", "<!-- cni:end -->"

ROW_TITLES = {
    "aws": "aws (EKS)",
    "gcp": "gcp (GKE Standard)",
    matrix.GKE_AUTOPILOT: "gcp (GKE Autopilot)",
    "azure": "azure (AKS)",
    "linode": "linode (LKE)",
    "digitalocean": "digitalocean (DOKS)",
    "existing": "existing (k3s, kubeadm, kind)",
}


def replace_between(text: str, start: str, end: str, body: str, what: str) -> str:
    """``text`` with the part between ``start`` and ``end`` replaced by ``body``."""
    if start not in text or end not in text:
        raise ValueError(f"{what} has no {start.strip()} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}{body}{end}{tail}"


def render(readme: str) -> str:
    """``readme`` with the text between the rules markers replaced by the current table."""
    return replace_between(readme, START, END, rules_table(ALL_POLICIES), "README")


def _cluster_side(cell: Cell) -> str:
    side = cell.cluster
    if isinstance(side, EksSide):
        parts = [f"add-ons: {', '.join(side.addons)}"]
        if not side.self_managed_addons:
            parts.insert(0, "`bootstrap_self_managed_addons=false`")
        if side.vpc_cni_network_policy:
            parts.append('vpc-cni `{"enableNetworkPolicy":"true"}`')
        if side.kube_proxy_replacement:
            parts.append("kube-proxy replaced (`k8sServiceHost` = API host)")
        parts += [f"taint `{k}={v}:{e}`" for k, v, e in side.node_taints]
        return "; ".join(parts)
    if isinstance(side, GkeSide):
        text = f"`datapath_provider={side.datapath_provider}`"
        if side.calico_network_policy:
            text += "; `network_policy{enabled, CALICO}` + network policy add-on"
        return text
    if isinstance(side, AksSide):
        parts = [f"`network_plugin={side.network_plugin}`"]
        if side.network_plugin_mode:
            parts.append(f"`network_plugin_mode={side.network_plugin_mode}`")
        if side.network_dataplane:
            parts.append(f"`network_dataplane={side.network_dataplane}`")
        parts.append(f"`network_policy={side.network_policy}`")
        if side.pod_cidr:
            parts.append("`pod_cidr` = the pod range")
        return ", ".join(parts)
    return "nothing"


def cni_tables() -> str:
    """The support table (vendor x plugin) and the per-mode detail table, as Markdown."""
    plugins = list(CniPlugin)
    lines = [
        "| vendor | " + " | ".join(p.value for p in plugins) + " |",
        "|---" * (len(plugins) + 1) + "|",
    ]
    refusals = {(u.row, u.plugin): u.reason for u in matrix.UNSUPPORTED}
    for row in matrix.ROWS:
        cells = []
        for plugin in plugins:
            modes = matrix.modes(row, plugin)
            if modes:
                default = matrix.default_mode(row, plugin)
                cells.append(", ".join(f"**{m}**" if m == default and len(modes) > 1 else m for m in modes))
            elif (row, plugin) in refusals:
                cells.append("no")
            else:
                cells.append("only `installed: true` (whatever the cluster runs)")
        lines.append(f"| {ROW_TITLES[row]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Bold: the default mode when `mode` is omitted (a plugin with one mode needs none).",
        "",
        "| vendor | plugin | mode | NetworkPolicy | what it is | on the cluster | Helm charts (namespace) |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in matrix.CELLS:
        charts = ", ".join(f"{c.chart} {c.version} ({c.namespace})" for c in cell.charts) or "none"
        summary = cell.summary + (f". {cell.notes}" if cell.notes else "")
        lines.append(
            f"| {ROW_TITLES[cell.row]} | {cell.plugin.value} | {cell.mode} | "
            f"{'yes' if cell.network_policy else 'no'} | {summary} | {_cluster_side(cell)} | {charts} |"
        )
    lines += ["", "Refused, before any resource exists:", ""]
    lines += [f"- {ROW_TITLES[u.row]}, {u.plugin.value}: {u.reason}" for u in matrix.UNSUPPORTED]
    return "\n".join(lines) + "\n"


def render_cni(doc: str) -> str:
    """``doc`` with the text between the CNI markers replaced by the tables from the matrix."""
    return replace_between(doc, CNI_START, CNI_END, cni_tables(), "docs/cni.md")


GENERATED: dict[str, Callable[[str], str]] = {"README.md": render, "docs/cni.md": render_cni}


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path()
    for name, renderer in GENERATED.items():
        path = root / name
        text = path.read_text(encoding="utf-8")
        updated = renderer(text)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            print(f"{path}: generated tables updated")
        else:
            print(f"{path}: up to date")


if __name__ == "__main__":
    main()

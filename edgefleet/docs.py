"""Regenerate the generated parts of the docs (`make docs`), so they cannot drift from the code:
the README's policy rules table and the vendor x CNI tables in ``docs/cni.md``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


SCHEMA_START, SCHEMA_END = "<!-- schema:start -->\n", "<!-- schema:end -->"


def _type_of(prop: dict[str, Any]) -> str:
    """A schema property's type as the docs show it."""
    ref = prop.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit(":", 1)[-1]
        return "any" if ref.endswith("/Any") else f"[{name}](#{name.lower()})"
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(prop.get('items', {}))}"
    if kind == "object" and "additionalProperties" in prop:
        return f"map of {_type_of(prop['additionalProperties'])}"
    return str(kind)


def _cell(text: str | None) -> str:
    return " ".join((text or "").replace("|", "\\|").replace("``", "`").split())


def _properties(props: dict[str, Any], required: set[str], *, inputs: bool) -> list[str]:
    if not props:
        return ["(none)", ""]
    head = "| name | type | required | description |" if inputs else "| name | type | description |"
    lines = [head, "|---|---|---|---|" if inputs else "|---|---|---|"]
    for key in sorted(props):
        prop = props[key]
        kind = _type_of(prop) + ("" if inputs and prop.get("plain") else " (Input)" if inputs else "")
        if inputs:
            needed = "yes" if key in required else ""
            lines.append(f"| `{key}` | {kind} | {needed} | {_cell(prop.get('description'))} |")
        else:
            lines.append(f"| `{key}` | {kind} | {_cell(prop.get('description'))} |")
    return [*lines, ""]


def components_reference(schema: dict[str, Any]) -> str:
    """Every component's inputs and outputs, and every type, from the package schema."""
    lines: list[str] = []
    for token in sorted(schema["resources"]):
        resource = schema["resources"][token]
        name = token.rsplit(":", 1)[-1]
        lines += [f"### {name}", "", f"`{token}`. {_cell(resource.get('description'))}", "", "Inputs:", ""]
        lines += _properties(resource.get("inputProperties", {}), set(resource.get("requiredInputs", [])), inputs=True)
        lines += ["Outputs:", ""]
        lines += _properties(resource.get("properties", {}), set(), inputs=False)
    lines += ["### Types", ""]
    for token in sorted(schema["types"]):
        kind = schema["types"][token]
        name = token.rsplit(":", 1)[-1]
        lines += [f"#### {name}", "", _cell(kind.get("description")), ""]
        lines += _properties(kind.get("properties", {}), set(kind.get("required", [])), inputs=True)
    return "\n".join(lines).rstrip("\n") + "\n"


def render_components(doc: str) -> str:
    """``doc`` with the reference between the schema markers generated from the package schema."""
    from edgefleet.provider import schema  # noqa: PLC0415 - loads every vendor's SDK

    return replace_between(doc, SCHEMA_START, SCHEMA_END, components_reference(schema()), "docs/components.md")


def render_schema(text: str) -> str:
    """The committed package schema (``edgefleet/provider/schema.json``), as the code gives it."""
    from edgefleet.provider import schema_text  # noqa: PLC0415

    del text
    return schema_text()


GENERATED: dict[str, Callable[[str], str]] = {
    "README.md": render,
    "docs/cni.md": render_cni,
    "edgefleet/provider/schema.json": render_schema,
    "docs/components.md": render_components,
}


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

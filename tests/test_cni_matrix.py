"""The vendor x CNI matrix: total, refusals that say why, and values the real charts accept.

Chart files come from ``tests/ref/cni/`` (the charts' own values.yaml and Cilium's values
schema), read at test time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from edgefleet.components.cni import matrix
from edgefleet.components.cni.matrix import CALICO, CALICO_CRDS, CELLS, CILIUM, FLANNEL, Cell, ValuesContext
from edgefleet.components.config import CniPlugin, ConfigError, Vendor, parse_fleet
from edgefleet.docs import render_cni
from tests.conftest import REF as REF_ROOT
from tests.conftest import REPO

REF = REF_ROOT / "cni"
PUBLIC = {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}
REGION = {
    "aws": {"vendor": "aws", "region": "eu-central-1"},
    "gcp": {"vendor": "gcp", "region": "europe-west3", "project": "acme-edge"},
    "gcp-autopilot": {"vendor": "gcp", "region": "europe-west1", "project": "acme-edge", "autopilot": True},
    "azure": {"vendor": "azure", "region": "westeurope"},
    "linode": {"vendor": "linode", "region": "de-fra-2", "endpoint": PUBLIC},
    "digitalocean": {"vendor": "digitalocean", "region": "fra1", "endpoint": PUBLIC},
    "existing": {"vendor": "existing", "name": "shop-1", "location": {"city": "Berlin", "country": "DE"}},
}


def _fleet(row: str, cni: dict[str, Any]) -> dict[str, Any]:
    return {"environment": "prod", "owner": "o", "clusters": [{**REGION[row], "cni": cni}]}


# --- the matrix as data --------------------------------------------------------------------------


def test_every_vendor_and_plugin_is_either_supported_or_refused_with_a_reason() -> None:
    assert matrix.is_total()
    for row in matrix.ROWS:
        for plugin in CniPlugin:
            if row == "existing" and plugin is CniPlugin.VENDOR:
                continue
            supported = matrix.modes(row, plugin)
            refused = [u for u in matrix.UNSUPPORTED if (u.row, u.plugin) == (row, plugin)]
            assert bool(supported) != bool(refused), (row, plugin)


def test_defaults_per_vendor_when_mode_is_omitted() -> None:
    expected = {
        ("aws", CniPlugin.CILIUM): "eni",
        ("aws", CniPlugin.CALICO): "policy-only",
        ("aws", CniPlugin.VENDOR): "vpc-cni",
        ("azure", CniPlugin.CILIUM): "byocni",
        ("azure", CniPlugin.CALICO): "managed",
        ("gcp", CniPlugin.CILIUM): "dataplane-v2",
        ("gcp", CniPlugin.CALICO): "policy-only",
        ("linode", CniPlugin.CALICO): "managed",
        ("digitalocean", CniPlugin.CILIUM): "managed",
        ("existing", CniPlugin.CILIUM): "overlay",
        ("existing", CniPlugin.CALICO): "vxlan",
        ("existing", CniPlugin.FLANNEL): "vxlan",
    }
    for (row, plugin), mode in expected.items():
        assert matrix.default_mode(row, plugin) == mode, (row, plugin)


UNSUPPORTED_MESSAGES = {
    ("aws", "flannel"): "flannel cannot run on aws: EKS does not assign node pod CIDRs, which flannel needs; "
    "use cilium (eni or chaining) or calico (policy-only or full)",
    ("gcp", "flannel"): "flannel cannot run on gcp: GKE does not support replacing its CNI",
    ("gcp-autopilot", "calico"): "calico cannot run on GKE Autopilot: Autopilot always runs Dataplane V2; use vendor",
    ("gcp-autopilot", "flannel"): "flannel cannot run on GKE Autopilot: Autopilot always runs Dataplane V2",
    ("azure", "flannel"): "flannel cannot run on azure: AKS BYOCNI gives nodes no pod CIDR",
    ("linode", "cilium"): "cilium cannot run on linode: LKE runs its own managed Calico",
    ("linode", "flannel"): "flannel cannot run on linode: LKE runs its own managed Calico",
    ("digitalocean", "calico"): "calico cannot run on digitalocean: DOKS runs its own managed Cilium",
    ("digitalocean", "flannel"): "flannel cannot run on digitalocean: DOKS runs its own managed Cilium",
}


def test_the_refusal_table_covers_every_unsupported_cell() -> None:
    assert {(u.row, u.plugin.value) for u in matrix.UNSUPPORTED} == set(UNSUPPORTED_MESSAGES)


@pytest.mark.parametrize(("row", "plugin"), sorted(UNSUPPORTED_MESSAGES))
def test_an_unsupported_cell_is_a_config_error_that_says_why_and_what_instead(row: str, plugin: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fleet(_fleet(row, {"plugin": plugin}))
    issues = caught.value.issues
    assert len(issues) == 1
    assert issues[0].path == "fleet.clusters[0].cni.plugin"
    assert UNSUPPORTED_MESSAGES[(row, plugin)] in issues[0].message


def test_a_mode_the_plugin_does_not_have_lists_the_ones_it_has() -> None:
    with pytest.raises(ConfigError, match=r"calico on azure has no mode 'eni'; use one of: managed, policy-only, full"):
        parse_fleet(_fleet("azure", {"plugin": "calico", "mode": "eni"}))


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: f"{c.row}-{c.plugin.value}-{c.mode}")
def test_every_supported_cell_parses_and_exposes_its_network_policy_capability(cell: Cell) -> None:
    cni: dict[str, Any] = {"plugin": cell.plugin.value, "mode": cell.mode}
    spec = parse_fleet(_fleet(cell.row, cni))
    info = spec.clusters[0].cni
    assert (info.plugin, info.mode, info.network_policy, info.installs) == (
        cell.plugin,
        cell.mode,
        cell.network_policy,
        bool(cell.charts),
    )


# --- values against the real charts -------------------------------------------------------------


@cache
def _chart_values(name: str) -> Any:
    return YAML(typ="safe", pure=True).load((REF / f"{name}.values.yaml").read_text())


@cache
def _documented_keys(name: str) -> frozenset[tuple[str, ...]]:
    """Key paths of a values.yaml, including the commented-out keys it documents (tigera-operator
    documents `installation.cni` and `installation.calicoNetwork` only in comments)."""
    paths: set[tuple[str, ...]] = set()

    def walk(node: Any, prefix: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.add((*prefix, str(key)))
                walk(value, (*prefix, str(key)))
        elif isinstance(node, list):
            for item in node:
                walk(item, (*prefix, "[]"))

    walk(_chart_values(name), ())
    stack: list[tuple[int, str]] = []
    for line in (REF / f"{name}.values.yaml").read_text().splitlines():
        plain = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):", line)
        commented = re.match(r"^(\s*)#(\s+)(-\s+)?([A-Za-z][A-Za-z0-9]*):", line)
        if plain:
            indent, key = len(plain.group(1)), plain.group(2)
        elif commented:
            indent = len(commented.group(1)) + len(commented.group(2)) - 1 + (2 if commented.group(3) else 0)
            key = commented.group(4)
        else:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if commented and commented.group(3):
            stack.append((indent - 1, "[]"))
        stack.append((indent, key))
        paths.add(tuple(k for _, k in stack))
    return frozenset(paths)


def _key_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(values, dict):
        for key, value in values.items():
            yield (*prefix, key)
            yield from _key_paths(value, (*prefix, key))
    elif isinstance(values, list):
        for item in values:
            yield from _key_paths(item, (*prefix, "[]"))


def _chart_file(cell: Cell) -> str:
    return {CILIUM.chart: "cilium", CALICO.chart: "tigera-operator", FLANNEL.chart: "flannel"}[cell.charts[-1].chart]


INSTALLING = [c for c in CELLS if c.values is not None]
CONTEXTS = [
    ValuesContext(
        cluster="aws-eu-central-1", pod_cidr="100.64.0.0/19", api_host="abc.gr7.eu-central-1.eks.amazonaws.com"
    ),
    ValuesContext(cluster="shop-1", pod_cidr="10.42.0.0/16", api_host="", hubble=True),
]


@pytest.mark.parametrize("cell", INSTALLING, ids=lambda c: f"{c.row}-{c.plugin.value}-{c.mode}")
@pytest.mark.parametrize("context", CONTEXTS, ids=["plain", "hubble"])
def test_values_use_only_keys_the_chart_has(cell: Cell, context: ValuesContext) -> None:
    assert cell.values is not None
    values = cell.values(context)
    chart = _chart_file(cell)
    known = _documented_keys(chart)
    unknown = [".".join(p) for p in _key_paths(values) if p not in known]
    assert unknown == [], f"{chart} has no such keys: {unknown}"


@pytest.mark.parametrize("cell", [c for c in INSTALLING if c.charts[-1] == CILIUM], ids=lambda c: c.row + c.mode)
@pytest.mark.parametrize("context", CONTEXTS, ids=["plain", "hubble"])
def test_cilium_values_validate_against_the_charts_schema(cell: Cell, context: ValuesContext) -> None:
    assert cell.values is not None
    schema = json.loads((REF / "cilium.values.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(cell.values(context))


def test_a_misspelt_key_would_be_caught() -> None:
    known = _documented_keys("cilium")
    assert ("kubeProxyReplacement",) in known
    assert ("kubeProxyReplacment",) not in known
    assert ("installation", "calicoNetwork", "ipPools", "[]", "encapsulation") in _documented_keys("tigera-operator")
    assert ("netpol", "enabled") in _documented_keys("flannel")


def test_cell_values_by_vendor() -> None:
    ctx = ValuesContext(cluster="c", pod_cidr="100.64.32.0/19", api_host="h.example")
    cells = {(c.row, c.plugin.value, c.mode): c for c in CELLS}

    def values(key: tuple[str, str, str]) -> dict[str, Any]:
        fn = cells[key].values
        assert fn is not None
        return fn(ctx)

    eni = values(("aws", "cilium", "eni"))
    assert (eni["eni"], eni["ipam"], eni["routingMode"]) == ({"enabled": True}, {"mode": "eni"}, "native")
    assert (eni["kubeProxyReplacement"], eni["k8sServiceHost"], eni["k8sServicePort"]) == ("true", "h.example", 443)
    chaining = values(("aws", "cilium", "chaining"))
    assert chaining["cni"] == {"chainingMode": "aws-cni", "exclusive": False}
    assert chaining["enableIPv4Masquerade"] is False
    byocni = values(("azure", "cilium", "byocni"))
    assert byocni["aksbyocni"] == {"enabled": True}
    assert byocni["routingMode"] == "tunnel"
    assert byocni["ipam"]["operator"]["clusterPoolIPv4PodCIDRList"] == ["100.64.32.0/19"]
    policy_only = values(("aws", "calico", "policy-only"))["installation"]
    assert policy_only == {
        "kubernetesProvider": "EKS",
        "cni": {"type": "AmazonVPC"},
        "calicoNetwork": {"bgp": "Disabled"},
    }
    full = values(("azure", "calico", "full"))["installation"]
    assert full["cni"] == {"type": "Calico"}
    assert full["calicoNetwork"]["ipPools"] == [
        {"cidr": "100.64.32.0/19", "encapsulation": "VXLAN", "natOutgoing": "Enabled"}
    ]
    assert values(("existing", "flannel", "vxlan")) == {
        "podCidr": "100.64.32.0/19",
        "flannel": {"backend": "vxlan"},
        "netpol": {"enabled": True},
    }


def test_charts_are_pinned_to_the_reference_versions() -> None:
    for chart, ref in ((CILIUM, "cilium"), (FLANNEL, "flannel")):
        meta = YAML(typ="safe", pure=True).load((REF / f"{ref}.Chart.yaml").read_text())
        assert chart.version == meta["version"]
    tag = _chart_values("tigera-operator")["calicoctl"]["tag"]
    assert CALICO.version == CALICO_CRDS.version == tag == "v3.32.1"


def test_cluster_name_in_cilium_values_is_a_dns_label_of_at_most_32() -> None:
    cell = next(c for c in CELLS if c.row == "existing" and c.plugin is CniPlugin.CILIUM)
    assert cell.values is not None
    name = cell.values(ValuesContext(cluster="a" * 31 + "-b" * 4, pod_cidr="10.42.0.0/16"))["cluster"]["name"]
    assert len(name) <= 32
    assert re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name)


def test_vendor_keys_match_the_config_vendors() -> None:
    assert set(matrix.ROWS) == {v.value for v in Vendor} | {matrix.GKE_AUTOPILOT}


def test_docs_cni_tables_are_generated_from_the_matrix() -> None:
    text = (REPO / "docs" / "cni.md").read_text()
    assert render_cni(text) == text, "run `make docs` to regenerate docs/cni.md"
    assert "| aws (EKS) | **eni**, chaining | **policy-only**, full | no | vpc-cni |" in text


@pytest.mark.parametrize("cell", [c for c in INSTALLING if c.charts[-1] == CILIUM], ids=lambda c: c.row + c.mode)
@pytest.mark.parametrize("context", CONTEXTS, ids=["plain", "hubble"])
def test_every_cilium_install_exports_hubbles_drop_counters(cell: Cell, context: ValuesContext) -> None:
    """hubble_drop_total{reason} on every node: what `edgefleet doctor` attaches to Kubernetes-layer
    findings; the chart's default (`hubble.metrics.enabled: ~`) exports no Hubble metric at all."""
    assert cell.values is not None
    hubble = cell.values(context)["hubble"]
    assert hubble["enabled"] is True
    assert "drop" in hubble["metrics"]["enabled"]
    assert ("relay" in hubble) is context.hubble  # relay and UI only when asked for

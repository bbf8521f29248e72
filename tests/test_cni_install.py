"""Installing a CNI: namespaces, pinned Helm releases in order, on the cluster's provider.

`existing` clusters here (nodes already run, so releases await readiness); the cloud vendors'
cluster-side settings and ordering are tested with each vendor in tests/clusters/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from edgefleet.components.tokens import CLUSTER_TYPES
from edgefleet.plan import write_manifests
from tests.clusters.support import Built, build

RELEASE = "kubernetes:helm.sh/v3:Release"
SHOP = {"vendor": "existing", "location": {"city": "Berlin", "country": "DE"}}


def _shop(name: str, cni: dict[str, Any]) -> dict[str, Any]:
    return {**SHOP, "name": name, "cni": cni}


def _releases(built: Built) -> dict[str, Any]:
    return {r.inputs["name"]: r for r in built.of_type(RELEASE)}


def _contract_provider(built: Built, cluster: str) -> str:
    provider = next(r for r in built.of_type("pulumi:providers:kubernetes") if r.name == f"{cluster}-k8s")
    return provider.urn


def test_calico_on_an_existing_cluster_installs_crds_then_the_operator() -> None:
    built = build([_shop("shop-1", {"plugin": "calico", "pod_cidr": "10.52.0.0/16"})], environment="dev")
    releases = _releases(built)
    assert set(releases) == {"calico-crds", "tigera-operator"}
    crds, operator = releases["calico-crds"], releases["tigera-operator"]
    for release, chart in ((crds, "crd.projectcalico.org.v1"), (operator, "tigera-operator")):
        assert release.inputs["chart"] == chart
        assert release.inputs["version"] == "v3.32.1"
        assert release.inputs["repositoryOpts"] == {"repo": "https://docs.tigera.io/calico/charts"}
        assert release.inputs["namespace"] == "tigera-operator"
        assert release.inputs["createNamespace"] is False
        assert release.inputs["skipAwait"] is False  # the nodes exist: wait for the CNI to be ready
        assert release.provider_urn == _contract_provider(built, "shop-1")
    assert crds.urn in operator.dependencies
    assert operator.inputs["values"] == {
        "installation": {
            "cni": {"type": "Calico"},
            "calicoNetwork": {
                "bgp": "Disabled",
                "ipPools": [{"cidr": "10.52.0.0/16", "encapsulation": "VXLAN", "natOutgoing": "Enabled"}],
            },
        },
        "manageCRDs": False,
    }
    namespace = built.one("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert namespace.inputs["metadata"]["name"] == "tigera-operator"
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["edgefleet-cluster"] == "shop-1"
    assert namespace.urn in crds.dependencies
    component = built.one("edgefleet:index:CniInstall")
    cluster = built.one("edgefleet:index:ExistingCluster")
    assert component.parent == cluster.urn
    assert {crds.parent, operator.parent, namespace.parent} == {component.urn}
    assert built.spec.clusters[0].cni.network_policy is True


def test_flannel_gets_a_privileged_namespace_and_kube_network_policies() -> None:
    built = build([_shop("shop-2", {"plugin": "flannel"})], environment="dev")
    release = built.one(RELEASE)
    assert (release.inputs["chart"], release.inputs["version"], release.inputs["namespace"]) == (
        "flannel",
        "v0.28.9",
        "kube-flannel",
    )
    assert release.inputs["repositoryOpts"] == {"repo": "https://flannel-io.github.io/flannel/"}
    assert release.inputs["values"] == {
        "podCidr": "10.244.0.0/16",
        "flannel": {"backend": "vxlan"},
        "netpol": {"enabled": True},
    }
    namespace = built.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "kube-flannel"
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert built.spec.clusters[0].cni.network_policy is True  # with netpol.enabled


def test_cilium_goes_to_kube_system_with_hubble_certificates_from_a_cronjob() -> None:
    built = build([_shop("shop-3", {"plugin": "cilium", "hubble": True})], environment="dev")
    release = built.one(RELEASE)
    assert (release.inputs["chart"], release.inputs["version"], release.inputs["namespace"]) == (
        "cilium",
        "1.20.0",
        "kube-system",
    )
    values = release.inputs["values"]
    assert values["ipam"] == {"mode": "cluster-pool", "operator": {"clusterPoolIPv4PodCIDRList": ["10.42.0.0/16"]}}
    assert values["operator"] == {"replicas": 1}
    assert values["hubble"]["tls"]["auto"] == {"enabled": True, "method": "cronJob"}
    assert values["hubble"]["relay"] == {"enabled": True}
    assert values["hubble"]["ui"] == {"enabled": True}
    assert built.of_type("kubernetes:core/v1:Namespace") == []  # kube-system exists


def test_a_recorded_cni_installs_nothing_and_a_plan_is_clean() -> None:
    built = build([_shop("shop-4", {"plugin": "cilium", "installed": True})], environment="dev")
    assert built.of_type(RELEASE) == []
    assert built.of_type("edgefleet:index:CniInstall") == []
    assert built.violations() == []


def test_installed_cnis_pass_the_policy_pack() -> None:
    built = build(
        [
            _shop("shop-1", {"plugin": "calico"}),
            _shop("shop-2", {"plugin": "flannel"}),
            _shop("shop-3", {"plugin": "cilium"}),
        ],
        environment="dev",
    )
    assert len(built.of_type(RELEASE)) == 4
    assert built.violations() == []


def test_manifests_write_each_release_with_its_values(tmp_path: Path) -> None:
    built = build([_shop("shop-1", {"plugin": "calico"}), _shop("shop-2", {"plugin": "flannel"})], environment="dev")
    written = write_manifests(built.run, tmp_path / "m")
    helm = sorted(p.relative_to(tmp_path / "m").as_posix() for p in written if "/helm/" in p.as_posix())
    assert helm == ["shop-1/helm/calico-crds.yaml", "shop-1/helm/tigera-operator.yaml", "shop-2/helm/flannel.yaml"]
    doc = YAML(typ="safe", pure=True).load((tmp_path / "m" / "shop-2" / "helm" / "flannel.yaml").read_text())
    assert doc == {
        "chart": "flannel",
        "repository": "https://flannel-io.github.io/flannel/",
        "version": "v0.28.9",
        "namespace": "kube-flannel",
        "values": {"flannel": {"backend": "vxlan"}, "netpol": {"enabled": True}, "podCidr": "10.244.0.0/16"},
    }


MANAGED_CELLS = [
    ({"vendor": "linode", "region": "de-fra-2"}, {"plugin": "vendor"}, ("vendor", "calico")),
    ({"vendor": "linode", "region": "de-fra-2"}, {"plugin": "calico"}, ("calico", "managed")),
    ({"vendor": "digitalocean", "region": "fra1"}, {"plugin": "vendor"}, ("vendor", "cilium")),
    ({"vendor": "digitalocean", "region": "fra1"}, {"plugin": "cilium"}, ("cilium", "managed")),
]


@pytest.mark.parametrize(
    ("entry", "cni", "recorded"), MANAGED_CELLS, ids=["lke-vendor", "lke-calico", "doks-vendor", "doks-cilium"]
)
def test_lke_and_doks_cells_install_nothing_and_record_their_capability(
    entry: dict[str, Any], cni: dict[str, Any], recorded: tuple[str, str]
) -> None:
    public = {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}
    built = build([{**entry, "endpoint": public, "cni": cni}])
    info = built.spec.clusters[0].cni
    assert (info.plugin.value, info.mode) == recorded
    assert (info.network_policy, info.installs, info.pod_cidr) == (True, False, None)
    assert built.of_type(RELEASE) == []
    assert built.of_type("edgefleet:index:CniInstall") == []
    assert [r.name for r in built.of_type("pulumi:providers:kubernetes")] == [f"{built.spec.clusters[0].name}-k8s"]
    component = next(r for r in built.run.registrations if r.type in CLUSTER_TYPES)
    assert component.inputs["cni"] == {"plugin": recorded[0], "mode": recorded[1], "networkPolicy": True}
    assert built.violations() == []

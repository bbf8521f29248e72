"""GKE (components/clusters/gcp.py): inventory, security-relevant inputs by name, providers, parents,
protection, node pools, endpoint exposure, the CNI cells, kubeconfig and the policy pack, Standard and
Autopilot."""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from typing import Any

import pytest
from pulumi.runtime.sync_await import _sync_await
from pulumi_gcp import compute, container, kms, projects, serviceaccount

from edgefleet.components.clusters import gcp
from edgefleet.components.cni import matrix
from edgefleet.components.config import parse_fleet
from edgefleet.components.config.model import CniPlugin, NodePool
from edgefleet.engine import Registration
from edgefleet.mock_outputs.gcp import project_number
from tests.clusters.support import GCP_PROJECT, Built, build, fleet_config

STANDARD = {"vendor": "gcp", "region": "europe-west3", "labels": {"tier": "core"}}
AUTOPILOT = {"vendor": "gcp", "region": "europe-west1", "autopilot": True}
NAME, AP_NAME = "gcp-europe-west3", "gcp-europe-west1"

CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
ROUTER = "gcp:compute/router:Router"
NAT = "gcp:compute/routerNat:RouterNat"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
KEY_RING = "gcp:kms/keyRing:KeyRing"
KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
GCP_PROVIDER = "pulumi:providers:gcp"
K8S_PROVIDER = "pulumi:providers:kubernetes"
COMPONENT = "edgefleet:index:GkeCluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
CNI_TYPES = (RELEASE, "kubernetes:core/v1:Namespace", "edgefleet:index:CniInstall")
LABELS = {"owner": "platform-team", "environment": "prod", "cost-center": "cc-42"}
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


@pytest.fixture(scope="module")
def standard() -> Built:
    return build([STANDARD])


@pytest.fixture(scope="module")
def autopilot() -> Built:
    return build([AUTOPILOT])


@pytest.fixture(scope="module")
def dev() -> Built:
    return build([STANDARD], environment="dev")


def _node_email(cluster_name: str) -> str:
    return f"{gcp.node_account_id(cluster_name)}@{GCP_PROJECT}.iam.gserviceaccount.com"


def _vendor_resources(built: Built) -> list[Registration]:
    return [r for r in built.run.registrations if r.type.startswith("gcp:")]


# --- inventory, provider, parents ---------------------------------------------------------------


def test_a_default_standard_cluster_is_exactly_this_inventory(standard: Built) -> None:
    assert Counter(standard.types()) == Counter(
        {
            "pulumi:pulumi:Stack": 1,
            "edgefleet:index:Fleet": 1,
            COMPONENT: 1,
            GCP_PROVIDER: 1,
            NETWORK: 1,
            SUBNET: 1,
            ROUTER: 1,
            NAT: 1,
            ACCOUNT: 1,
            PROJECT_MEMBER: 1,
            KEY_RING: 1,
            KEY: 1,
            KEY_MEMBER: 1,
            CLUSTER: 1,
            POOL: 1,
            K8S_PROVIDER: 1,
        }
    )


def test_an_autopilot_cluster_has_no_node_pools_and_otherwise_the_same_inventory(
    standard: Built, autopilot: Built
) -> None:
    assert Counter(autopilot.types()) == Counter(standard.types()) - Counter({POOL: 1})


@pytest.mark.parametrize("fixture", ["standard", "autopilot"])
def test_every_vendor_resource_uses_the_clusters_own_gcp_provider(fixture: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(fixture)
    region = (STANDARD if fixture == "standard" else AUTOPILOT)["region"]
    provider = built.one(GCP_PROVIDER)
    assert provider.inputs["project"] == GCP_PROJECT
    assert provider.inputs["region"] == region
    component = built.one(COMPONENT)
    assert provider.parent == component.urn
    for resource in _vendor_resources(built):
        assert resource.provider_urn == provider.urn, resource.name
        assert resource.parent == component.urn, resource.name
        assert resource.name.startswith(f"{component.name}-"), resource.name


def test_resources_that_take_a_project_get_it_explicitly(standard: Built) -> None:
    for resource in _vendor_resources(standard):
        if resource.type not in (KEY, KEY_MEMBER):  # these take their project from the key ring path
            assert resource.inputs["project"] == GCP_PROJECT, resource.name


# --- network ---------------------------------------------------------------------------------


def test_the_network_is_custom_mode_with_a_vpc_native_subnetwork_from_the_address_plan(standard: Built) -> None:
    plan = standard.spec.cluster(NAME).network
    assert plan is not None
    assert standard.one(NETWORK).inputs["autoCreateSubnetworks"] is False
    subnet = standard.one(SUBNET).inputs
    assert subnet["region"] == "europe-west3"
    assert subnet["ipCidrRange"] == plan.subnet(20, 0)
    assert subnet["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": plan.pods},
        {"rangeName": "services", "ipCidrRange": plan.services},
    ]
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA"
    assert subnet["network"] == standard.one(CLUSTER).inputs["network"]
    cluster = standard.one(CLUSTER).inputs
    assert cluster["networkingMode"] == "VPC_NATIVE"
    assert cluster["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
    }


def test_cloud_nat_gives_the_private_nodes_egress(standard: Built) -> None:
    nat = standard.one(NAT).inputs
    assert nat["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat["subnetworks"] == [
        {"name": standard.one(CLUSTER).inputs["subnetwork"], "sourceIpRangesToNats": ["ALL_IP_RANGES"]}
    ]
    assert nat["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}
    assert standard.one(ROUTER).inputs["network"] == standard.one(CLUSTER).inputs["network"]
    assert standard.one(ROUTER).urn in standard.one(NAT).dependencies


# --- identities --------------------------------------------------------------------------------


def test_nodes_run_as_a_dedicated_account_with_only_the_default_node_role(standard: Built) -> None:
    account = standard.one(ACCOUNT).inputs
    assert account["accountId"] == gcp.node_account_id(NAME)
    grants = standard.of_type(PROJECT_MEMBER)
    assert [(g.inputs["role"], g.inputs["member"], g.inputs["project"]) for g in grants] == [
        ("roles/container.defaultNodeServiceAccount", f"serviceAccount:{_node_email(NAME)}", GCP_PROJECT)
    ]
    pool = standard.one(POOL)
    assert pool.inputs["nodeConfig"]["serviceAccount"] == _node_email(NAME)
    assert pool.inputs["nodeConfig"]["oauthScopes"] == [SCOPE]
    assert grants[0].urn in pool.dependencies  # nodes boot with their role already granted
    # The default pool lives until the cluster exists: it runs as the same account, never the Compute default.
    cluster = standard.one(CLUSTER)
    assert cluster.inputs["nodeConfig"]["serviceAccount"] == _node_email(NAME)
    assert grants[0].urn in cluster.dependencies


def test_workload_identity_is_on(standard: Built, autopilot: Built) -> None:
    for built in (standard, autopilot):
        assert built.one(CLUSTER).inputs["workloadIdentityConfig"] == {"workloadPool": f"{GCP_PROJECT}.svc.id.goog"}


@pytest.mark.parametrize("name", ["a", "gcp-europe-west3", "1shop", "x" * 40, "ab-" + "c" * 37, "aaaaaaaaaaaaaaaa-bbb"])
def test_node_account_ids_are_valid_service_account_ids(name: str) -> None:
    account_id = gcp.node_account_id(name)
    assert re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", account_id), account_id


def test_node_account_ids_differ_for_names_with_a_common_prefix() -> None:
    assert gcp.node_account_id("store-europe-west3-a") != gcp.node_account_id("store-europe-west3-b")


# --- secrets encryption --------------------------------------------------------------------------


def test_secrets_are_encrypted_with_a_rotated_regional_key_the_gke_service_agent_may_use(standard: Built) -> None:
    assert standard.one(KEY_RING).inputs["location"] == "europe-west3"
    key = standard.one(KEY).inputs
    assert key["rotationPeriod"] == "7776000s"
    assert key["purpose"] == "ENCRYPT_DECRYPT"
    cluster = standard.one(CLUSTER)
    encryption = cluster.inputs["databaseEncryption"]
    assert encryption["state"] == "ENCRYPTED"
    assert encryption["keyName"].startswith(f"projects/{GCP_PROJECT}/locations/europe-west3/keyRings/")
    grant = standard.one(KEY_MEMBER)
    assert grant.inputs == {
        "cryptoKeyId": encryption["keyName"],
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": gcp.service_agent(project_number(GCP_PROJECT)),
    }
    assert grant.urn in cluster.dependencies  # GKE must be able to use the key when it creates the cluster


def test_the_gke_service_agent_is_named_from_the_project_number() -> None:
    assert gcp.service_agent("123456789012") == (
        "serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com"
    )


# --- the control plane -------------------------------------------------------------------------


def test_the_standard_control_plane_has_every_secure_default_by_name(standard: Built) -> None:
    cluster = standard.one(CLUSTER).inputs
    assert cluster["name"] == NAME
    assert cluster["location"] == "europe-west3"  # regional: control plane replicas in every zone
    assert cluster["nodeLocations"] == list(standard.spec.cluster(NAME).zones)
    assert cluster["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
    assert "masterIpv4CidrBlock" not in cluster["privateClusterConfig"]  # PSC-based since GKE 1.29
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert "minMasterVersion" not in cluster  # the channel decides
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["enableShieldedNodes"] is True
    assert cluster["enableLegacyAbac"] is False
    assert cluster["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert cluster["loggingConfig"] == {
        "enableComponents": ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]
    }
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["initialNodeCount"] == 1
    assert "enableAutopilot" not in cluster


def test_the_default_pool_is_hardened_while_it_exists_and_its_settings_never_replace_the_cluster(
    standard: Built,
) -> None:
    cluster = standard.one(CLUSTER)
    config = cluster.inputs["nodeConfig"]
    assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert config["metadata"] == {"disable-legacy-endpoints": "true"}
    assert set(cluster.ignore_changes) == {"nodeConfig", "initialNodeCount"}


def test_a_private_endpoint_admits_only_the_clusters_own_vpc(standard: Built) -> None:
    plan = standard.spec.cluster(NAME).network
    assert plan is not None
    assert standard.one(CLUSTER).inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": plan.network, "displayName": "cluster-vpc"}],
        "gcpPublicCidrsAccessEnabled": False,
    }


def test_a_public_endpoint_admits_only_the_allowed_cidrs() -> None:
    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    built = build([{**STANDARD, "endpoint": {"public": True, "allowed_cidrs": cidrs}}])
    cluster = built.one(CLUSTER).inputs
    assert cluster["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": False}
    assert cluster["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [
            {"cidrBlock": "203.0.113.0/24", "displayName": "allowed-0"},
            {"cidrBlock": "198.51.100.7/32", "displayName": "allowed-1"},
        ],
        "gcpPublicCidrsAccessEnabled": False,
    }
    assert built.violations() == []
    endpoint = _sync_await(built.fleet.clusters[NAME].endpoint._data).value
    assert re.fullmatch(r"https://203\.0\.113\.\d+", endpoint)  # the mock's public address, not the internal one


def test_a_public_endpoint_open_to_everywhere_is_the_one_violation() -> None:
    built = build([{**STANDARD, "endpoint": {"public": True, "allowed_cidrs": ["0.0.0.0/0"]}}])
    urn = built.one(CLUSTER).urn
    assert built.violations() == [
        (
            "gke-control-plane-restricted",
            urn,
            f"GKE cluster '{NAME}-gke' has a public control-plane endpoint open to 0.0.0.0/0 "
            "(masterAuthorizedNetworksConfig.cidrBlocks)",
        )
    ]


def test_a_configured_kubernetes_version_becomes_the_minimum_master_version() -> None:
    built = build([{**STANDARD, "kubernetes_version": "1.33"}])
    cluster = built.one(CLUSTER).inputs
    assert cluster["minMasterVersion"] == "1.33"
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}


# --- node pools ----------------------------------------------------------------------------------


def test_node_pools_come_from_the_config_with_hardened_nodes() -> None:
    pools = [
        {"name": "general", "size": "medium", "min": 2, "max": 6},
        {"name": "batch", "machine_type": "n2-standard-8", "min": 0, "max": 2},
    ]
    built = build([{**STANDARD, "node_pools": pools}])
    by_name = {p.inputs["name"]: p for p in built.of_type(POOL)}
    assert set(by_name) == {"general", "batch"}
    zones = list(built.spec.cluster(NAME).zones)
    general, batch = by_name["general"].inputs, by_name["batch"].inputs
    assert general["nodeConfig"]["machineType"] == "e2-standard-4"
    assert general["autoscaling"] == {"totalMinNodeCount": 2, "totalMaxNodeCount": 6, "locationPolicy": "BALANCED"}
    assert (general["nodeLocations"], general["initialNodeCount"]) == (zones, 1)
    assert batch["nodeConfig"]["machineType"] == "n2-standard-8"
    assert batch["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 2, "locationPolicy": "BALANCED"}
    assert (batch["nodeLocations"], batch["initialNodeCount"]) == (zones[:2], 1)  # 2 zones x 1 node fits max 2
    for pool in by_name.values():
        inputs = pool.inputs
        assert pool.name == f"{NAME}-{inputs['name']}"
        assert inputs["cluster"] == NAME
        assert inputs["location"] == "europe-west3"
        assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
        assert inputs["upgradeSettings"] == {"maxSurge": 1, "maxUnavailable": 0}
        assert inputs["networkConfig"] == {"enablePrivateNodes": True}
        config = inputs["nodeConfig"]
        assert config["imageType"] == "COS_CONTAINERD"
        assert config["serviceAccount"] == _node_email(NAME)
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert config["metadata"] == {"disable-legacy-endpoints": "true"}
        assert pool.ignore_changes == ("initialNodeCount",)
        assert not pool.protect
    assert built.violations() == []


def _pool(minimum: int, maximum: int) -> NodePool:
    return NodePool(name="p", machine_type="e2-standard-2", min=minimum, max=maximum)


ZONES = ("z-a", "z-b", "z-c")


@pytest.mark.parametrize(
    ("minimum", "maximum", "zones", "initial"),
    [
        (2, 4, ZONES, 1),
        (3, 3, ZONES, 1),
        (6, 9, ZONES, 2),
        (4, 4, ZONES[:2], 2),  # 3 zones x 2 nodes would overshoot max 4
        (0, 2, ZONES[:2], 1),
        (1, 1, ZONES[:1], 1),
        (5, 1000, ZONES, 2),
    ],
)
def test_pool_layout_starts_within_min_and_max(
    minimum: int, maximum: int, zones: tuple[str, ...], initial: int
) -> None:
    layout = gcp.pool_layout(_pool(minimum, maximum), ZONES)
    assert (layout.zones, layout.initial_per_zone) == (zones, initial)
    assert len(layout.zones) * layout.initial_per_zone <= maximum
    assert len(layout.zones) * layout.initial_per_zone >= minimum


def test_pool_layout_without_known_zones_leaves_placement_to_gke() -> None:
    assert gcp.pool_layout(_pool(2, 4), ()) == gcp.PoolLayout(zones=(), initial_per_zone=1)


# --- Autopilot -------------------------------------------------------------------------------------


def test_autopilot_sets_only_what_autopilot_accepts(autopilot: Built) -> None:
    cluster = autopilot.one(CLUSTER).inputs
    assert cluster["enableAutopilot"] is True
    for absent in (
        "datapathProvider",  # always Dataplane V2
        "enableShieldedNodes",  # always on; the provider rejects it with enable_autopilot
        "removeDefaultNodePool",
        "initialNodeCount",
        "nodeConfig",
        "nodeLocations",
        "networkPolicy",
    ):
        assert absent not in cluster, absent
    assert cluster["clusterAutoscaling"] == {
        "autoProvisioningDefaults": {"serviceAccount": _node_email(AP_NAME), "oauthScopes": [SCOPE]}
    }
    assert cluster["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["databaseEncryption"]["state"] == "ENCRYPTED"
    assert cluster["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert autopilot.one(CLUSTER).ignore_changes == ()


def test_the_kubernetes_provider_waits_for_nodes_or_for_the_autopilot_cluster(
    standard: Built, autopilot: Built
) -> None:
    assert standard.one(POOL).urn in standard.one(K8S_PROVIDER).dependencies
    assert autopilot.one(CLUSTER).urn in autopilot.one(K8S_PROVIDER).dependencies


# --- protection, tags ----------------------------------------------------------------------------


PROTECTED = (CLUSTER, NETWORK, SUBNET, KEY_RING, KEY)


def test_control_plane_network_and_key_are_protected_in_prod_only(standard: Built, dev: Built) -> None:
    assert {r.type for r in _vendor_resources(standard) if r.protect} == set(PROTECTED)
    assert standard.one(CLUSTER).inputs["deletionProtection"] is True
    assert [r.name for r in _vendor_resources(dev) if r.protect] == []
    assert dev.one(CLUSTER).inputs["deletionProtection"] is False


def test_labels_are_on_every_resource_that_takes_them(standard: Built) -> None:
    expected = {**LABELS, "edgefleet-cluster": NAME}
    assert standard.one(CLUSTER).inputs["resourceLabels"] == expected
    assert standard.one(KEY).inputs["labels"] == expected
    # GKE propagates the cluster's labels to the node VMs; the pools repeat none, so a tag change leaves them be.
    assert "resourceLabels" not in standard.one(POOL).inputs["nodeConfig"]


# The Args class of every resource type the component registers.
ARGS: dict[str, Any] = {
    NETWORK: compute.NetworkArgs,
    SUBNET: compute.SubnetworkArgs,
    ROUTER: compute.RouterArgs,
    NAT: compute.RouterNatArgs,
    ACCOUNT: serviceaccount.AccountArgs,
    PROJECT_MEMBER: projects.IAMMemberArgs,
    KEY_RING: kms.KeyRingArgs,
    KEY: kms.CryptoKeyArgs,
    KEY_MEMBER: kms.CryptoKeyIAMMemberArgs,
    CLUSTER: container.ClusterArgs,
    POOL: container.NodePoolArgs,
}


def _label_params(args_class: Any) -> set[str]:
    return {p for p in inspect.signature(args_class.__init__).parameters if p in ("labels", "resource_labels", "tags")}


def test_every_registered_class_that_takes_labels_gets_them(standard: Built) -> None:
    assert {r.type for r in _vendor_resources(standard)} == set(ARGS)
    wire = {"labels": "labels", "resource_labels": "resourceLabels", "tags": "tags"}
    for resource in _vendor_resources(standard):
        for param in _label_params(ARGS[resource.type]):
            assert resource.inputs[wire[param]]["owner"] == "platform-team", resource.name


# --- the CNI: one test per GKE cell (docs/cni.md) --------------------------------------------------
# GKE does not support replacing its CNI: every cell is cluster arguments only, nothing is installed.


def _with_cni(entry: dict[str, Any], plugin: str, mode: str) -> Built:
    return build([{**entry, "cni": {"plugin": plugin, "mode": mode}}])


def _installs_nothing(built: Built, name: str, plugin: str, mode: str) -> None:
    """No Helm release, namespace or CNI component, no ``-k8s-cni`` provider; the capability is recorded."""
    assert [r.name for r in built.run.registrations if r.type in CNI_TYPES] == []
    component = built.one(COMPONENT)
    assert [r.name for r in built.of_type(K8S_PROVIDER)] == [f"{component.name}-k8s"]  # the contract's only
    assert not any(r.name.endswith("-k8s-cni") for r in built.run.registrations)
    cni = built.spec.cluster(name).cni
    assert (cni.plugin.value, cni.mode, cni.network_policy, cni.installs) == (plugin, mode, True, False)
    assert built.fleet.clusters[name].cni == cni
    assert built.violations() == []


def test_cni_vendor_on_standard_is_dataplane_v2_and_what_a_cluster_gets_by_default(standard: Built) -> None:
    built = _with_cni(STANDARD, "vendor", "dataplane-v2")
    cluster = built.one(CLUSTER).inputs
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in cluster  # Dataplane V2 enforces policy itself; the add-on must stay off
    assert "addonsConfig" not in cluster
    assert cluster == standard.one(CLUSTER).inputs  # no `cni` in the config is this cell
    assert standard.spec.cluster(NAME).cni.mode == "dataplane-v2"
    _installs_nothing(built, NAME, "vendor", "dataplane-v2")


def test_cni_cilium_on_standard_is_dataplane_v2_gkes_managed_cilium() -> None:
    built = _with_cni(STANDARD, "cilium", "dataplane-v2")
    cluster = built.one(CLUSTER).inputs
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in cluster
    assert "addonsConfig" not in cluster
    _installs_nothing(built, NAME, "cilium", "dataplane-v2")


def test_cni_calico_on_standard_is_the_calico_add_on_on_the_legacy_datapath() -> None:
    built = _with_cni(STANDARD, "calico", "policy-only")
    cluster = built.one(CLUSTER).inputs
    assert cluster["datapathProvider"] == "LEGACY_DATAPATH"  # the add-on cannot run with Dataplane V2
    assert cluster["networkPolicy"] == {"enabled": True, "provider": "CALICO"}  # the nodes enforce
    assert cluster["addonsConfig"] == {"networkPolicyConfig": {"disabled": False}}  # the control plane's add-on
    # Everything else is the default cluster's: the cell changes the dataplane only.
    assert cluster["enableShieldedNodes"] is True
    assert cluster["removeDefaultNodePool"] is True
    _installs_nothing(built, NAME, "calico", "policy-only")


@pytest.mark.parametrize("plugin", ["vendor", "cilium"])
def test_cni_on_autopilot_is_its_always_on_dataplane_v2(plugin: str, autopilot: Built) -> None:
    built = _with_cni(AUTOPILOT, plugin, "dataplane-v2")
    cluster = built.one(CLUSTER).inputs
    assert cluster["enableAutopilot"] is True
    for absent in ("datapathProvider", "networkPolicy", "addonsConfig"):  # Autopilot decides; the provider
        assert absent not in cluster, absent  # rejects network_policy with enable_autopilot
    assert cluster == autopilot.one(CLUSTER).inputs
    _installs_nothing(built, AP_NAME, plugin, "dataplane-v2")
    datapath = _sync_await(built.fleet.clusters[AP_NAME].gke.datapath_provider._data).value
    assert datapath == "ADVANCED_DATAPATH"  # what GKE reports for every Autopilot cluster


@pytest.mark.parametrize(
    ("side", "installs", "autopilot", "message"),
    [
        (matrix.GkeSide("ADVANCED_DATAPATH"), True, False, "installs Helm charts, but GKE does not support"),
        (matrix.GkeSide("ADVANCED_DATAPATH", True), False, False, "combines the Calico network policy add-on"),
        (matrix.GkeSide("LEGACY_DATAPATH", True), False, True, "is not Dataplane V2, the only dataplane GKE Autopilot"),
        (matrix.AksSide("azure", "azure"), False, False, "has no GKE settings"),
    ],
)
def test_a_cell_gke_cannot_build_is_refused(
    side: matrix.ClusterSide, installs: bool, autopilot: bool, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the matrix ever gave GKE a cell it cannot build, the component says so instead of building
    something else (``GkeCluster`` asks before it registers anything)."""
    raw = fleet_config([AUTOPILOT if autopilot else STANDARD])
    spec = parse_fleet(raw, provider_config={"gcp:project": GCP_PROJECT}).cluster(AP_NAME if autopilot else NAME)
    charts = (matrix.CILIUM,) if installs else ()
    cell = matrix.Cell("gcp", CniPlugin.VENDOR, "dataplane-v2", True, "a cell GKE cannot build", side, charts)
    monkeypatch.setattr(matrix, "resolve", lambda *_, **__: cell)
    with pytest.raises(ValueError, match=message):
        gcp.gke_side(spec)


# --- kubeconfig, policy pack -----------------------------------------------------------------------


def test_the_kubeconfig_is_secret_and_authenticates_with_the_gke_auth_plugin() -> None:
    built = build([STANDARD])
    cluster = built.fleet.clusters[NAME]
    data = _sync_await(cluster.kubeconfig._data)
    assert data.is_secret
    doc = json.loads(data.value)
    context = f"gke_{GCP_PROJECT}_europe-west3_{NAME}"
    assert doc["current-context"] == context
    user = doc["users"][0]["user"]
    assert set(user) == {"exec"}  # no token, no client certificate
    assert user["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert "gcloud components install gke-gcloud-auth-plugin" in user["exec"]["installHint"]
    server = doc["clusters"][0]["cluster"]["server"]
    endpoint = _sync_await(cluster.endpoint._data)
    assert not endpoint.is_secret
    assert server == endpoint.value
    assert re.fullmatch(r"https://10\.\d+\.\d+\.\d+", server)  # private: the internal endpoint
    assert doc["clusters"][0]["cluster"]["certificate-authority-data"].startswith("LS0t")  # base64 PEM
    assert built.one(K8S_PROVIDER).inputs["kubeconfig"] == "[secret]"


@pytest.mark.parametrize("fixture", ["standard", "autopilot"])
def test_the_default_prod_cluster_has_no_policy_violations(fixture: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(fixture)
    assert built.violations() == []

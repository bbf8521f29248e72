"""EKS (components/clusters/aws.py): inventory, security-relevant inputs by name, providers, parents,
protection, node pools, kubeconfig, mock outputs and the policy pack's verdict."""

from __future__ import annotations

import base64
import inspect
import ipaddress
import json
import re
from collections import Counter
from typing import Any

import pulumi
import pytest
from pulumi.runtime import MockResourceArgs
from pulumi.runtime.sync_await import _sync_await
from pulumi.type_token import get_type_token

from edgefleet.components.clusters import aws as eks_module
from edgefleet.components.clusters.aws import (
    EksCluster,
    ami_type,
    cilium_cluster_name,
    cilium_operator_policy,
    eks_kubeconfig,
    nat_zones,
    pod_identity_trust_policy,
    subnet_cidrs,
    trust_policy,
    zones_of,
)
from edgefleet.components.config.model import NetworkPlan
from edgefleet.engine import Registration
from edgefleet.mock_outputs.aws import RESOURCES
from edgefleet.mock_outputs.common import stable_hex
from tests.clusters.support import Built, build, check_calico_releases, check_cilium_release

REGION = "eu-central-1"
ZONES = ("eu-central-1a", "eu-central-1b", "eu-central-1c")
ENTRY: dict[str, Any] = {"vendor": "aws", "region": REGION, "labels": {"tier": "core"}}
NAME = "aws-eu-central-1"
COMPONENT = "edgefleet:index:EksCluster"

VPC = "aws:ec2/vpc:Vpc"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
IGW = "aws:ec2/internetGateway:InternetGateway"
EIP = "aws:ec2/eip:Eip"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
RT_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
EKS = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
AWS_PROVIDER = "pulumi:providers:aws"
K8S_PROVIDER = "pulumi:providers:kubernetes"

MANAGED = "arn:aws:iam::aws:policy/"


@pytest.fixture(scope="module")
def prod() -> Built:
    return build([ENTRY])


@pytest.fixture(scope="module")
def dev() -> Built:
    return build([ENTRY], environment="dev")


def _aws(built: Built) -> list[Registration]:
    return [r for r in built.run.registrations if r.type.startswith("aws:")]


def _component(built: Built) -> Registration:
    return built.one(COMPONENT)


def _named(built: Built, type_: str, name: str) -> Registration:
    return next(r for r in built.of_type(type_) if r.name == name)


def _depends_on(built: Built, registration: Registration) -> set[str]:
    return {built.by_urn(urn).name for urn in registration.dependencies}


def _cluster(built: Built) -> EksCluster:
    cluster = built.fleet.clusters[NAME]
    assert isinstance(cluster, EksCluster)
    return cluster


def _value(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    data = _sync_await(output._data)
    return data.value, data.is_secret


# Pure decisions -------------------------------------------------------------------------------


def test_zones_are_the_first_three_or_both_where_a_region_has_two(prod: Built) -> None:
    spec = prod.spec.cluster(NAME)
    assert zones_of(spec) == ZONES
    six = spec.model_copy(update={"zones": tuple(f"us-east-1{z}" for z in "abcdef")})
    assert zones_of(six) == ("us-east-1a", "us-east-1b", "us-east-1c")
    two = spec.model_copy(update={"zones": ("us-west-1a", "us-west-1c")})
    assert zones_of(two) == ("us-west-1a", "us-west-1c")
    with pytest.raises(ValueError, match="two availability zones"):
        zones_of(spec.model_copy(update={"zones": ("eu-central-1a",)}))


def test_subnets_are_deterministic_disjoint_and_inside_the_vpc() -> None:
    plan = NetworkPlan(block=3, network="10.1.128.0/17", pods="100.64.96.0/19", services="172.16.24.0/21")
    cidrs = [subnet_cidrs(plan, i) for i in range(3)]
    assert cidrs == [
        ("10.1.128.0/19", "10.1.224.0/24"),
        ("10.1.160.0/19", "10.1.225.0/24"),
        ("10.1.192.0/19", "10.1.226.0/24"),
    ]
    nets = [ipaddress.IPv4Network(c) for pair in cidrs for c in pair]
    vpc = ipaddress.IPv4Network(plan.network)
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def test_one_nat_gateway_per_zone_in_prod_one_elsewhere() -> None:
    assert nat_zones("prod", ZONES) == ZONES
    assert nat_zones("dev", ZONES) == ZONES[:1]
    assert nat_zones("staging", ZONES) == ZONES[:1]


def test_trust_policies_are_deterministic_json() -> None:
    assert trust_policy("eks.amazonaws.com") == (
        '{"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", '
        '"Principal": {"Service": "eks.amazonaws.com"}}], "Version": "2012-10-17"}'
    )


@pytest.mark.parametrize(
    ("machine_type", "expected"),
    [
        ("m6i.large", "AL2023_X86_64_STANDARD"),
        ("m7i-flex.xlarge", "AL2023_X86_64_STANDARD"),
        ("g4dn.xlarge", "AL2023_X86_64_STANDARD"),
        ("m7g.large", "AL2023_ARM_64_STANDARD"),
        ("c7gn.xlarge", "AL2023_ARM_64_STANDARD"),
        ("t4g.medium", "AL2023_ARM_64_STANDARD"),
        ("im4gn.large", "AL2023_ARM_64_STANDARD"),
        ("a1.large", "AL2023_ARM_64_STANDARD"),
    ],
)
def test_graviton_machine_types_get_the_arm_ami(machine_type: str, expected: str) -> None:
    assert ami_type(machine_type) == expected


def test_kubeconfig_execs_aws_eks_get_token() -> None:
    doc = json.loads(eks_kubeconfig("c1", "c1-prod", "eu-west-1", "https://X.gr7.eu-west-1.eks.amazonaws.com", "Q0E="))
    assert doc["clusters"][0]["cluster"] == {
        "server": "https://X.gr7.eu-west-1.eks.amazonaws.com",
        "certificate-authority-data": "Q0E=",
    }
    user = doc["users"][0]["user"]
    assert set(user) == {"exec"}  # no token, no client certificate
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "c1-prod",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]


# Inventory, provider, parents, protect ---------------------------------------------------------


def test_default_prod_cluster_inventory(prod: Built) -> None:
    assert Counter(r.type for r in prod.run.registrations if r.type != "pulumi:pulumi:Stack") == {
        "edgefleet:index:Fleet": 1,
        COMPONENT: 1,
        AWS_PROVIDER: 1,
        VPC: 1,
        DEFAULT_SG: 1,
        SUBNET: 6,
        IGW: 1,
        EIP: 3,
        NAT: 3,
        ROUTE_TABLE: 4,
        RT_ASSOCIATION: 6,
        KMS_KEY: 1,
        KMS_ALIAS: 1,
        LOG_GROUP: 1,
        ROLE: 2,
        ATTACHMENT: 4,
        EKS: 1,
        ADDON: 4,
        LAUNCH_TEMPLATE: 1,
        NODE_GROUP: 1,
        K8S_PROVIDER: 1,
    }


def test_dev_shares_one_nat_gateway(dev: Built) -> None:
    assert len(dev.of_type(NAT)) == 1
    assert len(dev.of_type(EIP)) == 1
    nat = dev.one(NAT)
    assert nat.name == f"{NAME}-nat-eu-central-1a"
    private = [r for r in dev.of_type(ROUTE_TABLE) if r.name.startswith(f"{NAME}-private-rt-")]
    assert len(private) == 3
    assert {r.inputs["routes"][0]["natGatewayId"] for r in private} == {f"nat-{_id_hex(NAT, nat.name)}"}


def _id_hex(type_: str, name: str) -> str:
    """The 17 hex digits of the mock id of ``type_`` ``name`` (vpc-..., subnet-..., ...)."""
    return stable_hex(17, type_, name)


def test_one_explicit_aws_provider_in_the_cluster_region_used_by_every_aws_resource(prod: Built) -> None:
    provider = prod.one(AWS_PROVIDER)
    assert provider.name == f"{NAME}-aws"
    assert provider.inputs["region"] == REGION
    assert provider.parent == _component(prod).urn
    for r in _aws(prod):
        assert r.provider_urn == provider.urn, r.name
        if r.type not in (ROLE, ATTACHMENT):  # IAM is global: no region
            assert r.inputs["region"] == REGION, r.name


def test_every_aws_resource_is_a_named_child_of_the_component(prod: Built) -> None:
    component = _component(prod)
    for r in [*_aws(prod), prod.one(AWS_PROVIDER), prod.one(K8S_PROVIDER)]:
        assert r.parent == component.urn, r.name
        assert r.name.startswith(f"{NAME}-"), r.name


PROTECTED = {VPC, SUBNET, KMS_KEY, EKS}


def test_control_plane_network_and_key_are_protected_in_prod(prod: Built) -> None:
    for r in _aws(prod):
        assert r.protect is (r.type in PROTECTED), r.name
    assert prod.one(EKS).inputs["deletionProtection"] is True
    assert prod.one(LOG_GROUP).inputs["deletionProtectionEnabled"] is True


def test_nothing_is_protected_in_dev(dev: Built) -> None:
    assert not any(r.protect for r in _aws(dev))
    assert dev.one(EKS).inputs["deletionProtection"] is False
    assert dev.one(LOG_GROUP).inputs["deletionProtectionEnabled"] is False


def test_protect_follows_the_config_not_only_the_environment() -> None:
    built = build([{**ENTRY, "protect": True}], environment="dev")
    assert {r.type for r in _aws(built) if r.protect} == PROTECTED


# Network ---------------------------------------------------------------------------------------


def test_vpc_uses_the_clusters_address_block_with_dns(prod: Built) -> None:
    network = prod.spec.cluster(NAME).network
    assert network is not None
    vpc = prod.one(VPC).inputs
    assert vpc["cidrBlock"] == network.network
    assert vpc["enableDnsHostnames"] is True
    assert vpc["enableDnsSupport"] is True


def test_subnets_per_zone_never_map_public_ips_and_are_tagged_for_load_balancers(prod: Built) -> None:
    network = prod.spec.cluster(NAME).network
    assert network is not None
    for index, zone in enumerate(ZONES):
        private = _named(prod, SUBNET, f"{NAME}-private-{zone}").inputs
        public = _named(prod, SUBNET, f"{NAME}-public-{zone}").inputs
        assert (private["cidrBlock"], public["cidrBlock"]) == subnet_cidrs(network, index)
        assert private["availabilityZone"] == public["availabilityZone"] == zone
        assert private["mapPublicIpOnLaunch"] is False
        assert public["mapPublicIpOnLaunch"] is False
        assert private["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/elb" not in private["tags"]
        assert public["tags"]["kubernetes.io/role/elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in public["tags"]


def test_routes_public_subnets_to_the_internet_gateway_and_private_ones_to_their_zones_nat(prod: Built) -> None:
    igw = prod.one(IGW)
    public_rt = _named(prod, ROUTE_TABLE, f"{NAME}-public-rt")
    assert public_rt.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": f"igw-{_id_hex(IGW, igw.name)}"}]
    for zone in ZONES:
        nat = _named(prod, NAT, f"{NAME}-nat-{zone}")
        eip = _named(prod, EIP, f"{NAME}-nat-eip-{zone}")
        assert eip.inputs["domain"] == "vpc"
        assert nat.inputs["allocationId"] == f"eipalloc-{_id_hex(EIP, eip.name)}"
        assert nat.inputs["subnetId"] == f"subnet-{_id_hex(SUBNET, f'{NAME}-public-{zone}')}"
        assert nat.inputs["connectivityType"] == "public"
        private_rt = _named(prod, ROUTE_TABLE, f"{NAME}-private-rt-{zone}")
        assert private_rt.inputs["routes"] == [
            {"cidrBlock": "0.0.0.0/0", "natGatewayId": f"nat-{_id_hex(NAT, nat.name)}"}
        ]
        for kind, table in (("public", public_rt), ("private", private_rt)):
            association = _named(prod, RT_ASSOCIATION, f"{NAME}-{kind}-{zone}-rt").inputs
            assert association["routeTableId"] == f"rtb-{_id_hex(ROUTE_TABLE, table.name)}"
            assert association["subnetId"] == f"subnet-{_id_hex(SUBNET, f'{NAME}-{kind}-{zone}')}"


def test_the_vpcs_default_security_group_allows_nothing(prod: Built) -> None:
    sg = prod.one(DEFAULT_SG).inputs
    assert sg["vpcId"] == f"vpc-{_id_hex(VPC, f'{NAME}-vpc')}"
    assert sg.get("ingress", []) == []
    assert sg.get("egress", []) == []


def test_a_region_with_two_zones_gets_two_of_each() -> None:
    built = build([{"vendor": "aws", "region": "us-west-1"}])
    assert sorted(r.inputs["availabilityZone"] for r in built.of_type(SUBNET)) == [
        "us-west-1a",
        "us-west-1a",
        "us-west-1c",
        "us-west-1c",
    ]
    assert len(built.of_type(NAT)) == 2
    assert len(built.one(EKS).inputs["vpcConfig"]["subnetIds"]) == 2
    assert built.violations() == []


# Control plane ---------------------------------------------------------------------------------


def test_control_plane_is_private_encrypted_logged_and_uses_access_entries(prod: Built) -> None:
    spec = prod.spec.cluster(NAME)
    assert spec.network is not None
    eks = prod.one(EKS).inputs
    assert eks["name"] == f"{NAME}-prod"
    assert eks["version"] == spec.kubernetes_version == "1.35"
    assert eks["vpcConfig"] == {
        "subnetIds": [f"subnet-{_id_hex(SUBNET, f'{NAME}-private-{zone}')}" for zone in ZONES],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
    }
    assert eks["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert eks["encryptionConfig"]["resources"] == ["secrets"]
    key_id = RESOURCES[KMS_KEY](MockResourceArgs(KMS_KEY, f"{NAME}-secrets-key", {"region": REGION}))[0]
    assert eks["encryptionConfig"]["provider"] == {"keyArn": f"arn:aws:kms:{REGION}:123456789012:key/{key_id}"}
    assert eks["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert eks["kubernetesNetworkConfig"] == {"ipFamily": "ipv4", "serviceIpv4Cidr": spec.network.services}
    assert eks["bootstrapSelfManagedAddons"] is True
    assert eks["roleArn"].startswith(f"arn:aws:iam::123456789012:role/{NAME}-cluster-role-")


def test_secrets_key_rotates_and_has_an_alias(prod: Built) -> None:
    key = prod.one(KMS_KEY).inputs
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30
    alias = prod.one(KMS_ALIAS).inputs
    assert alias["name"] == f"alias/edgefleet/{NAME}-prod-secrets"
    assert alias["targetKeyId"] == RESOURCES[KMS_KEY](MockResourceArgs(KMS_KEY, f"{NAME}-secrets-key", {}))[0]


def test_control_plane_log_group_exists_before_the_cluster(prod: Built) -> None:
    logs = prod.one(LOG_GROUP)
    assert logs.inputs["name"] == f"/aws/eks/{NAME}-prod/cluster"
    assert logs.inputs["retentionInDays"] == 365
    assert logs.name in _depends_on(prod, prod.one(EKS))


def test_roles_trust_only_their_service_and_hold_only_aws_managed_policies(prod: Built) -> None:
    roles = {r.name: r for r in prod.of_type(ROLE)}
    assert set(roles) == {f"{NAME}-cluster-role", f"{NAME}-node-role"}
    assert json.loads(roles[f"{NAME}-cluster-role"].inputs["assumeRolePolicy"]) == json.loads(
        trust_policy("eks.amazonaws.com")
    )
    assert json.loads(roles[f"{NAME}-node-role"].inputs["assumeRolePolicy"]) == json.loads(
        trust_policy("ec2.amazonaws.com")
    )
    for role in roles.values():
        assert "inlinePolicies" not in role.inputs
        assert "managedPolicyArns" not in role.inputs
        assert "permissionsBoundary" not in role.inputs
    attached: dict[str, set[str]] = {}
    for attachment in prod.of_type(ATTACHMENT):
        role_name = attachment.inputs["role"]
        owner = next(n for n in roles if role_name.startswith(f"{n}-"))
        attached.setdefault(owner, set()).add(attachment.inputs["policyArn"])
    assert attached == {
        f"{NAME}-cluster-role": {MANAGED + "AmazonEKSClusterPolicy"},
        f"{NAME}-node-role": {
            MANAGED + "AmazonEKSWorkerNodePolicy",
            MANAGED + "AmazonEC2ContainerRegistryPullOnly",
            MANAGED + "AmazonEKS_CNI_Policy",
        },
    }
    assert {f"{NAME}-cluster-role-eks-cluster"} <= _depends_on(prod, prod.one(EKS))


def test_public_endpoint_is_limited_to_the_allowed_cidrs() -> None:
    built = build([{**ENTRY, "endpoint": {"public": True, "allowed_cidrs": ["203.0.113.0/24", "198.51.100.7/32"]}}])
    vpc = built.one(EKS).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert built.violations() == []


def test_public_endpoint_open_to_everywhere_is_a_violation() -> None:
    built = build([{**ENTRY, "endpoint": {"public": True, "allowed_cidrs": ["0.0.0.0/0"]}}])
    assert [(rule, urn) for rule, urn, _ in built.violations()] == [("eks-endpoint-not-public", built.one(EKS).urn)]


# Add-ons and nodes ------------------------------------------------------------------------------


def test_addons_vpc_cni_enforces_network_policy_and_coredns_waits_for_nodes(prod: Built) -> None:
    addons = {r.inputs["addonName"]: r for r in prod.of_type(ADDON)}
    assert set(addons) == {"vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns"}
    assert addons["vpc-cni"].inputs["configurationValues"] == '{"enableNetworkPolicy":"true"}'
    assert prod.spec.cluster(NAME).cni.network_policy is True
    for addon in addons.values():
        assert addon.inputs["clusterName"] == f"{NAME}-prod"
        assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
    node_group = prod.one(NODE_GROUP)
    before = {addons[a].name for a in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")}
    assert before <= _depends_on(prod, node_group)
    assert node_group.name in _depends_on(prod, addons["coredns"])


def test_launch_template_requires_imdsv2_with_hop_limit_one_and_no_public_ip(prod: Built) -> None:
    lt = prod.one(LAUNCH_TEMPLATE).inputs
    assert lt["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    cluster_sg = RESOURCES[EKS](MockResourceArgs(EKS, f"{NAME}-eks", {"region": REGION}))[1]["vpcConfig"][
        "clusterSecurityGroupId"
    ]
    assert lt["networkInterfaces"] == [
        {
            "deviceIndex": 0,
            "associatePublicIpAddress": "false",
            "deleteOnTermination": "true",
            "securityGroups": [cluster_sg],
        }
    ]
    assert lt["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"volumeSize": 50, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"},
        }
    ]
    assert lt["updateDefaultVersion"] is True
    assert "keyName" not in lt
    assert "iamInstanceProfile" not in lt  # EKS forbids it: the node group passes the node role
    tags = lt["tags"]
    assert lt["tagSpecifications"] == [
        {"resourceType": kind, "tags": tags} for kind in ("instance", "volume", "network-interface")
    ]


def test_node_pools_from_config() -> None:
    pools = [
        {"name": "general", "size": "medium", "min": 0, "max": 5},
        {"name": "arm", "machine_type": "m7g.large", "min": 1, "max": 3},
    ]
    built = build([{**ENTRY, "node_pools": pools}])
    groups = {r.name: r for r in built.of_type(NODE_GROUP)}
    templates = {r.name: r for r in built.of_type(LAUNCH_TEMPLATE)}
    assert set(groups) == {f"{NAME}-pool-general", f"{NAME}-pool-arm"}
    expected = {
        "general": ("m6i.xlarge", 0, 5, "AL2023_X86_64_STANDARD"),
        "arm": ("m7g.large", 1, 3, "AL2023_ARM_64_STANDARD"),
    }
    private = [f"subnet-{_id_hex(SUBNET, f'{NAME}-private-{zone}')}" for zone in ZONES]
    for pool, (machine, low, high, ami) in expected.items():
        group = groups[f"{NAME}-pool-{pool}"].inputs
        assert group["instanceTypes"] == [machine]
        assert group["scalingConfig"] == {"desiredSize": low, "minSize": low, "maxSize": high}
        assert group["amiType"] == ami
        assert group["capacityType"] == "ON_DEMAND"
        assert group["nodeGroupNamePrefix"] == f"{pool}-"
        assert group["subnetIds"] == private
        assert group["version"] == "1.35"
        assert group["updateConfig"] == {"maxUnavailable": 1}
        assert group["nodeRoleArn"].startswith(f"arn:aws:iam::123456789012:role/{NAME}-node-role-")
        assert "remoteAccess" not in group
        assert "diskSize" not in group  # set in the launch template, where EKS wants it
        template = f"{NAME}-pool-{pool}-lt"
        assert group["launchTemplate"] == {"id": f"lt-{_id_hex(LAUNCH_TEMPLATE, template)}", "version": "1"}
        assert templates[template].inputs["namePrefix"] == f"{NAME}-prod-{pool}-"
    assert built.violations() == []


# CNI cells (components/cni/matrix.py): cluster-side inputs, releases, order ---------------------

RELEASE = "kubernetes:helm.sh/v3:Release"
CNI_PROVIDER = f"{NAME}-k8s-cni"
AGENT_NOT_READY = [{"key": "node.cilium.io/agent-not-ready", "value": "true", "effect": "NO_EXECUTE"}]


def _with_cni(cni: dict[str, Any]) -> Built:
    return build([{**ENTRY, "cni": cni}])


def _addons(built: Built) -> dict[str, Registration]:
    return {r.inputs["addonName"]: r for r in built.of_type(ADDON)}


def _releases(built: Built) -> dict[str, Registration]:
    return {r.inputs["name"]: r for r in built.of_type(RELEASE)}


def _endpoint_host() -> str:
    """The host name of the mocked EKS endpoint (no scheme): Cilium's ``k8sServiceHost``."""
    endpoint = RESOURCES[EKS](MockResourceArgs(EKS, f"{NAME}-eks", {"region": REGION}))[1]["endpoint"]
    assert endpoint.startswith("https://")
    return str(endpoint).removeprefix("https://")


def _check_addons(built: Built, expected: set[str], vpc_cni_config: str | None = None) -> None:
    """Exactly ``expected`` (plus the Pod Identity agent); coredns after the nodes, the rest before."""
    addons = _addons(built)
    assert set(addons) == expected | {"eks-pod-identity-agent"}
    if "vpc-cni" in addons:
        assert addons["vpc-cni"].inputs["configurationValues"] == vpc_cni_config
    node_group = built.one(NODE_GROUP)
    for name, addon in addons.items():
        assert "configurationValues" not in addon.inputs or name == "vpc-cni", name
        if name == "coredns":
            assert node_group.name in _depends_on(built, addon)
        else:
            assert addon.name in _depends_on(built, node_group), name
            assert node_group.name not in _depends_on(built, addon), name


def _check_installed(built: Built, releases: list[Registration]) -> None:
    """Releases on the ``-k8s-cni`` provider (a child of the cluster), after the control plane and
    the add-ons that need no nodes, before every node group; no violations."""
    component = _component(built)
    provider = _named(built, K8S_PROVIDER, CNI_PROVIDER)
    assert provider.parent == component.urn
    assert provider.inputs["kubeconfig"] == "[secret]"
    eks = built.one(EKS)
    assert eks.urn in provider.dependencies
    early = {r.urn for r in built.of_type(ADDON) if r.inputs["addonName"] != "coredns"}
    assert early <= set(releases[0].dependencies)
    assert eks.urn in releases[0].dependencies
    for release in releases:
        assert release.provider_urn == provider.urn, release.name
        assert release.inputs["skipAwait"] is True  # nothing can be Ready before the nodes exist
        assert release.inputs["createNamespace"] is False
    for group in built.of_type(NODE_GROUP):
        assert {r.urn for r in releases} <= set(group.dependencies), group.name
    contract = _named(built, K8S_PROVIDER, f"{NAME}-k8s")
    assert {r.urn for r in releases} <= set(contract.dependencies)
    assert built.violations() == []


def test_cni_vendor_vpc_cni_is_the_default_and_installs_nothing(prod: Built) -> None:
    built = _with_cni({"plugin": "vendor"})
    assert built.spec.cluster(NAME).cni.mode == "vpc-cni"
    assert built.one(EKS).inputs["bootstrapSelfManagedAddons"] is True
    _check_addons(built, {"vpc-cni", "kube-proxy", "coredns"}, '{"enableNetworkPolicy":"true"}')
    assert "taints" not in built.one(NODE_GROUP).inputs
    assert built.of_type(RELEASE) == []
    assert [r.name for r in built.of_type(K8S_PROVIDER)] == [f"{NAME}-k8s"]
    # Naming the default changes nothing: the same resources with the same inputs.
    assert {r.urn: r.inputs for r in built.run.registrations} == {r.urn: r.inputs for r in prod.run.registrations}
    assert built.violations() == []


def test_cni_cilium_eni_replaces_the_vpc_cni_and_kube_proxy() -> None:
    built = _with_cni({"plugin": "cilium", "mode": "eni"})
    cni = built.spec.cluster(NAME).cni
    assert (cni.plugin.value, cni.mode, cni.network_policy) == ("cilium", "eni", True)
    # aws-node must never run: no self-managed add-ons, no vpc-cni, and Cilium replaces kube-proxy.
    assert built.one(EKS).inputs["bootstrapSelfManagedAddons"] is False
    _check_addons(built, {"coredns"})
    assert built.one(NODE_GROUP).inputs["taints"] == AGENT_NOT_READY
    release = check_cilium_release(
        built,
        {
            "cluster": {"name": NAME},
            "hubble": {"enabled": True, "metrics": {"enabled": ["drop"]}},  # hubble_drop_total for the doctor
            "eni": {"enabled": True},
            "ipam": {"mode": "eni"},
            "routingMode": "native",
            "kubeProxyReplacement": "true",
            "k8sServiceHost": _endpoint_host(),
            "k8sServicePort": 443,
        },
    )
    _check_installed(built, [release])


def test_cni_cilium_chaining_runs_on_the_vpc_cni_with_its_policy_agent_off() -> None:
    built = _with_cni({"plugin": "cilium", "mode": "chaining"})
    assert built.one(EKS).inputs["bootstrapSelfManagedAddons"] is True
    _check_addons(built, {"vpc-cni", "kube-proxy", "coredns"}, '{"enableNetworkPolicy":"false"}')
    assert built.one(NODE_GROUP).inputs["taints"] == AGENT_NOT_READY
    release = check_cilium_release(
        built,
        {
            "cluster": {"name": NAME},
            "hubble": {"enabled": True, "metrics": {"enabled": ["drop"]}},  # hubble_drop_total for the doctor
            "cni": {"chainingMode": "aws-cni", "exclusive": False},
            "enableIPv4Masquerade": False,
            "routingMode": "native",
            "endpointRoutes": {"enabled": True},
        },
    )
    _check_installed(built, [release])


def _check_calico(built: Built, installation: dict[str, Any]) -> None:
    crds, operator = check_calico_releases(built, installation)
    assert "taints" not in built.one(NODE_GROUP).inputs
    _check_installed(built, [crds, operator])


def test_cni_calico_policy_only_enforces_policy_on_the_vpc_cni() -> None:
    built = _with_cni({"plugin": "calico", "mode": "policy-only"})
    assert built.one(EKS).inputs["bootstrapSelfManagedAddons"] is True
    _check_addons(built, {"vpc-cni", "kube-proxy", "coredns"}, '{"enableNetworkPolicy":"false"}')
    _check_calico(
        built, {"kubernetesProvider": "EKS", "cni": {"type": "AmazonVPC"}, "calicoNetwork": {"bgp": "Disabled"}}
    )


def test_cni_calico_full_replaces_the_vpc_cni_with_a_vxlan_pool_on_the_pod_range() -> None:
    built = _with_cni({"plugin": "calico", "mode": "full"})
    network = built.spec.cluster(NAME).network
    assert network is not None
    assert built.one(EKS).inputs["bootstrapSelfManagedAddons"] is False
    _check_addons(built, {"kube-proxy", "coredns"})
    pool = {"cidr": network.pods, "encapsulation": "VXLAN", "natOutgoing": "Enabled"}
    _check_calico(
        built,
        {
            "kubernetesProvider": "EKS",
            "cni": {"type": "Calico"},
            "calicoNetwork": {"bgp": "Disabled", "ipPools": [pool]},
        },
    )


def test_api_host_strips_the_scheme() -> None:
    assert eks_module.api_host("https://ABC.gr7.eu-west-1.eks.amazonaws.com") == "ABC.gr7.eu-west-1.eks.amazonaws.com"
    assert eks_module.api_host("https://ABC.gr7.eu-west-1.eks.amazonaws.com/") == "ABC.gr7.eu-west-1.eks.amazonaws.com"


# Cilium ENI: the operator's own identity (Pod Identity), and the node role per cell ----------------

OPERATOR = f"{NAME}-cilium-operator"
VPC_ARN = "arn:aws:ec2:eu-central-1:123456789012:vpc/vpc-0123456789abcdef0"
NODE_TAGS = {"edgefleet-cluster": NAME, "environment": "prod"}
# Cilium's ENI IPAM "Required Privileges" (Documentation/network/concepts/ipam/eni.rst), unconditional part.
CILIUM_ENI_ACTIONS = {
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:CreateTags",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:GetManagedPrefixListEntries",
    "ec2:ModifyNetworkInterfaceAttribute",
}


@pytest.fixture(scope="module")
def cilium_eni() -> Built:
    return _with_cni({"plugin": "cilium", "mode": "eni"})


def _statements(document: str) -> dict[str, dict[str, Any]]:
    """A policy document's statements by ``Sid`` (every statement has one, each Sid once)."""
    statements = json.loads(document)["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert len(by_sid) == len(statements)
    return by_sid


def _mocked(type_: str, resource: str, **inputs: Any) -> dict[str, Any]:
    """The mock state of ``type_`` ``resource`` with ``inputs`` (what the plan wires into other inputs)."""
    return RESOURCES[type_](MockResourceArgs(type_, resource, {"region": REGION, **inputs}))[1]


def test_pod_identity_trust_policy_lets_only_one_service_account_of_one_cluster_assume_the_role() -> None:
    arn = "arn:aws:eks:eu-central-1:123456789012:cluster/c1-prod"
    document = pod_identity_trust_policy(arn, "kube-system", "cilium-operator")
    assert document == json.dumps(json.loads(document), sort_keys=True)  # deterministic
    assert json.loads(document) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:RequestTag/eks-cluster-arn": arn,
                        "aws:RequestTag/kubernetes-namespace": "kube-system",
                        "aws:RequestTag/kubernetes-service-account": "cilium-operator",
                    }
                },
            }
        ],
    }


def test_cilium_operator_policy_grants_exactly_the_actions_cilium_requires_in_eni_mode() -> None:
    document = cilium_operator_policy(VPC_ARN, "c1", NODE_TAGS)
    assert document == json.dumps(json.loads(document), sort_keys=True)  # deterministic
    assert document == cilium_operator_policy(VPC_ARN, "c1", dict(reversed(NODE_TAGS.items())))
    statements = _statements(document)
    assert list(statements) == sorted(statements)
    granted = [a for s in statements.values() for a in s["Action"]]
    assert all(s["Action"] == sorted(s["Action"]) for s in statements.values())
    assert set(granted) == CILIUM_ENI_ACTIONS
    # Only for options edgefleet leaves off (no cluster.name, release excess IPs, IPv6, instance filter).
    assert not {
        "ec2:DescribeTags",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:AssignIpv6Addresses",
        "ec2:DescribeInstances",
    } & set(granted)
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert not any(a.endswith("*") for a in granted)


def test_cilium_operator_policy_is_scoped_to_the_clusters_region_vpc_enis_and_nodes() -> None:
    statements = _statements(cilium_operator_policy(VPC_ARN, "c1", NODE_TAGS))
    eni = ["arn:aws:ec2:eu-central-1:123456789012:network-interface/*"]
    in_vpc = {"ArnEquals": {"ec2:Vpc": VPC_ARN}}
    cilium_tags = {"aws:RequestTag/io.cilium/cilium-managed": "true", "aws:RequestTag/io.cilium/cluster-name": "c1"}
    assert statements == {
        # EC2's Describe actions take no resource ARN: the region is the only scope.
        "Describe": {
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeManagedPrefixLists",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-central-1"}},
        },
        # AWS-owned and shared prefix lists have other owners.
        "ReadPrefixListEntries": {
            "Sid": "ReadPrefixListEntries",
            "Effect": "Allow",
            "Action": ["ec2:GetManagedPrefixListEntries"],
            "Resource": ["arn:aws:ec2:eu-central-1:*:prefix-list/*"],
        },
        "CreateCiliumEnis": {
            "Sid": "CreateCiliumEnis",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": eni,
            "Condition": {
                "StringEquals": cilium_tags,
                "ForAllValues:StringEquals": {"aws:TagKeys": ["io.cilium/cilium-managed", "io.cilium/cluster-name"]},
            },
        },
        "CreateEnisInClusterVpc": {
            "Sid": "CreateEnisInClusterVpc",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [
                "arn:aws:ec2:eu-central-1:123456789012:security-group/*",
                "arn:aws:ec2:eu-central-1:123456789012:subnet/*",
            ],
            "Condition": in_vpc,
        },
        "TagEnisOnCreate": {
            "Sid": "TagEnisOnCreate",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": eni,
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"}},
        },
        "ManageCiliumEnis": {
            "Sid": "ManageCiliumEnis",
            "Effect": "Allow",
            "Action": [
                "ec2:AttachNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:ModifyNetworkInterfaceAttribute",
            ],
            "Resource": eni,
            "Condition": {**in_vpc, "StringEquals": {"aws:ResourceTag/io.cilium/cluster-name": "c1"}},
        },
        # eth0 takes pod IPs too (first interface index 0) and is not Cilium's: the VPC is the scope.
        "AssignIpsInClusterVpc": {
            "Sid": "AssignIpsInClusterVpc",
            "Effect": "Allow",
            "Action": ["ec2:AssignPrivateIpAddresses"],
            "Resource": eni,
            "Condition": in_vpc,
        },
        "AttachToClusterNodes": {
            "Sid": "AttachToClusterNodes",
            "Effect": "Allow",
            "Action": ["ec2:AttachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute"],
            "Resource": ["arn:aws:ec2:eu-central-1:123456789012:instance/*"],
            "Condition": {
                "StringEquals": {"aws:ResourceTag/edgefleet-cluster": NAME, "aws:ResourceTag/environment": "prod"}
            },
        },
    }


def test_cilium_operator_policy_follows_the_vpcs_partition_region_and_account() -> None:
    vpc = "arn:aws-us-gov:ec2:us-gov-west-1:210987654321:vpc/vpc-0fedcba9876543210"
    statements = _statements(cilium_operator_policy(vpc, "c1", NODE_TAGS))
    resources = [r for s in statements.values() if s["Resource"] != "*" for r in s["Resource"]]
    assert resources
    assert all(r.startswith("arn:aws-us-gov:ec2:us-gov-west-1:") for r in resources)
    assert {r.split(":")[4] for r in resources} == {"210987654321", "*"}  # "*": prefix lists only
    assert statements["Describe"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-gov-west-1"}}


def test_cilium_cluster_name_is_the_one_the_release_sets(cilium_eni: Built) -> None:
    spec = cilium_eni.spec.cluster(NAME)
    assert cilium_cluster_name(spec) == cilium_eni.one(RELEASE).inputs["values"]["cluster"]["name"] == NAME
    long = spec.model_copy(update={"name": "a-very-long-edge-cluster-name-in-frankfurt-01"})
    assert cilium_cluster_name(long) == "a-very-long-edge-cluster-name-in"  # Cilium's limit, 32


def test_cilium_eni_inventory_adds_the_operators_role_policy_and_association(cilium_eni: Built) -> None:
    counts = Counter(r.type for r in cilium_eni.run.registrations)
    assert (counts[ROLE], counts[ROLE_POLICY], counts[POD_IDENTITY], counts[ATTACHMENT]) == (3, 1, 1, 3)


def test_cilium_operator_role_is_trusted_by_pod_identity_for_its_service_account_only(cilium_eni: Built) -> None:
    role = _named(cilium_eni, ROLE, OPERATOR)
    cluster_arn = _mocked(EKS, f"{NAME}-eks", name=f"{NAME}-prod")["arn"]
    assert cluster_arn == f"arn:aws:eks:{REGION}:123456789012:cluster/{NAME}-prod"
    assert role.inputs["assumeRolePolicy"] == pod_identity_trust_policy(cluster_arn, "kube-system", "cilium-operator")
    assert role.inputs["description"] == f"Cilium operator (ENI IPAM) of EKS cluster {NAME}-prod (edgefleet)"
    for absent in ("inlinePolicies", "managedPolicyArns", "permissionsBoundary", "name"):
        assert absent not in role.inputs, absent
    assert cilium_eni.one(EKS).urn in role.dependencies  # the trust policy names the cluster's ARN
    # Nothing but the inline policy: no managed policy is attached to it.
    role_name = _mocked(ROLE, OPERATOR)["name"]
    assert not [a for a in cilium_eni.of_type(ATTACHMENT) if a.inputs["role"] == role_name]


def test_cilium_operator_policy_is_inline_on_its_role_for_this_clusters_vpc(cilium_eni: Built) -> None:
    policy = cilium_eni.one(ROLE_POLICY)
    assert policy.name == f"{OPERATOR}-eni"
    assert policy.inputs["role"] == _mocked(ROLE, OPERATOR)["name"]
    assert policy.inputs["name"] == "cilium-operator-eni"
    vpc_arn = _mocked(VPC, f"{NAME}-vpc")["arn"]
    assert re.fullmatch(rf"arn:aws:ec2:{REGION}:123456789012:vpc/vpc-[0-9a-f]{{17}}", vpc_arn)
    assert policy.inputs["policy"] == cilium_operator_policy(vpc_arn, NAME, NODE_TAGS)
    # The node tags it requires are the ones the launch template puts on every instance.
    lt_tags = cilium_eni.one(LAUNCH_TEMPLATE).inputs["tagSpecifications"]
    instance_tags = next(t["tags"] for t in lt_tags if t["resourceType"] == "instance")
    assert NODE_TAGS.items() <= instance_tags.items()


def test_cilium_operator_pod_identity_association(cilium_eni: Built) -> None:
    association = cilium_eni.one(POD_IDENTITY)
    assert association.name == OPERATOR
    assert association.inputs == {
        "clusterName": f"{NAME}-prod",
        "namespace": "kube-system",
        "serviceAccount": "cilium-operator",
        "roleArn": _mocked(ROLE, OPERATOR)["arn"],
        "disableSessionTags": False,  # the trust policy's conditions read the session tags
        "region": REGION,
        "tags": {"cost-center": "cc-42", "edgefleet-cluster": NAME, "environment": "prod", "owner": "platform-team"},
    }
    # After the Pod Identity agent add-on (and so after the control plane).
    assert {f"{NAME}-addon-eks-pod-identity-agent", f"{NAME}-eks", OPERATOR} <= _depends_on(cilium_eni, association)


def test_cilium_release_waits_for_the_operators_association_and_policy(cilium_eni: Built) -> None:
    release = cilium_eni.one(RELEASE)
    association, policy = cilium_eni.one(POD_IDENTITY), cilium_eni.one(ROLE_POLICY)
    # The credentials are injected when the operator's pod is created: the association comes first.
    assert {association.urn, policy.urn} <= set(release.dependencies)
    provider = _named(cilium_eni, K8S_PROVIDER, CNI_PROVIDER)
    assert {association.urn, policy.urn} <= set(provider.dependencies)
    for group in cilium_eni.of_type(NODE_GROUP):
        assert release.urn in group.dependencies


def test_cilium_operator_resources_use_the_clusters_provider_and_parent(cilium_eni: Built) -> None:
    provider, component = cilium_eni.one(AWS_PROVIDER), _component(cilium_eni)
    made = [_named(cilium_eni, ROLE, OPERATOR), cilium_eni.one(ROLE_POLICY), cilium_eni.one(POD_IDENTITY)]
    for r in made:
        assert (r.provider_urn, r.parent, r.protect) == (provider.urn, component.urn, False), r.name
    cluster = _cluster(cilium_eni)
    assert [_value(r.urn)[0] for r in cluster.cilium_operator] == [
        cilium_eni.one(POD_IDENTITY).urn,
        cilium_eni.one(ROLE_POLICY).urn,
    ]


@pytest.mark.parametrize(
    "cni",
    [
        {"plugin": "vendor"},
        {"plugin": "cilium", "mode": "chaining"},
        {"plugin": "calico", "mode": "policy-only"},
        {"plugin": "calico", "mode": "full"},
    ],
)
def test_other_cells_have_no_operator_identity(cni: dict[str, Any]) -> None:
    built = _with_cni(cni)
    assert built.of_type(POD_IDENTITY) == []
    assert built.of_type(ROLE_POLICY) == []
    assert {r.name for r in built.of_type(ROLE)} == {f"{NAME}-cluster-role", f"{NAME}-node-role"}
    assert _cluster(built).cilium_operator == []
    assert built.violations() == []


WITH_VPC_CNI = {"worker", "ecr-pull", "cni"}


@pytest.mark.parametrize(
    ("cni", "expected"),
    [
        ({"plugin": "vendor"}, WITH_VPC_CNI),
        ({"plugin": "cilium", "mode": "chaining"}, WITH_VPC_CNI),
        ({"plugin": "calico", "mode": "policy-only"}, WITH_VPC_CNI),
        # No aws-node runs: nothing on the node needs AmazonEKS_CNI_Policy.
        ({"plugin": "cilium", "mode": "eni"}, {"worker", "ecr-pull"}),
        ({"plugin": "calico", "mode": "full"}, {"worker", "ecr-pull"}),
    ],
)
def test_node_role_holds_the_vpc_cni_policy_only_where_the_vpc_cni_runs(
    cni: dict[str, Any], expected: set[str]
) -> None:
    built = _with_cni(cni)
    arns = {
        "worker": MANAGED + "AmazonEKSWorkerNodePolicy",
        "ecr-pull": MANAGED + "AmazonEC2ContainerRegistryPullOnly",
        "cni": MANAGED + "AmazonEKS_CNI_Policy",
    }
    node_role = _mocked(ROLE, f"{NAME}-node-role")["name"]
    attached = {a.name: a.inputs["policyArn"] for a in built.of_type(ATTACHMENT) if a.inputs["role"] == node_role}
    assert attached == {f"{NAME}-node-role-{short}": arns[short] for short in expected}
    assert ("vpc-cni" in _addons(built)) is ("cni" in expected)
    for group in built.of_type(NODE_GROUP):  # node groups still wait for every attachment they have
        assert {f"{NAME}-node-role-{short}" for short in expected} <= _depends_on(built, group)


def test_cilium_eni_taggable_resources_carry_the_fleet_tags_and_pass_the_policy_pack(cilium_eni: Built) -> None:
    taggable = _taggable()
    expected = {"owner": "platform-team", "environment": "prod", "edgefleet-cluster": NAME, "cost-center": "cc-42"}
    assert taggable[POD_IDENTITY] is True
    assert taggable[ROLE_POLICY] is False
    checked = set()
    for r in _aws(cilium_eni):
        assert r.type in taggable, r.type
        if taggable[r.type]:
            assert expected.items() <= r.inputs["tags"].items(), r.name
            checked.add(r.type)
    assert {ROLE, POD_IDENTITY} <= checked
    assert checked == {r.type for r in _aws(cilium_eni)} - {RT_ASSOCIATION, ATTACHMENT, KMS_ALIAS, ROLE_POLICY}
    assert cilium_eni.violations() == []


# Tags ------------------------------------------------------------------------------------------


def _taggable() -> dict[str, bool]:
    """type token -> whether its Args accept ``tags``, for every resource class the module uses."""
    out: dict[str, bool] = {}
    for module in (eks_module.ec2, eks_module.eks, eks_module.iam, eks_module.kms, eks_module.cloudwatch):
        for attr in dir(module):
            cls = getattr(module, attr)
            token = get_type_token(cls) if inspect.isclass(cls) else None
            args = getattr(module, f"{attr}Args", None)
            if token and args is not None and issubclass(cls, pulumi.CustomResource):
                out[token] = "tags" in inspect.signature(args.__init__).parameters
    return out


def test_every_taggable_aws_resource_carries_the_fleet_tags(prod: Built) -> None:
    taggable = _taggable()
    expected = {"owner": "platform-team", "environment": "prod", "edgefleet-cluster": NAME, "cost-center": "cc-42"}
    checked = set()
    for r in _aws(prod):
        assert r.type in taggable, r.type
        if taggable[r.type]:
            assert expected.items() <= r.inputs["tags"].items(), r.name
            checked.add(r.type)
    assert checked == {r.type for r in _aws(prod)} - {RT_ASSOCIATION, ATTACHMENT, KMS_ALIAS}


# Kubeconfig, endpoint, Kubernetes provider ------------------------------------------------------


def test_kubeconfig_is_secret_and_execs_aws_eks_get_token(prod: Built) -> None:
    cluster = _cluster(prod)
    text, secret = _value(cluster.kubeconfig)
    assert secret
    endpoint, endpoint_secret = _value(cluster.endpoint)
    assert not endpoint_secret
    assert re.fullmatch(rf"https://[0-9A-F]{{32}}\.gr7\.{REGION}\.eks\.amazonaws\.com", endpoint)
    doc = json.loads(text)
    mocked = RESOURCES[EKS](MockResourceArgs(EKS, f"{NAME}-eks", {"region": REGION}))[1]
    assert doc["clusters"][0]["cluster"] == {
        "server": endpoint,
        "certificate-authority-data": mocked["certificateAuthority"]["data"],
    }
    assert doc["users"][0]["user"]["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        f"{NAME}-prod",
        "--region",
        REGION,
        "--output",
        "json",
    ]
    assert set(doc["users"][0]["user"]) == {"exec"}  # no stored token or client certificate


def test_kubernetes_provider_is_built_from_the_secret_kubeconfig_after_nodes_and_addons(prod: Built) -> None:
    provider = prod.one(K8S_PROVIDER)
    assert provider.name == f"{NAME}-k8s"
    assert provider.inputs["kubeconfig"] == "[secret]"
    waits_for = _depends_on(prod, provider)
    assert {r.name for r in prod.of_type(NODE_GROUP)} <= waits_for
    assert {r.name for r in prod.of_type(ADDON)} <= waits_for
    assert "kubeconfig" in _component(prod).additional_secret_outputs


# Policy pack, stability, mocks -----------------------------------------------------------------


def test_default_prod_cluster_has_no_policy_violations(prod: Built) -> None:
    assert prod.violations() == []


def test_adding_a_cluster_changes_nothing_of_this_one(prod: Built) -> None:
    bigger = build([ENTRY, {"vendor": "aws", "region": "us-west-2"}])
    mine = {r.urn: r.inputs for r in prod.run.registrations if f"::{NAME}-" in r.urn or r.urn.endswith(f"::{NAME}")}
    again = {r.urn: r.inputs for r in bigger.run.registrations if r.urn in mine}
    assert len(mine) > 40
    assert again == mine


@pytest.mark.parametrize(
    ("type_", "pattern"),
    [
        (VPC, r"vpc-[0-9a-f]{17}"),
        (SUBNET, r"subnet-[0-9a-f]{17}"),
        (IGW, r"igw-[0-9a-f]{17}"),
        (EIP, r"eipalloc-[0-9a-f]{17}"),
        (NAT, r"nat-[0-9a-f]{17}"),
        (ROUTE_TABLE, r"rtb-[0-9a-f]{17}"),
        (LAUNCH_TEMPLATE, r"lt-[0-9a-f]{17}"),
        (DEFAULT_SG, r"sg-[0-9a-f]{17}"),
        (KMS_KEY, r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ],
)
def test_mock_ids_have_aws_shapes(type_: str, pattern: str) -> None:
    id_, state = RESOURCES[type_](MockResourceArgs(type_, "x", {"region": "ap-south-1", "tags": {"owner": "o"}}))
    assert re.fullmatch(pattern, id_)
    assert state["tagsAll"] == {"owner": "o"}
    if "arn" in state:
        assert re.fullmatch(r"arn:aws:(ec2|kms):ap-south-1:123456789012:[a-z-]+/" + re.escape(id_), state["arn"])


def test_mock_pod_identity_association_and_role_policy_have_aws_shapes() -> None:
    args = MockResourceArgs(
        POD_IDENTITY,
        "c-cilium-operator",
        {"clusterName": "c-prod", "region": "sa-east-1", "roleArn": "arn:aws:iam::123456789012:role/r", "tags": {}},
    )
    id_, state = RESOURCES[POD_IDENTITY](args)
    assert re.fullmatch(r"a-[0-9a-z]{17}", id_)
    assert state["associationId"] == id_
    assert state["associationArn"] == f"arn:aws:eks:sa-east-1:123456789012:podidentityassociation/c-prod/{id_}"
    assert state["disableSessionTags"] is False
    assert state["tagsAll"] == {}
    assert RESOURCES[POD_IDENTITY](args) == (id_, state)  # deterministic
    policy_id, policy = RESOURCES[ROLE_POLICY](MockResourceArgs(ROLE_POLICY, "p", {"role": "r-1", "name": "n"}))
    assert (policy_id, policy["name"]) == ("r-1:n", "n")


def test_mock_eks_cluster_reports_endpoint_ca_and_security_group() -> None:
    args = MockResourceArgs(EKS, "c-eks", {"name": "c-prod", "region": "sa-east-1", "vpcConfig": {"subnetIds": []}})
    id_, state = RESOURCES[EKS](args)
    assert id_ == state["name"] == "c-prod"
    assert state["arn"] == "arn:aws:eks:sa-east-1:123456789012:cluster/c-prod"
    assert re.fullmatch(r"https://[0-9A-F]{32}\.gr7\.sa-east-1\.eks\.amazonaws\.com", state["endpoint"])
    assert "BEGIN CERTIFICATE" in base64.b64decode(state["certificateAuthority"]["data"]).decode()
    assert re.fullmatch(r"sg-[0-9a-f]{17}", state["vpcConfig"]["clusterSecurityGroupId"])
    assert RESOURCES[EKS](args) == (id_, state)  # deterministic

"""EKS rules: a passing cluster, launch template and node group in pulumi-aws wire form, then one
change per failing case."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy
from pulumi_policy.proxy import UnknownValueError

from edgefleet.policies.rules import aws as a
from tests.policies.harness import UNKNOWN, changed, resource_args, violations

TAGS = {"owner": "platform-team", "environment": "prod", "edgefleet-cluster": "prod-eks"}
OLDEST = "{}.{}".format(*a.EKS_MIN_VERSION)
TOO_OLD = f"{a.EKS_MIN_VERSION[0]}.{a.EKS_MIN_VERSION[1] - 1}"

HAPPY: dict[str, dict[str, Any]] = {
    a.EKS_CLUSTER: {
        "name": "prod-eks",
        "roleArn": "arn:aws:iam::123456789012:role/prod-eks-cluster",
        "version": OLDEST,
        "vpcConfig": {
            "subnetIds": ["subnet-0a1", "subnet-0b2"],
            "endpointPrivateAccess": True,
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
        },
        "encryptionConfig": {
            "resources": ["secrets"],
            "provider": {"keyArn": "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
        },
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        "accessConfig": {"authenticationMode": "API"},
        "tags": TAGS,
    },
    a.LAUNCH_TEMPLATE: {
        "namePrefix": "prod-eks-nodes-",
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
        "networkInterfaces": [{"deviceIndex": 0, "associatePublicIpAddress": "false", "securityGroups": ["sg-0n1"]}],
        "tags": TAGS,
    },
    a.EKS_NODE_GROUP: {
        "clusterName": "prod-eks",
        "nodeRoleArn": "arn:aws:iam::123456789012:role/prod-eks-nodes",
        "subnetIds": ["subnet-0a1", "subnet-0b2"],
        "scalingConfig": {"desiredSize": 2, "minSize": 2, "maxSize": 4},
        "instanceTypes": ["m7i.xlarge"],
        "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "1"},
        "tags": TAGS,
    },
}
NAMES = {a.EKS_CLUSTER: "prod-eks", a.LAUNCH_TEMPLATE: "prod-eks-nodes", a.EKS_NODE_GROUP: "prod-eks-default"}


def check(policy: Policy, resource_type: str, props: dict[str, Any]) -> list[str]:
    return violations(policy, resource_args(resource_type, props, name=NAMES[resource_type]))


@pytest.mark.parametrize("resource_type", list(HAPPY))
@pytest.mark.parametrize("policy", a.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_the_hardened_resources_pass_every_rule(policy: Policy, resource_type: str) -> None:
    assert check(policy, resource_type, HAPPY[resource_type]) == []


EKS, LT, NG = a.EKS_CLUSTER, a.LAUNCH_TEMPLATE, a.EKS_NODE_GROUP
FAILING: list[tuple[Policy, str, str, Any, list[str]]] = [
    (
        a.EKS_ENDPOINT_NOT_PUBLIC,
        EKS,
        "vpcConfig.publicAccessCidrs",
        ["203.0.113.0/24", "0.0.0.0/0"],
        ["EKS cluster 'prod-eks' has a public API endpoint open to 0.0.0.0/0 (vpcConfig.publicAccessCidrs)"],
    ),
    (
        a.EKS_ENDPOINT_NOT_PUBLIC,
        EKS,
        "vpcConfig.publicAccessCidrs",
        None,
        [
            "EKS cluster 'prod-eks' has a public API endpoint open to 0.0.0.0/0 (vpcConfig.endpointPublicAccess "
            "is not false and vpcConfig.publicAccessCidrs is unset)"
        ],
    ),
    (
        a.EKS_PRIVATE_ENDPOINT,
        EKS,
        "vpcConfig.endpointPrivateAccess",
        False,
        [
            "EKS cluster 'prod-eks' has no private API endpoint, so its nodes reach the API over the internet "
            "(vpcConfig.endpointPrivateAccess is not true)"
        ],
    ),
    (
        a.EKS_SECRETS_ENCRYPTED,
        EKS,
        "encryptionConfig",
        None,
        [
            "EKS cluster 'prod-eks' does not encrypt Kubernetes secrets with a KMS key "
            '(encryptionConfig.resources has no "secrets")'
        ],
    ),
    (
        a.EKS_SECRETS_ENCRYPTED,
        EKS,
        "encryptionConfig.provider.keyArn",
        "",
        [
            "EKS cluster 'prod-eks' does not encrypt Kubernetes secrets with a KMS key "
            "(encryptionConfig.provider.keyArn is unset)"
        ],
    ),
    (
        a.EKS_CONTROL_PLANE_LOGGING,
        EKS,
        "enabledClusterLogTypes",
        ["api", "scheduler"],
        ["EKS cluster 'prod-eks' does not log audit, authenticator (enabledClusterLogTypes)"],
    ),
    (
        a.EKS_SUPPORTED_VERSION,
        EKS,
        "version",
        TOO_OLD,
        [
            f"EKS cluster 'prod-eks' runs Kubernetes {TOO_OLD}, older than {OLDEST}, "
            "the oldest version EKS supports (version)"
        ],
    ),
    (
        a.EKS_SUPPORTED_VERSION,
        EKS,
        "version",
        "latest",
        [f"EKS cluster 'prod-eks' has version 'latest', not a Kubernetes version such as {OLDEST} (version)"],
    ),
    (
        a.EKS_NODE_IMDSV2,
        LT,
        "metadataOptions.httpTokens",
        "optional",
        [
            "launch template 'prod-eks-nodes' does not require IMDSv2 "
            "(metadataOptions.httpTokens is optional, not required)"
        ],
    ),
    (
        a.EKS_NODE_IMDSV2,
        LT,
        "metadataOptions",
        None,
        [
            "launch template 'prod-eks-nodes' does not require IMDSv2 "
            "(metadataOptions.httpTokens is unset, not required)"
        ],
    ),
    (
        a.EKS_NODE_IMDS_HOP_LIMIT,
        LT,
        "metadataOptions.httpPutResponseHopLimit",
        2,
        [
            "launch template 'prod-eks-nodes' lets pods reach the instance metadata service "
            "(metadataOptions.httpPutResponseHopLimit is 2, not 1)"
        ],
    ),
    (
        a.EKS_NODE_IMDS_HOP_LIMIT,
        LT,
        "metadataOptions.httpPutResponseHopLimit",
        None,
        [
            "launch template 'prod-eks-nodes' lets pods reach the instance metadata service "
            "(metadataOptions.httpPutResponseHopLimit is unset, not 1)"
        ],
    ),
    (
        a.EKS_NODE_NO_PUBLIC_IP,
        LT,
        "networkInterfaces.0.associatePublicIpAddress",
        "true",
        ["launch template 'prod-eks-nodes' gives nodes a public IP (networkInterfaces[0].associatePublicIpAddress)"],
    ),
    (
        a.EKS_NODE_NO_PUBLIC_IP,
        LT,
        "networkInterfaces.0.associatePublicIpAddress",
        True,
        ["launch template 'prod-eks-nodes' gives nodes a public IP (networkInterfaces[0].associatePublicIpAddress)"],
    ),
    (
        a.EKS_NODE_GROUP_NO_REMOTE_ACCESS,
        NG,
        "remoteAccess",
        {"ec2SshKey": "ops"},
        [
            "EKS node group 'prod-eks-default' opens SSH (port 22) to 0.0.0.0/0 "
            "(remoteAccess without remoteAccess.sourceSecurityGroupIds)"
        ],
    ),
    (
        a.EKS_NODE_GROUP_NO_REMOTE_ACCESS,
        NG,
        "remoteAccess",
        {"ec2SshKey": "ops", "sourceSecurityGroupIds": ["sg-0bastion"]},
        ["EKS node group 'prod-eks-default' allows SSH to its nodes (remoteAccess)"],
    ),
    (
        a.EKS_NODE_GROUP_LAUNCH_TEMPLATE,
        NG,
        "launchTemplate",
        None,
        [
            "EKS node group 'prod-eks-default' has no launch template, so nothing sets IMDSv2 or the metadata "
            "hop limit on its nodes (launchTemplate)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("policy", "resource_type", "path", "value", "expected"),
    FAILING,
    ids=[f"{case[0].name}:{case[2]}={case[3]!r}" for case in FAILING],
)
def test_one_change_fails_with_the_exact_message(
    policy: Policy, resource_type: str, path: str, value: Any, expected: list[str]
) -> None:
    assert check(policy, resource_type, changed(HAPPY[resource_type], path, value)) == expected


def test_every_rule_has_a_failing_case() -> None:
    assert {p.name for p in a.RESOURCE_POLICIES} == {case[0].name for case in FAILING}


def test_a_private_endpoint_only_passes_whatever_the_cidrs() -> None:
    props = changed(changed(HAPPY[EKS], "vpcConfig.endpointPublicAccess", False), "vpcConfig.publicAccessCidrs", None)
    assert check(a.EKS_ENDPOINT_NOT_PUBLIC, EKS, props) == []


def test_the_public_endpoint_is_on_by_default() -> None:
    props = changed(changed(HAPPY[EKS], "vpcConfig.endpointPublicAccess", None), "vpcConfig.publicAccessCidrs", None)
    assert len(check(a.EKS_ENDPOINT_NOT_PUBLIC, EKS, props)) == 1


def test_no_version_means_the_newest_eks_offers() -> None:
    assert check(a.EKS_SUPPORTED_VERSION, EKS, changed(HAPPY[EKS], "version", None)) == []


def test_a_disabled_metadata_service_needs_no_tokens_or_hop_limit() -> None:
    props = changed(HAPPY[LT], "metadataOptions", {"httpEndpoint": "disabled"})
    assert check(a.EKS_NODE_IMDSV2, LT, props) == []
    assert check(a.EKS_NODE_IMDS_HOP_LIMIT, LT, props) == []


def test_an_unknown_version_cannot_run_during_preview() -> None:
    with pytest.raises(UnknownValueError):
        check(a.EKS_SUPPORTED_VERSION, EKS, changed(HAPPY[EKS], "version", UNKNOWN))


def test_an_unknown_cidr_cannot_run_during_preview() -> None:
    with pytest.raises(UnknownValueError):
        check(a.EKS_ENDPOINT_NOT_PUBLIC, EKS, changed(HAPPY[EKS], "vpcConfig.publicAccessCidrs", [UNKNOWN]))


def test_outputs_of_other_resources_count_as_set_at_preview() -> None:
    """A KMS key or launch template created in the same stack is unknown at the first preview."""
    assert check(a.EKS_SECRETS_ENCRYPTED, EKS, changed(HAPPY[EKS], "encryptionConfig.provider.keyArn", UNKNOWN)) == []
    assert check(a.EKS_NODE_GROUP_LAUNCH_TEMPLATE, NG, changed(HAPPY[NG], "launchTemplate.id", UNKNOWN)) == []
    props = changed(HAPPY[NG], "remoteAccess", {"ec2SshKey": "ops", "sourceSecurityGroupIds": [UNKNOWN]})
    assert check(a.EKS_NODE_GROUP_NO_REMOTE_ACCESS, NG, props) == [
        "EKS node group 'prod-eks-default' allows SSH to its nodes (remoteAccess)"
    ]


@pytest.mark.parametrize("policy", a.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_other_types_are_skipped(policy: Policy) -> None:
    deployment = {"metadata": {"name": "api", "namespace": "api"}, "spec": {"replicas": 2}}
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", deployment)) == []
    insecure_cluster = changed(HAPPY[EKS], "vpcConfig", {"endpointPublicAccess": True})
    assert violations(policy, resource_args("kubernetes:apps/v1:Deployment", insecure_cluster)) == []

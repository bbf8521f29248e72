"""EKS control plane and node security, on pulumi-aws's own type tokens and wire property names.

Type tokens and property names are the provider's (pulumi-aws 7.x schema: ``aws:eks/cluster:Cluster``
takes ``vpcConfig``, ``encryptionConfig``, ``enabledClusterLogTypes``, ``version``;
``aws:ec2/launchTemplate:LaunchTemplate`` takes ``metadataOptions`` and ``networkInterfaces``;
``aws:eks/nodeGroup:NodeGroup`` takes ``launchTemplate`` and ``remoteAccess``). Checkov ids in the
descriptions say which public check each rule mirrors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationPolicy

from ._util import dig, is_set, items, minor_version, resource_rule
from .network import WORLD, open_to_world

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"

# The oldest Kubernetes minor that Amazon EKS still supports (standard or extended support), from the
# EKS Kubernetes release calendar, https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
# (mirrored at https://endoflife.date/amazon-eks): 1.31's extended support ends 2026-11-26, 1.32's on
# 2027-03-23. Raise it when a minor leaves extended support.
EKS_MIN_VERSION = (1, 32)
# Control-plane log types every cluster sends to CloudWatch (EKS also has controllerManager, scheduler).
REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")


def _public_endpoint(args: ResourceValidationArgs) -> Iterator[str]:
    vpc = args.props.get("vpcConfig")
    if dig(vpc, "endpointPublicAccess") is False:
        return
    cidrs = [str(c) for c in items(dig(vpc, "publicAccessCidrs"))]
    if not cidrs:  # EKS's default for publicAccessCidrs is ["0.0.0.0/0"]
        yield (
            f"EKS cluster '{args.name}' has a public API endpoint open to 0.0.0.0/0 "
            "(vpcConfig.endpointPublicAccess is not false and vpcConfig.publicAccessCidrs is unset)"
        )
        return
    everywhere = open_to_world(cidrs)
    if everywhere:
        yield (
            f"EKS cluster '{args.name}' has a public API endpoint open to {everywhere} (vpcConfig.publicAccessCidrs)"
        )


def _private_endpoint(args: ResourceValidationArgs) -> Iterator[str]:
    if dig(args.props, "vpcConfig", "endpointPrivateAccess") is not True:
        yield (
            f"EKS cluster '{args.name}' has no private API endpoint, so its nodes reach the API over the internet "
            "(vpcConfig.endpointPrivateAccess is not true)"
        )


def _secrets_encrypted(args: ResourceValidationArgs) -> Iterator[str]:
    encryption = args.props.get("encryptionConfig")
    if "secrets" not in [str(r) for r in items(dig(encryption, "resources"))]:
        yield (
            f"EKS cluster '{args.name}' does not encrypt Kubernetes secrets with a KMS key "
            '(encryptionConfig.resources has no "secrets")'
        )
    elif not is_set(dig(encryption, "provider"), "keyArn"):
        yield (
            f"EKS cluster '{args.name}' does not encrypt Kubernetes secrets with a KMS key "
            "(encryptionConfig.provider.keyArn is unset)"
        )


def _logging(args: ResourceValidationArgs) -> Iterator[str]:
    enabled = {str(t) for t in items(args.props.get("enabledClusterLogTypes"))}
    missing = [t for t in REQUIRED_LOG_TYPES if t not in enabled]
    if missing:
        yield f"EKS cluster '{args.name}' does not log {', '.join(missing)} (enabledClusterLogTypes)"


def _supported_version(args: ResourceValidationArgs) -> Iterator[str]:
    version = args.props.get("version")  # unknown at preview: UnknownValueError, as the engine expects
    if version is None:
        return  # EKS creates the newest version it offers
    minor = minor_version(version)
    oldest = ".".join(map(str, EKS_MIN_VERSION))
    if minor is None:
        yield f"EKS cluster '{args.name}' has version {version!r}, not a Kubernetes version such as {oldest} (version)"
    elif minor < EKS_MIN_VERSION:
        yield (
            f"EKS cluster '{args.name}' runs Kubernetes {version}, older than {oldest}, "
            "the oldest version EKS supports (version)"
        )


def _imds_disabled(metadata: Any) -> bool:
    return bool(dig(metadata, "httpEndpoint") == "disabled")


def _imdsv2(args: ResourceValidationArgs) -> Iterator[str]:
    metadata = args.props.get("metadataOptions")
    if _imds_disabled(metadata):
        return
    tokens = dig(metadata, "httpTokens")
    if tokens != "required":
        yield (
            f"launch template '{args.name}' does not require IMDSv2 "
            f"(metadataOptions.httpTokens is {tokens or 'unset'}, not required)"
        )


def _hop_limit(args: ResourceValidationArgs) -> Iterator[str]:
    metadata = args.props.get("metadataOptions")
    if _imds_disabled(metadata):
        return
    hops = dig(metadata, "httpPutResponseHopLimit")  # a float on the wire
    if hops != 1:
        shown = "unset" if hops is None else f"{hops:g}" if isinstance(hops, (int, float)) else repr(hops)
        yield (
            f"launch template '{args.name}' lets pods reach the instance metadata service "
            f"(metadataOptions.httpPutResponseHopLimit is {shown}, not 1)"
        )


def _no_public_ip(args: ResourceValidationArgs) -> Iterator[str]:
    for i, nic in enumerate(items(args.props.get("networkInterfaces"))):
        # A string on the wire ("true"/"false"/unset) in pulumi-aws; a bool is tolerated too.
        value = dig(nic, "associatePublicIpAddress")
        if value is True or (isinstance(value, str) and value.lower() == "true"):
            yield (
                f"launch template '{args.name}' gives nodes a public IP "
                f"(networkInterfaces[{i}].associatePublicIpAddress)"
            )


def _no_remote_access(args: ResourceValidationArgs) -> Iterator[str]:
    remote = args.props.get("remoteAccess")
    if remote is None:
        return
    if not is_set(remote, "sourceSecurityGroupIds"):
        yield (
            f"EKS node group '{args.name}' opens SSH (port 22) to 0.0.0.0/0 "
            "(remoteAccess without remoteAccess.sourceSecurityGroupIds)"
        )
    else:
        yield f"EKS node group '{args.name}' allows SSH to its nodes (remoteAccess)"


def _launch_template(args: ResourceValidationArgs) -> Iterator[str]:
    template = args.props.get("launchTemplate")
    if not (is_set(template, "id") or is_set(template, "name")):
        yield (
            f"EKS node group '{args.name}' has no launch template, so nothing sets IMDSv2 or the metadata "
            "hop limit on its nodes (launchTemplate)"
        )


EKS_ENDPOINT_NOT_PUBLIC = resource_rule(
    name="eks-endpoint-not-public",
    description="The EKS API endpoint is private, or public only to listed CIDRs that are not "
    f"{WORLD} (CKV_AWS_38, CKV_AWS_39).",
    severity=Severity.CRITICAL,
    remediation="Set vpcConfig.endpointPublicAccess: false, or vpcConfig.publicAccessCidrs to the admin "
    "networks (edgefleet: `endpoint` in the cluster config).",
    types=(EKS_CLUSTER,),
    check=_public_endpoint,
)
EKS_PRIVATE_ENDPOINT = resource_rule(
    name="eks-private-endpoint-enabled",
    description="The EKS private API endpoint is on, so nodes talk to the control plane inside the VPC "
    "(CIS EKS 5.4.2).",
    severity=Severity.MEDIUM,
    remediation="Set vpcConfig.endpointPrivateAccess: true.",
    types=(EKS_CLUSTER,),
    check=_private_endpoint,
)
EKS_SECRETS_ENCRYPTED = resource_rule(
    name="eks-secrets-encrypted",
    description="Kubernetes secrets are envelope-encrypted with a KMS key (CKV_AWS_58).",
    severity=Severity.HIGH,
    remediation='Set encryptionConfig: {resources: ["secrets"], provider: {keyArn: <KMS key with rotation>}}.',
    types=(EKS_CLUSTER,),
    check=_secrets_encrypted,
)
EKS_CONTROL_PLANE_LOGGING = resource_rule(
    name="eks-control-plane-logging",
    description="The control plane logs api, audit and authenticator events to CloudWatch (CKV_AWS_37).",
    severity=Severity.MEDIUM,
    remediation="Set enabledClusterLogTypes to include api, audit and authenticator.",
    types=(EKS_CLUSTER,),
    check=_logging,
)
EKS_SUPPORTED_VERSION = resource_rule(
    name="eks-supported-version",
    description=f"The cluster runs a Kubernetes version EKS still supports, {EKS_MIN_VERSION[0]}.{EKS_MIN_VERSION[1]} "
    "or newer (CKV_AWS_339).",
    severity=Severity.HIGH,
    remediation="Upgrade `version` (edgefleet: `kubernetes_version`) one minor at a time to a supported version.",
    types=(EKS_CLUSTER,),
    check=_supported_version,
)
EKS_NODE_IMDSV2 = resource_rule(
    name="eks-node-imdsv2",
    description="Node launch templates require IMDSv2 session tokens (CKV_AWS_79).",
    severity=Severity.HIGH,
    remediation='Set metadataOptions.httpTokens: "required" on the launch template.',
    types=(LAUNCH_TEMPLATE,),
    check=_imdsv2,
)
EKS_NODE_IMDS_HOP_LIMIT = resource_rule(
    name="eks-node-imds-hop-limit",
    description="Node launch templates set the metadata PUT response hop limit to 1, so pods cannot "
    "take the node's credentials (CKV_AWS_341).",
    severity=Severity.HIGH,
    remediation="Set metadataOptions.httpPutResponseHopLimit: 1; give pods credentials with IRSA or Pod Identity.",
    types=(LAUNCH_TEMPLATE,),
    check=_hop_limit,
)
EKS_NODE_NO_PUBLIC_IP = resource_rule(
    name="eks-node-no-public-ip",
    description="Node launch templates do not give nodes public IP addresses (CKV_AWS_88).",
    severity=Severity.HIGH,
    remediation='Set networkInterfaces[].associatePublicIpAddress: "false"; run nodes in private subnets.',
    types=(LAUNCH_TEMPLATE,),
    check=_no_public_ip,
)
EKS_NODE_GROUP_NO_REMOTE_ACCESS = resource_rule(
    name="eks-node-group-no-remote-access",
    description="Managed node groups allow no SSH remote access, least of all from 0.0.0.0/0 (CKV_AWS_100).",
    severity=Severity.HIGH,
    remediation="Remove remoteAccess; reach nodes with SSM Session Manager when you must.",
    types=(EKS_NODE_GROUP,),
    check=_no_remote_access,
)
EKS_NODE_GROUP_LAUNCH_TEMPLATE = resource_rule(
    name="eks-node-group-launch-template",
    description="Managed node groups use a launch template, where IMDSv2, the hop limit and public IPs are set.",
    severity=Severity.MEDIUM,
    remediation="Give the node group launchTemplate: {id, version} of a hardened launch template.",
    types=(EKS_NODE_GROUP,),
    check=_launch_template,
)

RESOURCE_POLICIES = (
    EKS_ENDPOINT_NOT_PUBLIC,
    EKS_PRIVATE_ENDPOINT,
    EKS_SECRETS_ENCRYPTED,
    EKS_CONTROL_PLANE_LOGGING,
    EKS_SUPPORTED_VERSION,
    EKS_NODE_IMDSV2,
    EKS_NODE_IMDS_HOP_LIMIT,
    EKS_NODE_NO_PUBLIC_IP,
    EKS_NODE_GROUP_NO_REMOTE_ACCESS,
    EKS_NODE_GROUP_LAUNCH_TEMPLATE,
)
STACK_POLICIES: tuple[StackValidationPolicy, ...] = ()  # every rule here reads one resource

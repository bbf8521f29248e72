"""Mock outputs for the aws provider's resources and functions (see ``edgefleet/mocks.py``).

What AWS reports for each resource type ``components/clusters/aws.py`` creates: ids in AWS's
shapes (``vpc-`` and 17 hex digits, ...), ARNs in the account ``123456789012`` (AWS's documentation
account), the EKS endpoint ``https://<32 HEX>.gr7.<region>.eks.amazonaws.com`` and a base64 PEM
certificate authority. The region is the resource's own ``region`` input (every regional resource
edgefleet creates names it), else its availability zone's.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import MockResourceArgs

from edgefleet.components.config.model import Vendor
from edgefleet.components.config.vendors import DEFAULT_KUBERNETES_VERSION
from edgefleet.mock_outputs.common import CallMock, ResourceMock, documentation_ip, fake_ca, stable_hex, stable_uuid

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
CREATED = "2026-01-01T00:00:00Z"


def _region(args: MockResourceArgs) -> str:
    region = args.inputs.get("region")
    if isinstance(region, str) and region:
        return region
    zone = args.inputs.get("availabilityZone")
    return zone[:-1] if isinstance(zone, str) and zone else DEFAULT_REGION


def _hex(args: MockResourceArgs, length: int = 17) -> str:
    return stable_hex(length, args.typ, args.name)


def _state(args: MockResourceArgs, **outputs: Any) -> dict[str, Any]:
    """Inputs, ``tagsAll`` (the provider's merged tags) and ``outputs``."""
    state = dict(args.inputs)
    if "tags" in state:
        state["tagsAll"] = dict(state["tags"] or {})
    state.update(outputs)
    return state


def _ec2_arn(args: MockResourceArgs, kind: str, id_: str) -> str:
    return f"arn:aws:ec2:{_region(args)}:{ACCOUNT}:{kind}/{id_}"


def _vpc(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"vpc-{_hex(args)}"
    return id_, _state(
        args,
        arn=_ec2_arn(args, "vpc", id_),
        ownerId=ACCOUNT,
        instanceTenancy="default",
        defaultSecurityGroupId=f"sg-{stable_hex(17, args.typ, args.name, 'sg')}",
        defaultRouteTableId=f"rtb-{stable_hex(17, args.typ, args.name, 'rtb')}",
        mainRouteTableId=f"rtb-{stable_hex(17, args.typ, args.name, 'rtb')}",
        defaultNetworkAclId=f"acl-{stable_hex(17, args.typ, args.name, 'acl')}",
        dhcpOptionsId=f"dopt-{stable_hex(17, args.typ, args.name, 'dopt')}",
    )


def _default_security_group(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"sg-{_hex(args)}"
    return id_, _state(args, arn=_ec2_arn(args, "security-group", id_), name="default", ownerId=ACCOUNT)


def _subnet(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"subnet-{_hex(args)}"
    return id_, _state(args, arn=_ec2_arn(args, "subnet", id_), ownerId=ACCOUNT)


def _internet_gateway(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"igw-{_hex(args)}"
    return id_, _state(args, arn=_ec2_arn(args, "internet-gateway", id_), ownerId=ACCOUNT)


def _eip(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"eipalloc-{_hex(args)}"
    ip = documentation_ip(args.typ, args.name)
    return id_, _state(
        args,
        allocationId=id_,
        arn=_ec2_arn(args, "elastic-ip", id_),
        publicIp=ip,
        publicDns=f"ec2-{ip.replace('.', '-')}.{_region(args)}.compute.amazonaws.com",
        publicIpv4Pool="amazon",
    )


def _nat_gateway(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"nat-{_hex(args)}"
    return id_, _state(
        args,
        networkInterfaceId=f"eni-{stable_hex(17, args.typ, args.name, 'eni')}",
        publicIp=documentation_ip(args.typ, args.name),
    )


def _route_table(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"rtb-{_hex(args)}"
    return id_, _state(args, arn=_ec2_arn(args, "route-table", id_), ownerId=ACCOUNT)


def _route_table_association(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    return f"rtbassoc-{_hex(args)}", _state(args)


def _launch_template(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"lt-{_hex(args)}"
    name = args.inputs.get("name") or f"{args.inputs.get('namePrefix') or 'terraform-'}{_hex(args, 26)}"
    return id_, _state(args, arn=_ec2_arn(args, "launch-template", id_), name=name, latestVersion=1, defaultVersion=1)


def _kms_key(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    key_id = stable_uuid(args.typ, args.name)
    return key_id, _state(
        args,
        keyId=key_id,
        arn=f"arn:aws:kms:{_region(args)}:{ACCOUNT}:key/{key_id}",
        keyUsage="ENCRYPT_DECRYPT",
        customerMasterKeySpec="SYMMETRIC_DEFAULT",
        isEnabled=True,
        rotationPeriodInDays=365,
    )


def _kms_alias(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = str(args.inputs.get("name") or f"alias/{args.name}")
    region = _region(args)
    return name, _state(
        args,
        name=name,
        arn=f"arn:aws:kms:{region}:{ACCOUNT}:{name}",
        targetKeyArn=f"arn:aws:kms:{region}:{ACCOUNT}:key/{args.inputs.get('targetKeyId', '')}",
    )


def _log_group(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = str(args.inputs.get("name") or f"{args.name}-{_hex(args, 7)}")
    return name, _state(args, name=name, arn=f"arn:aws:logs:{_region(args)}:{ACCOUNT}:log-group:{name}")


def _role(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = str(args.inputs.get("name") or f"{args.name}-{_hex(args, 7)}")
    return name, _state(
        args,
        name=name,
        arn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
        uniqueId="AROA" + stable_hex(17, args.typ, args.name).upper(),
        createDate=CREATED,
        path="/",
        maxSessionDuration=3600,
    )


def _role_policy_attachment(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    return f"{args.inputs.get('role', args.name)}-{stable_hex(20, args.typ, args.name)}", _state(args)


def _role_policy(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """An inline role policy: the id is ``<role name>:<policy name>``, as the provider's."""
    name = str(args.inputs.get("name") or f"terraform-{_hex(args, 26)}")
    return f"{args.inputs.get('role', '')}:{name}", _state(args, name=name)


def _pod_identity_association(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """An EKS Pod Identity association: ``a-`` and 17 characters, an ARN under its cluster."""
    cluster = args.inputs.get("clusterName", "")
    association = f"a-{_hex(args)}"
    return association, _state(
        args,
        associationId=association,
        associationArn=f"arn:aws:eks:{_region(args)}:{ACCOUNT}:podidentityassociation/{cluster}/{association}",
        disableSessionTags=bool(args.inputs.get("disableSessionTags", False)),
        externalId="",
    )


def _eks_cluster(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    name = str(args.inputs.get("name") or f"{args.name}-{_hex(args, 7)}")
    region = _region(args)
    host = stable_hex(32, args.typ, args.name).upper()
    vpc_config = dict(args.inputs.get("vpcConfig") or {})
    vpc_config.setdefault("endpointPublicAccess", True)
    vpc_config.setdefault("publicAccessCidrs", ["0.0.0.0/0"])
    vpc_config.update(
        clusterSecurityGroupId=f"sg-{stable_hex(17, args.typ, args.name, 'cluster-sg')}",
        vpcId=f"vpc-{stable_hex(17, args.typ, args.name, 'vpc')}",
    )
    return name, _state(
        args,
        name=name,
        arn=f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{name}",
        endpoint=f"https://{host}.gr7.{region}.eks.amazonaws.com",
        certificateAuthority={"data": fake_ca(args.typ, args.name)},
        identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{host}"}]}],
        platformVersion="eks.1",
        status="ACTIVE",
        version=args.inputs.get("version") or DEFAULT_KUBERNETES_VERSION[Vendor.AWS],
        vpcConfig=vpc_config,
        createdAt=CREATED,
    )


def _addon(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    cluster, addon = args.inputs.get("clusterName", ""), args.inputs.get("addonName", "")
    return f"{cluster}:{addon}", _state(
        args,
        arn=f"arn:aws:eks:{_region(args)}:{ACCOUNT}:addon/{cluster}/{addon}/{stable_uuid(args.typ, args.name)}",
        createdAt=CREATED,
        modifiedAt=CREATED,
    )


def _node_group(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    cluster = args.inputs.get("clusterName", "")
    name = args.inputs.get("nodeGroupName") or f"{args.inputs.get('nodeGroupNamePrefix') or ''}{_hex(args, 26)}"
    uuid = stable_uuid(args.typ, args.name)
    return f"{cluster}:{name}", _state(
        args,
        nodeGroupName=name,
        arn=f"arn:aws:eks:{_region(args)}:{ACCOUNT}:nodegroup/{cluster}/{name}/{uuid}",
        status="ACTIVE",
        resources=[{"autoscalingGroups": [{"name": f"eks-{name}-{uuid}"}], "remoteAccessSecurityGroupId": ""}],
    )


RESOURCES: dict[str, ResourceMock] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _default_security_group,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/internetGateway:InternetGateway": _internet_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/routeTable:RouteTable": _route_table,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _route_table_association,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _role_policy_attachment,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/addon:Addon": _addon,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _pod_identity_association,
}
CALLS: dict[str, CallMock] = {}

"""Amazon EKS (vendor ``aws``): a VPC, a KMS key, a control plane, add-ons and managed node groups.

Built from pulumi-aws's own resources (not pulumi-eks or awsx), one explicit ``aws.Provider`` per
cluster (``region`` = the cluster's region). Every regional resource also names its ``region``
(pulumi-aws 7's per-resource argument, equal to its provider's), so the plan shows where each
resource lives and the mocks derive ARNs and endpoints from it.

What a default cluster gets, and why:

- **Network.** A VPC (the cluster's ``/17``, DNS hostnames and support on, which EKS needs) with,
  per availability zone (the region's first three, or both where it has two), a private ``/19``
  for nodes and pods (the VPC CNI gives pods VPC addresses, so these are large) and a public
  ``/24`` for load balancers and NAT. Subnets are tagged for load balancer discovery
  (``kubernetes.io/role/elb`` public, ``kubernetes.io/role/internal-elb`` private:
  https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html) and never map
  public IPs on launch. An internet gateway, NAT gateways with Elastic IPs, and route tables: in
  ``prod`` one NAT gateway per zone, so losing a zone does not cut the others' egress; in other
  environments one NAT gateway for all zones, to save its hourly cost. The VPC's default security
  group is adopted with no rules (CKV2_AWS_12); nodes use the cluster security group EKS creates.
- **Secrets encryption.** A customer-managed KMS key with yearly rotation (``enable_key_rotation``)
  and an alias; ``encryption_config`` with ``resources: ["secrets"]``. The key keeps its default
  policy (the account's IAM decides), so whoever runs ``pulumi up`` needs ``kms:DescribeKey`` and
  ``kms:CreateGrant`` on it (https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html).
  Deleting the key breaks the cluster for good, so it is protected with the cluster.
- **Audit logging.** The CloudWatch log group ``/aws/eks/<eks name>/cluster`` (the name EKS
  writes to) is created first, with a year's retention (CKV_AWS_338) and the tags; all five
  control-plane log types are on.
- **Identities.** A cluster role trusted by ``eks.amazonaws.com`` with AmazonEKSClusterPolicy; a
  node role trusted by ``ec2.amazonaws.com`` with only the AWS managed worker policies
  (AmazonEKSWorkerNodePolicy, AmazonEC2ContainerRegistryPullOnly, and AmazonEKS_CNI_Policy where
  the VPC CNI runs: https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html; see
  ``node_policies``). Access entries (``authentication_mode: API``), the creator bootstrapped as
  cluster admin; EKS adds the node role's access entry for managed node groups itself.
- **Cilium's operator (``cni: {plugin: cilium, mode: eni}`` only).** In ENI mode the operator is the
  one Cilium component that calls the EC2 API: it creates, attaches and tags the nodes' ENIs and
  assigns their secondary IPs to pods. It gets a role of its own through EKS Pod Identity (trusted
  by ``pods.eks.amazonaws.com`` for ``kube-system/cilium-operator`` of this cluster only), with an
  inline policy of exactly the actions Cilium lists as required, scoped as tightly as EC2 allows
  (``cilium_operator_policy`` says why each action is there). The association exists before the
  Cilium release: EKS injects the credentials only when the operator's pod is created.
- **API endpoint.** The private endpoint is always on; the public one only with ``endpoint:
  {public: true}``, restricted to ``allowed_cidrs``. With the default private endpoint, the
  machine running ``pulumi up`` must reach the VPC (VPN, peering, or a runner inside it): the
  Kubernetes provider talks to the API server.
- **Add-ons and the CNI.** What the cluster's CNI cell (``components/cni/matrix.py``, the
  ``cni: {plugin, mode}`` of the config) asks for, and nothing else: the ``vendor`` dataplane gets
  ``vpc-cni`` with its network policy agent on (``enableNetworkPolicy: "true"``), ``kube-proxy``
  and ``coredns``; a CNI on top of the VPC CNI (Cilium chaining, Calico policy-only) gets the
  same add-ons with the VPC CNI's own policy agent off (``"false"``, stated, so that switching
  from ``vendor`` turns it off); a CNI that replaces it (Cilium ENI, Calico full) gets
  ``bootstrap_self_managed_addons=False`` (EKS then installs no aws-node, kube-proxy or CoreDNS
  of its own; changing it forces a new cluster) and only ``coredns``, plus ``kube-proxy`` unless
  Cilium replaces it (its ``k8sServiceHost`` is the endpoint's host name, port 443).
  ``eks-pod-identity-agent`` always: with IMDS closed to pods, Pod Identity is how pods get AWS
  credentials. Managed add-ons take over EKS's self-managed copies (``OVERWRITE``).
- **Order.** Control plane, then the add-ons that need no nodes (``vpc-cni``, ``kube-proxy``,
  the Pod Identity agent), then (Cilium ENI) the operator's Pod Identity association and policy,
  then the CNI's Helm releases (``install_cni``, skip-await: the CNI cannot be ready before nodes
  exist), then the node groups, then ``coredns`` (a Deployment stays degraded without nodes).
  Without a CNI, managed node groups stay NotReady and their creation hangs. With Cilium, node
  groups carry ``node.cilium.io/agent-not-ready=true:NO_EXECUTE`` (Cilium removes it when its
  agent runs), so no pod lands on a node before Cilium can wire it.
- **Nodes.** Per node pool a launch template (IMDSv2 required, hop limit 1 so pods cannot reach
  the node's credentials, encrypted gp3 root volume, no public IP, the cluster security group,
  tags on instances, volumes and network interfaces) and a managed node group in the private
  subnets, on Amazon Linux 2023 (Graviton types get the ARM AMI), following the control plane's
  version, without SSH. The node group's desired size is its ``min``: edgefleet installs no
  autoscaler yet, so every update sets it back to ``min``.

The EKS cluster's name is ``<cluster name>-<environment>``: two stacks (dev and prod) in one account
and region would otherwise claim the same cluster, log group and key alias names. The kubeconfig
authenticates with ``aws eks get-token`` (AWS CLI v2 on the machine that uses it).
"""

import json
import re
from collections.abc import Mapping, Sequence

import pulumi
from pulumi_aws import cloudwatch, ec2, eks, iam, kms
from pulumi_aws.provider import Provider, ProviderArgs

from edgefleet.components.args import EksClusterArgs
from edgefleet.components.clusters.common import CloudCluster, exec_kubeconfig, network_of, resolved_args, tags
from edgefleet.components.cni import matrix
from edgefleet.components.config.model import Cluster, CniPlugin, NetworkPlan, NodePool, Vendor
from edgefleet.components.contract import ClusterArgs
from edgefleet.components.tokens import EKS_CLUSTER

TYPE = EKS_CLUSTER

MIN_ZONES, MAX_ZONES = 2, 3
PRIVATE_PREFIX = 19  # a /19 per zone: 8,192 addresses for nodes and pods
PUBLIC_PREFIX = 24  # a /24 per zone for load balancers and NAT gateways
PUBLIC_FIRST = 96  # the first /24 after three private /19s (3 * 32)
EVERYWHERE = "0.0.0.0/0"

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
LOG_RETENTION_DAYS = 365
KMS_DELETION_WINDOW_DAYS = 30  # the longest AWS allows: time to notice a mistaken deletion

_MANAGED = "arn:aws:iam::aws:policy/"
CLUSTER_POLICIES: Mapping[str, str] = {"eks-cluster": _MANAGED + "AmazonEKSClusterPolicy"}
NODE_POLICIES: Mapping[str, str] = {
    "worker": _MANAGED + "AmazonEKSWorkerNodePolicy",
    "ecr-pull": _MANAGED + "AmazonEC2ContainerRegistryPullOnly",
    "cni": _MANAGED + "AmazonEKS_CNI_Policy",
}
VPC_CNI_NODE_POLICY = "cni"  # the NODE_POLICIES entry only the VPC CNI (aws-node) uses

# Cilium's operator in ENI mode (https://docs.cilium.io/en/stable/network/concepts/ipam/eni/).
CILIUM_OPERATOR_NAMESPACE = "kube-system"
CILIUM_OPERATOR_SERVICE_ACCOUNT = "cilium-operator"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
# The tags Cilium's operator puts on every ENI it creates (its ENI garbage collection tags, also used
# at creation: pkg/defaults ENIGarbageCollectionTag*, pkg/ipam/allocator/aws/aws.go).
CILIUM_ENI_MANAGED_TAG = ("io.cilium/cilium-managed", "true")
CILIUM_ENI_CLUSTER_TAG = "io.cilium/cluster-name"
# The launch template tags every node instance carries (``tags``) that name this cluster and stack.
NODE_INSTANCE_TAGS = ("edgefleet-cluster", "environment")

# The vpc-cni add-on's network policy agent: on for the `vendor` dataplane; stated off where another
# CNI enforces policy (Calico policy-only, Cilium chaining), so a change from `vendor` turns it off.
VPC_CNI_POLICY_ON = json.dumps({"enableNetworkPolicy": "true"}, separators=(",", ":"))
VPC_CNI_POLICY_OFF = json.dumps({"enableNetworkPolicy": "false"}, separators=(",", ":"))
POD_IDENTITY_AGENT = "eks-pod-identity-agent"  # always: pods cannot reach IMDS (hop limit 1)
# Add-ons the CNI release and node groups wait for (they need no nodes), and those that wait for nodes.
BEFORE_NODES = ("vpc-cni", "kube-proxy", POD_IDENTITY_AGENT)
AFTER_NODES = ("coredns",)
# Kubernetes taint effects as the EKS node group API spells them.
TAINT_EFFECTS: Mapping[str, str] = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}

ROOT_DEVICE = "/dev/xvda"  # Amazon Linux 2023 EKS AMIs' root volume
ROOT_VOLUME_GIB = 50
TAGGED_AT_LAUNCH = ("instance", "volume", "network-interface")
# AWS instance names: a "g" after the generation number means Graviton (arm64); a1 is the first
# Graviton. https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html
_GRAVITON = re.compile(r"^(a1|[a-z]+\d+g[a-z]*)\.")

INSTALL_HINT = (
    "The kubeconfig of an edgefleet EKS cluster runs `aws eks get-token`: install AWS CLI v2 "
    "(https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and sign in to "
    "the cluster's AWS account."
)


def eks_name(args: ClusterArgs) -> str:
    """The EKS cluster's name: the edgefleet name and the environment (unique per account and region)."""
    return f"{args.cluster.name}-{args.environment}"


def zones_of(cluster: Cluster) -> tuple[str, ...]:
    """The availability zones the cluster spans: the catalog's first three (both where there are two)."""
    zones = cluster.zones[:MAX_ZONES]
    if len(zones) < MIN_ZONES:
        raise ValueError(f"EKS needs subnets in two availability zones; {cluster.region} lists {list(cluster.zones)}")
    return zones


def subnet_cidrs(network: NetworkPlan, index: int) -> tuple[str, str]:
    """(private, public) CIDRs of the ``index``-th zone: a ``/19`` and a ``/24`` of the VPC."""
    return network.subnet(PRIVATE_PREFIX, index), network.subnet(PUBLIC_PREFIX, PUBLIC_FIRST + index)


def nat_zones(environment: str, zones: Sequence[str]) -> tuple[str, ...]:
    """The zones that get a NAT gateway: every zone in ``prod``, the first one elsewhere."""
    return tuple(zones) if environment == "prod" else tuple(zones[:1])


def trust_policy(service: str) -> str:
    """An IAM trust policy letting ``service`` assume the role, as deterministic JSON."""
    statement = {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}}
    return json.dumps({"Statement": [statement], "Version": "2012-10-17"}, sort_keys=True)


def _policy_json(statements: Sequence[Mapping[str, object]]) -> str:
    """A policy document as deterministic JSON: statements by ``Sid``, keys sorted."""
    ordered = sorted(statements, key=lambda s: str(s["Sid"]))
    return json.dumps({"Statement": ordered, "Version": "2012-10-17"}, sort_keys=True)


def pod_identity_trust_policy(cluster_arn: str, namespace: str, service_account: str) -> str:
    """The trust policy of a role for one Kubernetes service account through EKS Pod Identity.

    ``pods.eks.amazonaws.com`` assumes the role (``sts:AssumeRole``) and tags the session
    (``sts:TagSession``) with the pod's cluster, namespace and service account; the condition on
    those session tags means no other association (another cluster, namespace or service account)
    can use the role. https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html
    """
    statement = {
        "Sid": "EksPodIdentity",
        "Effect": "Allow",
        "Principal": {"Service": POD_IDENTITY_SERVICE},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-arn": cluster_arn,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            }
        },
    }
    return _policy_json([statement])


def cilium_operator_policy(vpc_arn: str, cilium_cluster: str, node_tags: Mapping[str, str]) -> str:
    """The Cilium operator's EC2 permissions in ENI mode, as deterministic JSON.

    ``vpc_arn`` is the cluster VPC's ARN (its partition, region and account scope every resource
    ARN), ``cilium_cluster`` Cilium's ``cluster.name`` (the value of the ``io.cilium/cluster-name``
    tag the operator puts on the ENIs it creates), ``node_tags`` the tags every node instance
    carries from its launch template.

    Exactly the actions of "Required Privileges" in Cilium's ENI IPAM documentation
    (Documentation/network/concepts/ipam/eni.rst), each for what the operator does with it:

    - ``DescribeNetworkInterfaces``, ``DescribeSubnets``, ``DescribeVpcs``, ``DescribeRouteTables``:
      its cache of ENIs (with their IPs), subnets (free addresses) and VPCs, refreshed every minute
      and after each allocation; route tables to pick a subnet routed like the node's when that one
      is full. ``DescribeNetworkInterfaces`` also finds detached ENIs for garbage collection.
    - ``DescribeSecurityGroups``: the security groups of new ENIs (by tag) and of ``toGroups``.
    - ``DescribeInstanceTypes``: how many ENIs and addresses each instance type takes.
    - ``DescribeManagedPrefixLists``, ``GetManagedPrefixListEntries``: AWS managed prefix lists that
      policies reference (``toGroups``), resolved to CIDRs.
    - ``CreateNetworkInterface``, ``AttachNetworkInterface``: a new ENI when a node's are full;
      ``ModifyNetworkInterfaceAttribute``: then delete-on-termination on its attachment;
      ``AssignPrivateIpAddresses``: secondary IPs (or /28 prefixes) for pods, on any of the node's
      ENIs (``eth0`` too: the first interface index is 0); ``CreateTags``: the tags at creation;
      ``DeleteNetworkInterface``: an ENI whose attachment failed, and detached ENIs of this cluster
      (garbage collection).

    What the same list grants only for options edgefleet leaves off is not granted:
    ``DescribeTags`` (only to find the EKS cluster name when ``cluster.name`` is unset; edgefleet
    sets it), ``UnassignPrivateIpAddresses`` (``--aws-release-excess-ips``), ``AssignIpv6Addresses``
    (IPv6), ``DescribeInstances`` (``--instance-tags-filter``).

    Scope: the Describe actions take no resource ARN in EC2, so they are limited to the cluster's
    region. Everything that writes is limited to this cluster: ENIs are created only in its VPC's
    subnets and security groups and only with Cilium's tags for this cluster (``CreateTags`` only
    as part of that creation); attached, modified or deleted only when they carry those tags, in
    its VPC; attached only to instances that carry the cluster's node tags. Secondary IPs go to
    ENIs in its VPC (``eth0`` is not Cilium's, so not tagged by it). Prefix lists may belong to AWS
    or be shared from another account: any owner, this region.
    """
    partition, _, region, account = vpc_arn.split(":")[1:5]

    def arns(*kinds: str, owner: str = account) -> list[str]:
        return [f"arn:{partition}:ec2:{region}:{owner}:{kind}/*" for kind in sorted(kinds)]

    in_vpc = {"ArnEquals": {"ec2:Vpc": vpc_arn}}
    managed_key, managed_value = CILIUM_ENI_MANAGED_TAG
    statements: list[dict[str, object]] = [
        {
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": sorted(
                f"ec2:{a}"
                for a in (
                    "DescribeInstanceTypes",
                    "DescribeManagedPrefixLists",
                    "DescribeNetworkInterfaces",
                    "DescribeRouteTables",
                    "DescribeSecurityGroups",
                    "DescribeSubnets",
                    "DescribeVpcs",
                )
            ),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "ReadPrefixListEntries",
            "Effect": "Allow",
            "Action": ["ec2:GetManagedPrefixListEntries"],
            "Resource": arns("prefix-list", owner="*"),
        },
        {
            "Sid": "CreateCiliumEnis",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": arns("network-interface"),
            "Condition": {
                "StringEquals": {
                    f"aws:RequestTag/{managed_key}": managed_value,
                    f"aws:RequestTag/{CILIUM_ENI_CLUSTER_TAG}": cilium_cluster,
                },
                "ForAllValues:StringEquals": {"aws:TagKeys": sorted([managed_key, CILIUM_ENI_CLUSTER_TAG])},
            },
        },
        {
            "Sid": "CreateEnisInClusterVpc",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": arns("security-group", "subnet"),
            "Condition": in_vpc,
        },
        {
            "Sid": "TagEnisOnCreate",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": arns("network-interface"),
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"}},
        },
        {
            "Sid": "ManageCiliumEnis",
            "Effect": "Allow",
            "Action": [
                "ec2:AttachNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:ModifyNetworkInterfaceAttribute",
            ],
            "Resource": arns("network-interface"),
            "Condition": {**in_vpc, "StringEquals": {f"aws:ResourceTag/{CILIUM_ENI_CLUSTER_TAG}": cilium_cluster}},
        },
        {
            "Sid": "AssignIpsInClusterVpc",
            "Effect": "Allow",
            "Action": ["ec2:AssignPrivateIpAddresses"],
            "Resource": arns("network-interface"),
            "Condition": in_vpc,
        },
        {
            "Sid": "AttachToClusterNodes",
            "Effect": "Allow",
            "Action": ["ec2:AttachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute"],
            "Resource": arns("instance"),
            "Condition": {"StringEquals": {f"aws:ResourceTag/{k}": v for k, v in sorted(node_tags.items())}},
        },
    ]
    return _policy_json(statements)


def ami_type(machine_type: str) -> str:
    """The Amazon Linux 2023 AMI type for ``machine_type``: ARM on Graviton, x86-64 otherwise."""
    return "AL2023_ARM_64_STANDARD" if _GRAVITON.match(machine_type) else "AL2023_X86_64_STANDARD"


def eks_side(cluster: Cluster) -> matrix.EksSide:
    """The EKS settings of ``cluster``'s CNI cell (add-ons, self-managed add-ons, taints)."""
    cell = matrix.resolve(cluster.vendor, cluster.cni.plugin, cluster.cni.mode, autopilot=cluster.spec.autopilot)
    if not isinstance(cell.cluster, matrix.EksSide):
        raise ValueError(f"the {cell.plugin.value}/{cell.mode} CNI cell of {cluster.name!r} has no EKS settings")
    return cell.cluster


def addon_plan(side: matrix.EksSide) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """(before nodes, after nodes): the managed add-ons to create, name -> configuration values."""
    wanted = {*side.addons, POD_IDENTITY_AGENT}
    config: dict[str, str | None] = {
        "vpc-cni": VPC_CNI_POLICY_ON if side.vpc_cni_network_policy else VPC_CNI_POLICY_OFF
    }
    before = {a: config.get(a) for a in BEFORE_NODES if a in wanted}
    after = {a: config.get(a) for a in AFTER_NODES if a in wanted}
    unknown = wanted - set(before) - set(after)
    if unknown:
        raise ValueError(f"unknown EKS add-ons {sorted(unknown)}")
    return before, after


def node_policies(side: matrix.EksSide) -> dict[str, str]:
    """The node role's managed policies for the cell: AmazonEKS_CNI_Policy only where the VPC CNI runs.

    AmazonEKS_CNI_Policy is the VPC CNI's (aws-node's) ENI and IP permissions; AWS lists it for the
    node role only when nothing else gives aws-node credentials
    (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html). Where a CNI replaces
    the VPC CNI (Cilium ENI, Calico full: no ``vpc-cni`` add-on and no self-managed aws-node), no
    process on the node needs it: kubelet and the Pod Identity agent use AmazonEKSWorkerNodePolicy
    (which has ``eks-auth:AssumeRoleForPodIdentity``), kube-proxy and CoreDNS call no AWS API,
    Calico in VXLAN mode calls none (Felix's ``awsSrcDstCheck`` is left at ``DoNothing``), the
    Cilium agent reads only the instance metadata, and Cilium's operator has a role of its own
    (``cilium_operator_policy``). Keeping it would let any process on a node (hostNetwork pods
    reach the instance metadata service) create, attach and delete ENIs with the node's credentials.
    """
    policies = dict(NODE_POLICIES)
    if "vpc-cni" not in side.addons:
        del policies[VPC_CNI_NODE_POLICY]
    return policies


def runs_cilium_eni(cluster: Cluster) -> bool:
    """Whether ``cluster``'s CNI cell is Cilium in ENI mode (its operator calls the EC2 API)."""
    return cluster.cni.plugin is CniPlugin.CILIUM and cluster.cni.mode == "eni"


def cilium_cluster_name(cluster: Cluster) -> str:
    """Cilium's ``cluster.name`` for ``cluster``, as its Helm values set it (the matrix decides)."""
    cell = matrix.resolve(cluster.vendor, cluster.cni.plugin, cluster.cni.mode, autopilot=cluster.spec.autopilot)
    if cell.values is None:
        raise ValueError(f"the {cell.plugin.value}/{cell.mode} CNI cell of {cluster.name!r} has no Helm values")
    values = cell.values(matrix.ValuesContext(cluster=cluster.name, pod_cidr=cluster.cni.pod_cidr or ""))
    return str(values["cluster"]["name"])


def node_taints(side: matrix.EksSide) -> list[eks.NodeGroupTaintArgs] | None:
    """The cell's node taints in the node group API's terms (``NO_EXECUTE``), or None."""
    return [eks.NodeGroupTaintArgs(key=k, value=v, effect=TAINT_EFFECTS[e]) for k, v, e in side.node_taints] or None


def api_host(endpoint: str) -> str:
    """The API server's host name from the EKS endpoint URL (no scheme, no path)."""
    return endpoint.removeprefix("https://").split("/", 1)[0]


def eks_kubeconfig(context: str, cluster_name: str, region: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig that gets a token from ``aws eks get-token`` (nothing stored)."""
    return exec_kubeconfig(
        context,
        server=endpoint,
        ca_data=ca_data,
        command="aws",
        args=["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        install_hint=INSTALL_HINT,
    )


class EksCluster(CloudCluster):
    """An EKS cluster with its own VPC (contract v1). See the module docstring for what and why."""

    kubeconfig: pulumi.Output[str]
    """The cluster's kubeconfig (secret). Its user runs the vendor's CLI for a token; nothing stored."""
    endpoint: pulumi.Output[str]
    """The API server's URL."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = resolved_args(Vendor.AWS, name, args, "EksCluster")  # before any resource
        super().__init__(TYPE, name, resolved, opts)
        spec = resolved.cluster
        self._args = resolved
        self._tags = tags(resolved)
        self._eks_name = eks_name(resolved)
        self.aws_provider = Provider(
            f"{name}-aws", ProviderArgs(region=spec.region), opts=pulumi.ResourceOptions(parent=self)
        )
        zones = zones_of(spec)
        self._network(zones)
        key = self._secrets_key()
        logs = self._log_group()
        cluster_role, cluster_attachments = self._role("cluster-role", "eks.amazonaws.com", CLUSTER_POLICIES)
        side = eks_side(spec)
        self.eks_cluster = self._control_plane(cluster_role, key, side, [logs, *cluster_attachments])
        before_nodes, after_nodes = addon_plan(side)
        early_addons = {addon: self._addon(addon, config, []) for addon, config in before_nodes.items()}
        early = list(early_addons.values())
        # Cilium ENI: the operator's identity exists before Cilium, whose operator pod gets it at creation.
        self.cilium_operator: list[pulumi.Resource] = (
            self._cilium_operator_identity(early_addons[POD_IDENTITY_AGENT]) if runs_cilium_eni(spec) else []
        )

        ca_data = self.eks_cluster.certificate_authority.apply(lambda ca: ca.data or "")
        kubeconfig = pulumi.Output.all(self.eks_cluster.endpoint, ca_data).apply(
            lambda v: eks_kubeconfig(spec.name, self._eks_name, spec.region, v[0], v[1])
        )
        # The CNI goes in after the control plane and the add-ons that need no nodes, before any node.
        self.cni_releases = self.install_cni(
            resolved,
            kubeconfig,
            self.eks_cluster.endpoint.apply(api_host),
            depends_on=[self.eks_cluster, *early, *self.cilium_operator],
        )

        node_role, node_attachments = self._role("node-role", "ec2.amazonaws.com", node_policies(side))
        taints = node_taints(side)
        self.node_groups = [
            self._node_group(pool, node_role, taints, [*node_attachments, *early, *self.cni_releases])
            for pool in spec.node_pools
        ]
        late = [self._addon(addon, config, self.node_groups) for addon, config in after_nodes.items()]
        self.finish(
            kubeconfig, self.eks_cluster.endpoint, depends_on=[*self.node_groups, *early, *late, *self.cni_releases]
        )

    def _opts(self, *, protect: bool = False, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return self.child(provider=self.aws_provider, protect=protect, depends_on=depends_on)

    def _named(self, name: str, **extra: str) -> dict[str, str]:
        return {**self._tags, "Name": name, **extra}

    def _network(self, zones: Sequence[str]) -> None:
        spec, name, region = self._args.cluster, self.resource_name, self.region
        network = network_of(spec)
        protect = spec.protect
        self.vpc = ec2.Vpc(
            f"{name}-vpc",
            ec2.VpcArgs(
                cidr_block=network.network,
                enable_dns_hostnames=True,
                enable_dns_support=True,
                region=region,
                tags=self._named(f"{self._eks_name}-vpc"),
            ),
            opts=self._opts(protect=protect),
        )
        ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            ec2.DefaultSecurityGroupArgs(
                vpc_id=self.vpc.id, ingress=[], egress=[], region=region, tags=self._named(f"{self._eks_name}-default")
            ),
            opts=self._opts(),
        )
        igw = ec2.InternetGateway(
            f"{name}-igw",
            ec2.InternetGatewayArgs(vpc_id=self.vpc.id, region=region, tags=self._named(f"{self._eks_name}-igw")),
            opts=self._opts(),
        )
        self.private_subnets: list[ec2.Subnet] = []
        self.public_subnets: list[ec2.Subnet] = []
        for index, zone in enumerate(zones):
            private, public = subnet_cidrs(network, index)
            for cidr, kind, role, subnets in (
                (private, "private", "kubernetes.io/role/internal-elb", self.private_subnets),
                (public, "public", "kubernetes.io/role/elb", self.public_subnets),
            ):
                subnets.append(
                    ec2.Subnet(
                        f"{name}-{kind}-{zone}",
                        ec2.SubnetArgs(
                            vpc_id=self.vpc.id,
                            cidr_block=cidr,
                            availability_zone=zone,
                            map_public_ip_on_launch=False,
                            region=region,
                            tags=self._named(f"{self._eks_name}-{kind}-{zone}", **{role: "1"}),
                        ),
                        opts=self._opts(protect=protect),
                    )
                )
        public_rt = ec2.RouteTable(
            f"{name}-public-rt",
            ec2.RouteTableArgs(
                vpc_id=self.vpc.id,
                routes=[ec2.RouteTableRouteArgs(cidr_block=EVERYWHERE, gateway_id=igw.id)],
                region=region,
                tags=self._named(f"{self._eks_name}-public"),
            ),
            opts=self._opts(),
        )
        nats: list[ec2.NatGateway] = []
        with_nat = nat_zones(self._args.environment, zones)
        for zone, subnet in zip(zones, self.public_subnets, strict=True):
            ec2.RouteTableAssociation(
                f"{name}-public-{zone}-rt",
                ec2.RouteTableAssociationArgs(route_table_id=public_rt.id, subnet_id=subnet.id, region=region),
                opts=self._opts(),
            )
            if zone in with_nat:
                eip = ec2.Eip(
                    f"{name}-nat-eip-{zone}",
                    ec2.EipArgs(domain="vpc", region=region, tags=self._named(f"{self._eks_name}-nat-{zone}")),
                    opts=self._opts(depends_on=[igw]),
                )
                nats.append(
                    ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        ec2.NatGatewayArgs(
                            allocation_id=eip.id,
                            subnet_id=subnet.id,
                            connectivity_type="public",
                            region=region,
                            tags=self._named(f"{self._eks_name}-nat-{zone}"),
                        ),
                        opts=self._opts(depends_on=[igw]),
                    )
                )
        for index, (zone, subnet) in enumerate(zip(zones, self.private_subnets, strict=True)):
            private_rt = ec2.RouteTable(
                f"{name}-private-rt-{zone}",
                ec2.RouteTableArgs(
                    vpc_id=self.vpc.id,
                    routes=[ec2.RouteTableRouteArgs(cidr_block=EVERYWHERE, nat_gateway_id=nats[index % len(nats)].id)],
                    region=region,
                    tags=self._named(f"{self._eks_name}-private-{zone}"),
                ),
                opts=self._opts(),
            )
            ec2.RouteTableAssociation(
                f"{name}-private-{zone}-rt",
                ec2.RouteTableAssociationArgs(route_table_id=private_rt.id, subnet_id=subnet.id, region=region),
                opts=self._opts(),
            )

    def _secrets_key(self) -> kms.Key:
        name = self.resource_name
        key = kms.Key(
            f"{name}-secrets-key",
            kms.KeyArgs(
                description=f"Kubernetes secrets of EKS cluster {self._eks_name} (edgefleet)",
                enable_key_rotation=True,
                deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
                region=self.region,
                tags=self._tags,
            ),
            opts=self._opts(protect=self._args.cluster.protect),
        )
        kms.Alias(
            f"{name}-secrets-key-alias",
            kms.AliasArgs(
                name=f"alias/edgefleet/{self._eks_name}-secrets", target_key_id=key.key_id, region=self.region
            ),
            opts=self._opts(),
        )
        return key

    def _log_group(self) -> cloudwatch.LogGroup:
        return cloudwatch.LogGroup(
            f"{self.resource_name}-control-plane-logs",
            cloudwatch.LogGroupArgs(
                name=f"/aws/eks/{self._eks_name}/cluster",
                retention_in_days=LOG_RETENTION_DAYS,
                deletion_protection_enabled=self._args.cluster.protect,
                region=self.region,
                tags=self._tags,
            ),
            opts=self._opts(),
        )

    def _role(
        self, part: str, service: str, policies: Mapping[str, str]
    ) -> tuple[iam.Role, list[iam.RolePolicyAttachment]]:
        role = iam.Role(
            f"{self.resource_name}-{part}",
            iam.RoleArgs(
                assume_role_policy=trust_policy(service),
                description=f"{part} of EKS cluster {self._eks_name} (edgefleet)",
                tags=self._tags,
            ),
            opts=self._opts(),
        )
        attachments = [
            iam.RolePolicyAttachment(
                f"{self.resource_name}-{part}-{short}",
                iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
                opts=self._opts(),
            )
            for short, arn in policies.items()
        ]
        return role, attachments

    def _control_plane(
        self, role: iam.Role, key: kms.Key, side: matrix.EksSide, depends_on: Sequence[pulumi.Resource]
    ) -> eks.Cluster:
        spec = self._args.cluster
        endpoint = spec.spec.endpoint
        return eks.Cluster(
            f"{self.resource_name}-eks",
            eks.ClusterArgs(
                name=self._eks_name,
                version=spec.kubernetes_version,
                role_arn=role.arn,
                vpc_config=eks.ClusterVpcConfigArgs(
                    subnet_ids=[s.id for s in self.private_subnets],
                    endpoint_private_access=True,
                    endpoint_public_access=endpoint.public,
                    public_access_cidrs=list(endpoint.allowed_cidrs) if endpoint.public else None,
                ),
                kubernetes_network_config=eks.ClusterKubernetesNetworkConfigArgs(
                    ip_family="ipv4", service_ipv4_cidr=network_of(spec).services
                ),
                access_config=eks.ClusterAccessConfigArgs(
                    authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
                ),
                # False where a CNI replaces the VPC CNI: aws-node must never run (forces a new cluster).
                bootstrap_self_managed_addons=side.self_managed_addons,
                encryption_config=eks.ClusterEncryptionConfigArgs(
                    resources=["secrets"], provider=eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn)
                ),
                enabled_cluster_log_types=list(LOG_TYPES),
                deletion_protection=spec.protect,
                region=self.region,
                tags=self._tags,
            ),
            opts=self._opts(protect=spec.protect, depends_on=depends_on),
        )

    def _addon(self, addon: str, configuration: str | None, depends_on: Sequence[pulumi.Resource]) -> eks.Addon:
        return eks.Addon(
            f"{self.resource_name}-addon-{addon}",
            eks.AddonArgs(
                cluster_name=self.eks_cluster.name,
                addon_name=addon,
                configuration_values=configuration,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                region=self.region,
                tags=self._tags,
            ),
            opts=self._opts(depends_on=depends_on),
        )

    def _cilium_operator_identity(self, agent: eks.Addon) -> list[pulumi.Resource]:
        """Cilium's operator's role (``cilium_operator_policy`` inline), and its Pod Identity
        association, made after the Pod Identity agent. Returns what the Cilium release waits for."""
        spec, name = self._args.cluster, f"{self.resource_name}-cilium-operator"
        node_tags = {k: self._tags[k] for k in NODE_INSTANCE_TAGS}
        cilium_cluster = cilium_cluster_name(spec)
        role = iam.Role(
            name,
            iam.RoleArgs(
                assume_role_policy=self.eks_cluster.arn.apply(
                    lambda arn: pod_identity_trust_policy(
                        arn, CILIUM_OPERATOR_NAMESPACE, CILIUM_OPERATOR_SERVICE_ACCOUNT
                    )
                ),
                description=f"Cilium operator (ENI IPAM) of EKS cluster {self._eks_name} (edgefleet)",
                tags=self._tags,
            ),
            opts=self._opts(),
        )
        policy = iam.RolePolicy(
            f"{name}-eni",
            iam.RolePolicyArgs(
                role=role.name,
                name="cilium-operator-eni",
                policy=self.vpc.arn.apply(lambda arn: cilium_operator_policy(arn, cilium_cluster, node_tags)),
            ),
            opts=self._opts(),
        )
        association = eks.PodIdentityAssociation(
            name,
            eks.PodIdentityAssociationArgs(
                cluster_name=self.eks_cluster.name,
                namespace=CILIUM_OPERATOR_NAMESPACE,
                service_account=CILIUM_OPERATOR_SERVICE_ACCOUNT,
                role_arn=role.arn,
                disable_session_tags=False,  # the trust policy's conditions read the session tags
                region=self.region,
                tags=self._tags,
            ),
            opts=self._opts(depends_on=[agent]),
        )
        return [association, policy]

    def _launch_template(self, pool: NodePool) -> ec2.LaunchTemplate:
        cluster_sg = self.eks_cluster.vpc_config.apply(lambda vpc: vpc.cluster_security_group_id or "")
        return ec2.LaunchTemplate(
            f"{self.resource_name}-pool-{pool.name}-lt",
            ec2.LaunchTemplateArgs(
                # At most 99 characters, within the 102 the provider allows before its unique suffix.
                name_prefix=f"{self._eks_name}-{pool.name[:36]}-",
                description=f"Nodes of pool {pool.name} of EKS cluster {self._eks_name} (edgefleet)",
                update_default_version=True,
                metadata_options=ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
                ),
                block_device_mappings=[
                    ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name=ROOT_DEVICE,
                        ebs=ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                            volume_size=ROOT_VOLUME_GIB,
                            volume_type="gp3",
                            encrypted="true",
                            delete_on_termination="true",
                        ),
                    )
                ],
                network_interfaces=[
                    ec2.LaunchTemplateNetworkInterfaceArgs(
                        device_index=0,
                        associate_public_ip_address="false",
                        delete_on_termination="true",
                        security_groups=[cluster_sg],
                    )
                ],
                tag_specifications=[
                    ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=self._tags)
                    for kind in TAGGED_AT_LAUNCH
                ],
                region=self.region,
                tags=self._tags,
            ),
            opts=self._opts(),
        )

    def _node_group(
        self,
        pool: NodePool,
        role: iam.Role,
        taints: Sequence[eks.NodeGroupTaintArgs] | None,
        depends_on: Sequence[pulumi.Resource],
    ) -> eks.NodeGroup:
        template = self._launch_template(pool)
        return eks.NodeGroup(
            f"{self.resource_name}-pool-{pool.name}",
            eks.NodeGroupArgs(
                cluster_name=self.eks_cluster.name,
                # A prefix, not a name: a replacement (new machine type) is created before the old
                # group goes. The provider allows 37 characters before its 26-character suffix.
                node_group_name_prefix=f"{pool.name[:36]}-",
                version=self.eks_cluster.version,
                node_role_arn=role.arn,
                subnet_ids=[s.id for s in self.private_subnets],
                instance_types=[pool.machine_type],
                ami_type=ami_type(pool.machine_type),
                capacity_type="ON_DEMAND",
                scaling_config=eks.NodeGroupScalingConfigArgs(
                    desired_size=pool.min, min_size=pool.min, max_size=pool.max
                ),
                launch_template=eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)
                ),
                update_config=eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                taints=list(taints) if taints else None,
                region=self.region,
                tags=self._tags,
            ),
            opts=self._opts(depends_on=depends_on),
        )

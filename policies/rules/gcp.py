"""GKE control plane and node security, on pulumi-gcp's own type tokens and wire property names.

``gcp:container/cluster:Cluster`` (pulumi-gcp 9.x/10.x schema) takes ``privateClusterConfig``,
``masterAuthorizedNetworksConfig``, ``databaseEncryption``, ``releaseChannel``, ``workloadIdentityConfig``,
``enableShieldedNodes``, ``networkPolicy``, ``datapathProvider``, ``nodeConfig`` (the default node pool),
``nodePools`` (inline pools), ``enableAutopilot``; ``gcp:container/nodePool:NodePool`` takes
``nodeConfig`` and ``networkConfig``. Autopilot clusters manage their nodes (GKE metadata server,
Shielded Nodes with Secure Boot, Workload Identity, Dataplane V2 are always on), so node rules read
``clusterAutoscaling.autoProvisioningDefaults`` there instead of a node config.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from ._util import dig, is_set, items, resource_rule
from .network import WORLD, open_to_world

GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GKE_TYPES = (GKE_CLUSTER, GKE_NODE_POOL)

DEFAULT_COMPUTE_SA_SUFFIX = "-compute@developer.gserviceaccount.com"


def _what(args: ResourceValidationArgs) -> str:
    kind = "GKE node pool" if args.resource_type == GKE_NODE_POOL else "GKE cluster"
    return f"{kind} '{args.name}'"


def _autopilot(args: ResourceValidationArgs) -> bool:
    return args.resource_type == GKE_CLUSTER and args.props.get("enableAutopilot") is True


def _node_configs(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """(property path, nodeConfig) of every node pool the resource defines. A cluster's own
    ``nodeConfig`` is its default pool: skipped where the pool is removed or replaced by inline pools."""
    props = args.props
    if args.resource_type == GKE_NODE_POOL:
        yield "nodeConfig", props.get("nodeConfig")
        return
    if _autopilot(args):
        return
    pools = items(props.get("nodePools"))
    if props.get("removeDefaultNodePool") is not True and not pools:
        yield "nodeConfig", props.get("nodeConfig")
    for i, pool in enumerate(pools):
        yield f"nodePools[{i}].nodeConfig", dig(pool, "nodeConfig")


def _private_nodes(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == GKE_NODE_POOL:
        if dig(args.props, "networkConfig", "enablePrivateNodes") is False:
            yield f"{_what(args)} gives its nodes public IPs (networkConfig.enablePrivateNodes is false)"
        return
    if dig(args.props, "privateClusterConfig", "enablePrivateNodes") is not True:
        yield f"{_what(args)} gives its nodes public IPs (privateClusterConfig.enablePrivateNodes is not true)"
    for i, pool in enumerate(items(args.props.get("nodePools"))):
        if dig(pool, "networkConfig", "enablePrivateNodes") is False:
            yield f"{_what(args)} gives its nodes public IPs (nodePools[{i}].networkConfig.enablePrivateNodes is false)"


def _control_plane(args: ResourceValidationArgs) -> Iterator[str]:
    props = args.props
    if dig(props, "privateClusterConfig", "enablePrivateEndpoint") is True:
        return
    if dig(props, "controlPlaneEndpointsConfig", "ipEndpointsConfig", "enabled") is False:
        return  # no IP endpoint at all: only the IAM-authorised DNS endpoint
    authorized = props.get("masterAuthorizedNetworksConfig")
    if authorized is None:
        yield (
            f"{_what(args)} has a public control-plane endpoint open to any address "
            "(no privateClusterConfig.enablePrivateEndpoint and no masterAuthorizedNetworksConfig)"
        )
        return
    everywhere = open_to_world(dig(block, "cidrBlock") for block in items(dig(authorized, "cidrBlocks")))
    if everywhere:
        yield (
            f"{_what(args)} has a public control-plane endpoint open to {everywhere} "
            "(masterAuthorizedNetworksConfig.cidrBlocks)"
        )
    if dig(authorized, "gcpPublicCidrsAccessEnabled") is True:  # any Compute Engine VM, anyone's
        yield (
            f"{_what(args)} has a public control-plane endpoint open to every Google Cloud public IP address, "
            "so to anyone who starts a VM there (masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled)"
        )


def _secrets_encrypted(args: ResourceValidationArgs) -> Iterator[str]:
    encryption = args.props.get("databaseEncryption")
    state = dig(encryption, "state")
    if state != "ENCRYPTED":
        yield (
            f"{_what(args)} does not encrypt Kubernetes secrets with a Cloud KMS key "
            f"(databaseEncryption.state is {state or 'unset'}, not ENCRYPTED)"
        )
    elif not is_set(encryption, "keyName"):
        yield (
            f"{_what(args)} does not encrypt Kubernetes secrets with a Cloud KMS key "
            "(databaseEncryption.keyName is unset)"
        )


def _release_channel(args: ResourceValidationArgs) -> Iterator[str]:
    channel = dig(args.props, "releaseChannel", "channel")
    if channel in (None, "", "UNSPECIFIED"):
        yield f"{_what(args)} is not enrolled in a release channel (releaseChannel.channel is {channel or 'unset'})"


def _workload_identity(args: ResourceValidationArgs) -> Iterator[str]:
    if _autopilot(args):
        return
    if not is_set(args.props.get("workloadIdentityConfig"), "workloadPool"):
        yield f"{_what(args)} does not enable Workload Identity (workloadIdentityConfig.workloadPool is unset)"


def _shielded_nodes(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("enableShieldedNodes") is False:
        yield f"{_what(args)} turns Shielded Nodes off (enableShieldedNodes is false)"


def _secure_boot(args: ResourceValidationArgs) -> Iterator[str]:
    for path, config in _node_configs(args):
        if dig(config, "shieldedInstanceConfig", "enableSecureBoot") is not True:
            yield (
                f"{_what(args)} boots nodes without Secure Boot "
                f"({path}.shieldedInstanceConfig.enableSecureBoot is not true)"
            )


def _metadata_server(args: ResourceValidationArgs) -> Iterator[str]:
    for path, config in _node_configs(args):
        mode = dig(config, "workloadMetadataConfig", "mode")
        if mode != "GKE_METADATA":
            yield (
                f"{_what(args)} exposes the Compute Engine metadata server to pods "
                f"({path}.workloadMetadataConfig.mode is {mode or 'unset'}, not GKE_METADATA)"
            )
        if dig(config, "metadata", "disable-legacy-endpoints") == "false":
            yield (
                f"{_what(args)} serves the legacy metadata endpoints "
                f"({path}.metadata.disable-legacy-endpoints is false)"
            )


def _network_policy(args: ResourceValidationArgs) -> Iterator[str]:
    """Dataplane V2 enforces NetworkPolicy itself; the legacy datapath only with GKE's Calico add-on,
    which takes both ``networkPolicy.enabled`` (the nodes) and ``addonsConfig.networkPolicyConfig``
    with ``disabled: false`` (the control plane's add-on, which "must be enabled in order to enable
    network policy for the nodes" and defaults to disabled; pulumi-gcp ``ClusterAddonsConfigArgs``)."""
    props = args.props
    if _autopilot(args) or props.get("datapathProvider") == "ADVANCED_DATAPATH":
        return  # Autopilot always runs Dataplane V2
    if dig(props, "networkPolicy", "enabled") is not True:
        yield (
            f"{_what(args)} enforces no NetworkPolicy "
            "(networkPolicy.enabled is not true and datapathProvider is not ADVANCED_DATAPATH)"
        )
    elif dig(props, "addonsConfig", "networkPolicyConfig", "disabled") is not False:
        yield (
            f"{_what(args)} enforces no NetworkPolicy: networkPolicy.enabled is true but the network policy "
            "add-on is off (addonsConfig.networkPolicyConfig.disabled is not false)"
        )


def _default_account(config: Any) -> str | None:
    """Why ``config.serviceAccount`` is the Compute Engine default account, or None if it is not."""
    if not is_set(config, "serviceAccount"):
        return "unset"
    try:
        account = config["serviceAccount"]
    except UnknownValueError:
        return None  # the email of a service account created in this stack: a dedicated one
    if isinstance(account, str) and (account == "default" or account.endswith(DEFAULT_COMPUTE_SA_SUFFIX)):
        return account
    return None


def _node_service_account(args: ResourceValidationArgs) -> Iterator[str]:
    configs = list(_node_configs(args))
    autoscaling = args.props.get("clusterAutoscaling") if args.resource_type == GKE_CLUSTER else None
    if _autopilot(args) or dig(autoscaling, "enabled") is True:
        configs.append(("clusterAutoscaling.autoProvisioningDefaults", dig(autoscaling, "autoProvisioningDefaults")))
    for path, config in configs:
        reason = _default_account(config)
        if reason is not None:
            yield (
                f"{_what(args)} runs nodes as the Compute Engine default service account "
                f"({path}.serviceAccount is {reason})"
            )


def _legacy_abac(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("enableLegacyAbac") is True:
        yield f"{_what(args)} authorizes with legacy ABAC (enableLegacyAbac is true)"


def _client_certificate(args: ResourceValidationArgs) -> Iterator[str]:
    if dig(args.props, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
        yield (
            f"{_what(args)} issues a client certificate that cannot be revoked "
            "(masterAuth.clientCertificateConfig.issueClientCertificate is true)"
        )


GKE_PRIVATE_NODES = resource_rule(
    name="gke-private-nodes",
    description="GKE nodes have internal IP addresses only (CKV_GCP_64).",
    severity=Severity.HIGH,
    remediation="Set privateClusterConfig.enablePrivateNodes: true; never set a node pool's "
    "networkConfig.enablePrivateNodes: false.",
    types=GKE_TYPES,
    check=_private_nodes,
)
GKE_CONTROL_PLANE_RESTRICTED = resource_rule(
    name="gke-control-plane-restricted",
    description="The GKE control plane has a private endpoint only, or authorized networks that are not "
    f"{WORLD} (CKV_GCP_18, CKV_GCP_20).",
    severity=Severity.CRITICAL,
    remediation="Set privateClusterConfig.enablePrivateEndpoint: true, or masterAuthorizedNetworksConfig.cidrBlocks "
    "to the admin networks (edgefleet: `endpoint` in the cluster config).",
    types=(GKE_CLUSTER,),
    check=_control_plane,
)
GKE_SECRETS_ENCRYPTED = resource_rule(
    name="gke-secrets-encrypted",
    description="Kubernetes secrets are encrypted at the application layer with a Cloud KMS key.",
    severity=Severity.MEDIUM,
    remediation='Set databaseEncryption: {state: "ENCRYPTED", keyName: <Cloud KMS key>}.',
    types=(GKE_CLUSTER,),
    check=_secrets_encrypted,
)
GKE_RELEASE_CHANNEL = resource_rule(
    name="gke-release-channel",
    description="The cluster is enrolled in a release channel, so GKE keeps it on supported versions (CKV_GCP_70).",
    severity=Severity.MEDIUM,
    remediation="Set releaseChannel.channel to REGULAR or STABLE.",
    types=(GKE_CLUSTER,),
    check=_release_channel,
)
GKE_WORKLOAD_IDENTITY = resource_rule(
    name="gke-workload-identity",
    description="Workload Identity is on, so pods get their own Google identity instead of the node's.",
    severity=Severity.HIGH,
    remediation='Set workloadIdentityConfig.workloadPool: "<project>.svc.id.goog".',
    types=(GKE_CLUSTER,),
    check=_workload_identity,
)
GKE_SHIELDED_NODES = resource_rule(
    name="gke-shielded-nodes",
    description="Shielded GKE Nodes are not turned off (CKV_GCP_71).",
    severity=Severity.MEDIUM,
    remediation="Remove enableShieldedNodes: false (the default is true).",
    types=(GKE_CLUSTER,),
    check=_shielded_nodes,
)
GKE_NODE_SECURE_BOOT = resource_rule(
    name="gke-node-secure-boot",
    description="Node pools boot with Secure Boot (CKV_GCP_68).",
    severity=Severity.MEDIUM,
    remediation="Set nodeConfig.shieldedInstanceConfig.enableSecureBoot: true on every node pool.",
    types=GKE_TYPES,
    check=_secure_boot,
)
GKE_METADATA_SERVER = resource_rule(
    name="gke-metadata-server",
    description="Node pools run the GKE metadata server, hiding the node's metadata and credentials from "
    "pods, and keep legacy metadata endpoints off (CKV_GCP_69).",
    severity=Severity.HIGH,
    remediation='Set nodeConfig.workloadMetadataConfig.mode: "GKE_METADATA" on every node pool.',
    types=GKE_TYPES,
    check=_metadata_server,
)
GKE_NETWORK_POLICY = resource_rule(
    name="gke-network-policy",
    description="The cluster enforces NetworkPolicy: Dataplane V2 or the network policy add-on (CKV_GCP_12).",
    severity=Severity.MEDIUM,
    remediation='Set datapathProvider: "ADVANCED_DATAPATH" (Dataplane V2), or networkPolicy.enabled: true with '
    "addonsConfig.networkPolicyConfig.disabled: false (the Calico add-on).",
    types=(GKE_CLUSTER,),
    check=_network_policy,
)
GKE_NODE_SERVICE_ACCOUNT = resource_rule(
    name="gke-node-service-account",
    description="Nodes run as a dedicated least-privilege service account, never the Compute Engine default.",
    severity=Severity.HIGH,
    remediation="Set nodeConfig.serviceAccount (Autopilot: clusterAutoscaling.autoProvisioningDefaults."
    "serviceAccount) to a service account with only the node roles.",
    types=GKE_TYPES,
    check=_node_service_account,
)
GKE_LEGACY_ABAC_DISABLED = resource_rule(
    name="gke-legacy-abac-disabled",
    description="Legacy ABAC authorization is off; RBAC alone decides (CKV_GCP_7).",
    severity=Severity.HIGH,
    remediation="Remove enableLegacyAbac: true.",
    types=(GKE_CLUSTER,),
    check=_legacy_abac,
)
GKE_NO_CLIENT_CERTIFICATE = resource_rule(
    name="gke-no-client-certificate",
    description="The cluster issues no client certificate, a credential that cannot be revoked (CKV_GCP_13).",
    severity=Severity.MEDIUM,
    remediation="Remove masterAuth.clientCertificateConfig.issueClientCertificate: true.",
    types=(GKE_CLUSTER,),
    check=_client_certificate,
)

RESOURCE_POLICIES = (
    GKE_PRIVATE_NODES,
    GKE_CONTROL_PLANE_RESTRICTED,
    GKE_SECRETS_ENCRYPTED,
    GKE_RELEASE_CHANNEL,
    GKE_WORKLOAD_IDENTITY,
    GKE_SHIELDED_NODES,
    GKE_NODE_SECURE_BOOT,
    GKE_METADATA_SERVER,
    GKE_NETWORK_POLICY,
    GKE_NODE_SERVICE_ACCOUNT,
    GKE_LEGACY_ABAC_DISABLED,
    GKE_NO_CLIENT_CERTIFICATE,
)
STACK_POLICIES: tuple[StackValidationPolicy, ...] = ()  # every rule here reads one resource

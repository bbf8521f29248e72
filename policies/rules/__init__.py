"""Every rule of the pack, in explicit lists (no registration by import side effect)."""

from pulumi_policy import Policy

from . import aws, azure, digitalocean, fleet, gcp, kubernetes, linode, network, traffic

RESOURCE_POLICIES = (
    *kubernetes.RESOURCE_POLICIES,
    *network.RESOURCE_POLICIES,
    *fleet.RESOURCE_POLICIES,
    *traffic.RESOURCE_POLICIES,
    *aws.RESOURCE_POLICIES,
    *gcp.RESOURCE_POLICIES,
    *azure.RESOURCE_POLICIES,
    *linode.RESOURCE_POLICIES,
    *digitalocean.RESOURCE_POLICIES,
)
STACK_POLICIES = (
    *kubernetes.STACK_POLICIES,
    *network.STACK_POLICIES,
    *fleet.STACK_POLICIES,
    *traffic.STACK_POLICIES,
    *aws.STACK_POLICIES,
    *gcp.STACK_POLICIES,
    *azure.STACK_POLICIES,
    *linode.STACK_POLICIES,
    *digitalocean.STACK_POLICIES,
)
ALL_POLICIES: tuple[Policy, ...] = (*RESOURCE_POLICIES, *STACK_POLICIES)

__all__ = ["ALL_POLICIES", "RESOURCE_POLICIES", "STACK_POLICIES"]

"""Issue 13 item 6: every rule that judges an allow-list reads address ranges, not text. The whole
internet written in pieces, with odd spellings or through IPv6 ranges that embed IPv4 is still the
whole internet, on every vendor's control plane and in NetworkPolicy egress."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from ipaddress import ip_network
from typing import Any

import pytest
from pulumi_policy import Policy

from edgefleet.policies.netranges import EVERYWHERE_V4, subtract
from edgefleet.policies.rules import aws, azure, digitalocean, gcp, linode, network
from tests.conftest import REPO
from tests.policies import test_aws_rules, test_azure_rules, test_digitalocean_rules, test_gcp_rules, test_linode_rules
from tests.policies.harness import changed, resource_args, violations

PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
HALVES = ["0.0.0.0/1", "128.0.0.0/1"]
EVERY_SLASH_8 = [f"{i}.0.0.0/8" for i in range(256)]
WORLDS: dict[str, list[str]] = {
    "v4-halves": HALVES,
    "leading-zero-prefix": ["0.0.0.0/00"],
    "v6-halves": ["::/1", "8000::/1"],
    "every-slash-8": EVERY_SLASH_8,
    "v6-long-spelling": ["0::0/0"],
    "v6-upper-case": ["0:0:0:0:0:0:0:0/0"],
    "v4-mapped": ["::ffff:0:0/96"],
    "nat64": ["64:ff9b::/96"],
    # IPv6 forms that also reach IPv4 (EMBEDDED_V4): each once read as a few IPv6 addresses, not the world
    "v4-compatible": ["::/96"],
    "v4-translated": ["::ffff:0:0:0/96"],
    "nat64-local-use": ["64:ff9b:1::/48"],
    "teredo": ["2001::/32"],
    "teredo-clients-everywhere": ["2001:0:102:304::/64"],  # one Teredo server, every client behind it
    "whitespace": [" 0.0.0.0/0 "],
    "netmask": ["0.0.0.0/0.0.0.0"],
    "host-bits": ["1.2.3.4/0"],
    "duplicates": ["203.0.113.0/24", "0.0.0.0/1", "0.0.0.0/1", "128.0.0.0/1"],
    "all-minus-private": [str(n) for n in subtract(EVERYWHERE_V4, [ip_network(c) for c in PRIVATE])],
    "half-the-internet": ["128.0.0.0/1"],  # over the 1/8-of-public threshold on its own
    "unreadable": ["everyone"],
}
ALLOW_LISTS: dict[str, list[str]] = {
    "admin-networks": ["203.0.113.0/24", "198.51.100.0/24"],
    "a-slash-4": ["0.0.0.0/4"],  # 6% of public IPv4: under the threshold
    "ipv6-site": ["2001:db8::/32", "2a00:1450::/32"],
    "one-teredo-client": ["2001:0:102:304:0:ffff:f7f7:f7fe/128"],  # the client 8.8.8.1, inverted
    "many-hosts": [f"8.{i // 250}.{i % 250}.1/32" for i in range(10_000)],
}

Setter = Callable[[list[str]], tuple[Policy, str, dict[str, Any], str]]


def _eks(cidrs: list[str]) -> tuple[Policy, str, dict[str, Any], str]:
    props = changed(test_aws_rules.HAPPY[aws.EKS_CLUSTER], "vpcConfig.publicAccessCidrs", cidrs)
    return aws.EKS_ENDPOINT_NOT_PUBLIC, aws.EKS_CLUSTER, props, "prod-eks"


def _gke(cidrs: list[str]) -> tuple[Policy, str, dict[str, Any], str]:
    blocks = [{"cidrBlock": c, "displayName": "n"} for c in cidrs]
    props = changed(test_gcp_rules.HAPPY[gcp.GKE_CLUSTER], "masterAuthorizedNetworksConfig.cidrBlocks", blocks)
    props = changed(props, "privateClusterConfig.enablePrivateEndpoint", False)
    return gcp.GKE_CONTROL_PLANE_RESTRICTED, gcp.GKE_CLUSTER, props, "prod-gke"


def _aks(cidrs: list[str]) -> tuple[Policy, str, dict[str, Any], str]:
    props = changed(test_azure_rules.HAPPY[azure.AKS_CLUSTER], "apiServerAccessProfile.authorizedIPRanges", cidrs)
    return azure.AKS_API_SERVER_RESTRICTED, azure.AKS_CLUSTER, props, "prod-aks"


def _lke(cidrs: list[str]) -> tuple[Policy, str, dict[str, Any], str]:
    v4 = [c for c in cidrs if ":" not in c]
    v6 = [c for c in cidrs if ":" in c]
    props = changed(test_linode_rules.HAPPY, "controlPlane.acl.addresses", [{"ipv4s": v4, "ipv6s": v6}])
    return linode.LKE_CONTROL_PLANE_ACL, linode.LKE_CLUSTER, props, "prod-lke"


def _doks(cidrs: list[str]) -> tuple[Policy, str, dict[str, Any], str]:
    props = changed(test_digitalocean_rules.HAPPY, "controlPlaneFirewall.allowedAddresses", cidrs)
    return digitalocean.DOKS_CONTROL_PLANE_FIREWALL, digitalocean.DOKS_CLUSTER, props, "prod-doks"


def _egress(cidrs: list[str]) -> tuple[Policy, str, dict[str, Any], str]:
    props = {
        "metadata": {"name": "allow-api"},
        "spec": {"egress": [{"to": [{"ipBlock": {"cidr": c}} for c in cidrs]}]},
    }
    return network.NETWORK_NO_EGRESS_EVERYWHERE, network.NETWORK_POLICY, props, "allow-api"


SETTERS: dict[str, Setter] = {"eks": _eks, "gke": _gke, "aks": _aks, "lke": _lke, "doks": _doks, "egress": _egress}


def _run(setter: Setter, cidrs: list[str]) -> list[str]:
    policy, resource_type, props, name = setter(cidrs)
    return violations(policy, resource_args(resource_type, props, name=name))


@pytest.mark.parametrize("cidrs", list(WORLDS.values()), ids=list(WORLDS))
@pytest.mark.parametrize("setter", list(SETTERS.values()), ids=list(SETTERS))
def test_the_world_in_any_spelling_is_the_world(setter: Setter, cidrs: list[str]) -> None:
    found = _run(setter, cidrs)
    assert len(found) == 1, found
    assert " open to " in found[0] or " allows " in found[0]


@pytest.mark.parametrize("cidrs", list(ALLOW_LISTS.values()), ids=list(ALLOW_LISTS))
@pytest.mark.parametrize("setter", list(SETTERS.values()), ids=list(SETTERS))
def test_real_allow_lists_pass_quickly(setter: Setter, cidrs: list[str]) -> None:
    started = time.perf_counter()
    assert _run(setter, cidrs) == []
    assert time.perf_counter() - started < 2.0


def test_the_message_says_what_the_union_covers() -> None:
    assert _run(_eks, HALVES) == [
        "EKS cluster 'prod-eks' has a public API endpoint open to all of IPv4 (0.0.0.0/1, 128.0.0.0/1) "
        "(vpcConfig.publicAccessCidrs)"
    ]
    assert _run(_aks, ["128.0.0.0/1"]) == [
        "AKS cluster 'prod-aks' has a public API server open to 43% of public IPv4 (128.0.0.0/1) "
        "(apiServerAccessProfile.authorizedIPRanges)"
    ]
    assert _run(_doks, ["::/1", "8000::/1"]) == [
        "DOKS cluster 'prod-doks' control-plane firewall allows all of IPv6 (::/1, 8000::/1) "
        "(controlPlaneFirewall.allowedAddresses)"
    ]
    assert _run(_egress, EVERY_SLASH_8) == [
        "NetworkPolicy 'allow-api' allows egress to all of IPv4 (0.0.0.0/8, 1.0.0.0/8, 2.0.0.0/8, 3.0.0.0/8 "
        "and 252 more)"
    ]


def test_lke_judges_the_union_of_every_acl_block() -> None:
    blocks = [{"ipv4s": [f"{16 * i}.0.0.0/4"], "ipv6s": []} for i in range(16)]  # each /4 is under 1/8
    props = changed(test_linode_rules.HAPPY, "controlPlane.acl.addresses", blocks)
    found = violations(linode.LKE_CONTROL_PLANE_ACL, resource_args(linode.LKE_CLUSTER, props, name="prod-lke"))
    assert found == [
        "LKE cluster 'prod-lke' control-plane ACL allows all of IPv4 (0.0.0.0/4, 16.0.0.0/4, 32.0.0.0/4, "
        "48.0.0.0/4 and 12 more) (controlPlane.acl.addresses)"
    ]


def _policy(egress: list[dict[str, Any]]) -> list[str]:
    props = {"metadata": {"name": "allow-api"}, "spec": {"egress": egress}}
    return violations(network.NETWORK_NO_EGRESS_EVERYWHERE, resource_args(network.NETWORK_POLICY, props))


def test_egress_is_the_union_of_every_rule_and_peer() -> None:
    split = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/1"}}]}, {"to": [{"ipBlock": {"cidr": "128.0.0.0/1"}}]}]
    assert _policy(split) == ["NetworkPolicy 'allow-api' allows egress to all of IPv4 (0.0.0.0/1, 128.0.0.0/1)"]


def test_egress_except_is_subtracted_before_judging() -> None:
    most = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]
    assert len(_policy(most)) == 1  # the whole internet minus a private block is still the internet
    only_reserved = ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3"]
    none = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": only_reserved}}]}]
    assert _policy(none) == []  # what is left is multicast and reserved space


def test_an_egress_rule_without_peers_allows_every_destination() -> None:
    assert _policy([{"ports": [{"port": 443, "protocol": "TCP"}]}]) == [
        "NetworkPolicy 'allow-api' allows egress to every destination (spec.egress[0] has no `to`)"
    ]
    selector_only = [{"to": [{"namespaceSelector": {}}]}]
    assert _policy(selector_only) == []


def test_the_pack_runtime_finds_the_shared_helper() -> None:
    """`pulumi preview --policy-pack policies` runs with the pack directory on sys.path, `rules` top-level."""
    code = (
        "import sys; sys.path.insert(0, 'policies'); import rules, rules.network as n; "
        "assert n.open_to_world(['0.0.0.0/1', '128.0.0.0/1']); print(n.read_cidr.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "netranges"

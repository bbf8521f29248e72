"""Address blocks: deterministic per name, never overlapping, clear of vendor-reserved ranges."""

from __future__ import annotations

import ipaddress
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgefleet.components.config import ConfigError, parse_fleet
from edgefleet.components.config.addressing import (
    RESERVED,
    AddressSpaceFull,
    allocate,
    block_count,
    nth_address,
    nth_subnet,
    overlaps,
    plan_for,
    preferred_block,
)
from edgefleet.policies import netranges

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)


def test_every_block_is_clear_of_reserved_ranges_and_of_every_other_block() -> None:
    plans = [plan_for(b) for b in range(block_count())]
    assert block_count() == 480
    assert overlaps(plans) == []
    for plan in plans:
        for cidr in (plan.network, plan.pods, plan.services):
            net = ipaddress.IPv4Network(cidr)
            assert not any(net.overlaps(r) for r in RESERVED), cidr
    first = plan_for(0)
    assert (first.network, first.pods, first.services) == ("10.0.0.0/17", "100.64.0.0/19", "172.16.0.0/21")


def test_a_cluster_keeps_its_block_when_other_clusters_come_and_go() -> None:
    fleet = ["aws-eu-central-1", "gcp-europe-west3", "azure-westeurope", "linode-de-fra-2", "digitalocean-fra1"]
    before = allocate(fleet)
    assert {p.block for p in before.values()} == {preferred_block(n) for n in fleet}  # no collision here
    grown = allocate([*fleet, "aws-us-east-1"])
    shrunk = allocate(fleet[1:])
    for name in fleet[1:]:
        assert grown[name] == before[name] == shrunk[name]


def test_collisions_probe_to_the_next_free_block_in_name_order() -> None:
    # Find two names that want the same block (deterministic search).
    seen: dict[int, str] = {}
    pair = None
    for i in range(10_000):
        name = f"c{i}"
        block = preferred_block(name)
        if block in seen:
            pair = (seen[block], name)
            break
        seen[block] = name
    assert pair is not None
    first, second = sorted(pair)
    plans = allocate([second, first])
    assert plans[first].block == preferred_block(first)
    assert plans[second].block == (preferred_block(first) + 1) % block_count()


def test_pinned_blocks_win_and_bad_pins_are_errors() -> None:
    name = "aws-eu-central-1"
    squatter = next(f"x{i}" for i in range(10_000) if preferred_block(f"x{i}") == 5)
    plans = allocate([name, squatter], pinned={name: 5})
    assert plans[name].block == 5
    assert plans[squatter].block == 6
    with pytest.raises(ValueError, match="out of range"):
        allocate([name], pinned={name: block_count()})
    with pytest.raises(ValueError, match="both pin block 3"):
        allocate(["a", "b"], pinned={"a": 3, "b": 3})
    with pytest.raises(AddressSpaceFull, match="at most 480"):
        allocate([f"c{i}" for i in range(block_count() + 1)])


@given(st.sets(NAMES, min_size=1, max_size=60))
def test_any_fleet_gets_distinct_non_overlapping_deterministic_blocks(names: set[str]) -> None:
    plans = allocate(sorted(names))
    assert allocate(sorted(names, reverse=True)) == plans
    assert set(plans) == names
    assert len({p.block for p in plans.values()}) == len(names)
    assert overlaps(plans.values()) == []


def test_subnet_and_address_helpers() -> None:
    assert nth_subnet("10.0.0.0/17", 20, 1) == "10.0.16.0/20"
    assert nth_address("172.16.0.0/21", 10) == "172.16.0.10"
    with pytest.raises(ValueError, match="no /20 number 8"):
        nth_subnet("10.0.0.0/17", 20, 8)


# Issue 13 items 6 and 8: one strict reader for config ranges, coverage by arithmetic (policies/netranges.py).


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("10.0.0.1", "write 10.0.0.1/32 for this one address"),
        ("fe80::%eth0/64", "remove the zone (fe80::/64)"),
        ("0.0.0.0/00", "without leading zeros; write 0.0.0.0/0"),
        (" 0.0.0.0/0", "remove the whitespace (0.0.0.0/0)"),
        ("10.0.0.1/8", "write 10.0.0.0/8 for the network, or 10.0.0.1/32 for the one address"),
        ("::ffff:0:0/96", "write the IPv4 range 0.0.0.0/0"),
        ("::0.0.0.0/96", "an IPv4-compatible (::/96, deprecated) IPv6 range means IPv4 addresses"),
        ("::10.0.0.0/104", "write the IPv4 range 10.0.0.0/8"),
        ("::ffff:0:0:0/96", "an IPv4-translated (::ffff:0:0:0/96) IPv6 range means IPv4 addresses"),
        ("192.0.2.0/255.255.255.0", "write 192.0.2.0/24"),
        ("10.0.0.0/33", "at most 32 for IPv4"),
        ("010.0.0.0/8", "is not an IPv4 or IPv6 address"),
    ],
)
def test_the_config_refuses_ranges_other_parsers_read_differently(text: str, fix: str) -> None:
    with pytest.raises(netranges.CidrError) as caught:
        netranges.parse_cidr(text)
    assert str(caught.value).startswith(f"{text!r} is not a network in CIDR form: ")
    assert fix in str(caught.value)
    assert "\n" not in str(caught.value)


def test_ipv6_ranges_that_reach_ipv4_count_as_the_ipv4_they_reach() -> None:
    reached = {
        "2001::/32": "0.0.0.0/0",  # Teredo: any client
        "2001:0:102:304:0:ffff:f7f7:f7fe/128": "8.8.8.1/32",  # Teredo client address, stored inverted
        "64:ff9b:1::/48": "0.0.0.0/0",  # NAT64 local-use: a /96 inside it holds all of IPv4
        "64:ff9b:1:2::a00:0/104": "10.0.0.0/8",
        "2002:a00::/24": "10.0.0.0/8",  # 6to4
    }
    for text, v4 in reached.items():
        network = netranges.read_cidr(text)
        assert isinstance(network, ipaddress.IPv6Network)
        assert [str(n) for n in netranges.ipv4_reached(network)] == [v4], text


def test_ipv6_spellings_normalise_to_one_canonical_text() -> None:
    assert netranges.canonical("0::0/0") == "::/0"
    assert netranges.canonical("2001:DB8:0:0::/32") == "2001:db8::/32"
    assert netranges.canonical("10.42.0.0/16") == "10.42.0.0/16"


def test_pod_ranges_must_be_private_ipv4_of_a_size_a_cni_can_split() -> None:
    assert netranges.is_private_v4(netranges.parse_cidr("100.64.0.0/10"))
    assert netranges.is_private_v4(netranges.parse_cidr("172.20.0.0/16"))
    assert not netranges.is_private_v4(netranges.parse_cidr("0.0.0.0/0"))
    assert not netranges.is_private_v4(netranges.parse_cidr("172.0.0.0/8"))  # wider than 172.16.0.0/12
    assert not netranges.is_private_v4(netranges.parse_cidr("fd00::/8"))


def _fleet(**workload: object) -> dict[str, object]:
    return {
        "environment": "dev",
        "owner": "platform-team",
        "clusters": [
            {"vendor": "existing", "name": "shop-1", "location": {"city": "Berlin", "country": "DE"}},
        ],
        "workloads": [{"name": "api", "image": "ghcr.io/acme/api:1.0.0", "port": 8080, **workload}],
    }


def test_the_config_stores_canonical_ranges_and_judges_coverage_by_arithmetic() -> None:
    spec = parse_fleet(_fleet(egress_cidrs=["2001:DB8::/32", "10.0.0.0/8"]))
    assert spec.workloads[0].spec.egress_cidrs == ("2001:db8::/32", "10.0.0.0/8")
    for world in (["0.0.0.0/1", "128.0.0.0/1"], ["::/1", "8000::/1"], [f"{i}.0.0.0/8" for i in range(256)]):
        with pytest.raises(ConfigError, match="open to the world"):
            parse_fleet(_fleet(egress_cidrs=world))
    with pytest.raises(ConfigError, match="listed twice"):
        parse_fleet(_fleet(egress_cidrs=["::/0", "0::0/0"]))
    assert parse_fleet(_fleet(egress_cidrs=["0.0.0.0/0"])).workloads[0].spec.egress_cidrs == ("0.0.0.0/0",)


def test_ten_thousand_host_ranges_are_quick() -> None:
    hosts = [f"198.{18 + i // 65536}.{i // 256 % 256}.{i % 256}/32" for i in range(10_000)]
    started = time.perf_counter()
    spec = parse_fleet(_fleet(egress_cidrs=hosts))
    assert len(spec.workloads[0].spec.egress_cidrs) == 10_000
    assert netranges.world_exposure(hosts) == ([], [])
    assert time.perf_counter() - started < 5.0

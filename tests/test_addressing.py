"""Address blocks: deterministic per name, never overlapping, clear of vendor-reserved ranges."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.config.addressing import (
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

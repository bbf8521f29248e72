"""Fleet-wide rules in a slice (one stack of many): a slice's own resources show part of each
placement, so vendor diversity, multi-location and DNS health checks read the whole fleet's
placements that the slice's Fleet component declares (``edgefleet.components.fleet.slice_facts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from edgefleet.check import check, load_pack_config
from edgefleet.components.config import read_stack_file
from edgefleet.components.config.slices import load_sliced
from edgefleet.engine import run_program
from edgefleet.policies.rules import ALL_POLICIES
from edgefleet.policies.rules.fleet import FLEET_VENDOR_DIVERSITY
from edgefleet.policies.rules.traffic import TRAFFIC_PUBLIC_HEALTH_CHECK, TRAFFIC_PUBLIC_MULTI_LOCATION
from tests.conftest import REPO, STACKS
from tests.policies.harness import Stack, violations

FLEET = "edgefleet:index:Fleet"
CLUSTER = "edgefleet:index:ExistingCluster"
EDGE = "edgefleet:index:EdgeWorkload"
STEERING = "edgefleet:index:DnsSteering"
RECORD = "aws:route53/record:Record"


def _slice_stack(
    locations: Sequence[tuple[str, str]],
    local: Sequence[str],
    *,
    min_vendors: int = 1,
    global_slice: bool = False,
    steered: Sequence[str] = (),
) -> Stack:
    """A slice of a fleet where workload `web` runs in ``locations`` (cluster, vendor); this stack
    deploys ``local`` of them, and, as the global slice, steers DNS to ``steered``."""
    stack = Stack()
    placement: dict[str, Any] = {
        "workload": "web",
        "expose": "public",
        "minVendors": min_vendors,
        "hostname": "web.example.com",
        "locations": [{"cluster": c, "vendor": v} for c, v in locations],
    }
    stack.add(
        FLEET,
        "fleet",
        {"slice": {"stack": "s", "global": global_slice, "clusters": list(local)}, "placements": [placement]},
    )
    vendors = dict(locations)
    for cluster in local:
        stack.add(CLUSTER, cluster, {"name": cluster, "vendor": vendors[cluster], "country": "DE"})
        stack.add(
            EDGE,
            f"web-{cluster}",
            {
                "workload": "web",
                "cluster": cluster,
                "expose": "public",
                "minVendors": min_vendors,
                "probePath": "/healthz",
                "requires": [],
            },
        )
    if global_slice:
        steering = stack.add(
            STEERING, "web-dns", {"workload": "web", "hostname": "web.example.com", "provider": "route53"}
        )
        for cluster in steered:
            stack.add(
                RECORD,
                f"web-dns-{cluster}-geoproximity",
                {
                    "setIdentifier": cluster,
                    "healthCheckId": f"hc-{cluster}",
                    "type": "CNAME",
                    "geoproximityRoutingPolicy": {"awsRegion": f"region-of-{cluster}", "bias": 0},  # a place each
                },
                parent=steering,
            )
    return stack


TWO_VENDORS = (("a-1", "aws"), ("b-1", "linode"))


def test_vendor_diversity_counts_the_whole_fleet_in_a_slice() -> None:
    # This slice deploys only the aws location; the fleet also runs it on linode: 2 vendors.
    assert violations(FLEET_VENDOR_DIVERSITY, _slice_stack(TWO_VENDORS, ["a-1"], min_vendors=2).args()) == []
    one_vendor = (("a-1", "aws"), ("a-2", "aws"))
    assert violations(FLEET_VENDOR_DIVERSITY, _slice_stack(one_vendor, ["a-1"], min_vendors=2).args()) == [
        "workload 'web' runs on 1 vendor(s) (aws), fewer than its min_vendors 2 @ web-a-1"
    ]


def test_multi_location_counts_the_whole_fleet_in_a_slice() -> None:
    assert violations(TRAFFIC_PUBLIC_MULTI_LOCATION, _slice_stack(TWO_VENDORS, ["a-1"]).args()) == []
    lonely = (("a-1", "aws"),)
    assert violations(TRAFFIC_PUBLIC_MULTI_LOCATION, _slice_stack(lonely, ["a-1"]).args()) == [
        "public workload 'web' runs in one location only ('a-1'): users have nowhere to go when it fails @ web-a-1"
    ]


def test_the_global_slice_checks_every_location_it_steers() -> None:
    complete = _slice_stack(TWO_VENDORS, [], global_slice=True, steered=["a-1", "b-1"])
    assert violations(TRAFFIC_PUBLIC_HEALTH_CHECK, complete.args()) == []
    gap = _slice_stack(TWO_VENDORS, [], global_slice=True, steered=["a-1"])
    assert violations(TRAFFIC_PUBLIC_HEALTH_CHECK, gap.args()) == [
        "public workload 'web' in 'b-1' is not health-checked by DNS steering for 'web.example.com': no Route 53 "
        "geoproximity record with set identifier 'b-1' @ web-dns"
    ]


def test_a_regional_slice_is_not_faulted_for_dns_it_does_not_hold() -> None:
    assert violations(TRAFFIC_PUBLIC_HEALTH_CHECK, _slice_stack(TWO_VENDORS, ["a-1"]).args()) == []


@pytest.mark.parametrize("stack", ["retail-asia", "retail-europe", "retail-global", "retail-north-america"])
def test_every_example_slice_passes_the_whole_pack(stack: str) -> None:
    source = read_stack_file(STACKS / f"Pulumi.{stack}.yaml", REPO)
    load_sliced(source, REPO)
    report = check(run_program(REPO, source), source, REPO, ALL_POLICIES, load_pack_config(REPO / "missing.json"))
    assert [(v.rule, v.message) for v in report.violations] == []

"""Issue 7 end to end on the prod example: DNS records per placed location, rollout waves in the
plan, and the dependency edges that make a failing canary stop a release."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from edgefleet.check import evaluate
from edgefleet.components.config.model import FleetSpec
from edgefleet.engine import ProgramRun
from edgefleet.plan import build_plan, dumps
from edgefleet.policies.rules.traffic import TRAFFIC_PUBLIC_HEALTH_CHECK
from tests.conftest import REPO, plan_text

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@cache
def _run() -> tuple[FleetSpec, ProgramRun]:
    return plan_text((REPO / "stacks" / "Pulumi.prod.yaml").read_text(), stack="prod")


@cache
def _plan() -> dict[str, Any]:
    return build_plan(*_run())


def _deployments(plan: dict[str, Any], workload: str) -> dict[str, dict[str, Any]]:
    """cluster -> the workload's Deployment resource entry."""
    out = {}
    for r in plan["resources"]:
        if r["type"] == DEPLOYMENT and r["inputs"]["metadata"]["namespace"] == workload:
            cluster = r["name"].removeprefix(f"{workload}-").removesuffix("-deployment")
            out[cluster] = r
    return out


def _waits_on(plan: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    """The Deployments ``resource`` depends on."""
    deployments = {r["urn"] for r in plan["resources"] if r["type"] == DEPLOYMENT}
    return [urn for urn in resource["dependencies"] if urn in deployments]


def test_every_placed_location_of_a_steered_workload_has_a_record_and_a_health_check() -> None:
    plan = _plan()
    by_workload = {d["workload"]: d for d in plan["dns"]}
    assert set(by_workload) == {"api", "catalog"}  # the public workloads; inventory-sync is internal
    resources = {r["urn"]: r for r in plan["resources"]}
    for placement in plan["placements"]:
        dns = by_workload.get(placement["workload"])
        if dns is None:
            continue
        assert dns["hostname"] == placement["hostname"]
        assert [r["cluster"] for r in dns["records"]] == sorted(loc["cluster"] for loc in placement["locations"])
        for record in dns["records"]:
            routed = resources[record["record"]]["inputs"]
            check = resources[record["health_check"]]["inputs"]
            assert routed["type"] == "CNAME"
            assert routed["name"] == dns["hostname"]
            assert routed["setIdentifier"] == record["cluster"]
            assert record["routing"] == "geoproximity"
            assert routed["geoproximityRoutingPolicy"] == record["geoproximity"]
            assert "latencyRoutingPolicies" not in routed
            assert routed["records"] == [record["address"]["name"]]
            assert check["resourcePath"] == dns["health_check"]["path"]
            assert check["type"] == "HTTP"
            assert check["requestInterval"] == 30
            assert check["failureThreshold"] == 3
            # AWS load balancers answer with a hostname (CNAME); the others with an address (A).
            assert record["address"]["type"] == ("CNAME" if record["cluster"].startswith("aws-") else "A")
    for dns in plan["dns"]:  # one place per record of a name: no two share a region or coordinates
        places = [json.dumps(r["geoproximity"], sort_keys=True) for r in dns["records"]]
        assert len(set(places)) == len(places), dns["workload"]


def test_the_plan_shows_how_each_location_is_routed() -> None:
    """Issue 13, item 11: AWS locations by their own region, every other location by its coordinates."""
    plan = _plan()
    vendors = {c["name"]: c["vendor"] for c in plan["clusters"]}
    locations = {c["name"]: c["location"] for c in plan["clusters"]}
    regions = {c["name"]: c["region"] for c in plan["clusters"]}
    seen = set()
    for dns in plan["dns"]:
        for record in dns["records"]:
            cluster = record["cluster"]
            seen.add(vendors[cluster])
            assert record["routing"] == "geoproximity"
            if vendors[cluster] == "aws":
                assert record["geoproximity"] == {"awsRegion": regions[cluster], "bias": 0}
                assert record["regions"] == [regions[cluster]]
            else:
                here = locations[cluster]
                assert record["geoproximity"] == {
                    "bias": 0,
                    "coordinates": [{"latitude": f"{here['lat']:.2f}", "longitude": f"{here['lon']:.2f}"}],
                }
                assert record["regions"] == []
    assert "aws" in seen
    assert seen - {"aws"}  # the prod example steers to AWS and to other vendors and edge sites


def test_the_health_check_rule_passes_for_the_geoproximity_records() -> None:
    """traffic-public-health-check over the real program's records: one geoproximity record with a
    health check per steered location, and the plan is the same bytes twice."""
    _, run = _run()
    _, found, skipped = evaluate(run, [TRAFFIC_PUBLIC_HEALTH_CHECK], {})
    assert (found, skipped) == ([], [])
    assert dumps(_plan()) == dumps(build_plan(*plan_text((REPO / "stacks" / "Pulumi.prod.yaml").read_text(), "prod")))


def test_non_canary_deployments_depend_on_the_canary_and_waves_are_in_the_plan() -> None:
    plan = _plan()
    placements = {p["workload"]: p for p in plan["placements"]}
    catalog = placements["catalog"]
    assert catalog["waves"] == [
        ["gcp-europe-west3"],
        ["aws-us-east-1"],
        ["azure-japaneast", "gcp-autopilot-asia-south1"],
    ]
    assert {loc["cluster"]: loc["wave"] for loc in catalog["locations"]} == {
        "gcp-europe-west3": 0,
        "aws-us-east-1": 1,
        "azure-japaneast": 2,
        "gcp-autopilot-asia-south1": 2,
    }
    deployments = _deployments(plan, "catalog")
    canary = deployments["gcp-europe-west3"]["urn"]
    assert _waits_on(plan, deployments["gcp-europe-west3"]) == []
    for cluster in ("aws-us-east-1", "azure-japaneast", "gcp-autopilot-asia-south1"):
        assert canary in deployments[cluster]["dependencies"], cluster
    for cluster in ("azure-japaneast", "gcp-autopilot-asia-south1"):
        assert deployments["aws-us-east-1"]["urn"] in deployments[cluster]["dependencies"]
    api = _deployments(plan, "api")
    assert api["edge-paris-01"]["urn"] in api["edge-frankfurt-01"]["dependencies"]
    # A workload without rollout: one wave, no Deployment waits for another.
    sync = _deployments(plan, "inventory-sync")
    assert all(_waits_on(plan, r) == [] for r in sync.values())
    assert "waves" not in placements["inventory-sync"]


def test_each_public_location_and_dns_name_is_a_stack_output() -> None:
    outputs = _plan()["outputs"]
    assert outputs["hostnames"] == {"api": "api.edge.acme.example", "catalog": "catalog.edge.acme.example"}
    assert set(outputs["endpoints"]) == {"api", "catalog"}  # public workloads only
    assert set(outputs["endpoints"]["catalog"]) == {
        "aws-us-east-1",
        "azure-japaneast",
        "gcp-autopilot-asia-south1",
        "gcp-europe-west3",
    }
    assert all(address.startswith("203.0.113.") for address in outputs["endpoints"]["api"].values())

"""DNS steering (``components/traffic/dns.py``) under the mock engine: Route 53 geoproximity records
with health checks (AWS locations by their region, edge sites by their coordinates), and
Cloudflare geo load balancing with a monitor and a pool per location. Inputs are checked by their
wire names, as the engine (and the policy pack) sees them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_cloudflare
import pytest
from pulumi.runtime import MockResourceArgs
from pulumi_aws.provider import Provider as AwsProvider
from pulumi_aws.provider import ProviderArgs as AwsProviderArgs

from edgefleet import mocks
from edgefleet.components.config.geoproximity import coordinates
from edgefleet.components.config.model import DnsProvider, HealthCheckSpec, TrafficSpec
from edgefleet.components.traffic import (
    CLOUDFLARE_REGIONS,
    DnsSteering,
    GeoproximityLocation,
    ResolvedSteeringArgs,
    SteeredLocation,
    SteeringError,
    cloudflare_region_pools,
    coordinate,
    geoproximity_location,
    geoproximity_locations,
    record_type,
)
from edgefleet.components.traffic.dns import central_order, steering_args
from edgefleet.engine import ProgramRun, Registration, run_under_mocks
from edgefleet.mock_outputs import route53_cloudflare
from edgefleet.mock_outputs.common import stable_hex, stable_uuid
from tests.conftest import REPO

ZONE = "edge.example.com"
HOSTNAME = f"api.{ZONE}"
ROUTE53_ZONE_ID = "Z0123456789ABCDEFGHIJ"
CLOUDFLARE_ZONE_ID = "0123456789abcdef0123456789abcdef"
ACCOUNT_ID = "fedcba9876543210fedcba9876543210"
TAGS = {"owner": "platform-team", "environment": "prod", "cost-center": "cc-42"}
NAME = "api-dns"
PORT = 8080
ELB = "k8s-edge-api-0a1b2c3d4e-0123456789abcdef.elb.us-east-1.amazonaws.com"

HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"

# One location per kind of endpoint: an AWS load balancer's host name, a GCP load balancer IP, and
# an existing cluster's load balancer IP.
LOCATIONS = (
    SteeredLocation("virginia", "aws", 39.0437, -77.4875, ELB, PORT, region="us-east-1"),
    SteeredLocation("frankfurt", "gcp", 50.1109, 8.6821, "198.51.100.10", PORT, region="europe-west3"),
    SteeredLocation("singapore-dc", "existing", 1.3521, 103.8198, "203.0.113.20", PORT, region="sg-singapore"),
)
TARGETS = {loc.cluster: loc.target for loc in LOCATIONS}
CLUSTERS = sorted(TARGETS)
# Route 53 geoproximity: the AWS cluster by its region, the others by coordinates (two decimals).
GEOPROXIMITY = {
    "virginia": {"awsRegion": "us-east-1", "bias": 0},
    "frankfurt": {"coordinates": [{"latitude": "50.11", "longitude": "8.68"}], "bias": 0},
    "singapore-dc": {"coordinates": [{"latitude": "1.35", "longitude": "103.82"}], "bias": 0},
}
REGIONS = {"virginia": ["us-east-1"], "frankfurt": [], "singapore-dc": []}

# Issue 13, item 11: a shop in Kraków beside EKS in Frankfurt and Zurich. Under latency routing
# Kraków had to borrow an AWS region and got eu-central-2 (Zurich), so Polish users went to Frankfurt.
KRAKOW = SteeredLocation("shop-krakow", "existing", 50.0647, 19.9450, "203.0.113.30", PORT, region="pl-krakow")
FRANKFURT = SteeredLocation("eks-frankfurt", "aws", 50.1109, 8.6821, ELB, PORT, region="eu-central-1")
ZURICH = SteeredLocation("eks-zurich", "aws", 47.3769, 8.5417, ELB, PORT, region="eu-central-2")
CENTRAL_EUROPE = (KRAKOW, FRANKFURT, ZURICH)


@dataclass
class Steered:
    """One DnsSteering built under mocks, and what it registered."""

    run: ProgramRun
    component: DnsSteering

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.run.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        found = [r for r in self.run.registrations if r.name == name]
        assert len(found) == 1, f"expected one registration named {name}, found {len(found)}"
        return found[0]

    def inputs_by_name(self) -> dict[str, Mapping[str, Any]]:
        return {r.name: r.inputs for r in self.run.registrations}


@contextmanager
def dns_mocks() -> Iterator[None]:
    """The DNS mock outputs, whether or not ``edgefleet/mock_outputs/__init__`` merges them yet."""
    with pytest.MonkeyPatch.context() as patch:
        for token, mock in route53_cloudflare.RESOURCES.items():
            patch.setitem(mocks.RESOURCES, token, mock)
        yield


@pytest.fixture(autouse=True)
def _dns_mocks() -> Iterator[None]:
    with dns_mocks():
        yield


def traffic(provider: DnsProvider, *, ttl: int = 60, health_check: HealthCheckSpec | None = None) -> TrafficSpec:
    route53 = provider is DnsProvider.ROUTE53
    return TrafficSpec(
        provider=provider,
        zone=ZONE,
        zone_id=ROUTE53_ZONE_ID if route53 else CLOUDFLARE_ZONE_ID,
        account_id=None if route53 else ACCOUNT_ID,
        ttl=ttl,
        health_check=health_check or HealthCheckSpec(),
    )


def steer(spec: TrafficSpec, locations: Sequence[SteeredLocation] = LOCATIONS, hostname: str = HOSTNAME) -> Steered:
    """Build a DnsSteering for ``api`` with the fleet's DNS provider, under the mock engine."""
    made: dict[str, DnsSteering] = {}

    def program() -> None:
        provider: pulumi.ProviderResource
        if spec.provider is DnsProvider.ROUTE53:
            provider = AwsProvider("dns-aws", AwsProviderArgs(region="us-east-1"))
        else:
            provider = pulumi_cloudflare.Provider("dns-cloudflare", pulumi_cloudflare.ProviderArgs())
        made["dns"] = DnsSteering(
            NAME,
            steering_args(
                ResolvedSteeringArgs(
                    traffic=spec,
                    workload="api",
                    hostname=hostname,
                    probe_path="/healthz",
                    locations=locations,
                    provider=provider,
                    tags=TAGS,
                )
            ),
            pulumi.ResourceOptions(provider=provider),
        )

    run = run_under_mocks(program, stack="prod", project_dir=REPO)
    return Steered(run=run, component=made["dns"])


@pytest.fixture(scope="module")
def route53() -> Steered:
    with dns_mocks():
        return steer(traffic(DnsProvider.ROUTE53))


@pytest.fixture(scope="module")
def cloudflare() -> Steered:
    with dns_mocks():
        return steer(traffic(DnsProvider.CLOUDFLARE))


def mock_id(type_: str, name: str) -> str:
    """The id the DNS mocks give a resource (health checks: a UUID; Cloudflare: 32 hex)."""
    return stable_uuid(type_, name) if type_ == HEALTH_CHECK else stable_hex(32, type_, name)


# --- pure helpers ---------------------------------------------------------------------------------


def test_record_type_is_cname_only_for_aws_load_balancers() -> None:
    assert record_type("aws") == "CNAME"
    for vendor in ("gcp", "azure", "linode", "digitalocean", "existing"):
        assert record_type(vendor) == "A"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (50.0647, "50.06"),
        (19.945, "19.95"),  # 19.945 is stored as 19.94500000000000028...: rounds up
        (-77.4875, "-77.49"),
        (8.6821, "8.68"),
        (0.0, "0.00"),
        (-0.001, "0.00"),  # never "-0.00"
        (90.0, "90.00"),
        (-90.0, "-90.00"),
        (-180.0, "-180.00"),
        (179.999, "180.00"),
    ],
)
def test_coordinates_are_strings_route53_accepts(value: float, text: str) -> None:
    assert coordinate(value) == text
    # The Coordinates API type: latitude `[-+]?[0-9]{1,2}(\.[0-9]{0,2})?` (length <= 6), longitude
    # `[-+]?[0-9]{1,3}(\.[0-9]{0,2})?` (length <= 7).
    assert re.fullmatch(r"[-+]?[0-9]{1,3}(\.[0-9]{0,2})?", text)
    assert len(text) <= 7


def test_an_aws_location_is_placed_by_its_region_every_other_by_its_coordinates() -> None:
    assert geoproximity_location(FRANKFURT) == GeoproximityLocation(aws_region="eu-central-1")
    assert geoproximity_location(KRAKOW) == GeoproximityLocation(latitude="50.06", longitude="19.95")
    for vendor in ("gcp", "azure", "linode", "digitalocean", "existing"):
        place = geoproximity_location(replace(KRAKOW, vendor=vendor))
        assert (place.aws_region, place.latitude, place.longitude, place.bias) == (None, "50.06", "19.95", 0)


def test_krakow_frankfurt_and_zurich_each_have_a_place_of_their_own() -> None:
    places = geoproximity_locations(CENTRAL_EUROPE)
    assert places == {
        "eks-frankfurt": GeoproximityLocation(aws_region="eu-central-1"),
        "eks-zurich": GeoproximityLocation(aws_region="eu-central-2"),
        "shop-krakow": GeoproximityLocation(latitude="50.06", longitude="19.95"),
    }
    assert len({p.place for p in places.values()}) == 3


def test_an_aws_location_without_its_region_is_refused() -> None:
    with pytest.raises(SteeringError, match="eks-frankfurt: an AWS location needs its region"):
        geoproximity_location(replace(FRANKFURT, region=None))


@pytest.mark.parametrize(("lat", "lon"), [(90.5, 0.0), (-91.0, 0.0), (0.0, 180.5), (0.0, -181.0)])
def test_coordinates_outside_the_earth_are_refused(lat: float, lon: float) -> None:
    with pytest.raises(SteeringError, match=re.escape("outside -90..90, -180..180")):
        geoproximity_location(replace(KRAKOW, lat=lat, lon=lon))


@pytest.mark.parametrize(
    ("second", "place"),
    [
        (replace(FRANKFURT, cluster="eks-frankfurt-2"), "AWS region eu-central-1"),
        # 2 m from the shop: the same coordinates at two decimals.
        (replace(KRAKOW, cluster="shop-krakow-2", lat=50.06472, lon=19.94502), "coordinates 50.06,19.95"),
    ],
)
def test_two_locations_at_one_place_are_refused(second: SteeredLocation, place: str) -> None:
    """Route 53 could not tell them apart: one of them would never be the nearest."""
    with pytest.raises(SteeringError, match=re.escape(f"are both at {place}")):
        geoproximity_locations([*CENTRAL_EUROPE, second])


def test_a_steering_error_is_a_run_error_and_a_value_error() -> None:
    """``edgefleet plan`` prints a RunError as one line (exit 2); library callers catch ValueError."""
    assert issubclass(SteeringError, pulumi.RunError)
    assert issubclass(SteeringError, ValueError)


def test_cloudflare_region_pools_list_every_location_nearest_first() -> None:
    pools = cloudflare_region_pools(LOCATIONS)
    assert list(pools) == list(CLOUDFLARE_REGIONS)
    assert len(pools) == 13
    for clusters in pools.values():
        assert sorted(clusters) == CLUSTERS
    nearest = {region: clusters[0] for region, clusters in pools.items()}
    assert nearest["WNAM"] == nearest["ENAM"] == nearest["NSAM"] == nearest["SSAM"] == "virginia"
    assert nearest["WEU"] == nearest["EEU"] == nearest["NAF"] == nearest["ME"] == "frankfurt"
    assert nearest["SEAS"] == nearest["NEAS"] == nearest["OC"] == nearest["SAS"] == "singapore-dc"
    assert pools["WEU"] == ("frankfurt", "virginia", "singapore-dc")


def test_central_order_puts_the_most_central_location_first() -> None:
    order = central_order(LOCATIONS)
    assert sorted(order) == CLUSTERS
    assert order[0] == "frankfurt"


# --- Route 53 -------------------------------------------------------------------------------------


def test_route53_registers_a_health_check_and_two_records_per_location(route53: Steered) -> None:
    assert len(route53.of_type(HEALTH_CHECK)) == 3
    assert len(route53.of_type(RECORD)) == 6
    assert not route53.of_type(POOL)
    assert sorted(route53.component.records) == CLUSTERS
    assert sorted(route53.component.health_checks) == CLUSTERS
    assert sorted(route53.component.addresses) == CLUSTERS
    assert route53.component.load_balancer is None


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_route53_geoproximity_record_per_location(route53: Steered, cluster: str) -> None:
    record = route53.named(f"{NAME}-{cluster}-geoproximity")
    check = route53.named(f"{NAME}-{cluster}-health")
    assert dict(record.inputs) == {
        "zoneId": ROUTE53_ZONE_ID,
        "name": HOSTNAME,
        "type": "CNAME",
        "ttl": 60,
        "records": [f"{cluster}.{HOSTNAME}"],
        "setIdentifier": cluster,
        "geoproximityRoutingPolicy": GEOPROXIMITY[cluster],
        "healthCheckId": mock_id(HEALTH_CHECK, check.name),
    }
    assert check.urn in record.dependencies


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_route53_address_record_per_location(route53: Steered, cluster: str) -> None:
    address = route53.named(f"{NAME}-{cluster}-address")
    assert dict(address.inputs) == {
        "zoneId": ROUTE53_ZONE_ID,
        "name": f"{cluster}.{HOSTNAME}",
        "type": "CNAME" if cluster == "virginia" else "A",
        "ttl": 60,
        "records": [TARGETS[cluster]],
    }


def _group(built: Steered) -> list[Registration]:
    return [r for r in built.of_type(RECORD) if r.inputs["name"] == HOSTNAME]


def test_route53_group_is_one_type_and_one_routing_policy(route53: Steered) -> None:
    group = _group(route53)
    assert len(group) == 3
    assert {r.inputs["type"] for r in group} == {"CNAME"}
    assert sorted(r.inputs["setIdentifier"] for r in group) == CLUSTERS
    # One routing policy per name and type (Route 53 refuses a record of another policy beside them).
    assert all("geoproximityRoutingPolicy" in r.inputs and "latencyRoutingPolicies" not in r.inputs for r in group)
    # No plain record shares the steered name (Route 53 refuses one beside a routed group).
    assert all("setIdentifier" not in r.inputs for r in route53.of_type(RECORD) if r.inputs["name"] != HOSTNAME)


def test_krakow_frankfurt_and_zurich_are_each_routed_by_their_own_place() -> None:
    """Issue 13, item 11: no location borrows another's region; each record has its own place."""
    built = steer(traffic(DnsProvider.ROUTE53), locations=CENTRAL_EUROPE)
    group = {r.inputs["setIdentifier"]: r.inputs["geoproximityRoutingPolicy"] for r in _group(built)}
    assert group == {
        "eks-frankfurt": {"awsRegion": "eu-central-1", "bias": 0},
        "eks-zurich": {"awsRegion": "eu-central-2", "bias": 0},
        "shop-krakow": {"coordinates": [{"latitude": "50.06", "longitude": "19.95"}], "bias": 0},
    }
    places = [repr(sorted(policy.items())) for policy in group.values()]
    assert len(set(places)) == len(places)
    assert len(set(group)) == len(_group(built))  # set identifiers unique
    facts = built.named(NAME).inputs
    assert {loc["cluster"]: (loc["routing"], loc["regions"]) for loc in facts["locations"]} == {
        "eks-frankfurt": ("geoproximity", ["eu-central-1"]),
        "eks-zurich": ("geoproximity", ["eu-central-2"]),
        "shop-krakow": ("geoproximity", []),
    }


def test_two_locations_at_one_place_stop_the_program() -> None:
    twin = replace(ZURICH, cluster="eks-zurich-2")
    with pytest.raises(SteeringError, match="eks-zurich and eks-zurich-2 are both at AWS region eu-central-2"):
        steer(traffic(DnsProvider.ROUTE53), locations=(*CENTRAL_EUROPE, twin))


def test_cloudflare_needs_no_distinct_places() -> None:
    """Two pools at one place are fine for Cloudflare geo steering: health decides between them."""
    twin = replace(ZURICH, cluster="eks-zurich-2")
    built = steer(traffic(DnsProvider.CLOUDFLARE), locations=(*CENTRAL_EUROPE, twin))
    assert len(built.of_type(POOL)) == 4


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_route53_health_check_per_location(route53: Steered, cluster: str) -> None:
    check = route53.named(f"{NAME}-{cluster}-health").inputs
    endpoint = {"fqdn": ELB} if cluster == "virginia" else {"ipAddress": TARGETS[cluster]}
    assert dict(check) == {
        "type": "HTTP",
        **endpoint,
        "port": PORT,
        "resourcePath": "/healthz",
        "requestInterval": 30,
        "failureThreshold": 3,
        "tags": {
            "Name": f"api-{cluster}",
            "cost-center": "cc-42",
            "edgefleet-cluster": cluster,
            "edgefleet-workload": "api",
            "environment": "prod",
            "owner": "platform-team",
        },
    }


def test_route53_follows_the_health_check_config_and_ttl() -> None:
    spec = traffic(
        DnsProvider.ROUTE53, ttl=30, health_check=HealthCheckSpec(protocol="HTTPS", interval=10, failure_threshold=2)
    )
    built = steer(spec)
    for check in built.of_type(HEALTH_CHECK):
        assert (check.inputs["type"], check.inputs["requestInterval"], check.inputs["failureThreshold"]) == (
            "HTTPS",
            10,
            2,
        )
    assert {r.inputs["ttl"] for r in built.of_type(RECORD)} == {30}


def test_route53_component_members_are_the_registered_resources(route53: Steered) -> None:
    def name_of(resource: pulumi.Resource) -> str:
        return str(resource._name)  # type: ignore[attr-defined]

    for cluster in CLUSTERS:
        assert name_of(route53.component.records[cluster]) == f"{NAME}-{cluster}-geoproximity"
        assert name_of(route53.component.health_checks[cluster]) == f"{NAME}-{cluster}-health"
        assert name_of(route53.component.addresses[cluster]) == f"{NAME}-{cluster}-address"


def test_route53_component_facts_show_which_region_serves_which_location(route53: Steered) -> None:
    facts = route53.named(NAME).inputs
    assert facts["provider"] == "route53"
    assert facts["hostname"] == HOSTNAME
    assert facts["healthCheck"] == {"protocol": "HTTP", "path": "/healthz", "interval": 30, "failureThreshold": 3}
    assert {loc["cluster"]: loc["regions"] for loc in facts["locations"]} == REGIONS
    assert {loc["cluster"]: loc["routing"] for loc in facts["locations"]} == dict.fromkeys(CLUSTERS, "geoproximity")
    assert {loc["cluster"]: loc["geoproximity"] for loc in facts["locations"]} == GEOPROXIMITY


# --- Cloudflare -----------------------------------------------------------------------------------


def test_cloudflare_registers_one_monitor_a_pool_per_location_and_one_load_balancer(cloudflare: Steered) -> None:
    assert len(cloudflare.of_type(MONITOR)) == 1
    assert len(cloudflare.of_type(POOL)) == 3
    assert len(cloudflare.of_type(LOAD_BALANCER)) == 1
    assert not cloudflare.of_type(RECORD)
    assert not cloudflare.of_type(HEALTH_CHECK)
    assert cloudflare.component.load_balancer is not None


def test_cloudflare_monitor(cloudflare: Steered) -> None:
    assert dict(cloudflare.named(f"{NAME}-monitor").inputs) == {
        "accountId": ACCOUNT_ID,
        "type": "http",
        "method": "GET",
        "path": "/healthz",
        "port": PORT,
        "header": {"Host": [HOSTNAME]},
        "interval": 30,
        "consecutiveDown": 3,
        "consecutiveUp": 3,
        "expectedCodes": "2xx",
        "description": f"edgefleet: {HOSTNAME} (api)",
    }


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda loc: loc.cluster)
def test_cloudflare_pool_per_location(cloudflare: Steered, location: SteeredLocation) -> None:
    pool = cloudflare.named(f"{NAME}-{location.cluster}-pool")
    monitor = cloudflare.named(f"{NAME}-monitor")
    assert dict(pool.inputs) == {
        "accountId": ACCOUNT_ID,
        "name": f"api-edge-example-com-{location.cluster}",
        "description": f"edgefleet: {HOSTNAME} in {location.cluster} ({location.vendor})",
        "origins": [{"name": location.cluster, "address": location.target, "port": PORT}],
        "latitude": location.lat,
        "longitude": location.lon,
        "monitor": mock_id(MONITOR, monitor.name),
    }
    assert monitor.urn in pool.dependencies


def test_cloudflare_load_balancer_geo_steers_to_the_nearest_pools(cloudflare: Steered) -> None:
    lb = cloudflare.named(f"{NAME}-lb")
    pool_id = {cluster: mock_id(POOL, f"{NAME}-{cluster}-pool") for cluster in CLUSTERS}
    expected_regions = {
        region: [pool_id[cluster] for cluster in clusters]
        for region, clusters in cloudflare_region_pools(LOCATIONS).items()
    }
    central = [pool_id[cluster] for cluster in central_order(LOCATIONS)]
    assert dict(lb.inputs) == {
        "zoneId": CLOUDFLARE_ZONE_ID,
        "name": HOSTNAME,
        "description": "edgefleet: api, geo-steered to 3 locations",
        "steeringPolicy": "geo",
        "regionPools": expected_regions,
        "defaultPools": central,
        "fallbackPool": pool_id["frankfurt"],
        "proxied": False,
        "ttl": 60,
    }
    assert lb.inputs["regionPools"]["WNAM"][0] == pool_id["virginia"]
    assert lb.inputs["regionPools"]["WEU"][0] == pool_id["frankfurt"]
    assert lb.inputs["regionPools"]["SEAS"][0] == pool_id["singapore-dc"]
    pool_urns = {r.urn for r in cloudflare.of_type(POOL)}
    assert pool_urns <= set(lb.dependencies)


def test_cloudflare_component_members(cloudflare: Steered) -> None:
    monitor = cloudflare.component.health_checks
    assert sorted(cloudflare.component.records) == CLUSTERS
    assert sorted(monitor) == CLUSTERS
    assert len({id(check) for check in monitor.values()}) == 1  # one monitor, shared by the pools
    assert all(isinstance(pool, pulumi_cloudflare.LoadBalancerPool) for pool in cloudflare.component.records.values())
    assert cloudflare.component.addresses == {}
    facts = cloudflare.named(NAME).inputs
    assert facts["provider"] == "cloudflare"
    assert {loc["routing"] for loc in facts["locations"]} == {"geo"}
    assert all("geoproximity" not in loc for loc in facts["locations"])
    served = {loc["cluster"]: loc["regions"] for loc in facts["locations"]}
    assert sorted(region for regions in served.values() for region in regions) == sorted(CLOUDFLARE_REGIONS)


def test_cloudflare_follows_the_health_check_config() -> None:
    spec = traffic(DnsProvider.CLOUDFLARE, ttl=120, health_check=HealthCheckSpec(protocol="HTTPS", failure_threshold=5))
    built = steer(spec)
    monitor = built.named(f"{NAME}-monitor").inputs
    assert (monitor["type"], monitor["consecutiveDown"], monitor["consecutiveUp"]) == ("https", 5, 5)
    assert built.named(f"{NAME}-lb").inputs["ttl"] == 120


# --- both providers -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["route53", "cloudflare"])
def test_every_resource_has_the_dns_provider_and_the_component_as_parent(
    kind: str, request: pytest.FixtureRequest
) -> None:
    built: Steered = request.getfixturevalue(kind)
    component = built.named(NAME)
    providers = [r for r in built.run.registrations if r.type.startswith("pulumi:providers:")]
    assert len(providers) == 1
    resources = [r for r in built.run.registrations if r.custom and r not in providers]
    assert len(resources) == (9 if kind == "route53" else 5)
    for resource in resources:
        assert resource.parent == component.urn, resource.name
        assert resource.provider_urn == providers[0].urn, resource.name
        assert resource.name.startswith(f"{NAME}-")
    assert built.run.output_registrations[component.urn] == 1


@pytest.mark.parametrize("provider", list(DnsProvider))
def test_two_runs_give_equal_inputs_whatever_the_location_order(provider: DnsProvider) -> None:
    first = steer(traffic(provider)).inputs_by_name()
    second = steer(traffic(provider), locations=tuple(reversed(LOCATIONS))).inputs_by_name()
    assert first == second


def test_mock_ids_have_the_providers_shapes(route53: Steered, cloudflare: Steered) -> None:
    for record in route53.of_type(RECORD):
        if record.inputs["name"] == HOSTNAME:
            assert str(uuid.UUID(record.inputs["healthCheckId"])) == record.inputs["healthCheckId"]
    record_id, state = route53_cloudflare.RESOURCES[RECORD](
        MockResourceArgs(
            RECORD, "r", {"zoneId": ROUTE53_ZONE_ID, "name": HOSTNAME, "type": "CNAME", "setIdentifier": "virginia"}
        )
    )
    assert record_id == f"{ROUTE53_ZONE_ID}_{HOSTNAME}_CNAME_virginia"
    assert state["fqdn"] == HOSTNAME
    plain_id, _ = route53_cloudflare.RESOURCES[RECORD](
        MockResourceArgs(RECORD, "r", {"zoneId": ROUTE53_ZONE_ID, "name": f"virginia.{HOSTNAME}", "type": "A"})
    )
    assert plain_id == f"{ROUTE53_ZONE_ID}_virginia.{HOSTNAME}_A"
    check_id, check_state = route53_cloudflare.RESOURCES[HEALTH_CHECK](
        MockResourceArgs(HEALTH_CHECK, "h", {"type": "HTTP", "tags": {"owner": "platform-team"}})
    )
    assert str(uuid.UUID(check_id)) == check_id
    assert check_state["arn"] == f"arn:aws:route53:::healthcheck/{check_id}"
    assert check_state["tagsAll"] == {"owner": "platform-team"}
    for type_ in (MONITOR, POOL, LOAD_BALANCER):
        cf_id, _ = route53_cloudflare.RESOURCES[type_](MockResourceArgs(type_, "x", {"name": HOSTNAME}))
        assert re.fullmatch(r"[0-9a-f]{32}", cf_id)
    assert re.fullmatch(r"[0-9a-f]{32}", cloudflare.named(f"{NAME}-{CLUSTERS[0]}-pool").inputs["monitor"])


# --- refused input --------------------------------------------------------------------------------


def test_cloudflare_needs_one_port_for_its_monitor() -> None:
    odd = (*LOCATIONS[:2], replace(LOCATIONS[2], port=9090))
    with pytest.raises(ValueError, match="one port"):
        steer(traffic(DnsProvider.CLOUDFLARE), locations=odd)


@pytest.mark.parametrize(
    ("locations", "hostname", "message"),
    [
        ((), HOSTNAME, "at least one location"),
        ((LOCATIONS[0], LOCATIONS[0]), HOSTNAME, "listed twice"),
        (LOCATIONS, "api.other.example.org", "not inside the zone"),
        ((replace(LOCATIONS[0], vendor="vultr"),), HOSTNAME, "unknown vendor"),
    ],
)
def test_refused_locations(locations: tuple[SteeredLocation, ...], hostname: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        steer(traffic(DnsProvider.ROUTE53), locations=locations, hostname=hostname)


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (-0.0, -0.0, ("0.00", "0.00")),
        (-0.004, 0.004, ("0.00", "0.00")),
        (90, 123.4, ("90.00", "0.00")),  # every longitude meets at a pole
        (-89.996, -45.0, ("-90.00", "0.00")),  # rounds onto the pole
        (-17.0, -179.999, ("-17.00", "180.00")),  # -180 and 180 are one meridian
        (-17.0, -180, ("-17.00", "180.00")),
        (50, 19, ("50.00", "19.00")),  # an int is a number like any other
    ],
)
def test_a_point_has_one_spelling_for_route53(lat: float, lon: float, expected: tuple[str, str]) -> None:
    assert coordinates(lat, lon) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [((-17.0, 179.999), (-17.0, -179.999)), ((90.0, 0.0), (90.0, 120.0)), ((-0.001, 5.0), (0.0, 5.0))],
    ids=["antimeridian", "north-pole", "negative-zero"],
)
def test_two_locations_at_one_point_however_written_stop_the_program(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    one = replace(KRAKOW, cluster="site-a", lat=a[0], lon=a[1])
    two = replace(KRAKOW, cluster="site-b", lat=b[0], lon=b[1])
    with pytest.raises(SteeringError, match="site-a and site-b are both at coordinates"):
        steer(traffic(DnsProvider.ROUTE53), locations=(one, two, FRANKFURT))

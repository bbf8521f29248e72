"""Traffic rules (``policies/rules/traffic.py``): every location of a public workload is
health-checked (probe path; exactly one Route 53 geoproximity record with a health check, or a
Cloudflare pool with a monitor, where DNS steers to it), and a public workload runs in two locations or more unless the
rule's ``allow`` config lists it. Stacks are built as the engine links them (parents, wire props),
and once through the real program and ``edgefleet check``'s evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pulumi_policy import Policy, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from edgefleet.check import evaluate
from edgefleet.policies import rules as policy_rules
from edgefleet.policies.rules import traffic
from tests.conftest import plan_text, stack_text
from tests.policies.harness import UNKNOWN, Stack, changed, violations

CLUSTER = "edgefleet:index:ExistingCluster"
EDGE = "edgefleet:index:EdgeWorkload"
STEERING = "edgefleet:index:DnsSteering"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"
ZONE = "edge.example.com"
# Where Route 53 places each shop: edge sites by their coordinates (an AWS location: its region).
GEOPROXIMITY = {
    "shop-1": {"coordinates": [{"latitude": "50.06", "longitude": "19.95"}], "bias": 0},
    "shop-2": {"coordinates": [{"latitude": "52.52", "longitude": "13.41"}], "bias": 0},
}

HEALTH = traffic.TRAFFIC_PUBLIC_HEALTH_CHECK
MULTI = traffic.TRAFFIC_PUBLIC_MULTI_LOCATION
Edits = Mapping[str, Sequence[tuple[str, Any]]]


class Builder:
    """Adds resources to a Stack, applying per-name edits (dotted path, value; None deletes) and
    leaving out the names in ``drop``."""

    def __init__(self, stack: Stack, edit: Edits, drop: Sequence[str]) -> None:
        self.stack, self.edit, self.drop = stack, edit, set(drop)

    def add(self, resource_type: str, name: str, props: dict[str, Any], parent: str | None = None) -> str | None:
        if name in self.drop:
            return None
        for path, value in self.edit.get(name, ()):
            props = changed(props, path, value)
        return self.stack.add(resource_type, name, props, parent=parent)


def add_workload(
    b: Builder,
    workload: str,
    clusters: Sequence[str],
    *,
    expose: str = "public",
    probe: str | None = "/healthz",
    dns: str | None = "route53",
) -> None:
    """One workload placed in ``clusters``, and its DnsSteering (``route53``, ``cloudflare`` or None)
    with the children the component registers."""
    for cluster in clusters:
        b.add(
            EDGE,
            f"{workload}-{cluster}",
            {
                "workload": workload,
                "cluster": cluster,
                "replicas": 2,
                "expose": expose,
                "requires": [],
                "allowedCountries": None,
                "minVendors": 1,
                "probePath": probe,
            },
        )
    if dns is None:
        return
    hostname = f"{workload}.{ZONE}"
    name = f"{workload}-dns"
    steering = b.add(
        STEERING,
        name,
        {
            "workload": workload,
            "hostname": hostname,
            "provider": dns,
            "healthCheck": {"protocol": "HTTP", "path": probe, "interval": 30, "failureThreshold": 3},
            "locations": [{"cluster": c, "vendor": "existing", "regions": []} for c in clusters],
        },
    )
    if dns == "route53":
        for c in clusters:
            b.add(HEALTH_CHECK, f"{name}-{c}-health", {"type": "HTTP", "ipAddress": "203.0.113.10"}, steering)
            b.add(
                RECORD,
                f"{name}-{c}-address",
                {"name": f"{c}.{hostname}", "type": "A", "records": ["203.0.113.10"]},
                steering,
            )
            b.add(
                RECORD,
                f"{name}-{c}-geoproximity",
                {
                    "name": hostname,
                    "type": "CNAME",
                    "records": [f"{c}.{hostname}"],
                    "setIdentifier": c,
                    "geoproximityRoutingPolicy": GEOPROXIMITY.get(c, {"awsRegion": "eu-central-1", "bias": 0}),
                    "healthCheckId": f"hc-{workload}-{c}",
                },
                steering,
            )
    else:
        b.add(MONITOR, f"{name}-monitor", {"type": "http", "path": probe}, steering)
        for c in clusters:
            b.add(
                POOL,
                f"{name}-{c}-pool",
                {
                    "name": f"{hostname.replace('.', '-')}-{c}",
                    "origins": [{"name": c, "address": "203.0.113.10", "port": 8080}],
                    "monitor": f"monitor-{workload}",
                },
                steering,
            )
        b.add(LOAD_BALANCER, f"{name}-lb", {"name": hostname, "steeringPolicy": "geo"}, steering)


def build(
    clusters: Sequence[str] = ("shop-1", "shop-2"),
    *,
    expose: str = "public",
    probe: str | None = "/healthz",
    dns: str | None = "route53",
    edit: Edits | None = None,
    drop: Sequence[str] = (),
    others: Mapping[str, Sequence[str]] | None = None,
) -> Stack:
    """Clusters, the workload ``api`` placed in ``clusters`` with its DNS steering, and ``others``
    (workload -> clusters) built the same way (public, with a probe path and the same provider)."""
    stack = Stack()
    b = Builder(stack, edit or {}, drop)
    everywhere = sorted({*clusters, *(c for cs in (others or {}).values() for c in cs)})
    for c in everywhere:
        b.add(CLUSTER, c, {"name": c, "vendor": "existing", "region": "r", "country": "DE"})
    add_workload(b, "api", clusters, expose=expose, probe=probe, dns=dns)
    for workload, placed in (others or {}).items():
        add_workload(b, workload, placed, dns=dns)
    return stack


def with_config(stack: Stack, config: Mapping[str, Any]) -> StackValidationArgs:
    return StackValidationArgs(list(stack.resources.values()), dict(config))


# --- the rules are in the pack ------------------------------------------------------------------


def test_both_rules_are_registered_as_stack_rules() -> None:
    for policy in traffic.STACK_POLICIES:
        assert policy in policy_rules.STACK_POLICIES
        assert policy in policy_rules.ALL_POLICIES
    assert [p.name for p in traffic.STACK_POLICIES] == ["traffic-public-health-check", "traffic-public-multi-location"]
    assert traffic.RESOURCE_POLICIES == ()


def test_the_multi_location_rule_declares_its_allow_list() -> None:
    schema = MULTI.config_schema
    assert schema is not None
    assert schema.properties == {
        "allow": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Public workloads allowed to run in one location.",
        }
    }
    assert HEALTH.config_schema is None


# --- traffic-public-health-check ----------------------------------------------------------------


@pytest.mark.parametrize("dns", ["route53", "cloudflare", None])
@pytest.mark.parametrize("policy", traffic.STACK_POLICIES, ids=lambda p: p.name)
def test_a_steered_public_workload_in_two_locations_passes(policy: Policy, dns: str | None) -> None:
    assert violations(policy, build(dns=dns).args()) == []


@pytest.mark.parametrize("dns", ["route53", "cloudflare", None])
def test_a_public_workload_needs_a_probe_path_in_every_location(dns: str | None) -> None:
    assert violations(HEALTH, build(probe=None, dns=dns).args()) == [
        "public workload 'api' in 'shop-1' has no HTTP probe path (`probe_path`) for its health checks @ api-shop-1",
        "public workload 'api' in 'shop-2' has no HTTP probe path (`probe_path`) for its health checks @ api-shop-2",
    ]


def test_an_empty_probe_path_is_none() -> None:
    stack = build(["shop-1"], dns=None, edit={"api-shop-1": [("probePath", "")]})
    assert violations(HEALTH, stack.args()) == [
        "public workload 'api' in 'shop-1' has no HTTP probe path (`probe_path`) for its health checks @ api-shop-1"
    ]


def test_an_internal_workload_needs_neither_probe_path_nor_dns() -> None:
    stack = build(["shop-1"], expose="internal", probe=None, dns=None)
    assert violations(HEALTH, stack.args()) == []
    assert violations(MULTI, stack.args()) == []


NOT_GEOPROXIMITY = (
    "its Route 53 record (set identifier 'shop-2') is not routed by geoproximity (no awsRegion or coordinates)"
)
ROUTE53_GAPS = [
    (
        {"drop": ["api-dns-shop-2-geoproximity"]},
        "no Route 53 geoproximity record with set identifier 'shop-2'",
    ),
    (
        {"edit": {"api-dns-shop-2-geoproximity": [("healthCheckId", None)]}},
        "its Route 53 geoproximity record (set identifier 'shop-2') has no healthCheckId",
    ),
    (
        {"edit": {"api-dns-shop-2-geoproximity": [("healthCheckId", "")]}},
        "its Route 53 geoproximity record (set identifier 'shop-2') has no healthCheckId",
    ),
    (
        {"edit": {"api-dns-shop-2-geoproximity": [("geoproximityRoutingPolicy", None)]}},
        NOT_GEOPROXIMITY,
    ),
    (
        {"edit": {"api-dns-shop-2-geoproximity": [("geoproximityRoutingPolicy", {"bias": 0})]}},
        NOT_GEOPROXIMITY,
    ),
    (  # the record of the latency routing edgefleet used before: a name takes one routing policy
        {
            "edit": {
                "api-dns-shop-2-geoproximity": [
                    ("geoproximityRoutingPolicy", None),
                    ("latencyRoutingPolicies", [{"region": "eu-central-1"}]),
                ]
            }
        },
        NOT_GEOPROXIMITY,
    ),
]


@pytest.mark.parametrize(("change", "gap"), ROUTE53_GAPS)
def test_every_location_has_a_route53_geoproximity_record_with_a_health_check(change: dict[str, Any], gap: str) -> None:
    assert violations(HEALTH, build(**change).args()) == [
        f"public workload 'api' in 'shop-2' is not health-checked by DNS steering for 'api.{ZONE}': {gap} @ api-shop-2"
    ]


CLOUDFLARE_GAPS = [
    (
        {"drop": ["api-dns-shop-2-pool"]},
        "no Cloudflare pool with an origin named 'shop-2'",
    ),
    (
        {"edit": {"api-dns-shop-2-pool": [("origins", [{"name": "elsewhere", "address": "203.0.113.10"}])]}},
        "no Cloudflare pool with an origin named 'shop-2'",
    ),
    (
        {"edit": {"api-dns-shop-2-pool": [("monitor", None)]}},
        "its Cloudflare pool 'api-edge-example-com-shop-2' has no monitor",
    ),
    (
        {"edit": {"api-dns-shop-2-pool": [("monitor", "")]}},
        "its Cloudflare pool 'api-edge-example-com-shop-2' has no monitor",
    ),
]


@pytest.mark.parametrize(("change", "gap"), CLOUDFLARE_GAPS)
def test_every_location_has_a_cloudflare_pool_with_a_monitor(change: dict[str, Any], gap: str) -> None:
    assert violations(HEALTH, build(dns="cloudflare", **change).args()) == [
        f"public workload 'api' in 'shop-2' is not health-checked by DNS steering for 'api.{ZONE}': {gap} @ api-shop-2"
    ]


@pytest.mark.parametrize(
    "policy",
    [
        {"awsRegion": "eu-central-1", "bias": 0},
        {"coordinates": [{"latitude": "48.14", "longitude": "11.58"}], "bias": 0},  # not shop-1's place
        {"coordinates": [{"latitude": "48.14", "longitude": "11.58"}]},  # bias left to Route 53 (0)
    ],
)
def test_a_geoproximity_record_by_region_or_by_coordinates_passes(policy: dict[str, Any]) -> None:
    stack = build(edit={"api-dns-shop-2-geoproximity": [("geoproximityRoutingPolicy", policy)]})
    assert violations(HEALTH, stack.args()) == []


STRAY = (
    "DNS steering for 'api.edge.example.com' has a Route 53 record with set identifier '{0}', which is not a "
    "location of workload 'api' (shop-1, shop-2): Route 53 would answer with it @ api-dns"
)


def test_a_record_moved_to_another_set_identifier_leaves_its_location_and_answers_for_none() -> None:
    stack = build(edit={"api-dns-shop-2-geoproximity": [("setIdentifier", "shop-3")]})
    assert violations(HEALTH, stack.args()) == [
        "public workload 'api' in 'shop-2' is not health-checked by DNS steering for 'api.edge.example.com': "
        "no Route 53 geoproximity record with set identifier 'shop-2' @ api-shop-2",
        STRAY.format("shop-3"),
    ]


def test_an_extra_record_for_no_location_is_reported_even_with_a_health_check() -> None:
    """A record beside the component's, for a cluster the workload does not run in: Route 53 would
    send that area's users there (issue 13, item 11: extra records)."""
    stack = build()
    steering = next(urn for urn, r in stack.resources.items() if r.resource_type == STEERING)
    props = {
        "name": f"api.{ZONE}",
        "type": "CNAME",
        "records": ["elsewhere.example.net"],
        "setIdentifier": "decoy",
        "geoproximityRoutingPolicy": {"awsRegion": "us-east-1", "bias": 0},
        "healthCheckId": "hc-decoy",
    }
    stack.add(RECORD, "api-dns-decoy", props, parent=steering)
    assert violations(HEALTH, stack.args()) == [STRAY.format("decoy")]


@pytest.mark.parametrize(
    ("edit", "gap"),
    [
        (
            [("geoproximityRoutingPolicy", GEOPROXIMITY["shop-1"])],  # shop-2's record placed at shop-1
            "has the same place as 'shop-1', so Route 53 cannot tell them apart",
        ),
        ([("name", f"www.{ZONE}")], f"answers for 'www.{ZONE}', not 'api.{ZONE}'"),
    ],
    ids=["same-place", "other-name"],
)
def test_a_record_that_cannot_route_its_location_is_reported(edit: list[tuple[str, Any]], gap: str) -> None:
    found = violations(HEALTH, build(edit={"api-dns-shop-2-geoproximity": edit}).args())
    assert [v for v in found if "in 'shop-2'" in v and gap in v], found


def test_a_location_with_two_records_is_reported() -> None:
    """Exactly one record routes a location: a second one with its set identifier (under another
    name, or made by hand beside the component's) is reported, health check or not."""
    stack = build()
    steering = next(urn for urn, r in stack.resources.items() if r.resource_type == STEERING)
    stack.add(
        RECORD,
        "api-dns-shop-2-extra",
        {
            "name": f"www.{ZONE}",
            "type": "CNAME",
            "records": [f"shop-2.api.{ZONE}"],
            "setIdentifier": "shop-2",
            "geoproximityRoutingPolicy": GEOPROXIMITY["shop-1"],
            "healthCheckId": "hc-extra",
        },
        parent=steering,
    )
    assert violations(HEALTH, stack.args()) == [
        f"public workload 'api' in 'shop-2' is not health-checked by DNS steering for 'api.{ZONE}': "
        "2 Route 53 records with set identifier 'shop-2' (one routes a location) @ api-shop-2"
    ]


def test_a_location_the_steering_does_not_know_is_not_steered() -> None:
    """A placement added beside the DnsSteering (its records were made for shop-1 and shop-2 only)."""
    stack = build()
    stack.add(CLUSTER, "shop-3", {"name": "shop-3", "vendor": "existing", "region": "r", "country": "DE"})
    stack.add(EDGE, "api-shop-3", {"workload": "api", "cluster": "shop-3", "expose": "public", "probePath": "/h"})
    assert violations(HEALTH, stack.args()) == [
        f"public workload 'api' in 'shop-3' is not health-checked by DNS steering for 'api.{ZONE}': "
        "no Route 53 geoproximity record with set identifier 'shop-3' @ api-shop-3"
    ]


@pytest.mark.parametrize("dns", ["route53", "cloudflare"])
def test_another_workloads_records_do_not_count(dns: str) -> None:
    """``web``'s record in shop-1 has the same set identifier (the cluster) as ``api``'s would."""
    child = "api-dns-shop-1-geoproximity" if dns == "route53" else "api-dns-shop-1-pool"
    stack = build(dns=dns, others={"web": ["shop-1", "shop-2"]}, drop=[child])
    gap = (
        "no Route 53 geoproximity record with set identifier 'shop-1'"
        if dns == "route53"
        else "no Cloudflare pool with an origin named 'shop-1'"
    )
    assert violations(HEALTH, stack.args()) == [
        f"public workload 'api' in 'shop-1' is not health-checked by DNS steering for 'api.{ZONE}': {gap} @ api-shop-1"
    ]


def test_a_steering_of_an_unknown_provider_is_reported() -> None:
    stack = build(["shop-1", "shop-2"], edit={"api-dns": [("provider", "ns1")]})
    assert violations(HEALTH, stack.args()) == [
        f"public workload 'api' in '{c}' is not health-checked by DNS steering for 'api.{ZONE}': "
        f"its DNS steering has an unknown provider 'ns1' @ api-{c}"
        for c in ("shop-1", "shop-2")
    ]


def test_a_public_workload_without_dns_steering_needs_only_the_probe_path() -> None:
    """No `traffic` in the fleet: no DnsSteering, nothing else to check; another workload's
    steering is not this one's."""
    stack = build(dns=None)
    add_workload(Builder(stack, {}, ()), "web", ["shop-1", "shop-2"], dns="route53")
    assert violations(HEALTH, stack.args()) == []


# --- unknown values at preview ------------------------------------------------------------------


def test_health_check_ids_and_monitors_unknown_at_preview_count_as_set() -> None:
    """The health check and the monitor are created in the same stack: unknown at the first preview."""
    edits = {f"api-dns-{c}-geoproximity": [("healthCheckId", UNKNOWN)] for c in ("shop-1", "shop-2")}
    assert violations(HEALTH, build(edit=edits).args()) == []
    edits = {f"api-dns-{c}-pool": [("monitor", UNKNOWN)] for c in ("shop-1", "shop-2")}
    assert violations(HEALTH, build(dns="cloudflare", edit=edits).args()) == []


def test_an_unknown_set_identifier_cannot_run_during_preview() -> None:
    stack = build(edit={"api-dns-shop-1-geoproximity": [("setIdentifier", UNKNOWN)]})
    with pytest.raises(UnknownValueError):
        violations(HEALTH, stack.args())


@pytest.mark.parametrize("policy", traffic.STACK_POLICIES, ids=lambda p: p.name)
def test_an_unknown_exposure_cannot_run_during_preview(policy: Policy) -> None:
    stack = build(edit={"api-shop-1": [("expose", UNKNOWN)]})
    with pytest.raises(UnknownValueError):
        violations(policy, stack.args())


# --- traffic-public-multi-location --------------------------------------------------------------

ONE_LOCATION = "public workload 'api' runs in one location only ('shop-1'): users have nowhere to go when it fails"


@pytest.mark.parametrize("dns", ["route53", "cloudflare", None])
def test_a_public_workload_in_one_location_is_reported(dns: str | None) -> None:
    assert violations(MULTI, build(["shop-1"], dns=dns).args()) == [f"{ONE_LOCATION} @ api-shop-1"]


@pytest.mark.parametrize("config", [{}, {"allow": []}, {"allow": ["web"]}])
def test_the_allow_list_must_name_the_workload(config: dict[str, Any]) -> None:
    assert violations(MULTI, with_config(build(["shop-1"]), config)) == [f"{ONE_LOCATION} @ api-shop-1"]


def test_a_workload_on_the_allow_list_may_run_in_one_location() -> None:
    stack = build(["shop-1"], others={"web": ["shop-2"]})
    assert violations(MULTI, with_config(stack, {"allow": ["api"]})) == [
        "public workload 'web' runs in one location only ('shop-2'): users have nowhere to go when it fails "
        "@ web-shop-2"
    ]
    assert violations(MULTI, with_config(stack, {"allow": ["api", "web"]})) == []


def test_each_workload_is_counted_on_its_own() -> None:
    """Two workloads in different single locations make two locations in the stack, not per workload."""
    stack = build(["shop-1"], others={"web": ["shop-2", "shop-3"]})
    assert violations(MULTI, stack.args()) == [f"{ONE_LOCATION} @ api-shop-1"]


# --- the real program, through `edgefleet check`'s evaluation -----------------------------------

FLEET = """\
environment: prod
owner: platform-team
clusters:
  - vendor: existing
    name: shop-a
    location: {{city: Berlin, country: DE}}
    cni: {{plugin: calico, installed: true}}
  - vendor: existing
    name: shop-b
    location: {{city: Vienna, country: AT}}
    cni: {{plugin: calico, installed: true}}
traffic:
  {traffic}
workloads:
  - name: web
    image: ghcr.io/acme/web:2.0.1
    port: 8080
    expose: public
    probe_path: /healthz
  - name: solo
    image: ghcr.io/acme/solo:1.0.0
    port: 8080
    expose: public
    probe_path: /ready
    placement: {{strategy: pinned, clusters: [shop-b]}}
"""
TRAFFIC = {
    "route53": "{provider: route53, zone: edge.example.com, zone_id: Z0123456789ABCDEFGHIJ}",
    "cloudflare": "{provider: cloudflare, zone: edge.example.com, zone_id: 0123456789abcdef0123456789abcdef, "
    "account_id: fedcba9876543210fedcba9876543210}",
}


@pytest.mark.parametrize("provider", sorted(TRAFFIC))
def test_the_real_dns_steering_health_checks_every_location(provider: str) -> None:
    # Two replicas over two locations, one in a single location: allowed where the rules are
    # advisory (dev.json); where they are mandatory, placement would refuse it.
    advisory = "  edgefleet:policyPackConfig: policies/config/dev.json\n"
    _, run = plan_text(stack_text(FLEET.format(traffic=TRAFFIC[provider]), advisory))
    assert {r.inputs.get("workload") for r in run.registrations if r.type == STEERING} == {"web", "solo"}
    _, found, skipped = evaluate(run, [HEALTH, MULTI], {MULTI.name: {"allow": ["solo"]}})
    assert skipped == []
    messages = [message for _, _, message in found]
    # The DNS half: the records and pools the component registers steer every placed location. (The
    # probe-path half reads the EdgeWorkload's `probePath` input.)
    assert [m for m in messages if "DNS steering" in m] == []
    assert [m for m in messages if "probe path" not in m] == []
    _, found, _ = evaluate(run, [MULTI], {})
    assert [(rule, message) for rule, _, message in found] == [
        (
            MULTI.name,
            "public workload 'solo' runs in one location only ('shop-b'): users have nowhere to go when it fails",
        )
    ]

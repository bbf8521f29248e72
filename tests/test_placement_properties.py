"""Latency placement through the config layer: constraints are never violated, replicas add up,
and the same input gives the same output."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgefleet.components.config import ConfigError, parse_fleet
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.config.requirements import LocationRequirement
from edgefleet.components.placement.geo import residency_countries
from edgefleet.policies.locations import LOCATION_RULES, PUBLIC_MULTI_LOCATION, mandatory

# (city, country) pairs the world-cities data knows, on three continents.
SITES = [
    ("Paris", "FR"),
    ("Berlin", "DE"),
    ("Madrid", "ES"),
    ("Warsaw", "PL"),
    ("Zurich", "CH"),
    ("Oslo", "NO"),
    ("London", "GB"),
    ("Chicago", "US"),
    ("Toronto", "CA"),
    ("Tokyo", "JP"),
    ("Singapore", "SG"),
    ("Sydney", "AU"),
]
PLUGINS = ["cilium", "calico", "flannel"]


@st.composite
def fleets(draw: Any) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(range(len(SITES))), min_size=1, max_size=8, unique=True))
    clusters = []
    for i in sorted(chosen):
        city, country = SITES[i]
        clusters.append(
            {
                "vendor": "existing",
                "name": f"site-{i:02d}",
                "location": {"city": city, "country": country},
                "cni": {"plugin": draw(st.sampled_from(PLUGINS)), "installed": True},
                "labels": {"tier": draw(st.sampled_from(["edge", "store"]))},
            }
        )
    names = [c["name"] for c in clusters]
    placement: dict[str, Any] = {
        "strategy": "latency",
        "max_locations": draw(st.integers(1, 4)),
        "demand": {"preset": draw(st.sampled_from(["world", "europe", "eu", "asia"]))},
    }
    if draw(st.booleans()):
        placement["residency"] = draw(
            st.lists(st.sampled_from(["EU", "EEA", "US", "APAC", "GB"]), min_size=1, max_size=2)
        )
    if draw(st.booleans()):
        placement["selector"] = {"tier": draw(st.sampled_from(["edge", "store"]))}
    if draw(st.booleans()):
        placement["requires"] = ["network-policy"]
    if draw(st.booleans()):
        placement["must_exclude"] = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    workload = {
        "name": "api",
        "image": "ghcr.io/acme/api:1.0.0",
        "port": 8080,
        "replicas": draw(st.integers(1, 20)),
        "min_replicas_per_location": draw(st.integers(1, 3)),
        "placement": placement,
    }
    return {"environment": "prop", "owner": "platform-team", "clusters": clusters, "workloads": [workload]}


@settings(max_examples=60, deadline=None, database=None)
@given(raw=fleets())
def test_constraints_hold_and_replicas_add_up(raw: dict[str, Any]) -> None:
    try:
        spec = parse_fleet(raw)
    except ConfigError as exc:
        error = exc  # an infeasible placement: it must name the workload's own config
    else:
        error = None
    if error is not None:
        assert all(issue.path.startswith("fleet.workloads[0]") for issue in error.issues), error
        return
    (workload,) = spec.workloads
    placement = raw["workloads"][0]["placement"]
    by_name = {c.name: c for c in spec.clusters}
    chosen = [by_name[name] for name, _ in workload.replicas]
    assert chosen
    assert len(chosen) <= placement["max_locations"]
    allowed = set().union(*(residency_countries(r) for r in placement.get("residency", []))) or None
    for cluster in chosen:
        if allowed is not None:
            assert cluster.location.country in allowed
        for key, value in placement.get("selector", {}).items():
            assert cluster.labels.get(key) == value
        if placement.get("requires"):
            assert cluster.cni.network_policy
        assert cluster.name not in placement.get("must_exclude", [])
    counts = [n for _, n in workload.replicas]
    assert sum(counts) == raw["workloads"][0]["replicas"]
    assert min(counts) >= raw["workloads"][0]["min_replicas_per_location"]
    assert workload.latency is not None
    assert abs(sum(share for _, share in workload.latency.demand_share) - 1) < 1e-3
    assert workload.latency.bound_mean_rtt_ms <= workload.latency.mean_rtt_ms
    # Same input, same output.
    assert parse_fleet(raw) == spec


LEVELS = ["mandatory", "advisory", "disabled"]


@st.composite
def policed(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fleet whose workload may be public, and a pack config with random levels."""
    raw = draw(fleets())
    workload = raw["workloads"][0]
    workload["expose"] = draw(st.sampled_from(["public", "internal"]))
    workload["placement"]["min_locations"] = draw(st.integers(1, workload["placement"]["max_locations"]))
    config: dict[str, Any] = {"all": draw(st.sampled_from(LEVELS))}
    for rule in LOCATION_RULES:
        if draw(st.booleans()):
            config[rule.rule] = draw(st.sampled_from(LEVELS))
    if draw(st.booleans()):
        config.setdefault(PUBLIC_MULTI_LOCATION.rule, {})
        if isinstance(config[PUBLIC_MULTI_LOCATION.rule], str):
            config[PUBLIC_MULTI_LOCATION.rule] = {"enforcementLevel": config[PUBLIC_MULTI_LOCATION.rule]}
        config[PUBLIC_MULTI_LOCATION.rule]["allow"] = ["api"]
    return raw, config


@settings(max_examples=60, deadline=None, database=None)
@given(case=policed())
def test_no_placed_location_violates_a_mandatory_rules_requirement(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    raw, config = case
    reqs = tuple(
        LocationRequirement(
            rule=r.rule,
            requirement=r.requirement,
            source="policies/config/t.json",
            public_only=r.public_only,
            network_policy=r.network_policy,
            min_locations=r.min_locations,
            min_replicas_per_location=r.min_replicas_per_location,
            exempt=exempt,
        )
        for r, exempt in mandatory(config)
    )
    try:
        spec = parse_fleet(raw, options=PlacementOptions(requirements=reqs))
    except ConfigError as exc:
        error: ConfigError | None = exc  # infeasible: one line, about the workload
    else:
        error = None
    if error is not None:
        assert len(error.issues) == 1
        assert error.issues[0].path.startswith("fleet.workloads[0]"), error
        return
    (workload,) = spec.workloads
    public = raw["workloads"][0]["expose"] == "public"
    by_name = {c.name: c for c in spec.clusters}
    counts = dict(workload.replicas)
    for rule, exempt in mandatory(config):
        if (rule.public_only and not public) or "api" in exempt:
            continue
        assert len(counts) >= rule.min_locations, rule
        assert min(counts.values()) >= rule.min_replicas_per_location, rule
        if rule.network_policy:
            assert all(by_name[name].cni.network_policy for name in counts), rule


@settings(max_examples=80, deadline=None, database=None)
@given(
    sites=st.integers(1, 6),
    replicas=st.integers(1, 14),
    per=st.integers(1, 3),
    least=st.integers(1, 4),
    extra=st.integers(0, 3),
)
def test_latency_refuses_only_when_min_locations_cannot_be_met(
    sites: int, replicas: int, per: int, least: int, extra: int
) -> None:
    """Feasible (enough clusters, replicas >= min_locations x per) is never refused, and latency
    opens min(max_locations, eligible, replicas // per) locations."""
    most = least + extra
    clusters = [
        {
            "vendor": "existing",
            "name": f"site-{i:02d}",
            "location": {"city": SITES[i][0], "country": SITES[i][1]},
            "cni": {"plugin": "cilium", "installed": True},
        }
        for i in range(sites)
    ]
    workload = {
        "name": "api",
        "image": "ghcr.io/acme/api:1.0.0",
        "port": 8080,
        "replicas": replicas,
        "min_replicas_per_location": per,
        "placement": {"strategy": "latency", "min_locations": least, "max_locations": most},
    }
    raw = {"environment": "prop", "owner": "platform-team", "clusters": clusters, "workloads": [workload]}
    feasible = sites >= least and replicas >= least * per
    try:
        spec = parse_fleet(raw)
    except ConfigError as exc:
        error: ConfigError | None = exc
    else:
        error = None
    if error is not None:
        assert not feasible, error
        return
    assert feasible
    (placed,) = spec.workloads
    assert len(placed.replicas) == min(most, sites, replicas // per)
    assert sum(n for _, n in placed.replicas) == replicas
    assert min(n for _, n in placed.replicas) >= per

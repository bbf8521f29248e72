"""Latency placement through the config layer: constraints are never violated, replicas add up,
and the same input gives the same output."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import ConfigError, parse_fleet
from components.placement.geo import residency_countries

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

"""End to end, #13 item 3: whatever fleet and pack config, when `validate` (and so `place` and
`plan`) accepts the stack, `check` finds no mandatory violation. The rules whose verdict depends
on where and how much a workload runs (network-isolation-for-public-workloads,
traffic-public-multi-location, k8s-public-workload-replicas, fleet-residency,
fleet-vendor-diversity, fleet-network-policy-required, the PDB rules, network-default-deny,
traffic-public-health-check) are honoured by placement or cannot be violated by it; the generated
workloads satisfy every other rule, so any mandatory violation is a disagreement.

Each example plans the real program under the mock engine (about half a second), so examples are
few and small (the ``fuzz`` marker, like ``tests/test_mutation.py``: ``-m "not fuzz"`` skips it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from edgefleet.check import check
from edgefleet.components.config import ConfigError, load_stack
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.policy import with_requirements
from edgefleet.engine import run_program
from edgefleet.policies.locations import LOCATION_RULES
from edgefleet.policies.rules import ALL_POLICIES
from tests.conftest import REPO, source_of

pytestmark = pytest.mark.fuzz

SITES = [("Paris", "FR"), ("Berlin", "DE"), ("Zurich", "CH"), ("Chicago", "US"), ("Tokyo", "JP")]
CLOUD = [
    {"vendor": "aws", "region": "eu-central-1"},
    {"vendor": "digitalocean", "region": "nyc3", "endpoint": {"public": True, "allowed_cidrs": ["198.51.100.0/24"]}},
]
LEVELS = ["mandatory", "advisory", "disabled"]


@st.composite
def stacks(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fleet (existing clusters with any CNI, maybe a cloud cluster) and a pack config."""
    rarely = st.integers(0, 3).map(lambda n: n == 0)  # a constraint in a quarter of the examples
    chosen = draw(st.lists(st.sampled_from(range(len(SITES))), min_size=2, max_size=5, unique=True))
    clusters: list[dict[str, Any]] = []
    for i in sorted(chosen):
        city, country = SITES[i]
        clusters.append(
            {
                "vendor": "existing",
                "name": f"site-{i}",
                "location": {"city": city, "country": country},
                "cni": {"plugin": draw(st.sampled_from(["cilium", "calico", "flannel"])), "installed": True},
            }
        )
    clusters += draw(st.lists(st.sampled_from(CLOUD), max_size=1))  # another vendor
    names = [c.get("name") or f"{c['vendor']}-{c['region']}" for c in clusters]
    strategy = draw(st.sampled_from(["latency", "latency", "everywhere", "everywhere", "pinned"]))
    placement: dict[str, Any] = {"strategy": strategy}
    if strategy == "pinned":
        placement["clusters"] = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    if strategy == "latency":
        placement["max_locations"] = draw(st.integers(1, 3) if draw(rarely) else st.integers(2, 3))
        placement["demand"] = {"preset": draw(st.sampled_from(["world", "europe"]))}
        if draw(rarely):
            placement["must_include"] = [draw(st.sampled_from(names))]
    if draw(rarely):
        placement["min_locations"] = draw(st.integers(1, 2))
    others = [n for n in names if n not in placement.get("must_include", [])]
    if strategy != "pinned" and draw(rarely):
        placement["must_exclude"] = [draw(st.sampled_from(others))]
    if draw(rarely):
        placement["residency"] = [draw(st.sampled_from(["EU", "EEA", "US"]))]
    if draw(rarely):
        placement["requires"] = ["network-policy"]
    if len(clusters) > len(chosen) and draw(st.booleans()):
        placement["min_vendors"] = 2
    workload: dict[str, Any] = {
        "name": "web",
        "image": "ghcr.io/acme/web:1.0.0",
        "port": 8080,
        "replicas": draw(st.integers(1, 10) if draw(rarely) else st.integers(8, 12)),
        "min_replicas_per_location": draw(st.integers(1, 2)),
        "expose": draw(st.sampled_from(["public", "internal"])),
        "probe_path": "/healthz",
        "placement": placement,
    }
    if draw(rarely):
        workload["rollout"] = {"canary": [draw(st.sampled_from(names))]}
    fleet = {
        "environment": "prod",
        "owner": "platform-team",
        "defaults": {"node_pools": [{"name": "general", "size": "medium", "min": 2, "max": 3}]},
        "clusters": clusters,
        "workloads": [workload],
    }
    config: dict[str, Any] = {}
    if draw(st.booleans()):
        config["all"] = draw(st.sampled_from(LEVELS))
    for rule in LOCATION_RULES:
        form = draw(st.sampled_from(["absent", "string", "object"]))
        if form == "string":
            config[rule.rule] = draw(st.sampled_from(LEVELS))
        elif form == "object":
            config[rule.rule] = {"enforcementLevel": draw(st.sampled_from(LEVELS))}
    if draw(st.booleans()):
        multi = config.get("traffic-public-multi-location")
        entry = dict(multi) if isinstance(multi, dict) else {}
        entry["allow"] = draw(st.sampled_from([["web"], ["other"], []]))
        if isinstance(multi, str):
            entry["enforcementLevel"] = multi
        config["traffic-public-multi-location"] = entry
    return fleet, config


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_a_stack_validate_accepts_has_no_mandatory_violation(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    fleet, config = case
    text = json.dumps({"config": {"edgefleet:fleet": fleet, "edgefleet:policyPackConfig": config}})
    source = source_of(text, "agree")
    try:
        spec = load_stack(source, with_requirements(PlacementOptions(), REPO, source))
    except ConfigError as exc:
        event(f"refused: {exc.issues[0].path.rsplit('.', 1)[-1]}: {exc.issues[0].message[:70]}")
        return  # refused before any resource: nothing for `check` to reject
    event("placed")
    run = run_program(REPO, source)
    report = check(run, source, REPO, ALL_POLICIES, config, spec=spec)
    assert not report.mandatory, [(v.rule, v.message) for v in report.mandatory]

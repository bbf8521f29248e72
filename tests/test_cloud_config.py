"""Cloud cluster entries resolve to what the vendor components build from."""

from __future__ import annotations

from typing import Any

import pytest

from edgefleet.components.cni.matrix import vendor_dataplane
from edgefleet.components.config import ConfigError, Vendor, parse_fleet, parse_stack_text
from edgefleet.components.config.addressing import overlaps
from edgefleet.components.config.model import NetworkPlan
from edgefleet.components.config.parse import load_stack
from edgefleet.components.config.vendors import DEFAULT_KUBERNETES_VERSION, MACHINE_TYPES

PUBLIC = {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}
FIVE: list[dict[str, Any]] = [
    {"vendor": "aws", "region": "eu-central-1"},
    {"vendor": "gcp", "region": "europe-west3", "project": "acme-edge"},
    {"vendor": "azure", "region": "westeurope"},
    {"vendor": "linode", "region": "de-fra-2", "endpoint": PUBLIC},
    {"vendor": "digitalocean", "region": "fra1", "endpoint": PUBLIC},
]


def _fleet(clusters: list[dict[str, Any]], environment: str = "prod", **extra: Any) -> dict[str, Any]:
    return {"environment": environment, "owner": "platform-team", "clusters": clusters, **extra}


def test_each_vendor_resolves_name_location_version_pools_zones_and_dataplane() -> None:
    spec = parse_fleet(_fleet(FIVE))
    by_vendor = {c.vendor: c for c in spec.clusters}
    aws = by_vendor[Vendor.AWS]
    assert aws.name == "aws-eu-central-1"
    assert (aws.location.city, aws.location.country) == ("Frankfurt", "DE")
    assert aws.zones == ("eu-central-1a", "eu-central-1b", "eu-central-1c")
    for vendor, cluster in by_vendor.items():
        assert cluster.kubernetes_version == DEFAULT_KUBERNETES_VERSION[vendor]
        assert [(p.name, p.machine_type, p.min, p.max) for p in cluster.node_pools] == [
            ("general", MACHINE_TYPES[vendor][next(iter(MACHINE_TYPES[vendor]))], 2, 4)
        ]
        dataplane = vendor_dataplane(vendor)
        assert (cluster.cni.plugin.value, cluster.cni.mode, cluster.cni.network_policy) == (
            "vendor",
            dataplane.mode,
            dataplane.network_policy,
        )
        assert cluster.cni.network_policy is True  # every vendor's dataplane is set up to enforce
        assert cluster.protect is True  # prod
        assert isinstance(cluster.network, NetworkPlan)
    assert by_vendor[Vendor.GCP].project == "acme-edge"
    assert by_vendor[Vendor.AWS].project is None
    assert overlaps(c.network for c in spec.clusters if c.network) == []


def test_sizes_machine_types_autoscaling_and_overrides() -> None:
    pools = [
        {"name": "general", "size": "large", "min": 0, "max": 5},
        {"name": "gpu", "machine_type": "g6.xlarge", "min": 1, "max": 2},
    ]
    entry = {"vendor": "aws", "region": "us-east-1", "node_pools": pools, "kubernetes_version": "1.34"}
    cluster = parse_fleet(_fleet([entry], environment="dev")).clusters[0]
    assert [(p.name, p.machine_type, p.min, p.max) for p in cluster.node_pools] == [
        ("general", "m6i.2xlarge", 0, 5),
        ("gpu", "g6.xlarge", 1, 2),
    ]
    assert cluster.kubernetes_version == "1.34"
    assert cluster.protect is False  # not prod
    assert parse_fleet(_fleet([{**entry, "protect": True}], environment="dev")).clusters[0].protect is True
    assert parse_fleet(_fleet([{**entry, "protect": False}])).clusters[0].protect is False


def test_defaults_reach_cloud_clusters_but_autopilot_takes_no_node_pools() -> None:
    raw = _fleet(
        [
            {"vendor": "gcp", "region": "europe-west1", "project": "acme-edge", "autopilot": True},
            {"vendor": "gcp", "region": "europe-west3", "project": "acme-edge"},
        ],
        defaults={"node_pools": [{"name": "edge", "size": "medium", "min": 1, "max": 3}], "protect": False},
    )
    autopilot, standard = parse_fleet(raw).clusters
    assert autopilot.node_pools == ()
    assert autopilot.kubernetes_version is None  # GKE: the release channel decides
    assert [(p.name, p.machine_type) for p in standard.node_pools] == [("edge", "e2-standard-4")]
    assert autopilot.protect is standard.protect is False


def test_gcp_project_falls_back_to_the_stacks_gcp_project() -> None:
    raw = _fleet([{"vendor": "gcp", "region": "europe-west3"}])
    assert parse_fleet(raw, provider_config={"gcp:project": "from-config"}).clusters[0].project == "from-config"
    with pytest.raises(ConfigError, match="a gcp cluster needs a project"):
        parse_fleet(raw)
    with pytest.raises(ConfigError, match="the stack's gcp:project 'Bad_Project' is not valid"):
        parse_fleet(raw, provider_config={"gcp:project": "Bad_Project"})
    text = (
        "config:\n  gcp:project: stack-project\n  edgefleet:fleet:\n    environment: dev\n    owner: o\n"
        "    clusters:\n      - {vendor: gcp, region: europe-west3}\n"
    )
    spec = load_stack(parse_stack_text(text, "Pulumi.x.yaml", "x"))
    assert spec.clusters[0].project == "stack-project"


def test_address_blocks_depend_on_the_name_only() -> None:
    alone = parse_fleet(_fleet(FIVE[:1])).clusters[0].network
    with_others = parse_fleet(_fleet(list(reversed(FIVE)))).cluster("aws-eu-central-1").network
    assert alone == with_others
    pinned = parse_fleet(_fleet([{**FIVE[0], "network": {"block": 9}}])).clusters[0].network
    assert pinned is not None
    assert (pinned.block, pinned.network, pinned.pods, pinned.services) == (
        9,
        "10.5.128.0/17",
        "100.65.32.0/19",
        "172.16.72.0/21",
    )
    assert pinned.subnet(20, 0) == "10.5.128.0/20"  # 10.2.0.0/16 (LKE pods) is skipped
    assert pinned.service_ip(10) == "172.16.72.10"

"""What an adversarial pass over #13 items 3-5 broke, each pinned by a test that failed before:

- a cluster listed twice in `must_include` crashed the solver (a traceback, not an error line);
- `must_include`/`min_vendors` beyond `max_locations` were refused in the solver's words
  ("max_sites"), at `placement`, with no fix; without `max_locations`, the default 5 refused six
  `must_include` clusters although the docs promise every `must_include`;
- a pack config the engine refuses (an unknown level, an `allow` that is not a list of names) was
  read one way by placement (silently) and refused by `check`, so `place` passed and `check` failed;
- in a slice, a fleet-wide rule's violation about a workload placed in other slices pointed at
  `workloads:` and named no workload.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.config import ConfigError, parse_fleet
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.policy import location_requirements
from tests.conftest import REPO

runner = CliRunner()


def _existing(name: str, city: str, country: str, plugin: str = "cilium") -> dict[str, Any]:
    return {
        "vendor": "existing",
        "name": name,
        "location": {"city": city, "country": country},
        "cni": {"plugin": plugin, "installed": True},
    }


CLUSTERS = [
    _existing("a", "Berlin", "DE"),
    _existing("b", "Paris", "FR"),
    _existing("c", "Madrid", "ES"),
    _existing("d", "Rome", "IT"),
    _existing("e", "Vienna", "AT"),
    _existing("f", "Warsaw", "PL"),
    {"vendor": "aws", "region": "eu-central-1", "node_pools": [{"name": "g", "size": "medium", "min": 2, "max": 3}]},
]


def _fleet(**workload: Any) -> dict[str, Any]:
    return {
        "environment": "prod",
        "owner": "platform-team",
        "clusters": copy.deepcopy(CLUSTERS),
        "workloads": [{"name": "web", "image": "ghcr.io/acme/web:1.0.0", "port": 8080, "probe_path": "/h", **workload}],
    }


def _errors(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(raw, options=PlacementOptions())
    return [str(issue) for issue in info.value.issues]


def _latency(**placement: Any) -> dict[str, Any]:
    return {"strategy": "latency", **placement}


@pytest.mark.parametrize("key", ["must_include", "must_exclude"])
def test_a_cluster_listed_twice_is_an_error_line_not_a_traceback(key: str) -> None:
    errors = _errors(_fleet(replicas=4, placement=_latency(**{key: ["a", "b", "a"]})))
    assert errors == [f"fleet.workloads[0].placement.{key}[2]: lists 'a' again (also {key}[0]); list each cluster once"]


@pytest.mark.parametrize(
    ("placement", "needed", "relax"),
    [
        (_latency(must_include=["a", "b", "c"], max_locations=2), 3, "must_include"),
        (_latency(min_vendors=2, max_locations=1), 2, "min_vendors"),
        # a and b are one vendor: min_vendors 2 needs a third location of another vendor
        (_latency(must_include=["a", "b"], min_vendors=2, max_locations=2), 3, "min_vendors"),
    ],
)
def test_what_max_locations_cannot_hold_is_refused_at_max_locations_in_config_terms(
    placement: dict[str, Any], needed: int, relax: str
) -> None:
    (error,) = _errors(_fleet(replicas=8, placement=placement))
    assert error.startswith("fleet.workloads[0].placement.max_locations: ")
    assert f"{needed} location(s) are needed; raise max_locations to {needed} or relax `{relax}`" in error
    assert "site" not in error  # the solver's vocabulary stays inside it


def test_without_max_locations_every_must_include_is_placed_even_beyond_the_default_five() -> None:
    names = ["a", "b", "c", "d", "e", "f"]
    spec = parse_fleet(_fleet(replicas=12, placement=_latency(must_include=names)), options=PlacementOptions())
    assert sorted(name for name, _ in spec.workloads[0].replicas) == names


def test_the_issue_arithmetic_places_three_by_two_and_refuses_one_replica_less() -> None:
    spec = parse_fleet(
        _fleet(replicas=6, min_replicas_per_location=2, placement=_latency(min_locations=3, max_locations=5)),
        options=PlacementOptions(),
    )
    assert sorted(n for _, n in spec.workloads[0].replicas) == [2, 2, 2]
    (error,) = _errors(
        _fleet(replicas=5, min_replicas_per_location=2, placement=_latency(min_locations=3, max_locations=5))
    )
    assert error.startswith("fleet.workloads[0].replicas: 5 replicas cannot give min_locations 3 at least 2 each")


# --- the pack config: placement and `check` read (and refuse) it alike --------------------------

STACK = """\
config:
  edgefleet:fleet:
    environment: prod
    owner: platform-team
    clusters:
      - {vendor: existing, name: edge-berlin, location: {city: Berlin, country: DE}, cni: {plugin: cilium}}
      - {vendor: existing, name: edge-paris, location: {city: Paris, country: FR}, cni: {plugin: calico}}
    workloads:
      - name: web
        image: ghcr.io/acme/web:1.0.0
        port: 8080
        replicas: 2
        expose: public
        probe_path: /healthz
        placement: {strategy: latency, max_locations: 1, demand: {preset: europe}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(REPO / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.edge.yaml").write_text(STACK)
    (tmp_path / "policies" / "config").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"traffic-public-multi-location": {"allow": "web"}}, 'allow: "web" is not a list of workload names'),
        ({"traffic-public-multi-location": {"allow": [1, "web"]}}, 'allow: [1, "web"] is not a list of workload'),
        (
            {"traffic-public-multi-location": {"allow": ["web"], "enforcementLevel": "Mandatory"}},
            "enforcement level 'Mandatory' is not one of",
        ),
        ({"traffic-public-multi-location": {"allow": ["web"]}, "all": 3}, "all: enforcement level 3 is not one of"),
    ],
)
def test_a_pack_config_the_engine_refuses_is_refused_by_place_and_check_alike(
    project: Path, config: dict[str, Any], problem: str
) -> None:
    (project / "policies" / "config" / "edge.json").write_text(json.dumps(config))
    for command in ("place", "validate", "check"):
        result = runner.invoke(app, [command, "edge"])
        assert result.exit_code == 2, (command, result.output)
        first = result.output.strip().splitlines()[0]
        assert first.startswith("policies/config/edge.json: "), (command, first)
        assert problem in first, (command, first)
        assert "--policy-pack-config" not in first
        assert "Traceback" not in result.output


def test_a_valid_allow_list_exempts_the_workload_in_place_and_check(project: Path) -> None:
    (project / "policies" / "config" / "edge.json").write_text('{"traffic-public-multi-location": {"allow": ["web"]}}')
    assert runner.invoke(app, ["place", "edge"]).exit_code == 0
    assert runner.invoke(app, ["check", "edge"]).exit_code == 0


def test_a_missing_default_pack_config_is_named_as_absent(tmp_path: Path) -> None:
    (requirement, *_) = location_requirements(tmp_path, "nowhere", None)
    assert requirement.describe().endswith("mandatory in policies/config/nowhere.json (absent: every rule mandatory))")


# --- item 5 in slices: a violation about a workload placed in other slices ------------------------


def test_a_slice_violation_about_a_workload_placed_elsewhere_points_at_that_workload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(REPO / "__main__.py", tmp_path / "__main__.py")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("Pulumi.dev.yaml", "*prod*"))
    (tmp_path / "fleets").mkdir()
    fleet = (REPO / "fleets" / "retail.yaml").read_text() + (
        "  - name: kiosk\n"
        "    image: ghcr.io/acme/kiosk:1.0.0\n"
        "    port: 8080\n"
        "    replicas: 2\n"
        "    expose: public\n"
        "    probe_path: /healthz\n"
        "    placement: {strategy: pinned, clusters: [store-osaka-01]}\n"
    )
    (tmp_path / "fleets" / "retail.yaml").write_text(fleet)
    config = tmp_path / "policies" / "config"
    config.mkdir(parents=True)
    for name in ("asia", "europe", "global", "north-america"):
        (config / f"retail-{name}.json").write_text('{"all": "advisory"}')
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["check", "retail-europe", "--json", str(report)])  # kiosk runs in Asia only
    assert result.exit_code == 0, result.output
    (violation,) = [v for v in json.loads(report.read_text())["violations"] if v["workload"] == "kiosk"]
    assert violation["rule"] == "traffic-public-multi-location"
    assert violation["location"] == {
        "file": "fleets/retail.yaml",
        "line": len(fleet.splitlines()),  # the kiosk entry's `placement`, its last line
        "col": 5,
        "path": "fleet.workloads[2].placement",
    }
    assert "[workload kiosk]" in result.output

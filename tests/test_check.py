"""`edgefleet check`: the pack's rules over the offline plan, enforcement per stack, SARIF and JSON."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from edgefleet.check import CHECK_FORMAT, RULE_CONFIG, Locator, rules_table
from edgefleet.cli import app
from edgefleet.components.config.model import ClusterSpec, WorkloadSpec
from edgefleet.components.config.slices import load_sliced
from edgefleet.components.config.source import read_stack_file
from edgefleet.components.tokens import CLUSTER_TYPES
from edgefleet.engine import run_program
from edgefleet.policies import rules as policy_rules
from tests.conftest import REF, REPO

runner = CliRunner()
PLANTED = REPO / "tests" / "data" / "policy" / "Pulumi.planted.yaml"
PROD_CONFIG = REPO / "policies" / "config" / "prod.json"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def _check(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", *args])
    return result.exit_code, result.output


def test_the_pack_has_at_least_30_rules_with_unique_kebab_case_names() -> None:
    names = [p.name for p in policy_rules.ALL_POLICIES]
    assert len(names) >= 30
    assert len(set(names)) == len(names)
    for policy in policy_rules.ALL_POLICIES:
        assert policy.name == policy.name.lower()
        assert " " not in policy.name
        assert policy.description
        assert policy.severity is not None
        assert policy.remediation_steps


def test_prod_passes_and_dev_is_advisory(tmp_path: Path) -> None:
    code, output = _check("prod", "--json", str(tmp_path / "prod.json"))
    assert code == 0, output
    report = json.loads((tmp_path / "prod.json").read_text())
    assert report["format"] == CHECK_FORMAT
    assert report["violations"] == []
    assert {r["enforcement"] for r in report["rules"]} == {"mandatory"}

    code, output = _check("dev", "--json", str(tmp_path / "dev.json"))
    assert code == 0, output
    report = json.loads((tmp_path / "dev.json").read_text())
    assert {r["enforcement"] for r in report["rules"]} == {"advisory"}
    assert [v["rule"] for v in report["violations"]] == ["network-isolation-for-public-workloads"]


# Where the rules that judge locations are mandatory, placement honours them and never plants
# their violations (tests/test_placement_policy.py); here they are advisory, so the planted
# placement (a public workload on flannel, one replica per location) stands and is reported.
LOCATION_RULES_ADVISORY = {
    "all": "mandatory",
    "network-isolation-for-public-workloads": "advisory",
    "k8s-public-workload-replicas": "advisory",
    "traffic-public-multi-location": "advisory",
}
ADVISORY_HERE = {"network-isolation-for-public-workloads", "k8s-public-workload-replicas"}


def test_planted_violations_fail_with_the_expected_rules_and_lines(tmp_path: Path) -> None:
    sarif_file, json_file = tmp_path / "check.sarif", tmp_path / "check.json"
    pack_config = tmp_path / "pack.json"
    pack_config.write_text(json.dumps(LOCATION_RULES_ADVISORY))
    code, output = _check(
        str(PLANTED), "--policy-pack-config", str(pack_config), "--sarif", str(sarif_file), "--json", str(json_file)
    )
    assert code == 1, output
    text = PLANTED.read_text()
    expected = {
        ("k8s-public-workload-replicas", _line_of(text, "replicas: 2")),
        ("network-isolation-for-public-workloads", _line_of(text, "expose: public")),
        ("network-no-egress-to-everywhere", _line_of(text, "egress_cidrs")),
        ("traffic-public-health-check", _line_of(text, "- name: web")),  # no probe_path: its workload entry
    }
    report = json.loads(json_file.read_text())
    found = {(v["rule"], v["location"]["line"]) for v in report["violations"]}
    assert found == expected
    assert {v["location"]["file"] for v in report["violations"]} == {"tests/data/policy/Pulumi.planted.yaml"}
    assert all(
        v["enforcement"] == ("advisory" if v["rule"] in ADVISORY_HERE else "mandatory") for v in report["violations"]
    )
    assert "failed: " in output

    sarif = json.loads(sarif_file.read_text())
    schema = json.loads((REF / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(policy_rules.ALL_POLICIES)
    results = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"], r["level"]) for r in run["results"]
    }
    assert results == {(rule, line, "warning" if rule in ADVISORY_HERE else "error") for rule, line in expected}
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
            "tests/data/policy/Pulumi.planted.yaml"
        )


def test_advisory_config_turns_the_same_violations_into_warnings(tmp_path: Path) -> None:
    code, _ = _check(str(PLANTED), "--policy-pack-config", str(REPO / "policies" / "config" / "dev.json"))
    assert code == 0


def test_a_disabled_rule_does_not_run(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({**LOCATION_RULES_ADVISORY, "network-no-egress-to-everywhere": "disabled"}))
    json_file = tmp_path / "r.json"
    code, _ = _check(str(PLANTED), "--policy-pack-config", str(config), "--json", str(json_file))
    assert code == 1
    rules = {v["rule"] for v in json.loads(json_file.read_text())["violations"]}
    assert "network-no-egress-to-everywhere" not in rules
    assert "network-isolation-for-public-workloads" in rules


def test_a_bad_pack_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"all": "sometimes"}')
    code, output = _check("prod", "--policy-pack-config", str(config))
    assert code == 2
    assert "enforcement level 'sometimes' is not one of" in output
    assert "Traceback" not in output


def test_invalid_config_exits_2() -> None:
    code, output = _check(str(REPO / "tests" / "data" / "bad" / "Pulumi.missing-owner.yaml"))
    assert code == 2
    assert "fleet.owner: missing required key `owner`" in output


def test_the_pack_object_is_never_imported() -> None:
    assert "edgefleet.policies.__main__" not in sys.modules
    for folder in ("edgefleet", "components", "tests", "policies/rules"):
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    assert node.module not in ("edgefleet.policies.__main__", "__main__"), path
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", "")) == "PolicyPack"
                ):
                    pytest.fail(f"{path} constructs a PolicyPack")


def test_the_readme_rules_table_is_generated_from_the_rules() -> None:
    readme = (REPO / "README.md").read_text()
    start, end = "<!-- rules:start -->\n", "<!-- rules:end -->"
    assert start in readme
    assert end in readme
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == rules_table(policy_rules.ALL_POLICIES), "run `make docs` to regenerate the README table"


def _pack_main() -> Any:
    return ast.parse((REPO / "policies" / "__main__.py").read_text())


def test_pack_main_builds_the_pack_from_all_rules() -> None:
    calls = [n for n in ast.walk(_pack_main()) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PolicyPack"]
    assert len(calls) == 1
    keywords = {k.arg for k in calls[0].keywords}
    assert {"name", "policies", "enforcement_level"} <= keywords


# --- where violations point (#13 item 5) ------------------------------------------------------

DERIVED = REPO / "tests" / "data" / "policy" / "Pulumi.derived.yaml"
DERIVED_FILE = "tests/data/policy/Pulumi.derived.yaml"
RETAIL = REPO / "fleets" / "retail.yaml"


def _nth_line(text: str, needle: str, after: str | None = None) -> int:
    """The line of the first ``needle`` (after the first ``after``, when given)."""
    start = _line_of(text, after) if after else 0
    lines = text.splitlines()
    return next(i for i in range(start + 1, len(lines) + 1) if needle in lines[i - 1])


@pytest.fixture(scope="module")
def derived() -> tuple[Any, Any]:
    return _planned(DERIVED)


@pytest.fixture(scope="module")
def sliced() -> tuple[Any, Any]:
    return _planned(REPO / "stacks" / "Pulumi.retail-europe.yaml")


def _planned(path: Path) -> tuple[Any, Any]:
    source = read_stack_file(path, REPO)
    spec, _ = load_sliced(source, REPO)
    run = run_program(REPO, source)
    return run, Locator(run, source, REPO, spec)


def _owners(run: Any, locator: Any) -> list[tuple[str, str | None, str | None]]:
    return [(r.urn, *locator.owner(r.urn)) for r in run.registrations]


def test_rule_config_names_real_rules_and_real_keys() -> None:
    names = {p.name for p in policy_rules.ALL_POLICIES}
    assert set(RULE_CONFIG) <= names, set(RULE_CONFIG) - names
    fields = {"cluster": ClusterSpec.model_fields, "workload": WorkloadSpec.model_fields}
    for rule, key in RULE_CONFIG.items():
        assert key.paths, rule
        for path in key.paths:
            assert path[0] in fields[key.scope], (rule, path)


@pytest.mark.parametrize("fixture", ["derived", "sliced"])
def test_every_rule_on_every_resource_points_into_the_config(fixture: str, request: pytest.FixtureRequest) -> None:
    """Whatever rule a resource violates, the location is a line of the file holding the fleet
    config (the stack file; a slice's shared fleet file), inside the entry of the cluster or
    workload that made it (or `defaults`), and names that cluster and workload."""
    run, locator = request.getfixturevalue(fixture)
    expected_file = DERIVED_FILE if fixture == "derived" else "fleets/retail.yaml"
    text = (REPO / expected_file).read_text()
    n_lines = len(text.splitlines())
    owners = _owners(run, locator)
    derived_clusters = {c.name for c in locator.clusters.values() if c.spec.name is None}
    assert derived_clusters & {cluster for _, cluster, _ in owners}, "the stack must deploy a derived-name cluster"
    for policy in policy_rules.ALL_POLICIES:
        for urn, cluster, workload in owners:
            where = locator.locate(policy.name, urn)
            assert where.file == expected_file, (policy.name, urn, where)
            assert 1 <= where.line <= n_lines
            assert (where.cluster, where.workload) == (cluster, workload)
            if cluster is not None and workload is None:
                index = locator.clusters[cluster].config_index
                assert where.path.startswith((f"fleet.clusters[{index}]", "fleet.defaults.")), (policy.name, where)
            if workload is not None:
                assert where.path.startswith("fleet.workloads[") or where.path.startswith(
                    (f"fleet.clusters[{locator.clusters[cluster].config_index}]", "fleet.defaults.")
                ), (policy.name, where)


def test_key_rules_point_at_the_key_in_the_entry_or_in_defaults(derived: tuple[Any, Any]) -> None:
    run, locator = derived
    text = DERIVED.read_text()
    by_cluster: dict[str, str] = {}
    for urn, cluster, workload in _owners(run, locator):
        of_cluster = any(f"${t}" in urn for t in CLUSTER_TYPES)
        if cluster and workload is None and of_cluster and not urn.endswith(f"::{cluster}"):
            by_cluster.setdefault(cluster, urn)  # a resource of the cluster's component
    defaults_version = _line_of(text, 'kubernetes_version: "1.25"')
    defaults_endpoint = _line_of(text, "endpoint: {public: false}")
    cases = [
        # (rule, cluster, config path, line)
        ("eks-supported-version", "aws-eu-central-1", "fleet.defaults.kubernetes_version", defaults_version),
        ("doks-supported-version", "digitalocean-sgp1", "fleet.defaults.kubernetes_version", defaults_version),
        (
            "lke-supported-version",
            "linode-br-gru",
            "fleet.clusters[1].kubernetes_version",
            _line_of(text, 'kubernetes_version: "1.26"'),
        ),
        ("eks-endpoint-not-public", "aws-eu-central-1", "fleet.defaults.endpoint.public", defaults_endpoint),
        ("aks-api-server-restricted", "azure-japaneast", "fleet.defaults.endpoint.public", defaults_endpoint),
        ("gke-control-plane-restricted", "gcp-europe-west3", "fleet.defaults.endpoint.public", defaults_endpoint),
        (
            "lke-control-plane-acl",
            "linode-br-gru",
            "fleet.clusters[1].endpoint.allowed_cidrs",
            _nth_line(text, "allowed_cidrs", after="region: br-gru"),
        ),
        (
            "doks-control-plane-firewall",
            "digitalocean-sgp1",
            "fleet.clusters[4].endpoint.allowed_cidrs",
            _nth_line(text, "allowed_cidrs", after="region: sgp1"),
        ),
        ("gke-network-policy", "gcp-europe-west3", "fleet.clusters[2].cni", _line_of(text, "cni: {plugin: calico}")),
        # no `cni` written for azure: its entry
        ("aks-network-policy", "azure-japaneast", "fleet.clusters[3]", _line_of(text, "- vendor: azure")),
        # a rule with no config key: the cluster's entry
        ("eks-secrets-encrypted", "aws-eu-central-1", "fleet.clusters[0]", _line_of(text, "- vendor: aws")),
    ]
    for rule, cluster, path, line in cases:
        where = locator.locate(rule, by_cluster[cluster])
        assert (where.file, where.path, where.line, where.cluster) == (DERIVED_FILE, path, line, cluster), rule
    workload_urn = next(urn for urn, _, workload in _owners(run, locator) if workload == "sync")
    where = locator.locate("network-no-egress-to-everywhere", workload_urn)
    assert (where.path, where.line) == ("fleet.workloads[0].egress_cidrs", _line_of(text, "egress_cidrs"))


def test_a_slice_points_into_the_shared_fleet_file(sliced: tuple[Any, Any]) -> None:
    run, locator = sliced
    text = RETAIL.read_text()
    eks = next(
        urn for urn, cluster, _ in _owners(run, locator) if cluster == "aws-eu-central-1" and "eks/cluster" in urn
    )
    inherited = locator.locate("eks-endpoint-not-public", eks)
    assert (inherited.file, inherited.path, inherited.line) == (
        "fleets/retail.yaml",
        "fleet.defaults.endpoint.public",
        _line_of(text, "endpoint: {public: false}"),
    )
    version = locator.locate("eks-supported-version", eks)  # not written anywhere: the entry
    assert (version.path, version.line) == ("fleet.clusters[0]", _line_of(text, "- vendor: aws"))


def test_violations_on_derived_names_point_at_config_lines_in_text_json_and_sarif(tmp_path: Path) -> None:
    sarif_file, json_file = tmp_path / "check.sarif", tmp_path / "check.json"
    code, output = _check(str(DERIVED), "--sarif", str(sarif_file), "--json", str(json_file))
    assert code == 1, output
    assert ".py:" not in output
    text = DERIVED.read_text()
    defaults_version = _line_of(text, 'kubernetes_version: "1.25"')
    egress = _line_of(text, "egress_cidrs")
    clusters = ["aws-eu-central-1", "azure-japaneast", "digitalocean-sgp1", "gcp-europe-west3", "linode-br-gru"]
    expected = {
        ("eks-supported-version", defaults_version, "aws-eu-central-1", None),
        ("doks-supported-version", defaults_version, "digitalocean-sgp1", None),
        ("lke-supported-version", _line_of(text, 'kubernetes_version: "1.26"'), "linode-br-gru", None),
        *(("network-no-egress-to-everywhere", egress, c, "sync") for c in [*clusters, "shop-1"]),
    }
    report = json.loads(json_file.read_text())
    found = {(v["rule"], v["location"]["line"], v["cluster"], v["workload"]) for v in report["violations"]}
    assert found == expected
    assert {v["location"]["file"] for v in report["violations"]} == {DERIVED_FILE}
    paths = {v["rule"]: v["location"]["path"] for v in report["violations"]}
    assert paths["eks-supported-version"] == "fleet.defaults.kubernetes_version"
    assert paths["network-no-egress-to-everywhere"] == "fleet.workloads[0].egress_cidrs"
    assert all(v["fix"] for v in report["violations"])

    # Text: one line per violation, each naming its cluster (and workload): no two lines alike.
    lines = [line for line in output.splitlines() if line.startswith("mandatory ")]
    assert len(lines) == len(expected) == len(set(lines))
    for rule, line, cluster, workload in expected:
        subject = f"[workload {workload} in cluster {cluster}]" if workload else f"[cluster {cluster}]"
        assert any(f"{DERIVED_FILE}:{line}:" in out and f"{rule} {subject}:" in out for out in lines), (rule, cluster)

    sarif = json.loads(sarif_file.read_text())
    schema = json.loads((REF / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["properties"]["cluster"],
            r["properties"].get("workload"),
        )
        for r in results
    } == expected
    for result in results:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == DERIVED_FILE
        assert result["message"]["text"].startswith(("cluster ", "workload "))

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

import policies.rules
from edgefleet.check import CHECK_FORMAT, rules_table
from edgefleet.cli import app
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
    names = [p.name for p in policies.rules.ALL_POLICIES]
    assert len(names) >= 30
    assert len(set(names)) == len(names)
    for policy in policies.rules.ALL_POLICIES:
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


def test_planted_violations_fail_with_the_expected_rules_and_lines(tmp_path: Path) -> None:
    sarif_file, json_file = tmp_path / "check.sarif", tmp_path / "check.json"
    code, output = _check(
        str(PLANTED), "--policy-pack-config", str(PROD_CONFIG), "--sarif", str(sarif_file), "--json", str(json_file)
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
    assert all(v["enforcement"] == "mandatory" for v in report["violations"])
    assert "failed: " in output

    sarif = json.loads(sarif_file.read_text())
    schema = json.loads((REF / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(policies.rules.ALL_POLICIES)
    results = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"], r["level"]) for r in run["results"]
    }
    assert results == {(rule, line, "error") for rule, line in expected}
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
    config.write_text(json.dumps({"all": "mandatory", "network-no-egress-to-everywhere": "disabled"}))
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
    assert "policies.__main__" not in sys.modules
    for folder in ("edgefleet", "components", "tests", "policies/rules"):
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    assert node.module not in ("policies.__main__", "__main__"), path
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
    assert table == rules_table(policies.rules.ALL_POLICIES), "run `make docs` to regenerate the README table"


def _pack_main() -> Any:
    return ast.parse((REPO / "policies" / "__main__.py").read_text())


def test_pack_main_builds_the_pack_from_all_rules() -> None:
    calls = [n for n in ast.walk(_pack_main()) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PolicyPack"]
    assert len(calls) == 1
    keywords = {k.arg for k in calls[0].keywords}
    assert {"name", "policies", "enforcement_level"} <= keywords

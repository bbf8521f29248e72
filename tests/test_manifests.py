"""A workload's own Kubernetes objects (issue 14, section 2: ``manifests: <path>``): read at config
time with their positions, deployed per placed location with the placed replicas, overrides,
labels and edgefleet's NetworkPolicies and PDB, valid Kubernetes, and located by ``edgefleet check``
at the manifest's file and line."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import chdir
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.config import read_stack_file
from edgefleet.components.config.manifests import KINDS, path_key
from edgefleet.components.config.slices import load_sliced
from edgefleet.components.workloads.manifest_objects import KIND_CLASSES, snake
from edgefleet.engine import ProgramRun, Registration
from tests.conftest import REPO, plan_text, stack_text, user_project

runner = CliRunner()

FLEET = """
environment: test
owner: platform-team
clusters:
  - vendor: existing
    name: shop-1
    location: {city: Hamburg, country: DE}
    cni: {plugin: cilium, installed: true}
  - vendor: existing
    name: shop-2
    location: {city: Vienna, country: AT}
    cni: {plugin: cilium, installed: true}
  - vendor: existing
    name: shop-3
    location: {city: Munich, country: DE}
    cni: {plugin: cilium, installed: true}
workloads:
  - name: board
    manifests: apps/price-board/
    replicas: 7
    overrides:
      - clusters: [shop-2]
        image: ghcr.io/acme/price-board:1.3.0
        env: {BOARD_CURRENCY: EUR}
        labels: {canary: "yes"}
"""


@pytest.fixture(scope="module")
def planned() -> tuple[Any, ProgramRun]:
    return plan_text(stack_text(FLEET))


def _objects(run: ProgramRun, kind: str, cluster: str) -> list[Registration]:
    return [r for r in run.registrations if r.type.endswith(f":{kind}") and f"board-{cluster}" in r.urn]


def _line_of(path: str, needle: str) -> int:
    text = (REPO / path).read_text()
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_every_object_is_registered_typed_in_every_location_with_the_placed_replicas(planned: Any) -> None:
    spec, run = planned
    workload = spec.workloads[0]
    assert workload.scale_target == "Deployment/price-board"
    assert [o.kind for o in workload.manifests] == ["ConfigMap", "Deployment", "Service"]
    placed = dict(workload.replicas)
    assert sum(placed.values()) == 7
    assert len(placed) == 3
    for cluster, replicas in placed.items():
        (deployment,) = _objects(run, "Deployment", cluster)
        assert deployment.type == "kubernetes:apps/v1:Deployment"
        assert deployment.inputs["spec"]["replicas"] == replicas
        assert deployment.inputs["metadata"]["namespace"] == "board"
        assert {r.type for r in run.registrations if f"board-{cluster}" in r.urn and r.custom} == {
            "kubernetes:core/v1:Namespace",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:Service",
            "kubernetes:apps/v1:Deployment",
            "kubernetes:policy/v1:PodDisruptionBudget",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        }
        # The pods' ConfigMap exists before the Deployment.
        (config_map,) = _objects(run, "ConfigMap", cluster)
        assert config_map.urn in deployment.dependencies


def test_overrides_and_labels_apply_per_location(planned: Any) -> None:
    _, run = planned
    for cluster in ("shop-1", "shop-2"):
        (deployment,) = _objects(run, "Deployment", cluster)
        container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["EDGEFLEET_CLUSTER"] == cluster
        assert env["BOARD_CONFIG"] == "/etc/price-board/board.yaml"  # the manifest's own
        if cluster == "shop-2":
            assert container["image"] == "ghcr.io/acme/price-board:1.3.0"
            assert env["BOARD_CURRENCY"] == "EUR"
        else:
            assert container["image"] == "ghcr.io/acme/price-board:1.2.0"
            assert "BOARD_CURRENCY" not in env
        for r in run.registrations:
            if f"board-{cluster}" in r.urn and r.custom and r.type.startswith("kubernetes:"):
                labels = r.inputs["metadata"]["labels"]
                assert labels["edgefleet-cluster"] == cluster
                assert labels["owner"] == "platform-team"
                assert ("canary" in labels) == (cluster == "shop-2")
        pod_labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
        assert ("canary" in pod_labels) == (cluster == "shop-2")


def test_edgefleet_adds_the_pdb_and_network_policies_for_the_services_ports(planned: Any) -> None:
    _, run = planned
    (pdb,) = _objects(run, "PodDisruptionBudget", "shop-1")
    assert pdb.inputs["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "price-board"}},
    }
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in _objects(run, "NetworkPolicy", "shop-1")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allow = policies["allow-board"]
    assert allow["podSelector"] == {}
    assert allow["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}], "from": [{"namespaceSelector": {}}]}]


def test_every_manifest_passes_kubernetes_validate_and_the_plan_is_deterministic(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.board.yaml"
    stack.write_text(stack_text(FLEET))
    plans = []
    for i in range(2):
        result = runner.invoke(
            app, ["plan", str(stack), "--manifests", str(tmp_path / f"m{i}"), "--json", str(tmp_path / f"p{i}.json")]
        )
        assert result.exit_code == 0, result.output
        plans.append((tmp_path / f"p{i}.json").read_bytes())
    assert plans[0] == plans[1]
    yaml = YAML(typ="safe", pure=True)
    files = sorted((tmp_path / "m0").rglob("*.yaml"))
    kinds = set()
    for path in files:
        obj = yaml.load(path.read_text())
        kinds.add(obj["kind"])
        kubernetes_validate.validate(obj, "1.33", strict=True)
    assert {"ConfigMap", "Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget", "Namespace"} == kinds
    assert len(files) == 3 * 7
    deployment = yaml.load((tmp_path / "m0" / "shop-1" / "board" / "Deployment-price-board.yaml").read_text())
    assert deployment["spec"]["replicas"] >= 2


def test_the_prod_example_deploys_a_manifests_workload_and_passes_check(tmp_path: Path) -> None:
    spec, _ = load_sliced(read_stack_file(REPO / "stacks" / "Pulumi.prod.yaml", REPO), REPO)
    board = next(w for w in spec.workloads if w.spec.name == "price-board")
    assert board.spec.manifests == "apps/price-board/"
    assert {o.kind for o in board.manifests} == {"Deployment", "Service", "ConfigMap"}
    assert board.manifests[0].file.startswith("apps/price-board/")
    result = runner.invoke(app, ["plan", "prod", "--manifests", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    yaml = YAML(typ="safe", pure=True)
    for cluster, replicas in board.replicas:
        folder = tmp_path / "m" / cluster / "price-board"
        for path in folder.glob("*.yaml"):
            kubernetes_validate.validate(yaml.load(path.read_text()), "1.33", strict=True)
        assert yaml.load((folder / "Deployment-price-board.yaml").read_text())["spec"]["replicas"] == replicas
    check = runner.invoke(app, ["check", "prod", "--json", str(tmp_path / "c.json")])
    assert check.exit_code == 0, check.output
    assert json.loads((tmp_path / "c.json").read_text())["violations"] == []


def test_the_kinds_table_matches_the_typed_classes() -> None:
    assert set(KINDS) == set(KIND_CLASSES)
    for key, fields in KINDS.items():
        params = inspect.signature(KIND_CLASSES[key]._internal_init).parameters  # type: ignore[attr-defined]
        for name in fields:
            assert snake(name) in params, (key, name)


def test_path_keys() -> None:
    assert path_key(("spec", "containers", 0, "image")) == "spec.containers[0].image"
    assert path_key(()) == ""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    user_project(tmp_path, "apps")
    with chdir(tmp_path):
        yield tmp_path


ONE = """
environment: test
owner: platform-team
clusters:
  - vendor: existing
    name: shop-1
    location: {city: Hamburg, country: DE}
workloads:
  - name: web
    manifests: apps/web
"""
DEPLOYMENT = (REPO / "apps" / "price-board" / "deployment.yaml").read_text()


def _validate(project: Path) -> tuple[int, str]:
    stack = project / "stacks" / "Pulumi.app.yaml"
    stack.write_text(stack_text(ONE))
    result = runner.invoke(app, ["validate", str(stack)])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stderr


def test_a_directory_of_multi_document_files_is_read_in_order_with_positions(project: Path) -> None:
    web = project / "apps" / "web"
    (web / "nested").mkdir(parents=True)
    (web / "b.yml").write_text(DEPLOYMENT)
    (web / "nested" / "a.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\n# two\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: two}\n"
    )
    (web / "README.md").write_text("not a manifest")
    code, stderr = _validate(project)
    assert code == 0, stderr
    spec, _ = load_sliced(read_stack_file(project / "stacks" / "Pulumi.app.yaml", project), project)
    objects = spec.workloads[0].manifests
    assert [(o.file, o.line, o.name) for o in objects] == [
        ("apps/web/b.yml", 3, "price-board"),
        ("apps/web/nested/a.yaml", 1, "one"),
        ("apps/web/nested/a.yaml", 6, "two"),
    ]
    line = next(i for i, text in enumerate(DEPLOYMENT.splitlines(), start=1) if "- name: price-board" in text)
    assert objects[0].positions["spec.template.spec.containers[0]"][0] == line


def test_a_manifest_linked_outside_the_project_is_refused(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "deployment.yaml"
    outside.write_text(DEPLOYMENT)
    (project / "apps" / "web").mkdir()
    (project / "apps" / "web" / "deployment.yaml").symlink_to(outside)
    code, stderr = _validate(project)
    assert code == 2
    assert "fleet.workloads[0].manifests: apps/web/deployment.yaml is a symbolic link to" in stderr
    assert "outside the project" in stderr


def test_an_empty_directory_and_a_stack_file_are_refused(project: Path) -> None:
    (project / "apps" / "web").mkdir()
    code, stderr = _validate(project)
    assert code == 2
    assert "apps/web holds no .yaml or .yml file" in stderr
    (project / "apps" / "web" / "Pulumi.prod.yaml").write_text("config: {}\n")
    code, stderr = _validate(project)
    assert code == 2
    assert "is a stack settings file" in stderr


def test_an_unknown_top_level_field_is_refused_at_its_line(project: Path) -> None:
    (project / "apps" / "web").mkdir()
    (project / "apps" / "web" / "d.yaml").write_text(DEPLOYMENT + "extra: true\n")
    code, stderr = _validate(project)
    assert code == 2
    line = DEPLOYMENT.count("\n") + 1
    assert f"apps/web/d.yaml:{line}: Deployment 'price-board' has `extra`, not a field of a Deployment" in stderr


def test_a_secret_in_a_manifest_is_refused(project: Path) -> None:
    # Its values would be in git in clear, and offline its data would plan as one "[secret]" string.
    (project / "apps" / "web").mkdir()
    (project / "apps" / "web" / "d.yaml").write_text(
        DEPLOYMENT + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n"
    )
    code, stderr = _validate(project)
    assert code == 2
    assert "Secret 'db': a Secret's values in a manifest file would sit in git in clear" in stderr
    assert "hunter2" not in stderr


def test_an_object_name_with_a_trailing_line_break_is_refused(project: Path) -> None:
    # A regex `$` also matches before a final "\n": the name check is a full match.
    (project / "apps" / "web").mkdir()
    (project / "apps" / "web" / "d.yaml").write_text('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "one\\n"}\n')
    code, stderr = _validate(project)
    assert code == 2
    assert "the name is not a valid Kubernetes object name" in stderr


def _refused(project: Path, extra: str) -> str:
    (project / "apps" / "web").mkdir(exist_ok=True)
    (project / "apps" / "web" / "d.yaml").write_text(DEPLOYMENT + "---\n" + extra)
    code, stderr = _validate(project)
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 2, stderr  # the error, one line, and the count
    return stderr


def _line(extra: str, needle: str) -> int:
    """The line of ``needle`` in the extra document, counted in the whole file."""
    offset = (DEPLOYMENT + "---\n").count("\n")
    return offset + next(i for i, line in enumerate(extra.splitlines(), start=1) if needle in line)


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"


@pytest.mark.parametrize(
    ("extra", "needle", "expected"),
    [
        # Before: validate passed, then `edgefleet plan` crashed with a traceback in pulumi's typing.
        (CM + "  labels: [a]\n", "labels: [a]", "metadata.labels: ['a'] is not of type 'object'"),
        (CM + "data: [1]\n", "data: [1]", "data: [1] is not of type 'object'"),
        # Before: accepted, and the API server would refuse it at `pulumi up`, midway.
        (CM + "  labels: {n: 5}\n", "labels: {n: 5}", "metadata.labels.n: 5 is not of type 'string'"),
        (CM + '  labels: {"bad key!": x}\n', "bad key!", "label 'bad key!': its name is not"),
        (CM + '  labels: {ok: "no spaces"}\n', "no spaces", "label 'ok': its value is not"),
        (CM + '  annotations: {"Example.com/x": y}\n', "Example.com", "its prefix (before `/`) is not"),
        (
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  serviceName: s\n  selector: {}\n"
            "  template:\n    spec:\n      containers:\n        - name: x\n          bogus: 1\n",
            "- name: x",
            "spec.template.spec.containers[0]: Additional properties are not allowed ('bogus' was unexpected)",
        ),
        # Before: `!!binary` bytes reached binaryData as the text "b'hello'".
        (CM + "binaryData: {x: !!binary aGVsbG8=}\n", "!!binary", "`!!binary` decodes to bytes"),
    ],
)
def test_an_object_the_api_would_refuse_is_refused_at_its_line(
    project: Path, extra: str, needle: str, expected: str
) -> None:
    stderr = _refused(project, extra)
    assert f"apps/web/d.yaml:{_line(extra, needle)}: " in stderr
    assert expected in stderr


HPA = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: hpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: price-board}
  maxReplicas: 10
"""
PDB = """apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: mine}
spec:
  maxUnavailable: 1
  selector: {matchExpressions: [{key: app.kubernetes.io/name, operator: Exists}]}
"""
BINDING = """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: %s, name: %s}
subjects:
  - {kind: %s, name: "%s", namespace: %s}
"""
ROLE = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get, "*"]
"""


@pytest.mark.parametrize(
    ("extra", "needle", "expected"),
    [
        (HPA, "scaleTargetRef", "HorizontalPodAutoscaler 'hpa' scales Deployment/price-board"),
        (PDB, "selector:", "PodDisruptionBudget 'mine' selects the pods of Deployment/price-board"),
        (
            BINDING % ("ClusterRole", "cluster-admin", "ServiceAccount", "default", "web"),
            "roleRef",
            "RoleBinding 'b' binds ClusterRole 'cluster-admin'",
        ),
        (
            BINDING % ("Role", "r", "ServiceAccount", "default", "kube-system"),
            "- {kind",
            "grants to service account 'default' of namespace 'kube-system'",
        ),
        (
            BINDING % ("Role", "r", "Group", "system:authenticated", "null"),
            "- {kind",
            "grants to Group 'system:authenticated', a Kubernetes system identity",
        ),
        (ROLE, "verbs:", "Role 'r' grants '*'"),
        (
            ROLE.replace('[""]', "[networking.k8s.io]")
            .replace("configmaps", "networkpolicies")
            .replace('"*"', "delete"),
            "resources:",
            "Role 'r' lets its subjects change networkpolicies",
        ),
        (
            ROLE.replace('apiGroups: [""]', 'apiGroups: ["*"]')
            .replace("resources: [configmaps]", 'resources: ["*"]')
            .replace('verbs: [get, "*"]', "verbs: [get, patch]"),
            "resources:",
            "lets its subjects change networkpolicies and poddisruptionbudgets",
        ),
        (
            ROLE.replace('[""]', "[policy]")
            .replace("configmaps", "poddisruptionbudgets/status")
            .replace('"*"', "update"),
            "resources:",
            "lets its subjects change poddisruptionbudgets",
        ),
    ],
)
def test_objects_that_undo_edgefleets_guards_are_refused(project: Path, extra: str, needle: str, expected: str) -> None:
    stderr = _refused(project, extra)
    assert f"apps/web/d.yaml:{_line(extra, needle)}: " in stderr
    assert expected in stderr


def test_an_own_role_binding_an_other_pdb_and_hpa_are_accepted(project: Path) -> None:
    (project / "apps" / "web").mkdir()
    other = PDB.replace("matchExpressions: [{key: app.kubernetes.io/name, operator: Exists}]", "matchLabels: {a: b}")
    binding = BINDING % ("Role", "r", "ServiceAccount", "default", "web")
    role = ROLE.replace(', "*"', "")
    hpa = HPA.replace("kind: Deployment, name: price-board", "kind: Deployment, name: other")
    (project / "apps" / "web" / "d.yaml").write_text("---\n".join([DEPLOYMENT, other, binding, role, hpa]))
    code, stderr = _validate(project)
    assert code == 0, stderr

"""The offline engine, the plan document, the manifests, and what must never leak."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.config import FleetSpec
from edgefleet.engine import ProgramRun, Registration
from edgefleet.plan import PLAN_FORMAT, build_plan, dumps
from tests.conftest import KUBECONFIG, PLANTED, STACKS, plan_text, stack_text

runner = CliRunner()

SHOP = """
environment: test
owner: platform-team
clusters:
  - vendor: existing
    name: shop-1
    location: {city: Hamburg, country: DE}
    cni: {plugin: cilium, installed: true}
    kubeconfig: shopKubeconfig
workloads:
  - name: web
    image: ghcr.io/acme/web:2.0.1
    port: 8080
    replicas: 3
"""


def _plan_files(tmp: Path, stack: str) -> tuple[bytes, dict[str, bytes], str]:
    plan_file, manifests = tmp / "plan.json", tmp / "manifests"
    tmp.mkdir(parents=True, exist_ok=True)  # edgefleet creates no parent directory (docs/cli.md)
    result = runner.invoke(app, ["plan", stack, "--json", str(plan_file), "--manifests", str(manifests)])
    assert result.exit_code == 0, result.output
    tree = {p.relative_to(manifests).as_posix(): p.read_bytes() for p in sorted(manifests.rglob("*")) if p.is_file()}
    return plan_file.read_bytes(), tree, result.output


def test_plan_and_manifests_are_byte_identical_across_runs(tmp_path: Path) -> None:
    first = _plan_files(tmp_path / "a", "dev")
    second = _plan_files(tmp_path / "b", "dev")
    assert first[0] == second[0]
    assert first[1] == second[1]
    plan = json.loads(first[0])
    assert plan["format"] == PLAN_FORMAT
    assert plan["project"] == "edgefleet"
    assert plan["stack"] == "dev"
    assert [r["urn"] for r in plan["resources"]] == sorted(r["urn"] for r in plan["resources"])


def test_plan_document_shape(dev_plan: tuple[FleetSpec, ProgramRun]) -> None:
    spec, run = dev_plan
    plan = json.loads(dumps(build_plan(spec, run)))
    assert [c["name"] for c in plan["clusters"]] == ["store-berlin-01", "store-munich-01"]
    berlin = plan["clusters"][0]
    assert berlin["vendor"] == "existing"
    assert berlin["location"] == {"lat": 52.52437, "lon": 13.41053, "country": "DE"}
    assert berlin["cni"] == {"plugin": "flannel", "mode": None, "network_policy": False}
    assert plan["placements"] == [
        {
            "workload": "api",
            "strategy": "everywhere",
            "locations": [
                {"cluster": "store-berlin-01", "replicas": 2, "demand_share": None, "wave": 0},
                {"cluster": "store-munich-01", "replicas": 2, "demand_share": None, "wave": 0},
            ],
        }
    ]
    assert plan["dns"] == []  # no `traffic` in dev
    keys = {"urn", "type", "name", "custom", "parent", "provider", "dependencies", "protect", "inputs"}
    assert all(set(r) == keys for r in plan["resources"])
    assert plan["outputs"]["kubeconfigs"] == "[secret]"
    # secure: values cannot be decrypted offline: secret, content unknown, so the endpoint is unknown too.
    assert plan["outputs"]["clusters"]["store-berlin-01"]["endpoint"] == "[unknown]"
    assert plan["outputs"]["placements"] == {"api": {"store-berlin-01": 2, "store-munich-01": 2}}


def test_every_manifest_is_a_complete_kubernetes_object(tmp_path: Path) -> None:
    _, tree, _ = _plan_files(tmp_path, "dev")
    objects = {name: YAML(typ="safe", pure=True).load(body) for name, body in tree.items() if name.endswith(".yaml")}
    # (6 workload objects + 11 netcheck objects + 8 for the WAN probes and the zone label) x 2 clusters
    assert len(objects) == 50
    assert "store-berlin-01/_cluster/Namespace-api.yaml" in objects
    assert "store-munich-01/api/Deployment-api.yaml" in objects
    for name, obj in objects.items():
        assert obj["metadata"]["name"], name
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    deployment = objects["store-berlin-01/api/Deployment-api.yaml"]
    assert deployment["spec"]["replicas"] == 2
    assert type(deployment["spec"]["replicas"]) is int


def test_manifests_refuse_a_directory_they_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = runner.invoke(app, ["plan", "dev", "--manifests", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty and was not written by edgefleet" in result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"--manifests {tmp_path} is not empty")
    assert lines[-1] == "invalid: 1 error"  # the shape of every other option error
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize("secure", [False, True], ids=["plain-value", "secure-value"])
def test_a_planted_kubeconfig_never_reaches_the_plan_or_the_terminal(tmp_path: Path, secure: bool) -> None:
    if secure:
        extra = f"  edgefleet:shopKubeconfig:\n    secure: v1:{PLANTED}\n"
    else:
        extra = "  edgefleet:shopKubeconfig: |\n" + "".join(f"    {line}\n" for line in KUBECONFIG.splitlines())
    stack = tmp_path / "Pulumi.shop.yaml"
    stack.write_text(stack_text(SHOP, extra))
    plan_bytes, tree, output = _plan_files(tmp_path / "out", str(stack))
    assert PLANTED not in output
    assert PLANTED.encode() not in plan_bytes
    assert all(PLANTED.encode() not in body for body in tree.values())
    plan = json.loads(plan_bytes)
    provider = next(r for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == "[secret]"
    assert plan["outputs"]["kubeconfigs"] == "[secret]"
    endpoint = plan["outputs"]["clusters"]["shop-1"]["endpoint"]
    assert endpoint == ("[unknown]" if secure else "https://10.20.30.40:6443")


def _by_urn(run: ProgramRun) -> dict[str, Registration]:
    return {r.urn: r for r in run.registrations}


def test_every_resource_has_the_right_parent_and_provider(dev_plan: tuple[FleetSpec, ProgramRun]) -> None:
    spec, run = dev_plan
    by_urn = _by_urn(run)
    stack = next(r for r in run.registrations if r.type == "pulumi:pulumi:Stack")
    fleet = next(r for r in run.registrations if r.type == "edgefleet:index:Fleet")
    assert fleet.parent == stack.urn
    clusters = {r.name: r for r in run.registrations if r.type == "edgefleet:index:ExistingCluster"}
    assert set(clusters) == {c.name for c in spec.clusters}
    assert all(c.parent == fleet.urn for c in clusters.values())
    providers = {r.urn: r for r in run.registrations if r.type == "pulumi:providers:kubernetes"}
    assert {by_urn[p.parent or ""].name for p in providers.values()} == set(clusters)
    workloads = [r for r in run.registrations if r.type == "edgefleet:index:EdgeWorkload"]
    assert sorted(w.name for w in workloads) == ["api-store-berlin-01", "api-store-munich-01"]
    assert all(w.parent == fleet.urn for w in workloads)

    netcheck = {r.urn: r for r in run.registrations if r.type == "edgefleet:netcheck:Netcheck"}
    assert sorted(n.name for n in netcheck.values()) == ["store-berlin-01-netcheck", "store-munich-01-netcheck"]
    assert all(n.parent == fleet.urn for n in netcheck.values())
    probes = [r for r in run.registrations if r.type.startswith("kubernetes:") and r.parent in netcheck]
    assert len(probes) == 32  # 11 per cluster, and the WAN Service, its key and the node reader's 3
    for obj in probes:
        cluster_label = obj.inputs["metadata"]["labels"]["edgefleet-cluster"]
        assert netcheck[obj.parent or ""].name == f"{cluster_label}-netcheck"
        assert by_urn[providers[obj.provider_urn or ""].parent or ""].name == cluster_label, obj.urn
    # The designated WAN probes: a NetcheckWan under each Netcheck, after every cluster's WAN Service.
    wans = {r.urn: r for r in run.registrations if r.type == "edgefleet:netcheck:NetcheckWan"}
    assert sorted(by_urn[w.parent or ""].name for w in wans.values()) == sorted(n.name for n in netcheck.values())
    wan_objects = [r for r in run.registrations if r.type.startswith("kubernetes:") and r.parent in wans]
    assert sorted(r.type.rsplit(":", 1)[-1] for r in wan_objects) == sorted(
        ["Deployment", "NetworkPolicy", "PodDisruptionBudget"] * 2
    )
    services = [r for r in probes if r.inputs["metadata"]["name"] == "netprobe-wan"]
    for obj in wan_objects:
        cluster_label = obj.inputs["metadata"]["labels"]["edgefleet-cluster"]
        assert by_urn[providers[obj.provider_urn or ""].parent or ""].name == cluster_label, obj.urn
        if obj.type == "kubernetes:apps/v1:Deployment":  # it reads the other cluster's Service
            other = next(s for s in services if s.inputs["metadata"]["labels"]["edgefleet-cluster"] != cluster_label)
            assert other.urn in obj.dependencies
    objects = [
        r for r in run.registrations if r.type.startswith("kubernetes:") and r.parent not in netcheck | wans.keys()
    ]
    assert len(objects) == 12
    for obj in objects:
        cluster_label = obj.inputs["metadata"]["labels"]["edgefleet-cluster"]
        parent = by_urn[obj.parent or ""]
        assert parent.type == "edgefleet:index:EdgeWorkload"
        assert parent.name == f"api-{cluster_label}"
        provider = providers[obj.provider_urn or ""]
        assert by_urn[provider.parent or ""].name == cluster_label, obj.urn
    # Objects in a namespace wait for it: the namespace name is its output.
    for obj in objects:
        if obj.type != "kubernetes:core/v1:Namespace":
            ns = next(o for o in objects if o.type == "kubernetes:core/v1:Namespace" and o.parent == obj.parent)
            assert ns.urn in obj.dependencies, obj.urn


def test_urns_carry_the_stack_in_the_type_chain(dev_plan: tuple[FleetSpec, ProgramRun]) -> None:
    _, run = dev_plan
    # Registrations arrive in the order the SDK's tasks run: pick by name, never "the first".
    deployment = next(
        r for r in run.registrations if r.type == "kubernetes:apps/v1:Deployment" and r.name.startswith("api-")
    )
    assert deployment.urn.startswith("urn:pulumi:dev::edgefleet::")
    assert "edgefleet:index:Fleet$edgefleet:index:EdgeWorkload$kubernetes:apps/v1:Deployment" in deployment.urn
    wan = next(r for r in run.registrations if r.name.endswith("-netcheck-wan-agents"))
    assert "edgefleet:index:Fleet$edgefleet:netcheck:Netcheck$edgefleet:netcheck:NetcheckWan$" in wan.urn


def test_plan_of_another_stack_text_is_independent_of_earlier_runs() -> None:
    spec, run = plan_text(stack_text(SHOP, "  edgefleet:shopKubeconfig:\n    secure: v1:abc\n"), "shop")
    assert {r.name for r in run.registrations if r.type == "edgefleet:index:ExistingCluster"} == {"shop-1"}
    assert spec.workloads[0].replicas == (("shop-1", 3),)
    assert not any("store-berlin" in r.urn for r in run.registrations)


def test_prod_stack_plans(tmp_path: Path) -> None:
    assert (STACKS / "Pulumi.prod.yaml").is_file()
    plan_bytes, tree, _ = _plan_files(tmp_path, "prod")
    plan = json.loads(plan_bytes)
    assert len(plan["clusters"]) >= 3
    assert {p["workload"] for p in plan["placements"]} >= {"api"}
    assert tree

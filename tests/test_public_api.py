"""The public components: Pulumi's analyzer reads them, the committed schema is current, bad args
fail before anything exists, the fleet path goes through the same args, and every URN of the
example stacks as deployed before the tokens moved is still reached (same URN or an alias)."""

from __future__ import annotations

import json
import re
import runpy
from typing import Any, get_type_hints

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from edgefleet.components.args import ClusterArgs, FleetClusterArgs, GkeClusterArgs, WorkloadClusterArgs
from edgefleet.components.config import load_stack
from edgefleet.components.index import COMPONENTS, CniInstall, DnsSteering, EksCluster, ExistingCluster, Fleet
from edgefleet.components.resolve import ArgsError, cluster_args, cluster_from_args
from edgefleet.components.tokens import PREVIOUS
from edgefleet.docs import render_components
from edgefleet.engine import ProgramRun, Registration, run_program, run_under_mocks
from edgefleet.provider import SCHEMA_FILE, schema, schema_text
from tests.conftest import KUBECONFIG, REPO, STACKS, source_of, stack_text

EXAMPLE_STACKS = ("dev", "prod", "retail-europe", "retail-asia", "retail-north-america", "retail-global")
URNS = REPO / "tests" / "data" / "urns"


def test_the_analyzer_infers_a_schema_for_every_public_component() -> None:
    made = schema()
    assert set(made["resources"]) == {f"edgefleet:index:{c.__name__}" for c in COMPONENTS}
    assert set(made["resources"]) <= set(PREVIOUS), "every public token keeps an alias from its old one"
    eks = made["resources"]["edgefleet:index:EksCluster"]
    assert set(eks["requiredInputs"]) == {"owner", "environment"}
    assert eks["inputProperties"]["nodePools"]["items"]["$ref"] == "#/types/edgefleet:index:NodePoolArgs"
    assert set(eks["properties"]) == {"kubeconfig", "endpoint"}
    existing = made["resources"]["edgefleet:index:ExistingCluster"]
    assert "plain" not in existing["inputProperties"]["kubeconfig"], "a kubeconfig may be an Output"
    for token, resource in made["resources"].items():
        for key, prop in resource["inputProperties"].items():
            assert prop.get("description"), f"{token}.{key} has no description"


def test_the_committed_schema_is_the_one_the_code_gives() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), "run `make docs` to regenerate edgefleet/provider/schema.json"


def test_the_plugin_manifest_names_the_entry_point() -> None:
    text = (REPO / "PulumiPlugin.yaml").read_text()
    assert "name: python" in text
    main = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("main:"))
    entry = REPO / main
    assert entry.is_file()
    assert "serve()" in entry.read_text()


# -- the fleet path is built on the same args ------------------------------------------------------


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_every_example_cluster_round_trips_through_its_public_args(stack: str) -> None:
    fleet = load_stack(source_of((STACKS / f"Pulumi.{stack}.yaml").read_text(), stack))
    for cluster in fleet.clusters:
        kubeconfig = "kubeconfig text" if cluster.spec.kubeconfig else None
        args = cluster_args(cluster, fleet, kubeconfig)
        again, one, given = cluster_from_args(cluster.vendor, "resource-name", args, "Test")
        ignore = {"spec", "config_index"}
        assert again.model_dump(exclude=ignore) == cluster.model_dump(exclude=ignore), cluster.name
        assert (one.owner, one.environment, one.tags) == (fleet.owner, fleet.environment, fleet.tags)
        assert given == kubeconfig


# -- bad args fail first, naming the argument ------------------------------------------------------


def _registered(program: Any) -> tuple[list[Registration], BaseException | None]:
    failure: list[BaseException] = []

    def guarded() -> None:
        try:
            program()
        except ArgsError as exc:
            failure.append(exc)

    run = run_under_mocks(guarded, stack="test", project_dir=REPO)
    return [r for r in run.registrations if r.type != "pulumi:pulumi:Stack"], (failure[0] if failure else None)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {
                "owner": "team",
                "environment": "dev",
                "region": "eu-central-1",
                "node_pools": [{"name": "p", "min": 5, "max": 2}],
            },
            "args.node_pools[0]",
        ),
        ({"owner": "team", "environment": "dev", "region": "mars-north-1"}, "args.region"),
        ({"owner": "team", "environment": "dev"}, "needs a `region`"),
        ({"environment": "dev", "region": "eu-central-1"}, "args.owner"),
        (
            {
                "owner": "team",
                "environment": "dev",
                "region": "eu-central-1",
                "endpoint": {"public": True, "allowed_cidrs": ["10.0.0.300/24"]},
            },
            "args.endpoint",
        ),
        ({"owner": "team", "environment": "dev", "region": "eu-central-1", "cni": {"plugin": "weave"}}, "args.cni"),
        ({"owner": "team", "environment": "dev", "region": "eu-central-1", "regoin": "x"}, "args.regoin"),
    ],
    ids=["min-above-max", "unknown-region", "no-region", "no-owner", "bad-cidr", "unknown-cni", "typo"],
)
def test_a_bad_argument_fails_before_any_resource_with_its_name(args: dict[str, Any], expected: str) -> None:
    registered, failure = _registered(lambda: EksCluster("edge-1", args))  # type: ignore[arg-type]
    assert registered == []
    assert isinstance(failure, ArgsError)
    assert str(failure).startswith("EksCluster 'edge-1': ")
    assert expected in str(failure), str(failure)
    assert "Traceback" not in str(failure)


def test_args_that_are_not_a_mapping_are_refused() -> None:
    registered, failure = _registered(lambda: ExistingCluster("shop", "shop-1"))  # type: ignore[arg-type]
    assert registered == []
    assert "args must be a mapping" in str(failure)


def test_cni_install_needs_a_provider_and_a_supported_cell() -> None:
    base: dict[str, Any] = {"cluster": "shop", "vendor": "existing", "plugin": "cilium", "pod_cidr": "10.42.0.0/16"}
    registered, failure = _registered(lambda: CniInstall("cni", base))  # type: ignore[arg-type]
    assert registered == []
    assert "no Kubernetes provider" in str(failure)

    def on_autopilot() -> None:
        shop = ExistingCluster(
            "shop", {"owner": "team", "environment": "dev", "location": {"country": "DE", "city": "Berlin"}}
        )
        on_aws: Any = {**base, "vendor": "aws", "plugin": "flannel"}
        CniInstall("cni", on_aws, pulumi.ResourceOptions(provider=shop.provider))

    registered, failure = _registered(on_autopilot)
    assert "CniInstall 'cni': args.plugin:" in str(failure)
    assert not [r for r in registered if "CniInstall" in r.type]

    registered, failure = _registered(lambda: CniInstall("cni", {**base, "pod_cidr": "10.42.0.0/33"}))  # type: ignore[arg-type]
    assert "args.pod_cidr" in str(failure)


# -- no replacement for stacks deployed under the old tokens ---------------------------------------


def _candidates(registration: Registration, by_urn: dict[str, Registration], memo: dict[str, set[str]]) -> set[str]:
    """Every URN the engine would match ``registration`` against: its own, its aliases, and its
    URN under each alias of its parent (the engine's inherited child aliases)."""
    if registration.urn in memo:
        return memo[registration.urn]
    project_stack = registration.urn.split("::")[:2]

    def urn(parent: str | None, type_: str, name: str) -> str:
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return "::".join([*project_stack, qualified, name])

    parents = {registration.parent}
    if registration.parent in by_urn:
        parents |= _candidates(by_urn[registration.parent], by_urn, memo)
    out = {urn(parent, registration.type, registration.name) for parent in parents}
    for alias in registration.aliases:
        if len(alias) == 1:
            out.add(alias[0])
            continue
        name, type_, parent, no_parent = alias
        for p in ({parent} if parent else (set() if no_parent else parents)) or {None}:
            out.add(urn(p, type_ or registration.type, name or registration.name))
    memo[registration.urn] = out
    return out


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_every_urn_deployed_under_the_old_tokens_is_reached(stack: str) -> None:
    before = [line for line in (URNS / f"{stack}.txt").read_text().splitlines() if not line.startswith("#")]
    assert any("edgefleet:fleet:Fleet" in u for u in before)
    run: ProgramRun = run_program(REPO, source_of((STACKS / f"Pulumi.{stack}.yaml").read_text(), stack))
    by_urn = {r.urn: r for r in run.registrations}
    memo: dict[str, set[str]] = {}
    reached: set[str] = set()
    for registration in run.registrations:
        reached |= _candidates(registration, by_urn, memo)
    missing = [u for u in before if u not in reached]
    assert missing == [], f"{len(missing)} URNs would be replaced, e.g. {missing[:3]}"
    # and the URNs themselves did move: without the aliases, they would be replaced
    assert not any(old in r.urn for r in run.registrations for old in PREVIOUS.values())


def test_without_the_alias_the_old_urns_are_not_reached() -> None:
    # The check above can fail: drop the aliases and the same URNs are missed.
    run = run_program(REPO, source_of((STACKS / "Pulumi.dev.yaml").read_text(), "dev"))
    stripped = {
        r.urn: Registration(**{**r.__dict__, "aliases": ()})
        for r in run.registrations  # type: ignore[arg-type]
    }
    reached: set[str] = set()
    memo: dict[str, set[str]] = {}
    for registration in stripped.values():
        reached |= _candidates(registration, stripped, memo)
    before = [line for line in (URNS / "dev.txt").read_text().splitlines() if not line.startswith("#")]
    assert [u for u in before if u not in reached]


def test_urn_fixtures_are_the_example_stacks() -> None:
    assert sorted(p.stem for p in URNS.glob("*.txt")) == sorted(EXAMPLE_STACKS)


def test_gke_args_are_cluster_args_plus_gcp_keys() -> None:
    common, gke = get_type_hints(ClusterArgs), get_type_hints(GkeClusterArgs)
    assert {k: gke[k] for k in common} == common
    assert set(gke) - set(common) == {"project", "autopilot"}
    assert GkeClusterArgs.__required_keys__ == ClusterArgs.__required_keys__


# -- a user's own program equals the fleet path ----------------------------------------------------

EXAMPLE = REPO / "examples" / "python"
EXAMPLE_FLEET = """
environment: dev
owner: platform-team
clusters:
  - vendor: existing
    name: store-berlin-01
    location: {country: DE, city: Berlin}
    labels: {tier: store}
    kubeconfig: shopKubeconfig
    cni: {plugin: calico, pod_cidr: 10.42.0.0/16}
  - vendor: aws
    region: eu-central-1
    labels: {tier: core}
    cni: {plugin: cilium}
    node_pools: [{name: general, size: medium, min: 2, max: 4}]
workloads:
  - name: price-board
    image: ghcr.io/acme/price-board:1.2.0
    port: 8080
    probe_path: /healthz
    env: {CURRENCY: EUR}
    replicas: 2
    secret_env: {API_TOKEN: priceBoardToken}
    placement: {strategy: pinned, clusters: [store-berlin-01]}
"""


def _comparable(run: ProgramRun) -> dict[str, Any]:
    """Every resource but the root stack and the Fleet component, with the Fleet's place in the
    type chain removed from every URN, keyed by that URN."""
    skip = {"pulumi:pulumi:Stack", "edgefleet:index:Fleet"}
    out = {}
    for r in run.registrations:
        if r.type in skip:
            continue
        record = {
            "type": r.type,
            "name": r.name,
            "custom": r.custom,
            "parent": r.parent,
            "provider": r.provider,
            "dependencies": r.dependencies,
            "protect": r.protect,
            "inputs": r.inputs,
            "aliases": r.aliases,
            "secret_outputs": r.additional_secret_outputs,
            "ignore_changes": r.ignore_changes,
        }
        text = json.dumps(record, sort_keys=True, default=list)
        text = re.sub(r"urn:pulumi:[a-z-]+::edgefleet::edgefleet:index:Fleet::fleet\b", "ROOT", text)
        text = re.sub(r"urn:pulumi:[a-z-]+::edgefleet::pulumi:pulumi:Stack::[a-z-]+", "ROOT", text)
        text = text.replace("edgefleet:index:Fleet$", "")
        loaded = json.loads(text)
        out[r.urn.replace("edgefleet:index:Fleet$", "")] = loaded
    return out


def test_a_users_own_program_creates_what_the_fleet_path_creates() -> None:
    kubeconfig = REPO / "tests" / "data" / "kubeconfig.yaml"
    text = kubeconfig.read_text() if kubeconfig.is_file() else KUBECONFIG
    program = EXAMPLE / "__main__.py"
    own = run_under_mocks(
        lambda: runpy.run_path(str(program), run_name="__main__"),
        stack="dev",
        project_dir=EXAMPLE,
        config={"edgefleet:shopKubeconfig": text, "edgefleet:priceBoardToken": "s3cret"},
        secret_keys=["edgefleet:shopKubeconfig", "edgefleet:priceBoardToken"],
    )
    keys = f"  edgefleet:shopKubeconfig: {json.dumps(text)}\n  edgefleet:priceBoardToken: s3cret\n"
    fleet = run_program(REPO, source_of(stack_text(EXAMPLE_FLEET, keys), "dev"))
    mine, theirs = _comparable(own), _comparable(fleet)
    assert sorted(mine) == sorted(theirs)
    for urn in mine:
        assert mine[urn] == theirs[urn], urn
    types = {r["type"] for r in mine.values()}
    assert {
        "edgefleet:index:EksCluster",
        "edgefleet:index:ExistingCluster",
        "edgefleet:index:CniInstall",
        "edgefleet:index:EdgeWorkload",
    } <= types
    assert any(r["type"] == "kubernetes:apps/v1:Deployment" for r in mine.values())
    assert len([r for r in mine.values() if r["type"] == "edgefleet:index:CniInstall"]) == 2
    assert own.outputs["kubeconfigs"] is not None


STEERING: dict[str, Any] = {
    "traffic": {"provider": "route53", "zone": "edge.example.com", "zone_id": "Z0123456789ABCDEFGHIJ"},
    "workload": "api",
    "hostname": "api.edge.example.com",
    "probe_path": "/healthz",
    "locations": [
        {"cluster": "shop", "vendor": "existing", "lat": 52.52, "lon": 13.40, "target": "203.0.113.7", "port": 443}
    ],
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"hostname": "api.other.example.org"}, "not inside the zone"),
        ({"probe_path": "healthz"}, "args.probe_path"),
        ({"traffic": {"provider": "bind", "zone": "edge.example.com", "zone_id": "x"}}, "args.traffic.provider"),
        ({"locations": []}, "at least one location"),
        ({"locations": [{**STEERING["locations"][0], "lat": 123.0}]}, "args.locations.0.lat"),
        ({"locations": [{k: v for k, v in STEERING["locations"][0].items() if k != "target"}]}, "target"),
        ({"locations": [{**STEERING["locations"][0], "vendor": "vultr"}]}, "unknown vendor"),
    ],
    ids=["outside-zone", "relative-probe", "unknown-provider", "no-location", "bad-latitude", "no-target", "vendor"],
)
def test_dns_steering_refuses_bad_args_before_any_resource(change: dict[str, Any], expected: str) -> None:
    registered, failure = _registered(lambda: DnsSteering("api-dns", {**STEERING, **change}))
    assert registered == []
    assert expected in str(failure), str(failure)


def test_dns_steering_from_its_public_args() -> None:
    registered, failure = _registered(lambda: DnsSteering("api-dns", STEERING))  # type: ignore[arg-type]
    assert failure is None
    types = sorted({r.type for r in registered})
    assert types == [
        "aws:route53/healthCheck:HealthCheck",
        "aws:route53/record:Record",
        "edgefleet:index:DnsSteering",
    ]


def test_fleet_args_clusters_are_the_cluster_entry() -> None:
    fleet, workload = get_type_hints(FleetClusterArgs), get_type_hints(WorkloadClusterArgs)
    assert {k: fleet[k] for k in workload} == workload
    assert set(fleet) - set(workload) == {"kubeconfig", "context"}


def test_a_users_fleet_equals_the_stack_path() -> None:
    source = source_of((STACKS / "Pulumi.dev.yaml").read_text(), "dev")
    stack = run_program(REPO, source)
    secrets = {key.split(":", 1)[1]: value.value for key, value in source.values.items() if key != "edgefleet:fleet"}

    def program() -> None:
        Fleet(
            "fleet",
            {
                "fleet": source.fleet,
                "secrets": secrets,
                "project_dir": str(REPO),
                "placement_time": "2026-12-06T12:00:00Z",
            },
        )

    own = run_under_mocks(program, stack="dev", project_dir=REPO)
    assert _comparable(own) == _comparable(stack)
    assert len(own.registrations) == len(stack.registrations) > 10


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"fleet": {"environment": "dev"}, "regoin": 1}, "args.regoin: not a Fleet argument"),
        ({}, "no fleet"),
        ({"fleet": {"environment": "dev", "owner": "team", "clusters": []}}, "invalid fleet config"),
        ({"fleet": {"environment": "dev", "owner": "team", "clusters": [{"vendor": "aws"}]}}, "needs a `region`"),
        ({"fleet": {"environment": "dev"}, "fleet_file": "fleets/retail.yaml"}, "both `fleet` and `fleet_file`"),
        ({"fleet": {"environment": "dev"}, "secrets": ["x"]}, "args.secrets"),
    ],
    ids=["unknown-arg", "no-fleet", "no-clusters", "no-region", "both", "secrets-list"],
)
def test_a_bad_fleet_fails_before_any_resource(args: dict[str, Any], expected: str) -> None:
    failure: list[BaseException] = []

    def program() -> None:
        try:
            Fleet("fleet", args)  # type: ignore[arg-type]
        except pulumi.RunError as exc:
            failure.append(exc)

    run = run_under_mocks(program, stack="dev", project_dir=REPO)
    assert [r for r in run.registrations if r.type != "pulumi:pulumi:Stack"] == []
    assert failure, "refused"
    assert expected in str(failure[0]), str(failure[0])
    # The fleet came from the args, not from stacks/Pulumi.dev.yaml: no position points there.
    assert "Pulumi.dev.yaml:" not in str(failure[0])


# -- the docs and the other languages' examples follow the schema ----------------------------------


def test_the_components_reference_is_generated_from_the_schema() -> None:
    text = (REPO / "docs" / "components.md").read_text()
    assert render_components(text) == text, "run `make docs` to regenerate docs/components.md"
    for component in COMPONENTS:
        assert f"### {component.__name__}\n" in text


def _schema_type(made: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any] | None:
    ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
    if not isinstance(ref, str) or ":" not in ref:
        return None
    found: dict[str, Any] = made["types"][ref.removeprefix("#/types/")]
    return found


def _unknown_keys(made: dict[str, Any], value: Any, props: dict[str, Any], where: str) -> list[str]:
    """Keys of ``value`` (an object literal of an example) the schema does not have, recursively."""
    out: list[str] = []
    for key, item in value.items():
        prop = props.get(key)
        if prop is None:
            out.append(f"{where}.{key}")
            continue
        nested = _schema_type(made, prop)
        if nested is not None and isinstance(item, dict):
            out += _unknown_keys(made, item, nested.get("properties", {}), f"{where}.{key}")
        elif nested is not None and isinstance(item, list):
            for i, element in enumerate(item):
                if isinstance(element, dict):
                    out += _unknown_keys(made, element, nested.get("properties", {}), f"{where}.{key}[{i}]")
    return out


def test_the_yaml_example_uses_only_what_the_schema_has() -> None:
    made = schema()
    program = yaml.safe_load((REPO / "examples" / "yaml" / "Pulumi.yaml").read_text())
    ours = {k: r for k, r in program["resources"].items() if r["type"].startswith("edgefleet:")}
    assert {r["type"] for r in ours.values()} == {
        "edgefleet:index:ExistingCluster",
        "edgefleet:index:EdgeWorkload",
        "edgefleet:index:EksCluster",
    }
    for name, resource in ours.items():
        spec = made["resources"][resource["type"]]
        assert _unknown_keys(made, resource["properties"], spec["inputProperties"], name) == []
        assert set(spec.get("requiredInputs", [])) <= set(resource["properties"]), name
    assert _unknown_keys(made, {"typo": 1}, {}, "x") == ["x.typo"], "the check can fail"


def test_the_typescript_example_uses_only_what_the_schema_has() -> None:
    made = schema()
    text = (REPO / "examples" / "typescript" / "index.ts").read_text()
    names = set(re.findall(r"new edgefleet\.(\w+)\(", text))
    assert names == {"ExistingCluster", "EdgeWorkload", "EksCluster"}
    known = {"provider"}  # resource options
    for resource in made["resources"].values():
        known |= set(resource["inputProperties"])
    for kind in made["types"].values():
        known |= set(kind.get("properties", {}))
    keys = set(re.findall(r"(\w+): ", re.sub(r"//.*", "", text.split("new edgefleet.", 1)[1])))
    keys -= {"kubeconfig", "API_TOKEN"} - known  # an env var name and k8s.Provider's own arg
    assert keys <= known, sorted(keys - known)


# -- what another language's SDK sends ---------------------------------------------------------------


def test_the_component_package_constructs_from_the_schemas_names() -> None:
    # The provider `pulumi package add` runs, called as the engine calls it for a TypeScript or
    # YAML program: camelCase properties, nested types, mapped back to the Python args.
    provider = ComponentProvider(list(COMPONENTS), "edgefleet", version="0.1.0")
    made: dict[str, Any] = {}

    def program() -> None:
        inputs = {
            "owner": "platform-team",
            "environment": "dev",
            "region": "eu-central-1",
            "nodePools": [{"name": "general", "size": "medium", "min": 2, "max": 4}],
            "cni": {"plugin": "cilium"},
        }
        made["result"] = provider.construct("edge", "edgefleet:index:EksCluster", inputs, pulumi.ResourceOptions())

    run = run_under_mocks(program, stack="dev", project_dir=REPO)
    (pool,) = [r for r in run.registrations if r.type == "aws:eks/nodeGroup:NodeGroup"]
    assert pool.inputs["scalingConfig"] == {"minSize": 2, "maxSize": 4, "desiredSize": 2}
    assert any(r.type == "edgefleet:index:CniInstall" for r in run.registrations)
    assert set(made["result"].state) == {"kubeconfig", "endpoint"}


def test_the_component_package_refuses_bad_input_before_any_resource() -> None:
    provider = ComponentProvider(list(COMPONENTS), "edgefleet", version="0.1.0")
    failure: list[BaseException] = []

    def program() -> None:
        try:
            provider.construct(
                "edge",
                "edgefleet:index:EksCluster",
                {"owner": "platform-team", "environment": "dev", "region": "eu-central-1",
                 "nodePools": [{"name": "general", "min": 5, "max": 2}]},
                pulumi.ResourceOptions(),
            )  # fmt: skip
        except ComponentInitError as exc:
            failure.append(exc)

    run = run_under_mocks(program, stack="dev", project_dir=REPO)
    assert [r for r in run.registrations if r.type != "pulumi:pulumi:Stack"] == []
    assert "args.node_pools[0]" in str(failure[0])

"""WAN probes across the slices of a fleet (docs/doctor.md#across-slices).

The example fleet ``fleets/retail.yaml`` is deployed by three regional slices (Europe, North
America, Asia) and a global one. Each regional slice's designated probes must reach every other
cluster of the fleet with WAN probes: its own through the Services' status, the other slices'
through their ``netcheckWan`` outputs (StackReferences), and answer probes signed with the other
slices' keys (``netcheckWanKey``). These tests run the real program of each slice under the mock
engine, with a mock that answers the StackReferences with what the other slices export.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pytest

from edgefleet import engine
from edgefleet.components.config import read_stack_file
from edgefleet.components.config.slices import load_sliced
from edgefleet.components.netcheck import fleet_wan_layout, peer_address, peer_key, peer_keys
from edgefleet.engine import ProgramRun, Registration, run_program
from edgefleet.mocks import RANDOM_BYTES, FleetMocks
from edgefleet.policies.rules import network as n
from tests.conftest import REPO, STACKS
from tests.policies.harness import changed, violations
from tests.test_netcheck_wan import FOREIGN, WAN_CHAIN, _resource_args, _wan_policy

REGIONAL = ("retail-asia", "retail-europe", "retail-north-america")
STACK_REFERENCE = "pulumi:pulumi:StackReference"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SECRET = "kubernetes:core/v1:Secret"
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # the SDK's special signature key


def _key_of(stack: str) -> str:
    """The mock key of one stack (each slice its own, as RandomBytes makes one per stack)."""
    return hashlib.sha256(f"{stack}\x1fwan".encode()).hexdigest()


class SliceMocks(FleetMocks):
    """FleetMocks whose StackReferences answer with ``exported[stack]`` (a stack missing there
    exists but has no outputs yet), whose RandomBytes differ per stack, and which record what
    each Secret and StackReference was created with (the plain values, secrets included)."""

    exported: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    seen: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        SliceMocks.seen.append((args.typ, args.name, dict(args.inputs)))
        if args.typ == STACK_REFERENCE:
            target = str(args.inputs["name"]).rsplit("/", 1)[-1]
            outputs = dict(self.exported.get(target, {}))
            secret = [k for k in outputs if k == "netcheckWanKey"]
            return args.resource_id or target, {
                "name": args.inputs["name"],
                "outputs": outputs,
                "secretOutputNames": secret,
            }
        if args.typ == RANDOM_BYTES:
            made = bytes.fromhex(_key_of(pulumi.get_stack()))[: int(args.inputs["length"])]
            return "bytes", {**args.inputs, "hex": made.hex(), "base64": ""}
        return super().new_resource(args)


def _run(stack: str, exported: Mapping[str, Mapping[str, Any]], monkeypatch: pytest.MonkeyPatch) -> ProgramRun:
    SliceMocks.exported = exported
    SliceMocks.seen = []
    monkeypatch.setattr(engine, "FleetMocks", SliceMocks)
    return run_program(REPO, read_stack_file(STACKS / f"Pulumi.{stack}.yaml", REPO))


def _named(run: ProgramRun, kind: str, suffix: str) -> dict[str, Registration]:
    return {r.name.removesuffix(suffix): r for r in run.registrations if r.type == kind and r.name.endswith(suffix)}


def _env(deployment: Registration) -> dict[str, Any]:
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _peers(listing: str) -> dict[str, str]:
    out = {}
    for item in filter(None, listing.split(",")):
        cluster, target = item.split("=", 1)
        out[cluster] = target
    return out


def _secrets(kind_name: str) -> dict[str, dict[str, Any]]:
    """The WAN key Secrets as created (plain string data), by cluster."""
    out = {}
    for typ, name, inputs in SliceMocks.seen:
        if typ == SECRET and name.endswith(kind_name):
            data = inputs["stringData"]
            # Secret on the wire: the SDK's secret signature around the value.
            assert data.get(SECRET_SIGNATURE) == "1b47061264138c4ac30d75fd1eb44270"
            out[name.removesuffix(kind_name)] = data["value"]
    return out


@pytest.fixture(scope="module")
def fleet_members() -> dict[str, str]:
    """Every cluster of the retail fleet with WAN probes -> the slice that deploys it."""
    source = read_stack_file(STACKS / "Pulumi.retail-europe.yaml", REPO)
    spec, scope = load_sliced(source, REPO)
    assert spec.netcheck is not None
    assert scope is not None
    layout = fleet_wan_layout(spec)
    owners = {**scope.owners, **dict.fromkeys(scope.slice.clusters, "retail-europe")}
    return {c: owners[c] for c in layout.members}


def _first_round(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Each regional slice deployed while the others have no outputs yet: what each exports."""
    exported: dict[str, dict[str, Any]] = {}
    for stack in REGIONAL:
        run = _run(stack, {}, monkeypatch)
        wan = run.outputs["netcheckWan"]
        assert isinstance(wan, dict)
        exported[stack] = {"netcheckWan": wan, "netcheckWanKey": _key_of(stack), "endpoints": run.outputs["endpoints"]}
    return exported


def test_every_slice_has_probes_and_the_mesh_spans_the_whole_fleet(
    fleet_members: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three continents, and Asia's one shop too: a lone cluster in its slice still has WAN probes.
    assert set(fleet_members.values()) == set(REGIONAL)
    exported = _first_round(monkeypatch)
    addresses = {c: exported[s]["netcheckWan"][c] for c, s in fleet_members.items()}
    assert all(addresses.values())
    assert len(set(addresses.values())) == len(addresses)
    for stack in REGIONAL:
        run = _run(stack, exported, monkeypatch)
        # One reference per other regional slice, never to itself or to the global slice.
        refs = sorted(str(i["name"]).rsplit("/", 1)[-1] for t, _, i in SliceMocks.seen if t == STACK_REFERENCE)
        assert refs == sorted(set(REGIONAL) - {stack})
        deployments = _named(run, DEPLOYMENT, "-netcheck-wan-agents")
        own = {c for c, s in fleet_members.items() if s == stack}
        assert set(deployments) == own
        secrets = _secrets("-netcheck-wan-key")
        for cluster, deployment in deployments.items():
            env = _env(deployment)
            # Every other cluster of the fleet, at its real address, whichever slice deploys it.
            expected = {c: f"{a}:9798" for c, a in addresses.items() if c != cluster}
            assert _peers(env["NETPROBE_WAN_PEERS"]) == expected, (stack, cluster)
            assert env["NETPROBE_PEER_KEYS"] == {
                "secretKeyRef": {"name": "netprobe-wan-key", "key": "peers", "optional": True}
            }
            # It signs with its own slice's key and answers the other slices' keys.
            assert secrets[cluster]["key"] == _key_of(stack)
            others = sorted(_key_of(s) for s in REGIONAL if s != stack)
            assert secrets[cluster]["peers"] == ",".join(others)
        # Egress: this slice's peers in one policy, the other slices' in their own, /32 each.
        policies = _named(run, POLICY, "-netcheck-wan-allow-slices")
        remote = {f"{a}/32" for c, a in addresses.items() if fleet_members[c] != stack}
        for cluster, policy in policies.items():
            (rule,) = policy.inputs["spec"]["egress"]
            assert {to["ipBlock"]["cidr"] for to in rule["to"]} == remote, cluster
            assert rule["ports"] == [{"port": 9798, "protocol": "UDP"}]
        assert set(policies) == own
        # The key Secret and the key output are secret in what the engine receives.
        for secret in _named(run, SECRET, "-netcheck-wan-key").values():
            assert secret.inputs["stringData"] == "[secret]"
        assert run.outputs["netcheckWanKey"] == "[secret]"


def test_a_slice_deployed_first_leaves_out_the_slices_not_deployed_yet(
    fleet_members: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run("retail-europe", {}, monkeypatch)
    own = {c for c, s in fleet_members.items() if s == "retail-europe"}
    for cluster, deployment in _named(run, DEPLOYMENT, "-netcheck-wan-agents").items():
        assert set(_peers(_env(deployment)["NETPROBE_WAN_PEERS"])) == own - {cluster}
    assert {s["peers"] for s in _secrets("-netcheck-wan-key").values()} == {""}
    # No address, no egress: the slices' policy allows nothing until the next update.
    slices = _named(run, POLICY, "-netcheck-wan-allow-slices")
    assert set(slices) == own
    assert all(p.inputs["spec"]["egress"] == [] for p in slices.values())


def _hostile_exports(members: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    asia = [c for c, s in members.items() if s == "retail-asia"]
    america = [c for c, s in members.items() if s == "retail-north-america"]
    return {
        # Injection into the agent's peer list and wrong types: dropped, never passed on.
        "retail-asia": {
            "netcheckWan": {asia[0]: "203.0.113.7:1,evil=198.51.100.1", "not-a-member": "198.51.100.2"},
            "netcheckWanKey": "00" * 31 + "zz",
        },
        "retail-north-america": {
            "netcheckWan": {america[0]: ["198.51.100.3"], america[-1]: "x" * 300},
            "netcheckWanKey": "ab" * 4096,
        },
    }


def test_what_another_slice_exports_is_checked_before_it_reaches_an_agent(
    fleet_members: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run("retail-europe", _hostile_exports(fleet_members), monkeypatch)
    own = {c for c, s in fleet_members.items() if s == "retail-europe"}
    for cluster, deployment in _named(run, DEPLOYMENT, "-netcheck-wan-agents").items():
        assert set(_peers(_env(deployment)["NETPROBE_WAN_PEERS"])) == own - {cluster}
    assert {s["peers"] for s in _secrets("-netcheck-wan-key").values()} == {""}
    assert all(p.inputs["spec"]["egress"] == [] for p in _named(run, POLICY, "-netcheck-wan-allow-slices").values())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("a1b2-0c.elb.eu-central-1.amazonaws.com", "a1b2-0c.elb.eu-central-1.amazonaws.com"),
        ("NLB.Example.COM.", "nlb.example.com"),
        ("", ""),
        ("localhost", ""),  # one label: not a load balancer's name
        ("203.0.113.9:9798", ""),
        ("203.0.113.9,other=198.51.100.1", ""),
        ("-bad.example.com", ""),
        ("a" * 64 + ".example.com", ""),
        (".".join(["a" * 60] * 5), ""),  # over 253 characters
        ("exa mple.com", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_a_peer_address_is_an_ip_or_a_dns_name(value: object, expected: str) -> None:
    assert peer_address({"c": value}, "c") == expected
    assert peer_address({"other": "203.0.113.9"}, "c") == ""
    assert peer_address(None, "c") == ""
    assert peer_address(["203.0.113.9"], "c") == ""


def test_a_peer_key_is_exactly_what_wan_key_makes() -> None:
    good = "AB" * 32
    assert peer_key(good) == "ab" * 32
    for bad in ("ab" * 31, "ab" * 33, "zz" * 32, "ab " * 21 + "a", None, 7, ""):
        assert peer_key(bad) == ""
    assert peer_keys([good, "cd" * 32, good.lower(), "junk", None]) == ",".join(sorted(["ab" * 32, "cd" * 32]))
    assert peer_keys([]) == ""


def test_the_pack_accepts_the_slices_policy_exactly() -> None:
    rule = n.NETWORK_NO_EGRESS_EVERYWHERE
    world = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    udp = [{"port": 9798, "protocol": "UDP"}]
    slices = changed(_wan_policy(world, udp), "metadata.name", "allow-netprobe-wan-slices")
    assert violations(rule, _resource_args(POLICY, slices, WAN_CHAIN)) == []
    refused = ["NetworkPolicy 'allow-netprobe-wan-slices' allows egress to 0.0.0.0/0"]
    assert violations(rule, _resource_args(POLICY, slices, FOREIGN)) == refused
    for ports in ([{"port": 9798, "protocol": "TCP"}], [*udp, {"port": 443, "protocol": "UDP"}], []):
        wider = changed(slices, "spec.egress.0.ports", ports)
        assert violations(rule, _resource_args(POLICY, wider, WAN_CHAIN)) == refused, ports
    for name in ("allow-netprobe-wan-slices2", "allow-netprobe-wan-other"):
        renamed = changed(slices, "metadata.name", name)
        assert violations(rule, _resource_args(POLICY, renamed, WAN_CHAIN)) == [
            f"NetworkPolicy '{name}' allows egress to 0.0.0.0/0"
        ]


def test_only_regional_slices_export_their_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run("retail-global", _first_round(monkeypatch), monkeypatch)
    assert "netcheckWan" not in run.outputs
    assert "netcheckWanKey" not in run.outputs
    assert not _named(run, DEPLOYMENT, "-netcheck-wan-agents")
    whole = run_program(REPO, read_stack_file(STACKS / "Pulumi.prod.yaml", REPO))
    assert "netcheckWan" not in whole.outputs
    # A whole-fleet stack references no other stack and answers only its own key.
    assert not [r for r in whole.registrations if r.type == STACK_REFERENCE]


def test_a_cluster_no_slice_deploys_yet_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # North America's slice is not written yet (a cluster added to the fleet file before
    # `edgefleet stacks sync`): Europe's probes cannot know who would export its address.
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(REPO / "__main__.py", tmp_path / "__main__.py")
    shutil.copytree(REPO / "fleets", tmp_path / "fleets")
    (tmp_path / "stacks").mkdir()
    for stack in ("retail-europe", "retail-asia", "retail-global"):
        shutil.copy(STACKS / f"Pulumi.{stack}.yaml", tmp_path / "stacks" / f"Pulumi.{stack}.yaml")
    SliceMocks.exported = {}
    SliceMocks.seen = []
    monkeypatch.setattr(engine, "FleetMocks", SliceMocks)
    run = run_program(tmp_path, read_stack_file(tmp_path / "stacks" / "Pulumi.retail-europe.yaml", tmp_path))
    refs = sorted(str(i["name"]).rsplit("/", 1)[-1] for t, _, i in SliceMocks.seen if t == STACK_REFERENCE)
    assert refs == ["retail-asia"]
    wan = _named(run, "edgefleet:netcheck:NetcheckWan", "-netcheck-wan")
    assert wan
    for component in wan.values():
        assert component.inputs["slicePeers"] == ["store-osaka-01"]

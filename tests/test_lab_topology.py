"""The lab's layout and fault rules as pure values (no root needed): names per the contract,
addresses that do not collide, interface names the kernel accepts, the rule each fault adds."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.doctor import lab
from edgefleet.netprobe.agent import parse_config


@pytest.mark.parametrize(("clusters", "nodes"), [(2, 3), (3, 4), (lab.MAX_CLUSTERS, lab.MAX_NODES)])
def test_names_and_addresses(clusters: int, nodes: int) -> None:
    topo = lab.topology(clusters, nodes)
    wan = [a for a in topo.agents if a.role == "wan"]
    assert len(wan) == clusters * min(lab.DESIGNATED, nodes)  # the designated nodes' WAN agents
    assert len(topo.agents) - len(wan) == clusters * nodes * (1 + lab.PODS_PER_NODE)
    names = topo.namespaces()
    assert len(names) == len(set(names))
    assert len({a.process for a in topo.agents}) == len(topo.agents)
    assert len({a.metrics_url for a in topo.agents}) == len(topo.agents)
    for agent in wan:  # in its node's namespace, on the node's addresses, its own ports
        assert agent.namespace in names
        assert agent.metrics_url.endswith(f":{lab.WAN_METRICS_PORT}/metrics")
    for agent in (a for a in topo.agents if not a.role):
        expected = f"ef-{agent.cluster}-{agent.node}" + (f"-{agent.pod}" if agent.pod else "")
        assert agent.namespace == expected
        assert len("efm" + agent.namespace.removeprefix("ef-").replace("-", "")) <= 15  # IFNAMSIZ - 1
    for field in ("address", "mgmt"):
        values = [getattr(a, field) for a in topo.agents if not a.role]
        assert len(values) == len(set(values)), field
        assert all(ipaddress.ip_address(v).is_private for v in values)
    mgmt = ipaddress.ip_network("10.250.0.0/16")
    assert all(ipaddress.ip_address(a.mgmt) in mgmt for a in topo.agents)
    assert all(ipaddress.ip_address(a.address) not in mgmt for a in topo.agents)


def test_every_target_is_another_agent_or_the_service() -> None:
    topo = lab.topology(2, 3)
    by_address = {(a.address, a.role): a for a in topo.agents}
    for agent in topo.agents:
        assert agent.targets, agent.namespace
        for target in agent.targets:
            host, _, port = target["address"].rpartition(":")
            # WAN probes go to the other location's designated WAN agents, authenticated, on their port.
            assert (int(port), target["path"] == "wan", agent.role) in (
                (lab.PROBE_PORT, False, ""), (lab.WAN_PORT, True, "wan")
            )  # fmt: skip
            if target["path"] == "service":
                i = topo.clusters.index(agent.cluster) + 1
                assert host == lab.service_ip(i)
                continue
            peer = by_address[(host, "wan" if target["path"] == "wan" else "")]
            d = target["destination"]
            assert (peer.cluster, peer.node, peer.zone, peer.pod) == (d["cluster"], d["node"], d["zone"], d["pod"])
            assert peer is not agent
            same_node = (peer.cluster, peer.node) == (agent.cluster, agent.node)
            assert target["path"] == {True: "pod-same-node", False: target["path"]}[same_node]
            if target["path"] == "wan":
                assert peer.cluster != agent.cluster


def test_zones_alternate_so_each_zone_link_has_pairs() -> None:
    topo = lab.topology(1, 4)
    assert topo.zones == {"c1": {"n1": "a", "n2": "b", "n3": "a", "n4": "b"}}


@pytest.mark.parametrize(
    ("clusters", "nodes", "rate", "message"),
    [(0, 3, 25, "--clusters must be 1-8"), (2, 1, 25, "--nodes must be 2-8"), (2, 3, 0, "--rate must be 1-200")],
)
def test_bad_sizes_are_refused(clusters: int, nodes: int, rate: float, message: str) -> None:
    with pytest.raises(lab.LabError, match=message):
        lab.topology(clusters, nodes, rate)


def test_fault_rules() -> None:
    topo = lab.topology(2, 3)
    uplink = lab.fault_rules(topo, "uplink", "c1-n2", 3)
    assert [ns for ns, _ in uplink.rules] == ["ef-c1-n2"]
    assert 'oifname "eth0" numgen random mod 10000 < 300 drop' in uplink.rules[0][1]
    mtu = lab.fault_rules(topo, "mtu", "c2", 100)
    assert [ns for ns, _ in mtu.rules] == ["ef-c2-n1", "ef-c2-n2", "ef-c2-n3"]
    assert 'oifname "eth0" udp dport 4789 meta length > 1400 drop\n' in mtu.rules[0][1]  # all: no numgen
    wan = lab.fault_rules(topo, "wan", "c2:c1", 0.5)
    assert wan.rules[0][0] == "ef-wan"
    assert 'iifname "c2" oifname "c1" numgen random mod 10000 < 50 drop' in wan.rules[0][1]
    service = lab.fault_rules(topo, "service", "c1", 10)
    assert "priority -300" in service.rules[0][1]
    assert f"ip daddr {lab.service_ip(1)} udp dport 9798" in service.rules[0][1]
    assert lab.fault_rules(topo, "veth", "c1-n3-p2", 10).rules[0][0] == "ef-c1-n3-p2"
    assert lab.fault_rules(topo, "zone", "c2", 10).rules[0][0] == "ef-c2-fabric"
    nic = lab.fault_rules(topo, "nic", "c2-n3", 20)  # no rule: the fabric's end of n3's link goes down
    assert (nic.rules, nic.flap) == ((), ("ef-c2-fabric", "n3"))


@pytest.mark.parametrize(
    ("kind", "target", "loss", "message"),
    [
        ("flood", "c1", 1, "unknown fault kind 'flood'"),
        ("uplink", "c1", 1, "uplink takes a node"),
        ("overlay", "c1-n9", 1, "overlay takes a node"),
        ("veth", "c1-n1", 1, "veth takes a pod"),
        ("wan", "c1:c1", 1, "wan takes two clusters"),
        ("zone", "c3", 1, "zone takes a cluster"),
        ("nic", "c1", 1, "nic takes a node"),
        ("nic", "c1-n1-p1", 1, "nic takes a node"),
        ("service", "c1", 0, "--loss must be more than 0"),
        ("service", "c1", 101, "--loss must be more than 0 and at most 100"),
    ],
)
def test_bad_faults_are_refused(kind: str, target: str, loss: float, message: str) -> None:
    with pytest.raises(lab.LabError, match=message):
        lab.fault_rules(lab.topology(2, 3), kind, target, loss)


def test_agent_config_is_what_netprobe_reads(tmp_path: Path) -> None:
    # Each cluster keyed as a slice of its own: its key to sign with, the other's answered.
    keys = {"c1": tmp_path / "wan-c1.key", "c2": tmp_path / "wan-c2.key"}
    keys["c1"].write_text("ab" * 32)
    keys["c2"].write_text("cd" * 32)
    other = {"c1": "c2", "c2": "c1"}
    for agent in lab.topology(2, 3).agents:
        config = parse_config(lab.agent_config(agent, 25.0, keys))
        assert len(config.targets) == len(agent.targets)
        assert config.identity.pod == agent.pod
        assert config.nic_devices == (() if agent.pod or agent.role else ("eth0",))
        wan = agent.role == "wan"
        assert config.key == (bytes.fromhex(keys[agent.cluster].read_text()) if wan else b"")
        assert config.peer_keys == ((bytes.fromhex(keys[other[agent.cluster]].read_text()),) if wan else ())
        assert config.listen[1] == (lab.WAN_PORT if agent.role == "wan" else lab.PROBE_PORT)


def test_without_root_or_tools_the_lab_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab.os, "geteuid", lambda: 1000)
    with pytest.raises(lab.LabUnavailable, match="the lab needs root"):
        lab.check_available()
    monkeypatch.setattr(lab.os, "geteuid", lambda: 0)
    monkeypatch.setattr(lab.shutil, "which", lambda tool: None if tool == "nft" else f"/usr/sbin/{tool}")
    with pytest.raises(lab.LabUnavailable, match=r"needs nft: install them with `apt-get install -y iproute2 nft"):
        lab.check_available()
    code, _, stderr = _cli("lab", "down")
    assert code == 2
    assert stderr.startswith("lab: the lab needs nft")


@pytest.mark.parametrize("args", [["lab", "fault", "uplink", "c1-n1"], ["lab", "clear"]])
def test_without_a_lab_fault_and_clear_say_so(
    args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(lab, "STATE_DIR", tmp_path / "lab")
    code, _, stderr = _cli(*args)
    assert code == 2
    assert stderr.strip() == "lab: no lab is up: start one with `edgefleet lab up`"


def test_an_unreadable_state_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(lab, "STATE_DIR", tmp_path)
    for text in ("{", '{"agents": 3}', "[]"):
        (tmp_path / "state.json").write_text(text)
        with pytest.raises(lab.LabError, match=r"unreadable lab state .*`edgefleet lab down` removes it"):
            lab.load_state()


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr

"""The probe agent: its config, its counters' parsers, and real agents answering each other on loopback."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from edgefleet.components.config.model import NETPROBE_IMAGE
from edgefleet.doctor.evidence import build, deltas
from edgefleet.doctor.promtext import ExpositionError, Sample, parse
from edgefleet.netprobe.agent import (
    IP_MTU_DISCOVER,
    IP_PMTUDISC_PROBE,
    VERSION,
    Agent,
    ConfigError,
    Identity,
    config_from_env,
    load_config,
    parse_config,
    parse_conntrack_stat,
    parse_ethtool_stats,
    quantile,
    zone_from_metadata,
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _agent(identity: dict[str, str], targets: list[dict[str, object]], rate: float = 100.0) -> Agent:
    config = parse_config(
        {
            "identity": identity,
            "listen": f"127.0.0.1:{_free_port()}",
            "metrics": "127.0.0.1:0",
            "rate": rate,
            "timeout": 0.3,
            "targets": targets,
            "counters": {"nic": ["lo"], "conntrack": True},
        }
    )
    return Agent(config)


def _metrics(agent: Agent) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5) as r:
        body: bytes = r.read()
    return body.decode()


def test_two_agents_measure_each_other_and_export_prometheus_text() -> None:
    b = _agent({"cluster": "c1", "node": "n2", "zone": "b", "pod": "p1"}, [])
    b.start()
    try:
        a = _agent(
            {"cluster": "c1", "node": "n1", "zone": "a"},
            [
                {"address": f"127.0.0.1:{b.echo_port}", "path": "pod", "size": 64},
                {"address": f"127.0.0.1:{b.echo_port}", "path": "pod", "size": 1400},
                {"address": f"127.0.0.1:{_free_port()}", "path": "host", "size": 64,
                 "destination": {"cluster": "c1", "node": "n9"}},  # nobody answers there
            ],
        )
        a.start()
        try:
            # A stream is labelled with its peer's identity from the peer's first reply on: start
            # the window once both answered streams say who answered (a busy machine may take a
            # moment), so both scrapes carry the same labels.
            deadline = time.monotonic() + 10
            while True:
                first = parse(_metrics(a), prefix="netprobe_")
                named = {s.label("size") for s in first if s.label("path") == "pod-cross-node"}
                if {"64", "1400"} <= named or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(1.5)
            text = _metrics(a)
        finally:
            a.stop()
    finally:
        b.stop()
    samples = parse(text, prefix="netprobe_")
    assert "# TYPE netprobe_probes_total counter" in text
    assert "# TYPE netprobe_rtt_seconds summary" in text
    evidence = build(deltas(first, samples), samples, window_seconds=1.5)
    by_size = {(s.path, s.size): s for s in evidence.streams}
    answered = by_size[("pod-cross-node", 64)]  # the peer said who it is: another node's pod
    assert answered.destination.node == "n2"
    assert answered.destination.pod == "p1"
    assert answered.probes > 50
    assert answered.lost == 0
    assert answered.rtt_p50_ms is not None
    assert 0 < answered.rtt_p50_ms < 50
    assert by_size[("pod-cross-node", 1400)].lost == 0  # 1400 bytes pass loopback with DF set
    silent = by_size[("host", 64)]
    assert silent.lost == silent.probes > 50  # every probe to a silent port is lost
    assert any(s.name == "netprobe_nic_drops_total" and s.label("device") == "lo" for s in samples)
    info = [s for s in samples if s.name == "netprobe_agent_info"]
    assert [(s.label("node"), s.label("zone")) for s in info] == [("n1", "a")]


def test_probes_carry_the_dont_fragment_bit() -> None:
    agent = _agent({"cluster": "c1", "node": "n1"}, [])
    try:
        assert agent.probe.getsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_PROBE
        assert agent.echo.getsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_PROBE
    finally:
        agent.http.server_close()
        agent.echo.close()
        agent.probe.close()


def test_a_probe_larger_than_the_interface_mtu_counts_as_a_send_error() -> None:
    # Loopback's MTU is 65536: a 9000-byte probe passes; a DF probe beyond a route's MTU is
    # refused by the kernel (EMSGSIZE), which the agent counts and reports, never raises.
    agent = _agent({"cluster": "c1", "node": "n1"}, [{"address": "127.0.0.1:9", "path": "host", "size": 9000}])
    stream = next(iter(agent.streams.values()))
    agent.probe.close()  # a send on a closed socket fails like any OSError
    agent._probe(stream)
    assert stream.send_errors == 1
    agent.http.server_close()
    agent.echo.close()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must be a JSON object"),
        ({"identity": {"cluster": "c1"}}, "identity: cluster and node are required"),
        ({"identity": {"cluster": "c1", "node": "a|b"}}, "identity.node"),
        ({"identity": {"cluster": "c", "node": "n"}, "rate": 0}, "rate: expected a number"),
        ({"identity": {"cluster": "c", "node": "n"}, "listen": "9798"}, "listen: expected HOST:PORT"),
        ({"identity": {"cluster": "c", "node": "n"}, "targets": [{"address": "1.2.3.4:70000"}]}, "port must be"),
        ({"identity": {"cluster": "c", "node": "n"}, "targets": [{"address": "1.2.3.4:1", "path": "host",
                                                                  "size": 20}]}, "packet size"),
        ({"identity": {"cluster": "c", "node": "n"}, "targets": [{"address": "1.2.3.4:1", "path": "Host!",
                                                                  "size": 64}]}, "targets[0].path"),
        ({"identity": {"cluster": "c", "node": "n"}, "colour": 1}, "unknown key(s): colour"),
    ],
)
def test_config_errors_name_the_field(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_config(raw)
    assert message in str(caught.value)


def test_load_config_reads_a_file_and_reports_bad_json(tmp_path: Path) -> None:
    good = tmp_path / "a.json"
    good.write_text(json.dumps({"identity": {"cluster": "c1", "node": "n1"}}))
    assert load_config(good).identity == Identity("c1", "n1")
    bad = tmp_path / "b.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match=r"b\.json"):
        load_config(bad)


def test_the_kubernetes_form_reads_the_downward_api_environment() -> None:
    config = config_from_env(
        {
            "NETPROBE_CLUSTER": "aws-eu-central-1",
            "NETPROBE_NODE": "ip-10-0-1-5",
            "NETPROBE_POD": "netprobe-abcde",
            "NETPROBE_PEERS": "pod=netprobe-pods.edgefleet-netcheck.svc,service=netprobe.edgefleet-netcheck.svc",
            "NETPROBE_SIZES": "64,1400",
            "NETPROBE_OWN_IP": "10.0.1.17",
        }
    )
    assert config.identity == Identity("aws-eu-central-1", "ip-10-0-1-5", "", "netprobe-abcde")
    assert [(d.path, d.sizes) for d in config.discover] == [("pod", (64, 1400)), ("service", (64, 1400))]
    assert config.own_addresses == ("10.0.1.17",)
    with pytest.raises(ConfigError, match="NETPROBE_SIZES"):
        config_from_env({"NETPROBE_CLUSTER": "c", "NETPROBE_NODE": "n", "NETPROBE_SIZES": "big"})


def test_ethtool_counters_of_a_virtual_nic() -> None:
    # `ethtool -S eth0` on an AWS ENA interface (the counters the ENA driver documents).
    text = """NIC statistics:
     tx_timeout: 0
     queue_0_tx_cnt: 123
     bw_in_allowance_exceeded: 12
     bw_out_allowance_exceeded: 0
     pps_allowance_exceeded: 7
     conntrack_allowance_exceeded: 0
     linklocal_allowance_exceeded: 3
     rx_drops: 2
"""
    assert parse_ethtool_stats(text) == {
        "bw_in_allowance_exceeded": 12,
        "bw_out_allowance_exceeded": 0,
        "pps_allowance_exceeded": 7,
        "conntrack_allowance_exceeded": 0,
        "linklocal_allowance_exceeded": 3,
        "rx_drops": 2,
    }


def test_conntrack_stat_sums_cpus() -> None:
    text = (
        "entries  clashres found     invalid  insert   insert_failed drop     early_drop error    search_restart\n"
        "00000010 00000000 00000000 00000000 00000000 00000002 00000001 0000000a 00000000 00000000\n"
        "00000010 00000000 00000000 00000000 00000000 00000003 00000000 00000001 00000000 00000000\n"
    )
    assert parse_conntrack_stat(text) == {"drop": 1, "early_drop": 11, "insert_failed": 5}
    assert parse_conntrack_stat("") == {}


def test_quantile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert quantile(values, 0.5) == 50.0
    assert quantile(values, 0.99) == 99.0
    assert quantile([3.0], 0.9) == 3.0
    assert quantile([], 0.5) != quantile([], 0.5)  # NaN: no sample


def test_exposition_parser_rejects_what_is_not_the_format() -> None:
    assert parse('a{b="x\\"y",c="z"} 1.5\n# HELP a b\n\nb 2 1700000000\n') == [
        *parse('a{c="z",b="x\\"y"} 1.5'),
        *parse("b 2"),
    ]
    with pytest.raises(ExpositionError, match="line 1"):
        parse("not a sample at all")
    with pytest.raises(ExpositionError, match="line 2"):
        parse('a 1\nb{c="d} 2')


def _metadata(answers: dict[str, str]) -> Callable[[str, str, Mapping[str, str]], str]:
    """An instance metadata service that answers these paths (with these headers required)."""

    def fetch(method: str, url: str, headers: Mapping[str, str]) -> str:
        for suffix, value in answers.items():
            if url.endswith(suffix):
                return value
        raise OSError("connection refused")

    return fetch


def test_the_zone_from_each_clouds_instance_metadata() -> None:
    aws = _metadata({"/latest/api/token": "tok", "/placement/availability-zone": "eu-central-1b"})
    assert zone_from_metadata(aws) == "eu-central-1b"
    gcp = _metadata({"/instance/zone": "projects/123456/zones/europe-west3-a"})
    assert zone_from_metadata(gcp) == "europe-west3-a"
    azure = _metadata({"format=text": "2"})
    assert zone_from_metadata(azure) == "2"
    assert zone_from_metadata(_metadata({})) == ""  # on-prem, k3s in a shop: no zone


def test_pod_agents_get_the_zone_their_node_reports() -> None:
    # The host agent of c1/n2 knows its zone; the pod agent on the same node does not.
    labels = {
        "source_cluster": "c1", "source_node": "n1", "source_zone": "", "source_pod": "p1",
        "destination_cluster": "c1", "destination_node": "n2", "destination_zone": "", "destination_pod": "p1",
        "path": "pod-cross-node", "size": "64",
    }  # fmt: skip
    key = tuple(sorted(labels.items()))
    increases = [Sample("netprobe_probes_total", key, 100.0), Sample("netprobe_probes_lost_total", key, 0.0)]
    info = [
        Sample("netprobe_agent_info", (("cluster", "c1"), ("node", "n1"), ("pod", ""), ("zone", "a")), 1.0),
        Sample("netprobe_agent_info", (("cluster", "c1"), ("node", "n2"), ("pod", ""), ("zone", "b")), 1.0),
    ]
    (stream,) = build(increases, info, window_seconds=10).streams
    assert (stream.source.zone, stream.destination.zone) == ("a", "b")


def test_the_image_tag_is_the_agents_version_everywhere_it_is_named() -> None:
    """``netcheck.image``'s default, the Dockerfile's build line, the docs and the version the agent
    reports (``netprobe_agent_info``) move together: a protocol change bumps them all."""
    repo = Path(__file__).resolve().parent.parent
    image = f"ghcr.io/edgefleet/netprobe:{VERSION}"
    assert image == NETPROBE_IMAGE
    for name in ("netprobe/Dockerfile", "docs/doctor.md", "docs/fleet-config.md"):
        text = (repo / name).read_text()
        assert image in text, name
        tags = set(re.findall(r"ghcr\.io/edgefleet/netprobe:([0-9][0-9.]*[0-9])", text))
        assert tags == {VERSION}, (name, tags)
    agent = Agent(parse_config({"identity": {"cluster": "c1", "node": "n1"}, "listen": "127.0.0.1:0",
                                "metrics": "127.0.0.1:0"}))  # fmt: skip
    try:
        (info,) = [s for s in parse(agent.exposition()) if s.name == "netprobe_agent_info"]
        assert info.label("version") == VERSION
    finally:
        agent.http.server_close()
        agent.echo.close()
        agent.probe.close()

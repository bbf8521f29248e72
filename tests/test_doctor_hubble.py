"""Hubble's drop reasons beside the doctor's Kubernetes-layer findings, read from a real Prometheus
(Debian's ``prometheus``) scraping, as it would in a cluster, netprobe agents and Cilium agents
exporting ``hubble_drop_total{reason, protocol}`` (Hubble's ``drop`` metric), each Cilium target
labelled with its ``node`` as Cilium's ServiceMonitor relabels it. Without the binary the test is
skipped, unless ``CI`` or ``EDGEFLEET_REQUIRE_PROMETHEUS=1`` is set, which makes it fail."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.doctor.attribution import Component, Finding, Kind, Layer, diagnose
from edgefleet.doctor.evidence import DropCount, Endpoint, Evidence, Stream
from edgefleet.doctor.report import Context, document, hubble_evidence, text
from edgefleet.netprobe.agent import labels_text
from tests.conftest import REPO, wait_until_ready
from tests.test_doctor_attribution import veth, window

SCHEMA = json.loads((REPO / "docs" / "doctor.schema.json").read_text())
WINDOW = 20.0  # the simulated window's probe counts are per 20 s
# What each "Cilium agent" counts, per second: reason -> rate (Hubble's enum names).
CILIUM_AGENTS: dict[tuple[str, str], dict[str, float]] = {
    ("c1", "n2"): {"POLICY_DENIED": 4.0, "CT_MAP_INSERTION_FAILED": 0.5},  # where the lossy pod runs
    ("c1", "n1"): {},
    ("c2", "n2"): {"UNSUPPORTED_L3_PROTOCOL": 3.0},  # another cluster's node of the same name
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(body: Callable[[float], str]) -> ThreadingHTTPServer:
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body(time.monotonic() - started).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _netprobe_exposition(evidence: Evidence) -> Callable[[float], str]:
    """Every stream's counters growing at the simulated window's rates, as the agents export them."""

    def labels(s: Stream) -> dict[str, str]:
        return {
            "source_cluster": s.source.cluster, "source_node": s.source.node, "source_zone": s.source.zone,
            "source_pod": s.source.pod, "destination_cluster": s.destination.cluster,
            "destination_node": s.destination.node, "destination_zone": s.destination.zone,
            "destination_pod": s.destination.pod, "path": s.path, "size": str(s.size),
        }  # fmt: skip

    agents = sorted({(s.source.cluster, s.source.node, s.source.zone, s.source.pod) for s in evidence.streams})

    def body(elapsed: float) -> str:
        lines = ["# TYPE netprobe_agent_info gauge"]
        for c, n, z, p in agents:
            lines.append(f"netprobe_agent_info{labels_text({'cluster': c, 'node': n, 'zone': z, 'pod': p})} 1")
        lines.append("# TYPE netprobe_probes_total counter")
        lines += [f"netprobe_probes_total{labels_text(labels(s))} {int(s.probes / WINDOW * elapsed)}"
                  for s in evidence.streams]  # fmt: skip
        lines.append("# TYPE netprobe_probes_lost_total counter")
        lines += [f"netprobe_probes_lost_total{labels_text(labels(s))} {int(s.lost / WINDOW * elapsed)}"
                  for s in evidence.streams]  # fmt: skip
        return "\n".join(lines) + "\n"

    return body


def _hubble_exposition(rates: dict[str, float]) -> Callable[[float], str]:
    """One Cilium agent's Hubble metrics server (port 9965 in a cluster): no node label of its own."""

    def body(elapsed: float) -> str:
        lines = ["# HELP hubble_drop_total Number of drops", "# TYPE hubble_drop_total counter"]
        for reason, rate in sorted(rates.items()):
            lines.append(f'hubble_drop_total{{protocol="UDP",reason="{reason}"}} {int(rate * elapsed)}')
        return "\n".join(lines) + "\n"

    return body


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI") or os.environ.get("EDGEFLEET_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("prometheus is not installed: .ci/run installs Debian's prometheus")
        pytest.skip("prometheus is not installed (apt-get install -y prometheus)")
    work = tmp_path_factory.mktemp("hubble")
    evidence = window(veth("c1", "n2", "p1", 0.10), seed=3)
    servers = [_serve(_netprobe_exposition(evidence))]
    scrape: list[dict[str, Any]] = [
        {"targets": [f"127.0.0.1:{servers[0].server_address[1]}"], "labels": {"job_kind": "netprobe"}}
    ]
    for (cluster, node), rates in CILIUM_AGENTS.items():
        servers.append(_serve(_hubble_exposition(rates)))
        # What Cilium's ServiceMonitor does (relabel __meta_kubernetes_pod_node_name to `node`),
        # and a fleet's Prometheus its `cluster` label.
        target = f"127.0.0.1:{servers[-1].server_address[1]}"
        scrape.append({"targets": [target], "labels": {"node": node, "cluster": cluster}})
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
        "scrape_configs": [{"job_name": "fleet", "static_configs": scrape}],
    }
    (work / "prometheus.yml").write_text(json.dumps(config))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_ready(server, url, work / "prometheus.log")
        time.sleep(14)  # a 10 s window of scrapes, and a little
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        for s in servers:
            s.shutdown()
            s.server_close()


def test_hubbles_drop_reasons_come_with_a_kubernetes_finding(prometheus: str) -> None:
    result = CliRunner().invoke(app, ["doctor", "--prometheus", prometheus, "--window", "10", "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    (finding,) = doc["findings"]
    assert (finding["layer"], finding["kind"], finding["where"]) == (
        "kubernetes", "pod-veth", {"cluster": "c1", "node": "n2", "pod": "p1"}
    )  # fmt: skip
    drops = finding["figures"]["hubble_drops"]
    # Only that cluster's node: c2's n2 has drops too, of another reason, not attached here.
    assert [(d["node"], d["reason"]) for d in drops] == [("n2", "POLICY_DENIED"), ("n2", "CT_MAP_INSERTION_FAILED")]
    assert 20 <= drops[0]["count"] <= 60  # 4/s over 10 s, as increase() extrapolates it
    assert "Hubble counted drops there (POLICY_DENIED +" in finding["next_step"]
    assert "`hubble observe --verdict DROPPED --node-name n2`" in finding["next_step"]
    lines = CliRunner().invoke(app, ["doctor", "--prometheus", prometheus, "--window", "10"]).stdout.splitlines()
    assert any(line.startswith("  hubble drops: n2 POLICY_DENIED +") for line in lines), lines


def _finding(kind: Kind, cluster: str, node: str = "") -> Finding:
    return Finding(Layer.KUBERNETES if kind is not Kind.UPLINK else Layer.PHYSICAL, Component(kind, cluster, node),
                   100, 10, 1.0, 30.0, 100, 0, (), None, None)  # fmt: skip


def test_hubble_evidence_goes_to_kubernetes_findings_on_their_nodes_only() -> None:
    evidence = window(lambda s: 0.0)
    drops = (
        DropCount("", "n1", "POLICY_DENIED", 5),  # no cluster label: named by its node
        DropCount("c1", "n2", "FRAG_NEEDED", 9),
        DropCount("c2", "n2", "POLICY_DENIED", 7),
    )
    evidence = Evidence(evidence.streams, drops=drops)
    on = hubble_evidence
    assert on(_finding(Kind.OVERLAY, "c1", "n2"), evidence) == [drops[1]]
    assert on(_finding(Kind.VETH, "c2", "n1"), evidence) == [drops[0]]
    assert on(_finding(Kind.MTU, "c1"), evidence) == [drops[1], drops[0]]  # every node of c1, most first
    assert on(_finding(Kind.SERVICE, "c2"), evidence) == [drops[2], drops[0]]
    assert on(_finding(Kind.UPLINK, "c1", "n2"), evidence) == []  # not the Kubernetes layer
    assert on(_finding(Kind.OVERLAY, "c1", "n2"), Evidence(evidence.streams)) == []  # no Hubble there
    # Without Hubble the finding has no hubble_drops and still validates.
    doc, code = document(diagnose(window(veth("c1", "n2", "p1", 0.1), seed=5)), Context(), "prometheus")
    assert code == 1
    assert "hubble_drops" not in doc["findings"][0]["figures"]
    jsonschema.validate(doc, SCHEMA)
    assert not any("hubble drops:" in line or "Hubble counted" in line for line in text(doc))


def test_a_cluster_without_wan_probes_by_design_is_a_note_not_a_gap() -> None:
    evidence = window(lambda s: 0.0)
    no_wan = Evidence(tuple(s for s in evidence.streams if s.path != "wan"), window_seconds=20.0)
    doc, code = document(diagnose(no_wan), Context(), "prometheus")
    assert (doc["status"], code) == ("incomplete", 2)
    assert "locations c1 and c2: no WAN probes between them" in doc["problems"]
    skipped = Context(wan_skipped={"c2": "listed in netcheck.wan.skip"})
    doc, code = document(diagnose(no_wan), skipped, "prometheus")
    assert (doc["status"], code, doc["problems"]) == ("healthy", 0, [])
    assert doc["notes"] == ["cluster c2: no WAN probes by design (listed in netcheck.wan.skip)"]
    jsonschema.validate(doc, SCHEMA)
    assert "note: cluster c2: no WAN probes by design (listed in netcheck.wan.skip)" in text(doc)


def test_a_wan_peer_that_never_answered_is_named_not_blamed() -> None:
    from edgefleet.doctor.evidence import build  # noqa: PLC0415
    from edgefleet.doctor.promtext import Sample  # noqa: PLC0415

    labels = (("destination_cluster", "c2"), ("destination_node", ""), ("destination_pod", ""),
              ("destination_zone", ""), ("path", "wan"), ("size", "64"), ("source_cluster", "c1"),
              ("source_node", "n1"), ("source_pod", "netprobe-wan-x"), ("source_zone", "a"))  # fmt: skip
    evidence = build(
        [Sample("netprobe_probes_total", labels, 600), Sample("netprobe_probes_lost_total", labels, 600)],
        [],
        window_seconds=60,
    )
    assert evidence.streams == ()
    assert any("never answered by the designated probes there (c1 -> c2)" in p for p in evidence.problems)
    assert diagnose(evidence).findings == ()


def _real_wan(loss_at: Callable[[Stream], float]) -> Evidence:
    """The lab's in-cluster streams, with the WAN as real clusters measure it: two designated
    probe pods per cluster (on n1 and n2), each probing the other location's load balancer, which
    hands each prober's flow to one of the pods behind it (labels as the agents export them)."""
    import random  # noqa: PLC0415

    rng = random.Random(9)
    base = [s for s in window(lambda s: 0.0).streams if s.path != "wan"]
    wan = []
    for src_cluster, dst_cluster in (("c1", "c2"), ("c2", "c1")):
        for i, node in enumerate(("n1", "n2")):
            src = Endpoint(src_cluster, node, "a" if node == "n1" else "b", f"netprobe-wan-{src_cluster}{i}")
            j = (i + 1) % 2  # the load balancer's pick for this flow
            dst = Endpoint(dst_cluster, f"n{j + 1}", "a" if j == 0 else "b", f"netprobe-wan-{dst_cluster}{j}")
            for size in (64, 1400):
                stream = Stream(src, dst, "wan", size, 500, 0)
                lost = sum(rng.random() < loss_at(stream) for _ in range(500))
                wan.append(Stream(src, dst, "wan", size, 500, lost, 12.0, 14.0))
    return Evidence((*base, *wan), window_seconds=20.0)


def test_real_clusters_wan_streams_are_attributed_by_their_labels() -> None:
    lossy_wan = diagnose(_real_wan(lambda s: 0.05))
    (finding,) = lossy_wan.findings
    assert (finding.layer, finding.component.kind) == (Layer.PHYSICAL, Kind.WAN)
    assert (finding.component.cluster, finding.component.other) == ("c1", "c2")
    doc, _ = document(lossy_wan, Context(locations={"c1": (50.1, 8.7), "c2": (48.9, 2.4)}), "prometheus")
    assert doc["findings"][0]["where"] == {"locations": ["c1", "c2"]}
    assert [(r["a"], r["b"], r["measured_p50_ms"]) for r in doc["rtt_matrix"]] == [("c1", "c2", 12.0)]
    # One designated probe's own veth: that pod, not the WAN.
    pod = "netprobe-wan-c10"
    one = diagnose(_real_wan(lambda s: 0.10 if pod in (s.source.pod, s.destination.pod) else 0.0))
    assert [(f.component.kind, f.component.pod) for f in one.findings] == [(Kind.VETH, pod)]


def test_hostile_or_missing_hubble_series_never_break_a_verdict() -> None:
    from edgefleet.doctor import collect  # noqa: PLC0415

    def answer(rows: list[tuple[dict[str, str], str]]) -> Callable[[str], str]:
        result = [{"metric": m, "value": [1700000000, v]} for m, v in rows]
        return lambda url: json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})

    rows = [
        ({"node": "n1", "reason": "POLICY_DENIED\nFAULT physical layer: forged"}, "12"),
        ({"node": "n1", "reason": "X" * 500}, "1e300"),
        ({"node": "n2", "reason": "NaN"}, "NaN"),
        ({"node": "n2", "reason": "NEG"}, "-4"),
        ({"reason": "NO_NODE"}, "9"),
        ({"node": "n3"}, "2"),
    ]
    drops = collect.hubble_drops("http://prom", 20, answer(rows))
    assert [(d.node, d.reason, d.count) for d in drops] == [
        ("n1", "X" * 64, 10**15),
        ("n1", "POLICY_DENIED_FAULT physical layer: forged", 12),
        ("n3", "?", 2),
    ]

    def refuse(url: str) -> str:
        raise OSError("connection reset")

    assert collect.hubble_drops("http://prom", 20, refuse) == ()
    assert collect.hubble_drops("http://prom", 20, lambda url: '{"status": "error", "error": "bad"}') == ()


FAKE_KUBECTL = """#!{python}
import json, os, pathlib, sys
args = sys.argv[1:]
cluster = pathlib.Path(args[args.index("--kubeconfig") + 1]).stem
data = pathlib.Path(os.environ["FAKE_DIR"])
if "pods" in args:
    namespace = args[args.index("-n") + 1]
    if namespace == "edgefleet-netcheck":
        items = [{{"metadata": {{"name": "netprobe-" + cluster}}}}]
    elif namespace == "kube-system" and "k8s-app=cilium" in args:
        items = [{{"metadata": {{"name": f"cilium-{{cluster}}-{{n}}"}}, "spec": {{"nodeName": n}}}}
                 for n in ("n1", "n2", "n3")]
    else:
        items = []
    print(json.dumps({{"items": items}}))
elif "--raw" in args:
    pod = args[-1].split("/pods/")[1].split(":")[0]
    calls = data / f"{{pod}}.calls"
    n = int(calls.read_text()) if calls.exists() else 0
    calls.write_text(str(n + 1))
    print((data / f"{{pod}}-{{min(n, 1)}}.txt").read_text(), end="")
"""
FAKE_PULUMI = """#!{python}
import json, sys
print(json.dumps({{"c1": "apiVersion: v1", "c2": "apiVersion: v1"}}))
"""


def test_hubbles_drops_are_read_through_the_kubeconfigs_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_doctor_cli import _exposition  # noqa: PLC0415

    bin_dir, data = tmp_path / "bin", tmp_path / "data"
    bin_dir.mkdir()
    data.mkdir()
    for name, script in (("kubectl", FAKE_KUBECTL), ("pulumi", FAKE_PULUMI)):
        (bin_dir / name).write_text(script.format(python=sys.executable))
        (bin_dir / name).chmod(0o755)
    evidence = window(veth("c1", "n2", "p1", 0.10), seed=3)
    for cluster in ("c1", "c2"):
        full = _exposition(Evidence(tuple(s for s in evidence.streams if s.source.cluster == cluster)), info=cluster)
        zero = "\n".join(line.rsplit(" ", 1)[0] + " 0" if "probes" in line else line for line in full.splitlines())
        (data / f"netprobe-{cluster}-0.txt").write_text(zero + "\n")
        (data / f"netprobe-{cluster}-1.txt").write_text(full)
        for node in ("n1", "n2", "n3"):
            counts = {"POLICY_DENIED": 37, "CT_MAP_INSERTION_FAILED": 3} if (cluster, node) == ("c1", "n2") else {}
            before, after = [], []
            for reason, count in sorted({"STALE_OR_UNROUTABLE_IP": 0, **counts}.items()):
                line = f'hubble_drop_total{{protocol="UDP",reason="{reason}"}}'
                before.append(f"{line} 100")
                after.append(f"{line} {100 + count}")
            other = "# TYPE hubble_flows_processed_total counter\nhubble_flows_processed_total 5\n"
            (data / f"cilium-{cluster}-{node}-0.txt").write_text(other + "\n".join(before) + "\n")
            (data / f"cilium-{cluster}-{node}-1.txt").write_text(other + "\n".join(after) + "\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DIR", str(data))
    result = CliRunner().invoke(app, ["doctor", "dev", "--window", "1", "--json"])
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    (finding,) = doc["findings"]
    assert finding["where"] == {"cluster": "c1", "node": "n2", "pod": "p1"}
    assert finding["figures"]["hubble_drops"] == [
        {"node": "n2", "reason": "POLICY_DENIED", "count": 37},
        {"node": "n2", "reason": "CT_MAP_INSERTION_FAILED", "count": 3},
    ]
    assert "`hubble observe --verdict DROPPED --node-name n2`" in finding["next_step"]

"""`edgefleet doctor`: the contract (docs/doctor.md, docs/doctor.schema.json): exit codes, the JSON
schema, and bad input (no source, no lab, unreachable Prometheus or agents, no agents installed,
half the metrics missing) as one clear line, never a traceback and never a wrong verdict."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from edgefleet import doctor_cmd
from edgefleet.cli import app
from edgefleet.doctor import collect, lab
from edgefleet.doctor.evidence import Evidence, Stream
from tests.conftest import REPO
from tests.test_doctor_attribution import service, uplink, window

runner = CliRunner()
SCHEMA = json.loads((REPO / "docs" / "doctor.schema.json").read_text())


def _labels(s: Stream) -> dict[str, str]:
    return {
        "source_cluster": s.source.cluster, "source_node": s.source.node, "source_zone": s.source.zone,
        "source_pod": s.source.pod, "destination_cluster": s.destination.cluster,
        "destination_node": s.destination.node, "destination_zone": s.destination.zone,
        "destination_pod": s.destination.pod, "path": s.path, "size": str(s.size),
        "instance": "10.250.1.10:9799", "job": "netprobe",
    }  # fmt: skip


def prometheus_answers(evidence: Evidence, keep: Callable[[Stream], bool] = lambda s: True) -> dict[str, Any]:
    """What a Prometheus scraping these agents answers to the doctor's queries, by metric name."""
    streams = [s for s in evidence.streams if keep(s)]
    info = {(s.source.cluster, s.source.node, s.source.zone, s.source.pod) for s in evidence.streams}
    return {
        "netprobe_probes_total": [({**_labels(s)}, s.probes) for s in streams],
        "netprobe_probes_lost_total": [({**_labels(s)}, s.lost) for s in streams],
        "netprobe_rtt_seconds": [({**_labels(s), "quantile": q}, 0.0002) for s in streams for q in ("0.5", "0.99")],
        "netprobe_agent_info": [
            ({"__name__": "netprobe_agent_info", "cluster": c, "node": n, "zone": z, "pod": p}, 1)
            for c, n, z, p in info
        ],
    }


@pytest.fixture
def fake_prometheus() -> Iterator[Callable[[dict[str, Any]], str]]:
    """A Prometheus query API on loopback answering from a table (``{metric: [(labels, value)]}``)."""
    servers: list[ThreadingHTTPServer] = []

    def start(table: dict[str, Any]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("query", [""])[0]
                name = query.removeprefix("increase(").split("{")[0].split("[")[0]
                rows = table.get(name, [])
                wanted = re.search(r'source_cluster=~"([^"]*)"', query)
                if wanted:  # the doctor's selector for a stack's clusters
                    rows = [(labels, v) for labels, v in rows
                            if re.fullmatch(wanted.group(1), labels.get("source_cluster", labels.get("cluster", "")))]
                result = [{"metric": labels, "value": [1700000000, str(value)]} for labels, value in rows]
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _doctor(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["doctor", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_a_fault_is_exit_1_with_a_finding_in_the_documented_schema(fake_prometheus: Callable[..., str]) -> None:
    url = fake_prometheus(prometheus_answers(window(uplink("c1", "n2", 0.05), seed=3)))
    code, stdout, _ = _doctor("--prometheus", url, "--json", "--window", "20")
    assert code == 1
    doc = json.loads(stdout)
    jsonschema.validate(doc, SCHEMA)
    (finding,) = doc["findings"]
    assert (finding["layer"], finding["component"], finding["where"]) == (
        "physical", "node uplink", {"cluster": "c1", "node": "n2"}
    )  # fmt: skip
    assert finding["figures"]["loss_ratio"] > 0.03
    assert finding["confidence"] > 0.99
    assert {c["name"]: c["status"] for c in doc["clusters"]} == {"c1": "fault", "c2": "healthy"}


def test_healthy_is_exit_0_and_text_says_so(fake_prometheus: Callable[..., str], tmp_path: Path) -> None:
    url = fake_prometheus(prometheus_answers(window(lambda s: 0.0, seed=5)))
    matrix = tmp_path / "rtt.json"
    code, stdout, stderr = _doctor("--prometheus", url, "--rtt-matrix", str(matrix))
    assert code == 0
    assert f"rtt matrix (1 pair(s), measured beside the model) written to {matrix}" in stderr
    assert stdout.startswith("HEALTHY: 2 cluster(s)")
    rtt = json.loads(matrix.read_text())
    assert rtt["format"] == "edgefleet.rtt/v1"
    assert [(p["a"], p["b"]) for p in rtt["pairs"]] == [("c1", "c2")]
    assert rtt["pairs"][0]["measured_p50_ms"] == pytest.approx(0.2)


def test_text_names_layer_component_figures_and_next_step(fake_prometheus: Callable[..., str]) -> None:
    url = fake_prometheus(prometheus_answers(window(service("c2", 0.1), seed=8)))
    code, stdout, _ = _doctor("--prometheus", url)
    assert code == 1
    first, *rest = stdout.splitlines()
    assert first.startswith("FAULT kubernetes layer: service path at c2: ")
    assert "confidence" in first
    assert "lost (" in first
    assert any(line.strip().startswith("next: the service load balancer") for line in rest)


def test_half_the_metrics_missing_is_never_called_healthy(fake_prometheus: Callable[..., str]) -> None:
    evidence = window(lambda s: 0.0, seed=6)
    url = fake_prometheus(prometheus_answers(evidence, keep=lambda s: s.path in ("host", "wan")))
    code, stdout, _ = _doctor("--prometheus", url, "--json")
    doc = json.loads(stdout)
    jsonschema.validate(doc, SCHEMA)
    assert (code, doc["status"]) == (2, "incomplete")
    assert any("no pod-same-node, pod-cross-node, service probes" in p for p in doc["problems"])
    # A fault in what is measured is still found.
    faulty = window(uplink("c2", "n1", 0.05), seed=6)
    url = fake_prometheus(prometheus_answers(faulty, keep=lambda s: s.path in ("host", "wan")))
    code, stdout, _ = _doctor("--prometheus", url, "--json")
    assert code == 1
    assert json.loads(stdout)["findings"][0]["where"] == {"cluster": "c2", "node": "n1"}


def test_lost_counts_missing_are_not_taken_as_zero(fake_prometheus: Callable[..., str]) -> None:
    answers = prometheus_answers(window(uplink("c1", "n1", 0.2), seed=2))
    answers["netprobe_probes_lost_total"] = []
    code, stdout, _ = _doctor("--prometheus", fake_prometheus(answers), "--json")
    doc = json.loads(stdout)
    assert code != 0
    assert doc["status"] != "healthy"
    assert any("export only one of netprobe_probes_total and netprobe_probes_lost_total" in p for p in doc["problems"])


def test_no_agents_installed_is_exit_2(fake_prometheus: Callable[..., str]) -> None:
    code, _, stderr = _doctor("--prometheus", fake_prometheus({}))
    assert code == 2
    assert "has no netprobe metrics: is netcheck installed and scraped?" in stderr
    assert "Traceback" not in stderr


def test_unreachable_prometheus_is_exit_3() -> None:
    code, _, stderr = _doctor("--prometheus", "http://127.0.0.1:9")
    assert code == 3
    assert stderr.startswith("doctor: could not reach: Prometheus at http://127.0.0.1:9 did not answer")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "doctor: say what to examine: STACK, --fleet FLEET, --prometheus URL or --lab"),
        (["--lab", "--prometheus", "http://x:9090"], "doctor: give one source"),
        (["--prometheus", "ftp://x"], "expected an http(s) URL"),
        (["--prometheus", "http://127.0.0.1:9", "--window", "0"], "--window must be 1-3600 seconds"),
        (["--prometheus", "http://127.0.0.1:9", "--rtt-matrix", "/nonexistent-dir/x.json"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, _, stderr = _doctor(*args)
    assert code == 2
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_no_lab_up_is_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(lab, "STATE_DIR", tmp_path / "lab")
    code, _, stderr = _doctor("--lab")
    assert code == 2
    assert "no lab is up: start one with `edgefleet lab up`" in stderr


def test_agents_partly_unreachable_are_named_and_not_healthy() -> None:
    good = window(lambda s: 0.0, seed=1)
    text = _exposition(good)

    def fetch(url: str) -> str:
        if "down" in url:
            raise OSError("connection refused")
        return text

    evidence = collect.from_agents(["http://up/metrics", "http://down/metrics"], 0, fetch=fetch, sleep=lambda _: None)
    assert evidence.problems == ("could not read agent http://down/metrics: connection refused",)
    with pytest.raises(collect.Unreachable, match="no probe agent answered"):
        collect.from_agents(["http://down/metrics"], 0, fetch=fetch, sleep=lambda _: None)
    with pytest.raises(collect.NoProbes, match="export no netprobe metrics"):
        collect.from_agents(["http://up/metrics"], 0, fetch=lambda _: "other_metric 1\n", sleep=lambda _: None)


def _exposition(evidence: Evidence, info: str = "c1") -> str:
    rows = prometheus_answers(evidence)
    lines = []
    for name in ("netprobe_probes_total", "netprobe_probes_lost_total"):
        for labels, value in rows[name]:
            inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{name}{{{inner}}} {value}")
    lines.append(f'netprobe_agent_info{{cluster="{info}",node="n1",zone="a",pod=""}} 1')
    return "\n".join(lines) + "\n"


def test_a_stack_without_the_pulumi_cli_is_could_not_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor_cmd.shutil, "which", lambda _: None)
    code, _, stderr = _doctor("dev", "--window", "1")
    assert code == 3
    assert "reading dev's clusters needs the pulumi CLI; or pass --prometheus URL" in stderr


def test_a_stack_that_does_not_exist_is_bad_input() -> None:
    code, _, stderr = _doctor("no-such-stack", "--prometheus", "http://127.0.0.1:9")
    assert code == 2
    assert "no-such-stack" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_with_a_stack_only_its_clusters_are_asked_for(
    fake_prometheus: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fake_prometheus(prometheus_answers(window(lambda s: 0.0, seed=4)))  # clusters c1 and c2
    queries: list[str] = []
    real = collect._fetch

    def spy(u: str, timeout: float = 5.0) -> str:
        queries.append(urllib.parse.unquote_plus(u))
        return real(u, timeout)

    monkeypatch.setattr(collect, "_fetch", spy)
    code, _, stderr = _doctor("dev", "--prometheus", url)
    assert queries
    assert all('source_cluster=~"store-berlin-01|store-munich-01"' in q for q in queries)
    assert code == 2  # the dev stack's clusters have no probes in this Prometheus
    assert "has no netprobe metrics" in stderr


def test_a_peer_that_never_answered_is_named_not_judged_healthy(fake_prometheus: Callable[..., str]) -> None:
    answers = prometheus_answers(window(lambda s: 0.0, seed=7))
    silent = {**answers["netprobe_probes_total"][0][0], "path": "pod", "destination_node": "10.1.2.3",
              "destination_cluster": "", "destination_pod": ""}
    answers["netprobe_probes_total"].append((silent, 300))
    answers["netprobe_probes_lost_total"].append((silent, 300))
    code, stdout, _ = _doctor("--prometheus", fake_prometheus(answers), "--json")
    doc = json.loads(stdout)
    assert (code, doc["status"]) == (3, "incomplete")
    assert any("on no known path (a peer that never answered?)" in p and "10.1.2.3" in p for p in doc["problems"])


FAKE_KUBECTL = """#!{python}
import json, os, pathlib, sys
args = sys.argv[1:]
cluster = pathlib.Path(args[args.index("--kubeconfig") + 1]).stem
data = pathlib.Path(os.environ["FAKE_DIR"])
if (data / f"{{cluster}}.down").exists():
    print("Unable to connect to the server: dial tcp 203.0.113.9:443: i/o timeout", file=sys.stderr)
    sys.exit(1)
if "pods" in args:
    namespace = args[args.index("-n") + 1]
    items = [{{"metadata": {{"name": "netprobe-" + cluster}}}}] if namespace == "edgefleet-netcheck" else []
    print(json.dumps({{"items": items}}))
elif "--raw" in args:
    assert args[-1] == f"/api/v1/namespaces/edgefleet-netcheck/pods/netprobe-{{cluster}}:9799/proxy/metrics", args
    calls = data / f"{{cluster}}.calls"
    n = int(calls.read_text()) if calls.exists() else 0
    calls.write_text(str(n + 1))
    print((data / f"{{cluster}}-{{min(n, 1)}}.txt").read_text(), end="")
"""
FAKE_PULUMI = """#!{python}
import json, sys
assert sys.argv[1:6] == ["stack", "output", "kubeconfigs", "--show-secrets", "--json"], sys.argv
print(json.dumps({{"c1": "apiVersion: v1", "c2": "apiVersion: v1"}}))
"""


def _fake_clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, evidence: Evidence) -> Path:
    """`pulumi` and `kubectl` on PATH that answer as a stack with clusters c1 and c2 would: the
    agents' metrics through the API server proxy, counters at zero then after a window."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("kubectl", FAKE_KUBECTL), ("pulumi", FAKE_PULUMI)):
        tool = bin_dir / name
        tool.write_text(text.format(python=sys.executable))
        tool.chmod(0o755)
    data = tmp_path / "data"
    data.mkdir()
    for cluster in ("c1", "c2"):
        mine = Evidence(tuple(s for s in evidence.streams if s.source.cluster == cluster))
        full = _exposition(mine, info=cluster)
        zero = "\n".join(line.rsplit(" ", 1)[0] + " 0" if "probes" in line else line for line in full.splitlines())
        (data / f"{cluster}-0.txt").write_text(zero + "\n")
        (data / f"{cluster}-1.txt").write_text(full)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DIR", str(data))
    return data


def test_a_stack_is_read_through_its_kubeconfigs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_clusters(tmp_path, monkeypatch, window(uplink("c2", "n3", 0.05), seed=12))
    code, stdout, stderr = _doctor("dev", "--window", "1", "--json")
    assert code == 1, stderr
    doc = json.loads(stdout)
    assert doc["source"] == "kubeconfigs"
    assert [(f["layer"], f["component"], f["where"]) for f in doc["findings"]] == [
        ("physical", "node uplink", {"cluster": "c2", "node": "n3"})
    ]


def test_a_cluster_that_cannot_be_reached_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _fake_clusters(tmp_path, monkeypatch, window(lambda s: 0.0, seed=13))
    (data / "c1.down").write_text("")
    code, stdout, _ = _doctor("dev", "--window", "1", "--json")
    doc = json.loads(stdout)
    assert (code, doc["status"]) == (3, "incomplete")
    assert [c["name"] for c in doc["clusters"]] == ["c2"]
    assert doc["problems"][0] == (
        "cluster c1: could not list its probe agents: Unable to connect to the server: dial tcp 203.0.113.9:443: "
        "i/o timeout"
    )
    (data / "c2.down").write_text("")
    code, _, stderr = _doctor("dev", "--window", "1")
    assert code == 3
    assert stderr.startswith("doctor: could not reach: cluster c1: could not list its probe agents: ")
    assert "cluster c2: could not list" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_cluster_without_agents_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _fake_clusters(tmp_path, monkeypatch, window(lambda s: 0.0, seed=14))
    script = (tmp_path / "bin" / "kubectl").read_text().replace(
        'if namespace == "edgefleet-netcheck" else []',
        'if namespace == "edgefleet-netcheck" and cluster != "c2" else []',
    )
    (tmp_path / "bin" / "kubectl").write_text(script)
    code, stdout, _ = _doctor("dev", "--window", "1", "--json")
    doc = json.loads(stdout)
    assert (code, doc["status"]) == (3, "incomplete")
    assert "cluster c2: no probe agents (is netcheck enabled and deployed there?)" in doc["problems"]
    assert data.exists()


FAKE_SLICED_PULUMI = """#!{python}
import json, os, pathlib, sys
assert sys.argv[1:6] == ["stack", "output", "kubeconfigs", "--show-secrets", "--json"], sys.argv
stack = sys.argv[sys.argv.index("-s") + 1]
with (pathlib.Path(os.environ["FAKE_DIR"]) / "stacks.log").open("a") as log:
    log.write(stack + "\\n")
clusters = {{"retail-europe": ["c1"], "retail-north-america": ["c2"]}}.get(stack, [])
print(json.dumps({{c: "apiVersion: v1" for c in clusters}}))
"""


def test_a_sliced_fleet_is_read_through_every_regional_slice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # c1 in one slice, c2 in another: one window over both, the fault found across the slices.
    data = _fake_clusters(tmp_path, monkeypatch, window(uplink("c2", "n3", 0.05), seed=12))
    (tmp_path / "bin" / "pulumi").write_text(FAKE_SLICED_PULUMI.format(python=sys.executable))
    code, stdout, stderr = _doctor("--fleet", "fleets/retail.yaml", "--window", "1", "--json")
    assert code == 1, stderr
    doc = json.loads(stdout)
    assert doc["source"] == "kubeconfigs"
    assert [(f["layer"], f["component"], f["where"]) for f in doc["findings"]] == [
        ("physical", "node uplink", {"cluster": "c2", "node": "n3"})
    ]
    # Every regional slice's kubeconfigs, never the global slice's (it has no cluster).
    assert sorted((data / "stacks.log").read_text().split()) == [
        "retail-asia", "retail-europe", "retail-north-america"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dev", "--fleet", "fleets/retail.yaml"], "doctor: give one source"),
        (["--lab", "--fleet", "fleets/retail.yaml"], "doctor: give one source"),
        (["--fleet", "fleets/no-such-fleet.yaml"], "no-such-fleet.yaml"),
        (["--fleet", "../outside.yaml"], "outside.yaml"),
    ],
)
def test_a_bad_fleet_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, _, stderr = _doctor(*args)
    assert code == 2, stderr
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1

"""The health gate of a scheduled move: an update that opens a location ends (and the engine deletes
the closed locations) only once the new location answers its DNS health check's request. The probe
runs against a real HTTP server on the loopback interface; the wiring against the real program."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import chdir
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.traffic.gate import GateTimeout, HealthGateProvider, Probe, probe_url, wait_until_healthy
from tests.conftest import user_project
from tests.test_placement_schedule import day_night_csv

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


class _Location(http.server.BaseHTTPRequestHandler):
    """A location's endpoint: answers /healthz with the next status of the server's script."""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        with server.lock:
            server.hosts.append(self.headers.get("Host", ""))
            status = server.script.pop(0) if server.script else server.then
        self.send_response(status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Location)
        self.script: list[int] = []
        self.then = 200
        self.hosts: list[str] = []
        self.lock = threading.Lock()


@pytest.fixture
def location() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _probe(server: _Server, successes: int = 3, timeout: float = 5.0, path: str = "/healthz") -> Probe:
    url = probe_url("HTTP", "127.0.0.1", server.server_address[1], path)
    return Probe(url=url, host="api.edge.example.com", successes=successes, interval=0.01, timeout=timeout)


def test_the_gate_waits_for_successes_in_a_row(location: _Server) -> None:
    location.script = [503, 200, 200, 500, 200, 200]  # a flapping start, then healthy
    asked = wait_until_healthy(_probe(location, successes=3))
    assert asked == 7  # the streak restarts after the 500: 200, 200, then a third 200 from `then`
    assert set(location.hosts) == {"api.edge.example.com"}  # as the health check asks: the workload's name


def test_the_gate_fails_the_update_when_the_location_never_passes(location: _Server) -> None:
    location.then = 503
    with pytest.raises(GateTimeout, match=r"did not answer 2xx 2 times in a row within 0 s \(last: HTTP 503\)"):
        wait_until_healthy(_probe(location, successes=2, timeout=0.2))
    with pytest.raises(GateTimeout, match=r"last: HTTP 404"):
        wait_until_healthy(_probe(location, successes=1, timeout=0.1, path="/wrong"))


def test_the_gate_reports_an_unreachable_location() -> None:
    probe = Probe(
        url="http://127.0.0.1:9/healthz", host="api.edge.example.com", successes=1, interval=0.01, timeout=0.1
    )
    with pytest.raises(GateTimeout, match=r"http://127.0.0\.1:9/healthz .* \(last: .*refused"):
        wait_until_healthy(probe)


def test_the_provider_creates_once_and_replaces_on_a_new_endpoint(location: _Server) -> None:
    provider = HealthGateProvider()
    probe = _probe(location, successes=2)
    props = {"url": probe.url, "host": probe.host, "successes": 2, "interval": 0.01, "timeout": 5.0}
    created = provider.create(props)
    assert created.id == f"api.edge.example.com|{probe.url}"
    assert len(location.hosts) == 2
    same = provider.diff(created.id, props, dict(props))
    assert not same.changes
    moved = provider.diff(created.id, props, {**props, "url": "http://203.0.113.9:8080/healthz"})
    assert moved.changes
    assert moved.replaces == ["url"]  # a new endpoint waits again
    slower = provider.diff(created.id, props, {**props, "interval": 30})
    assert slower.changes
    assert not slower.replaces


def test_probe_urls() -> None:
    assert probe_url("HTTPS", "lb-1.elb.amazonaws.com", 443, "/healthz") == "https://lb-1.elb.amazonaws.com:443/healthz"
    assert probe_url("HTTP", "2001:db8::1", 8080, "/") == "http://[2001:db8::1]:8080/"


# --- in the program ----------------------------------------------------------------------------------

STACK = """\
config:
  edgefleet:fleet:
    environment: test
    owner: platform-team
    traffic: {provider: route53, zone: edge.example.com, zone_id: Z0123456789ABC}
    clusters:
      - vendor: existing
        name: fra
        location: {lat: 50.11, lon: 8.68, country: DE}
        cni: {plugin: cilium, installed: true}
      - vendor: existing
        name: nyc
        location: {lat: 40.71, lon: -74.01, country: US}
        cni: {plugin: cilium, installed: true}
      - vendor: existing
        name: tyo
        location: {lat: 35.69, lon: 139.69, country: JP}
        cni: {plugin: cilium, installed: true}
    workloads:
      - name: api
        image: ghcr.io/acme/api:1.0.0
        port: 8080
        replicas: 4
        expose: public
        probe_path: /healthz
        placement:
          strategy: latency
          min_locations: 2
          max_locations: 2
          demand: {traffic: traffic/day.csv}
          schedule: {window: 1h}
      - name: site
        image: ghcr.io/acme/site:1.0.0
        port: 8080
        replicas: 4
        expose: public
        probe_path: /healthz
        placement: {strategy: latency, min_locations: 2, max_locations: 2}
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    user_project(tmp_path, "traffic")
    (tmp_path / "traffic" / "day.csv").write_text(day_night_csv())
    (tmp_path / "stacks" / "Pulumi.pub.yaml").write_text(STACK)
    with chdir(tmp_path):
        yield tmp_path


def test_a_scheduled_public_workload_gates_each_location_after_its_dns(project: Path) -> None:
    result = runner.invoke(app, ["plan", "pub", "--at", "2026-03-01T07:00:00Z", "--json", str(project / "p.json")])
    assert result.exit_code == 0, result.output + result.stderr
    plan = json.loads((project / "p.json").read_text())
    api = next(p for p in plan["placements"] if p["workload"] == "api")
    placed = {loc["cluster"] for loc in api["locations"]}
    gates = {r["name"]: r for r in plan["resources"] if r["type"] == "pulumi-python:dynamic:Resource"}
    assert set(gates) == {f"api-dns-{cluster}-healthy" for cluster in placed}  # the scheduled workload only
    by_name = {r["name"]: r["urn"] for r in plan["resources"]}
    for cluster in placed:
        gate = gates[f"api-dns-{cluster}-healthy"]
        assert {
            by_name[f"api-dns-{cluster}-health"],
            by_name[f"api-dns-{cluster}-address"],
            by_name[f"api-dns-{cluster}-geoproximity"],
            by_name[f"api-{cluster}-service"],
        } <= set(gate["dependencies"])
        assert gate["inputs"]["url"].endswith(":8080/healthz")
        assert gate["inputs"]["host"] == "api.edge.example.com"
        assert gate["inputs"]["successes"] == 3
        assert gate["inputs"]["__provider"] == "[secret]"
    records = next(d for d in plan["dns"] if d["workload"] == "api")["records"]
    assert all(r["gate"]["urn"] == gates[f"api-dns-{r['cluster']}-healthy"]["urn"] for r in records)
    assert all("gate" not in r for r in next(d for d in plan["dns"] if d["workload"] == "site")["records"])
    again = runner.invoke(app, ["plan", "pub", "--at", "2026-03-01T07:00:00Z", "--json", str(project / "q.json")])
    assert again.exit_code == 0
    assert (project / "p.json").read_bytes() == (project / "q.json").read_bytes()

"""The lab on a real network (root, iproute2, nftables; .ci/run installs them): namespaces, veth,
VXLAN, a Service DNAT and a WAN, the real probe agents, real nftables drops, and the doctor finding
them, directly and through a real Prometheus. Skipped only outside CI when the machine lacks them;
in CI a missing requirement fails. Nothing is left behind, even when ``lab up`` is interrupted."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.doctor import lab
from tests.conftest import REPO

runner = CliRunner()
WINDOW = "8"


def _unavailable() -> str | None:
    try:
        lab.check_available()
    except lab.LabUnavailable as exc:
        return str(exc)
    return None


if (reason := _unavailable()) is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"the lab tests must run in CI: {reason}")
    pytest.skip(f"lab: {reason}", allow_module_level=True)


def _leftovers() -> list[str]:
    """Every trace a lab leaves: ef-* namespaces, the ef-mgmt bridge, efm* veths, its state."""
    found = lab.existing_namespaces()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    found += [line.split(": ")[1].split("@")[0] for line in links.splitlines()
              if line.split(": ")[1].startswith(("ef-", "efm"))]  # fmt: skip
    if lab.STATE_DIR.exists():
        found.append(str(lab.STATE_DIR))
    return found


def _cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


LOCK = Path("/run/edgefleet-lab-tests.lock")
WAIT_FOR_OTHER_LAB = 600.0  # seconds


@pytest.fixture(autouse=True, scope="module")
def _state_dir() -> Iterator[None]:
    # The namespaces are the machine's (their names are the contract): one lab at a time. Another
    # test run's lab is waited for (a machine-wide lock, then its namespaces gone), never removed.
    with LOCK.open("w") as lock:
        deadline = time.monotonic() + WAIT_FOR_OTHER_LAB
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another lab test run held {LOCK} for {WAIT_FOR_OTHER_LAB:g} s")
                time.sleep(1)
        while lab.existing_namespaces():
            if time.monotonic() > deadline:
                pytest.fail("a lab is already up on this machine (ef-* namespaces): `edgefleet lab down` first")
            time.sleep(1)
        old = lab.STATE_DIR
        with tempfile.TemporaryDirectory() as tmp:
            lab.STATE_DIR = Path(tmp) / "lab"
            try:
                yield
            finally:
                lab.down()
                lab.STATE_DIR = old


def test_an_interrupted_lab_up_leaves_nothing_behind() -> None:
    env = {**os.environ, "EDGEFLEET_LAB_DIR": str(lab.STATE_DIR), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "edgefleet", "lab", "up", "--clusters", "2", "--nodes", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not lab.existing_namespaces() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lab.existing_namespaces(), "lab up made no namespace"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted; everything it made was removed" in stderr
    assert _leftovers() == []


@pytest.fixture(scope="module")
def running_lab() -> Iterator[lab.Topology]:
    code, _, stderr = _cli("lab", "up", "--clusters", "2", "--nodes", "3")
    assert code == 0, stderr
    assert "22 agents (4 of them designated WAN probes, authenticated)" in stderr
    time.sleep(5)  # the first probes (some lost to ARP) resolve, 2 s timeout, before any window
    yield lab.load_state()
    code, _, stderr = _cli("lab", "down")
    assert code == 0, stderr
    assert _leftovers() == []


def _doctor(*args: str) -> tuple[int, dict[str, object]]:
    code, stdout, stderr = _cli("doctor", *args, "--json")
    assert stdout, stderr
    return code, json.loads(stdout)


def _clear() -> None:
    assert _cli("lab", "clear")[0] == 0
    time.sleep(2.5)  # probes sent before the clear resolve (2 s timeout) before the next window


def _verdicts(doc: dict[str, object]) -> list[tuple[object, ...]]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    return [(f["layer"], f["component"], json.dumps(f["where"], sort_keys=True)) for f in findings]


def test_the_lab_has_the_contract_names(running_lab: lab.Topology) -> None:
    names = set(lab.existing_namespaces())
    for cluster in ("c1", "c2"):
        for node in ("n1", "n2", "n3"):
            assert {f"ef-{cluster}-{node}", f"ef-{cluster}-{node}-p1", f"ef-{cluster}-{node}-p2"} <= names
    vxlan = subprocess.run(["ip", "-n", "ef-c1-n1", "-d", "link", "show", "vxlan0"], capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    assert "vxlan id 1" in vxlan
    assert "dstport 4789" in vxlan


def test_a_healthy_lab_is_healthy(running_lab: lab.Topology) -> None:
    code, doc = _doctor("--lab", "--window", WINDOW)
    assert (code, doc["status"], doc["findings"]) == (0, "healthy", []), doc["problems"]
    assert [row["a"] + row["b"] for row in doc["rtt_matrix"]] == ["c1c2"]  # type: ignore[index, union-attr]


@pytest.mark.parametrize(
    ("kind", "target", "loss", "expected"),
    [
        ("uplink", "c1-n2", "10", ("physical", "node uplink", {"cluster": "c1", "node": "n2"})),
        ("mtu", "c2", "100", ("kubernetes", "MTU black hole on the overlay", {"cluster": "c2"})),
        ("veth", "c2-n3-p2", "10", ("kubernetes", "pod veth", {"cluster": "c2", "node": "n3", "pod": "p2"})),
        ("wan", "c1:c2", "10", ("physical", "WAN path", {"locations": ["c1", "c2"]})),
        # The node's link taken away 30% of every second: the kernel counts what eth0 could not send.
        ("nic", "c1-n2", "30", ("virtual", "node NIC", {"cluster": "c1", "node": "n2"})),
    ],
)
def test_a_fault_is_found_then_cleared(
    running_lab: lab.Topology, kind: str, target: str, loss: str, expected: tuple[str, str, dict[str, object]]
) -> None:
    code, _, stderr = _cli("lab", "fault", kind, target, "--loss", loss)
    assert code == 0, stderr
    try:
        code, doc = _doctor("--lab", "--window", WINDOW)
    finally:
        _clear()
    assert code == 1
    layer, component, where = expected
    assert _verdicts(doc) == [(layer, component, json.dumps(where, sort_keys=True))]
    for namespace in running_lab.namespaces():
        tables = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "tables"], capture_output=True,
                                text=True, check=True).stdout  # fmt: skip
        assert "ef-fault" not in tables, namespace
    if kind == "nic":
        assert doc["findings"][0]["figures"]["counters"]["nic_drops"] > 0  # type: ignore[index]
        link = subprocess.run(["ip", "-n", "ef-c1-fabric", "-o", "link", "show", "n2"], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
        assert "state UP" in link or ",UP" in link  # `lab clear` stopped the flapping and brought it back
        assert not (lab.STATE_DIR / "nic-faults.json").exists()


def test_a_fault_injected_by_hand_is_found(running_lab: lab.Topology) -> None:
    # What docs/doctor.md tells people to try: an nftables rule of their own in a node namespace.
    script = (
        "add table inet by-hand\n"
        "add chain inet by-hand out { type filter hook output priority 0; }\n"
        'add rule inet by-hand out oifname "eth0" udp dport 4789 numgen random mod 100 < 10 drop\n'
    )
    subprocess.run(["ip", "netns", "exec", "ef-c1-n3", "nft", "-f", "-"], input=script, text=True, check=True)
    try:
        code, doc = _doctor("--lab", "--window", WINDOW)
    finally:
        subprocess.run(["ip", "netns", "exec", "ef-c1-n3", "nft", "delete", "table", "inet", "by-hand"], check=True)
        time.sleep(2.5)
    assert code == 1
    assert _verdicts(doc) == [("kubernetes", "overlay (CNI) on a node", json.dumps({"cluster": "c1", "node": "n3"}))]


def test_lab_bad_input(running_lab: lab.Topology) -> None:
    code, _, stderr = _cli("lab", "fault", "flood", "c1")
    assert code == 2
    assert "unknown fault kind 'flood'" in stderr
    code, _, stderr = _cli("lab", "fault", "uplink", "c9-n1")
    assert code == 2
    assert "uplink takes a node" in stderr
    code, _, stderr = _cli("lab", "fault", "uplink", "c1-n1", "--loss", "0")
    assert code == 2
    assert "--loss must be more than 0" in stderr
    code, _, stderr = _cli("lab", "up")
    assert code == 2
    assert "a lab is already up" in stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_real_prometheus_gives_the_same_verdicts(running_lab: lab.Topology, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed: .ci/run installs Debian's prometheus")
        pytest.skip("prometheus is not installed (apt-get install -y prometheus)")
    targets = [a.metrics_url.removeprefix("http://").removesuffix("/metrics") for a in running_lab.agents]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
                "scrape_configs": [{"job_name": "netprobe", "static_configs": [{"targets": targets}]}],
            }
        )
    )
    port = _free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        assert _cli("lab", "fault", "service", "c1", "--loss", "10")[0] == 0
        try:
            code_lab, from_agents = _doctor("--lab", "--window", "12")
            time.sleep(2)  # the last scrape of the window lands in Prometheus
            code_prom, from_prometheus = _doctor("--prometheus", url, "--window", "12")
        finally:
            _clear()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert (code_lab, code_prom) == (1, 1)
    expected = [("kubernetes", "service path", json.dumps({"cluster": "c1"}))]
    assert _verdicts(from_agents) == _verdicts(from_prometheus) == expected
    assert from_prometheus["source"] == "prometheus"


def test_lab_down_leaves_nothing_behind(running_lab: lab.Topology) -> None:
    assert lab.down()  # what the fixture's `lab down` will find already gone
    assert _leftovers() == []
    code, _, stderr = _cli("lab", "down")
    assert code == 0
    assert "nothing was up" in stderr

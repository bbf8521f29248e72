"""A real network in Linux network namespaces, to rehearse a diagnosis without a cloud (``edgefleet lab``).

Per cluster ``c<i>``: a fabric namespace ``ef-c<i>-fabric`` (two zone bridges ``za`` and ``zb``, routed
between each other: the zone link; and an uplink to the WAN), ``M`` node namespaces ``ef-c<i>-n<j>``
(``eth0`` on their zone's bridge; a VXLAN overlay ``vxlan0`` to every other node, flannel style; a
``cni0`` bridge for their pods; an nftables DNAT for the Service address, as kube-proxy's nftables
mode does) and two pod namespaces per node, ``ef-c<i>-n<j>-p<k>`` (``eth0``, a veth on ``cni0``).
``ef-wan`` routes between the clusters' fabrics. The real probe agent (``python -m netprobe``) runs
in every node and pod namespace; each of those has a second interface, ``mgmt0``, on the bridge
``ef-mgmt`` in the root namespace, through which the doctor (and Prometheus) scrape the agents.
The designated nodes (``n1``, ``n2``) also run a WAN agent, as real clusters run the designated
probes behind their load balancers: the real agent, answering only authenticated probes on port
9797 (metrics on 9796). Each lab cluster is keyed as a slice of its own would be (a sliced fleet,
one stack per region): its own key (``wan-<cluster>.key`` in the state directory) to sign with,
and the other clusters' keys answered (``peer_key_files``), so every WAN probe crosses keys.

Faults are nftables rules in a table ``inet ef-fault`` of the namespace concerned (``numgen random``
drops: real packets, really lost). ``edgefleet lab down`` (and an interrupted ``lab up``) stops the
agents and deletes every ``ef-*`` namespace and the ``ef-mgmt`` bridge: nothing is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

STATE_DIR = Path(os.environ.get("EDGEFLEET_LAB_DIR", "/run/edgefleet-lab"))
PREFIX = "ef-"
MGMT_BRIDGE = "ef-mgmt"
MGMT_GATEWAY = "10.250.0.1"
WAN_NS = "ef-wan"
PROBE_PORT = 9798
METRICS_PORT = 9799
WAN_PORT = 9797  # the designated WAN agents' probe port (authenticated)
WAN_METRICS_PORT = 9796
LARGE_PROBE = 1400  # IP bytes: fits the 1450-byte overlay MTU; 1478 with VXLAN's 50 bytes on the wire
OVERLAY_MTU = 1450
PODS_PER_NODE = 2
DESIGNATED = 2  # nodes per cluster that probe the other locations over the WAN
MAX_CLUSTERS = 8
MAX_NODES = 8
REQUIREMENTS = ("ip", "nft", "bridge")
# Where the lab's clusters "are", for the RTT matrix's model estimate (lat, lon).
LOCATIONS = (
    ("Frankfurt", 50.11, 8.68), ("Paris", 48.86, 2.35), ("Amsterdam", 52.37, 4.90), ("Warsaw", 52.23, 21.01),
    ("Madrid", 40.42, -3.70), ("Milan", 45.46, 9.19), ("Stockholm", 59.33, 18.07), ("Vienna", 48.21, 16.37),
)  # fmt: skip
FAULT_KINDS = ("uplink", "zone", "overlay", "mtu", "veth", "service", "wan", "nic")
NIC_PERIOD = 1.0  # seconds: a `nic` fault takes the node's link away for loss% of each period


class LabError(Exception):
    """The lab cannot do what was asked (one line: what, and what to do)."""


class LabUnavailable(LabError):
    """Not root, or iproute2 / nftables missing."""


@dataclass(frozen=True)
class Agent:
    """One probe agent of the lab: its namespace, identity, addresses and config."""

    namespace: str
    cluster: str
    node: str
    zone: str
    pod: str
    address: str  # the data-plane address its responder answers on
    mgmt: str  # where its metrics are scraped
    targets: tuple[dict[str, Any], ...] = ()
    role: str = ""  # "wan": a designated WAN agent (authenticated, its own ports) in a node's namespace

    @property
    def metrics_url(self) -> str:
        return f"http://{self.mgmt}:{WAN_METRICS_PORT if self.role == 'wan' else METRICS_PORT}/metrics"

    @property
    def process(self) -> str:
        """A name per agent process: its files in the state directory."""
        return f"{self.namespace}-{self.role}" if self.role else self.namespace


@dataclass(frozen=True)
class Topology:
    """Names and addresses of a lab (pure: ``topology`` builds it without touching the system)."""

    clusters: tuple[str, ...]
    nodes: int
    rate: float
    agents: tuple[Agent, ...]
    zones: dict[str, dict[str, str]] = field(default_factory=dict)  # cluster -> node -> zone
    locations: dict[str, tuple[str, float, float]] = field(default_factory=dict)

    def namespaces(self) -> list[str]:
        names = [WAN_NS]
        for c in self.clusters:
            names.append(f"{PREFIX}{c}-fabric")
        names += [a.namespace for a in self.agents if not a.role]
        return names

    def node_namespaces(self, cluster: str) -> list[str]:
        return [a.namespace for a in self.agents if a.cluster == cluster and not a.pod and not a.role]


def zone_of(node: int) -> str:
    """Nodes alternate between zones a and b: n1, n3... in a; n2, n4... in b."""
    return "a" if node % 2 else "b"


def node_ip(cluster: int, node: int) -> str:
    return f"10.{cluster}.{1 if zone_of(node) == 'a' else 2}.{node}"


def pod_ip(cluster: int, node: int, pod: int) -> str:
    return f"10.{100 + cluster}.{node}.{10 + pod}"


def service_ip(cluster: int) -> str:
    return f"10.{200 + cluster}.0.10"


def mgmt_ip(cluster: int, node: int, pod: int) -> str:
    return f"10.250.{cluster}.{node * 10 + pod}"


def topology(clusters: int = 2, nodes: int = 3, rate: float = 25.0) -> Topology:
    """The lab's layout: ``clusters`` clusters ``c1``... of ``nodes`` nodes ``n1``..., two pods each."""
    if not 1 <= clusters <= MAX_CLUSTERS:
        raise LabError(f"--clusters must be 1-{MAX_CLUSTERS}, got {clusters}")
    if not 2 <= nodes <= MAX_NODES:
        raise LabError(f"--nodes must be 2-{MAX_NODES} (a node needs a peer), got {nodes}")
    if not 1 <= rate <= 200:
        raise LabError(f"--rate must be 1-200 probes per second per stream, got {rate}")
    names = tuple(f"c{i}" for i in range(1, clusters + 1))
    agents: list[Agent] = []
    for i, cluster in enumerate(names, 1):
        for j in range(1, nodes + 1):
            here = {"cluster": cluster, "node": f"n{j}", "zone": zone_of(j)}
            host: list[dict[str, Any]] = []
            for k in range(1, nodes + 1):
                if k != j:
                    peer = {"cluster": cluster, "node": f"n{k}", "zone": zone_of(k), "pod": ""}
                    for size in (64, LARGE_PROBE):
                        host.append({"address": f"{node_ip(i, k)}:{PROBE_PORT}", "path": "host", "size": size,
                                     "destination": peer})  # fmt: skip
            wan: list[dict[str, Any]] = []
            if j <= DESIGNATED:
                for other, other_name in enumerate(names, 1):
                    if other == i:
                        continue
                    for k in range(1, min(DESIGNATED, nodes) + 1):
                        peer = {"cluster": other_name, "node": f"n{k}", "zone": zone_of(k), "pod": ""}
                        wan.append({"address": f"{node_ip(other, k)}:{WAN_PORT}", "path": "wan", "size": 64,
                                    "destination": peer})  # fmt: skip
            agents.append(
                Agent(f"{PREFIX}{cluster}-n{j}", cluster, f"n{j}", here["zone"], "", node_ip(i, j), mgmt_ip(i, j, 0),
                      tuple(host))
            )
            if wan and len(names) > 1:
                agents.append(
                    Agent(f"{PREFIX}{cluster}-n{j}", cluster, f"n{j}", here["zone"], "", node_ip(i, j),
                          mgmt_ip(i, j, 0), tuple(wan), role="wan")
                )  # fmt: skip
            for p in range(1, PODS_PER_NODE + 1):
                targets: list[dict[str, Any]] = []
                for q in range(1, PODS_PER_NODE + 1):
                    if q != p and (p == 1 or q == 1):
                        peer = {"cluster": cluster, "node": f"n{j}", "zone": zone_of(j), "pod": f"p{q}"}
                        targets.append({"address": f"{pod_ip(i, j, q)}:{PROBE_PORT}", "path": "pod-same-node",
                                        "size": 64, "destination": peer})  # fmt: skip
                # Every pod probes the same pod number on every other node: the overlay on a node is
                # then seen through both its pods, one pod's veth through that pod only.
                for k in range(1, nodes + 1):
                    if k == j:
                        continue
                    peer = {"cluster": cluster, "node": f"n{k}", "zone": zone_of(k), "pod": f"p{p}"}
                    for size in (64, LARGE_PROBE) if p == 1 else (64,):
                        targets.append({"address": f"{pod_ip(i, k, p)}:{PROBE_PORT}", "path": "pod-cross-node",
                                        "size": size, "destination": peer})  # fmt: skip
                service = {"cluster": cluster, "node": "", "zone": "", "pod": ""}
                targets.append({"address": f"{service_ip(i)}:{PROBE_PORT}", "path": "service", "size": 64,
                                "destination": service})  # fmt: skip
                agents.append(
                    Agent(f"{PREFIX}{cluster}-n{j}-p{p}", cluster, f"n{j}", zone_of(j), f"p{p}", pod_ip(i, j, p),
                          mgmt_ip(i, j, p), tuple(targets))
                )
    zones = {c: {f"n{j}": zone_of(j) for j in range(1, nodes + 1)} for c in names}
    locations = {c: LOCATIONS[i] for i, c in enumerate(names)}
    return Topology(names, nodes, rate, tuple(agents), zones, locations)


def agent_config(agent: Agent, rate: float, keys: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """The JSON config ``python -m netprobe`` reads in ``agent``'s namespace; a WAN agent's with
    its cluster's key and the other clusters' (``keys``: cluster -> key file), as each slice of a
    sliced fleet has its own: it answers and takes authenticated probes only."""
    wan = agent.role == "wan"
    config: dict[str, Any] = {
        "identity": {"cluster": agent.cluster, "node": agent.node, "zone": agent.zone, "pod": agent.pod},
        "listen": f"0.0.0.0:{WAN_PORT if wan else PROBE_PORT}",
        "metrics": f"0.0.0.0:{WAN_METRICS_PORT if wan else METRICS_PORT}",
        "rate": rate,
        "timeout": 2.0,
        "window": 30.0,
        "targets": list(agent.targets),
        "counters": {"nic": [] if agent.pod or wan else ["eth0"], "conntrack": not agent.pod and not wan},
    }
    if wan:
        keys = keys or {agent.cluster: STATE_DIR / f"wan-{agent.cluster}.key"}
        config["key_file"] = str(keys[agent.cluster])
        config["peer_key_files"] = [str(keys[c]) for c in sorted(keys) if c != agent.cluster]
    return config


# ----------------------------------------------------------------------------------------------
# The system: every command the lab runs goes through ``_run``


Runner = Callable[[Sequence[str]], str]


def _run(args: Sequence[str], *, check: bool = True, stdin: str | None = None) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, input=stdin, check=False, timeout=60)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise LabError(f"`{' '.join(args)}` failed: {detail[-1] if detail else f'exit {result.returncode}'}")
    return result.stdout


def _ns(namespace: str, *args: str, check: bool = True) -> str:
    return _run(["ip", "netns", "exec", namespace, *args], check=check)


def _ip_batch(lines: Sequence[str], namespace: str | None = None) -> None:
    command = ["ip", "-batch", "-"] if namespace is None else ["ip", "-n", namespace, "-batch", "-"]
    _run(command, stdin="\n".join(lines) + "\n")


def _nft(namespace: str, script: str) -> None:
    _run(["ip", "netns", "exec", namespace, "nft", "-f", "-"], stdin=script)


def check_available() -> None:
    """Root, iproute2 and nftables, or ``LabUnavailable`` saying what to install."""
    if os.geteuid() != 0:
        raise LabUnavailable("the lab needs root (network namespaces, nftables); run it as root")
    missing = [tool for tool in REQUIREMENTS if shutil.which(tool) is None]
    if missing:
        raise LabUnavailable(
            f"the lab needs {', '.join(missing)}: install them with `apt-get install -y iproute2 nftables`"
        )


def existing_namespaces() -> list[str]:
    """Every ``ef-*`` network namespace on this machine."""
    out = _run(["ip", "netns", "list"], check=False)
    return sorted(line.split()[0] for line in out.splitlines() if line.startswith(PREFIX))


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def _root_links() -> list[str]:
    """The lab's links in the root namespace: the ``ef-mgmt`` bridge and the ``efm*`` veth ends."""
    out = _run(["ip", "-o", "link", "show"], check=False)
    names = [line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line]
    return sorted(n for n in names if n == MGMT_BRIDGE or n.startswith("efm"))


def state_file() -> Path:
    return STATE_DIR / "state.json"


def load_state() -> Topology:
    """The running lab's topology, or ``LabError`` when no lab is up."""
    path = state_file()
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError("no lab is up: start one with `edgefleet lab up`") from None
    except (OSError, ValueError) as exc:
        raise LabError(f"{path}: unreadable lab state ({exc}); `edgefleet lab down` removes it") from None
    try:
        agents = tuple(Agent(**{**a, "targets": tuple(a["targets"])}) for a in raw["agents"])
        locations = {k: (v[0], float(v[1]), float(v[2])) for k, v in raw["locations"].items()}
        return Topology(tuple(raw["clusters"]), raw["nodes"], raw["rate"], agents, raw["zones"], locations)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise LabError(f"{path}: unreadable lab state ({exc!r}); `edgefleet lab down` removes it") from None


def _save_state(topo: Topology, pids: dict[str, int]) -> None:
    raw = asdict(topo)
    raw["pids"] = pids
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(raw, indent=1, sort_keys=True))
    tmp.replace(state_file())


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM and SIGHUP become KeyboardInterrupt while the lab is built, so it is torn down."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def up(topo: Topology, progress: Callable[[str], None] = lambda _: None) -> None:
    """Build the lab and start its agents; on any failure or interruption, tear it all down."""
    check_available()
    if existing_namespaces() or state_file().exists() or _link_exists(MGMT_BRIDGE):
        raise LabError("a lab is already up (ef-* namespaces exist); `edgefleet lab down` first")
    with _interruptible():
        try:
            progress("namespaces and links")
            _build(topo)
            progress(f"starting {len(topo.agents)} probe agents")
            pids = _start_agents(topo)
            _save_state(topo, pids)
        except BaseException:
            down()
            raise


def _build(topo: Topology) -> None:
    for ns in topo.namespaces():
        _run(["ip", "netns", "add", ns])
    root = [f"link add {MGMT_BRIDGE} type bridge", f"addr add {MGMT_GATEWAY}/16 dev {MGMT_BRIDGE}",
            f"link set {MGMT_BRIDGE} up"]  # fmt: skip
    wan = ["link set lo up"]
    sysctl = ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
              "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0"]  # fmt: skip
    for i, cluster in enumerate(topo.clusters, 1):
        fabric = f"{PREFIX}{cluster}-fabric"
        lines = ["link set lo up", "link add za type bridge", "link add zb type bridge",
                 f"addr add 10.{i}.1.254/24 dev za", f"addr add 10.{i}.2.254/24 dev zb",
                 "link set za up", "link set zb up",
                 f"link add wan0 type veth peer name {cluster} netns {WAN_NS}",
                 f"addr add 10.255.{i}.2/24 dev wan0", "link set wan0 up",
                 f"route add default via 10.255.{i}.1"]  # fmt: skip
        wan += [f"addr add 10.255.{i}.1/24 dev {cluster}", f"link set {cluster} up",
                f"route add 10.{i}.0.0/16 via 10.255.{i}.2"]  # fmt: skip
        _ip_batch(lines, fabric)
        for j in range(1, topo.nodes + 1):
            node = f"{PREFIX}{cluster}-n{j}"
            zone_bridge = "za" if zone_of(j) == "a" else "zb"
            gateway = f"10.{i}.{1 if zone_of(j) == 'a' else 2}.254"
            _ip_batch([f"link add n{j} type veth peer name eth0 netns {node}", f"link set n{j} master {zone_bridge}",
                       f"link set n{j} up"], fabric)  # fmt: skip
            mac = f"02:ef:{i:02x}:{j:02x}:00:00"
            node_lines = ["link set lo up", f"addr add {node_ip(i, j)}/24 dev eth0", "link set eth0 up",
                          f"route add default via {gateway}",
                          f"link add vxlan0 address {mac} mtu {OVERLAY_MTU} type vxlan id 1 dstport 4789 "
                          f"local {node_ip(i, j)} dev eth0 nolearning",
                          f"addr add 10.{100 + i}.{j}.0/32 dev vxlan0", "link set vxlan0 up",
                          f"link add cni0 mtu {OVERLAY_MTU} type bridge",
                          f"addr add 10.{100 + i}.{j}.1/24 dev cni0", "link set cni0 up"]  # fmt: skip
            for k in range(1, topo.nodes + 1):
                if k == j:
                    continue
                peer_mac = f"02:ef:{i:02x}:{k:02x}:00:00"
                node_lines += [f"neigh add 10.{100 + i}.{k}.0 lladdr {peer_mac} dev vxlan0 nud permanent",
                               f"route add 10.{100 + i}.{k}.0/24 via 10.{100 + i}.{k}.0 dev vxlan0 onlink"]  # fmt: skip
            _ip_batch(node_lines, node)
            fdb = [f"fdb append 02:ef:{i:02x}:{k:02x}:00:00 dev vxlan0 dst {node_ip(i, k)}"
                   for k in range(1, topo.nodes + 1) if k != j]  # fmt: skip
            _run(["bridge", "-n", node, "-batch", "-"], stdin="\n".join(fdb) + "\n")
            _ns(node, "sysctl", "-qw", *sysctl)
            for p in range(1, PODS_PER_NODE + 1):
                pod = f"{node}-p{p}"
                _ip_batch([f"link add vp{p} mtu {OVERLAY_MTU} type veth peer name eth0 netns {pod}",
                           f"link set vp{p} master cni0", f"link set vp{p} up"], node)  # fmt: skip
                _ip_batch(["link set lo up", f"addr add {pod_ip(i, j, p)}/24 dev eth0",
                           f"link set eth0 mtu {OVERLAY_MTU} up",
                           f"route add default via 10.{100 + i}.{j}.1"], pod)  # fmt: skip
            _service(topo, i, node)
        _ns(fabric, "sysctl", "-qw", *sysctl)
    _ns(WAN_NS, "sysctl", "-qw", *sysctl)
    _ip_batch(wan, WAN_NS)
    _ip_batch(root)
    for agent in topo.agents:
        if agent.role:
            continue  # scraped through its node's mgmt0
        short = "efm" + agent.namespace.removeprefix(PREFIX).replace("-", "")
        _ip_batch([f"link add {short[:15]} type veth peer name mgmt0 netns {agent.namespace}",
                   f"link set {short[:15]} master {MGMT_BRIDGE}", f"link set {short[:15]} up"])  # fmt: skip
        _ip_batch([f"addr add {agent.mgmt}/16 dev mgmt0", "link set mgmt0 up"], agent.namespace)


def _service(topo: Topology, i: int, node_ns: str) -> None:
    """The Service address: DNAT to every node's first pod, round robin (kube-proxy's nftables mode)."""
    backends = ", ".join(f"{j - 1} : {pod_ip(i, j, 1)}" for j in range(1, topo.nodes + 1))
    _nft(
        node_ns,
        f"""table ip ef-service {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr {service_ip(i)} udp dport {PROBE_PORT} dnat to numgen inc mod {topo.nodes} map {{ {backends} }}
  }}
}}
""",
    )


def _start_agents(topo: Topology) -> dict[str, int]:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    source = str(Path(__file__).resolve().parents[2])  # the checkout: netprobe is importable from it
    pids: dict[str, int] = {}
    ready: dict[str, Path] = {}
    # Each cluster's WAN key, as each slice generates one: random, readable by root alone.
    keys = {cluster: STATE_DIR / f"wan-{cluster}.key" for cluster in topo.clusters}
    for key_file in keys.values():
        key_file.touch(mode=0o600)
        key_file.write_text(os.urandom(32).hex() + "\n")
    for agent in topo.agents:
        config = STATE_DIR / f"{agent.process}.json"
        config.write_text(json.dumps(agent_config(agent, topo.rate, keys), indent=1))
        ready[agent.process] = STATE_DIR / f"{agent.process}.ready"
        ready[agent.process].unlink(missing_ok=True)
        # Detached (a shell starts it in the background and exits): the agent outlives this command.
        started = subprocess.run(
            ["sh", "-c", 'log="$1"; shift; setsid "$@" >"$log" 2>&1 </dev/null & echo $!', "sh",
             str(STATE_DIR / f"{agent.process}.log"), "ip", "netns", "exec", agent.namespace, sys.executable,
             "-m", "edgefleet.netprobe", "--config", str(config), "--ready-file", str(ready[agent.process])],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": source},
        )
        pids[agent.process] = int(started.stdout.strip())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        waiting = [ns for ns, path in ready.items() if not path.exists()]
        if not waiting:
            return pids
        time.sleep(0.2)
    raise LabError(f"{len(waiting)} probe agent(s) did not start, e.g. {waiting[0]}: see {STATE_DIR}/{waiting[0]}.log")


def down() -> list[str]:
    """Stop every agent in an ``ef-*`` namespace and delete the namespaces, the management bridge
    and the state; what was removed. Safe to run when nothing is up."""
    removed = []
    namespaces = existing_namespaces()
    for ns in namespaces:
        for pid in _run(["ip", "netns", "pids", ns], check=False).split():
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    for ns in namespaces:
        deadline = time.monotonic() + 5
        while _run(["ip", "netns", "pids", ns], check=False).strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        _run(["ip", "netns", "del", ns], check=False)
        removed.append(ns)
    # A namespace is destroyed asynchronously by the kernel; its management veth's root end goes
    # with it, later. Delete those ends now, so nothing is left when this returns.
    for link in _root_links():
        _run(["ip", "link", "del", link], check=False)
        if link == MGMT_BRIDGE:
            removed.append(MGMT_BRIDGE)
    if STATE_DIR.exists():
        shutil.rmtree(STATE_DIR, ignore_errors=True)
    return removed


# ----------------------------------------------------------------------------------------------
# Faults


@dataclass(frozen=True)
class Fault:
    """What a ``lab fault`` did: the kind, the target, the loss, and the rule per namespace."""

    kind: str
    target: str
    loss: float
    rules: tuple[tuple[str, str], ...]  # (namespace, nft script)
    flap: tuple[str, str] | None = None  # (namespace, link): a `nic` fault takes this link down


def _drop(loss: float) -> str:
    """Drop ``loss`` percent at random (in steps of 0.01%); every packet at 100%."""
    if loss >= 100:
        return "drop"
    return f"numgen random mod 10000 < {round(loss * 100)} drop"


def fault_rules(topo: Topology, kind: str, target: str, loss: float) -> Fault:
    """The nftables rules for a fault (pure; ``inject`` applies them). ``target``: a node
    (``c1-n2``) for uplink and overlay, a pod (``c1-n2-p1``) for veth, a cluster (``c1``) for
    zone, mtu and service, two clusters (``c1:c2``) for wan."""
    if kind not in FAULT_KINDS:
        raise LabError(f"unknown fault kind {kind!r}; one of: {', '.join(FAULT_KINDS)}")
    if not 0 < loss <= 100:
        raise LabError(f"--loss must be more than 0 and at most 100 (percent), got {loss:g}")
    clusters = set(topo.clusters)
    nodes = {f"{a.cluster}-{a.node}" for a in topo.agents if not a.pod}
    pods = {f"{a.cluster}-{a.node}-{a.pod}" for a in topo.agents if a.pod}

    def table(chains: str) -> str:
        return f"table inet ef-fault {{\n{chains}}}\n"

    def chain(name: str, hook: str, priority: str, rules: Sequence[str]) -> str:
        body = "".join(f"    {r}\n" for r in rules)
        return f"  chain {name} {{\n    type filter hook {hook} priority {priority}; policy accept;\n{body}  }}\n"

    drop = _drop(loss)
    rules: tuple[tuple[str, str], ...]
    if kind == "nic":
        # The far end of the node's NIC goes away (the fabric's side of its veth is set down) for
        # loss% of every second: what the node sends meanwhile the kernel drops and counts in
        # eth0's tx_dropped, as a VM's virtual NIC counts what it drops.
        if target not in nodes:
            raise LabError(f"nic takes a node ({', '.join(sorted(nodes)[:4])}, ...), got {target!r}")
        cluster, _, node = target.partition("-")
        return Fault(kind, target, loss, (), flap=(f"{PREFIX}{cluster}-fabric", node))
    if kind in ("uplink", "overlay"):
        if target not in nodes:
            raise LabError(f"{kind} takes a node ({', '.join(sorted(nodes)[:4])}, ...), got {target!r}")
        match = 'oifname "eth0"' if kind == "uplink" else 'oifname "eth0" udp dport 4789'
        rules = ((f"{PREFIX}{target}", table(chain(f"{kind}", "output", "0", [f"{match} {drop}"]))),)
    elif kind == "veth":
        if target not in pods:
            raise LabError(f"veth takes a pod ({', '.join(sorted(pods)[:4])}, ...), got {target!r}")
        rules = ((f"{PREFIX}{target}", table(chain("veth", "output", "0", [f'oifname "eth0" {drop}']))),)
    elif kind == "wan":
        a, _, b = target.partition(":")
        if a not in clusters or b not in clusters or a == b:
            raise LabError(f"wan takes two clusters as A:B ({':'.join(topo.clusters[:2])}), got {target!r}")
        rules = (
            (WAN_NS, table(chain("wan", "forward", "0",
                                 [f'iifname "{a}" oifname "{b}" {drop}', f'iifname "{b}" oifname "{a}" {drop}']))),
        )  # fmt: skip
    else:
        if target not in clusters:
            raise LabError(f"{kind} takes a cluster ({', '.join(topo.clusters)}), got {target!r}")
        i = topo.clusters.index(target) + 1
        if kind == "zone":
            rules = (
                (f"{PREFIX}{target}-fabric", table(chain("zone", "forward", "0",
                 [f'iifname "za" oifname "zb" {drop}', f'iifname "zb" oifname "za" {drop}']))),
            )  # fmt: skip
        elif kind == "mtu":
            # An MTU black hole: encapsulated packets longer than 1400 bytes vanish, no ICMP comes back.
            script = table(chain("mtu", "output", "0", [f'oifname "eth0" udp dport 4789 meta length > 1400 {drop}']))
            rules = tuple((ns, script) for ns in topo.node_namespaces(target))
        else:  # service: drop on the way to the Service address, before its DNAT
            script = table(
                chain("service", "prerouting", "-300", [f"ip daddr {service_ip(i)} udp dport {PROBE_PORT} {drop}"])
            )
            rules = tuple((ns, script) for ns in topo.node_namespaces(target))
    return Fault(kind, target, loss, rules)


def _flaps() -> Path:
    return STATE_DIR / "nic-faults.json"


def _stop_flaps() -> int:
    """Stop every `nic` fault: its flapping process, then its link back up; how many there were."""
    try:
        flaps = json.loads(_flaps().read_text())
    except (OSError, ValueError):
        return 0
    for item in flaps:
        namespace, link, pid = str(item["namespace"]), str(item["link"]), int(item["pid"])
        if pid and str(pid) in _run(["ip", "netns", "pids", namespace], check=False).split():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)  # an `ip link set down` it had started finishes before the link comes back
        _ip_batch([f"link set {link} up"], namespace)
    _flaps().unlink(missing_ok=True)
    return len(flaps)


def inject(fault: Fault) -> None:
    """Add a fault's rules (a second fault in the same namespace replaces the first there)."""
    if fault.flap is not None:
        namespace, link = fault.flap
        _stop_flaps()
        pid = 0
        if fault.loss >= 100:
            _ip_batch([f"link set {link} down"], namespace)
        else:
            down = round(NIC_PERIOD * fault.loss / 100, 3)
            up = round(NIC_PERIOD - down, 3)
            loop = f"while :; do ip link set {link} down; sleep {down}; ip link set {link} up; sleep {up}; done"
            started = subprocess.run(
                ["sh", "-c", 'setsid "$@" >/dev/null 2>&1 </dev/null & echo $!', "sh",
                 "ip", "netns", "exec", namespace, "sh", "-c", loop],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            pid = int(started.stdout.strip())
        _flaps().write_text(json.dumps([{"namespace": namespace, "link": link, "pid": pid}]))
    for namespace, script in fault.rules:
        _ns(namespace, "nft", "delete", "table", "inet", "ef-fault", check=False)
        _nft(namespace, script)


def clear(topo: Topology) -> int:
    """Remove every fault rule (and stop a `nic` fault); how many namespaces had one."""
    cleared = _stop_flaps()
    for ns in topo.namespaces():
        out = _ns(ns, "nft", "list", "tables", check=False)
        if "ef-fault" in out:
            _ns(ns, "nft", "delete", "table", "inet", "ef-fault")
            cleared += 1
    return cleared

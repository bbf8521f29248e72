"""The probe agent: a UDP echo responder, a sequenced prober and a Prometheus exporter in one process.

Wire format (big-endian): ``EFP1``, kind (0 request, 1 reply), stream id (u32), sequence (u64), send
time (f64, the sender's monotonic clock), then for a reply the responder's identity
(``cluster|node|zone|pod``, length-prefixed), padded to the request's size. A reply has the size of
its request, so a near-MTU probe tests both directions.

Loss is counted per stream (one target, one packet size): a probe is *resolved* when its reply comes
back or when ``timeout`` seconds have passed without one (lost). ``netprobe_probes_total`` counts
resolved probes and ``netprobe_probes_lost_total`` the lost ones, so ``increase(lost) /
increase(probes)`` over any window is the loss rate in that window. Every probe carries the
don't-fragment bit (``IP_PMTUDISC_PROBE``: DF set, the cached path MTU ignored, so a near-MTU probe
keeps its size when an MTU black hole drops it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

VERSION = "0.1.0"
MAGIC = b"EFP1"
HEADER = struct.Struct("!4sBIQd")
REQUEST, REPLY = 0, 1
MIN_SIZE = HEADER.size + 2  # the smallest probe that still carries a (possibly empty) identity
MAX_SIZE = 9000
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_PROBE = getattr(socket, "IP_PMTUDISC_PROBE", 3)
QUANTILES = (0.5, 0.9, 0.99)
# A UDP probe's IP and UDP headers: ``size`` in the config is the IP packet's length.
IP_UDP_OVERHEAD = 28


class ConfigError(ValueError):
    """The agent's config file is unusable (one line, naming the field)."""


@dataclass(frozen=True)
class Identity:
    """Where an agent runs. ``pod`` is empty for the host-network agent."""

    cluster: str
    node: str
    zone: str = ""
    pod: str = ""

    def encode(self) -> bytes:
        return "|".join((self.cluster, self.node, self.zone, self.pod)).encode()

    @staticmethod
    def decode(raw: bytes) -> Identity | None:
        parts = raw.decode(errors="replace").split("|")
        if len(parts) != 4:
            return None
        return Identity(*parts)


@dataclass(frozen=True)
class Target:
    """One stream: an address, a path label (``host``, ``pod``, ``service``, ``wan``...) and the IP
    packet size. ``destination`` is known up front (the lab), or learnt from the first reply."""

    address: str
    port: int
    path: str
    size: int
    destination: Identity | None = None


@dataclass(frozen=True)
class Discovery:
    """Peers found by DNS: every address of ``name`` (a headless Service) but the agent's own."""

    name: str
    port: int
    path: str
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class AgentConfig:
    """Everything an agent needs, read from one JSON file (``load_config``)."""

    identity: Identity
    listen: tuple[str, int] = ("0.0.0.0", 9798)
    metrics: tuple[str, int] = ("0.0.0.0", 9799)
    rate: float = 20.0  # probes per second per stream
    timeout: float = 2.0  # seconds before an unanswered probe counts as lost
    window: float = 60.0  # seconds of RTT samples behind the quantiles
    targets: tuple[Target, ...] = ()
    discover: tuple[Discovery, ...] = ()
    nic_devices: tuple[str, ...] = ()
    ethtool: bool = False
    conntrack: bool = False
    own_addresses: tuple[str, ...] = ()


def _address(value: object, where: str, *, listen: bool = False) -> tuple[str, int]:
    """``HOST:PORT``; a listening address may take port 0 (any free port)."""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{where}: expected HOST:PORT, got {value!r}")
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not (0 if listen else 1) <= int(port) < 65536:
        raise ConfigError(f"{where}: port must be 1-65535, got {port!r}")
    return host.strip("[]"), int(port)


def _identity(value: object, where: str, *, node: bool = True) -> Identity:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping with cluster, node, zone, pod")
    fields = {}
    for key in ("cluster", "node", "zone", "pod"):
        item = value.get(key, "")
        if not isinstance(item, str) or "|" in item:
            raise ConfigError(f"{where}.{key}: expected a string without '|'")
        fields[key] = item
    if not fields["cluster"] or (node and not fields["node"]):
        raise ConfigError(f"{where}: cluster and node are required")
    return Identity(**fields)


def _size(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_SIZE + IP_UDP_OVERHEAD <= value <= MAX_SIZE:
        raise ConfigError(f"{where}: packet size must be an integer {MIN_SIZE + IP_UDP_OVERHEAD}-{MAX_SIZE}")
    return value


def _number(raw: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = raw.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{key}: expected a number {low}-{high}, got {value!r}")
    return float(value)


def parse_config(raw: object) -> AgentConfig:
    """An ``AgentConfig`` from the decoded JSON; ``ConfigError`` names the first bad field."""
    if not isinstance(raw, Mapping):
        raise ConfigError("the config must be a JSON object")
    unknown = set(raw) - {
        "identity", "listen", "metrics", "rate", "timeout", "window", "targets", "discover", "counters",
    }  # fmt: skip
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(sorted(unknown))}")
    targets = []
    for i, item in enumerate(raw.get("targets", [])):
        where = f"targets[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: expected a mapping")
        host, port = _address(item.get("address"), f"{where}.address")
        path = item.get("path")
        if not isinstance(path, str) or not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", path):
            raise ConfigError(f"{where}.path: expected a lower-case label such as host, pod, service, wan")
        destination = item.get("destination")
        targets.append(
            Target(
                address=host,
                port=port,
                path=path,
                size=_size(item.get("size"), f"{where}.size"),
                destination=None if destination is None else _identity(destination, f"{where}.destination", node=False),
            )
        )
    discover = []
    for i, item in enumerate(raw.get("discover", [])):
        where = f"discover[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{where}: expected a mapping with name, port, path, sizes")
        port = item.get("port", 9798)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{where}.port: expected 1-65535")
        sizes = tuple(_size(s, f"{where}.sizes") for s in item.get("sizes", [64]))
        discover.append(Discovery(name=item["name"], port=port, path=str(item.get("path", "pod")), sizes=sizes))
    counters = raw.get("counters", {})
    if not isinstance(counters, Mapping):
        raise ConfigError("counters: expected a mapping")
    devices = counters.get("nic", [])
    if not isinstance(devices, list) or not all(isinstance(d, str) and "/" not in d for d in devices):
        raise ConfigError("counters.nic: expected a list of interface names")
    return AgentConfig(
        identity=_identity(raw.get("identity"), "identity"),
        listen=_address(raw.get("listen", "0.0.0.0:9798"), "listen", listen=True),
        metrics=_address(raw.get("metrics", "0.0.0.0:9799"), "metrics", listen=True),
        rate=_number(raw, "rate", 20.0, 0.1, 1000.0),
        timeout=_number(raw, "timeout", 2.0, 0.05, 60.0),
        window=_number(raw, "window", 60.0, 1.0, 3600.0),
        targets=tuple(targets),
        discover=tuple(discover),
        nic_devices=tuple(devices),
        ethtool=bool(counters.get("ethtool", False)),
        conntrack=bool(counters.get("conntrack", False)),
    )


def load_config(path: Path) -> AgentConfig:
    """Read and check the agent's JSON config file."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(raw)


METADATA = "http://169.254.169.254"
GCP_METADATA = "http://metadata.google.internal"


def _http(method: str, url: str, headers: Mapping[str, str], timeout: float = 1.0) -> str:
    import urllib.request  # noqa: PLC0415  only the host agent asks, once, at start

    request = urllib.request.Request(url, method=method, headers=dict(headers))
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read(4096)
    return body.decode().strip()


Fetch = Callable[[str, str, Mapping[str, str]], str]


def zone_from_metadata(fetch: Fetch = _http, aws: str = METADATA, gcp: str = GCP_METADATA) -> str:
    """The node's zone from its cloud's instance metadata (the host agent runs on the host
    network, where it is reachable): AWS (IMDSv2), GCP, Azure; "" when none answers."""
    try:
        token = fetch("PUT", f"{aws}/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        return fetch("GET", f"{aws}/latest/meta-data/placement/availability-zone", {"X-aws-ec2-metadata-token": token})
    except (OSError, ValueError):
        pass
    try:  # projects/123/zones/europe-west3-a
        return fetch("GET", f"{gcp}/computeMetadata/v1/instance/zone", {"Metadata-Flavor": "Google"}).rsplit("/", 1)[-1]
    except (OSError, ValueError):
        pass
    try:  # "1", "2", "3" (or "" in a region without zones)
        url = f"{aws}/metadata/instance/compute/zone?api-version=2021-02-01&format=text"
        return fetch("GET", url, {"Metadata": "true"})
    except (OSError, ValueError):
        return ""


def config_from_env(env: Mapping[str, str]) -> AgentConfig:
    """The Kubernetes form: identity from the Downward API, peers from headless Services.

    ``NETPROBE_CLUSTER``, ``NETPROBE_NODE`` (spec.nodeName), ``NETPROBE_POD`` (metadata.name; empty
    for the host agent), ``NETPROBE_ZONE``, ``NETPROBE_PEERS`` (``path=name`` pairs, comma separated,
    e.g. ``host=netprobe-host.edgefleet-netcheck-host.svc``), ``NETPROBE_SIZES`` (``64,1400``),
    ``NETPROBE_RATE``, ``NETPROBE_OWN_IP`` (status.podIP or status.hostIP), ``NETPROBE_NIC``.
    """
    try:
        sizes = tuple(int(s) for s in env.get("NETPROBE_SIZES", "64").split(",") if s)
    except ValueError:
        raise ConfigError("NETPROBE_SIZES: expected integers separated by commas") from None
    peers = []
    for item in filter(None, env.get("NETPROBE_PEERS", "").split(",")):
        path, _, name = item.partition("=")
        peers.append({"name": name, "path": path, "sizes": list(sizes)})
    identity = {
        "cluster": env.get("NETPROBE_CLUSTER", ""),
        "node": env.get("NETPROBE_NODE", ""),
        "zone": env.get("NETPROBE_ZONE", ""),
        "pod": env.get("NETPROBE_POD", ""),
    }
    if not identity["zone"] and env.get("NETPROBE_ZONE_FROM") == "metadata":
        identity["zone"] = zone_from_metadata()
    raw = {
        "identity": identity,
        "rate": float(env.get("NETPROBE_RATE", "20")),
        "discover": peers,
        "counters": {"nic": [d for d in env.get("NETPROBE_NIC", "").split(",") if d], "conntrack": True},
    }
    config = parse_config(raw)
    own = tuple(a for a in env.get("NETPROBE_OWN_IP", "").split(",") if a)
    return AgentConfig(**{**config.__dict__, "own_addresses": own})


# ----------------------------------------------------------------------------------------------
# Counters that tell virtual from physical


def read_nic_counters(device: str, sys_class_net: Path = Path("/sys/class/net")) -> dict[str, int]:
    """The kernel's per-interface drop and error counters (``rx_dropped``, ``tx_errors``...)."""
    found = {}
    for name in ("rx_dropped", "tx_dropped", "rx_errors", "tx_errors", "rx_missed_errors", "rx_fifo_errors"):
        with contextlib.suppress(OSError, ValueError):
            found[name] = int((sys_class_net / device / "statistics" / name).read_text().strip())
    return found


ALLOWANCE = re.compile(r"^\s*(\w*(?:allowance_exceeded|_drop\w*|discard\w*))\s*:\s*(\d+)\s*$")


def parse_ethtool_stats(text: str) -> dict[str, int]:
    """From ``ethtool -S DEV``: the counters that say the virtual NIC dropped (AWS ENA
    ``bw_in_allowance_exceeded``, ``pps_allowance_exceeded``, ``conntrack_allowance_exceeded``,
    ``linklocal_allowance_exceeded``; gVNIC and others' ``*_drops``/``*discard*``)."""
    found = {}
    for line in text.splitlines():
        match = ALLOWANCE.match(line)
        if match:
            found[match.group(1)] = int(match.group(2))
    return found


def parse_conntrack_stat(text: str) -> dict[str, int]:
    """``/proc/net/stat/nf_conntrack`` (hex, one row per CPU): ``drop``, ``early_drop`` and
    ``insert_failed`` summed over CPUs."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        return {}
    header = lines[0]
    totals = dict.fromkeys(("drop", "early_drop", "insert_failed"), 0)
    for row in lines[1:]:
        for key in totals:
            if key in header and len(row) == len(header):
                with contextlib.suppress(ValueError):
                    totals[key] += int(row[header.index(key)], 16)
    return totals


# ----------------------------------------------------------------------------------------------
# Streams


@dataclass
class Stream:
    """Counters and pending probes of one target."""

    id: int
    target: Target
    destination: Identity | None
    sent: int = 0
    received: int = 0
    lost: int = 0
    send_errors: int = 0
    rtt_sum: float = 0.0
    pending: dict[int, float] = field(default_factory=dict)
    rtts: deque[tuple[float, float]] = field(default_factory=deque)

    def path(self, me: Identity) -> str:
        """``pod`` probes are split by where the peer runs: the same node or another."""
        if self.target.path != "pod" or self.destination is None:
            return self.target.path
        return "pod-same-node" if self.destination.node == me.node else "pod-cross-node"


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of sorted ``values``."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, math.ceil(q * len(values) - 1e-9) - 1))
    return values[rank]


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels_text(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"


class Agent:
    """The probe agent. ``start`` opens its sockets and threads; ``stop`` closes them."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.me = config.identity
        self.lock = threading.Lock()
        self.streams: dict[int, Stream] = {}
        self.by_key: dict[tuple[str, int, int], int] = {}
        self.answered = 0
        self.started = time.time()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        for target in config.targets:
            self._add(target)
        self.echo = self._socket(config.listen)
        self.probe = self._socket((config.listen[0], 0))
        self.http = ThreadingHTTPServer(config.metrics, self._handler())
        self.http.daemon_threads = True

    @staticmethod
    def _socket(bind: tuple[str, int]) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(bind)
        sock.settimeout(0.5)
        return sock

    def _add(self, target: Target) -> None:
        key = (target.address, target.port, target.size)
        if key in self.by_key:
            return
        stream_id = len(self.streams) + 1
        self.streams[stream_id] = Stream(stream_id, target, target.destination)
        self.by_key[key] = stream_id

    @property
    def metrics_port(self) -> int:
        return int(self.http.server_address[1])

    @property
    def echo_port(self) -> int:
        return int(self.echo.getsockname()[1])

    def start(self) -> None:
        for run in (self._respond, self._receive, self._send, self.http.serve_forever, self._discover):
            thread = threading.Thread(target=run, daemon=True, name=run.__name__)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        self.http.shutdown()
        self.http.server_close()
        for thread in self.threads:
            thread.join(timeout=2)
        self.echo.close()
        self.probe.close()

    # -- the responder: answer every request with the same size, and say who answered
    def _respond(self) -> None:
        identity = self.me.encode()
        while not self.stopping.is_set():
            try:
                data, peer = self.echo.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            if len(data) < HEADER.size or data[:4] != MAGIC:
                continue
            magic, kind, stream, seq, sent = HEADER.unpack_from(data)
            if kind != REQUEST:
                continue
            body = HEADER.pack(magic, REPLY, stream, seq, sent) + struct.pack("!H", len(identity)) + identity
            body += b"\0" * max(0, len(data) - len(body))
            with contextlib.suppress(OSError):
                self.echo.sendto(body, peer)
                self.answered += 1

    # -- the prober
    def _send(self) -> None:
        interval = 1.0 / self.config.rate
        next_tick = time.monotonic()
        while not self.stopping.is_set():
            now = time.monotonic()
            if now < next_tick:
                time.sleep(min(next_tick - now, 0.2))
                continue
            next_tick += interval
            if next_tick < now - 1.0:  # fell far behind (a stopped process): do not burst
                next_tick = now + interval
            with self.lock:
                streams = list(self.streams.values())
                self._expire(now)
            for stream in streams:
                self._probe(stream)

    def _probe(self, stream: Stream) -> None:
        target = stream.target
        with self.lock:
            stream.sent += 1
            seq = stream.sent
            sent = time.monotonic()
            stream.pending[seq] = sent
        payload = HEADER.pack(MAGIC, REQUEST, stream.id, seq, sent)
        payload += b"\0" * (target.size - IP_UDP_OVERHEAD - len(payload))
        try:
            self.probe.sendto(payload, (target.address, target.port))
        except OSError:  # EMSGSIZE (larger than the interface MTU), no route: the probe is lost
            with self.lock:
                stream.send_errors += 1

    def _expire(self, now: float) -> None:
        deadline = now - self.config.timeout
        horizon = now - self.config.window
        for stream in self.streams.values():
            expired = [seq for seq, sent in stream.pending.items() if sent < deadline]
            for seq in expired:
                del stream.pending[seq]
            stream.lost += len(expired)
            while stream.rtts and stream.rtts[0][0] < horizon:
                stream.rtts.popleft()

    def _receive(self) -> None:
        while not self.stopping.is_set():
            try:
                data, _ = self.probe.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            now = time.monotonic()
            if len(data) < HEADER.size + 2 or data[:4] != MAGIC:
                continue
            _, kind, stream_id, seq, sent = HEADER.unpack_from(data)
            (length,) = struct.unpack_from("!H", data, HEADER.size)
            who = Identity.decode(data[HEADER.size + 2 : HEADER.size + 2 + length])
            with self.lock:
                stream = self.streams.get(stream_id)
                if kind != REPLY or stream is None or stream.pending.pop(seq, None) is None:
                    continue  # late (already counted lost), duplicated or not ours
                stream.received += 1
                rtt = now - sent
                stream.rtt_sum += rtt
                stream.rtts.append((now, rtt))
                if stream.destination is None and who is not None:
                    stream.destination = who

    # -- peers by DNS (Kubernetes): every address of a headless Service, refreshed
    def _discover(self) -> None:
        while self.config.discover and not self.stopping.is_set():
            for item in self.config.discover:
                for address in resolve(item.name):
                    if address in self.config.own_addresses:
                        continue
                    # A Service address answers from whichever backend: its destination is the Service.
                    service = Identity(self.me.cluster, "") if item.path == "service" else None
                    for size in item.sizes:
                        with self.lock:
                            self._add(Target(address, item.port, item.path, size, service))
            self.stopping.wait(30)

    # -- the exporter
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404)
                    return
                body = agent.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def stream_labels(self, stream: Stream) -> dict[str, str]:
        me, peer = self.me, stream.destination
        return {
            "source_cluster": me.cluster,
            "source_node": me.node,
            "source_zone": me.zone,
            "source_pod": me.pod,
            "destination_cluster": peer.cluster if peer else "",
            "destination_node": peer.node if peer else stream.target.address,
            "destination_zone": peer.zone if peer else "",
            "destination_pod": peer.pod if peer else "",
            "path": stream.path(me),
            "size": str(stream.target.size),
        }

    def exposition(self) -> str:
        """Everything the agent knows, in the Prometheus text format (version 0.0.4)."""
        lines: list[str] = []
        me = self.me
        node_labels = {"cluster": me.cluster, "node": me.node, "zone": me.zone, "pod": me.pod}
        lines += [
            "# HELP netprobe_agent_info The probe agent and where it runs.",
            "# TYPE netprobe_agent_info gauge",
            f"netprobe_agent_info{labels_text({**node_labels, 'version': VERSION})} 1",
            "# HELP netprobe_echo_replies_total Probes this agent answered.",
            "# TYPE netprobe_echo_replies_total counter",
            f"netprobe_echo_replies_total{labels_text(node_labels)} {self.answered}",
        ]
        with self.lock:
            rows = [(self.stream_labels(s), s, sorted(r for _, r in s.rtts)) for s in self.streams.values()]
            counts = [
                (labels, s.received + s.lost, s.lost, s.send_errors, s.rtt_sum, s.received) for labels, s, _ in rows
            ]
        families = (
            ("netprobe_probes_total", "counter", "Probes resolved (answered, or unanswered within the timeout).", 1),
            ("netprobe_probes_lost_total", "counter", "Probes not answered within the timeout.", 2),
            ("netprobe_send_errors_total", "counter", "Probes the kernel refused to send (EMSGSIZE...).", 3),
        )
        for name, kind, help_text, index in families:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            lines += [f"{name}{labels_text(c[0])} {c[index]}" for c in counts]
        lines += [
            "# HELP netprobe_rtt_seconds Round-trip time of answered probes (quantiles over the window).",
            "# TYPE netprobe_rtt_seconds summary",
        ]
        for (labels, _, rtts), (_, _, _, _, rtt_sum, received) in zip(rows, counts, strict=True):
            for q in QUANTILES:
                lines.append(f"netprobe_rtt_seconds{labels_text({**labels, 'quantile': str(q)})} {quantile(rtts, q)}")
            lines.append(f"netprobe_rtt_seconds_sum{labels_text(labels)} {rtt_sum}")
            lines.append(f"netprobe_rtt_seconds_count{labels_text(labels)} {received}")
        lines += self._counter_lines(node_labels)
        return "\n".join(lines) + "\n"

    def _counter_lines(self, node_labels: Mapping[str, str]) -> list[str]:
        lines: list[str] = []
        if self.config.nic_devices:
            lines += [
                "# HELP netprobe_nic_drops_total The interface's drop and error counters (/sys/class/net).",
                "# TYPE netprobe_nic_drops_total counter",
            ]
            for device in self.config.nic_devices:
                for counter, value in sorted(read_nic_counters(device).items()):
                    labels = {**node_labels, "device": device, "counter": counter}
                    lines.append(f"netprobe_nic_drops_total{labels_text(labels)} {value}")
        if self.config.ethtool:
            lines += [
                "# HELP netprobe_nic_allowance_exceeded_total Virtual NIC drop counters (ethtool -S).",
                "# TYPE netprobe_nic_allowance_exceeded_total counter",
            ]
            for device in self.config.nic_devices:
                for counter, value in sorted(ethtool_stats(device).items()):
                    labels = {**node_labels, "device": device, "counter": counter}
                    lines.append(f"netprobe_nic_allowance_exceeded_total{labels_text(labels)} {value}")
        if self.config.conntrack:
            netfilter = Path("/proc/sys/net/netfilter")
            for name, file in (("entries", "nf_conntrack_count"), ("limit", "nf_conntrack_max")):
                with contextlib.suppress(OSError, ValueError):
                    value = int((netfilter / file).read_text())
                    lines += [f"# TYPE netprobe_conntrack_{name} gauge"]
                    lines.append(f"netprobe_conntrack_{name}{labels_text(node_labels)} {value}")
            with contextlib.suppress(OSError):
                stats = parse_conntrack_stat(Path("/proc/net/stat/nf_conntrack").read_text())
                lines += ["# TYPE netprobe_conntrack_drops_total counter"]
                for kind, value in sorted(stats.items()):
                    lines.append(f"netprobe_conntrack_drops_total{labels_text({**node_labels, 'kind': kind})} {value}")
        return lines


def ethtool_stats(device: str) -> dict[str, int]:
    try:
        result = subprocess.run(["ethtool", "-S", device], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_ethtool_stats(result.stdout) if result.returncode == 0 else {}


def resolve(name: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


def run(config: AgentConfig, ready: Iterable[str] = ()) -> None:
    """Run until SIGTERM or SIGINT."""
    agent = Agent(config)
    agent.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    for path in ready:  # the lab waits for this file before it counts the agent as up
        Path(path).write_text(str(os.getpid()))
    done.wait()
    agent.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="netprobe", description="edgefleet's probe agent")
    parser.add_argument("--config", type=Path, help="JSON config (default: NETPROBE_* environment variables)")
    parser.add_argument("--ready-file", action="append", default=[], help="write the pid here once listening")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config) if args.config else config_from_env(os.environ)
        run(config, args.ready_file)
    except (ConfigError, OSError) as exc:
        print(f"netprobe: {exc}", file=sys.stderr)
        sys.exit(2)

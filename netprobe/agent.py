"""The probe agent: a UDP echo responder, a sequenced prober and a Prometheus exporter in one process.

Wire format (big-endian): magic, kind, stream id (u32), sequence (u64), send time (f64), then
a u16 length and the responder's identity (``cluster|node|zone|pod``) in replies, zero padding to
the probe's size. Kinds: 0 request, 1 reply, 2 hello (a request for the responder's identity), 3
its reply. **A reply is never larger than its request** (so no address can be made to reflect more
than it was sent): a probe too small to carry the identity gets a reply with an empty one, and
the prober learns who answers a stream from a hello (``HELLO_SIZE`` bytes, sent until a stream's
peer is known and every ``HELLO_EVERY`` seconds after, never counted as a probe).

- ``EFP1``, in the cluster (behind NetworkPolicy): the send time is the sender's monotonic clock.
- ``EFA1``, authenticated (the public WAN probes, ``key`` set): the send time is the wall clock,
  and an 8-byte tag follows the header: HMAC-SHA256 (a key shared by the stack's clusters) of the
  whole datagram with the tag zeroed, truncated to 64 bits. An agent with a key answers only
  requests whose tag is right, whose send time is within ``FRESH_SECONDS`` of its clock, and
  whose tag it has not seen in that time (a replayed probe is dropped); a prober with a key takes
  only replies whose tag is right for a probe still pending (a forged or replayed reply cannot
  hide a loss or fake an RTT). Everything else is dropped without an answer. Across the slices of
  a fleet (one stack per region, each with its own key) an agent also answers requests signed
  with one of its ``peer_keys`` (the other slices' keys), signing the reply with the key that
  signed the request; it still signs its own probes, and takes replies, with its own key only.

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
import hashlib
import hmac
import json
import math
import os
import re
import signal
import socket
import ssl
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
from urllib.parse import quote

VERSION = "0.3.0"
MAGIC = b"EFP1"
AUTH_MAGIC = b"EFA1"
HEADER = struct.Struct("!4sBIQd")
LENGTH = struct.Struct("!H")
REQUEST, REPLY, HELLO, HELLO_REPLY = 0, 1, 2, 3
TAG_SIZE = 8  # HMAC-SHA256 truncated to 64 bits: a forgery takes ~2^63 datagrams
MIN_SIZE = HEADER.size + 2  # the smallest probe that still carries a (possibly empty) identity
AUTH_MIN_SIZE = HEADER.size + TAG_SIZE + 2
HELLO_SIZE = 1024  # UDP payload of a hello: room for any identity (labels are at most 4 x 253 bytes)
HELLO_EVERY = 60.0  # seconds between hellos once a stream's peer is known (a load balancer's backend may change)
FRESH_SECONDS = 30.0  # an authenticated probe's send time must be this close to the responder's clock
MAX_REMEMBERED = 200_000  # tags remembered against replays; beyond that, fail closed (drop)
MIN_KEY_BYTES = 16
MAX_PEER_KEYS = 64  # other slices' keys an agent answers (each costs one HMAC per refused datagram)
MAX_SIZE = 9000
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_PROBE = getattr(socket, "IP_PMTUDISC_PROBE", 3)
QUANTILES = (0.5, 0.9, 0.99)
# A UDP probe's IP and UDP headers: ``size`` in the config is the IP packet's length.
IP_UDP_OVERHEAD = 28
MAX_DATAGRAM = MAX_SIZE - IP_UDP_OVERHEAD  # the largest probe's UDP payload (a hello's is smaller)


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
class WanPeer:
    """A designated probe of another location behind its load balancer: its cluster, the load
    balancer's address (an IP or a host name, resolved again every 30 s) and port."""

    cluster: str
    host: str
    port: int
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
    key: bytes = b""  # set: authenticated probes only (the public WAN probes), both ways
    peer_keys: tuple[bytes, ...] = ()  # the other slices' keys: their probes are answered too
    wan: tuple[WanPeer, ...] = ()


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
        "key_file", "peer_key_files",
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
    key = b""
    if raw.get("key_file") is not None:
        if not isinstance(raw["key_file"], str):
            raise ConfigError("key_file: expected the path of a file holding the shared key (hex)")
        try:
            key = parse_key(Path(raw["key_file"]).read_text(), "key_file")
        except OSError as exc:
            raise ConfigError(f"key_file: {exc}") from None
    files = raw.get("peer_key_files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ConfigError("peer_key_files: expected a list of paths of files holding the other slices' keys (hex)")
    if files and not key:
        raise ConfigError("peer_key_files needs key_file: an agent answers other keys only beside its own")
    texts = []
    for i, name in enumerate(files):
        try:
            texts.append(Path(name).read_text())
        except OSError as exc:
            raise ConfigError(f"peer_key_files[{i}]: {exc}") from None
    peer_keys = parse_peer_keys(texts, key, "peer_key_files")
    smallest = AUTH_MIN_SIZE if key else MIN_SIZE
    for target in targets:
        if target.size - IP_UDP_OVERHEAD < smallest:
            raise ConfigError(f"targets: a probe of {target.size} bytes cannot carry an authenticated header")
    return AgentConfig(
        key=key,
        peer_keys=peer_keys,
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


def parse_key(text: str, where: str) -> bytes:
    """The shared key: hex, at least ``MIN_KEY_BYTES`` bytes (whitespace around it ignored)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigError(f"{where}: the key must be hexadecimal") from None
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"{where}: the key must be at least {MIN_KEY_BYTES} bytes ({2 * MIN_KEY_BYTES} hex digits)")
    return key


def parse_peer_keys(texts: Sequence[str], own: bytes, where: str) -> tuple[bytes, ...]:
    """The other slices' keys (each as ``parse_key``), duplicates and the own key left out; at most
    ``MAX_PEER_KEYS``. An error names the item (``NETPROBE_PEER_KEYS[2]``), never the key."""
    given = sum(1 for text in texts if text.strip())
    if given > MAX_PEER_KEYS:
        raise ConfigError(f"{where}: {given} keys; at most {MAX_PEER_KEYS} other slices are answered")
    found: list[bytes] = []
    for i, text in enumerate(texts):
        if not text.strip():
            continue  # an empty item (``a,,b``): nothing, and the index stays the item's own
        key = parse_key(text, f"{where}[{i}]")
        if key != own and key not in found:
            found.append(key)
    return tuple(found)


def parse_wan_peers(text: str, sizes: tuple[int, ...]) -> tuple[WanPeer, ...]:
    """``NETPROBE_WAN_PEERS``: ``cluster=host:port`` pairs, comma separated."""
    peers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        cluster, sep, address = item.partition("=")
        if not sep or not cluster or "|" in cluster:
            raise ConfigError(f"NETPROBE_WAN_PEERS: expected cluster=host:port, got {item[:80]!r}")
        host, port = _address(address, f"NETPROBE_WAN_PEERS ({cluster})")
        if not host:
            # That location's load balancer had no address when this was written: probe the others
            # (a crashing agent would blind them too); the doctor names the pair as not measured.
            message = f"netprobe: NETPROBE_WAN_PEERS: {cluster} has no load balancer address yet; not probed"
            print(message, file=sys.stderr)
            continue
        peers.append(WanPeer(cluster, host, port, sizes))
    return tuple(peers)


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


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ZONE_LABEL = "topology.kubernetes.io/zone"


def _api_get(url: str, token: str, cafile: str, timeout: float = 5.0) -> str:
    import urllib.request  # noqa: PLC0415  only the host agent asks, once, at start

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    context = ssl.create_default_context(cafile=cafile)
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        body: bytes = response.read(1 << 20)
    return body.decode()


def zone_from_node_label(
    env: Mapping[str, str],
    get: Callable[[str, str, str], str] = _api_get,
    account: Path = SERVICE_ACCOUNT,
) -> str:
    """The node's ``topology.kubernetes.io/zone`` label from the Kubernetes API (clusters whose
    nodes have no cloud metadata service: k3s, kubeadm, on-premises). Needs the pod's service
    account token and a ClusterRole with ``get`` on ``nodes`` (netcheck grants exactly that, to
    the host agent only); "" when the node has no such label or the API does not answer."""
    node = env.get("NETPROBE_NODE", "")
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not node or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    try:
        token = (account / "token").read_text().strip()
        body = get(f"https://{host}:{port}/api/v1/nodes/{quote(node, safe='')}", token, str(account / "ca.crt"))
        labels = json.loads(body).get("metadata", {}).get("labels", {})
    except (OSError, ValueError, AttributeError):
        return ""
    zone = labels.get(ZONE_LABEL, "") if isinstance(labels, Mapping) else ""
    return zone if isinstance(zone, str) and "|" not in zone and len(zone) <= 253 else ""


def config_from_env(env: Mapping[str, str]) -> AgentConfig:
    """The Kubernetes form: identity from the Downward API, peers from headless Services.

    ``NETPROBE_CLUSTER``, ``NETPROBE_NODE`` (spec.nodeName), ``NETPROBE_POD`` (metadata.name; empty
    for the host agent), ``NETPROBE_ZONE``, ``NETPROBE_PEERS`` (``path=name`` pairs, comma separated,
    e.g. ``host=netprobe-host.edgefleet-netcheck-host.svc``), ``NETPROBE_SIZES`` (``64,1400``),
    ``NETPROBE_RATE``, ``NETPROBE_OWN_IP`` (status.podIP or status.hostIP), ``NETPROBE_NIC``;
    the designated WAN probes also ``NETPROBE_WAN_PEERS`` (``cluster=host:port``, comma separated:
    the other locations' load balancers) and ``NETPROBE_KEY`` (the shared key, hex, from a Secret);
    across slices ``NETPROBE_PEER_KEYS`` (the other slices' keys, hex, comma separated; answered).
    ``NETPROBE_ZONE_FROM``: ``metadata`` (the cloud's instance metadata) or ``node-label`` (the
    node's ``topology.kubernetes.io/zone`` label through the Kubernetes API).
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
    zone_from = env.get("NETPROBE_ZONE_FROM", "")
    if zone_from not in ("", "metadata", "node-label"):
        raise ConfigError(f"NETPROBE_ZONE_FROM: expected metadata or node-label, got {zone_from[:40]!r}")
    if not identity["zone"] and zone_from == "metadata":
        identity["zone"] = zone_from_metadata()
    elif not identity["zone"] and zone_from == "node-label":
        identity["zone"] = zone_from_node_label(env)
    raw = {
        "identity": identity,
        "rate": float(env.get("NETPROBE_RATE", "20")),
        "discover": peers,
        "counters": {"nic": [d for d in env.get("NETPROBE_NIC", "").split(",") if d], "conntrack": True},
    }
    config = parse_config(raw)
    own = tuple(a for a in env.get("NETPROBE_OWN_IP", "").split(",") if a)
    key = parse_key(env["NETPROBE_KEY"], "NETPROBE_KEY") if env.get("NETPROBE_KEY") else b""
    for size in sizes:
        _size(size, "NETPROBE_SIZES")
        if key and size - IP_UDP_OVERHEAD < AUTH_MIN_SIZE:
            raise ConfigError(f"NETPROBE_SIZES: {size} bytes cannot carry an authenticated header")
    wan = parse_wan_peers(env.get("NETPROBE_WAN_PEERS", ""), sizes)
    if wan and not key:
        raise ConfigError("NETPROBE_WAN_PEERS needs NETPROBE_KEY: probes over the public path are authenticated")
    texts = env.get("NETPROBE_PEER_KEYS", "").split(",")
    if any(t.strip() for t in texts) and not key:
        raise ConfigError("NETPROBE_PEER_KEYS needs NETPROBE_KEY: an agent answers other keys only beside its own")
    peer_keys = parse_peer_keys(texts, key, "NETPROBE_PEER_KEYS")
    return AgentConfig(**{**config.__dict__, "own_addresses": own, "key": key, "peer_keys": peer_keys, "wan": wan})


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
    pending: dict[int, tuple[float, float]] = field(default_factory=dict)  # seq -> (monotonic, on the wire)
    rtts: deque[tuple[float, float]] = field(default_factory=deque)
    configured: Identity | None = None  # the destination as configured; None: learnt from hellos
    hello_at: float = 0.0  # monotonic time of the next hello

    def asks_who(self) -> bool:
        """Does this stream learn its peer from hellos? Not a Service's (its destination is the
        Service, whichever backend answers), nor one whose peer is configured whole (the lab)."""
        return self.target.path != "service" and (self.configured is None or not self.configured.node)

    def path(self, me: Identity) -> str:
        """``pod`` probes are split by where the peer runs: the same node or another."""
        if self.target.path != "pod" or self.destination is None or not self.destination.node:
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


class ReplayGuard:
    """Tags of authenticated requests seen in the last ``FRESH_SECONDS``: a replayed probe is
    dropped. Full (``MAX_REMEMBERED``): new tags are refused until old ones expire (fail closed)."""

    def __init__(self, horizon: float = FRESH_SECONDS, limit: int = MAX_REMEMBERED) -> None:
        self.horizon = horizon
        self.limit = limit
        self.seen: set[bytes] = set()
        self.order: deque[tuple[float, bytes]] = deque()

    def first_time(self, tag: bytes, now: float) -> bool:
        while self.order and self.order[0][0] < now - self.horizon:
            self.seen.discard(self.order.popleft()[1])
        if tag in self.seen or len(self.seen) >= self.limit:
            return False
        self.seen.add(tag)
        self.order.append((now, tag))
        return True


def sign(key: bytes, datagram: bytes) -> bytes:
    """The datagram with its tag: HMAC-SHA256 over it with the tag field zeroed, 8 bytes."""
    blank = datagram[: HEADER.size] + bytes(TAG_SIZE) + datagram[HEADER.size + TAG_SIZE :]
    tag = hmac.new(key, blank, hashlib.sha256).digest()[:TAG_SIZE]
    return datagram[: HEADER.size] + tag + datagram[HEADER.size + TAG_SIZE :]


def verified(key: bytes, datagram: bytes) -> bool:
    """Is the datagram's tag right for ``key``? (Constant time.)"""
    if len(datagram) < AUTH_MIN_SIZE or datagram[:4] != AUTH_MAGIC:
        return False
    return hmac.compare_digest(sign(key, datagram)[HEADER.size : HEADER.size + TAG_SIZE],
                               datagram[HEADER.size : HEADER.size + TAG_SIZE])  # fmt: skip


def make_datagram(key: bytes, kind: int, *, stream: int, seq: int, sent: float, identity: bytes, size: int) -> bytes:
    """A request (``identity`` empty) or reply of exactly ``size`` bytes of UDP payload; the
    identity is left out (length 0) when it does not fit."""
    head = HEADER.pack(AUTH_MAGIC if key else MAGIC, kind, stream, seq, sent) + (bytes(TAG_SIZE) if key else b"")
    room = size - len(head) - LENGTH.size
    who = identity if len(identity) <= room else b""
    body = head + LENGTH.pack(len(who)) + who
    body += bytes(max(0, size - len(body)))
    return sign(key, body) if key else body


def read_datagram(key: bytes, data: bytes) -> tuple[int, int, int, float, Identity | None] | None:
    """(kind, stream, seq, sent, identity) of a datagram this agent may take, else None: the
    right magic and, with a key, the right tag."""
    offset = HEADER.size + (TAG_SIZE if key else 0)
    if not offset + LENGTH.size <= len(data) <= MAX_DATAGRAM or data[:4] != (AUTH_MAGIC if key else MAGIC):
        return None  # nothing larger than a probe or a hello is read, let alone signed
    if key and not verified(key, data):
        return None
    _, kind, stream, seq, sent = HEADER.unpack_from(data)
    (length,) = LENGTH.unpack_from(data, offset)
    raw = data[offset + LENGTH.size : offset + LENGTH.size + length]
    return kind, stream, seq, sent, (Identity.decode(raw) if length and len(raw) == length else None)


class Agent:
    """The probe agent. ``start`` opens its sockets and threads; ``stop`` closes them."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.me = config.identity
        self.lock = threading.Lock()
        self.streams: dict[int, Stream] = {}
        self.by_key: dict[tuple[str, int, int], int] = {}
        self.wan_streams: dict[tuple[str, str, int, int], int] = {}  # (cluster, host, port, size) -> stream
        self.answered = 0
        self.refused = 0  # datagrams dropped unanswered (not ours, bad tag, stale, replayed)
        self.replays = ReplayGuard()
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

    def _add(self, target: Target) -> int:
        key = (target.address, target.port, target.size)
        if key in self.by_key:
            return self.by_key[key]
        stream_id = len(self.streams) + 1
        self.streams[stream_id] = Stream(stream_id, target, target.destination, configured=target.destination)
        self.by_key[key] = stream_id
        return stream_id

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

    # -- the responder: answer every request it may take, never with more bytes than it got
    def answer(self, data: bytes, now: float) -> bytes | None:
        """The reply to ``data``, or None to drop it (pure: the responder's rule, tested alone).
        With a key, a request signed with the own key or a peer slice's is answered, signed with
        that same key."""
        key = self.config.key
        read = read_datagram(key, data)
        if read is None and key:
            for other in self.config.peer_keys:
                read = read_datagram(other, data)
                if read is not None:
                    key = other
                    break
        if read is None:
            return None
        kind, stream, seq, sent, _ = read
        if kind not in (REQUEST, HELLO):
            return None
        if key:
            if not math.isfinite(sent) or abs(now - sent) > FRESH_SECONDS:
                return None
            if not self.replays.first_time(data[HEADER.size : HEADER.size + TAG_SIZE], now):
                return None
        reply = REPLY if kind == REQUEST else HELLO_REPLY
        return make_datagram(key, reply, stream=stream, seq=seq, sent=sent, identity=self.me.encode(), size=len(data))

    def _respond(self) -> None:
        while not self.stopping.is_set():
            try:
                data, peer = self.echo.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            body = self.answer(data, time.time())
            if body is None:
                self.refused += 1
                continue
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
                if stream.asks_who() and now >= stream.hello_at:
                    self._hello(stream, now)

    def _wire_time(self, monotonic: float) -> float:
        """The send time on the wire: the monotonic clock in the cluster, the wall clock when
        authenticated (the responder checks it is fresh)."""
        return time.time() if self.config.key else monotonic

    def _probe(self, stream: Stream) -> None:
        target = stream.target
        with self.lock:
            stream.sent += 1
            seq = stream.sent
            sent = time.monotonic()
            wire = self._wire_time(sent)
            stream.pending[seq] = (sent, wire)
        payload = make_datagram(
            self.config.key,
            REQUEST,
            stream=stream.id,
            seq=seq,
            sent=wire,
            identity=b"",
            size=target.size - IP_UDP_OVERHEAD,
        )
        try:
            self.probe.sendto(payload, (target.address, target.port))
        except OSError:  # EMSGSIZE (larger than the interface MTU), no route: the probe is lost
            with self.lock:
                stream.send_errors += 1

    def _hello(self, stream: Stream, now: float) -> None:
        """Ask who answers this stream (a peer found by DNS or behind a load balancer)."""
        stream.hello_at = now + (HELLO_EVERY if stream.destination is not None else 5.0)
        payload = make_datagram(
            self.config.key, HELLO, stream=stream.id, seq=0, sent=self._wire_time(now), identity=b"", size=HELLO_SIZE
        )
        with contextlib.suppress(OSError):
            self.probe.sendto(payload, (stream.target.address, stream.target.port))

    def _expire(self, now: float) -> None:
        deadline = now - self.config.timeout
        horizon = now - self.config.window
        for stream in self.streams.values():
            expired = [seq for seq, (sent, _) in stream.pending.items() if sent < deadline]
            for seq in expired:
                del stream.pending[seq]
            stream.lost += len(expired)
            while stream.rtts and stream.rtts[0][0] < horizon:
                stream.rtts.popleft()

    def take_reply(self, data: bytes, now: float) -> bool:
        """Count a reply (or learn a peer from a hello's reply); False when it is not one of ours."""
        read = read_datagram(self.config.key, data)
        if read is None:
            return False
        kind, stream_id, seq, sent, who = read
        with self.lock:
            stream = self.streams.get(stream_id)
            if stream is None:
                return False
            if kind == HELLO_REPLY:
                return stream.asks_who() and self._learn(stream, who, always=True)
            pending = stream.pending.get(seq)
            # Late (already counted lost), duplicated, not ours, or (authenticated) not what was sent.
            if kind != REPLY or pending is None or (self.config.key and pending[1] != sent):
                return False
            del stream.pending[seq]
            stream.received += 1
            rtt = now - pending[0]
            stream.rtt_sum += rtt
            stream.rtts.append((now, rtt))
            if stream.destination is None or not stream.destination.node:
                self._learn(stream, who, always=False)
        return True

    @staticmethod
    def _learn(stream: Stream, who: Identity | None, *, always: bool) -> bool:
        """Name a stream's peer from a reply: the first one's, then every hello's (a load
        balancer's backend may change); never a peer of another location than configured."""
        if who is None or (stream.configured is not None and who.cluster != stream.configured.cluster):
            return False
        if always or stream.destination is None or not stream.destination.node:
            stream.destination = who
        return True

    def _receive(self) -> None:
        while not self.stopping.is_set():
            try:
                data, _ = self.probe.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            self.take_reply(data, time.monotonic())

    # -- peers by DNS (Kubernetes): every address of a headless Service, refreshed; the other
    # locations' load balancers (their address followed when their host name resolves anew)
    def _discover(self) -> None:
        while (self.config.discover or self.config.wan) and not self.stopping.is_set():
            for item in self.config.discover:
                for address in resolve(item.name):
                    if address in self.config.own_addresses:
                        continue
                    # A Service address answers from whichever backend: its destination is the Service.
                    service = Identity(self.me.cluster, "") if item.path == "service" else None
                    for size in item.sizes:
                        with self.lock:
                            self._add(Target(address, item.port, item.path, size, service))
            for peer in self.config.wan:
                addresses = resolve(peer.host)
                if addresses:
                    self.follow(peer, addresses[0])
            self.stopping.wait(30)

    def follow(self, peer: WanPeer, address: str) -> None:
        """Probe ``peer``'s load balancer at ``address``: a new stream per size the first time, the
        same streams (and counters) at a new address when its host name resolves elsewhere."""
        with self.lock:
            for size in peer.sizes:
                key = (peer.cluster, peer.host, peer.port, size)
                target = Target(address, peer.port, "wan", size, Identity(peer.cluster, ""))
                stream_id = self.wan_streams.get(key)
                if stream_id is None:
                    self.wan_streams[key] = self._add(target)
                    continue
                stream = self.streams[stream_id]
                if stream.target.address != address:
                    self.by_key.pop((stream.target.address, stream.target.port, size), None)
                    self.by_key[(address, peer.port, size)] = stream_id
                    stream.target = target
                    stream.hello_at = 0.0

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
            "# HELP netprobe_datagrams_refused_total Datagrams dropped unanswered (bad tag, stale, replayed...).",
            "# TYPE netprobe_datagrams_refused_total counter",
            f"netprobe_datagrams_refused_total{labels_text(node_labels)} {self.refused}",
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

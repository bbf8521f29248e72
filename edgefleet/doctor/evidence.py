"""What the probes saw over one window: streams (one source, one destination, one path, one packet
size) with probes sent and lost, RTT percentiles, and per node the counters that tell virtual from
physical. Built from counter increases, whether two scrapes of the agents gave them or Prometheus's
``increase()`` did."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from edgefleet.doctor.promtext import Sample

PROBES = "netprobe_probes_total"
LOST = "netprobe_probes_lost_total"
RTT = "netprobe_rtt_seconds"
INFO = "netprobe_agent_info"
NIC = "netprobe_nic_drops_total"
ALLOWANCE = "netprobe_nic_allowance_exceeded_total"
CONNTRACK = "netprobe_conntrack_drops_total"
COUNTERS = (PROBES, LOST, NIC, ALLOWANCE, CONNTRACK)
STREAM_LABELS = (
    "source_cluster", "source_node", "source_zone", "source_pod",
    "destination_cluster", "destination_node", "destination_zone", "destination_pod", "path", "size",
)  # fmt: skip
PATHS = ("host", "pod-same-node", "pod-cross-node", "service", "wan")
LARGE = 1200  # bytes: a probe at least this large is a near-MTU probe


@dataclass(frozen=True, order=True)
class Endpoint:
    """An agent's place: cluster, node, zone; ``pod`` empty on the host network."""

    cluster: str
    node: str
    zone: str = ""
    pod: str = ""


@dataclass(frozen=True)
class Stream:
    """One stream's window: ``probes`` resolved, ``lost`` of them unanswered."""

    source: Endpoint
    destination: Endpoint
    path: str
    size: int
    probes: int
    lost: int
    rtt_p50_ms: float | None = None
    rtt_p99_ms: float | None = None

    @property
    def large(self) -> bool:
        return self.size >= LARGE

    @property
    def loss(self) -> float:
        return self.lost / self.probes if self.probes else 0.0


@dataclass(frozen=True)
class NodeCounters:
    """Counter increases over the window on one node (its host-network agent)."""

    cluster: str
    node: str
    nic_drops: int = 0
    allowance_exceeded: int = 0
    conntrack_drops: int = 0


@dataclass(frozen=True)
class DropCount:
    """Hubble's drops over the window on one node, for one reason (``hubble_drop_total``, Cilium
    clusters with Hubble's ``drop`` metrics). ``cluster`` is empty when the series has no
    ``cluster`` label (the node then names it among the clusters' nodes)."""

    cluster: str
    node: str
    reason: str
    count: int


@dataclass(frozen=True)
class Evidence:
    """Everything one doctor run judges."""

    streams: tuple[Stream, ...]
    counters: tuple[NodeCounters, ...] = ()
    agents: tuple[Endpoint, ...] = ()
    window_seconds: float = 0.0
    problems: tuple[str, ...] = field(default=())
    drops: tuple[DropCount, ...] = ()

    def clusters(self) -> list[str]:
        names = {a.cluster for a in self.agents} | {s.source.cluster for s in self.streams}
        return sorted(n for n in names if n)

    def nodes(self, cluster: str) -> list[str]:
        found = {a.node for a in self.agents if a.cluster == cluster}
        found |= {s.source.node for s in self.streams if s.source.cluster == cluster}
        return sorted(found)


def _key(sample: Sample) -> tuple[str, ...]:
    return tuple(sample.label(k) for k in STREAM_LABELS)


def deltas(before: Sequence[Sample], after: Sequence[Sample]) -> list[Sample]:
    """Counter increases between two scrapes of the same agents (a counter that went down was
    reset: its increase is its new value, as Prometheus's ``increase`` takes it)."""
    old = {(s.name, s.labels): s.value for s in before if s.name in COUNTERS}
    out = []
    for s in after:
        if s.name not in COUNTERS:
            continue
        previous = old.get((s.name, s.labels))
        if previous is None:
            continue  # a stream that appeared during the window: not a whole window of it
        out.append(Sample(s.name, s.labels, s.value - previous if s.value >= previous else s.value))
    return out


def _endpoint(sample: Sample, side: str, zones: dict[tuple[str, str], str] | None = None) -> Endpoint:
    cluster, node = sample.label(f"{side}_cluster"), sample.label(f"{side}_node")
    zone = sample.label(f"{side}_zone") or (zones or {}).get((cluster, node), "")
    return Endpoint(cluster, node, zone, sample.label(f"{side}_pod"))


def build(
    increases: Iterable[Sample],
    current: Iterable[Sample],
    *,
    window_seconds: float,
    problems: Sequence[str] = (),
) -> Evidence:
    """Evidence from counter ``increases`` over the window and ``current`` samples (RTT quantiles,
    agent info). Increases are rounded: Prometheus extrapolates them to the window's edges."""
    probes: dict[tuple[str, ...], float] = {}
    lost: dict[tuple[str, ...], float] = {}
    first: dict[tuple[str, ...], Sample] = {}
    nic: dict[tuple[str, str], float] = {}
    allowance: dict[tuple[str, str], float] = {}
    conntrack: dict[tuple[str, str], float] = {}
    for s in increases:
        if s.name in (PROBES, LOST):
            key = _key(s)
            first.setdefault(key, s)
            target = probes if s.name == PROBES else lost
            target[key] = target.get(key, 0.0) + s.value
        else:
            where = (s.label("cluster"), s.label("node"))
            table = {NIC: nic, ALLOWANCE: allowance, CONNTRACK: conntrack}.get(s.name)
            if table is not None and not s.label("pod"):
                table[where] = table.get(where, 0.0) + s.value
    rtt: dict[tuple[str, ...], dict[str, float]] = {}
    agents = set()
    for s in current:
        if s.name == RTT and s.label("quantile"):
            if s.value == s.value:  # not NaN (no reply in the window)
                rtt.setdefault(_key(s), {})[s.label("quantile")] = s.value
        elif s.name == INFO:
            agents.add(Endpoint(s.label("cluster"), s.label("node"), s.label("zone"), s.label("pod")))
    # A node's zone as any agent on it reports it (in Kubernetes the host agent knows it from the
    # instance metadata; the pod agents on the node do not).
    zones = {(a.cluster, a.node): a.zone for a in agents if a.zone}
    for sample in first.values():
        for side in ("source", "destination"):
            where = (sample.label(f"{side}_cluster"), sample.label(f"{side}_node"))
            if sample.label(f"{side}_zone"):
                zones.setdefault(where, sample.label(f"{side}_zone"))
    streams = []
    half = [key for key in first if (key in probes) != (key in lost)]
    if half:
        problems = [
            *problems,
            f"{len(half)} stream(s) export only one of {PROBES} and {LOST}: not judged",
        ]
    for key, sample in first.items():
        if key in half:
            continue
        sent = round(probes.get(key, 0.0))
        if sent <= 0:
            continue
        missing = min(sent, max(0, round(lost.get(key, 0.0))))
        # No reply in the window: the agent's quantiles are older replies', not this window's.
        quantiles = rtt.get(key, {}) if missing < sent else {}
        p50, p99 = quantiles.get("0.5"), quantiles.get("0.99")
        try:
            size = int(sample.label("size"))
        except ValueError:
            continue
        streams.append(
            Stream(
                source=_endpoint(sample, "source", zones),
                destination=_endpoint(sample, "destination", zones),
                path=sample.label("path"),
                size=size,
                probes=sent,
                lost=missing,
                rtt_p50_ms=None if p50 is None else round(p50 * 1000, 3),
                rtt_p99_ms=None if p99 is None else round(p99 * 1000, 3),
            )
        )
    # A discovered peer that never answered has no identity, so no path the rules know (``pod``):
    # it is named, not judged, and the run is not called healthy.
    unknown = [s for s in streams if s.path not in PATHS]
    if unknown:
        first_unknown = unknown[0]
        problems = [
            *problems,
            f"{len(unknown)} probe stream(s) on no known path (a peer that never answered?), e.g. "
            f"{first_unknown.source.cluster}/{first_unknown.source.node} -> {first_unknown.destination.node} "
            f"({first_unknown.path}): {first_unknown.lost}/{first_unknown.probes} lost",
        ]
        streams = [s for s in streams if s.path in PATHS]
    # A WAN stream whose far end never answered (no hello came back: a load balancer without
    # address or backends, agents with another key): named, not judged as a lossy WAN.
    unanswered = [s for s in streams if s.path == "wan" and not s.destination.node]
    if unanswered:
        pairs = sorted({f"{s.source.cluster} -> {s.destination.cluster or '?'}" for s in unanswered})
        problems = [
            *problems,
            f"{len(unanswered)} WAN probe stream(s) never answered by the designated probes there "
            f"({', '.join(pairs)}): is that location's netprobe-wan load balancer up, "
            "with agents behind it holding the same key?",
        ]
        streams = [s for s in streams if s not in unanswered]
    streams.sort(key=lambda s: (s.source, s.destination, s.path, s.size))
    nodes = sorted(set(nic) | set(allowance) | set(conntrack))
    counters = tuple(
        NodeCounters(
            c, n, round(nic.get((c, n), 0.0)), round(allowance.get((c, n), 0.0)), round(conntrack.get((c, n), 0.0))
        )
        for c, n in nodes
    )
    return Evidence(tuple(streams), counters, tuple(sorted(agents)), window_seconds, tuple(problems))

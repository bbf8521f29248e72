"""Which component explains the loss: the attribution rules (pure functions; docs/doctor.md).

Every stream crosses a known set of components (the table in ``components_of``): a node's uplink,
the zone link between two zones, the overlay (CNI) on a node, the overlay's MTU, a pod's veth, the
service path of a cluster, the WAN between two locations. The hypothesis "component C loses
packets" predicts one loss rate on every stream through C and the baseline elsewhere; its support
is the log-likelihood gain of that over "everything at the baseline", with the streams through C
pooled (binomial). The component with the largest gain is blamed (as NetBouncer fits per-link
success rates and 007 votes over paths); the streams it explains, and every stream that touches
its nodes, are set aside and the next round looks for another fault, up to ``MAX_FINDINGS``.

- A hypothesis needs ``MIN_GAIN`` nats (a likelihood ratio of e^15) and ``MIN_LOST`` lost probes.
- Confidence: the posterior of the blamed hypothesis among the single-component hypotheses,
  each scored by its gain less an Occam penalty for its fitted rate (half the log of its probe
  count, as BIC does), equal priors. "Healthy" has its own confidence: prior 1/2 against 1/2 spread
  over the hypotheses.
- Layer: the uplink of a node is ``physical``, unless the node's NIC drop or allowance counters
  grew in the window: then it is the VM's ``virtual`` NIC. Zone links and the WAN are
  ``physical``; overlay, MTU, pod veth and service path are ``kubernetes``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from statistics import median

from edgefleet.doctor.evidence import Endpoint, Evidence, NodeCounters, Stream

BASELINE_LOSS = 0.001  # what a healthy path may lose without a verdict (real fabrics: 1e-4..1e-5)
MIN_GAIN = 15.0
MIN_LOST = 5
MAX_FINDINGS = 4


class Kind(Enum):
    """A component kind, in the order ties are broken (the most specific first)."""

    VETH = "pod-veth"
    OVERLAY = "overlay"
    UPLINK = "node-uplink"
    MTU = "mtu"
    SERVICE = "service-path"
    ZONE = "zone-link"
    WAN = "wan"


class Layer(Enum):
    PHYSICAL = "physical"
    VIRTUAL = "virtual"
    KUBERNETES = "kubernetes"


LAYER = {
    Kind.VETH: Layer.KUBERNETES,
    Kind.OVERLAY: Layer.KUBERNETES,
    Kind.MTU: Layer.KUBERNETES,
    Kind.SERVICE: Layer.KUBERNETES,
    Kind.UPLINK: Layer.PHYSICAL,
    Kind.ZONE: Layer.PHYSICAL,
    Kind.WAN: Layer.PHYSICAL,
}
ORDER = {kind: i for i, kind in enumerate(Kind)}


@dataclass(frozen=True)
class Component:
    """One thing that can lose packets. ``cluster`` is the first location for a WAN component and
    ``other`` the second; ``other`` is ``a|b`` (the two zones) for a zone link."""

    kind: Kind
    cluster: str
    node: str = ""
    pod: str = ""
    other: str = ""

    def sort_key(self) -> tuple[int, str, str, str, str]:
        return (ORDER[self.kind], self.cluster, self.node, self.pod, self.other)


def components_of(stream: Stream) -> tuple[Component, ...]:
    """The components a stream's packets cross (both directions: a probe and its reply).

    | path | crosses |
    | --- | --- |
    | host (node to node) | both nodes' uplinks; the zone link when the zones differ |
    | wan (designated probe to one of another location) | their veths (pods), both uplinks; the WAN between the two |
    | pod-cross-node | both pods' veths, both nodes' overlay and uplinks, the zone link; the MTU when near-MTU |
    | pod-same-node | both pods' veths |
    | service (pod to a Service address) | the source pod's veth; the cluster's service path |
    """
    src, dst = stream.source, stream.destination
    found: list[Component] = []

    def veth(end: Endpoint) -> None:
        if end.pod:
            found.append(Component(Kind.VETH, end.cluster, end.node, end.pod))

    def zone() -> None:
        if src.zone and dst.zone and src.zone != dst.zone and src.cluster == dst.cluster:
            a, b = sorted((src.zone, dst.zone))
            found.append(Component(Kind.ZONE, src.cluster, other=f"{a}|{b}"))

    if stream.path == "host":
        found += [Component(Kind.UPLINK, src.cluster, src.node), Component(Kind.UPLINK, dst.cluster, dst.node)]
        zone()
    elif stream.path == "wan":
        # The designated probes are pods in real clusters (their veths), host agents in the lab.
        veth(src)
        veth(dst)
        found += [Component(Kind.UPLINK, end.cluster, end.node) for end in (src, dst) if end.node]
        a, b = sorted((src.cluster, dst.cluster))
        found.append(Component(Kind.WAN, a, other=b))
    elif stream.path == "pod-cross-node":
        veth(src)
        veth(dst)
        found += [Component(Kind.OVERLAY, src.cluster, src.node), Component(Kind.OVERLAY, dst.cluster, dst.node)]
        found += [Component(Kind.UPLINK, src.cluster, src.node), Component(Kind.UPLINK, dst.cluster, dst.node)]
        zone()
        if stream.large:
            found.append(Component(Kind.MTU, src.cluster))
    elif stream.path == "pod-same-node":
        veth(src)
        veth(dst)
    elif stream.path == "service":
        veth(src)
        found.append(Component(Kind.SERVICE, src.cluster))
    return tuple(dict.fromkeys(found))


def touches(stream: Stream, all_nodes: Sequence[str]) -> set[tuple[str, str]]:
    """The nodes a stream may cross: a Service's backends may be on any node of its cluster."""
    nodes = {(stream.source.cluster, stream.source.node)}
    if stream.path == "service":
        nodes |= {(stream.source.cluster, n) for n in all_nodes}
    elif stream.path != "pod-same-node" or stream.destination.node:
        nodes.add((stream.destination.cluster, stream.destination.node))
    return nodes


def scope(component: Component, all_nodes: Sequence[str]) -> set[tuple[str, str]]:
    """The nodes whose other streams a blamed component makes unreliable evidence."""
    if component.kind in (Kind.UPLINK, Kind.OVERLAY, Kind.VETH):
        return {(component.cluster, component.node)}
    if component.kind in (Kind.ZONE, Kind.MTU, Kind.SERVICE):
        return {(component.cluster, n) for n in all_nodes}
    return set()


def gain(lost: int, probes: int, baseline: float = BASELINE_LOSS) -> float:
    """Log-likelihood gain (nats) of "these probes were lost at their own rate" over "at the
    baseline"; 0 when they lost no more than the baseline."""
    if probes <= 0:
        return 0.0
    rate = min(max(lost / probes, baseline), 1.0 - 1e-12)
    if rate <= baseline:
        return 0.0
    return lost * math.log(rate / baseline) + (probes - lost) * math.log((1.0 - rate) / (1.0 - baseline))


@dataclass(frozen=True)
class Hypothesis:
    component: Component
    streams: tuple[Stream, ...]
    probes: int
    lost: int
    gain: float

    @property
    def score(self) -> float:
        """The gain less the Occam penalty for one fitted rate (BIC)."""
        return self.gain - 0.5 * math.log(max(self.probes, 1))


def hypotheses(streams: Iterable[Stream], baseline: float = BASELINE_LOSS) -> list[Hypothesis]:
    """Every component some stream crosses, with its pooled figures and gain; the best first."""
    through: dict[Component, list[Stream]] = {}
    for stream in streams:
        for component in components_of(stream):
            through.setdefault(component, []).append(stream)
    found = []
    for component, members in through.items():
        probes = sum(s.probes for s in members)
        lost = sum(s.lost for s in members)
        found.append(Hypothesis(component, tuple(members), probes, lost, gain(lost, probes, baseline)))
    found.sort(key=lambda h: (-round(h.gain, 6), h.component.sort_key()))
    return found


def posterior(best: float, scores: Iterable[float]) -> float:
    """P(best hypothesis | data) among ``scores`` (log evidence; they include ``best``)."""
    values = list(scores)
    top = max([best, *values])
    return math.exp(best - top) / sum(math.exp(v - top) for v in values)


def healthy_posterior(scores: Sequence[float]) -> float:
    """P(healthy | data): prior 1/2, the other 1/2 spread evenly over the fault hypotheses."""
    if not scores:
        return 1.0
    top = max(0.0, *scores)
    fault = sum(math.exp(v - top) for v in scores) / len(scores)
    return math.exp(-top) / (math.exp(-top) + fault)


@dataclass(frozen=True)
class Finding:
    """A fault: the layer, the component, where, the figures that prove it, the confidence."""

    layer: Layer
    component: Component
    probes: int
    lost: int
    confidence: float
    gain: float
    elsewhere_probes: int
    elsewhere_lost: int
    by_path: tuple[tuple[str, int, int], ...]  # (path or path/size, probes, lost)
    rtt_p50_ms: float | None
    rtt_p99_ms: float | None
    counters: NodeCounters | None = None

    @property
    def loss(self) -> float:
        return self.lost / self.probes if self.probes else 0.0


@dataclass(frozen=True)
class Diagnosis:
    """The verdicts of one run: findings, and per cluster what was measured."""

    findings: tuple[Finding, ...]
    evidence: Evidence
    healthy_confidence: float  # posterior of "healthy" when there is no finding


def _by_path(streams: Iterable[Stream]) -> tuple[tuple[str, int, int], ...]:
    table: dict[str, list[int]] = {}
    for s in streams:
        key = f"{s.path}/{'large' if s.large else 'small'}"
        row = table.setdefault(key, [0, 0])
        row[0] += s.probes
        row[1] += s.lost
    return tuple((k, v[0], v[1]) for k, v in sorted(table.items()))


def _rtt(streams: Sequence[Stream]) -> tuple[float | None, float | None]:
    p50 = [s.rtt_p50_ms for s in streams if s.rtt_p50_ms is not None]
    p99 = [s.rtt_p99_ms for s in streams if s.rtt_p99_ms is not None]
    return (round(median(p50), 3) if p50 else None, round(max(p99), 3) if p99 else None)


def diagnose(evidence: Evidence, baseline: float = BASELINE_LOSS) -> Diagnosis:
    """Blame components, one per round, until no hypothesis is strong enough."""
    nodes = {c: evidence.nodes(c) for c in evidence.clusters()}
    counters = {(c.cluster, c.node): c for c in evidence.counters}
    remaining = list(evidence.streams)
    findings: list[Finding] = []
    first_scores: list[float] | None = None
    for _ in range(MAX_FINDINGS):
        ranked = hypotheses(remaining, baseline)
        if first_scores is None:
            first_scores = [h.score for h in ranked]
        if not ranked or ranked[0].gain < MIN_GAIN or ranked[0].lost < MIN_LOST:
            break
        best = ranked[0]
        component = best.component
        node_counters = counters.get((component.cluster, component.node))
        layer = LAYER[component.kind]
        if (
            component.kind is Kind.UPLINK
            and node_counters is not None
            and node_counters.nic_drops + node_counters.allowance_exceeded > 0
        ):
            layer = Layer.VIRTUAL
        members = set(best.streams)
        elsewhere = [s for s in remaining if s not in members and s.source.cluster == component.cluster]
        p50, p99 = _rtt(best.streams)
        findings.append(
            Finding(
                layer=layer,
                component=component,
                probes=best.probes,
                lost=best.lost,
                confidence=round(posterior(best.score, [h.score for h in ranked]), 3),
                gain=round(best.gain, 1),
                elsewhere_probes=sum(s.probes for s in elsewhere),
                elsewhere_lost=sum(s.lost for s in elsewhere),
                by_path=_by_path(best.streams),
                rtt_p50_ms=p50,
                rtt_p99_ms=p99,
                counters=node_counters,
            )
        )
        blamed = scope(component, nodes.get(component.cluster, []))
        remaining = [
            s
            for s in remaining
            if s not in members and not (touches(s, nodes.get(s.source.cluster, [])) & blamed)
        ]
    healthy = healthy_posterior(first_scores or [])
    return Diagnosis(tuple(findings), evidence, round(healthy, 3))

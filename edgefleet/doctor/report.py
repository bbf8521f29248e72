"""The verdicts for people (text) and programs (``edgefleet.doctor/v1`` JSON), the coverage check
that keeps a half-measured fleet from being called healthy, and the measured RTT matrix
(``edgefleet.rtt/v1``) beside the placement model's estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from edgefleet.components.placement.latency import LatencyModel, haversine_km
from edgefleet.doctor.attribution import Component, Diagnosis, Finding, Kind, Layer
from edgefleet.doctor.evidence import DropCount, Evidence

FORMAT = "edgefleet.doctor/v1"
RTT_FORMAT = "edgefleet.rtt/v1"
EXIT_HEALTHY = 0
EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
REQUIRED_PATHS = ("host", "pod-same-node", "pod-cross-node", "service")


@dataclass(frozen=True)
class Context:
    """How to phrase next steps (``lab``: the namespaces to look into), where the clusters are, and
    which have no WAN probes by design (``netcheck.wan``: cluster -> why; known with a STACK)."""

    lab: bool = False
    locations: Mapping[str, tuple[float, float]] | None = None  # cluster -> (lat, lon)
    wan_skipped: Mapping[str, str] = field(default_factory=dict)


def by_design(context: Context) -> list[str]:
    """What is not measured because the stack's config says so: notes, not gaps."""
    return [f"cluster {c}: no WAN probes by design ({why})" for c, why in sorted(context.wan_skipped.items())]


def coverage(evidence: Evidence, context: Context | None = None) -> list[str]:
    """What was not measured, one line each: a path missing in a cluster, WAN probes missing
    (between two clusters that should have them: not one the config leaves without)."""
    skipped = context.wan_skipped if context is not None else {}
    gaps = []
    clusters = evidence.clusters()
    for cluster in clusters:
        paths = {s.path for s in evidence.streams if s.source.cluster == cluster}
        if not paths:
            gaps.append(f"cluster {cluster}: agents answer but report no probe results yet")
            continue
        missing = [p for p in REQUIRED_PATHS if p not in paths]
        if missing:
            gaps.append(f"cluster {cluster}: no {', '.join(missing)} probes: that part of the network is not measured")
        cross = [s for s in evidence.streams if s.source.cluster == cluster and s.path == "pod-cross-node"]
        if cross and not any(s.large for s in cross):
            gaps.append(f"cluster {cluster}: no near-MTU probes across nodes: an MTU black hole would go unseen")
    if len(clusters) > 1:
        linked = {frozenset((s.source.cluster, s.destination.cluster)) for s in evidence.streams if s.path == "wan"}
        for i, a in enumerate(clusters):
            for b in clusters[i + 1 :]:
                if frozenset((a, b)) not in linked and a not in skipped and b not in skipped:
                    gaps.append(f"locations {a} and {b}: no WAN probes between them")
    return gaps


def describe(component: Component, layer: Layer) -> tuple[str, dict[str, Any]]:
    """The component's name in a finding, and its ``where``."""
    kind = component.kind
    if kind is Kind.UPLINK:
        name = "node NIC" if layer is Layer.VIRTUAL else "node uplink"
        return name, {"cluster": component.cluster, "node": component.node}
    if kind is Kind.ZONE:
        return "zone link", {"cluster": component.cluster, "zones": component.other.split("|")}
    if kind is Kind.WAN:
        return "WAN path", {"locations": [component.cluster, component.other]}
    if kind is Kind.OVERLAY:
        return "overlay (CNI) on a node", {"cluster": component.cluster, "node": component.node}
    if kind is Kind.MTU:
        return "MTU black hole on the overlay", {"cluster": component.cluster}
    if kind is Kind.VETH:
        return "pod veth", {"cluster": component.cluster, "node": component.node, "pod": component.pod}
    return "service path", {"cluster": component.cluster}


def where_text(where: Mapping[str, Any]) -> str:
    if "locations" in where:
        return " <-> ".join(where["locations"])
    parts = [where["cluster"]]
    if "zones" in where:
        parts.append("zones " + " <-> ".join(where["zones"]))
    parts += [where[k] for k in ("node", "pod") if k in where]
    return "/".join(parts)


def next_step(component: Component, layer: Layer, context: Context) -> str:
    """What to check next: the command or the setting."""
    c, n, p = component.cluster, component.node, component.pod
    kind = component.kind
    if context.lab:
        namespaces = {
            Kind.UPLINK: f"ef-{c}-{n}",
            Kind.OVERLAY: f"ef-{c}-{n}",
            Kind.VETH: f"ef-{c}-{n}-{p}",
            Kind.ZONE: f"ef-{c}-fabric",
            Kind.WAN: "ef-wan",
            Kind.MTU: f"ef-{c}-n1",
            Kind.SERVICE: f"ef-{c}-n1",
        }
        if kind is Kind.UPLINK and layer is Layer.VIRTUAL:
            return (
                f"its NIC's drop counters grew: `ip netns exec ef-{c}-{n} ip -s link show eth0` (TX dropped), "
                f"and its link in the fabric: `ip -n ef-{c}-fabric link show {n}`; `edgefleet lab clear` removes "
                "injected faults"
            )
        return (
            f"look at the rules there: `ip netns exec {namespaces[kind]} nft list ruleset`; "
            "`edgefleet lab clear` removes injected faults"
        )
    if kind is Kind.UPLINK and layer is Layer.VIRTUAL:
        return (
            f"node {n}'s VM NIC drops (allowance or driver counters grew): `ethtool -S eth0 | grep -E "
            "'allowance|drop'` on the node; move to an instance type with more bandwidth/PPS or spread the load"
        )
    steps = {
        Kind.UPLINK: f"node {n}'s link to the network, not Kubernetes: check the host's NIC and port "
        f"(`ethtool -S`, the provider's host status); `kubectl cordon {n}` and drain it if the loss persists",
        Kind.ZONE: f"the fabric between zones {component.other.replace('|', ' and ')} of {c}: open a case with "
        "the provider or network team with these figures; keep traffic zone-local meanwhile",
        Kind.WAN: f"the path between {c} and {component.other} (ISP, interconnect, VPN or a load balancer): "
        "each location's probe address is `kubectl -n edgefleet-netcheck get service netprobe-wan` (EXTERNAL-IP); "
        "`mtr --udp --port 9798` from a node of one to the other's; steer users away from the lossy pair meanwhile",
        Kind.OVERLAY: f"the CNI on node {n}: its agent's logs (`kubectl -n kube-system logs` the CNI pod on {n}), "
        "the tunnel device (`ip -d link show` cilium_vxlan / flannel.1 / vxlan.calico); restart the CNI agent there",
        Kind.MTU: "an MTU black hole: near-MTU packets with DF set vanish on the overlay. Set the CNI's MTU to the "
        "underlay MTU minus the encapsulation (VXLAN 50 B, WireGuard 60 B IPv4 / 80 B IPv6); compare `ip link` MTUs",
        Kind.VETH: f"pod {p} on {n}: its NetworkPolicies (`kubectl get networkpolicy -A`), its veth on the node "
        "(`ip -s link`), the CNI's drop reasons (Hubble `hubble observe --verdict DROPPED`)",
        Kind.SERVICE: "the service load balancer (kube-proxy or eBPF): `conntrack -S` (insert_failed, early_drop), "
        "kube-proxy's logs, the Service's endpoints (`kubectl get endpointslices`)",
    }
    return steps[kind]


HUBBLE_KINDS = (Kind.VETH, Kind.OVERLAY, Kind.MTU, Kind.SERVICE)


def hubble_evidence(finding: Finding, evidence: Evidence) -> list[DropCount]:
    """Hubble's drops where a Kubernetes-layer finding sits: the node of a veth or overlay, every
    node of the cluster for the MTU or the service path; most first."""
    component = finding.component
    if component.kind not in HUBBLE_KINDS or not evidence.drops:
        return []
    nodes = {component.node} if component.node else set(evidence.nodes(component.cluster))
    found = [d for d in evidence.drops if d.node in nodes and d.cluster in ("", component.cluster)]
    return sorted(found, key=lambda d: (-d.count, d.node, d.reason))


def hubble_step(drops: Sequence[DropCount]) -> str:
    """The next step's Hubble part: the top reasons, and where to watch them."""
    reasons: dict[str, int] = {}
    for d in drops:
        reasons[d.reason] = reasons.get(d.reason, 0) + d.count
    top = ", ".join(f"{r} +{n}" for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
    nodes = sorted({d.node for d in drops})
    where = f" --node-name {nodes[0]}" if len(nodes) == 1 else ""
    return f"; Hubble counted drops there ({top}): `hubble observe --verdict DROPPED{where}` shows each one"


def finding_json(finding: Finding, context: Context, evidence: Evidence | None = None) -> dict[str, Any]:
    component, where = describe(finding.component, finding.layer)
    figures: dict[str, Any] = {
        "loss_ratio": round(finding.loss, 5),
        "lost": finding.lost,
        "probes": finding.probes,
        "elsewhere_loss_ratio": round(finding.elsewhere_lost / finding.elsewhere_probes, 5)
        if finding.elsewhere_probes
        else None,
        "elsewhere_probes": finding.elsewhere_probes,
        "rtt_p50_ms": finding.rtt_p50_ms,
        "rtt_p99_ms": finding.rtt_p99_ms,
        "by_path": [
            {"path": path, "probes": probes, "lost": lost, "loss_ratio": round(lost / probes, 5) if probes else None}
            for path, probes, lost in finding.by_path
        ],
    }
    if finding.counters is not None:
        figures["counters"] = {
            "nic_drops": finding.counters.nic_drops,
            "nic_allowance_exceeded": finding.counters.allowance_exceeded,
            "conntrack_drops": finding.counters.conntrack_drops,
        }
    step = next_step(finding.component, finding.layer, context)
    drops = hubble_evidence(finding, evidence) if evidence is not None else []
    if drops:
        figures["hubble_drops"] = [{"node": d.node, "reason": d.reason, "count": d.count} for d in drops]
        step += hubble_step(drops)
    return {
        "layer": finding.layer.value,
        "component": component,
        "kind": finding.component.kind.value,
        "where": where,
        "figures": figures,
        "confidence": finding.confidence,
        "support_nats": finding.gain,
        "next_step": step,
    }


def rtt_matrix(evidence: Evidence, context: Context) -> list[dict[str, Any]]:
    """Measured RTT between every pair of locations (median of the designated probes' p50, and
    the worst p99), with the placement model's estimate for the same pair beside it."""
    pairs: dict[tuple[str, str], list[tuple[float | None, float | None, int]]] = {}
    for s in evidence.streams:
        if s.path != "wan":
            continue
        a, b = sorted((s.source.cluster, s.destination.cluster))
        pairs.setdefault((a, b), []).append((s.rtt_p50_ms, s.rtt_p99_ms, s.probes))
    model = LatencyModel(access_ms=0.0)  # between sites: no last mile
    rows = []
    for (a, b), values in sorted(pairs.items()):
        p50 = [v[0] for v in values if v[0] is not None]
        p99 = [v[1] for v in values if v[1] is not None]
        estimate = None
        if context.locations and a in context.locations and b in context.locations:
            distance = haversine_km(*context.locations[a], *context.locations[b])
            estimate = round(float(model.rtt_ms(distance)), 2)
        rows.append(
            {
                "a": a,
                "b": b,
                "measured_p50_ms": round(median(p50), 3) if p50 else None,
                "measured_p99_ms": round(max(p99), 3) if p99 else None,
                "model_ms": estimate,
                "probes": sum(v[2] for v in values),
            }
        )
    return rows


def document(
    diagnosis: Diagnosis, context: Context, source: str, *, unreachable: Sequence[str] = ()
) -> tuple[dict[str, Any], int]:
    """The ``edgefleet.doctor/v1`` document and the exit code it means."""
    evidence = diagnosis.evidence
    findings = [finding_json(f, context, evidence) for f in diagnosis.findings]
    gaps = coverage(evidence, context)
    faulty = {f["where"].get("cluster") for f in findings} | {
        c for f in findings for c in f["where"].get("locations", [])
    }
    clusters = []
    for cluster in evidence.clusters():
        streams = [s for s in evidence.streams if s.source.cluster == cluster]
        measured = not any(g.startswith(f"cluster {cluster}:") for g in gaps)
        status = "fault" if cluster in faulty else ("healthy" if measured else "incomplete")
        clusters.append(
            {
                "name": cluster,
                "status": status,
                "agents": sum(1 for a in evidence.agents if a.cluster == cluster),
                "streams": len(streams),
                "probes": sum(s.probes for s in streams),
                "lost": sum(s.lost for s in streams),
            }
        )
    problems = [*unreachable, *evidence.problems, *gaps]
    if findings:
        status, code = "fault", EXIT_FAULT
    elif unreachable or evidence.problems:
        status, code = "incomplete", EXIT_UNREACHABLE
    elif gaps:
        status, code = "incomplete", EXIT_BAD_INPUT
    else:
        status, code = "healthy", EXIT_HEALTHY
    doc = {
        "format": FORMAT,
        "source": source,
        "window_seconds": evidence.window_seconds,
        "status": status,
        "healthy_confidence": diagnosis.healthy_confidence if not findings else None,
        "findings": findings,
        "clusters": clusters,
        "rtt_matrix": rtt_matrix(evidence, context),
        "problems": problems,
        "notes": by_design(context),
    }
    return doc, code


def text(doc: Mapping[str, Any]) -> list[str]:
    """The document as lines for a person at 3 a.m.: the verdict first, then the evidence."""
    lines = []
    status = doc["status"]
    n = len(doc["clusters"])
    if status == "healthy":
        lines.append(
            f"HEALTHY: {n} cluster(s), no component loses more than the baseline over {doc['window_seconds']:g} s "
            f"(confidence {doc['healthy_confidence']:.3f})"
        )
    elif status == "incomplete":
        lines.append("INCOMPLETE: no fault found in what was measured, but not everything was measured (below)")
    for f in doc["findings"]:
        fig = f["figures"]
        elsewhere = fig["elsewhere_loss_ratio"]
        lines.append(
            f"FAULT {f['layer']} layer: {f['component']} at {where_text(f['where'])}: "
            f"{fig['loss_ratio']:.2%} lost ({fig['lost']}/{fig['probes']} probes)"
            + (f", {elsewhere:.2%} elsewhere in the cluster" if elsewhere is not None else "")
            + f"; confidence {f['confidence']:.3f}"
        )
        for row in fig["by_path"]:
            lines.append(f"  {row['path']:<22} {row['loss_ratio']:.2%} ({row['lost']}/{row['probes']})")
        if fig["rtt_p50_ms"] is not None:
            lines.append(f"  rtt p50 {fig['rtt_p50_ms']:.3f} ms, p99 {fig['rtt_p99_ms']:.3f} ms")
        if "hubble_drops" in fig:
            shown = ", ".join(f"{d['node']} {d['reason']} +{d['count']}" for d in fig["hubble_drops"][:5])
            more = len(fig["hubble_drops"]) - 5
            lines.append(f"  hubble drops: {shown}" + (f" (and {more} more)" if more > 0 else ""))
        if "counters" in fig:
            c = fig["counters"]
            lines.append(
                f"  node counters: NIC drops +{c['nic_drops']}, allowance exceeded +{c['nic_allowance_exceeded']}, "
                f"conntrack drops +{c['conntrack_drops']}"
            )
        lines.append(f"  next: {f['next_step']}")
    for c in doc["clusters"]:
        loss = c["lost"] / c["probes"] if c["probes"] else 0.0
        lines.append(
            f"cluster {c['name']}: {c['status']} ({c['agents']} agents, {c['streams']} streams, "
            f"{c['probes']} probes, {loss:.2%} lost overall)"
        )
    for row in doc["rtt_matrix"]:
        model = f", model {row['model_ms']:.2f} ms" if row["model_ms"] is not None else ""
        measured = f"{row['measured_p50_ms']:.3f} ms" if row["measured_p50_ms"] is not None else "no replies"
        lines.append(f"rtt {row['a']} <-> {row['b']}: measured p50 {measured}{model}")
    for problem in doc["problems"]:
        lines.append(f"note: {problem}")
    for note in doc.get("notes", []):
        lines.append(f"note: {note}")
    return lines


def rtt_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The ``edgefleet.rtt/v1`` file: the measured matrix for latency placement."""
    return {"format": RTT_FORMAT, "source": doc["source"], "pairs": doc["rtt_matrix"]}

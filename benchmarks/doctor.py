"""Doctor benchmark on a real network: the lab, real nftables faults, the real agents, the verdicts.

For every fault kind (one node's uplink, the zone link, the overlay on one node, an MTU black hole,
one pod's veth, the Service path, the WAN between two locations), every loss rate (1%, 3%, 10%)
and several trials (the target picked at random per trial), plus healthy runs: inject the fault
with ``lab.inject``, run the doctor over one window (two scrapes of every agent), compare its
first finding with the fault injected, clear, and let in-flight probes resolve.

A verdict is **right** when the first finding names the injected component (layer, component and
where); **wrong** when it names another; **missed** when there is none; **extra** counts fault runs
with more than one finding; a **false alarm** is a finding on a healthy run. Time to verdict:
from the injection to the verdict. Needs root, iproute2 and nftables (docs/doctor.md).

    .venv/bin/python benchmarks/doctor.py                       # 2 x 3 lab, 3 trials, 15 s windows
    .venv/bin/python benchmarks/doctor.py --trials 1 --window 10 --json out/doctor-bench.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgefleet.doctor import collect, lab
from edgefleet.doctor.attribution import LAYER, Component, Finding, Kind, Layer, diagnose
from edgefleet.doctor.report import describe

KINDS = {
    "uplink": Kind.UPLINK,
    "zone": Kind.ZONE,
    "overlay": Kind.OVERLAY,
    "mtu": Kind.MTU,
    "veth": Kind.VETH,
    "service": Kind.SERVICE,
    "wan": Kind.WAN,
    "nic": Kind.UPLINK,  # the node's link taken away part of every second: its NIC, virtual
}


@dataclass(frozen=True)
class Run:
    kind: str  # "healthy" or a fault kind
    loss: float
    target: str
    expected: tuple[str, str, str] | None
    got: tuple[str, str, str] | None
    findings: int
    seconds: float

    @property
    def outcome(self) -> str:
        if self.expected is None:
            return "false alarm" if self.findings else "right"
        if self.got is None:
            return "missed"
        return "right" if self.got == self.expected else "wrong"


def _key(layer: Layer, component: Component) -> tuple[str, str, str]:
    name, where = describe(component, layer)
    return layer.value, name, json.dumps(where, sort_keys=True)


def expected_of(kind: str, target: str) -> tuple[str, str, str]:
    """The verdict a fault should get: its layer, component and where."""
    k = KINDS[kind]
    if kind == "nic":
        cluster, node = target.split("-")
        return _key(Layer.VIRTUAL, Component(k, cluster, node))
    if kind in ("uplink", "overlay"):
        cluster, node = target.split("-")
        component = Component(k, cluster, node)
    elif kind == "veth":
        cluster, node, pod = target.split("-")
        component = Component(k, cluster, node, pod)
    elif kind == "wan":
        a, b = sorted(target.split(":"))
        component = Component(k, a, other=b)
    elif kind == "zone":
        component = Component(k, target, other="a|b")
    else:
        component = Component(k, target)
    return _key(LAYER[k], component)


def pick_target(kind: str, topo: lab.Topology, rng: random.Random) -> str:
    cluster = rng.choice(topo.clusters)
    node = f"n{rng.randint(1, topo.nodes)}"
    if kind in ("uplink", "overlay", "nic"):
        return f"{cluster}-{node}"
    if kind == "veth":
        return f"{cluster}-{node}-p{rng.randint(1, lab.PODS_PER_NODE)}"
    if kind == "wan":
        a, b = rng.sample(topo.clusters, 2)
        return f"{a}:{b}"
    return cluster


def verdict(topo: lab.Topology, window: float) -> tuple[list[Finding], float]:
    started = time.monotonic()
    evidence = collect.from_agents([a.metrics_url for a in topo.agents], window)
    return list(diagnose(evidence).findings), time.monotonic() - started


def run_one(topo: lab.Topology, kind: str, target: str, loss: float, window: float) -> Run:
    expected = None
    injected = time.monotonic()
    if kind != "healthy":
        lab.inject(lab.fault_rules(topo, kind, target, loss))
        expected = expected_of(kind, target)
    try:
        findings, _ = verdict(topo, window)
        seconds = time.monotonic() - injected
    finally:
        lab.clear(topo)
        time.sleep(2.5)  # probes in flight at the clear resolve before the next window
    got = _key(findings[0].layer, findings[0].component) if findings else None
    return Run(kind, loss, target, expected, got, len(findings), seconds)


def table(runs: list[Run]) -> list[str]:
    lines = [
        "| fault | loss | runs | right | wrong | missed | extra findings | time to verdict (median / max s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    groups: dict[tuple[str, float], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.kind, r.loss), []).append(r)
    for (kind, loss), members in groups.items():
        count = {o: sum(1 for r in members if r.outcome == o) for o in ("right", "wrong", "missed", "false alarm")}
        times = [r.seconds for r in members]
        label = "healthy" if kind == "healthy" else f"{loss:g}%"
        if kind == "healthy":
            lines.append(
                f"| healthy | - | {len(members)} | {count['right']} | - | - | false alarms: {count['false alarm']} "
                f"| {statistics.median(times):.1f} / {max(times):.1f} |"
            )
            continue
        extra = sum(1 for r in members if r.findings > 1)
        lines.append(
            f"| {kind} | {label} | {len(members)} | {count['right']} | {count['wrong']} | {count['missed']} | {extra} "
            f"| {statistics.median(times):.1f} / {max(times):.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rate", type=float, default=25.0, help="probes per second per stream")
    parser.add_argument("--window", type=float, default=15.0, help="seconds per verdict")
    parser.add_argument("--trials", type=int, default=3, help="trials per fault kind and loss rate")
    parser.add_argument("--healthy", type=int, default=6, help="healthy runs")
    parser.add_argument("--losses", default="1,3,10", help="loss rates in percent")
    parser.add_argument("--kinds", default=",".join(KINDS), help="fault kinds")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    topo = lab.topology(args.clusters, args.nodes, args.rate)
    lab.check_available()
    print(f"lab: {args.clusters} x {args.nodes} nodes, {len(topo.agents)} agents, {args.rate:g} probes/s per stream, "
          f"{args.window:g} s windows; {platform.machine()}, Python {platform.python_version()}")
    lab.up(topo)
    runs: list[Run] = []
    try:
        time.sleep(3)
        plan: list[tuple[str, float, str]] = [("healthy", 0.0, "-") for _ in range(args.healthy)]
        for kind in args.kinds.split(","):
            for loss in (float(x) for x in args.losses.split(",")):
                plan += [(kind, loss, pick_target(kind, topo, rng)) for _ in range(args.trials)]
        rng.shuffle(plan)
        for i, (kind, loss, target) in enumerate(plan, 1):
            run = run_one(topo, kind, target, loss, args.window)
            runs.append(run)
            print(f"[{i}/{len(plan)}] {kind} {target} {loss:g}%: {run.outcome} ({run.got}) {run.seconds:.1f} s",
                  flush=True)  # fmt: skip
    finally:
        lab.down()
    order = ["healthy", *args.kinds.split(",")]
    runs.sort(key=lambda r: (order.index(r.kind), r.loss))
    print()
    print("\n".join(table(runs)))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ | {"outcome": r.outcome} for r in runs], indent=1))


if __name__ == "__main__":
    main()

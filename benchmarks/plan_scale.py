"""Plan time and memory against fleet size, and against the Pulumi SDK's own floor.

For fleets of N `existing` clusters (the world's largest cities, one per city) with 10 workloads
placed `everywhere`, plan offline exactly as `edgefleet plan` does (the real program under the
SDK's mock engine) and print, per size: resources registered, wall time, peak Python memory, and
the ratio to the floor: the same number of bare resources registered under the same mocks with no
edgefleet code. Numbers are printed, never asserted.

    .venv/bin/python benchmarks/plan_scale.py            # 10, 50, 200 clusters
    .venv/bin/python benchmarks/plan_scale.py 10 50      # chosen sizes
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pulumi

from edgefleet.components.config.source import parse_stack_text
from edgefleet.components.placement.cities import world_cities
from edgefleet.engine import run_program, run_under_mocks

REPO = Path(__file__).resolve().parent.parent
WORKLOADS = 10


def fleet_yaml(clusters: int) -> str:
    rows = sorted(world_cities().values(), key=lambda r: (-int(r["population"]), int(r["geonameid"])))
    lines = [
        "config:",
        "  edgefleet:fleet:",
        "    environment: bench",
        "    owner: platform-team",
        "    defaults: {cni: {plugin: cilium, installed: true}}",
        "    clusters:",
    ]
    for i, row in enumerate(rows[:clusters]):
        lat, lon = round(float(row["latitude"]), 4), round(float(row["longitude"]), 4)
        country = str(row["countrycode"]).upper()
        where = f"{{lat: {lat}, lon: {lon}, country: {country}}}"
        lines.append(f"      - {{vendor: existing, name: site-{i:04d}, location: {where}}}")
    lines.append("    workloads:")
    for w in range(WORKLOADS):
        lines.append(
            f"      - {{name: svc-{w:02d}, image: 'ghcr.io/acme/svc:1.0.{w}', port: {8000 + w}, "
            f"replicas: {clusters * 2}, placement: {{strategy: everywhere}}}}"
        )
    return "\n".join(lines) + "\n"


def _bare(count: int) -> None:
    for i in range(count):
        pulumi.CustomResource("bench:index:Bare", f"bare-{i}", {})


def one(kind: str, n: int) -> dict[str, float]:
    """One measurement in this (fresh) process: wall time of the run, peak RSS of the process."""
    if kind == "plan":
        source = parse_stack_text(fleet_yaml(n), f"stacks/Pulumi.bench-{n}.yaml", f"bench-{n}")
        start = time.perf_counter()
        result = run_program(REPO, source)
    else:
        start = time.perf_counter()
        result = run_under_mocks(lambda: _bare(n), stack="floor", project_dir=REPO)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"resources": len(result.registrations), "seconds": seconds, "peak_mib": peak_mib}


def _child(kind: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, f"--{kind}", str(n)], capture_output=True, text=True, check=True, cwd=REPO
    )
    data: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main(sizes: list[int]) -> None:
    print(f"# plan scale: N existing clusters x {WORKLOADS} workloads (everywhere), offline, this machine\n")
    print("each run in a fresh process; peak = the process's max RSS (Python, the SDK and the data included)\n")
    print("| clusters | resources | plan s | floor s | ratio | plan peak MiB | floor peak MiB | ms/resource |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        plan = _child("plan", n)
        count = int(plan["resources"])
        bare = _child("floor", count - 1)  # the root stack is registered by both
        print(
            f"| {n} | {count} | {plan['seconds']:.2f} | {bare['seconds']:.2f} | "
            f"{plan['seconds'] / bare['seconds']:.2f}x | {plan['peak_mib']:.0f} | {bare['peak_mib']:.0f} | "
            f"{1000 * plan['seconds'] / count:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 2 and args[0] in ("--plan", "--floor"):
        print(json.dumps(one(args[0][2:], int(args[1]))))
    else:
        main([int(a) for a in args] or [10, 50, 200])

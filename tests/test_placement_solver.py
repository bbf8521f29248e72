"""The placement core: latency model, demand presets, the p-median solver, replicas and metrics.

Known answers on hand-made instances, brute force against the default and exact methods on random
small instances, and hypothesis properties (constraints hold, bounds are bounds, replicas sum
exactly, the same input gives the same output whatever the order of the points).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from random import Random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgefleet.components.placement.demand import DemandPoint, normalise, preset
from edgefleet.components.placement.geo import DEMAND_PRESETS, RESIDENCY_GROUPS
from edgefleet.components.placement.latency import EARTH_RADIUS_KM, LatencyModel, distance_matrix, haversine_km
from edgefleet.components.placement.solver import (
    Infeasible,
    Problem,
    Solution,
    exhaustive,
    greedy,
    metrics,
    milp,
    replicas,
    solve,
    weighted_quantile,
)

VENDORS = ("aws", "azure", "gcp")
PROPERTIES = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def line_problem(
    points: list[float],
    sites: list[float],
    *,
    weights: list[float] | None = None,
    vendors: tuple[str, ...] | None = None,
    k: int = 1,
    min_sites: int = 1,
    min_vendors: int = 1,
    must_include: tuple[int, ...] = (),
) -> Problem:
    """Points and sites on a line: distance |x - y|; sites named s0, s1, ... (sorted by index)."""
    d = np.abs(np.array(points, dtype=float)[:, None] - np.array(sites, dtype=float)[None, :])
    return Problem(
        distance=d,
        weights=np.ones(len(points)) if weights is None else np.array(weights, dtype=float),
        site_names=tuple(f"s{j:02d}" for j in range(len(sites))),
        site_vendors=vendors or ("aws",) * len(sites),
        min_sites=min_sites,
        max_sites=k,
        min_vendors=min_vendors,
        must_include=must_include,
    )


def brute_force(problem: Problem) -> float | None:
    """The optimum by enumeration, written independently of the solver (None: infeasible)."""
    w = problem.weights / problem.weights.sum()
    best: float | None = None
    for size in range(max(problem.min_sites, 1), min(problem.max_sites, problem.n_sites) + 1):
        for combo in itertools.combinations(range(problem.n_sites), size):
            if not set(problem.must_include) <= set(combo):
                continue
            if len({problem.site_vendors[j] for j in combo}) < problem.min_vendors:
                continue
            value = float(w @ problem.distance[:, list(combo)].min(axis=1))
            best = value if best is None else min(best, value)
    return best


def random_problem(seed: int, *, max_sites: int = 8, max_k: int = 3) -> Problem:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 40)), int(rng.integers(1, max_sites + 1))
    pts, sts = rng.random((n, 2)) * 1000, rng.random((m, 2)) * 1000
    must = tuple(int(j) for j in rng.choice(m, size=int(rng.integers(0, 2)), replace=False))
    return Problem(
        distance=np.linalg.norm(pts[:, None] - sts[None, :], axis=2),
        weights=rng.random(n) + 0.01,
        site_names=tuple(f"s{j}" for j in range(m)),
        site_vendors=tuple(str(v) for v in rng.choice(VENDORS, size=m)),
        min_sites=1,
        max_sites=int(rng.integers(1, max_k + 1)),
        min_vendors=int(rng.integers(1, 3)),
        must_include=must,
    )


def check_constraints(problem: Problem, solution: Solution) -> None:
    sites = solution.sites
    assert list(sites) == sorted(set(sites))
    assert problem.min_sites <= len(sites) <= problem.max_sites
    assert len(sites) == problem.n_open
    assert set(problem.must_include) <= set(sites)
    assert len({problem.site_vendors[j] for j in sites}) >= problem.min_vendors
    # Every point is assigned to its nearest open site.
    d = problem.distance
    assigned = d[np.arange(problem.n_points), list(solution.assignment)]
    np.testing.assert_allclose(assigned, d[:, list(sites)].min(axis=1))
    assert solution.lower_bound <= solution.objective + 1e-9
    assert 0.0 <= solution.gap <= 1.0


# --- latency model ---------------------------------------------------------------------------------


def test_latency_model_defaults() -> None:
    model = LatencyModel()
    assert (model.inflation, model.access_ms) == (2.1, 10.0)
    assert model.rtt_ms(1000.0) == pytest.approx(31.0)  # 10 + 2.1 x 10
    assert model.rtt_ms(0.0) == pytest.approx(10.0)
    assert model.bound_ms(1000.0) == pytest.approx(10.0)  # light in fiber: 1 ms per 100 km
    assert LatencyModel(inflation=1.3, access_ms=0.0).rtt_ms(2000.0) == pytest.approx(26.0)
    np.testing.assert_allclose(model.rtt_ms(np.array([0.0, 100.0, 1000.0])), [10.0, 12.1, 31.0])


def test_latency_model_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="inflation"):
        LatencyModel(inflation=0.5)
    with pytest.raises(ValueError, match="access_ms"):
        LatencyModel(access_ms=-1.0)


def test_haversine_known_distances() -> None:
    one_degree = 2 * math.pi * EARTH_RADIUS_KM / 360
    assert haversine_km(0, 0, 0, 1) == pytest.approx(one_degree)
    assert haversine_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)  # antipodal: no NaN
    assert haversine_km(48.8566, 2.3522, 48.8566, 2.3522) == 0.0
    # London - New York, about 5,570 km.
    assert haversine_km(51.5074, -0.1278, 40.7128, -74.0060) == pytest.approx(5570, rel=0.005)
    d = distance_matrix([(0, 0), (10, 20), (-30, 170)], [(0, 0), (-30, -170)])
    assert d.shape == (3, 2)
    assert d[0, 0] == 0.0
    assert d[2, 1] == pytest.approx(haversine_km(-30, 170, -30, -170))
    np.testing.assert_allclose(distance_matrix([(10, 20)], [(-30, 170)]), distance_matrix([(-30, 170)], [(10, 20)]))


# --- demand ----------------------------------------------------------------------------------------


def test_preset_eu_only_eu_and_normalised() -> None:
    points = preset("eu", 300)
    assert len(points) == 300
    assert sum(p.weight for p in points) == pytest.approx(1.0, abs=1e-12)
    assert all(p.weight > 0 for p in points)
    countries = {p.label.rsplit(", ", 1)[1] for p in points}
    assert countries <= RESIDENCY_GROUPS["EU"]
    assert {"DE", "FR", "ES", "IT", "PL"} <= countries
    # Sorted by population: Berlin is the largest EU city in the data.
    assert points[0].label == "Berlin, DE"


def test_preset_deterministic_and_cached() -> None:
    first = preset("oceania", 50)
    assert preset("oceania", 50) is first  # cached
    preset.cache_clear()
    again = preset("oceania", 50)
    assert again == first
    assert again is not first
    assert len(first) == 50
    assert first[0].label.endswith(", AU")


def test_preset_aggregation_keeps_total_and_bounds_points() -> None:
    world = preset("world", 200)
    assert len(world) == 200
    assert sum(p.weight for p in world) == pytest.approx(1.0, abs=1e-12)
    # Aggregation adds the smaller cities' people to the largest cities: the largest gain weight
    # beyond their own population share of the kept cities.
    weights = [p.weight for p in world]
    assert max(weights) < 0.05


@pytest.mark.parametrize("name", DEMAND_PRESETS)
def test_every_preset_builds(name: str) -> None:
    points = preset(name, 100)
    assert 1 <= len(points) <= 100
    assert sum(p.weight for p in points) == pytest.approx(1.0, abs=1e-12)


def test_preset_errors() -> None:
    with pytest.raises(ValueError, match="unknown demand preset 'mars'"):
        preset("mars")
    with pytest.raises(ValueError, match="max_points"):
        preset("world", 0)


def test_normalise() -> None:
    pts = normalise([DemandPoint(0, 0, 2.0, "a"), DemandPoint(1, 1, 6.0, "b")])
    assert [p.weight for p in pts] == [0.25, 0.75]
    assert pts[1].label == "b"
    with pytest.raises(ValueError, match="no demand points"):
        normalise([])
    with pytest.raises(ValueError, match="sum to 0"):
        normalise([DemandPoint(0, 0, 0.0, "a")])
    with pytest.raises(ValueError, match="non-negative"):
        normalise([DemandPoint(0, 0, -1.0, "a"), DemandPoint(0, 0, 2.0, "b")])


# --- known answers -------------------------------------------------------------------------------


ALL_METHODS: tuple[Callable[[Problem], Solution], ...] = (solve, exhaustive, milp, lambda p: solve(p, exact=True))


@pytest.mark.parametrize("method", ALL_METHODS, ids=["default", "exhaustive", "milp", "exact"])
def test_two_clusters_on_a_line(method: Callable[[Problem], Solution]) -> None:
    # Two clusters of three points; the medians are the sites at 1 and 11.
    problem = line_problem([0, 1, 2, 10, 11, 12], list(range(13)), k=2)
    solution = method(problem)
    assert solution.sites == (1, 11)
    assert solution.objective == pytest.approx(4 / 6)
    assert solution.assignment == (1, 1, 1, 11, 11, 11)
    assert solution.lower_bound <= solution.objective + 1e-12


@pytest.mark.parametrize("method", ALL_METHODS, ids=["default", "exhaustive", "milp", "exact"])
def test_weighted_median(method: Callable[[Problem], Solution]) -> None:
    # One site: the weighted median, not the mean.
    problem = line_problem([0, 10, 100], [0, 10, 50, 100], weights=[1, 5, 1], k=1)
    assert method(problem).sites == (1,)


@pytest.mark.parametrize("method", ALL_METHODS, ids=["default", "exhaustive", "milp", "exact"])
def test_min_vendors_forces_a_second_vendor(method: Callable[[Problem], Solution]) -> None:
    # Best pair is {1, 11} (both aws); with two vendors the gcp site at 12 replaces 11.
    problem = line_problem(
        [0, 1, 2, 10, 11, 12], [1, 11, 12, 30], vendors=("aws", "aws", "gcp", "gcp"), k=2, min_vendors=2
    )
    solution = method(problem)
    assert solution.sites == (0, 2)
    assert solution.objective == pytest.approx(5 / 6)


@pytest.mark.parametrize("method", ALL_METHODS, ids=["default", "exhaustive", "milp", "exact"])
def test_must_include_kept(method: Callable[[Problem], Solution]) -> None:
    # The site at 40 is forced; the other slot goes to the heavier cluster (around 11), not the best
    # pair {1, 11}.
    problem = line_problem([0, 1, 2, 10, 11, 12, 12], [1, 11, 40], k=2, must_include=(2,))
    solution = method(problem)
    assert solution.sites == (1, 2)
    assert solution.objective == pytest.approx((11 + 10 + 9 + 1 + 0 + 1 + 1) / 7)


def test_ties_broken_by_name() -> None:
    # Two sites equally good: the first by name (index) wins, in every method that promises it.
    problem = line_problem([0, 10], [0, 10], k=1)
    assert solve(problem).sites == (0,)
    assert exhaustive(problem).sites == (0,)
    assert greedy(problem).sites == (0,)


def test_more_sites_than_eligible_opens_all() -> None:
    problem = line_problem([0, 5, 9], [0, 5], k=5)
    solution = solve(problem)
    assert solution.sites == (0, 1)
    assert solution.proven_optimal
    assert solution.gap == 0.0


def test_solution_reports_gap_and_method() -> None:
    problem = line_problem([0, 1, 2, 10, 11, 12], list(range(13)), k=2)
    solution = solve(problem)
    assert solution.method == "greedy+interchange"
    assert solution.gap == pytest.approx((solution.objective - solution.lower_bound) / solution.objective)
    assert exhaustive(problem).method == "exhaustive"
    assert exhaustive(problem).proven_optimal
    assert milp(problem).method == "milp"
    assert milp(problem).proven_optimal
    assert greedy(problem).method == "greedy"


def test_milp_restricted_model_falls_back_when_overflow_is_used() -> None:
    # With each point keeping only its nearest site, the far cluster's points overflow: the model
    # widens until no overflow is used, and still finds the optimum.
    problem = line_problem([0, 1, 2, 50, 51, 52, 100], [0, 1, 2, 51, 100], k=2)
    assert milp(problem, nearest=1).objective == pytest.approx(brute_force(problem) or 0)
    assert milp(problem, nearest=1).proven_optimal


# --- brute force on random small instances -------------------------------------------------------


def test_random_instances_against_brute_force() -> None:
    worst = 0.0
    checked = 0
    for seed in range(120):
        problem = random_problem(seed)
        optimum = brute_force(problem)
        if optimum is None:
            with pytest.raises(Infeasible):
                solve(problem)
            continue
        checked += 1
        default, exact, mip = solve(problem), exhaustive(problem), milp(problem)
        for solution in (default, exact, mip):
            check_constraints(problem, solution)
            assert solution.lower_bound <= optimum + 1e-9
            assert solution.objective >= optimum - 1e-9
        assert exact.objective == pytest.approx(optimum, rel=1e-12, abs=1e-12)
        assert mip.objective == pytest.approx(optimum, rel=1e-9, abs=1e-9)
        assert mip.proven_optimal
        assert default.objective <= optimum * 1.03 + 1e-9
        worst = max(worst, default.objective / optimum - 1 if optimum > 0 else 0.0)
    assert checked > 60
    assert worst <= 0.03


def test_larger_random_instance_default_vs_milp() -> None:
    rng = np.random.default_rng(7)
    pts, sts = rng.random((300, 2)) * 1000, rng.random((40, 2)) * 1000
    problem = Problem(
        distance=np.linalg.norm(pts[:, None] - sts[None, :], axis=2),
        weights=rng.random(300),
        site_names=tuple(f"s{j:02d}" for j in range(40)),
        site_vendors=tuple(VENDORS[j % 3] for j in range(40)),
        max_sites=5,
        min_vendors=3,
    )
    exact = solve(problem, exact=True)
    assert exact.method == "milp"
    assert exact.proven_optimal
    default = solve(problem)
    assert default.lower_bound <= exact.objective + 1e-9
    assert default.objective <= exact.objective * 1.005
    assert default.gap < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_clustered_instance_with_outliers(seed: int) -> None:
    # 100 sites (the Lagrangian keeps each point's 64 nearest and handles far-reaching points apart),
    # clustered demand plus remote points: the bound stays valid and tight.
    rng = np.random.default_rng(seed)
    centres = rng.random((6, 2)) * 1000
    pts = np.vstack([centres[rng.integers(0, 6, 350)] + rng.normal(0, 30, (350, 2)), rng.random((50, 2)) * 3000])
    sts = np.vstack([rng.random((90, 2)) * 1000, rng.random((10, 2)) * 3000])
    problem = Problem(
        distance=np.linalg.norm(pts[:, None] - sts[None, :], axis=2),
        weights=rng.random(400),
        site_names=tuple(f"s{j:03d}" for j in range(100)),
        site_vendors=tuple(VENDORS[j % 3] for j in range(100)),
        max_sites=8,
        min_vendors=2,
    )
    exact = milp(problem)
    assert exact.proven_optimal
    default = solve(problem)
    check_constraints(problem, default)
    assert default.lower_bound <= exact.objective + 1e-9
    assert default.objective == pytest.approx(exact.objective, rel=1e-9)
    assert default.gap < 0.01


# --- infeasibility ---------------------------------------------------------------------------------


def test_infeasible_messages() -> None:
    with pytest.raises(Infeasible) as exc:
        solve(line_problem([0, 1], [0, 1], vendors=("aws", "gcp"), k=2, min_vendors=3))
    assert str(exc.value) == "min_vendors 3 but the eligible sites have 2 vendors (aws, gcp)"
    with pytest.raises(Infeasible) as exc:
        solve(line_problem([0, 1], [0, 1], k=2, min_vendors=2))
    assert str(exc.value) == "min_vendors 2 but the eligible sites have 1 vendor (aws)"
    with pytest.raises(Infeasible) as exc:
        solve(line_problem([0, 1], [0, 1], k=3, min_sites=3))
    assert str(exc.value) == "min_sites 3 but only 2 sites are eligible (s00, s01)"
    with pytest.raises(Infeasible) as exc:
        solve(line_problem([0, 1], [0, 1], k=1, must_include=(0, 1)))
    assert str(exc.value) == "must_include has 2 sites (s00, s01) but max_sites is 1"
    with pytest.raises(Infeasible) as exc:
        solve(line_problem([0, 1], [0, 1], k=1, min_sites=2))
    assert str(exc.value) == "min_sites 2 is more than max_sites 1"
    with pytest.raises(Infeasible) as exc:
        solve(line_problem([0, 1], [0, 1], vendors=("aws", "gcp"), k=1, min_vendors=2))
    assert str(exc.value) == "min_vendors 2 but at most 1 site can be chosen"
    with pytest.raises(Infeasible) as exc:
        solve(line_problem([0], [0, 1, 2], vendors=("aws", "aws", "gcp"), k=2, min_vendors=2, must_include=(0, 1)))
    assert str(exc.value) == (
        "min_vendors 2 but must_include (s00, s01) covers 1 vendor (aws) and leaves room for 0 more sites"
    )
    assert issubclass(Infeasible, ValueError)
    for method in (exhaustive, milp, lambda p: solve(p, exact=True)):
        with pytest.raises(Infeasible, match="min_vendors 3"):
            method(line_problem([0, 1], [0, 1], vendors=("aws", "gcp"), k=2, min_vendors=3))


def test_problem_rejects_malformed_input() -> None:
    d = np.ones((2, 2))
    names, vendors = ("a", "b"), ("aws", "aws")
    with pytest.raises(ValueError, match="weights has 3 entries for 2 points"):
        Problem(d, np.ones(3), names, vendors)
    with pytest.raises(ValueError, match="finite and non-negative"):
        Problem(-d, np.ones(2), names, vendors)
    with pytest.raises(ValueError, match="not all 0"):
        Problem(d, np.zeros(2), names, vendors)
    with pytest.raises(ValueError, match="unique"):
        Problem(d, np.ones(2), ("a", "a"), vendors)
    with pytest.raises(ValueError, match="must_include"):
        Problem(d, np.ones(2), names, vendors, must_include=(2,))
    with pytest.raises(ValueError, match="2 sites but 1 names"):
        Problem(d, np.ones(2), ("a",), vendors)


# --- replicas and metrics ------------------------------------------------------------------------


def fixed(problem: Problem, sites: tuple[int, ...]) -> Solution:
    nearest = np.array(sites)[np.argmin(problem.distance[:, list(sites)], axis=1)]
    return Solution(sites, tuple(nearest.tolist()), 0.0, 0.0, 0.0, "exhaustive", True)


def test_replicas_known_answers() -> None:
    problem = line_problem([0, 10, 20], [0, 10, 20], weights=[5, 3, 2], k=3)
    solution = fixed(problem, (0, 1, 2))
    assert replicas(solution, problem, 10, 1) == (5, 3, 2)
    assert replicas(solution, problem, 3, 1) == (1, 1, 1)
    assert replicas(solution, problem, 11, 1) == (6, 3, 2)  # 5.5, 3.3, 2.2: the largest remainder
    skewed = line_problem([0, 10, 20], [0, 10, 20], weights=[90, 5, 5], k=3)
    # Quotas 9, 0.5, 0.5: the two small sites get the minimum 2, the big one the other 6.
    assert replicas(fixed(skewed, (0, 1, 2)), skewed, 10, 2) == (6, 2, 2)
    even = line_problem([0, 10, 20], [0, 10, 20], k=3)
    assert replicas(fixed(even, (0, 1, 2)), even, 4, 0) == (2, 1, 1)  # tie on the remainder: by name
    assert replicas(fixed(even, (0, 1, 2)), even, 5, 0) == (2, 2, 1)
    with pytest.raises(ValueError, match="2 replicas cannot give 3 locations at least 1 each"):
        replicas(solution, problem, 2, 1)


def test_metrics_known_answers() -> None:
    # Points at 0 (weight 3) and 1000 km (weight 1) from the one open site; a closed site sits at 1000.
    problem = line_problem([0, 1000], [0, 1000], weights=[3, 1], k=1)
    solution = fixed(problem, (0,))
    m = metrics(solution, problem, LatencyModel())
    assert m.mean_rtt_ms == pytest.approx(0.75 * 10 + 0.25 * 31)
    assert m.p95_rtt_ms == pytest.approx(31.0)
    assert m.bound_mean_rtt_ms == 0.0  # both points have an eligible site at distance 0
    assert m.demand_share == (1.0,)
    both = fixed(problem, (0, 1))
    assert metrics(both, problem, LatencyModel()).demand_share == (0.75, 0.25)


def test_weighted_quantile() -> None:
    assert weighted_quantile([1, 2, 3, 4], [1, 1, 1, 1], 0.5) == 2
    assert weighted_quantile([1, 2, 3, 4], [1, 1, 1, 1], 0.95) == 4
    assert weighted_quantile([4, 1], [0.96, 0.04], 0.95) == 4
    assert weighted_quantile([4, 1], [0.04, 0.96], 0.95) == 1


# --- properties ----------------------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    n = draw(st.integers(1, 12))
    m = draw(st.integers(1, 7))
    distance = draw(st.lists(st.lists(st.integers(0, 50), min_size=m, max_size=m), min_size=n, max_size=n))
    weights = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n).filter(lambda w: sum(w) > 0))
    vendors = tuple(draw(st.lists(st.sampled_from(VENDORS), min_size=m, max_size=m)))
    max_sites = draw(st.integers(1, 4))
    min_sites = draw(st.integers(0, max_sites))
    must = tuple(draw(st.lists(st.integers(0, m - 1), unique=True, max_size=2)))
    return Problem(
        distance=np.array(distance, dtype=float),
        weights=np.array(weights, dtype=float),
        site_names=tuple(f"site-{j}" for j in range(m)),
        site_vendors=vendors,
        min_sites=min_sites,
        max_sites=max_sites,
        min_vendors=draw(st.integers(0, 3)),
        must_include=must,
    )


@PROPERTIES
@given(problems(), st.randoms(use_true_random=False))
def test_solver_properties(problem: Problem, rnd: Random) -> None:
    optimum = brute_force(problem)
    if optimum is None:
        with pytest.raises(Infeasible):
            solve(problem)
        with pytest.raises(Infeasible):
            solve(problem, exact=True)
        return
    solution = solve(problem)
    check_constraints(problem, solution)
    assert solution.lower_bound <= optimum + 1e-9
    assert solution.objective >= optimum - 1e-9
    exact = solve(problem, exact=True)
    check_constraints(problem, exact)
    assert exact.objective == pytest.approx(optimum, abs=1e-9)
    # Determinism: the same input twice, and the points in another order.
    assert solve(problem) == solution
    order = list(range(problem.n_points))
    rnd.shuffle(order)
    shuffled = Problem(
        distance=problem.distance[order],
        weights=problem.weights[order],
        site_names=problem.site_names,
        site_vendors=problem.site_vendors,
        min_sites=problem.min_sites,
        max_sites=problem.max_sites,
        min_vendors=problem.min_vendors,
        must_include=problem.must_include,
    )
    again = solve(shuffled)
    assert again.sites == solution.sites
    assert again.objective == solution.objective
    assert again.assignment == tuple(solution.assignment[i] for i in order)


@PROPERTIES
@given(problems(), st.integers(0, 3), st.integers(0, 40))
def test_replica_properties(problem: Problem, minimum: int, extra: int) -> None:
    if brute_force(problem) is None:
        return
    solution = solve(problem)
    total = minimum * len(solution.sites) + extra
    counts = replicas(solution, problem, total, minimum)
    assert sum(counts) == total
    assert all(c >= minimum for c in counts)
    assert len(counts) == len(solution.sites)
    assert replicas(solution, problem, total, minimum) == counts
    shares = metrics(solution, problem, LatencyModel()).demand_share
    assert sum(shares) == pytest.approx(1.0)
    # More demand never means fewer replicas (beyond the minimum).
    for i, j in itertools.permutations(range(len(counts)), 2):
        if shares[i] > shares[j] + 1e-12:
            assert counts[i] >= counts[j]
    if total > 0 and minimum > 0:
        with pytest.raises(ValueError, match="cannot give"):
            replicas(solution, problem, minimum * len(solution.sites) - 1, minimum)

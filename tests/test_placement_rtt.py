"""Latency placement with a measured RTT matrix (``placement.rtt_matrix``, ``edgefleet.rtt/v1``):
the fit (``components/placement/rtt.py``), placement under the fitted per-location costs (exact
against brute force), the CLI output and every kind of bad matrix (one line, exit 2, no traceback)."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import time
from collections.abc import Iterator
from contextlib import chdir
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.config import parse
from edgefleet.components.placement import rtt
from edgefleet.components.placement.demand import DemandPoint, normalise
from edgefleet.components.placement.latency import LatencyModel, distance_matrix, haversine_km
from edgefleet.components.placement.place import Site, place
from edgefleet.components.placement.rtt import MeasuredPair, fit, parse_matrix
from edgefleet.doctor import report
from edgefleet.doctor.evidence import Endpoint, Evidence, Stream
from tests.conftest import user_project

runner = CliRunner()
MODEL = LatencyModel()

CITIES = {
    "ams": (52.37, 4.90, "NL"),
    "fra": (50.11, 8.68, "DE"),
    "lis": (38.72, -9.14, "PT"),
    "mad": (40.42, -3.70, "ES"),
    "par": (48.86, 2.35, "FR"),
    "rom": (41.90, 12.50, "IT"),
    "sto": (59.33, 18.07, "SE"),
    "waw": (52.23, 21.01, "PL"),
}
LOCATIONS = {name: (lat, lon) for name, (lat, lon, _) in CITIES.items()}

STACK = """\
config:
  edgefleet:fleet:
    environment: test
    owner: platform-team
    clusters:
CLUSTERS
    workloads:
      - name: api
        image: ghcr.io/acme/api:1.0.0
        port: 8080
        replicas: 6
        placement:
          strategy: STRATEGY
          max_locations: 3
          demand: {preset: europe}MATRIX
"""


def stack(matrix: str | None = "measurements/rtt.json", strategy: str = "latency") -> str:
    clusters = "\n".join(
        f"      - {{vendor: existing, name: {name}, location: {{lat: {lat}, lon: {lon}, country: {cc}}}}}"
        for name, (lat, lon, cc) in CITIES.items()
    )
    line = f"\n          rtt_matrix: {matrix}" if matrix is not None else ""
    return STACK.replace("CLUSTERS", clusters).replace("STRATEGY", strategy).replace("MATRIX", line)


def model_ms(a: str, b: str) -> float:
    return MODEL.inflation * haversine_km(*LOCATIONS[a], *LOCATIONS[b]) / 100


def matrix(measure: Any = model_ms, names: tuple[str, ...] = tuple(CITIES)) -> dict[str, Any]:
    """An edgefleet.rtt/v1 document over every pair of ``names``, ``measure(a, b)`` ms each."""
    pairs = []
    for a, b in itertools.combinations(sorted(names), 2):
        value = measure(a, b)
        pairs.append(
            {
                "a": a,
                "b": b,
                "measured_p50_ms": None if value is None else round(value, 3),
                "measured_p99_ms": None if value is None else round(value * 1.5, 3),
                "model_ms": round(model_ms(a, b), 2),
                "probes": 1500,
            }
        )
    return {"format": rtt.RTT_FORMAT, "source": "prometheus", "pairs": pairs}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    user_project(tmp_path, "measurements")
    (tmp_path / "stacks" / "Pulumi.t.yaml").write_text(stack())
    (tmp_path / "stacks" / "Pulumi.plain.yaml").write_text(stack(None))
    with chdir(tmp_path):
        yield tmp_path


def _clear_caches() -> None:
    """The matrix is memoised on its path, size and modification time; a test rewriting it at
    once may leave the time unchanged on a coarse file system."""
    parse._rtt_pairs.cache_clear()
    parse._rtt_fit.cache_clear()


def _write(project: Path, doc: Any) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=1)
    (project / "measurements" / "rtt.json").write_text(text)
    _clear_caches()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    output = result.output + (result.stderr or "")
    assert result.exit_code == 0, output
    assert "Traceback" not in output
    return output


def _placed(project: Path, stack_name: str = "t", extra: tuple[str, ...] = ()) -> dict[str, Any]:
    out = project / f"{stack_name}.json"
    _ok(["place", stack_name, "--json", str(out), *extra])
    doc: dict[str, Any] = json.loads(out.read_text())["placements"][0]
    return doc


def _shares(entry: dict[str, Any]) -> dict[str, float]:
    return {loc["cluster"]: loc["demand_share"] for loc in entry["locations"]}


# --- the fit ---------------------------------------------------------------------------------------


def _pairs(doc: dict[str, Any]) -> tuple[MeasuredPair, ...]:
    return parse_matrix(json.dumps(doc), "m.json")


def test_a_matrix_equal_to_the_model_fits_the_model() -> None:
    fitted = fit(_pairs(matrix()), LOCATIONS, MODEL, "m.json")
    assert [(f.name, f.inflation, f.delay_ms, f.pairs) for f in fitted.locations] == [
        (name, 2.1, 0.0, 7) for name in sorted(CITIES)
    ]
    for p in fitted.pairs:
        assert p.fitted_ms == pytest.approx(p.model_ms, abs=0.002)
        assert p.measured_ms == pytest.approx(p.model_ms, abs=0.002)


def test_a_slow_location_gets_its_own_numbers_and_the_others_keep_the_model() -> None:
    slow = matrix(lambda a, b: model_ms(a, b) + (30.0 if "par" in (a, b) else 0.0))
    fitted = fit(_pairs(slow), LOCATIONS, MODEL, "m.json")
    par = fitted.of("par")
    assert par is not None
    # 30 ms at every distance: mostly a site delay, hardly any path inflation (the pairs span only
    # 430 to 1,540 km, so the prior keeps a little of it in the inflation).
    assert 25.0 < par.delay_ms <= 30.0
    assert par.inflation == pytest.approx(2.1, abs=0.3)
    # What a user 1,000 km away sees from Paris: within 2 ms of the truth (30 ms + the model).
    assert par.delay_ms + (2.1 + par.inflation) / 2 * 10 == pytest.approx(30.0 + 21.0, abs=2.0)
    for f in fitted.locations:
        if f.name != "par":
            assert f.delay_ms < 1.0, f
            assert f.inflation == pytest.approx(2.1, abs=0.1), f
    for p in fitted.pairs:
        assert p.fitted_ms == pytest.approx(p.measured_ms, abs=1.0)


def test_an_inflated_location_gets_a_higher_inflation() -> None:
    far = {**LOCATIONS, "nyc": (40.71, -74.01), "tyo": (35.69, 139.69), "sgp": (1.35, 103.82)}

    def measure(a: str, b: str) -> float:
        """Tokyo's paths are 3.5 x straight fiber, every other location's 2.1: a pair is the mean."""
        km = haversine_km(*far[a], *far[b])
        return ((2.1 + 3.5) / 2 if "tyo" in (a, b) else 2.1) * km / 100

    names = ("ams", "fra", "nyc", "sgp", "tyo")
    doc = {
        "format": rtt.RTT_FORMAT,
        "pairs": [
            {"a": a, "b": b, "measured_p50_ms": round(measure(a, b), 3)} for a, b in itertools.combinations(names, 2)
        ],
    }
    fitted = fit(_pairs(doc), far, MODEL, "m.json")
    tyo = fitted.of("tyo")
    assert tyo is not None
    assert tyo.inflation == pytest.approx(3.5, abs=0.05)
    assert tyo.delay_ms < 2.0


def test_a_single_pair_moves_both_ends_alike_and_an_unmeasured_location_keeps_the_model() -> None:
    doc = {"format": rtt.RTT_FORMAT, "pairs": [{"a": "lis", "b": "waw", "measured_p50_ms": 80.0}]}
    fitted = fit(_pairs(doc), LOCATIONS, MODEL, "m.json")
    lis, waw = fitted.of("lis"), fitted.of("waw")
    assert lis is not None
    assert waw is not None
    assert (lis.inflation, lis.delay_ms) == (waw.inflation, waw.delay_ms)
    assert lis.inflation > 2.1 or lis.delay_ms > 0
    assert fitted.of("par") is None
    assert fitted.pairs[0].measured_ms == 80.0
    assert fitted.pairs[0].model_ms < fitted.pairs[0].fitted_ms <= 80.0


def test_pairs_without_replies_are_not_fitted() -> None:
    doc = matrix(lambda a, b: None if "sto" in (a, b) else model_ms(a, b))
    fitted = fit(_pairs(doc), LOCATIONS, MODEL, "m.json")
    assert fitted.of("sto") is None
    assert all(f.pairs == 6 for f in fitted.locations)


def _truth(data: st.DataObject) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    n = data.draw(st.integers(2, 6), label="locations")
    coords = st.tuples(st.floats(-60, 70), st.floats(-180, 180))
    numbers = st.tuples(st.floats(0.1, 40), st.floats(1, 5))
    locations = {f"c{i}": data.draw(coords, label=f"c{i}") for i in range(n)}
    truth = {f"c{i}": data.draw(numbers, label=f"truth c{i}") for i in range(n)}
    return locations, truth


@given(st.data())
def test_the_fit_explains_the_pairs_at_least_as_well_as_the_model(data: st.DataObject) -> None:
    """For any locations and any true (delay, inflation) per location: the fitted numbers are within
    bounds, the fitted pairs' squared error is at most the model's (the fit starts from the model
    and only moves where that lowers its objective; rounding adds at most 0.1 ms per pair), and the
    order of the entries and of a and b within one does not change anything."""
    locations, truth = _truth(data)
    names = sorted(locations)
    entries = []
    for a, b in itertools.combinations(names, 2):
        km = haversine_km(*locations[a], *locations[b])
        value = truth[a][0] + truth[b][0] + (truth[a][1] + truth[b][1]) / 2 * km / 100
        entries.append({"a": a, "b": b, "measured_p50_ms": round(value, 3)})
    doc = {"format": rtt.RTT_FORMAT, "pairs": entries}
    fitted = fit(_pairs(doc), locations, MODEL, "m.json")
    assert all(f.inflation >= 1.0 and f.delay_ms >= 0.0 for f in fitted.locations)
    fit_err = sum((p.fitted_ms - (p.measured_ms or 0.0)) ** 2 for p in fitted.pairs)
    model_err = sum((p.model_ms - (p.measured_ms or 0.0)) ** 2 for p in fitted.pairs)
    assert math.sqrt(fit_err) <= math.sqrt(model_err) + 0.11 * math.sqrt(len(entries))
    shuffled = [{**e, "a": e["b"], "b": e["a"]} if i % 2 else e for i, e in enumerate(entries)]
    random.Random(len(entries)).shuffle(shuffled)
    again = fit(_pairs({"format": rtt.RTT_FORMAT, "pairs": shuffled}), locations, MODEL, "m.json")
    assert again.locations == fitted.locations


def test_the_bounded_solve_is_the_exact_minimum() -> None:
    """Block principal pivoting against scipy's BVLS on random positive definite problems with
    bounds active and not: the same minimiser."""
    from scipy.optimize import lsq_linear  # type: ignore[import-untyped]  # noqa: PLC0415

    rng = np.random.default_rng(0)
    active = 0
    for _ in range(200):
        n = int(rng.integers(1, 40))
        a = rng.normal(size=(int(rng.integers(1, 3 * n + 2)), n)) * rng.uniform(0.1, 50, size=n)
        q = a.T @ a + np.diag(rng.uniform(0.01, 5, size=n))
        c = a.T @ (rng.normal(size=a.shape[0]) * 20)
        y = rtt._nonnegative_qp(q, c)
        chol = np.linalg.cholesky(q)
        ref = lsq_linear(chol.T, np.linalg.solve(chol, c), bounds=(np.zeros(n), np.full(n, np.inf)), method="bvls").x
        np.testing.assert_allclose(y, ref, atol=1e-8 * (1 + np.abs(ref).max()))
        assert np.all(y >= 0)
        active += int((y == 0).sum())
    assert active > 100  # the bounds mattered


def test_a_thousand_locations_fit_in_seconds() -> None:
    """The worst case of the active-set method this replaced: 1,000 locations measured in a chain
    (every delay near its bound) took 5 minutes with BVLS; block principal pivoting takes well
    under a second here. 60 s leaves room for a busy machine."""
    rng = random.Random(3)
    locations = {f"c{i:04d}": (rng.uniform(-50, 65), rng.uniform(-170, 170)) for i in range(1000)}
    names = sorted(locations)
    entries = []
    for a, b in itertools.pairwise(names):
        km = haversine_km(*locations[a], *locations[b])
        entries.append({"a": a, "b": b, "measured_p50_ms": round(rng.uniform(1, 4) * km / 100 + rng.uniform(0, 30), 3)})
    start = time.monotonic()
    fitted = fit(_pairs({"format": rtt.RTT_FORMAT, "pairs": entries}), locations, MODEL, "m.json")
    assert time.monotonic() - start < 60
    assert len(fitted.locations) == 1000


# --- placement under the fitted costs -----------------------------------------------------------------


def _brute_force(sites: list[Site], demand: list[DemandPoint], k: int) -> tuple[float, tuple[str, ...]]:
    """The best k sites by enumeration, with each site's cost written out from its own numbers:
    access + delay + (model's inflation + the site's) / 2 x km / 100 (independent of ``place.cost_km``)."""
    points = normalise(demand)
    km = distance_matrix([(p.lat, p.lon) for p in points], [(s.lat, s.lon) for s in sites])
    f = np.array([s.inflation if s.inflation is not None else MODEL.inflation for s in sites])
    e = np.array([s.delay_ms for s in sites])
    cost = MODEL.access_ms + e[None, :] + (MODEL.inflation + f[None, :]) / 2 * km / 100
    w = np.array([p.weight for p in points])
    w = w / w.sum()
    best = min(
        (float(w @ cost[:, list(c)].min(axis=1)), tuple(sites[j].name for j in c))
        for c in itertools.combinations(range(len(sites)), k)
    )
    return best


def _random_instance(seed: int, n_sites: int) -> tuple[list[Site], list[DemandPoint]]:
    rng = random.Random(seed)
    sites = [
        Site(
            f"s{j:02d}",
            "v",
            rng.uniform(-50, 65),
            rng.uniform(-170, 170),
            inflation=None if j % 4 == 0 else round(rng.uniform(1.0, 5.0), 3),
            delay_ms=0.0 if j % 4 == 0 else round(rng.uniform(0.0, 60.0), 2),
        )
        for j in range(n_sites)
    ]
    demand = [
        DemandPoint(rng.uniform(-50, 65), rng.uniform(-170, 170), rng.uniform(0.1, 10.0), f"p{i}") for i in range(150)
    ]
    return sites, demand


@pytest.mark.parametrize(("seed", "n_sites", "k"), [(1, 8, 2), (2, 9, 3), (3, 10, 4), (4, 18, 5)])
def test_placement_under_measured_costs_is_the_brute_force_optimum(seed: int, n_sites: int, k: int) -> None:
    """The default method, and --exact (enumeration for the small ones, the MILP for 18 choose 5 =
    8,568 sets, more than solve(exact=True) enumerates), against enumeration with the costs written
    out; their reported mean RTT is that optimum."""
    sites, demand = _random_instance(seed, n_sites)
    best, names = _brute_force(sites, demand, k)
    for exact in (False, True):
        got = place(
            sites,
            demand,
            locations=k,
            min_locations=1,
            min_vendors=1,
            must_include=(),
            total_replicas=k,
            min_replicas=1,
            exact=exact,
        )
        assert got.clusters == names, (exact, got.method)
        assert got.mean_rtt_ms == pytest.approx(best, abs=0.001)
        assert got.lower_bound_rtt_ms <= got.mean_rtt_ms + 1e-6
        if exact:
            assert got.proven_optimal
    # The cheapest site for a point is not always its nearest here: the shortcut "choose by
    # distance" would have been wrong on this instance.
    plain = [Site(s.name, s.vendor, s.lat, s.lon) for s in sites]
    assert _brute_force(plain, demand, k)[1] != names or seed == 4


@given(st.data())
def test_any_measured_costs_keep_the_solvers_promises(data: st.DataObject) -> None:
    """For any sites with any fitted numbers and any demand: --exact is the enumerated optimum of the
    costs written out; the default is never better than it (it is a real placement) and its proven
    lower bound is never above it (the bound holds for per-site costs), and both report the same
    physical bound as placement by distance."""
    n = data.draw(st.integers(2, 7), label="sites")
    k = data.draw(st.integers(1, n), label="k")
    coord = st.tuples(st.floats(-60, 70), st.floats(-180, 180))
    sites = []
    for j in range(n):
        lat, lon = data.draw(coord, label=f"site {j}")
        measured = data.draw(st.booleans(), label=f"measured {j}")
        inflation = data.draw(st.floats(1.0, 6.0), label=f"inflation {j}") if measured else None
        delay = data.draw(st.floats(0.0, 80.0), label=f"delay {j}") if measured else 0.0
        sites.append(Site(f"s{j}", "v", lat, lon, inflation=inflation, delay_ms=delay))
    points = data.draw(st.lists(st.tuples(coord, st.floats(0.01, 100.0)), min_size=1, max_size=25), label="demand")
    demand = [DemandPoint(lat, lon, w, f"p{i}") for i, ((lat, lon), w) in enumerate(points)]
    best, _ = _brute_force(sites, demand, k)
    kwargs: dict[str, Any] = {
        "locations": k,
        "min_locations": 1,
        "min_vendors": 1,
        "must_include": (),
        "total_replicas": k,
        "min_replicas": 1,
    }
    exact = place(sites, demand, exact=True, **kwargs)
    default = place(sites, demand, **kwargs)
    tol = 1e-6 * max(1.0, best) + 0.001  # results are rounded to 0.001 ms
    assert exact.mean_rtt_ms == pytest.approx(best, abs=tol)
    assert default.mean_rtt_ms >= best - tol
    assert default.lower_bound_rtt_ms <= best + tol
    plain = place([Site(s.name, s.vendor, s.lat, s.lon) for s in sites], demand, **kwargs)
    assert default.bound_mean_rtt_ms == plain.bound_mean_rtt_ms


def test_the_physical_bound_stays_light_in_fiber_over_the_real_distance() -> None:
    sites, demand = _random_instance(7, 8)
    plain = [Site(s.name, s.vendor, s.lat, s.lon) for s in sites]
    kwargs: dict[str, Any] = {
        "locations": 2,
        "min_locations": 1,
        "min_vendors": 1,
        "must_include": (),
        "total_replicas": 2,
        "min_replicas": 1,
    }
    measured, modelled = place(sites, demand, **kwargs), place(plain, demand, **kwargs)
    assert measured.bound_mean_rtt_ms == modelled.bound_mean_rtt_ms
    assert measured.bound_mean_rtt_ms < measured.mean_rtt_ms


# --- through the CLI -------------------------------------------------------------------------------


def test_a_matrix_equal_to_the_model_leaves_placement_unchanged(project: Path) -> None:
    _write(project, matrix())
    measured, plain = _placed(project, "t"), _placed(project, "plain")
    info = measured.pop("rtt_matrix")
    assert measured == plain
    assert {loc["cluster"]: (loc["inflation"], loc["delay_ms"]) for loc in info["locations"]} == dict.fromkeys(
        CITIES, (2.1, 0.0)
    )
    # Every user's fastest location is its nearest, as with the model.
    assert info["by_distance"] == {"mean_rtt_ms": plain["metrics"]["mean_rtt_ms"], "share": 0.0}
    assert info["rms_model_ms"] < 0.002
    assert info["rms_fitted_ms"] < 0.002
    assert info["file"] == "measurements/rtt.json"
    assert info["model_inflation"] == 2.1
    assert len(info["pairs"]) == 28
    first = info["pairs"][0]
    assert set(first) == {"a", "b", "km", "measured_p50_ms", "model_ms", "fitted_ms"}
    # plan too: the same placement and metrics in the plan, the program's outputs included.
    _ok(["plan", "t", "--json", str(project / "a.json")])
    _ok(["plan", "plain", "--json", str(project / "b.json")])
    a, b = json.loads((project / "a.json").read_text()), json.loads((project / "b.json").read_text())
    a["placements"][0].pop("rtt_matrix")
    assert a["placements"] == b["placements"]
    assert a["outputs"]["placements"] == b["outputs"]["placements"]


def test_a_location_measured_much_slower_loses_its_demand_to_its_neighbours(project: Path) -> None:
    _write(project, matrix())
    before = _shares(_placed(project, "t", ("--exact",)))
    assert sorted(before) == ["ams", "mad", "waw"]  # the model's choice for Europe
    _write(project, matrix(lambda a, b: model_ms(a, b) + (40.0 if "ams" in (a, b) else 0.0)))
    entry = _placed(project, "t", ("--exact",))
    after = _shares(entry)
    assert after.get("ams", 0.0) < before["ams"]
    # Amsterdam's users go to its neighbours (Paris, Frankfurt), which now serve more than before.
    assert sum(after.get(c, 0.0) - before.get(c, 0.0) for c in ("par", "fra")) > 0.2
    ams = next(loc for loc in entry["rtt_matrix"]["locations"] if loc["cluster"] == "ams")
    assert ams["delay_ms"] > 30.0
    ams_pairs = [p for p in entry["rtt_matrix"]["pairs"] if "ams" in (p["a"], p["b"])]
    assert all(p["measured_p50_ms"] > p["model_ms"] + 39 for p in ams_pairs)
    assert all(abs(p["fitted_ms"] - p["measured_p50_ms"]) < 2.0 for p in ams_pairs)
    # The model was 40 ms off on a quarter of the pairs; the fit reproduces them.
    assert entry["rtt_matrix"]["rms_model_ms"] > 15.0
    assert entry["rtt_matrix"]["rms_fitted_ms"] < 1.0
    # DNS steering by distance sends some users to a slower location: never faster on average.
    by_distance = entry["rtt_matrix"]["by_distance"]
    assert 0.0 < by_distance["share"] < 1.0
    assert by_distance["mean_rtt_ms"] > entry["metrics"]["mean_rtt_ms"]
    # The estimate is now worse than the model promised: every user's RTT went up or stayed.
    assert entry["metrics"]["mean_rtt_ms"] > _placed(project, "plain", ("--exact",))["metrics"]["mean_rtt_ms"]


def test_plans_are_byte_identical_and_the_file_order_does_not_matter(project: Path) -> None:
    doc = matrix(lambda a, b: model_ms(a, b) * (1.6 if "waw" in (a, b) else 1.0) + (9.0 if "mad" in (a, b) else 0.0))
    _write(project, doc)
    _ok(["plan", "t", "--json", str(project / "a.json")])
    _ok(["plan", "t", "--json", str(project / "b.json")])
    assert (project / "a.json").read_bytes() == (project / "b.json").read_bytes()
    first = _placed(project, "t")
    reordered = dict(doc, pairs=[{**p, "a": p["b"], "b": p["a"]} for p in reversed(doc["pairs"])])
    _write(project, reordered)
    _clear_caches()
    second = _placed(project, "t")
    assert second["rtt_matrix"]["locations"] == first["rtt_matrix"]["locations"]
    first.pop("rtt_matrix")
    second.pop("rtt_matrix")
    assert first == second


def test_place_shows_the_measurement_beside_the_model_and_the_fit(project: Path) -> None:
    _write(project, matrix(lambda a, b: None if "sto" in (a, b) else model_ms(a, b) + (25.0 if "rom" in (a, b) else 0)))
    out = _ok(["place", "t"])
    assert "measured RTT (measurements/rtt.json): 7 of 8 eligible location(s) measured" in out
    assert "sto: not measured: the model's numbers" in out
    assert "rom: inflation" in out
    line = next(line for line in out.splitlines() if "rom <->" in line or "<-> rom" in line)
    assert "measured" in line
    assert "model" in line
    assert "fitted" in line
    assert "more pair(s) in --json" in out


def test_place_lists_the_chosen_and_the_most_changed_locations_first(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgefleet import cli  # noqa: PLC0415

    monkeypatch.setattr(cli, "RTT_LOCATIONS_SHOWN", 4)
    _write(project, matrix(lambda a, b: model_ms(a, b) + (25.0 if "sto" in (a, b) else 0)))
    out = _ok(["place", "t"])
    listed = [line.split(":")[0].strip(" *") for line in out.splitlines() if ": inflation " in line]
    chosen = {loc["cluster"] for loc in _placed(project, "t")["locations"]}
    assert len(listed) == 4
    assert listed == sorted(listed)
    assert chosen <= set(listed)
    assert "sto" in listed  # the most changed of the others
    assert "... 4 more location(s) in --json" in out


def test_a_scheduled_workload_places_every_window_with_the_matrix(project: Path) -> None:
    text = stack().replace("demand: {preset: europe}", "demand: {preset: europe, diurnal: true}")
    (project / "stacks" / "Pulumi.d.yaml").write_text(text)
    _write(project, matrix(lambda a, b: model_ms(a, b) + (40.0 if "par" in (a, b) else 0.0)))
    _ok(["place", "d", "--timeline", "--at", "2026-03-01T10:00:00Z", "--json", str(project / "tl.json")])
    doc = json.loads((project / "tl.json").read_text())
    for window in doc["windows"]:
        assert window["placements"][0]["rtt_matrix"]["file"] == "measurements/rtt.json"


def test_a_matrix_as_doctor_writes_it_is_read(project: Path) -> None:
    """The file ``edgefleet doctor --rtt-matrix`` writes (``report.rtt_document``), from WAN streams."""
    streams = []
    for a, b in itertools.combinations(sorted(CITIES), 2):
        for src, dst in ((a, b), (b, a)):
            streams.append(
                Stream(
                    Endpoint(src, f"{src}-n1"),
                    Endpoint(dst, f"{dst}-n1"),
                    "wan",
                    64,
                    500,
                    0,
                    rtt_p50_ms=round(model_ms(a, b) + (20.0 if "ams" in (a, b) else 0.0), 3),
                    rtt_p99_ms=round(model_ms(a, b) * 2, 3),
                )
            )
    context = report.Context(locations=LOCATIONS)
    doc = report.rtt_document(
        {"source": "prometheus", "rtt_matrix": report.rtt_matrix(Evidence(tuple(streams)), context)}
    )
    _write(project, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    entry = _placed(project, "t")
    ams = next(loc for loc in entry["rtt_matrix"]["locations"] if loc["cluster"] == "ams")
    assert ams["pairs"] == 7
    assert ams["delay_ms"] > 15.0
    # The doctor's model estimate and placement's agree (same model, no last mile).
    for p in entry["rtt_matrix"]["pairs"]:
        written = next(q for q in doc["pairs"] if {q["a"], q["b"]} == {p["a"], p["b"]})
        assert p["model_ms"] == pytest.approx(written["model_ms"], abs=0.01)


# --- bad input -----------------------------------------------------------------------------------

PREFIX = "fleet.workloads[0].placement.rtt_matrix: "


def _invalid(project: Path, args: list[str]) -> str:
    """Exit 2, one error line and the summary, no traceback, no output written."""
    out_file = project / "out.json"
    result = runner.invoke(app, [*args, "--json", str(out_file)])
    output = result.output + (result.stderr or "")
    assert "Traceback" not in output
    assert result.exit_code == 2, output
    assert not out_file.exists()
    lines = result.stderr.rstrip("\n").split("\n")
    assert lines[-1] == "invalid: 1 error", result.stderr
    assert lines[0].startswith(PREFIX), lines[0]
    assert "stacks/Pulumi.t.yaml:" in lines[0]  # where the config names the file
    return lines[0]


def _one(value: Any, a: str = "ams", b: str = "fra", **extra: Any) -> dict[str, Any]:
    return {"format": rtt.RTT_FORMAT, "pairs": [{"a": a, "b": b, "measured_p50_ms": value, **extra}]}


BAD = [
    ("wrong format", {"format": "edgefleet.doctor/v1", "pairs": []}, "format is 'edgefleet.doctor/v1', not"),
    ("no format", {"pairs": []}, "has no `format`"),
    ("unknown cluster", _one(5.0, b="fra-1"), "no cluster named 'fra-1' in the fleet; did you mean 'fra'?"),
    (
        "NaN",
        '{"format": "edgefleet.rtt/v1", "pairs": [{"a": "ams", "b": "fra", "measured_p50_ms": NaN}]}',
        "is not a finite number",
    ),
    (
        "infinite",
        '{"format": "edgefleet.rtt/v1", "pairs": [{"a": "ams", "b": "fra", "measured_p50_ms": Infinity}]}',
        "is not a finite number",
    ),
    ("negative", _one(-3.0), "measured_p50_ms -3 is not a round trip"),
    ("zero", _one(0), "measured_p50_ms 0 is not a round trip"),
    ("huge", _one(1e9), "is more than 10000 ms: a probe timeout or a unit error"),
    ("a string", _one("8 ms"), "measured_p50_ms '8 ms' is not a number of milliseconds"),
    ("a boolean", _one(True), "measured_p50_ms True is not a number"),
    (
        "an integer past a float",
        '{"format": "edgefleet.rtt/v1", "pairs": [{"a": "ams", "b": "fra", "measured_p50_ms": 1' + "0" * 400 + "}]}",
        "measured_p50_ms 1000000000000000000000000000000000000... is not a finite number",
    ),
    ("a long string", _one("9" * 10_000), "measured_p50_ms '999999999999999999999999999999999999... is not a"),
    ("faster than light", _one(0.5, a="lis", b="waw"), "faster than light in fiber over the"),
    ("a long name", _one(5.0, b="x" * 10_000), "`a` and `b` must name two clusters of the fleet"),
    ("a number for a name", _one(5.0, b=7), "`a` and `b` must name two clusters of the fleet"),
    ("self pair", _one(1.0, a="ams", b="ams"), "a cluster paired with itself"),
    (
        "duplicate pair",
        {
            "format": rtt.RTT_FORMAT,
            "pairs": [
                {"a": "ams", "b": "fra", "measured_p50_ms": 8.0},
                {"a": "fra", "b": "ams", "measured_p50_ms": 9.0},
            ],
        },
        "pairs[1] (fra <-> ams): the same pair as pairs[0]",
    ),
    ("empty file", "", "measurements/rtt.json is empty"),
    ("whitespace", "\n  \n", "measurements/rtt.json is empty"),
    ("no pairs", {"format": rtt.RTT_FORMAT, "pairs": []}, "`pairs` is empty"),
    ("nothing measured", _one(None), "no pair has a measured_p50_ms"),
    ("not JSON", "{format: edgefleet.rtt/v1}", "measurements/rtt.json:1:2: not JSON"),
    ("a list", "[]", "expected an object with `format` and `pairs`"),
    ("unknown key", _one(5.0, rtt_ms=5.0), "unknown key 'rtt_ms'"),
    ("bad p99", _one(5.0, measured_p99_ms=-1), "measured_p99_ms -1 is not a finite number of at least 0"),
    ("missing p50", {"format": rtt.RTT_FORMAT, "pairs": [{"a": "ams", "b": "fra"}]}, "no `measured_p50_ms`"),
    ("nested too deep", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("case", "doc", "message"), BAD, ids=[c[0] for c in BAD])
def test_a_bad_matrix_is_one_line_naming_the_config_path_and_the_fix(
    project: Path, case: str, doc: Any, message: str
) -> None:
    _write(project, doc)
    first = _invalid(project, ["place", "t"])
    assert message in first, first


def test_plan_and_check_refuse_a_bad_matrix_too(project: Path) -> None:
    _write(project, _one(0.5, a="lis", b="waw"))
    for command in ("plan", "check"):
        assert "faster than light" in _invalid(project, [command, "t"])


def test_a_matrix_outside_the_project_is_refused(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "rtt.json"
    outside.write_text(json.dumps(matrix()))
    (project / "measurements" / "link.json").symlink_to(outside)
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("measurements/link.json"))
    first = _invalid(project, ["place", "t"])
    assert "measurements/link.json is a symbolic link to" in first
    assert "outside the project" in first
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("/etc/passwd"))
    assert "must be a relative path inside the project" in _invalid(project, ["place", "t"])
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("../rtt.json"))
    assert "must be a relative path inside the project" in _invalid(project, ["place", "t"])
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("measurements/missing.json"))
    assert "measurements/missing.json not found in the project" in _invalid(project, ["place", "t"])
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("measurements"))
    assert "is a directory" in _invalid(project, ["place", "t"])


def test_a_huge_or_non_text_matrix_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "MAX_RTT_BYTES", 1000)
    _clear_caches()
    _write(project, matrix())
    first = _invalid(project, ["place", "t"])
    assert "measurements/rtt.json is larger than" in first
    monkeypatch.setattr(parse, "MAX_RTT_BYTES", rtt.MAX_RTT_BYTES)
    monkeypatch.setattr(rtt, "MAX_PAIRS", 3)
    _clear_caches()
    assert "28 pairs, more than the 3 edgefleet reads" in _invalid(project, ["place", "t"])
    monkeypatch.setattr(rtt, "MAX_PAIRS", 1000)
    monkeypatch.setattr(rtt, "MAX_LOCATIONS", 3)
    _clear_caches()
    assert "measures 8 locations, more than the 3 edgefleet fits" in _invalid(project, ["place", "t"])
    (project / "measurements" / "rtt.json").write_bytes(b'{"format": "\xff"}')
    _clear_caches()
    assert "is not UTF-8 text" in _invalid(project, ["place", "t"])


def test_a_matrix_is_for_latency_placement_only(project: Path) -> None:
    _write(project, matrix())
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack(strategy="everywhere"))
    assert "strategy `everywhere` does not use it" in _invalid(project, ["place", "t"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_fifo_matrix_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "measurements" / "rtt.json")
    first = _invalid(project, ["place", "t"])
    assert "measurements/rtt.json is a named pipe (FIFO), not a regular file" in first


def test_light_in_fiber_allows_fifty_km_at_each_end() -> None:
    """A region is placed at its city: a pair is impossible only below light in fiber over the
    great circle less 100 km (1.0 ms per 100 km of one-way distance)."""
    km = haversine_km(*LOCATIONS["lis"], *LOCATIONS["mad"])
    floor = (km - 2 * rtt.LOCATION_SLACK_KM) / 100
    ok = {"format": rtt.RTT_FORMAT, "pairs": [{"a": "lis", "b": "mad", "measured_p50_ms": round(floor + 0.01, 3)}]}
    assert fit(_pairs(ok), LOCATIONS, MODEL, "m.json").of("lis") is not None
    bad = {"format": rtt.RTT_FORMAT, "pairs": [{"a": "lis", "b": "mad", "measured_p50_ms": round(floor - 0.01, 3)}]}
    with pytest.raises(rtt.RttMatrixError, match="faster than light in fiber over the 503 km"):
        fit(_pairs(bad), LOCATIONS, MODEL, "m.json")


def test_stability_weighs_a_move_in_measured_milliseconds(project: Path) -> None:
    """The previous placement (the model's) is kept unless the measured costs make the move better
    by more than 5% of mean RTT: a 40 ms slower Amsterdam moves it, a 2 ms slower one does not."""
    _ok(["place", "plain", "--json", str(project / "previous.json")])
    previous = sorted(
        loc["cluster"] for loc in json.loads((project / "previous.json").read_text())["placements"][0]["locations"]
    )
    assert "ams" in previous
    _write(project, matrix(lambda a, b: model_ms(a, b) + (40.0 if "ams" in (a, b) else 0.0)))
    moved = _placed(project, "t", ("--previous", "previous.json"))
    assert "held_back" not in moved
    assert "ams" not in _shares(moved)
    _write(project, matrix(lambda a, b: model_ms(a, b) + (2.0 if "ams" in (a, b) else 0.0)))
    kept = _placed(project, "t", ("--previous", "previous.json"))
    assert sorted(_shares(kept)) == previous
    # Amsterdam and Paris are near-equals under the model: 2 ms tips the optimum, not the threshold.
    assert "ams" not in kept["held_back"]["candidate"]
    assert 0 < kept["held_back"]["gain"] <= 0.05


def test_a_steered_workload_is_told_what_dns_by_distance_gives(project: Path) -> None:
    """DNS steering sends users to the nearest location; with a measured matrix the fastest may be
    another: `place` says for how much demand, and what the mean RTT is then."""
    text = (
        stack()
        .replace(
            "    workloads:\n",
            "    traffic: {provider: route53, zone: edge.example.com, zone_id: Z0123456789ABCDEFGHIJ}\n"
            "    workloads:\n",
        )
        .replace("        replicas: 6\n", "        replicas: 6\n        expose: public\n        probe_path: /healthz\n")
        .replace("    clusters:\n", "    defaults: {cni: {plugin: cilium, installed: true}}\n    clusters:\n")
    )
    (project / "stacks" / "Pulumi.s.yaml").write_text(text)
    _write(project, matrix(lambda a, b: model_ms(a, b) + (40.0 if "ams" in (a, b) else 0.0)))
    out = _ok(["place", "s"])
    entry = _placed(project, "s")
    by_distance = entry["rtt_matrix"]["by_distance"]
    assert by_distance["share"] > 0
    assert (
        f"note: for {by_distance['share']:.1%} of demand the nearest chosen location is not the fastest; "
        f"DNS steering (`traffic`) sends users to the nearest, which averages {by_distance['mean_rtt_ms']:.1f} ms"
    ) in " ".join(out.split())
    assert "note: for" not in _ok(["place", "t"])  # not steered: no DNS to say anything about

"""A measured RTT matrix (``edgefleet.rtt/v1``, written by ``edgefleet doctor --rtt-matrix``) turned
into per-location corrections of the latency model. Pure Python (numpy); no ``pulumi``.

The doctor measures round trips **between locations** (clusters); placement needs them **from users
to a location**. The bridge is the latency model itself (``latency.py``), with two numbers per
location ``j`` instead of fleet-wide constants:

- ``f_j``, its path inflation (default: the model's, 2.1): how much longer than straight fiber
  along the great circle the paths into ``j`` are;
- ``e_j``, its site delay in ms (default 0): a fixed cost at ``j`` itself (a slow uplink, an extra
  hop to the data centre, a congested load balancer) that every round trip through ``j`` pays.

A round trip between locations ``a`` and ``b``, ``d`` km apart, is then
``e_a + e_b + (f_a + f_b) / 2 x d / 100`` (a path's inflation is the mean of its two ends'; no last
mile). A user ``d`` km from ``j`` sees ``access + e_j + (f + f_j) / 2 x d / 100``: the same rule
with the user's end at the model's inflation ``f`` (nothing measured it) and the user's fixed cost
in ``access``. ``fit`` chooses every measured location's ``(e_j, f_j)`` by least squares in
milliseconds over the measured pairs (the median RTT, ``measured_p50_ms``), with a Gaussian prior
centred on the model (a ridge): ``e_j`` with a standard deviation of ``PRIOR_DELAY_MS``, ``f_j`` of
``PRIOR_INFLATION``, the pairs' residuals of ``PAIR_NOISE_MS``. So:

- a matrix that agrees with the model leaves every location at the model (placement unchanged);
- many pairs at different distances tell delay from inflation; where the pairs cannot (one pair,
  two locations, pairs of one length), the fit stays as close to the model as the pairs allow, and
  a short pair (two sites in one metro) moves the delay, not the inflation;
- ``f_j >= 1`` and ``e_j >= 0`` (bounded least squares): no location is faster than light in fiber;
- a location no pair measures keeps the model's numbers.

The fitted numbers are rounded (inflation to 0.001, delay to 0.01 ms) and the pairs are summed in a
fixed order, so that the result, and every placement made from it, does not depend on the order of
the file's entries and is the same on machines whose linear algebra differs in the last bits (but
for a number within about 1e-12 of a rounding boundary).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from edgefleet.components.placement.latency import FIBER_MS_PER_KM, LatencyModel, paired_distances

RTT_FORMAT = "edgefleet.rtt/v1"
MAX_RTT_BYTES = 16 * 1024 * 1024
MAX_PAIRS = 200_000  # every pair of 632 locations
MAX_LOCATIONS = 1_000  # measured locations (the fit solves a dense system of twice as many unknowns)
MAX_RTT_MS = 10_000.0  # 10 s: a probe timeout or a unit error, not a round trip placement can use
LOCATION_SLACK_KM = 50.0  # a region is placed at its city; its data centres may be this far away
# The prior's widths (assumptions, not measurements: how far a location may move on little
# evidence) and a pair's residual. One pair 1,000 km long (5 ms per unit of inflation at each end)
# weighs 25 against the inflation prior's 4.
PRIOR_DELAY_MS = 5.0
PRIOR_INFLATION = 0.5
PAIR_NOISE_MS = 1.0
_PAIR_KEYS = frozenset({"a", "b", "measured_p50_ms", "measured_p99_ms", "model_ms", "probes"})
_MAX_NAME = 64  # cluster names are at most 40 characters; longer is not one (and is not echoed back)
_TOP_KEYS = frozenset({"format", "source", "pairs"})
_FIX = "write it with `edgefleet doctor STACK --rtt-matrix FILE`"


class RttMatrixError(ValueError):
    """A problem with the matrix file, one line: what is wrong, where in the file, and the fix."""


@dataclass(frozen=True)
class MeasuredPair:
    """One entry of ``pairs``: its index in the file, the two clusters, the measured median (None:
    no replies, not used)."""

    index: int
    a: str
    b: str
    measured_ms: float | None


@dataclass(frozen=True)
class PairFit:
    """A pair as placement reads it: the great-circle km between the clusters, the measurement, the
    model's estimate (``inflation x d / 100``, no last mile) and the fitted one (its locations'
    numbers: ``e_a + e_b + (f_a + f_b) / 2 x d / 100``)."""

    a: str
    b: str
    km: float
    measured_ms: float | None
    model_ms: float
    fitted_ms: float


@dataclass(frozen=True)
class LocationFit:
    """A measured location's fitted path inflation and site delay, from ``pairs`` measured pairs."""

    name: str
    inflation: float
    delay_ms: float
    pairs: int


@dataclass(frozen=True)
class RttFit:
    """The fit of one matrix: every measured location's numbers (sorted by name) and every pair."""

    locations: tuple[LocationFit, ...]
    pairs: tuple[PairFit, ...]
    default_inflation: float

    def of(self, name: str) -> LocationFit | None:
        """The fitted numbers of ``name``; None when no pair measures it (it keeps the model's)."""
        for found in self.locations:
            if found.name == name:
                return found
        return None

    def rms_ms(self) -> tuple[float, float]:
        """Root mean square of (measured - model) and of (measured - fitted) over the measured pairs:
        how far the model was, and how much of that the fit explains."""
        measured = [p for p in self.pairs if p.measured_ms is not None]
        model = math.sqrt(sum(((p.measured_ms or 0.0) - p.model_ms) ** 2 for p in measured) / len(measured))
        fitted = math.sqrt(sum(((p.measured_ms or 0.0) - p.fitted_ms) ** 2 for p in measured) / len(measured))
        return round(model, 3), round(fitted, 3)


# --- reading ---------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A JSON number as a float (booleans are not numbers; an integer past a float's range is
    infinite), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _brief(value: Any) -> str:
    """``repr(value)``, cut to 40 characters: the file's own text is not echoed back at length."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_name(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= _MAX_NAME


def parse_matrix(text: str, shown: str) -> tuple[MeasuredPair, ...]:
    """The pairs of an ``edgefleet.rtt/v1`` document; ``RttMatrixError`` naming ``shown`` (the path
    as the config writes it), the entry and the fix for anything else."""
    if not text.strip():
        raise RttMatrixError(f"{shown} is empty; {_FIX}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RttMatrixError(f"{shown}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); {_FIX}") from None
    except (ValueError, RecursionError) as exc:
        from edgefleet.components.config.source import json_problem  # noqa: PLC0415

        raise RttMatrixError(f"{shown}: not a matrix edgefleet reads: {json_problem(exc)}") from None
    if not isinstance(doc, dict):
        raise RttMatrixError(f"{shown}: expected an object with `format` and `pairs`; {_FIX}")
    tag = doc.get("format")
    if tag != RTT_FORMAT:
        said = "has no `format`" if tag is None else f"format is {_brief(tag)}"
        raise RttMatrixError(f"{shown}: {said}, not {RTT_FORMAT!r}; {_FIX}")
    unknown = sorted(str(k) for k in doc if k not in _TOP_KEYS)
    if unknown:
        raise RttMatrixError(
            f"{shown}: unknown key {_brief(unknown[0])}; an {RTT_FORMAT} file has format, source, pairs"
        )
    raw = doc.get("pairs")
    if not isinstance(raw, list):
        raise RttMatrixError(f"{shown}: `pairs` must be a list of {{a, b, measured_p50_ms}}; {_FIX}")
    if not raw:
        raise RttMatrixError(f"{shown}: `pairs` is empty: nothing was measured; {_FIX} once the WAN probes run")
    if len(raw) > MAX_PAIRS:
        raise RttMatrixError(
            f"{shown}: {len(raw):,} pairs, more than the {MAX_PAIRS:,} edgefleet reads (every pair of 632 "
            "locations); keep the pairs of the fleet's latency locations"
        )
    out: list[MeasuredPair] = []
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(raw):
        where = f"{shown}: pairs[{i}]"
        if not isinstance(entry, dict):
            raise RttMatrixError(f"{where}: expected an object {{a, b, measured_p50_ms}}")
        extra = sorted(str(k) for k in entry if k not in _PAIR_KEYS)
        if extra:
            raise RttMatrixError(f"{where}: unknown key {_brief(extra[0])}; keys: {', '.join(sorted(_PAIR_KEYS))}")
        a, b = entry.get("a"), entry.get("b")
        if not (_is_name(a) and _is_name(b)):
            raise RttMatrixError(f"{where}: `a` and `b` must name two clusters of the fleet (cluster names)")
        where = f"{where} ({a} <-> {b})"
        if a == b:
            raise RttMatrixError(f"{where}: a cluster paired with itself; a pair names two clusters")
        key = (min(a, b), max(a, b))
        if key in seen:
            raise RttMatrixError(f"{where}: the same pair as pairs[{seen[key]}]; keep one measurement per pair")
        seen[key] = i
        if "measured_p50_ms" not in entry:
            raise RttMatrixError(f"{where}: no `measured_p50_ms` (null when the pair had no replies)")
        value = entry["measured_p50_ms"]
        measured = None if value is None else _number(value)
        if value is not None and measured is None:
            raise RttMatrixError(
                f"{where}: measured_p50_ms {_brief(value)} is not a number of milliseconds; write the median "
                "round trip in ms, or null for a pair without replies"
            )
        if measured is not None:
            if not math.isfinite(measured):
                raise RttMatrixError(
                    f"{where}: measured_p50_ms {_brief(value)} is not a finite number; write the median round trip in "
                    "ms, or null for a pair without replies"
                )
            if not measured > 0:
                raise RttMatrixError(
                    f"{where}: measured_p50_ms {measured:g} is not a round trip (it must be more than 0 ms)"
                )
            if measured > MAX_RTT_MS:
                raise RttMatrixError(
                    f"{where}: measured_p50_ms {measured:g} is more than {MAX_RTT_MS:g} ms: a probe timeout or "
                    "a unit error (the values are milliseconds), not a round trip placement can use"
                )
        for other in ("measured_p99_ms", "model_ms", "probes"):
            given = entry.get(other)
            number = _number(given)
            if given is not None and (number is None or not math.isfinite(number) or number < 0):
                raise RttMatrixError(f"{where}: {other} {_brief(given)} is not a finite number of at least 0")
        out.append(MeasuredPair(i, a, b, measured))
    if all(p.measured_ms is None for p in out):
        raise RttMatrixError(f"{shown}: no pair has a measured_p50_ms (no replies anywhere); nothing to fit")
    return tuple(out)


# --- the fit -------------------------------------------------------------------------------------


def _suggest(name: str, names: Sequence[str]) -> str:
    import difflib  # noqa: PLC0415

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"clusters: {', '.join(sorted(names)[:10])}"


def fit(
    pairs: Sequence[MeasuredPair],
    locations: Mapping[str, tuple[float, float]],
    model: LatencyModel,
    shown: str,
) -> RttFit:
    """Every measured location's path inflation and site delay (module docstring). ``locations``:
    every cluster of the fleet, name -> (lat, lon). ``RttMatrixError`` for a pair naming a cluster
    the fleet does not have, or measured faster than light in fiber can go."""
    names = sorted(locations)
    for p in pairs:
        for name in (p.a, p.b):
            if name not in locations:
                raise RttMatrixError(
                    f"{shown}: pairs[{p.index}] ({p.a} <-> {p.b}): no cluster named {name!r} in the fleet; "
                    f"{_suggest(name, names)} (pairs name clusters, as `edgefleet doctor` writes them)"
                )
    coords = np.array([locations[n] for n in names], dtype=np.float64)
    index = {n: i for i, n in enumerate(names)}
    # Each pair with its names in order (a pair and its reverse are the same numbers).
    ia = np.array([index[min(p.a, p.b)] for p in pairs], dtype=np.int64)
    ib = np.array([index[max(p.a, p.b)] for p in pairs], dtype=np.int64)
    km = _pair_km(coords, ia, ib)
    for p, d in zip(pairs, km.tolist(), strict=True):
        if p.measured_ms is None:
            continue
        floor = max(0.0, d - 2 * LOCATION_SLACK_KM) * FIBER_MS_PER_KM
        if p.measured_ms < floor:
            raise RttMatrixError(
                f"{shown}: pairs[{p.index}] ({p.a} <-> {p.b}): measured {p.measured_ms:g} ms is faster than light "
                f"in fiber over the {d:,.0f} km between them (at least {floor:.2f} ms, allowing "
                f"{LOCATION_SLACK_KM:g} km at each end): physically impossible; check that the pair names the "
                "clusters measured and that their locations are right"
            )
    # In a canonical order (by the pair's names), so the order of the file's entries never changes a
    # floating-point sum of the fit.
    measured = sorted(
        (i for i, p in enumerate(pairs) if p.measured_ms is not None), key=lambda i: sorted((pairs[i].a, pairs[i].b))
    )
    used = sorted({n for i in measured for n in (pairs[i].a, pairs[i].b)})
    if len(used) > MAX_LOCATIONS:
        raise RttMatrixError(
            f"{shown}: measures {len(used):,} locations, more than the {MAX_LOCATIONS:,} edgefleet fits; keep the "
            "pairs of the fleet's latency locations"
        )
    slot = {n: j for j, n in enumerate(used)}
    delay, inflation = _solve(
        [slot[min(pairs[i].a, pairs[i].b)] for i in measured],
        [slot[max(pairs[i].a, pairs[i].b)] for i in measured],
        km[measured],
        np.array([pairs[i].measured_ms for i in measured], dtype=np.float64),
        n=len(used),
        f0=model.inflation,
    )
    counts = dict.fromkeys(used, 0)
    for i in measured:
        counts[pairs[i].a] += 1
        counts[pairs[i].b] += 1
    fitted = {n: LocationFit(n, inflation[j], delay[j], counts[n]) for j, n in enumerate(used)}
    default = LocationFit("", model.inflation, 0.0, 0)
    out = []
    for p, d in zip(pairs, km.tolist(), strict=True):
        fa, fb = fitted.get(p.a, default), fitted.get(p.b, default)
        estimate = fa.delay_ms + fb.delay_ms + (fa.inflation + fb.inflation) / 2 * d * FIBER_MS_PER_KM
        out.append(
            PairFit(
                a=p.a,
                b=p.b,
                km=round(d, 1),
                measured_ms=p.measured_ms,
                model_ms=round(model.inflation * d * FIBER_MS_PER_KM, 3),
                fitted_ms=round(estimate, 3),
            )
        )
    return RttFit(tuple(fitted[n] for n in used), tuple(out), model.inflation)


def _pair_km(coords: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """Great-circle km between ``coords[ia[k]]`` and ``coords[ib[k]]`` for every k."""
    return paired_distances(coords[ia].reshape(-1, 2), coords[ib].reshape(-1, 2))


def _solve(
    ia: Sequence[int], ib: Sequence[int], km: np.ndarray, rtt: np.ndarray, *, n: int, f0: float
) -> tuple[list[float], list[float]]:
    """Bounded ridge least squares for ``(e_j, f_j)``: minimise
    ``sum_p ((rtt_p - e_a - e_b - (f_a + f_b) k_p) / PAIR_NOISE_MS)^2 + sum_j (e_j / PRIOR_DELAY_MS)^2
    + ((f_j - f0) / PRIOR_INFLATION)^2`` with ``k_p = d_p / 200`` (ms per unit of inflation at each
    end), ``e_j >= 0``, ``f_j >= 1``: a quadratic programme over the normal matrix (``2n x 2n``,
    positive definite thanks to the prior), solved exactly by ``_nonnegative_qp``."""

    k = km * FIBER_MS_PER_KM / 2.0
    ia_a, ib_a = np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
    # Unknowns x = (e_0..e_{n-1}, g_0..g_{n-1}) with g_j = f_j - f0; each pair's row has 1 at e_a
    # and e_b and k at g_a and g_b; its target is rtt - 2 k f0 (the model's inflation at both ends).
    target = (rtt - 2.0 * k * f0) / PAIR_NOISE_MS
    cols = np.stack([ia_a, ib_a, n + ia_a, n + ib_a], axis=1)
    vals = np.stack([np.ones_like(k), np.ones_like(k), k, k], axis=1) / PAIR_NOISE_MS
    normal = np.zeros((2 * n, 2 * n))
    for r in range(4):
        for c in range(4):
            np.add.at(normal, (cols[:, r], cols[:, c]), vals[:, r] * vals[:, c])
    rhs = np.zeros(2 * n)
    for r in range(4):
        np.add.at(rhs, cols[:, r], vals[:, r] * target)
    prior = np.concatenate([np.full(n, 1.0 / PRIOR_DELAY_MS**2), np.full(n, 1.0 / PRIOR_INFLATION**2)])
    normal[np.diag_indices(2 * n)] += prior
    # x >= lower: with y = x - lower, minimise y^T N y / 2 - (rhs - N lower)^T y over y >= 0.
    lower = np.concatenate([np.zeros(n), np.full(n, 1.0 - f0)])
    x = lower + _nonnegative_qp(normal, rhs - normal @ lower)
    delay = [max(0.0, round(float(v), 2)) + 0.0 for v in x[:n]]
    inflation = [max(1.0, round(f0 + float(v), 3)) for v in x[n:]]
    return delay, inflation


def _nonnegative_qp(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The minimiser of ``y^T q y / 2 - c^T y`` over ``y >= 0``, ``q`` positive definite: block
    principal pivoting (Judice and Pires 1994, as Kim and Park 2011 use it for non-negative least
    squares). Each step solves the free variables' system exactly and exchanges every variable that
    breaks the optimality conditions (a free one below 0, a fixed one whose gradient says it should
    grow) at once; after three exchanges that do not reduce their number, one at a time (the last),
    which always terminates. A few steps where the active-set method (BVLS) took one per variable:
    1,000 locations in a chain took 5 minutes with BVLS."""
    n = len(c)
    free = np.ones(n, dtype=bool)  # start from the unbounded minimiser: most variables stay free
    fewest, chances = n + 1, 3
    y_tol = 1e-9
    w_tol = 1e-9 * max(1.0, float(np.abs(c).max(initial=0.0)))
    for _ in range(10 * n + 100):
        y = np.zeros(n)
        if free.any():
            y[free] = np.linalg.solve(q[np.ix_(free, free)], c[free])
        w = q @ y - c  # the gradient: 0 on the free variables
        wrong = (free & (y < -y_tol)) | (~free & (w < -w_tol))
        count = int(wrong.sum())
        if count == 0:
            return np.maximum(y, 0.0)
        if count < fewest:
            fewest, chances = count, 3
            free ^= wrong
        elif chances > 0:
            chances -= 1
            free ^= wrong
        else:
            last = int(np.flatnonzero(wrong)[-1])
            free[last] = not free[last]
    raise RuntimeError("block principal pivoting did not converge")  # pragma: no cover (it terminates)


def read_fit(text: str, shown: str, locations: Mapping[str, tuple[float, float]], model: LatencyModel) -> RttFit:
    """``parse_matrix`` then ``fit``."""
    return fit(parse_matrix(text, shown), locations, model, shown)

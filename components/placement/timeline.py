"""Placement over time: demand per window of the day, and a schedule of placements that follows it.

Pure Python (no ``pulumi``), deterministic: the same demand, sites and rules give the same schedule.

Demand over time is a ``DemandSeries``: for every window of a UTC day (``window_minutes`` long,
starting at 00:00 UTC), demand points weighted in requests per second. It comes from

- the model (``diurnal_series``): a preset's (or explicit) points, each weighted by an activity curve
  over its local solar time (``ACTIVITY``), scaled so the day's mean total is ``rate`` requests per
  second;
- real traffic (a CSV file, ``components/config/traffic.py``, or Prometheus,
  ``components/config/prometheus.py``), which the readers turn into the same series.

The schedule (``schedule``) places every window in turn with the latency solver (``place.place``):

- a location opened in a window stays open at least ``min_dwell_minutes`` (it is a ``must_include``
  of the windows until then);
- a location that would serve less than ``min_usage_rps`` (its share of the window's demand times the
  window's request rate) is not opened: the window is placed again with one location fewer, down to
  the floor (``min_locations``, the locations kept by dwell or ``must_include``, one per missing
  vendor);
- the previous window's locations are kept unless the new placement is better by more than
  ``threshold`` of mean RTT (the stability rule of ``place.place``);
- the total replicas follow the request rate when ``requests_per_replica`` is set: ``ceil(rate /
  requests_per_replica)``, clamped to ``[min_replicas, max_replicas]`` and to at least
  ``min_replicas_per_location`` per location; otherwise the workload's ``replicas``.

A day's schedule is periodic: it is computed over two consecutive days from a cold start, and the
second day is the result, so dwell and stability carry over midnight the same way every day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

from edgefleet.components.placement.demand import DemandPoint
from edgefleet.components.placement.latency import LatencyModel
from edgefleet.components.placement.place import DEFAULT_THRESHOLD, Placement, Site, place

DAY_MINUTES = 24 * 60

# Relative Internet activity (share of the daily peak) at each local hour 00:00 ... 23:00, linearly
# interpolated in between. A smooth reading of the shape of published diurnal traffic curves, not a
# measured series: consumer traffic bottoms out around 04:00-05:00 local time at roughly a third of
# the peak, climbs through the morning and the working day (a shoulder around 16:00), and peaks in
# the evening (21:00-22:00) before falling after midnight. Sources: C. Labovitz, "The Internet
# After Dark" (Arbor Networks ASERT blog: North American traffic at 50% of its peak at 06:00, a
# local maximum at 16:00, the peak at 23:00 EDT; European traffic peaks in the early evening); the
# AMS-IX and DE-CIX daily traffic graphs (docs/placement.md#the-activity-curve-diurnal-true).
ACTIVITY: tuple[float, ...] = (
    0.80,  # 00
    0.64,  # 01
    0.50,  # 02
    0.40,  # 03
    0.34,  # 04
    0.33,  # 05
    0.38,  # 06
    0.48,  # 07
    0.58,  # 08
    0.65,  # 09
    0.69,  # 10
    0.72,  # 11
    0.74,  # 12
    0.75,  # 13
    0.76,  # 14
    0.78,  # 15
    0.80,  # 16
    0.80,  # 17
    0.83,  # 18
    0.89,  # 19
    0.96,  # 20
    1.00,  # 21
    0.99,  # 22
    0.92,  # 23
)


def activity(local_hours: np.ndarray) -> np.ndarray:
    """``ACTIVITY`` at local times of day (hours, any real number: taken modulo 24)."""
    hours = np.mod(np.asarray(local_hours, dtype=np.float64), 24.0)
    grid = np.arange(25, dtype=np.float64)
    values = np.array([*ACTIVITY, ACTIVITY[0]], dtype=np.float64)
    out: np.ndarray = np.interp(hours, grid, values)
    return out


# --- durations and windows -----------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """``"90m"``, ``"1h"``, ``"1h30m"`` -> minutes. Raises ``ValueError`` with the fix."""
    import re  # noqa: PLC0415  (only the config reader parses durations)

    match = re.fullmatch(r"(?:(\d{1,3})h)?(?:(\d{1,5})m)?", text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration; write minutes or hours such as `15m`, `1h` or `1h30m`")
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def windows_per_day(window_minutes: int) -> int:
    return DAY_MINUTES // window_minutes


def window_start(at: datetime, window_minutes: int) -> datetime:
    """The start (UTC) of the window that holds ``at`` (naive times are taken as UTC)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = (at - midnight) // timedelta(minutes=1)
    return midnight + timedelta(minutes=minutes - minutes % window_minutes)


def window_index(at: datetime, window_minutes: int) -> int:
    """Which window of its UTC day ``at`` falls in (0 = the one starting at 00:00)."""
    start = window_start(at, window_minutes)
    return (start.hour * 60 + start.minute) // window_minutes


def format_time(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second: ``2026-03-01T14:00:00Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (``Z`` or ``+00:00``; other offsets are converted), or a
    date (midnight UTC). Raises ``ValueError`` naming the expected form."""
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time such as 2026-03-01T14:00:00Z") from None
    if parsed.tzinfo is None:
        if len(raw) == 10:  # a date alone: midnight UTC
            return parsed.replace(tzinfo=UTC)
        raise ValueError(f"{text!r} has no time zone; write it in UTC with a `Z`, such as 2026-03-01T14:00:00Z")
    return parsed.astimezone(UTC)


# --- demand over time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemandSeries:
    """Demand per window of the UTC day: ``windows[i]`` holds the points of the window starting at
    ``i * window_minutes`` past 00:00 UTC, weighted in requests per second (an empty window or all
    zero weights: no requests). ``source`` says where it came from (for the output)."""

    window_minutes: int
    windows: tuple[tuple[DemandPoint, ...], ...]
    source: str

    def __post_init__(self) -> None:
        if self.window_minutes < 1 or DAY_MINUTES % self.window_minutes:
            raise ValueError(f"a window of {self.window_minutes} minutes does not divide the day")
        if len(self.windows) != DAY_MINUTES // self.window_minutes:
            raise ValueError(f"{len(self.windows)} windows for a day of {self.window_minutes}-minute windows")
        if not any(p.weight > 0 for points in self.windows for p in points):
            raise ValueError("no requests in any window of the day: nothing to place")
        if any(not (math.isfinite(p.weight) and p.weight >= 0) for points in self.windows for p in points):
            raise ValueError("request rates must be finite and at least 0")

    def rate(self, index: int) -> float:
        """Requests per second in window ``index``."""
        return float(sum(p.weight for p in self.windows[index]))

    def day_total(self) -> tuple[DemandPoint, ...]:
        """Every window's points added up by (lat, lon, label): the demand of the whole day."""
        acc: dict[tuple[float, float, str], float] = {}
        for points in self.windows:
            for p in points:
                key = (p.lat, p.lon, p.label)
                acc[key] = acc.get(key, 0.0) + p.weight
        return tuple(DemandPoint(lat, lon, w, label) for (lat, lon, label), w in acc.items() if w > 0)


def diurnal_series(points: Sequence[DemandPoint], window_minutes: int, rate: float, source: str) -> DemandSeries:
    """``points`` (weights: relative population) weighted by ``ACTIVITY`` at each point's local solar
    time (longitude / 15 hours from UTC) in the middle of each window, scaled so that the mean total
    over the day is ``rate`` requests per second."""
    n = windows_per_day(window_minutes)
    lon = np.array([p.lon for p in points], dtype=np.float64)
    base = np.array([p.weight for p in points], dtype=np.float64)
    mid_hours = (np.arange(n, dtype=np.float64) + 0.5) * window_minutes / 60.0
    act = activity(mid_hours[:, None] + lon[None, :] / 15.0)  # (windows, points)
    weights = act * base[None, :]
    scale = rate / float(weights.sum(axis=1).mean())
    weights *= scale
    return DemandSeries(
        window_minutes,
        tuple(tuple(replace(p, weight=float(weights[i, j])) for j, p in enumerate(points)) for i in range(n)),
        source,
    )


def static_series(points: Sequence[DemandPoint], window_minutes: int, rate: float, source: str) -> DemandSeries:
    """The same demand in every window (``rate`` requests per second in total)."""
    total = float(sum(p.weight for p in points))
    scaled = tuple(replace(p, weight=p.weight / total * rate) for p in points)
    return DemandSeries(window_minutes, tuple(scaled for _ in range(windows_per_day(window_minutes))), source)


# --- the schedule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRules:
    """How the schedule moves between windows (see the module docstring)."""

    min_dwell_minutes: int = 0
    min_usage_rps: float = 0.0
    threshold: float = DEFAULT_THRESHOLD
    requests_per_replica: float | None = None
    min_replicas: int = 1
    max_replicas: int = 1


@dataclass(frozen=True)
class Workload:
    """The placement constraints of one workload (sites already filtered and sorted by name)."""

    sites: tuple[Site, ...]
    locations: int
    min_locations: int
    min_vendors: int
    must_include: tuple[str, ...]
    replicas: int  # the workload's replicas: the total when replicas do not follow the volume
    min_replicas_per_location: int
    model: LatencyModel = field(default_factory=LatencyModel)
    exact: bool = False


@dataclass(frozen=True)
class WindowPlacement:
    """One window's decision: its start (minutes past 00:00 UTC), the request rate, the placement,
    requests per second per chosen location, which locations it opens and closes against the window
    before it, and which locations dwell kept."""

    index: int
    start_minute: int
    requests_per_second: float
    placement: Placement
    usage_rps: tuple[float, ...]
    opened: tuple[str, ...]
    closed: tuple[str, ...]
    kept_by_dwell: tuple[str, ...]


def _floor(workload: Workload, must: Sequence[str]) -> int:
    vendor = {s.name: s.vendor for s in workload.sites}
    covered = {vendor[name] for name in must}
    return max(workload.min_locations, len(must) + max(0, workload.min_vendors - len(covered)), workload.min_vendors)


def _total_replicas(workload: Workload, rules: ScheduleRules, rate: float, k: int) -> int:
    least = k * workload.min_replicas_per_location
    if rules.requests_per_replica is None:
        return max(workload.replicas, least)
    wanted = math.ceil(rate / rules.requests_per_replica - 1e-9) if rate > 0 else 0
    return max(least, min(rules.max_replicas, max(rules.min_replicas, wanted)))


def place_window(
    workload: Workload,
    rules: ScheduleRules,
    points: Sequence[DemandPoint],
    rate: float,
    *,
    locked: Sequence[str] = (),
    previous: Sequence[str] | None = None,
    fallback: Sequence[DemandPoint] = (),
) -> tuple[Placement, tuple[float, ...]]:
    """One window: the largest number of locations (from ``workload.locations`` down to the floor)
    at which every location that neither dwell (``locked``) nor ``must_include`` keeps serves at
    least ``rules.min_usage_rps``; stability against ``previous``. A window without requests is
    placed on ``fallback`` (the day's demand) at the floor. Returns the placement and the requests
    per second each chosen location serves."""
    must = tuple(sorted(set(workload.must_include) | set(locked)))
    floor = min(_floor(workload, must), workload.locations)
    demand = tuple(points) if rate > 0 else tuple(fallback)
    top = workload.locations if rate > 0 else floor
    keep = set(must)
    for k in range(top, floor - 1, -1):
        chosen = place(
            workload.sites,
            demand,
            locations=k,
            min_locations=floor,
            min_vendors=workload.min_vendors,
            must_include=must,
            total_replicas=_total_replicas(workload, rules, rate, k),
            min_replicas=workload.min_replicas_per_location,
            model=workload.model,
            previous=previous,
            threshold=rules.threshold,
            exact=workload.exact,
        )
        usage = tuple(share * rate for share in chosen.demand_share)
        low = [c for c, u in zip(chosen.clusters, usage, strict=True) if c not in keep and u < rules.min_usage_rps]
        if not low or k == floor:
            return chosen, usage
    raise AssertionError("unreachable: the loop returns at the floor")


def schedule(workload: Workload, series: DemandSeries, rules: ScheduleRules) -> tuple[WindowPlacement, ...]:
    """The placement of every window of the day (see the module docstring). Memoised."""
    return _schedule(workload, series, rules)


@lru_cache(maxsize=16)
def _schedule(workload: Workload, series: DemandSeries, rules: ScheduleRules) -> tuple[WindowPlacement, ...]:
    n = windows_per_day(series.window_minutes)
    fallback = series.day_total()
    opened_at: dict[str, int] = {}
    previous: tuple[str, ...] | None = None
    out: list[WindowPlacement] = []
    for step in range(2 * n):
        index = step % n
        now = step * series.window_minutes
        locked = tuple(sorted(c for c, t in opened_at.items() if now < t + rules.min_dwell_minutes))
        rate = series.rate(index)
        chosen, usage = place_window(
            workload, rules, series.windows[index], rate, locked=locked, previous=previous, fallback=fallback
        )
        before = set(previous or ())
        opened = tuple(c for c in chosen.clusters if c not in before)
        closed = tuple(sorted(before - set(chosen.clusters)))
        opened_at = {c: opened_at.get(c, now) if c in before else now for c in chosen.clusters}
        if step >= n:
            out.append(
                WindowPlacement(
                    index=index,
                    start_minute=index * series.window_minutes,
                    requests_per_second=rate,
                    placement=chosen,
                    usage_rps=usage,
                    opened=opened,
                    closed=closed,
                    kept_by_dwell=locked,
                )
            )
        previous = chosen.clusters
    return tuple(out)


@dataclass(frozen=True)
class StaticFigures:
    """The best single placement for the whole day, measured in each window."""

    placement: Placement  # placed on the day's total demand
    per_window: tuple[Placement, ...]  # the same locations, measured against each window's demand


def best_static(workload: Workload, series: DemandSeries, locations: int | None = None) -> StaticFigures:
    """The placement that minimises the day's request-weighted mean RTT (all windows' demand added
    up) at ``locations`` (default ``workload.locations``), and its figures in every window."""
    k = locations or workload.locations
    day = series.day_total()
    rate = sum(p.weight for p in day) / windows_per_day(series.window_minutes)
    best = place(
        workload.sites,
        day,
        locations=k,
        min_locations=min(workload.min_locations, k),
        min_vendors=workload.min_vendors,
        must_include=workload.must_include,
        total_replicas=_total_replicas(workload, ScheduleRules(), rate, k),
        min_replicas=workload.min_replicas_per_location,
        model=workload.model,
        exact=workload.exact,
    )
    per_window = []
    for index in range(windows_per_day(series.window_minutes)):
        points = series.windows[index] if series.rate(index) > 0 else day
        per_window.append(
            place(
                workload.sites,
                points,
                locations=len(best.clusters),
                min_locations=len(best.clusters),
                min_vendors=workload.min_vendors,
                must_include=best.clusters,
                total_replicas=best_replicas(best),
                min_replicas=workload.min_replicas_per_location,
                model=workload.model,
            )
        )
    return StaticFigures(best, tuple(per_window))


def best_replicas(placement: Placement) -> int:
    return int(sum(placement.replicas))


def window_starts(day: datetime, window_minutes: int) -> tuple[datetime, ...]:
    """The start of every window of ``day``'s UTC day."""
    midnight = window_start(day, DAY_MINUTES)
    return tuple(midnight + timedelta(minutes=i * window_minutes) for i in range(windows_per_day(window_minutes)))

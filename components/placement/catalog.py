"""The region catalog: every public region of the five vendors, as data.

Loaded once from ``data/regions.json`` (shipped as package data, read with ``importlib.resources``
so it works from an installed wheel too). Each region carries the vendor's own id, its city,
country (ISO 3166-1 alpha-2), continent, coordinates, the zones a multi-zone cluster uses, and the
residency groups of its country (derived from ``geo.RESIDENCY_GROUPS``, never stored). Pure data:
no ``pulumi`` here.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from edgefleet.components.placement.geo import RESIDENCY_GROUPS

CONTINENTS: tuple[str, ...] = ("AF", "AS", "EU", "NA", "OC", "SA")
SUGGESTIONS = 3
_DATA = "data/regions.json"
_SOURCE_KEY = "_source"


@dataclass(frozen=True)
class Region:
    """One region of one vendor."""

    vendor: str
    id: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    continent: str  # one of CONTINENTS
    lat: float
    lon: float
    zones: tuple[str, ...]  # empty where the vendor has no zones (or the region has none)
    residency: frozenset[str]  # the residency groups the country belongs to


class UnknownVendor(LookupError):
    """A vendor the catalog does not have; ``vendors`` lists the ones it has."""

    def __init__(self, vendor: str, known: tuple[str, ...]) -> None:
        self.vendor, self.vendors = vendor, known
        super().__init__(f"unknown vendor {vendor!r}; vendors: {', '.join(known)}")


class UnknownRegion(LookupError):
    """A region the vendor does not have; ``suggestions`` holds the closest valid ids."""

    def __init__(self, vendor: str, region_id: str, suggestions: tuple[str, ...]) -> None:
        self.vendor, self.region_id, self.suggestions = vendor, region_id, suggestions
        super().__init__(f"{vendor} has no region {region_id!r}; closest: {', '.join(suggestions)}")


def residency_of(country: str) -> frozenset[str]:
    """The residency groups (``geo.RESIDENCY_GROUPS`` names) whose members include ``country``."""
    code = country.upper()
    return frozenset(name for name, members in RESIDENCY_GROUPS.items() if code in members)


def _region(vendor: str, row: dict[str, Any]) -> Region:
    country = str(row["country"])
    return Region(
        vendor=vendor,
        id=str(row["id"]),
        city=str(row["city"]),
        country=country,
        continent=str(row["continent"]),
        lat=float(row["lat"]),
        lon=float(row["lon"]),
        zones=tuple(str(zone) for zone in row["zones"]),
        residency=residency_of(country),
    )


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("edgefleet.components.placement").joinpath(_DATA).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _catalog() -> dict[str, dict[str, Region]]:
    raw = _raw()
    catalog: dict[str, dict[str, Region]] = {}
    for vendor in sorted(key for key in raw if key != _SOURCE_KEY):
        by_id: dict[str, Region] = {}
        for row in raw[vendor]:
            region_ = _region(vendor, row)
            if region_.id in by_id:
                raise ValueError(f"{_DATA}: {vendor} lists region {region_.id!r} twice")
            if region_.continent not in CONTINENTS:
                raise ValueError(f"{_DATA}: {vendor} {region_.id}: unknown continent {region_.continent!r}")
            by_id[region_.id] = region_
        catalog[vendor] = dict(sorted(by_id.items()))
    return catalog


def source() -> str:
    """Where the data comes from, and as of when (the data file's ``_source``)."""
    return str(_raw()[_SOURCE_KEY])


def vendors() -> tuple[str, ...]:
    """The vendors in the catalog, sorted."""
    return tuple(_catalog())


def _regions_of(vendor: str) -> dict[str, Region]:
    catalog = _catalog()
    if vendor not in catalog:
        raise UnknownVendor(vendor, tuple(catalog))
    return catalog[vendor]


def regions(vendor: str) -> tuple[Region, ...]:
    """Every region of ``vendor``, sorted by id."""
    return tuple(_regions_of(vendor).values())


def closest_ids(region_id: str, candidates: tuple[str, ...], n: int = SUGGESTIONS) -> tuple[str, ...]:
    """The ``n`` candidates most similar to ``region_id`` (difflib ratio), ties alphabetical."""
    wanted = region_id.strip().lower()
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(wanted)
    scored = []
    for candidate in candidates:
        matcher.set_seq1(candidate)
        scored.append((-matcher.ratio(), candidate))
    return tuple(candidate for _, candidate in sorted(scored)[:n])


def region(vendor: str, region_id: str) -> Region:
    """The region ``region_id`` of ``vendor``; ``UnknownVendor`` or ``UnknownRegion`` otherwise."""
    by_id = _regions_of(vendor)
    found = by_id.get(region_id)
    if found is None:
        raise UnknownRegion(vendor, region_id, closest_ids(region_id, tuple(by_id)))
    return found

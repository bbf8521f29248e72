"""Residency groups: named sets of ISO 3166-1 alpha-2 country codes. Pure data."""

from __future__ import annotations

EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
RESIDENCY_GROUPS: dict[str, frozenset[str]] = {
    "EU": EU,
    "EEA": EU | {"IS", "LI", "NO"},
    "US": frozenset({"US"}),
    "APAC": frozenset(
        [
            "AU",
            "BD",
            "BN",
            "CN",
            "HK",
            "ID",
            "IN",
            "JP",
            "KH",
            "KR",
            "LA",
            "LK",
            "MM",
            "MN",
            "MY",
            "NP",
            "NZ",
            "PH",
            "PK",
            "SG",
            "TH",
            "TW",
            "VN",
        ]
    ),
    "LATAM": frozenset(["AR", "BO", "BR", "CL", "CO", "CR", "EC", "GT", "MX", "PA", "PE", "PY", "UY", "VE"]),
}


def residency_countries(code: str) -> frozenset[str]:
    """The countries a residency code admits: a group's members, or the ISO code itself."""
    return RESIDENCY_GROUPS.get(code, frozenset({code}))


# Demand presets (population-weighted world cities), used by latency placement.
DEMAND_PRESETS: tuple[str, ...] = (
    "world",
    "europe",
    "eu",
    "north-america",
    "south-america",
    "asia",
    "africa",
    "oceania",
)

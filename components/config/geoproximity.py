"""Where Route 53 geoproximity routing places a location, as plain values (no Pulumi): shared by
the config checks (``parse.py``: two locations of a workload at one place are a config error,
found by ``validate`` and ``place`` at the cluster's line) and by the records themselves
(``components/traffic/dns.py``).

An AWS cluster is placed by its region; every other location by its coordinates as Route 53 takes
them, two decimals (latitude ``[-+]?[0-9]{1,2}(\\.[0-9]{0,2})?`` in -90..90, longitude
``[-+]?[0-9]{1,3}(\\.[0-9]{0,2})?`` in -180..180). One point has one spelling: ``-0.00`` is
``0.00``, a pole is at longitude ``0.00`` (every longitude meets there), and the antimeridian is
``180.00`` (``-180.00`` is the same line), so two locations at the same point are seen as such.
"""

from __future__ import annotations

COORDINATE_DECIMALS = 2
_AWS = "aws"


def coordinate(value: float) -> str:
    """A latitude or longitude as Route 53 geoproximity takes it: a decimal string, two decimals
    (``50.0647`` -> ``"50.06"``; never ``"-0.00"``)."""
    text = f"{float(value):.{COORDINATE_DECIMALS}f}"
    return "0.00" if text == "-0.00" else text


def coordinates(lat: float, lon: float) -> tuple[str, str]:
    """A point's latitude and longitude as Route 53 takes them, one spelling per point."""
    latitude, longitude = coordinate(lat), coordinate(lon)
    if latitude in ("90.00", "-90.00"):
        longitude = "0.00"
    elif longitude == "-180.00":
        longitude = "180.00"
    return latitude, longitude


def place(vendor: str, region: str | None, lat: float, lon: float) -> str:
    """What tells a location apart from the others of its name: ``AWS region eu-central-1`` or
    ``coordinates 50.06,19.94``."""
    if vendor == _AWS and region:
        return f"AWS region {region}"
    latitude, longitude = coordinates(lat, lon)
    return f"coordinates {latitude},{longitude}"

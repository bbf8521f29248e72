"""Real traffic from a file: ``placement.demand.traffic``, a CSV inside the project, as a user exports
it from CDN or ingress logs, turned into a ``DemandSeries`` (requests per second per window of the day).

The file has a header and one row per (window, place)::

    time,lat,lon,requests                    time,country,city,requests
    2026-03-01T00:00:00Z,52.52,13.40,1200    2026-03-01T00:00:00Z,DE,Berlin,1200
                                             2026-03-01T00:00:00Z,US,,800

``time``: ISO 8601 in UTC, the start of a window of the schedule (aligned to ``schedule.window``).
``requests``: the requests counted in that window (finite, at least 0). Where: ``lat`` and ``lon``
(degrees), or ``country`` (ISO 3166-1 alpha-2) with an optional ``city`` (the world-cities data;
without a city, the country's requests are spread over its ten most populous cities by population).
Rows of the same place and window are added up (exactly, in millionths of a request, so the order
of the rows does not matter). A file spanning several days is a profile of the day: each window of
the day gets the mean over the days in the file. Places are rounded to 0.01 degrees; at most
``MAX_PLACES`` distinct places are read, and past ``MAX_POINTS`` each of the rest joins its nearest
of the busiest.

Every problem is one line naming the file and the line: ``traffic/day.csv:7: ...``.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgefleet.components.placement.cities import CityNotFound, _by_country, known_countries, resolve_city
from edgefleet.components.placement.demand import DemandPoint
from edgefleet.components.placement.timeline import DemandSeries, format_time, parse_time, window_start, windows_per_day

MAX_TRAFFIC_BYTES = 16 * 1024 * 1024  # about 400,000 rows: a day of 5-minute windows x 1,400 places
MAX_PLACES = 50_000  # distinct places read (before they are merged into MAX_POINTS)
MAX_POINTS = 2000
COUNTRY_CITIES = 10
_MICRO = 1_000_000  # requests are added up as integer millionths: exact, in any order
_COLUMNS = ("time", "lat", "lon", "country", "city", "requests")
_MAX_REQUESTS = 1e15  # per row: more than any real window; keeps every sum finite


class TrafficError(ValueError):
    """A problem with the traffic file, ``file:line: message``."""


def _fail(shown: str, line: int, message: str) -> TrafficError:
    return TrafficError(f"{shown}:{line}: {message}")


@lru_cache(maxsize=512)
def country_points(code: str) -> tuple[tuple[float, float, str, float], ...]:
    """A country's ``COUNTRY_CITIES`` most populous cities: (lat, lon, label, share of their population)."""
    rows = [r for r in _by_country().get(code, ()) if int(r["population"]) > 0][:COUNTRY_CITIES]
    if not rows:
        rows = list(_by_country().get(code, ()))[:1]
    total = float(sum(max(1, int(r["population"])) for r in rows))
    return tuple(
        (
            round(float(r["latitude"]), 5),
            round(float(r["longitude"]), 5),
            f"{r['name']}, {code}",
            max(1, int(r["population"])) / total,
        )
        for r in rows
    )


def _header(row: list[str], shown: str) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, raw in enumerate(row):
        name = raw.strip().lower().lstrip("\ufeff")
        if name not in _COLUMNS:
            raise _fail(shown, 1, f"unknown column {raw!r}; columns: time, requests, and lat,lon or country[,city]")
        if name in columns:
            raise _fail(shown, 1, f"column {name!r} appears twice")
        columns[name] = i
    missing = [c for c in ("time", "requests") if c not in columns]
    if missing:
        raise _fail(shown, 1, f"no {' or '.join(repr(c) for c in missing)} column; the header is time,...,requests")
    coords = "lat" in columns or "lon" in columns
    named = "country" in columns or "city" in columns
    if coords and named:
        raise _fail(shown, 1, "give places as lat,lon or as country[,city], not both")
    if coords and not ("lat" in columns and "lon" in columns):
        raise _fail(shown, 1, "a `lat` column needs a `lon` column and the other way round")
    if named and "country" not in columns:
        raise _fail(shown, 1, "a `city` column needs a `country` column (ISO 3166-1 alpha-2)")
    if not coords and not named:
        raise _fail(shown, 1, "no place columns; give lat,lon or country (and optionally city)")
    return columns


def _number(text: str, what: str, shown: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(shown, line, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _fail(shown, line, f"{what} {text!r} is not a finite number")
    return value


def _place(cells: list[str], columns: dict[str, int], shown: str, line: int) -> list[tuple[float, float, str, float]]:
    if "lat" in columns:
        lat = _number(cells[columns["lat"]].strip(), "lat", shown, line)
        lon = _number(cells[columns["lon"]].strip(), "lon", shown, line)
        if not -90.0 <= lat <= 90.0 or not -180.0 <= lon <= 180.0:
            raise _fail(shown, line, f"lat {lat} / lon {lon} is off the map (lat -90..90, lon -180..180)")
        lat, lon = round(lat, 2) + 0.0, round(lon, 2) + 0.0
        return [(lat, lon, f"{lat},{lon}", 1.0)]
    code = cells[columns["country"]].strip()
    if code.upper() not in known_countries() or len(code) != 2:
        raise _fail(shown, line, f"unknown country {code!r}; use an ISO 3166-1 alpha-2 code such as DE")
    city = cells[columns["city"]].strip() if "city" in columns else ""
    if not city:
        return list(country_points(code.upper()))
    try:
        found = resolve_city(city, code.upper())
    except CityNotFound as exc:
        raise _fail(shown, line, str(exc)) from None
    return [(found.lat, found.lon, f"{found.name}, {found.country}", 1.0)]


class Accumulator:
    """Requests per (window of the day, place), added up exactly (integer micro-requests), so the
    same rows in any order give the same numbers; at most ``MAX_PLACES`` distinct places."""

    def __init__(self, window_minutes: int) -> None:
        self.window_minutes = window_minutes
        self.places: dict[tuple[float, float, str], int] = {}
        self.counts: dict[tuple[int, int], int] = {}
        self.days: set[str] = set()

    def add(self, index: int, places: Sequence[tuple[float, float, str, float]], requests: float) -> bool:
        """Add ``requests`` (finite, >= 0) in window ``index`` over ``places`` (lat, lon, label,
        share), split in integer micro-requests that add up to exactly the row's requests; False
        when a place would be one more than ``MAX_PLACES``."""
        total = round(requests * _MICRO)
        # Cumulative rounding: each boundary is the rounded running share, the last one `total`, so
        # the parts are never negative and add up to exactly `total`.
        shares = [share for *_, share in places]
        whole = sum(shares) or 1.0
        bounds, running = [0], 0.0
        for share in shares[:-1]:
            running += share
            bounds.append(min(total, round(total * running / whole)))
        bounds.append(total)
        parts = [b - a for a, b in itertools.pairwise(bounds)]
        for (lat, lon, label, _), part in zip(places, parts, strict=True):
            where = (lat, lon, label)
            place = self.places.get(where)
            if place is None:
                if len(self.places) >= MAX_PLACES:
                    return False
                place = self.places[where] = len(self.places)
            key = (index, place)
            self.counts[key] = self.counts.get(key, 0) + part
        return True

    def any_requests(self) -> bool:
        return any(self.counts.values())

    def series(self, seconds: float, source: str) -> DemandSeries:
        """Requests per second: each window's total over ``seconds`` (the window's length times the
        days it covers); at most ``MAX_POINTS`` points (``_aggregate``)."""
        n = windows_per_day(self.window_minutes)
        keys = list(self.places)
        totals = np.zeros(len(keys), dtype=np.float64)
        for (_, place), count in self.counts.items():
            totals[place] += count
        kept, target = _aggregate(totals, keys)
        volume = np.zeros((n, len(kept)), dtype=np.float64)
        exact: dict[tuple[int, int], int] = {}
        for (index, place), count in self.counts.items():
            slot = (index, int(target[place]))
            exact[slot] = exact.get(slot, 0) + count
        for (index, column), count in exact.items():
            volume[index, column] = count / _MICRO / seconds
        return DemandSeries(
            self.window_minutes,
            tuple(
                tuple(
                    DemandPoint(lat, lon, float(volume[i, j]), label)
                    for j, (lat, lon, label) in enumerate(kept)
                    if volume[i, j] > 0
                )
                for i in range(n)
            ),
            source,
        )


def parse_traffic(text: str, shown: str, window_minutes: int, source: str | None = None) -> DemandSeries:
    """The traffic file's text as a ``DemandSeries``; ``TrafficError`` (``file:line: ...``) otherwise."""
    if "\x00" in text:
        raise _fail(shown, 1, "holds NUL characters; a traffic file is CSV text")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    acc = Accumulator(window_minutes)
    rows = 0
    columns: dict[str, int] | None = None
    try:
        for cells in reader:
            line = reader.line_num
            if columns is None:
                if not any(c.strip() for c in cells):
                    continue
                columns = _header(cells, shown)
                continue
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            if len(cells) != len(columns):
                raise _fail(shown, line, f"{len(cells)} fields, the header has {len(columns)}")
            at = cells[columns["time"]].strip()
            try:
                when = parse_time(at)
            except ValueError as exc:
                raise _fail(shown, line, f"time {exc}") from None
            if len(at) == 10:
                raise _fail(shown, line, f"time {at!r} is a date; write the start of the window, e.g. {at}T00:00:00Z")
            start = window_start(when, window_minutes)
            if start != when:
                raise _fail(
                    shown,
                    line,
                    f"time {at} is not the start of a {window_minutes}-minute window of the schedule (the window "
                    f"holding it starts at {format_time(start)}); align the times to `schedule.window`",
                )
            requests = _number(cells[columns["requests"]].strip(), "requests", shown, line)
            if requests < 0 or requests > _MAX_REQUESTS:
                raise _fail(shown, line, f"requests {requests:g} is out of range (0 to {_MAX_REQUESTS:g})")
            index = (when.hour * 60 + when.minute) // window_minutes
            acc.days.add(when.date().isoformat())
            rows += 1
            if not acc.add(index, _place(cells, columns, shown, line), requests):
                raise _fail(
                    shown,
                    line,
                    f"more than {MAX_PLACES:,} distinct places; aggregate the export by city, or round lat/lon "
                    "to fewer decimals",
                )
    except csv.Error as exc:
        raise _fail(shown, reader.line_num, f"not valid CSV ({exc})") from None
    if columns is None:
        raise _fail(shown, 1, "is empty; it needs a header (time,lat,lon,requests or time,country,city,requests)")
    if not rows:
        raise _fail(shown, 2, "has a header but no rows")
    if not acc.any_requests():
        raise _fail(shown, 2, "every row counts 0 requests; there is no demand to place")
    # Requests per window (the mean over the days the file covers) -> per second.
    return acc.series(window_minutes * 60.0 * len(acc.days), source or f"traffic file {shown}")


def _aggregate(
    totals: np.ndarray, keys: list[tuple[float, float, str]]
) -> tuple[list[tuple[float, float, str]], np.ndarray]:
    """At most ``MAX_POINTS`` places: the busiest over the day (ties: label, then coordinates) keep
    theirs, every other place's requests join its nearest kept place (great circle). Returns the
    kept places (sorted by label, then coordinates) and, per place of ``keys``, its kept column."""
    order = sorted(range(len(keys)), key=lambda j: (-totals[j], keys[j][2], keys[j][0], keys[j][1]))
    kept = sorted(order[:MAX_POINTS], key=lambda j: (keys[j][2], keys[j][0], keys[j][1]))
    column = {j: c for c, j in enumerate(kept)}
    target = np.array([column.get(j, -1) for j in range(len(keys))], dtype=np.int64)
    rest = np.array(order[MAX_POINTS:], dtype=np.int64)
    if len(rest):
        coords = np.radians(np.array([(k[0], k[1]) for k in keys], dtype=np.float64))
        xyz = np.column_stack(
            [
                np.cos(coords[:, 0]) * np.cos(coords[:, 1]),
                np.cos(coords[:, 0]) * np.sin(coords[:, 1]),
                np.sin(coords[:, 0]),
            ]
        )
        centres = xyz[np.array(kept, dtype=np.int64)]
        for start in range(0, len(rest), 4096):
            chunk = rest[start : start + 4096]
            target[chunk] = np.argmax(xyz[chunk] @ centres.T, axis=1)  # ties: the first kept place
    return [keys[j] for j in kept], target


@lru_cache(maxsize=32)
def _cached(path: str, shown: str, window_minutes: int, mtime_ns: int, size: int) -> DemandSeries:
    from edgefleet.components.config.source import read_regular_file  # noqa: PLC0415

    text = read_regular_file(
        Path(path), max_bytes=MAX_TRAFFIC_BYTES, too_large="aggregate it to fewer rows (one per place and window)"
    )
    return parse_traffic(text, shown, window_minutes)


def read_traffic(path: Path, shown: str, window_minutes: int) -> DemandSeries:
    """The traffic file at ``path`` (a regular file the caller checked is inside the project) as a
    ``DemandSeries``; ``TrafficError`` for a problem with its content, ``OSError``/``UnicodeDecodeError``
    (``NotAFileError`` for a FIFO, a directory or a file over ``MAX_TRAFFIC_BYTES``) for reading it.
    Memoised on the file's path, size and modification time."""
    stat = path.stat()
    return _cached(str(path), shown, window_minutes, stat.st_mtime_ns, stat.st_size)

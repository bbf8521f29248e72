"""Real traffic from Prometheus: ``placement.demand.prometheus: {url, query}``.

``query`` is a PromQL expression returning request rates (requests per second) with one series per
client ``country`` (ISO 3166-1 alpha-2) and optionally ``city``, e.g.
``sum by (country, city) (rate(http_requests_total[1h]))``. edgefleet evaluates it over the last
complete day before the window it places (``query_range``: one sample at the end of each window, so
a ``rate(...[<window>])`` covers exactly that window) and places each window of the day from the same
window of that day. The answer is a ``DemandSeries`` like a traffic file's.

Any problem (Prometheus unreachable, an error answer, series with other labels, an unknown country,
a negative or non-finite rate) is a ``PrometheusError`` whose message names the query.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from edgefleet.components.config.model import MAX_RATE
from edgefleet.components.config.traffic import MAX_PLACES, Accumulator, country_points
from edgefleet.components.placement.cities import CityNotFound, known_countries, resolve_city
from edgefleet.components.placement.timeline import DemandSeries, format_time, window_start

TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 64 * 1024 * 1024
LABELS = frozenset({"country", "city"})


class PrometheusError(ValueError):
    """Prometheus could not give the demand; the message names the query and the fix."""


def _get(url: str, params: dict[str, str], query: str) -> Any:
    address = f"{url.rstrip('/')}/api/v1/query_range?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(address, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_ANSWER_BYTES + 1)
        detail = _error_of(body) or f"HTTP {exc.code} {exc.reason}"
        raise PrometheusError(f"query {query!r} at {url}: Prometheus answered {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PrometheusError(
            f"query {query!r}: cannot reach Prometheus at {url} ({reason}); check `demand.prometheus.url`"
        ) from None
    if len(body) > MAX_ANSWER_BYTES:
        raise PrometheusError(f"query {query!r} at {url}: the answer is over 64 MiB; aggregate by country (and city)")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise PrometheusError(f"query {query!r} at {url}: the answer is not JSON; is {url} a Prometheus?") from None


def _error_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and data.get("status") == "error":
        return f"{data.get('errorType', 'error')}: {' '.join(str(data.get('error', '')).split())[:300]}"
    return None


def _place(labels: dict[str, Any], query: str) -> list[tuple[float, float, str, float]]:
    shown = "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(labels.items())) + "}"
    extra = sorted(set(labels) - LABELS)
    if "country" not in labels or extra:
        raise PrometheusError(
            f"query {query!r} returns a series labelled {shown}; it must return one series per `country` (and "
            "optionally `city`) and no other label, e.g. `sum by (country) (rate(http_requests_total[1h]))`"
        )
    code = str(labels["country"]).upper()
    if len(code) != 2 or code not in known_countries():
        raise PrometheusError(
            f"query {query!r} returns a series for unknown country {labels['country']!r}; label series with ISO "
            "3166-1 alpha-2 codes such as DE"
        )
    city = str(labels.get("city") or "").strip()
    if not city:
        return list(country_points(code))
    try:
        found = resolve_city(city, code)
    except CityNotFound as exc:
        raise PrometheusError(f"query {query!r} returns a series for {exc}") from None
    return [(found.lat, found.lon, f"{found.name}, {found.country}", 1.0)]


def prometheus_series(url: str, query: str, window_minutes: int, at: datetime) -> DemandSeries:
    """The request rates of the last complete day before ``at``'s window, per window of the day."""
    step = timedelta(minutes=window_minutes)
    current = window_start(at, window_minutes)
    first_end = current - timedelta(days=1) + step  # the end of the first window of the day before
    params = {
        "query": query,
        "start": format_time(first_end),
        "end": format_time(current),
        "step": f"{window_minutes * 60}s",
    }
    data = _get(url, params, query)
    if not isinstance(data, dict) or data.get("status") != "success":
        detail = _error_of(json.dumps(data).encode()) if isinstance(data, dict) else None
        raise PrometheusError(f"query {query!r} at {url}: Prometheus answered {detail or 'no success status'}")
    result = (data.get("data") or {}).get("result")
    if (data.get("data") or {}).get("resultType") != "matrix" or not isinstance(result, list):
        raise PrometheusError(f"query {query!r} at {url}: not a range vector answer; give an instant-vector query")
    if not result:
        raise PrometheusError(
            f"query {query!r} at {url}: no series between {params['start']} and {params['end']}; check the query "
            "and that Prometheus holds the last day of samples"
        )
    acc = Accumulator(window_minutes)
    for series in result:
        labels = series.get("metric") if isinstance(series, dict) else None
        values = series.get("values") if isinstance(series, dict) else None
        if not isinstance(labels, dict) or not isinstance(values, list):
            raise PrometheusError(f"query {query!r} at {url}: a series has no labels or values")
        labels = {k: v for k, v in labels.items() if k != "__name__"}
        where = _place(labels, query)
        for sample in values:
            try:
                stamp, text = float(sample[0]), str(sample[1])
                value = float(text)
                end = datetime.fromtimestamp(stamp, UTC)
            except (TypeError, ValueError, IndexError, OverflowError, OSError):
                raise PrometheusError(f"query {query!r} at {url}: a sample is not [time, value]") from None
            if not math.isfinite(value) or not 0 <= value <= MAX_RATE:
                raise PrometheusError(
                    f"query {query!r} returns {text} for {labels} at {format_time(end)}; request rates are finite "
                    "and at least 0"
                )
            index = ((end - step).hour * 60 + (end - step).minute) // window_minutes
            if not acc.add(index, where, value):
                raise PrometheusError(
                    f"query {query!r} at {url}: more than {MAX_PLACES:,} places; aggregate by country (and city)"
                )
    if not acc.any_requests():
        raise PrometheusError(
            f"query {query!r} at {url}: every rate between {params['start']} and {params['end']} is 0; there is no "
            "demand to place"
        )
    return acc.series(1.0, f"prometheus {url}")

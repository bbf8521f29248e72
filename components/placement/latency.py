"""Great-circle distances and the latency model that turns them into round-trip times.

The model:

- Distance: great-circle (haversine) distance ``d`` in km on a sphere of radius 6371.0088 km (the
  IUGG mean Earth radius).
- Light in fiber (refractive index about 1.47) travels at about 200,000 km/s, so a round trip costs
  about 1.0 ms per 100 km of one-way distance. (In vacuum it is 0.667 ms per 100 km.)
- Real routes are longer than the great circle: Bozkurt, Singla et al., "Why is the Internet so
  slow?!" (PAM 2017; 1.9 M connections to 22,800 sites) measured the median minimum ping at 3.1x
  the vacuum round trip, i.e. about 2.1x straight fiber; their fiber-map study (arXiv 1811.10737)
  gives the same rule of thumb (line of sight x 2.1 at fiber speed).
- The last mile adds a roughly fixed access term: fixed lines 5 to 25 ms, mobile 30 to 50 ms
  (FCC "Measuring Broadband America": fiber 24, cable 32, DSL 49 ms at peak).

Estimated RTT (ms) = ``access_ms + inflation * d / 100``. The estimate is affine in distance with the
same constants for every location, so the best set of locations is the one minimising the
demand-weighted distance: the solver works in km and results are reported in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_KM = 6371.0088
"""IUGG mean Earth radius (km)."""

FIBER_MS_PER_KM = 1.0 / 100.0
"""Round-trip milliseconds per km of one-way distance at the speed of light in fiber (~200,000 km/s)."""

Distance = TypeVar("Distance", float, NDArray[np.float64])


def distance_matrix(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distances (km) between every row of ``a`` and every row of ``b``.

    ``a`` has shape (n, 2) and ``b`` shape (m, 2), each row ``(lat, lon)`` in degrees; the result has
    shape (n, m). Vectorised haversine, numerically safe for coincident and antipodal points.
    """
    pa = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    pb = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    lat1 = np.radians(pa[:, 0])[:, None]
    lon1 = np.radians(pa[:, 1])[:, None]
    lat2 = np.radians(pb[:, 0])[None, :]
    lon2 = np.radians(pb[:, 1])[None, :]
    h = np.sin((lat2 - lat1) / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    np.clip(h, 0.0, 1.0, out=h)
    out: NDArray[np.float64] = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))
    return out


def paired_distances(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distances (km) between row ``k`` of ``a`` and row ``k`` of ``b`` (shape (n, 2)
    each, ``(lat, lon)`` in degrees): the diagonal of ``distance_matrix(a, b)``, without the rest."""
    pa = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    pb = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    lat1, lon1 = np.radians(pa[:, 0]), np.radians(pa[:, 1])
    lat2, lon2 = np.radians(pb[:, 0]), np.radians(pb[:, 1])
    h = np.sin((lat2 - lat1) / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    np.clip(h, 0.0, 1.0, out=h)
    out: NDArray[np.float64] = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))
    return out


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (km) between two points given in degrees."""
    return float(distance_matrix([(lat1, lon1)], [(lat2, lon2)])[0, 0])


@dataclass(frozen=True)
class LatencyModel:
    """Estimated round-trip time from great-circle distance: ``access_ms + inflation * d / 100``.

    ``inflation``: how much longer (in time) the real path is than straight fiber along the great
    circle. Default 2.1, the median measured by Bozkurt, Singla et al. (PAM 2017: minimum ping 3.1x
    the vacuum round trip, about 2.1x straight fiber; arXiv 1811.10737 gives the same factor). Use
    about 1.3 for the best conduit paths.

    ``access_ms``: the fixed last-mile cost added to every round trip. Default 10 ms, a typical fixed
    line (fixed lines measure roughly 5 to 25 ms; mobile 30 to 50 ms). It shifts every estimate by the
    same amount, so it never changes which locations are chosen.
    """

    inflation: float = 2.1
    access_ms: float = 10.0

    def __post_init__(self) -> None:
        if not self.inflation >= 1.0:
            raise ValueError(f"inflation must be at least 1 (the fiber path), got {self.inflation}")
        if not self.access_ms >= 0.0:
            raise ValueError(f"access_ms must be at least 0, got {self.access_ms}")

    def rtt_ms(self, distance_km: Distance) -> Distance:
        """Estimated round trip (ms) over ``distance_km`` of great circle: access + inflation x fiber."""
        return self.access_ms + self.inflation * distance_km * FIBER_MS_PER_KM

    @staticmethod
    def bound_ms(distance_km: Distance) -> Distance:
        """The physical bound (ms): a round trip at the speed of light in fiber along the great circle.

        1.0 ms per 100 km, no route inflation and no access term: no network can beat it in fiber.
        """
        return distance_km * FIBER_MS_PER_KM

"""Traffic: global DNS steering of public workloads (Route 53 geoproximity records or Cloudflare geo
load balancing), one ``DnsSteering`` per workload."""

from edgefleet.components.config.geoproximity import coordinate
from edgefleet.components.traffic.dns import (
    CLOUDFLARE_REGIONS,
    DnsSteering,
    GeoproximityLocation,
    ResolvedSteeringArgs,
    SteeredLocation,
    SteeringError,
    cloudflare_region_pools,
    geoproximity_location,
    geoproximity_locations,
    record_type,
)

__all__ = [
    "CLOUDFLARE_REGIONS",
    "DnsSteering",
    "GeoproximityLocation",
    "ResolvedSteeringArgs",
    "SteeredLocation",
    "SteeringError",
    "cloudflare_region_pools",
    "coordinate",
    "geoproximity_location",
    "geoproximity_locations",
    "record_type",
]

"""Traffic: global DNS steering of public workloads (Route 53 latency records or Cloudflare geo
load balancing), one ``DnsSteering`` per workload."""

from components.traffic.dns import (
    CLOUDFLARE_REGIONS,
    DnsSteering,
    DnsSteeringArgs,
    SteeredLocation,
    cloudflare_region_pools,
    latency_regions,
    nearest_aws_region,
    record_type,
)

__all__ = [
    "CLOUDFLARE_REGIONS",
    "DnsSteering",
    "DnsSteeringArgs",
    "SteeredLocation",
    "cloudflare_region_pools",
    "latency_regions",
    "nearest_aws_region",
    "record_type",
]

"""Per-vendor mock outputs, merged into one table per kind for ``edgefleet/mocks.py``."""

from __future__ import annotations

from edgefleet.mock_outputs import aws, azure, digitalocean, gcp, linode, route53_cloudflare
from edgefleet.mock_outputs.common import CallMock, ResourceMock

RESOURCES: dict[str, ResourceMock] = {}
CALLS: dict[str, CallMock] = {}
for _module in (aws, gcp, azure, linode, digitalocean, route53_cloudflare):
    RESOURCES.update(_module.RESOURCES)
    CALLS.update(_module.CALLS)

__all__ = ["CALLS", "RESOURCES", "CallMock", "ResourceMock"]

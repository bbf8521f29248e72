"""Mock outputs for the digitalocean provider's resources and functions (see ``edgefleet/mocks.py``)."""

from __future__ import annotations

from edgefleet.mock_outputs.common import CallMock, ResourceMock

RESOURCES: dict[str, ResourceMock] = {}
CALLS: dict[str, CallMock] = {}

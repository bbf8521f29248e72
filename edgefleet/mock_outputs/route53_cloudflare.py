"""Mock outputs for DNS steering (``components/traffic/dns.py``): Route 53 and Cloudflare.

What each provider reports, derived from the type and name only: Route 53 health check ids are
UUIDs (ARN ``arn:aws:route53:::healthcheck/<id>``, global, no region or account); a record's id is
the AWS provider's ``<zone id>_<name>_<type>[_<set identifier>]`` and its ``fqdn`` the name.
Cloudflare ids are 32 lower-case hex digits; monitors, pools and load balancers report when they
were created and modified, pools the networks they serve, a load balancer the zone's name.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import MockResourceArgs

from edgefleet.mock_outputs.common import CallMock, ResourceMock, stable_hex, stable_uuid

CREATED = "2026-01-01T00:00:00Z"


def _health_check(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = stable_uuid(args.typ, args.name)
    state = dict(args.inputs)
    state.update(arn=f"arn:aws:route53:::healthcheck/{id_}", tagsAll=dict(state.get("tags") or {}))
    return id_, state


def _record(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    zone, name, type_ = (str(args.inputs.get(key, "")) for key in ("zoneId", "name", "type"))
    set_id = args.inputs.get("setIdentifier")
    id_ = "_".join([zone, name, type_, *([str(set_id)] if set_id else [])])
    state = dict(args.inputs)
    state["fqdn"] = name.rstrip(".")
    return id_, state


def _cloudflare(args: MockResourceArgs, **outputs: Any) -> tuple[str, dict[str, Any]]:
    state = dict(args.inputs)
    state.update(createdOn=CREATED, modifiedOn=CREATED, **outputs)
    return stable_hex(32, args.typ, args.name), state


def _monitor(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    return _cloudflare(args)


def _pool(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    return _cloudflare(args, networks=["cloudflare"])


def _load_balancer(args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
    # The zone's name is not an input; the host name's parent stands in for it.
    name = str(args.inputs.get("name", ""))
    return _cloudflare(args, zoneName=name.split(".", 1)[-1])


RESOURCES: dict[str, ResourceMock] = {
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:route53/record:Record": _record,
    "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor": _monitor,
    "cloudflare:index/loadBalancerPool:LoadBalancerPool": _pool,
    "cloudflare:index/loadBalancer:LoadBalancer": _load_balancer,
}
CALLS: dict[str, CallMock] = {}

"""Address blocks per cluster: deterministic, stable, and never overlapping within a fleet.

Each cloud cluster gets one *block* ``b`` and with it three ranges:

- ``network``: the VPC/VNet, the ``b``-th ``/17`` of ``10.0.0.0/8`` (32,768 addresses: node and,
  on EKS, pod subnets);
- ``pods``: the ``b``-th ``/19`` of ``100.64.0.0/10`` (RFC 6598; 8,192 pod addresses, 32 nodes at
  a ``/24`` each) for vendors with a separate pod range (GKE secondary range, AKS overlay pod CIDR,
  DOKS cluster subnet);
- ``services``: the ``b``-th ``/21`` of ``172.16.0.0/12`` (2,048 Service IPs).

Blocks that overlap ranges a vendor reserves are never handed out: LKE's pod and service ranges
(``10.2.0.0/16``, ``10.128.0.0/16``), DOKS' defaults (``10.244.0.0/16``..``10.246.0.0/24``) and
Docker's default bridge (``172.17.0.0/16``).

A cluster's block is a function of its name (SHA-256 modulo the number of blocks), so adding or
removing another cluster never moves it. When two names want the same block, the one whose name
sorts later takes the next free block; a cluster can pin its block with ``network: {block: N}``,
which always wins. Pure Python, no ``pulumi``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

NETWORK_SPACE = ipaddress.IPv4Network("10.0.0.0/8")
POD_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
SERVICE_SPACE = ipaddress.IPv4Network("172.16.0.0/12")
NETWORK_PREFIX, POD_PREFIX, SERVICE_PREFIX = 17, 19, 21

RESERVED: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(c)
    for c in ("10.2.0.0/16", "10.128.0.0/16", "10.244.0.0/16", "10.245.0.0/16", "10.246.0.0/24", "172.17.0.0/16")
)


@dataclass(frozen=True)
class AddressPlan:
    """One cluster's ranges (CIDR strings) and the block they came from."""

    block: int
    network: str
    pods: str
    services: str


def nth_subnet(cidr: str, new_prefix: int, index: int) -> str:
    """The ``index``-th ``/new_prefix`` inside ``cidr``."""
    return _nth(ipaddress.IPv4Network(cidr), new_prefix, index)


def nth_address(cidr: str, offset: int) -> str:
    """The address ``offset`` places into ``cidr``."""
    return str(ipaddress.IPv4Network(cidr)[offset])


def _nth(space: ipaddress.IPv4Network, prefix: int, index: int) -> str:
    size = 1 << (32 - prefix)
    if index < 0 or (index + 1) * size > space.num_addresses:
        raise ValueError(f"{space} has no /{prefix} number {index}")
    return str(ipaddress.IPv4Network((int(space.network_address) + index * size, prefix)))


def _free(space: ipaddress.IPv4Network, prefix: int) -> list[str]:
    count = 1 << (prefix - space.prefixlen)
    out = []
    for i in range(count):
        net = ipaddress.IPv4Network(_nth(space, prefix, i))
        if not any(net.overlaps(r) for r in RESERVED):
            out.append(str(net))
    return out


@cache
def _blocks() -> tuple[tuple[str, str, str], ...]:
    networks = _free(NETWORK_SPACE, NETWORK_PREFIX)
    pods = _free(POD_SPACE, POD_PREFIX)
    services = _free(SERVICE_SPACE, SERVICE_PREFIX)
    return tuple(zip(networks, pods, services, strict=False))


def block_count() -> int:
    """How many blocks exist (the most clusters one fleet can hold with networks)."""
    return len(_blocks())


def plan_for(block: int) -> AddressPlan:
    """The ranges of ``block``."""
    network, pods, services = _blocks()[block]
    return AddressPlan(block=block, network=network, pods=pods, services=services)


def preferred_block(name: str) -> int:
    """The block a cluster name maps to before collisions."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % block_count()


class AddressSpaceFull(ValueError):
    """More clusters need blocks than there are."""


def allocate(names: Sequence[str], pinned: Mapping[str, int] | None = None) -> dict[str, AddressPlan]:
    """A block per name: pinned ones first, then by (preferred block, name) with linear probing.

    Raises ``ValueError`` for a pinned block out of range or pinned twice, ``AddressSpaceFull``
    when there are more names than blocks.
    """
    pinned = dict(pinned or {})
    total = block_count()
    taken: dict[int, str] = {}
    out: dict[str, AddressPlan] = {}
    for name in sorted(pinned):
        block = pinned[name]
        if not 0 <= block < total:
            raise ValueError(f"cluster {name!r}: block {block} is out of range 0..{total - 1}")
        if block in taken:
            raise ValueError(f"clusters {taken[block]!r} and {name!r} both pin block {block}")
        taken[block] = name
        out[name] = plan_for(block)
    rest = sorted((n for n in set(names) if n not in pinned), key=lambda n: (preferred_block(n), n))
    if len(rest) + len(taken) > total:
        raise AddressSpaceFull(f"{len(rest) + len(taken)} clusters need address blocks; at most {total} exist")
    for name in rest:
        block = preferred_block(name)
        while block in taken:
            block = (block + 1) % total
        taken[block] = name
        out[name] = plan_for(block)
    return out


def overlaps(plans: Iterable[AddressPlan]) -> list[tuple[str, str]]:
    """Every pair of ranges (from different plans) that overlap; empty when the fleet is sound."""
    ranges = [(p.block, ipaddress.IPv4Network(c)) for p in plans for c in (p.network, p.pods, p.services)]
    clashes = []
    for i, (bi, a) in enumerate(ranges):
        for bj, b in ranges[i + 1 :]:
            if bi != bj and a.overlaps(b):
                clashes.append((str(a), str(b)))
    return clashes

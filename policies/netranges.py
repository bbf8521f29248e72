"""IP ranges by address arithmetic, never by text: one module for the config and the policy pack.

``components/config`` imports it as ``policies.netranges`` (this package's ``__init__`` imports
nothing, so no ``pulumi``); the rules import it relatively, or as ``netranges`` when the pack runs
with its own directory on ``sys.path``. Standard library only.

Two readers:

- ``parse_cidr`` is the config's: strict, one spelling per range. It refuses what other parsers
  may read differently (no prefix length, host bits set, a ``%zone``, a netmask, leading zeros,
  whitespace, an IPv6 range that spells IPv4: IPv4-mapped, -compatible or -translated) with the
  fix in the message, and returns the network, whose ``str()`` is the canonical text (IPv6
  compressed and lower-case).
- ``read_cidr`` is the rules': as lenient as the most lenient consumer of a resource (whitespace
  stripped, a bare address as one host, host bits masked off, a zone dropped), so a value the
  vendor reads as a range is judged as that range.

"Open to the world" (``world_exposure``): after every range is parsed, IPv6 ranges that embed
IPv4 (``EMBEDDED_V4``: IPv4-mapped ``::ffff:0:0/96``, -compatible ``::/96`` and -translated
``::ffff:0:0:0/96``, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo
``2001::/32``) are added to the IPv4 side as the IPv4 range they reach, and each family's ranges
are merged into their union. A
list is open to the world when that union covers all of IPv4 or all of IPv6, or at least
``WORLD_SHARE`` (one eighth) of a family's public addresses: every IPv4 address outside the
special-purpose blocks in ``NOT_PUBLIC_V4`` (private, shared, loopback, link-local, documentation,
benchmarking, multicast, reserved), and IPv6 global unicast ``2000::/3`` outside the documentation
prefix. That catches the whole space written in pieces (``[0.0.0.0/1, 128.0.0.0/1]``, 256 ``/8``\\ s),
the whole space minus a few blocks, and any single range of ``/3`` or larger, and leaves room for
real allow-lists: a whole cloud provider's published ranges are a few percent of IPv4.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

WORLD_SHARE = Fraction(1, 8)
EVERYWHERE_V4 = ipaddress.IPv4Network("0.0.0.0/0")
EVERYWHERE_V6 = ipaddress.IPv6Network("::/0")
# IANA IPv4 special-purpose blocks that are not globally reachable (RFC 6890 and successors).
NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(c)
    for c in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # RFC 6598 shared address space
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast address
    )
)
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
NOT_PUBLIC_V6 = (ipaddress.IPv6Network("2001:db8::/32"),)  # documentation
# Private pod address space: RFC 1918 and RFC 6598.
PRIVATE_V4 = tuple(ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16"))
# IPv6 prefixes that carry an IPv4 address: (prefix, where the 32 IPv4 bits end, counted from the
# left, whether they are stored inverted). A range inside one reaches the IPv4 range its bits fix; a
# range holding one reaches all of IPv4.
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 2.5.5.1, deprecated; some stacks still tunnel it
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
EMBEDDED_V4 = (
    (IPV4_MAPPED, 128, False),
    (IPV4_COMPATIBLE, 128, False),
    (IPV4_TRANSLATED, 128, False),
    (ipaddress.IPv6Network("64:ff9b::/96"), 128, False),  # NAT64 well-known prefix (RFC 6052)
    # NAT64 local-use (RFC 8215): the operator picks a network-specific prefix inside it; judged as the
    # widest reach, a /96 there with the IPv4 address in the last 32 bits.
    (ipaddress.IPv6Network("64:ff9b:1::/48"), 128, False),
    (ipaddress.IPv6Network("2002::/16"), 48, False),  # 6to4 (RFC 3056)
    (ipaddress.IPv6Network("2001::/32"), 128, True),  # Teredo (RFC 4380): the client's IPv4, inverted
)
_PREFIX = re.compile(r"^(0|[1-9][0-9]{0,2})$")


class CidrError(ValueError):
    """A range the config refuses; the message says why and what to write instead."""


def parse_cidr(text: object) -> Network:
    """The config's reader: one network in ``address/prefix`` form, exactly; ``str()`` of the result
    is its canonical text. Raises ``CidrError`` naming the problem and the fix."""
    if not isinstance(text, str):
        raise CidrError(f"{text!r} is not a network in CIDR form: write it as text, e.g. 192.0.2.0/24")
    shown = repr(text)
    stripped = text.strip()
    if stripped != text:
        raise CidrError(f"{shown} is not a network in CIDR form: remove the whitespace ({stripped})")
    address, slash, bits = text.partition("/")
    if "%" in address:
        unscoped = address.split("%", 1)[0]
        raise CidrError(
            f"{shown} is not a network in CIDR form: a scoped IPv6 address (`%zone`) names an interface, not a "
            f"range; remove the zone ({unscoped}{slash}{bits})"
        )
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise CidrError(
            f"{shown} is not a network in CIDR form: {address!r} is not an IPv4 or IPv6 address "
            "(write e.g. 192.0.2.0/24 or 2001:db8::/32)"
        ) from None
    host = ip.max_prefixlen
    if not slash:
        raise CidrError(
            f"{shown} is not a network in CIDR form: it has no prefix length; write {ip}/{host} for this one "
            "address, or the network with its prefix length"
        )
    if not _PREFIX.fullmatch(bits):
        hint = f"; write {ipaddress.ip_network(text, strict=False)}" if _netmask(text) else ""
        raise CidrError(
            f"{shown} is not a network in CIDR form: the prefix length must be a number from 0 to {host} "
            f"without leading zeros{hint}"
        )
    prefix = int(bits)
    if prefix > host:
        raise CidrError(
            f"{shown} is not a network in CIDR form: the prefix length is at most {host} for IPv{ip.version}"
        )
    network = ipaddress.ip_network((ip, prefix), strict=False)
    if network.network_address != ip:
        raise CidrError(
            f"{shown} is not a network in CIDR form: host bits are set; write {network} for the network, "
            f"or {ip}/{host} for the one address"
        )
    if isinstance(network, ipaddress.IPv6Network):
        for spelling, what in (
            (IPV4_MAPPED, "an IPv4-mapped"),
            (IPV4_COMPATIBLE, f"an IPv4-compatible ({IPV4_COMPATIBLE}, deprecated)"),
            (IPV4_TRANSLATED, f"an IPv4-translated ({IPV4_TRANSLATED})"),
        ):
            if network.subnet_of(spelling):
                v4 = _embedded(network, 128)
                raise CidrError(
                    f"{shown} is not a network in CIDR form: {what} IPv6 range means IPv4 addresses; write the "
                    f"IPv4 range {v4}"
                )
    return network


def canonical(text: object) -> str:
    """``parse_cidr``'s canonical text (``0::0/0`` -> ``::/0``, upper-case IPv6 lower-cased)."""
    return str(parse_cidr(text))


def _netmask(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def read_cidr(text: str) -> Network | None:
    """The rules' reader: the range a lenient consumer reads, or None when nothing reads one."""
    value = text.strip()
    address, slash, bits = value.partition("/")
    address = address.split("%", 1)[0]
    try:
        if not slash:
            return ipaddress.ip_network(address)
        if bits.isdigit():
            return ipaddress.ip_network((address, int(bits)), strict=False)
        return ipaddress.ip_network(f"{address}/{bits}", strict=False)
    except ValueError:
        return None


def _embedded(network: ipaddress.IPv6Network, end: int, inverted: bool = False) -> ipaddress.IPv4Network:
    """The IPv4 range ``network`` reaches when an IPv4 address is the 32 bits ending at bit ``end``."""
    shift = 128 - end
    address = (int(network.network_address) >> shift) & 0xFFFFFFFF
    if inverted:
        address ^= 0xFFFFFFFF
    length = min(32, max(0, network.prefixlen - (end - 32)))
    return ipaddress.IPv4Network((address, length), strict=False)


def ipv4_reached(network: ipaddress.IPv6Network) -> list[ipaddress.IPv4Network]:
    """The IPv4 ranges an IPv6 range reaches through an IPv4-embedding prefix."""
    reached: list[ipaddress.IPv4Network] = []
    for prefix, end, inverted in EMBEDDED_V4:
        if prefix.subnet_of(network):
            return [EVERYWHERE_V4]
        if network.subnet_of(prefix):
            reached.append(_embedded(network, end, inverted))
    return reached


def subtract(network: Network, holes: Iterable[Network]) -> list[Network]:
    """``network`` without ``holes`` (a NetworkPolicy ipBlock's ``cidr`` minus its ``except``)."""
    parts: list[Network] = [network]
    for hole in holes:
        if hole.version != network.version:
            continue
        kept: list[Network] = []
        for part in parts:
            if part.subnet_of(hole):  # type: ignore[arg-type]
                continue
            if hole.subnet_of(part):  # type: ignore[arg-type]
                kept.extend(part.address_exclude(hole))  # type: ignore[arg-type]
            else:
                kept.append(part)
        parts = kept
    return parts


def _intervals(networks: Iterable[Network]) -> list[tuple[int, int]]:
    """Sorted, merged ``[first, last]`` address intervals of one family's networks."""
    spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in networks)
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _overlap(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    """How many addresses two sorted, merged interval lists share."""
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            total += last - first + 1
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _public(whole: Network, holes: Iterable[Network]) -> list[tuple[int, int]]:
    return _intervals(subtract(whole, holes))


_PUBLIC = {4: _public(EVERYWHERE_V4, NOT_PUBLIC_V4), 6: _public(GLOBAL_UNICAST_V6, NOT_PUBLIC_V6)}
_PUBLIC_SIZE = {family: sum(last - first + 1 for first, last in spans) for family, spans in _PUBLIC.items()}
_SIZE = {4: 2**32, 6: 2**128}


@dataclass(frozen=True)
class Coverage:
    """How much of one address family a list of ranges reaches."""

    family: int  # 4 or 6
    complete: bool  # every address of the family
    public_share: Fraction  # of the family's public addresses
    sources: tuple[str, ...]  # the entries that reach the family, as written

    @property
    def open_to_world(self) -> bool:
        return self.complete or self.public_share >= WORLD_SHARE

    def describe(self) -> str:
        """``0.0.0.0/0`` when written so; else ``all of IPv4 (...)`` or ``57% of public IPv4 (...)``."""
        whole = "0.0.0.0/0" if self.family == 4 else "::/0"
        if self.complete and whole in self.sources:
            return whole
        shown = ", ".join(self.sources[:4]) + (f" and {len(self.sources) - 4} more" if len(self.sources) > 4 else "")
        if self.complete:
            return f"all of IPv{self.family} ({shown})"
        return f"{int(self.public_share * 100)}% of public IPv{self.family} ({shown})"


def coverage(entries: Iterable[tuple[str, Network]]) -> list[Coverage]:
    """Each family's coverage by ``(text as written, network)`` entries (IPv4 first)."""
    nets: dict[int, list[Network]] = {4: [], 6: []}
    sources: dict[int, list[str]] = {4: [], 6: []}
    for text, network in entries:
        nets[network.version].append(network)
        sources[network.version].append(text)
        if isinstance(network, ipaddress.IPv6Network):
            reached = ipv4_reached(network)
            nets[4].extend(reached)
            if reached:
                sources[4].append(text)
    result: list[Coverage] = []
    for family in (4, 6):
        spans = _intervals(nets[family])
        complete = sum(last - first + 1 for first, last in spans) == _SIZE[family]
        share = Fraction(_overlap(spans, _PUBLIC[family]), _PUBLIC_SIZE[family])
        unique = tuple(dict.fromkeys(sources[family]))
        result.append(Coverage(family=family, complete=complete, public_share=share, sources=unique))
    return result


def open_families(entries: Sequence[tuple[str, Network]]) -> list[Coverage]:
    """The families the entries open to the world. IPv4 reached only through IPv6 ranges is left
    out when the IPv6 side is open too: the IPv6 ranges already say it."""
    v4, v6 = coverage(entries)
    found = [c for c in (v4, v6) if c.open_to_world]
    native_v4 = {text for text, network in entries if network.version == 4}
    if v6.open_to_world and not native_v4 & set(v4.sources):
        found = [v6]
    return found


def world_exposure(texts: Iterable[str]) -> tuple[list[str], list[str]]:
    """For the rules: (what the ranges open to the world, described; the entries no reader reads as a
    range). Both empty: the list is a real allow-list."""
    entries: list[tuple[str, Network]] = []
    unreadable: list[str] = []
    for text in texts:
        network = read_cidr(text)
        if network is None:
            unreadable.append(text)
        else:
            entries.append((text, network))
    return [c.describe() for c in open_families(entries)], unreadable


def is_private_v4(network: Network) -> bool:
    """Inside RFC 1918 or RFC 6598 space, by arithmetic."""
    return isinstance(network, ipaddress.IPv4Network) and any(network.subnet_of(p) for p in PRIVATE_V4)

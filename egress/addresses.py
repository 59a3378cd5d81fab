"""Strict parsing of the addresses and CIDRs written in a policy.

A policy may hold a hundred thousand addresses, so parsing is on the hot path of
`validate`. Plain IPv4 (`a.b.c.d` or `a.b.c.d/n`, the vast majority) takes a regex and
integer arithmetic; anything else goes to the standard library's `ipaddress`, which is
strict (no leading zeros, no `10/8` shorthand). Either way the result is the same
`Network(version, first, prefixlen)`, and netaddr objects are made from it only when a
target needs sets (`to_netaddr`), at a fraction of the cost of parsing text again.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from netaddr import IPNetwork

_IPV4 = re.compile(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(?:/(0|[1-9][0-9]?))?\Z")


class AddressError(ValueError):
    """`network` is set when the only fault is host bits (it is the network to write)."""

    def __init__(self, message: str, network: str | None = None):
        super().__init__(message)
        self.network = network


class Network(NamedTuple):
    version: int
    first: int
    prefixlen: int

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    @property
    def last(self) -> int:
        return self.first | ((1 << (self.bits - self.prefixlen)) - 1)

    def __str__(self) -> str:
        address = ipaddress.IPv4Address(self.first) if self.version == 4 else ipaddress.IPv6Address(self.first)
        return f"{address}/{self.prefixlen}"

    def to_netaddr(self) -> IPNetwork:
        from netaddr import IPNetwork  # imported by the targets that need sets, not by `validate` (issue 15)

        return IPNetwork((self.first, self.prefixlen), self.version)


def parse(text: str) -> Network:
    """The network written as `text`; `AddressError` if it is not one, or has host bits."""
    match = _IPV4.match(text)
    if match:
        a, b, c, d, prefix = match.groups()
        octets = (int(a), int(b), int(c), int(d))
        prefixlen = 32 if prefix is None else int(prefix)
        if max(octets) > 255 or prefixlen > 32:
            raise AddressError("not an IPv4/IPv6 address or CIDR")
        value = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
        host_mask = (1 << (32 - prefixlen)) - 1
        if value & host_mask:
            raise AddressError("host bits set", str(Network(4, value & ~host_mask, prefixlen)))
        return Network(4, value, prefixlen)
    if "%" in text:
        raise AddressError("carries an IPv6 zone index; write the address alone")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise AddressError("not an IPv4/IPv6 address or CIDR") from None
    if "/" in text and int(network.network_address) != int(ipaddress.ip_interface(text).ip):
        raise AddressError("host bits set", str(network))
    return Network(network.version, int(network.network_address), network.prefixlen)

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

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(3[0-2]|[12]?[0-9]))?\Z")
"""Dotted-quad IPv4 with an optional prefix, in canonical form only (no leading zero,
octets to 255, prefix to 32); anything else goes to `ipaddress`, which refuses it with
the same message or reads it (`10.0.0.0/08`)."""
_NUMBERS = {str(n): n for n in range(256)}


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
        return self.first | ((1 << ((32 if self.version == 4 else 128) - self.prefixlen)) - 1)  # (`bits` inlined: hot)

    def __str__(self) -> str:
        address = ipaddress.IPv4Address(self.first) if self.version == 4 else ipaddress.IPv6Address(self.first)
        return f"{address}/{self.prefixlen}"

    def to_netaddr(self) -> IPNetwork:
        from netaddr import IPNetwork  # imported by the targets that need sets, not by `validate` (issue 15)

        return IPNetwork((self.first, self.prefixlen), self.version)


def parse(text: str) -> Network:
    """The network written as `text`; `AddressError` if it is not one, or has host bits."""
    match = _IPV4.match(text)
    if match:  # the common case, on the hot path of `validate`: a table for the numbers
        a, b, c, d, prefix = match.groups()
        value = (_NUMBERS[a] << 24) | (_NUMBERS[b] << 16) | (_NUMBERS[c] << 8) | _NUMBERS[d]
        prefixlen = 32 if prefix is None else _NUMBERS[prefix]
        host_mask = (1 << (32 - prefixlen)) - 1
        if value & host_mask:
            raise AddressError("host bits set", str(Network(4, value & ~host_mask, prefixlen)))
        return tuple.__new__(Network, (4, value, prefixlen))
    return _parse_with_ipaddress(text)


def _parse_with_ipaddress(text: str) -> Network:
    """`parse` for any text, by the standard library, one parse each: an address alone
    is its own network, and `ip_interface` reads an address with a prefix and its
    network as `ip_network(text, strict=False)` would (with host bits, the two differ).
    The IPv4 fast path of `parse` must agree with it, and it with the plain use of
    `ip_network` (property tests)."""
    if "%" in text:
        raise AddressError("carries an IPv6 zone index; write the address alone")
    try:
        if "/" not in text:  # an address alone, its own network: one parse, IPv6 first if it can only be that
            address = ipaddress.IPv6Address(text) if ":" in text else ipaddress.ip_address(text)
            return Network(address.version, int(address), address.max_prefixlen)
        interface = ipaddress.ip_interface(text)  # the address and its network (strict=False) in one parse
    except ValueError:
        raise AddressError("not an IPv4/IPv6 address or CIDR") from None
    network = interface.network
    if int(network.network_address) != int(interface.ip):
        raise AddressError("host bits set", str(network))
    return Network(network.version, int(network.network_address), network.prefixlen)

"""The address space that is not the internet, range by range, with the RFC of each.

`internet` in a policy (the sources of an ingress grant `from: internet`, and what the
proxy zone may reach for `via: proxy` grants) means the public address space outside
the zones. "Everything outside the zones" would include the hospital's own private
networks, the cloud metadata address 169.254.169.254, loopback and the rest: a name
under an allowed domain that resolves to 10.99.0.5 would then be reachable through the
proxy. So the internet is `INTERNET_SPACE` (all of IPv4; IPv6's global unicast
2000::/3, RFC 4291, the rest of IPv6 being special or reserved by the IETF) minus the
`NOT_INTERNET` ranges below (IANA's special-purpose address registries: private-use,
shared, loopback, link-local, multicast, unspecified and reserved space), minus the
zones (`flows.PolicyIndex.internet`).

The documentation ranges of RFC 5737 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)
and RFC 3849 (2001:db8::/32) stay in: examples and tests use them to stand for the
outside. A policy that needs a destination in one of the ranges below (a partner over
a private link) names it in a service: grants to services are not affected.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple


class SpecialRange(NamedTuple):
    network: str
    what: str
    rfc: str


INTERNET_SPACE = ("0.0.0.0/0", "2000::/3")
"""Where the internet can be at all: every IPv4 address, IPv6 global unicast (RFC 4291
section 2.4: everything outside 2000::/3 is special or reserved by the IETF)."""

NOT_INTERNET: tuple[SpecialRange, ...] = (
    SpecialRange("0.0.0.0/8", "\"this network\" (unspecified)", "RFC 791, RFC 1122"),
    SpecialRange("10.0.0.0/8", "private-use", "RFC 1918"),
    SpecialRange("100.64.0.0/10", "shared address space (carrier-grade NAT)", "RFC 6598"),
    SpecialRange("127.0.0.0/8", "loopback", "RFC 1122"),
    SpecialRange("169.254.0.0/16", "link-local (cloud metadata services live here)", "RFC 3927"),
    SpecialRange("172.16.0.0/12", "private-use", "RFC 1918"),
    SpecialRange("192.0.0.0/24", "IETF protocol assignments", "RFC 6890"),
    SpecialRange("192.88.99.0/24", "6to4 relay anycast (deprecated)", "RFC 7526"),
    SpecialRange("192.168.0.0/16", "private-use", "RFC 1918"),
    SpecialRange("198.18.0.0/15", "benchmarking", "RFC 2544"),
    SpecialRange("224.0.0.0/4", "multicast", "RFC 5771"),
    SpecialRange("240.0.0.0/4", "reserved (and the limited broadcast 255.255.255.255)", "RFC 1112, RFC 919"),
    SpecialRange("::/128", "unspecified", "RFC 4291"),
    SpecialRange("::1/128", "loopback", "RFC 4291"),
    SpecialRange("::ffff:0:0/96", "IPv4-mapped", "RFC 4291"),
    SpecialRange("64:ff9b::/96", "NAT64 well-known prefix (IPv4 addresses in IPv6 form)", "RFC 6052"),
    SpecialRange("64:ff9b:1::/48", "local-use NAT64", "RFC 8215"),
    SpecialRange("100::/64", "discard-only", "RFC 6666"),
    SpecialRange("2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)", "RFC 2928"),
    SpecialRange("2002::/16", "6to4 (IPv4 addresses in IPv6 form)", "RFC 3056"),
    SpecialRange("3fff::/20", "documentation (the newer range: only RFC 3849's counts as outside)", "RFC 9637"),
    SpecialRange("5f00::/16", "segment routing (SRv6) identifiers", "RFC 9602"),
    SpecialRange("fc00::/7", "unique local (IPv6 private-use)", "RFC 4193"),
    SpecialRange("fe80::/10", "link-local", "RFC 4291"),
    SpecialRange("fec0::/10", "site-local (deprecated)", "RFC 3879"),
    SpecialRange("ff00::/8", "multicast", "RFC 4291"),
)
"""The ranges taken out of `INTERNET_SPACE`, each with what it is and its RFC."""

DOCUMENTATION = (
    SpecialRange("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737"),
    SpecialRange("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737"),
    SpecialRange("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737"),
    SpecialRange("2001:db8::/32", "documentation", "RFC 3849"),
)
"""Special, yet counted as internet: they stand for the outside in examples and tests."""

_NETWORKS = [(ipaddress.ip_network(r.network), r) for r in NOT_INTERNET]
_RESERVED_V6 = SpecialRange("::/0", "outside IPv6 global unicast 2000::/3 (reserved by the IETF)", "RFC 4291")


def not_internet(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> SpecialRange | None:
    """The special range that holds `address` (the most specific one), or None if the
    address is in the internet's space (zones aside)."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    found = [(network.prefixlen, r) for network, r in _NETWORKS if ip in network]
    if found:
        return max(found)[1]
    if ip.version == 6 and ip not in ipaddress.ip_network("2000::/3"):
        return _RESERVED_V6
    return None

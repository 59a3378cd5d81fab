"""What `internet` means: the public space outside the zones (egress/special.py)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings, strategies as st
from netaddr import IPAddress

from egress.flows import _public_space
from egress.special import DOCUMENTATION, NOT_INTERNET, not_internet

DOC_NETWORKS = [ipaddress.ip_network(r.network) for r in DOCUMENTATION]


@pytest.mark.parametrize("address, network", [
    ("169.254.169.254", "169.254.0.0/16"),
    ("10.99.0.5", "10.0.0.0/8"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("127.0.0.1", "127.0.0.0/8"),
    ("fe80::1", "fe80::/10"),
    ("::1", "::1/128"),
    ("::", "::/128"),
    ("::ffff:8.8.8.8", "::ffff:0:0/96"),
    ("2001::1", "2001::/23"),  # Teredo
    ("4000::1", "::/0"),  # outside 2000::/3: reserved by the IETF
])
def test_special_addresses_name_their_range(address, network):
    found = not_internet(address)
    assert found is not None and found.network == network and found.rfc.startswith("RFC")
    assert IPAddress(address) not in _public_space()


@pytest.mark.parametrize("address", ["8.8.8.8", "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1",
                                     "2a00:1450:4007::1", "1.1.1.1", "223.255.255.254"])
def test_public_and_documentation_addresses_are_internet(address):
    assert not_internet(address) is None
    assert IPAddress(address) in _public_space()


def test_every_range_has_an_rfc_and_parses():
    for r in NOT_INTERNET + DOCUMENTATION:
        assert ipaddress.ip_network(r.network) and r.rfc.startswith("RFC") and r.what


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
                 st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
                 st.integers(0x2000 << 112, (0x4000 << 112) - 1).map(ipaddress.IPv6Address)))
def test_what_the_standard_library_calls_not_global_is_not_internet(ip):
    """Everything outside the globally reachable space of IANA's registries (as the
    standard library knows them) is out of `internet`, documentation ranges excepted;
    and `not_internet` agrees with the set the firewall uses."""
    in_set = IPAddress(str(ip)) in _public_space()
    assert in_set == (not_internet(ip) is None)
    if not ip.is_global and not any(ip in n for n in DOC_NETWORKS):
        assert not in_set, ip

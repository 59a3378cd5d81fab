"""Names of the nftables objects that more than one target must agree on.

The nftables ruleset declares the dynamic sets that dnsmasq fills (`nftset=` lines of
the dnsmasq target); both targets take the names from here, so that neither imports
the other and the two files cannot drift apart.

nftables limits set and chain names to 63 characters (NFT_NAME_MAXLEN is 64 with the
terminating NUL). Policy names are at most 63 characters already, but a prefix and a
suffix can push a name over: `nft_name` then shortens it deterministically, keeping
the prefix, the suffix and the start of the middle, and adding 8 hex digits of the
SHA-256 of the full name so that two long names cannot collide.
"""

from __future__ import annotations

import hashlib

FAMILY = "inet"
TABLE = "egress"
NAME_MAX = 63


def nft_name(prefix: str, middle: str, suffix: str = "") -> str:
    """`prefix + middle + suffix`, shortened with a hash suffix if over 63 characters."""
    full = f"{prefix}{middle}{suffix}"
    if len(full) <= NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    keep = NAME_MAX - len(prefix) - len(suffix) - len(digest) - 1
    return f"{prefix}{middle[:keep]}_{digest}{suffix}"


def dynamic_set(services: str, version: int) -> str:
    """The set that dnsmasq fills with the addresses of the hosts of `services` (names
    joined by `_`; see `egress.targets.dynamic`), for IPv4 or IPv6."""
    return nft_name("dyn_", services, f"_v{version}")

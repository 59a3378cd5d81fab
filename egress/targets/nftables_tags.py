"""The destination tags of the nftables target, and whether `firewall.mark_mask` holds them.

The nftables ruleset maps each destination once to a small *tag* written into the bits
of the packet mark that `firewall.mark_mask` gives egress (see the docstring of
`egress.targets.nftables`). The tags are the distinct labels of the destination pieces:
the address destinations (and the lock-file addresses of the hosts) of the services
that some direct grant of some stage reaches, and the proxy zone's addresses when some
grant goes through the proxy, cut into disjoint pieces, each labelled with the
services holding it. A mask of b contiguous bits numbers 2**b - 1 tags (0 means "no
tag"); a policy that needs more cannot be written out.

Both the target (which refuses such a policy when it compiles) and `egress validate`
(E149) ask this module, so that the two can never disagree. It is small and imports
little: `validate` runs it on every policy.
"""

from __future__ import annotations

from egress.flows import policy_index
from egress.load import collector_paused
from egress.model import Policy

MARK_MASK = 0xFFFF0000
"""The bits of the packet mark that egress uses as scratch (`firewall.mark_mask`)."""

PROXY = ""
"""The label of the proxy zone's addresses among the service names of a tag (no
service is named by the empty string)."""

Piece = tuple[int, int, tuple[str, ...]]
"""(first address, last address, label: the sorted service names holding it)."""


def mark_mask(policy: Policy) -> int:
    mask = getattr(policy.firewall, "mark_mask", None)
    return MARK_MASK if mask is None else mask


def mark_layout(mask: int) -> tuple[int, int]:
    """(shift, number of tags) of a mark mask: its bits must be contiguous."""
    if not 0 < mask <= 0xFFFFFFFF:
        raise ValueError(f"firewall.mark_mask 0x{mask:x} must be a non-zero 32-bit mask")
    shift = (mask & -mask).bit_length() - 1
    bits = bin(mask).count("1")
    if mask >> shift != (1 << bits) - 1:
        raise ValueError(f"firewall.mark_mask 0x{mask:08x} must be contiguous bits")
    return shift, (1 << bits) - 1


def labelled_pieces(policy: Policy) -> dict[int, list[Piece]]:
    """{version: the tagged destination pieces, sorted}, computed once per policy (kept
    in its `PolicyIndex.memo`). Only grants whose direction is known are read, so that
    a policy with errors elsewhere (unknown names) is labelled without failing."""
    memo = policy_index(policy).memo
    if __name__ not in memo:
        with collector_paused():
            memo[__name__] = _labelled_pieces(policy)
    return memo[__name__]  # type: ignore[return-value]


def _labelled_pieces(policy: Policy) -> dict[int, list[Piece]]:
    from egress.targets.dynamic import VERSIONS  # not at import: see `shortage`

    direct, proxy_zone = _tagged(policy)
    pinned = policy.lock.hosts if policy.lock else {}
    labelled: dict[int, list] = {4: [], 6: []}
    # the networks as written, not first merged per service (as
    # `PolicyIndex.service(name, locked=True)` holds them): `label_pieces` joins what
    # the merges would have joined, for much less than they cost
    for name in direct:
        service = policy.services[name]
        for n in service.addresses:
            labelled[n.version].append((n.first, n.last, name))
        for d in service.of_kind("host"):
            for n in pinned.get(d.value, ()):
                labelled[n.version].append((n.first, n.last, name))
    if proxy_zone is not None:
        for n in policy.zones[proxy_zone].addresses:
            labelled[n.version].append((n.first, n.last, PROXY))
    return {v: label_pieces(labelled[v]) for v in VERSIONS}


def _tagged(policy: Policy) -> tuple[list[str], str | None]:
    """(the services that some direct egress grant reaches, sorted; the proxy zone if
    some grant goes through the proxy and the zone exists, else None)."""
    direct: set[str] = set()
    proxied = False
    for grant in policy.grants.values():
        if policy.direction(grant) != "egress":
            continue
        if grant.via == "proxy":
            proxied = True
        else:
            direct.update(grant.targets)
    proxy_zone = policy.proxy.zone if policy.proxy and proxied else None
    return sorted(direct), proxy_zone if proxy_zone in policy.zones else None


def most_tags(policy: Policy) -> int:
    """A bound of `tag_count` read without cutting anything: n ranges cut an axis into
    at most 2n - 1 pieces, and each piece has one label. `validate` computes the tags
    only when this bound exceeds the mask (at 100,000 destinations the pieces cost it
    most of a second)."""
    direct, proxy_zone = _tagged(policy)
    pinned = policy.lock.hosts if policy.lock else {}
    ranges = 0
    for name in direct:
        service = policy.services[name]
        ranges += len(service.addresses) + sum(len(pinned.get(d.value, ())) for d in service.of_kind("host"))
    if proxy_zone is not None:
        ranges += len(policy.zones[proxy_zone].addresses)
    return 2 * ranges


def tags(policy: Policy) -> list[tuple[str, ...]]:
    """The tags of a policy: the distinct labels of its pieces, sorted (tag n is the
    n-th, counting from 1). Kept in the policy's memo: `validate` (E149) and the
    target both ask, and at 100,000 destinations each reading costs 30 ms."""
    from egress.targets.dynamic import VERSIONS

    memo = policy_index(policy).memo
    key = f"{__name__}.tags"
    if key not in memo:
        pieces = labelled_pieces(policy)
        memo[key] = sorted({label for v in VERSIONS for _, _, label in pieces[v]})
    return memo[key]  # type: ignore[return-value]


def tag_count(policy: Policy) -> int:
    """How many tags the policy needs: what `firewall.mark_mask` must number."""
    return len(tags(policy))


def label_pieces(items: list[tuple[int, int, str]]) -> list[Piece]:
    """`sweep` of (first, last, name) ranges into pieces labelled with the sorted names
    that hold them, adjacent pieces of one label joined (as if each name's ranges had
    been merged first: `sweep` cuts only the clusters of overlapping ranges, so this
    costs little more than sorting them)."""
    from egress.targets.dynamic import sweep

    return sweep(items, _sorted_names)


def _sorted_names(labels: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(labels))


def shortage(policy: Policy) -> str | None:
    """Why the policy's tags do not fit in its `firewall.mark_mask` (the message, without
    a position), or None when they fit or the mask is not a valid one (E148 says so).

    `validate` calls it for every policy: when the bound fits, as for most, it reads
    nothing of `egress.targets.dynamic` (its set plans, hashlib), which this module
    imports only to count the tags (issue 15: `validate` of a small policy)."""
    mask = mark_mask(policy)
    try:
        capacity = mark_layout(mask)[1]
    except ValueError:
        return None
    if most_tags(policy) <= capacity:
        return None
    needed = tag_count(policy)
    return None if needed <= capacity else shortage_message(needed, mask)


def shortage_message(needed: int, mask: int) -> str:
    """`needed` tags against what `mask` numbers, and a mask that would hold them."""
    shift, capacity = mark_layout(mask)
    bits = needed.bit_length()  # the fewest bits whose 2**bits - 1 tags suffice
    low = shift if shift + bits <= 32 else 32 - bits
    wider = ((1 << bits) - 1) << low
    has = capacity.bit_length()
    return (f"the policy needs {needed:,} destination tags but firewall.mark_mask 0x{mask:08x}"
            f" has {has} bit{'s' * (has != 1)}, which number {capacity:,}: give it at least {bits} contiguous"
            f" bits that no other rule of the firewall uses (for example 0x{wider:08x})")


class TooManyTags(ValueError):
    """The policy's destinations need more tags than `firewall.mark_mask` numbers: a
    fault of the policy (exit 1), not of egress. The message says where the mask is
    set, how many tags the policy needs, what the mask holds, and a mask that fits."""

    def __init__(self, policy: Policy, needed: int, mask: int):
        where = policy.firewall.mark_mask_pos or policy.pos
        super().__init__(f"{where}: {shortage_message(needed, mask)}")

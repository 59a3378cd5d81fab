"""nftables target: the flows of one stage -> `egress.nft`, loaded with `nft -f`.

The ruleset lives in one table, `table inet egress` (IPv4 and IPv6 together), and the
file touches no other table.

Layout
======

Zone address space is cut into *classes*: the disjoint pieces of the zones' addresses,
each labelled with the zones that contain it. When the zones are disjoint (the usual
case) a class is a zone; when zones overlap (allowed, with a warning), the addresses
in both zones A and B form the class `A_B`, whose chains hold the grants of A and of
B. Classes are computed from the policy's zones, not from the stage's grants, so every
stage of a policy declares the same objects (see "Reload" below). Names are
`<prefix><zones joined by _><suffix>`; zone names cannot hold `_`, so a name reads
back unambiguously; a name over 63 characters is shortened with a hash
(`egress.targets.names`).

Objects, for each class C and each address family (v4, v6):

- base chain `forward` (or `output` when `firewall.hook` is `output`), policy drop;
- maps `out_v4`/`out_v6`: source address -> `jump out_<C>` (egress dispatch), and
  `in_v4`/`in_v6`: destination address -> `jump in_<C>` (ingress dispatch); interval
  maps whose elements are the class pieces (disjoint by construction);
- chain `out_<C>`: `ip daddr . meta l4proto . th dport @out_<C>_v4 accept` (and v6),
  then one rule per service with hosts that a direct grant opens to C, per family:
  `ip daddr @dyn_<service>_v4 meta l4proto . th dport { tcp . 443 } accept`;
- chain `in_<C>`: `ip saddr . meta l4proto . th dport @in_<C>_v4 accept` (and v6);
- sets `out_<C>_v4`, `in_<C>_v4` (and `_v6`): `type ipv4_addr . inet_proto .
  inet_service; flags interval`: (far address, protocol, port range) triples;
- sets `dyn_<service>_v4`/`_v6` (`flags timeout; timeout 1d`), one pair per service of
  the policy that has `host` destinations: dnsmasq adds the addresses its upstream
  returns for those hosts (`nftset=` lines of the dnsmasq target). A re-add refreshes
  the timeout (checked on kernel 6.18; older kernels keep the first expiry), so an
  address that clients keep resolving stays; one nobody resolved for a day goes. The lock-file addresses of the same hosts are
  in the static sets and never expire.

The path of a packet through the base chain:

1. `ct state established,related accept` (most packets stop here);
2. `ct state invalid drop`;
3. (hook output only) `oifname "lo" accept`;
4. the ICMP that networks need: v4 destination-unreachable (which includes
   fragmentation-needed, for path-MTU discovery), time-exceeded, parameter-problem;
   v6 destination-unreachable, packet-too-big, time-exceeded, parameter-problem; and on
   hook output, where the host's own neighbour discovery and MLD pass, nd-router-solicit,
   nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report and
   mld2-listener-report (on `forward` they never appear: they are link-local).
   Echo-request is NOT opened: ping is a flow like any other, opened by a grant with
   `icmp`/`icmpv6` ports, because after an attack the crisis cell decides every
   opening (and echo carries data). ICMP errors about an allowed connection are
   `related` and pass at step 1 anyway;
5. `ip saddr vmap @out_v4` (`ip6 saddr vmap @out_v6`): a source in a zone jumps to the
   egress chain of its class: one set lookup, plus the dynamic-set rules of that class;
   an accept ends the walk, otherwise the chain returns;
6. `ip daddr vmap @in_v4` (`ip6 ...`): a destination in a zone jumps to the ingress
   chain of its class: one set lookup;
7. `counter`, then `limit rate 10/second burst 20 packets log prefix "egress <policy>
   drop: "` (`log group N` when `firewall.log_group` is set), then the chain policy
   drops.

So a new packet meets the 9 rules of the base chain (10 on hook output), and in each of
the at most two class chains it jumps to, 2 rules (the set lookups of both families: the
other family's stops at its first comparison) plus, in its egress chain, 2 rules per
service with hosts that a direct grant opens to its class. The number of grants, zones
and addresses changes no count but the last: only the sets grow (lookups in the rbtree
maps are O(log n); in the pipapo concatenated sets a bitmap walk). The dynamic rules
are the exception that we accept, one per (class, such service) pair and family: they
grow with the services reached by name directly from that class (tens at most; opening
many sites by name goes through the proxy).

What goes into the sets
=======================

- direct egress flow from zone Z to service S: for each class C in Z, the flow's
  destination addresses (address destinations and the lock-file addresses of its
  hosts) x its ports into `out_<C>_vN`; its hosts also into the dynamic rule of (C, S);
- proxied egress flow (`via: proxy`): for each class C in Z, the proxy zone's
  addresses x `tcp . <proxy.port>`; for each class P of the proxy zone, the internet
  (`flows.PolicyIndex.internet`: public space outside the zones) x the flow's tcp ports: the proxy, not the
  firewall, checks the names. The proxy is not opened towards the hospital's own zones;
- ingress flow from `internet` or a partner service to zone Z: for each class C in Z,
  the flow's source addresses x its ports into `in_<C>_vN`;
- ICMP: `th dport` is the 16 bits at offset 2 of the transport header, whatever the
  protocol; for ICMP they are the checksum. An `icmp`/`icmpv6` grant therefore becomes
  the element `<address> . icmp . 0-65535`, which matches every ICMP message to that
  address in the same set and the same single lookup (icmp goes to v4 sets only,
  icmpv6 to v6 sets only).

The elements of a concatenated interval set must not overlap (nft 1.0.6 and the
kernel refuse the whole file with "File exists"; only an exact duplicate is merged
silently), so they are computed here: per protocol, the address axis is split at every
boundary, the port ranges on each piece are unioned and merged, adjacent pieces with
the same ports are merged again, and each (piece, port range) becomes one element. The
address of an element is a prefix when the piece is one, else a range `a-b`. So
two adjacent /25 granted the same ports become one /24, and nothing relies on nft's
`auto-merge`. Rule comments name the grants that fed the set or rule (at most 128
characters: a long list ends with "+N more").

How, fast: `decompose` computes exactly that, but run over every element of every set
of every stage it dominates the compile of a large policy (a set may hold 100,000
elements, and each stage holds most of those of the stage before). So a set is made of
*blocks*: the far addresses of one zone, service or `internet` (the shared integer
ranges of `egress.flows`: disjoint, never touching) with the union of the ports its
flows open to them. A block's elements are each of its ranges x those ports; they are
formatted once per policy and kept for all its stages (`_Cache`). A set's elements are
its blocks' elements sorted together, taken as they are wherever a range touches no
range of another block; only the clusters of ranges that overlap or touch (shared or
adjacent addresses) go through `decompose`. The result is the same as `decompose` over
the whole set (a test checks it on random sets).

Reload
======

`flush table` is not enough (it keeps every set element) and `delete table` would
empty the dynamic sets, which dnsmasq would not refill from its cache. The file is one
transaction (`nft -f`) in three parts:

1. declare every object of this policy (table, base chain, maps, class chains and
   sets, dynamic sets): this creates them on a first load and changes nothing on a
   reload, so the dynamic sets keep their elements; the base chain of the hook not in
   use is also declared (policy accept), to be deleted in part 2;
2. `flush chain` every chain (which drops every reference to the maps and sets), then
   `delete map`/`delete set` every static map and set, `flush set` the dynamic sets of
   the services that no direct grant opens at this stage (a revoked opening loses its
   learned addresses), and `flush chain` + `delete chain` the base chain of the other
   hook. nft 1.0.6 has no `destroy` command (it came with nft 1.0.8): declaring then
   deleting in the same transaction is how to delete what may not exist;
3. define the ruleset of this stage: the static maps and sets again (every one, empty
   or not, in the same order), their elements, the rules.

Static sets are deleted and made again rather than flushed because flushing a large
concatenated interval set (the kernel's pipapo backend) deactivates its elements one
by one with a lookup each, which is quadratic: reloading 100,000 elements took 73 s
with `flush set` and 1.5 s with `delete set` (kernel 6.18, nft 1.0.6). The maps are
treated the same way for uniformity.

Since every name comes from the policy's zones and services, never from the stage's
grants, all the stages of a policy have the same objects: loading stage N, then N+1,
then N again gives the same listing as a fresh load of N. A broken file fails as a
whole (one transaction) and leaves the previous ruleset in force.

Limits of this design, by choice:
- objects named after a zone or a service that a NEW VERSION of the policy removes or
  renames stay in the table (unreachable: no map or base chain points to them any
  more, and their dynamic sets are no longer fed). Deleting them needs their names,
  which this file cannot know; `nft delete table inet egress` before loading clears
  them (then restart dnsmasq: with an empty cache, it refills the dynamic sets as
  clients resolve the names again);
- a change of a declared object's type or flags (a new version of this generator)
  makes the load fail with "File exists", leaving the old ruleset in force; the same
  reset applies;
- on hook `output` (a host), the table sees only what the host sends: new inbound
  connections never pass it, so ingress grants have no effect there (the replies to
  them are `established`); the host's input filtering stays its own business;
- established connections are accepted first, so a reload that closes a grant stops
  new connections only: those already open live until they end (`conntrack -D` with
  the flow's addresses cuts them at once).

The output is deterministic: everything is sorted and the header holds no timestamp.
"""

from __future__ import annotations

import re
from functools import lru_cache
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import compress, count, islice
from operator import ge, itemgetter

from netaddr import IPAddress

from egress.flows import Ranges, StageFlows, policy_index
from egress.model import Policy, PortRange
from egress.targets.names import FAMILY, TABLE, dynamic_set, nft_name

HOOKS = ("forward", "output")
DYNAMIC_TIMEOUT = "1d"
LOG_RATE = "limit rate 10/second burst 20 packets"
COMMENT_MAX = 128
LOG_PREFIX_MAX = 127

# protocol of the language -> (number, name in nft, the address families it goes to)
PROTOCOLS = {
    "tcp": (6, "tcp", (4, 6)),
    "udp": (17, "udp", (4, 6)),
    "icmp": (1, "icmp", (4,)),
    "icmpv6": (58, "icmpv6", (6,)),
}
PROTO_BY_NUMBER = {number: name for number, name, _ in PROTOCOLS.values()}

ICMP_V4 = ("destination-unreachable", "time-exceeded", "parameter-problem")
ICMP_V6 = ("destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem")
ICMP_V6_LOCAL = (
    "nd-router-solicit",
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
    "mld-listener-report",
    "mld2-listener-report",
)

ADDR = {4: "ip", 6: "ip6"}
ADDR_TYPE = {4: "ipv4_addr", 6: "ipv6_addr"}
BITS = {4: 32, 6: 128}
VERSIONS = (4, 6)


# --------------------------------------------------------------------------- names


def _class_name(zones: tuple[str, ...]) -> str:
    return "_".join(zones)


def out_chain(zones: tuple[str, ...]) -> str:
    return nft_name("out_", _class_name(zones))


def in_chain(zones: tuple[str, ...]) -> str:
    return nft_name("in_", _class_name(zones))


def out_set(zones: tuple[str, ...], version: int) -> str:
    return nft_name("out_", _class_name(zones), f"_v{version}")


def in_set(zones: tuple[str, ...], version: int) -> str:
    return nft_name("in_", _class_name(zones), f"_v{version}")


def dispatch_map(direction: str, version: int) -> str:
    return f"{direction}_v{version}"


# ------------------------------------------------------------------ interval sweep


def _sweep(items: Iterable[tuple[int, int, object]], key) -> list[tuple[int, int, object]]:
    """Cut the axis at every boundary of `items` ((first, last, label) intervals).

    Returns disjoint (first, last, value) pieces, sorted, where value is `key(labels)`
    of the labels covering the piece; pieces whose value is empty are left out and
    adjacent pieces with equal values are merged.
    """
    starts: dict[int, list] = defaultdict(list)
    ends: dict[int, list] = defaultdict(list)
    for first, last, label in items:
        starts[first].append(label)
        ends[last + 1].append(label)
    points = sorted(set(starts) | set(ends))
    active: Counter = Counter()
    cache: dict[frozenset, object] = {}
    pieces: list[list] = []
    for i, point in enumerate(points):
        for label in ends.get(point, ()):
            active[label] -= 1
            if not active[label]:
                del active[label]
        for label in starts.get(point, ()):
            active[label] += 1
        if not active:
            continue
        labels = frozenset(active)
        if labels not in cache:
            cache[labels] = key(labels)
        value = cache[labels]
        if not value:
            continue
        last = points[i + 1] - 1  # an active interval ends at a later point
        if pieces and pieces[-1][1] == point - 1 and pieces[-1][2] == value:
            pieces[-1][1] = last
        else:
            pieces.append([point, last, value])
    return [tuple(p) for p in pieces]


def _union_ports(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Port ranges merged where they overlap or touch, sorted."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((a, b) for a, b in merged)


def decompose(entries: Iterable[tuple[int, int, int, int, int]]) -> list[tuple[int, int, int, int, int]]:
    """(proto, addr first, addr last, port first, port last) -> disjoint elements.

    The result has no two elements that overlap (same protocol, intersecting address
    ranges and intersecting port ranges), covers exactly the union of the entries, and
    is sorted by (address, protocol, port).
    """
    by_proto: dict[int, list] = defaultdict(list)
    for proto, first, last, pfirst, plast in entries:
        by_proto[proto].append((first, last, (pfirst, plast)))
    elements = []
    for proto, items in by_proto.items():
        for first, last, ports in _sweep(items, _union_ports):
            for pfirst, plast in ports:
                elements.append((first, last, proto, pfirst, plast))
    elements.sort(key=lambda e: (e[0], e[2], e[3]))
    return [(proto, first, last, pf, pl) for first, last, proto, pf, pl in elements]


# ------------------------------------------------------------------------ classes


def zone_classes(policy: Policy) -> tuple[list[tuple[str, ...]], dict[int, list]]:
    """(classes sorted, {version: [(first, last, class)]}) of the policy's zones."""
    index = policy_index(policy)
    pieces: dict[int, list] = {}
    classes: set[tuple[str, ...]] = set()
    for version in VERSIONS:
        items = [
            (first, last, zone.name)
            for zone in policy.zones.values()
            for v, first, last in index.zone(zone.name)[1]
            if v == version
        ]
        pieces[version] = _sweep(items, lambda labels: tuple(sorted(labels)))
        classes.update(value for _, _, value in pieces[version])
    return sorted(classes), pieces


# --------------------------------------------------------------------- formatting


def _ip(value: int, version: int) -> str:
    if version == 4:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return str(IPAddress(value, 6))


def _address(first: int, last: int, version: int) -> str:
    size = last - first + 1
    if size & (size - 1) == 0 and first % size == 0:
        prefix = BITS[version] - (size.bit_length() - 1)
        text = _ip(first, version)
        return text if prefix == BITS[version] else f"{text}/{prefix}"
    return f"{_ip(first, version)}-{_ip(last, version)}"


def _ports(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _element(proto: int, first: int, last: int, pfirst: int, plast: int, version: int) -> str:
    return f"{_address(first, last, version)} . {PROTO_BY_NUMBER[proto]} . {_ports(pfirst, plast)}"


def comment(grant_ids: Iterable[str]) -> str:
    """The grants of a rule, as an nft comment of at most 128 characters."""
    ids = sorted(set(grant_ids))
    head = "grant " if len(ids) == 1 else "grants "
    text = head + ", ".join(ids)
    if len(text) <= COMMENT_MAX:
        return text
    shown: list[str] = []
    for i, grant_id in enumerate(ids):
        rest = len(ids) - i - 1
        candidate = head + ", ".join([*shown, grant_id]) + (f" +{rest} more" if rest else "")
        if len(candidate) > COMMENT_MAX:
            break
        shown.append(grant_id)
    text = head + ", ".join(shown) + f" +{len(ids) - len(shown)} more"
    return text[:COMMENT_MAX]


def log_prefix(policy_name: str) -> str:
    """`egress <policy> drop: `, at most 127 characters."""
    room = LOG_PREFIX_MAX - len("egress  drop: ")
    return f"egress {policy_name[:room]} drop: "


def _text(value) -> str:
    """A free text value made safe for a `#` comment line."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)).strip()


@lru_cache(maxsize=4096)
def _port_specs(ports: tuple[PortRange, ...]) -> dict[int, list[tuple[int, int, int]]]:
    """{version: (proto number, first, last) of the ports that apply to that family}.

    Cached: the same few tuples of ports recur in every flow; callers only read it."""
    specs: dict[int, list] = {v: [] for v in VERSIONS}
    for port in ports:
        number, _, versions = PROTOCOLS[port.proto]
        for version in versions:
            specs[version].append((number, port.first, port.last) if port.has_ports else (number, 0, 65535))
    return specs


# ------------------------------------------------------------------ set elements

SEPARATOR = ",\n\t\t\t"
"""Between two elements of a set or map of part 3 (where elements are indented by three
tabs): the cached texts of several elements are joined with it already."""


class _Cache:
    """The work of this target that does not depend on the stage, kept for every stage
    of a policy (in its `PolicyIndex.memo`, so it goes with the policy): the services
    with hosts, the ranges of flows split by family, and the items of blocks (`items`),
    which hold most of the text of the sets.

    The address ranges of flows are the shared objects of the policy index (one per
    zone, service, `internet`), so they are keyed by `id`; each entry holds its object,
    so that the id cannot be reused while the entry lives.
    """

    def __init__(self, policy: Policy):
        self.dynamic_services = sorted(name for name, s in policy.services.items() if s.of_kind("host"))
        self._families: dict[int, tuple[Ranges, dict[int, tuple]]] = {}
        self._items: dict[tuple, tuple[tuple, list]] = {}

    def families(self, ranges: Ranges) -> dict[int, tuple[tuple[int, int], ...]]:
        """{version: ((first, last), ...)} of `Ranges`."""
        found = self._families.get(id(ranges))
        if found is None:
            split = {v: tuple((first, last) for version, first, last in ranges if version == v) for v in VERSIONS}
            found = self._families[id(ranges)] = (ranges, split)
        return found[1]

    def items(self, far: tuple, specs: tuple, version: int) -> list:
        """The items of a block: far ranges x the union of its port specs (`_union_specs`).

        One item per range, sorted: (sort key, first, last + 1, text, specs), where the
        text holds the range's elements, one per port spec, and the key is that of the
        first element (`_key`). `far` holds disjoint ranges that do not touch, so these
        are the block's elements exactly as `decompose` would make them."""
        key = (id(far), specs, version)
        found = self._items.get(key)
        if found is None:
            tails = [f" . {PROTO_BY_NUMBER[proto]} . {_ports(a, b)}" for proto, a, b in specs]
            proto, a, _ = specs[0]
            items = []
            for first, last in far:
                address = _address(first, last, version)
                text = SEPARATOR.join([address + tail for tail in tails])
                items.append((_key(first, proto, a), first, last + 1, text, specs))
            found = self._items[key] = (far, items)
        return found[1]


def _cache(policy: Policy) -> _Cache:
    memo = policy_index(policy).memo
    if __name__ not in memo:
        memo[__name__] = _Cache(policy)
    return memo[__name__]


def _key(first: int, proto: int, pfirst: int) -> int:
    """The order of elements, (address, protocol, first port), as one integer (faster to
    sort than a tuple)."""
    return (first << 24) | (proto << 16) | pfirst


@lru_cache(maxsize=4096)
def _union_specs(specs: frozenset[tuple[int, int, int]]) -> tuple[tuple[int, int, int], ...]:
    """(proto, first, last) port specs, sorted, merged per protocol where they overlap or
    touch. Cached: a few port sets recur in every set of every stage."""
    protos: dict[int, list] = defaultdict(list)
    for proto, first, last in specs:
        protos[proto].append((first, last))
    return tuple((proto, a, b) for proto in sorted(protos) for a, b in _union_ports(protos[proto]))


def _set_elements(blocks: Iterable[tuple[tuple, set]], version: int, cache: _Cache) -> str:
    """The elements of a set made of `blocks` ((far ranges, port specs) pairs), joined.

    Each block's items come decomposed from the cache. Sorted together, they are the
    set's elements as they are wherever an item touches no other (a block's ranges never
    touch each other): that is checked on the whole list at once (each item against the
    next). Where items overlap or touch (blocks that share addresses, or adjacent
    addresses that may merge), `_redo_clusters` decomposes those items again."""
    items: list = []
    for far, specs in blocks:
        items += cache.items(far, _union_specs(frozenset(specs)), version)
    items.sort()
    ends = list(map(itemgetter(2), items))
    firsts = list(map(itemgetter(1), items))
    touching = list(compress(count(), map(ge, ends, islice(firsts, 1, None))))
    if touching:
        items = _redo_clusters(items, touching, version)
    return SEPARATOR.join(map(itemgetter(3), items))


def _redo_clusters(items: list, touching: list[int], version: int) -> list:
    """`items` (sorted) where each cluster of items that overlap or touch is decomposed
    again; `touching` holds the indexes of the items that touch the next one.

    A cluster starts at such an index not yet in a cluster and takes the items that
    follow while they touch the cluster's span. An item that touches an earlier one is
    always taken: the first index of `touching` between the two starts or extends a
    cluster whose span reaches that far. Clusters are apart (an address that no item
    covers lies between two), so no element can overlap or merge across them, and
    `decompose` gives each cluster's elements in order: the result is sorted."""
    result: list = []
    done = 0  # items before this index are in the result
    for start in touching:
        if start < done:
            continue
        stop, end = start + 1, items[start][2]
        while stop < len(items) and items[stop][1] <= end:
            end = max(end, items[stop][2])
            stop += 1
        result += items[done:start]
        entries = [(proto, item[1], item[2] - 1, a, b) for item in items[start:stop] for proto, a, b in item[4]]
        for proto, first, last, a, b in decompose(entries):
            result.append((_key(first, proto, a), first, last + 1, _element(proto, first, last, a, b, version), None))
        done = stop
    result += items[done:]
    return result


# ----------------------------------------------------------------------- compile


class _Chain:
    """What one class chain accepts, per address family: the blocks of its set (far
    ranges -> the port specs opened to them) and the grants that fed it."""

    def __init__(self):
        self.blocks: dict[int, dict[int, tuple[tuple, set]]] = {4: {}, 6: {}}
        self.grants: dict[int, set] = {4: set(), 6: set()}

    def add(self, families: dict[int, tuple], port_specs: dict[int, list], grant_id: str) -> None:
        for version in VERSIONS:
            far = families[version]
            specs = port_specs[version]
            if not far or not specs:
                continue
            block = self.blocks[version].get(id(far))
            if block is None:
                block = self.blocks[version][id(far)] = (far, set())
            block[1].update(specs)
            self.grants[version].add(grant_id)


class _Dynamic:
    """The port specs (per family) and grants of one (class, service with hosts) pair."""

    def __init__(self):
        self.specs: dict[int, set] = {v: set() for v in VERSIONS}
        self.grants: set[str] = set()


def _compile(flows: StageFlows, cache: _Cache):
    policy = flows.policy
    index = policy_index(policy)
    classes, pieces = zone_classes(policy)
    of_zone: dict[str, list] = defaultdict(list)
    for cls in classes:
        for zone in cls:
            of_zone[zone].append(cls)
    out = {cls: _Chain() for cls in classes}
    inc = {cls: _Chain() for cls in classes}
    dynamic: dict[tuple, _Dynamic] = defaultdict(_Dynamic)
    for flow in flows.flows:
        gid = flow.grant.id
        specs = _port_specs(flow.ports)
        if flow.direction == "ingress":
            for cls in of_zone[flow.target]:
                inc[cls].add(cache.families(flow.src_ranges), specs, gid)
        elif flow.via == "proxy":
            proxy = policy.proxy
            if proxy is None or proxy.zone not in policy.zones:
                raise ValueError(f"grant {gid}: via proxy needs a proxy block and zone")
            to_proxy = _port_specs((PortRange("tcp", proxy.port, proxy.port),))
            for cls in of_zone[flow.source]:
                out[cls].add(cache.families(index.zone(proxy.zone)[1]), to_proxy, gid)
            web = _port_specs(tuple(p for p in flow.ports if p.proto == "tcp"))
            for cls in of_zone[proxy.zone]:
                out[cls].add(cache.families(index.internet()[1]), web, gid)
        else:
            for cls in of_zone[flow.source]:
                out[cls].add(cache.families(flow.dst_ranges), specs, gid)
                if flow.hosts:
                    pair = dynamic[(cls, flow.target)]
                    for v in VERSIONS:
                        pair.specs[v].update(specs[v])
                    pair.grants.add(gid)
    return classes, pieces, out, inc, dynamic


# ------------------------------------------------------------------------ render


def _declare_set(name: str, version: int, elements: str = "") -> list[str]:
    """A concatenated interval set (in the table's body); `elements` already joined."""
    return _declare("set", name, f"{ADDR_TYPE[version]} . inet_proto . inet_service", elements)


def _declare_map(name: str, version: int, elements: str = "") -> list[str]:
    """An interval verdict map (in the table's body); `elements` already joined."""
    return _declare("map", name, f"{ADDR_TYPE[version]} : verdict", elements)


def _declare(kind: str, name: str, key_type: str, elements: str) -> list[str]:
    return [f"\t{kind} {name} {{", f"\t\ttype {key_type}", "\t\tflags interval", *_elements(elements), "\t}"]


def _elements(elements: str) -> list[str]:
    """The `elements = { ... }` lines of elements joined with `SEPARATOR` (as one
    string: a set may hold hundreds of thousands)."""
    if not elements:
        return []
    return ["\t\telements = {", f"\t\t\t{elements}", "\t\t}"]


def _base_chain_spec(hook: str, policy: str) -> str:
    return f"type filter hook {hook} priority filter; policy {policy};"


def render(flows: StageFlows) -> str:
    """The nftables ruleset (`egress.nft`) of one stage."""
    policy = flows.policy
    hook = policy.firewall.hook
    if hook not in HOOKS:
        raise ValueError(f"unknown firewall hook {hook!r}")
    other_hook = next(h for h in HOOKS if h != hook)
    cache = _cache(policy)
    classes, pieces, out, inc, dynamic = _compile(flows, cache)

    dyn_services = cache.dynamic_services
    dyn_used = {service for _, service in dynamic}
    maps = [(direction, v) for direction in ("out", "in") for v in VERSIONS]
    class_sets = [
        (cls, namer, v)
        for cls in classes
        for namer in (out_set, in_set)
        for v in VERSIONS
    ]
    class_chains = [namer(cls) for cls in classes for namer in (out_chain, in_chain)]
    ref = f"{FAMILY} {TABLE}"

    lines = _header(flows)

    # ---- 1. declare
    lines += [
        "",
        "# 1. Declare every object of this policy: a first load creates them, a reload",
        "#    changes nothing here, so the dynamic sets keep what dnsmasq put in them.",
        f"table {ref} {{",
    ]
    for service in dyn_services:
        for v in VERSIONS:
            lines += [
                f"\tset {dynamic_set(service, v)} {{",
                f"\t\ttype {ADDR_TYPE[v]}",
                "\t\tflags timeout",
                f"\t\ttimeout {DYNAMIC_TIMEOUT}",
                "\t}",
            ]
    for direction, v in maps:
        lines += _declare_map(dispatch_map(direction, v), v)
    for cls, namer, v in class_sets:
        lines += _declare_set(namer(cls, v), v)
    for chain in class_chains:
        lines += [f"\tchain {chain} {{", "\t}"]
    lines += [
        f"\tchain {hook} {{",
        f"\t\t{_base_chain_spec(hook, 'drop')}",
        "\t}",
        f"\tchain {other_hook} {{",
        f"\t\t{_base_chain_spec(other_hook, 'accept')}",
        "\t}",
        "}",
    ]

    # ---- 2. empty
    lines += [
        "",
        "# 2. Empty the chains, delete the static sets and maps (part 3 makes them again:",
        "#    deleting is much faster than flushing a large concatenated interval set),",
        "#    delete the base chain of the other hook.",
        f"flush chain {ref} {hook}",
    ]
    lines += [f"flush chain {ref} {chain}" for chain in class_chains]
    lines += [f"flush chain {ref} {other_hook}", f"delete chain {ref} {other_hook}"]
    lines += [f"delete map {ref} {dispatch_map(direction, v)}" for direction, v in maps]
    lines += [f"delete set {ref} {namer(cls, v)}" for cls, namer, v in class_sets]
    unused = [s for s in dyn_services if s not in dyn_used]
    if unused:
        lines.append("# dynamic sets of the services that no direct grant opens at this stage")
        lines += [f"flush set {ref} {dynamic_set(s, v)}" for s in unused for v in VERSIONS]

    # ---- 3. fill
    lines += ["", "# 3. The ruleset of this stage.", f"table {ref} {{"]
    for direction, v in maps:
        namer = out_chain if direction == "out" else in_chain
        elements = SEPARATOR.join(
            f"{_address(first, last, v)} : jump {namer(cls)}" for first, last, cls in pieces[v]
        )
        lines += _declare_map(dispatch_map(direction, v), v, elements)
    dynamic_rules: dict[tuple, list[str]] = defaultdict(list)
    for (cls, service), pair in sorted(dynamic.items()):
        for v in VERSIONS:
            if pair.specs[v]:
                specs = _union_specs(frozenset(pair.specs[v]))
                ports = ", ".join(f"{PROTO_BY_NUMBER[n]} . {_ports(a, b)}" for n, a, b in specs)
                dynamic_rules[cls].append(
                    f"{ADDR[v]} daddr @{dynamic_set(service, v)} meta l4proto . th dport"
                    f' {{ {ports} }} counter accept comment "{comment(pair.grants)}"'
                )
    set_elements: dict[str, str] = {}
    set_grants: dict[str, set] = {}
    for cls in classes:
        for namer, chains in ((out_set, out), (in_set, inc)):
            for v in VERSIONS:
                name = namer(cls, v)
                elements = _set_elements(chains[cls].blocks[v].values(), v, cache)
                set_elements[name] = elements
                set_grants[name] = chains[cls].grants[v]
                lines += _declare_set(name, v, elements)
    for cls in classes:
        for direction in ("out", "in"):
            chain_name = out_chain(cls) if direction == "out" else in_chain(cls)
            far = "daddr" if direction == "out" else "saddr"
            rules = []
            for v in VERSIONS:
                name = (out_set if direction == "out" else in_set)(cls, v)
                if set_elements[name]:
                    rules.append(
                        f"{ADDR[v]} {far} . meta l4proto . th dport @{name} counter accept"
                        f' comment "{comment(set_grants[name])}"'
                    )
            if direction == "out":
                rules += dynamic_rules.get(cls, [])
            if rules:
                lines += [f"\tchain {chain_name} {{", *[f"\t\t{r}" for r in rules], "\t}"]
    lines += [f"\tchain {hook} {{", f"\t\t{_base_chain_spec(hook, 'drop')}"]
    lines += [f"\t\t{r}" for r in _base_rules(policy, hook)]
    lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


def _base_rules(policy: Policy, hook: str) -> list[str]:
    rules = ["ct state established,related accept", "ct state invalid counter drop"]
    if hook == "output":
        rules.append('oifname "lo" accept')
    rules.append(f"icmp type {{ {', '.join(ICMP_V4)} }} accept")
    icmp6 = ICMP_V6 + (ICMP_V6_LOCAL if hook == "output" else ())
    rules.append(f"icmpv6 type {{ {', '.join(icmp6)} }} accept")
    for direction, field in (("out", "saddr"), ("in", "daddr")):
        for v in VERSIONS:
            rules.append(f"{ADDR[v]} {field} vmap @{dispatch_map(direction, v)}")
    log = f'log prefix "{log_prefix(policy.name)}"'
    if policy.firewall.log_group is not None:
        log += f" group {policy.firewall.log_group}"
    rules.append(f"counter {LOG_RATE} {log}")
    return rules


def _header(flows: StageFlows) -> list[str]:
    policy = flows.policy
    stage = flows.stage
    title = f" ({_text(stage.title)})" if stage.title else ""
    lines = [
        "#!/usr/sbin/nft -f",
        "# egress.nft: nftables ruleset generated by egress; do not edit, edit the policy.",
        f"# policy: {policy.name} (egress language version {policy.version})",
        f"# stage: {stage.id}{title}" + (f", {stage.date.isoformat()}" if stage.date else ""),
        f"# at: {flows.at.isoformat()} (grants that expired before this day are left out)",
        f"# hook: {policy.firewall.hook}",
    ]
    lines += _wrap("# grants in force: ", sorted(g.id for g in flows.grants) or ["none"])
    if flows.revoked:
        lines += _wrap("# revoked: ", [f"{g} (at {s})" for g, s in sorted(flows.revoked.items())])
    if flows.expired:
        lines += _wrap("# expired: ", [f"{g} ({d.isoformat()})" for g, d in sorted(flows.expired.items())])
    lines += [
        "#",
        f"# Load with `nft -f`: one transaction that replaces the content of table {FAMILY} {TABLE},",
        "# keeps the addresses that dnsmasq added to its dynamic sets, and touches no other table.",
    ]
    return lines


def _wrap(head: str, items: list[str], width: int = 88) -> list[str]:
    """`head` then the items, comma-separated, over `#` lines of at most ~width chars."""
    lines, line, empty = [], head, True
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if not empty and len(line) + len(piece) > width:
            lines.append(line.rstrip())
            line = "#   "
        line += piece + " "
        empty = False
    lines.append(line.rstrip())
    return lines

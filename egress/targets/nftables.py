"""nftables target: the flows of one stage -> `egress.nft`, loaded with `nft -f`.

The ruleset lives in one table, `table inet egress` (IPv4 and IPv6 together), and the
file touches no other table. It is laid out so that loading it costs close to loading
its destination x port elements alone, and so that a new packet meets a bounded number
of rules whatever the size of the policy (figures at the end).

Layout
======

Zone address space is cut into *classes*: the disjoint pieces of the zones' addresses,
each labelled with the zones that contain it (`egress.targets.dynamic.zone_classes`).
When the zones are disjoint (the usual case) a class is a zone; where zones A and B
overlap (allowed, with a warning) the class `A_B` holds the grants of both. Classes
come from the policy's zones, not the stage's grants, so every stage of a policy
declares the same objects (see "Reload"). Names are `<prefix><zones joined by _>
<suffix>`; zone and service names cannot hold `_`, so a name reads back unambiguously;
a name over 63 characters is shortened with a hash (`egress.targets.names`).

Destinations are *tagged*: the address destinations of the services that direct grants
reach (with the lock-file addresses of their hosts), and the proxy zone's addresses,
are cut into disjoint pieces, each labelled with the services holding it; each distinct
label is a tag, numbered in the order of the sorted labels. Each destination is written
once: single addresses in the hash map `dst_v4` (`dst_v6`), prefixes and ranges in the
interval map `nets_v4` (`nets_v6`; nft and the kernel load a hash map of 75,000
addresses in less than half the time of the same elements as intervals), piece ->
`jump tag_<n>`; chain `tag_<n>` writes n into the bits of the packet mark given by
`firewall.mark_mask` (default `0xffff0000`, contiguous bits; 65,535 tags; a policy that
needs more is refused, by `egress validate` too: E149, `egress.targets.nftables_tags`):
`meta mark set meta mark and ~mask or n << shift`. What a class may reach is then a small set of (tag, protocol, port)
elements: `svc_<C>_v4`, `type mark . inet_proto . inet_service : verdict`, looked up
with `meta mark and <mask> . meta l4proto . th dport vmap`: an element jumps to chain
`allow` (clear the scratch bits, accept) or, when all its grants expire, to the chain of
its closing instant (below). The destinations are not repeated
per zone class nor per port range, and the tags and the `dst` maps depend on the policy
only (computed once for all its stages).

The packet mark: nftables (nft 1.0.6, kernel 6.1) can only combine the mark with
constants, not with a value looked up in a map; so the map jumps to a chain per tag,
whose rule is a constant. Bits outside the mask are never changed (tested with a mark
set by a table that runs before this one); the bits of the mask are egress's scratch:
cleared for every new packet before the tag lookup, and cleared again by every rule
that accepts a new packet after it, so that a packet leaves with the mark it came with
when those bits were zero. Give the mask bits that no other rule uses.

The path of a packet (`oifname "lo" accept` first on hook output): one lookup, `ct
state . meta nfproto vmap`, accepts established and related packets, drops invalid
ones, and sends new (and untracked) ones to the chain of their family, `ipv4` (or
`ipv6`):

1. the ICMP that networks need: v4 destination-unreachable (which includes
   fragmentation-needed, for path-MTU discovery), time-exceeded, parameter-problem; v6
   destination-unreachable, packet-too-big, time-exceeded, parameter-problem, and on
   hook output the host's own neighbour discovery and MLD (nd-router-solicit,
   nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report,
   mld2-listener-report; on `forward` they never appear). Echo-request is NOT opened:
   ping is a flow like any other, opened by a grant with `icmp`/`icmpv6` ports;
2. `meta mark set meta mark and ~mask ip daddr vmap @dst_v4`, then `ip daddr vmap
   @nets_v4`: the scratch bits are cleared and the destination's tag written (the map
   that holds the address jumps to `tag_<n>`). Looked up here, once, rather than in
   each class chain: the kernel validates a table by walking every element of a
   verdict map for each rule that references it, so 100 class chains referencing the
   100,000-element maps cost seconds per load;
3. `ip saddr vmap @out_v4`: a source in a zone goes (`goto`) to the egress chain of its
   class, `out_<C>_v4`:
   - `ip daddr . meta l4proto . th dport @out_<C>_v4 accept`: (far address, protocol,
     port) elements, for the proxy zone's way to the web (the internet x the web ports
     of the proxied grants), and its `x` map;
   - `meta l4proto . th dport vmap @hosts_<C>_v4`: the port jumps to the chain of the
     dnsmasq-fed sets of the services that C reaches by name on it (one rule there per
     closing instant, usually one: `ip daddr @dyn_<services>_v4 accept`; see
     `egress.targets.dynamic`);
   - `meta mark and <mask> . meta l4proto . th dport vmap @svc_<C>_v4` (-> `allow` or
     `until_<T>`: one rule).
   Since the chain was entered with `goto`, a packet whose source is in a zone that it
   does not accept goes straight back to the base chain: ingress grants come from
   outside the zones (`internet`, partners), so ingress is not looked at for it;
4. `ip daddr vmap @in_v4`: a destination in a zone jumps to `in_<C>_v4`: `ip saddr .
   meta l4proto . th dport @in_<C>_v4 accept` (and its `x` map);
5. back in the base chain: `counter`, then `limit rate 10/second burst 20 packets log
   prefix "egress <policy> drop: "` (`log group N` with `firewall.log_group`), and the
   chain policy drops.

Rules met by a new packet: 1 in the base chain before its family (2 on hook output),
5 in the family chain to its class (the tag: 3); in the egress chain 1 + 1 per closing
instant in the `to_` chain of its port (dnsmasq-fed addresses), 1 + 1 for the `svc`
map and the chain it jumps to, and in the proxy zone's chain 1 + 2 for its own set and
its `x` map; then the log rule: 9 for an allowed address destination, 12 for a packet
that nothing opens from a zone with direct grants to hosts and addresses, plus the
instants met in a `to_` chain and 3 in the proxy zone's chain. The number of grants,
services, hosts, zones or addresses changes no count: only the sets grow (hash
lookups; O(log n) in the rbtree maps; a bitmap walk in the pipapo concatenated sets).
Counted from the loaded ruleset (`nft -j`) by `bench/common.rules_met`.

What goes into the sets
=======================

- direct egress flow from zone Z to service S: for each class C in Z, the tags of S x
  the flow's ports into `svc_<C>_vN`; if S has hosts, its ports into `hosts_<C>_vN`;
- proxied egress flow (`via: proxy`): for each class C in Z, the proxy zone's tag x
  `tcp . <proxy.port>` into `svc_<C>_vN`; for each class P of the proxy zone, the
  internet (`flows.PolicyIndex.internet`: public space outside the zones) x the flow's
  tcp ports into `out_<P>_vN`: the proxy, not the firewall, checks the names. The
  proxy is not opened towards the hospital's own zones;
- ingress flow from `internet` or a partner service to zone Z: for each class C in Z,
  the flow's source addresses x its ports into `in_<C>_vN`;
- ICMP: `th dport` is the 16 bits at offset 2 of the transport header, whatever the
  protocol; for ICMP they are the checksum. An `icmp`/`icmpv6` grant therefore becomes
  `<tag or address> . icmp . 0-65535` (icmp in v4 sets only, icmpv6 in v6 sets only).

The elements of a concatenated interval set must not overlap (nft 1.0.6 and the kernel
refuse the whole file with "File exists"), so they are computed here (`_Table`): the
first axis (address or tag) is cut at every boundary of the blocks that feed the set,
then on each piece the port axis at every boundary of its port ranges; each piece keeps
the grants (and closing instants) that open it, and adjacent pieces opened by the same
grants merge.

Expiry in the kernel
====================

A grant with `expires` keeps matching until its closing instant, then stops by itself,
with no reload: an element whose every grant expires goes, instead of the set, into the
set's `x` map (`outx_...`, `inx_...`, same key, `: jump until_<T>`; in the `svc` maps
the element itself jumps there), where T is the latest closing instant of its grants,
in seconds since the epoch, UTC, and chain `until_<T>` holds `meta time < T accept`
(clearing the scratch bits of the mark). An element that some grant without
expiry opens stays in the set. The file holds epoch seconds, so the instant does not
depend on the loader's timezone (nft lists them as local dates; the header of the file
gives each instant in UTC with the grants it closes). Cost: one chain per distinct
closing instant of the policy, one element per expiring element, and 1 rule met (the
chain of its instant; +1 for the `x` map of the address-keyed sets) for packets whose
element expires: the count does not grow with the number of grants or of instants. A
host's addresses that dnsmasq adds for a grant that expires go to a set per instant,
checked by one rule per instant in the `to_` chain of the port (see
`egress.targets.dynamic`): that count grows with the distinct instants of the host
grants reachable on one port from one zone. A grant already
expired at `--at` is left out of the file, as before.

Counters
========

The sets and maps whose elements stand for grants (`svc_*`, `out_*`, `outx_*`, `in_*`,
`inx_*`) carry a counter per element (`counter` in their declaration:
kernel 5.11, nft 0.9.7; checked with nft 1.0.6 on concatenated interval sets).
`element_grants(flows)` gives, for each of these sets, element -> the grants it stands
for, and `grant_counters(flows, listing)` reads `nft -j list table inet egress` and sums
the packets and bytes of each grant's elements (an element opened by several grants
counts for each). Addresses added by dnsmasq are counted per rule of their `to_*` chain
(per services and instant), not per grant.

Reload
======

`flush table` is not enough (it keeps every set element) and `delete table` would
empty the dynamic sets, which dnsmasq would not refill from its cache. The file is one
transaction (`nft -f`) in three parts:

1. declare every object of this policy (table, base chain, family, class, tag, until
   and dynamic chains, maps and sets): this creates them on a first load and changes
   nothing on a reload, so the dynamic sets keep their elements; the base chain of the
   hook not in use is also declared (policy accept), to be deleted in part 2;
2. `flush chain` every chain (which drops every reference to the maps and sets), then
   `delete map`/`delete set` every static map and set, `flush set` the dynamic sets
   that no direct grant uses at this stage (a revoked opening loses its learned
   addresses), and `flush chain` + `delete chain` the base chain of the other hook. nft
   1.0.6 has no `destroy` command (it came with nft 1.0.8): declaring then deleting in
   the same transaction is how to delete what may not exist;
3. define the ruleset of this stage: the static maps and sets again (every one, empty
   or not, in the same order), their elements, the rules.

Static sets are deleted and made again rather than flushed because flushing a large
concatenated interval set (the kernel's pipapo backend) deactivates its elements one by
one with a lookup each, which is quadratic (73 s against 1.5 s for 100,000 elements).
No rule holds an anonymous set (the kernel scans the table's sets to name each new one:
thousands of them made the load quadratic), and the number of named sets does not grow
with the policy beyond its zone classes and its dynamic groups.

Since every name comes from the policy (zones, services, tags, closing instants, and
the dynamic groups of all its stages), all the stages of a policy have the same
objects: loading stage N, then N+1, then N again gives the same listing as a fresh
load of N. A broken file fails as a whole and leaves the previous ruleset in force.

Limits of this design, by choice:
- objects named after a zone, a service, a tag or an instant that a NEW VERSION of the
  policy no longer has stay in the table (unreachable); `nft delete table inet egress`
  before loading clears them (then restart dnsmasq, which refills the dynamic sets as
  clients resolve the names again);
- a change of a declared object's type or flags (a new version of this generator)
  makes the load fail with "File exists", leaving the old ruleset in force; the same
  reset applies;
- on hook `output` (a host), the table sees only what the host sends: new inbound
  connections never pass it, so ingress grants have no effect there;
- established connections are accepted first, so a reload or an expiry that closes a
  grant stops new connections only (`conntrack -D` cuts those already open).

Oldest kernel and nft for each feature (Debian 12 has kernel 6.1, nft 1.0.6, which
accept all of them): concatenated interval sets and maps, with verdicts (kernel 5.6/
5.7, nft 0.9.4); `meta time` (kernel 5.4, nft 0.9.3; nft 1.0.6 reads an integer as
epoch seconds); per-element counters by `counter` in a set declaration (kernel 5.11,
nft 0.9.7); `ct state vmap`, `meta nfproto vmap`, `meta mark set ... and ... or`,
`goto` from a map (kernel 4.x, nft 0.9); set timeouts fed by dnsmasq's `nftset=`
(dnsmasq 2.87).

Figures
=======

Measured with `bench/bench_nft_load.py` (kernel 6.18, nft 1.0.6, a shared 2-core
machine under load; best of 5 loads, the kinds interleaved, each in namespaces of its
own), on the generated policies of bench/gen_policy.py, largest stage. The floor is one
concatenated interval set per family holding the stage's destination x port elements
(what any ruleset enforcing these flows must load), with one rule. Wall time, then the
CPU time of the nft process (user + system), which the neighbours disturb less:

| preset | load | wall floor / egress | ratio | CPU floor / egress | ratio | nft peak floor / egress |
|---|---|---|---|---|---|---|
| 100k destinations | first load | 1.97 / 2.05 s | 1.04x | 1.22 / 1.04 s | 0.85x | 172 / 152 MB |
| 100k destinations | reload | 1.88 / 1.68 s | 0.90x | 1.16 / 1.09 s | 0.94x | 172 / 158 MB |
| 100k destinations | stage change (s8 -> s9) | 1.88 / 1.94 s | 1.04x | 1.16 / 1.12 s | 0.96x | 172 / 158 MB |
| 10k destinations | first load | 0.114 / 0.159 s | 1.39x | 0.106 / 0.137 s | 1.29x | 21 / 24 MB |
| 10k destinations | reload | 0.114 / 0.131 s | 1.15x | 0.091 / 0.119 s | 1.30x | 21 / 26 MB |
| 10k destinations | stage change | 0.114 / 0.149 s | 1.30x | 0.091 / 0.138 s | 1.51x | 21 / 26 MB |

Elements (read with `nft -j`): 99,907 against the floor's 137,505 at 100k (each
destination once; the floor repeats it per port range), 10,568 against 13,743 at 10k.
Rules met by a new packet at worst: 16 at 100k (the proxy zone's chain with hosts
reached by name on a port where 5 closing instants meet), 14 at 10k.

At 10k the fixed part weighs as much as the elements. Bisected on the 10k file (its
elements removed, CPU): about 45 ms, of which the 406 dnsmasq-fed sets and the 406
profile chains that read them take 28 (their number is the policy's (class, port,
services) contexts, which the bound on rules met requires), the 161 tag chains 4, the
zone classes' static sets and chains 9, and the reload's declare-then-empty about 5-10;
the floor's is 3 ms. Measured and left out, each under 5%: one `flush table` instead of
a `flush chain` per chain (the firewall's scope check refuses it), `add rule` instead of
redeclared chains in part 3, short hashed names, no counters in the `to_` chains, sets
without timeouts. The wall time of a first load also holds one RCU grace period (5 to
40 ms, longer on a busy machine) that the floor's first load does not wait for: part 2
deletes objects (the other hook's base chain, the static sets), and the kernel frees
deleted objects after a grace period, which nft waits for when it closes its netlink
socket. A reload of either file waits for one.

`egress apply` of the s8 -> s9 change, end to end in a namespace (checks, scratch load,
snapshot, load; bench/bench_apply.py): 9.6 s, of which `nft -f` is 1.3 s. The layout before this one
loaded the same 100k stage in 26.7 s (50 s for a reload), 580 MB, up to 232 rules per
packet.

The output is deterministic: everything is sorted and the header holds no timestamp.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from collections import defaultdict
from collections.abc import Iterable
from itertools import repeat
from socket import inet_ntoa

from netaddr import IPAddress

from egress import intervals
from egress.flows import StageFlows, policy_index
from egress.instants import show
from egress.load import collector_paused
from egress.model import INTERNET, Policy
from egress.targets import dynamic
from egress.targets.dynamic import VERSIONS, classes_of_zone, closing, port_specs, sweep, zone_classes
from egress.targets.names import FAMILY, TABLE, nft_name
from egress.targets.nftables_tags import (  # noqa: F401 (MARK_MASK, TooManyTags: this target's interface)
    MARK_MASK,
    PROXY,
    TooManyTags,
    labelled_pieces,
    mark_layout,
    mark_mask,
    tags,
)

HOOKS = ("forward", "output")
DYNAMIC_TIMEOUT = "1d"
LOG_RATE = "limit rate 10/second burst 20 packets"
COMMENT_MAX = 128
LOG_PREFIX_MAX = 127

PROTO_BY_NUMBER = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
PROTO_NUMBER = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58}

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
NFPROTO = {4: "ipv4", 6: "ipv6"}
BITS = {4: 32, 6: 128}

SEPARATOR = ",\n\t\t\t"
"""Between two elements of a set or map of part 3 (indented by three tabs)."""

KINDS = ("out", "outx", "hosts", "svc", "in", "inx")
"""The sets and maps of a class and family, in the order of the rules that read them:
`out`/`outx` (far address . protocol . port: the proxy's way to the internet), `hosts`
(protocol . port -> the chain of the dnsmasq-fed sets), `svc`/`svcx` (tag . protocol .
port), `in`/`inx` (ingress: far address . protocol . port). An `x` map holds the
elements whose every grant expires: each jumps to the chain of its closing instant."""


# --------------------------------------------------------------------------- names


def _class_name(zones: tuple[str, ...]) -> str:
    return "_".join(zones)


def out_chain(zones: tuple[str, ...], version: int) -> str:
    return nft_name("out_", _class_name(zones), f"_v{version}")


def in_chain(zones: tuple[str, ...], version: int) -> str:
    return nft_name("in_", _class_name(zones), f"_v{version}")


def class_set(kind: str, zones: tuple[str, ...], version: int) -> str:
    """The set or map of one kind (`KINDS`) of a class and family."""
    return nft_name(f"{kind}_", _class_name(zones), f"_v{version}")


def dispatch_map(direction: str, version: int) -> str:
    return f"{direction}_v{version}"


ALLOW = "allow"
"""The chain that the `svc` maps jump to for elements without expiry: it clears the
scratch bits of the mark and accepts."""


def tag_chain(tag: int) -> str:
    return f"tag_{tag}"


def until_chain(instant: int) -> str:
    return f"until_{instant}"


# --------------------------------------------------------------------- formatting
_V4_BYTES = struct.Struct(">I").pack


def _ip(value: int, version: int) -> str:
    if version == 4:  # the C functions: a render formats each of 100,000 destinations
        return inet_ntoa(_V4_BYTES(value))
    return str(IPAddress(value, 6))


def _address(first: int, last: int, version: int) -> str:
    if first == last:  # the usual case: a single address
        return _ip(first, version)
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


def _mark(first: int, last: int, shift: int) -> str:
    if first == last:
        return f"0x{first << shift:08x}"
    return f"0x{first << shift:08x}-0x{last << shift:08x}"


# ---------------------------------------------------------------- policy-level work


class _Policy:
    """What does not depend on the stage, computed once per policy (kept in its
    `PolicyIndex.memo`): the tags of the destinations and the text of the dispatch maps,
    the closing instants, and which sets each class needs at any stage."""

    def __init__(self, policy: Policy):
        self.mask = mark_mask(policy)
        self.shift, capacity = mark_layout(self.mask)
        self.classes, class_pieces = zone_classes(policy)
        self.of_zone = classes_of_zone(policy)
        self.needs: dict[tuple, set[str]] = defaultdict(set)
        proxy_zone = policy.proxy.zone if policy.proxy else None
        self._scan_grants(policy, proxy_zone)
        pieces = labelled_pieces(policy)
        self.tags = tags(policy)
        if len(self.tags) > capacity:
            raise TooManyTags(policy, len(self.tags), self.mask)
        number = {label: k for k, label in enumerate(self.tags, 1)}
        jump = {label: f" : jump {tag_chain(k)}" for label, k in number.items()}
        # single addresses in a hash map (cheap to load), prefixes and ranges in an
        # interval map: the pieces are disjoint, so an address is in one of them at most
        self.map_text = {}
        for v in VERSIONS:
            self.map_text[("dst", v)] = SEPARATOR.join(_ip(a, v) + jump[label] for a, b, label in pieces[v] if a == b)
            self.map_text[("nets", v)] = SEPARATOR.join(
                _address(a, b, v) + jump[label] for a, b, label in pieces[v] if a != b)
        # the zone classes' maps: each class piece -> the class chain
        for direction, namer, verdict in (("out", out_chain, "goto"), ("in", in_chain, "jump")):
            for v in VERSIONS:
                self.map_text[(direction, v)] = SEPARATOR.join(
                    f"{_address(a, b, v)} : {verdict} {namer(cls, v)}" for a, b, cls in class_pieces[v]
                )
        tags_of: dict[str, list[int]] = defaultdict(list)
        for label, k in number.items():
            for name in label:
                tags_of[name].append(k)
        self.tag_ranges = {name: intervals.merge((k, k) for k in ks) for name, ks in tags_of.items()}
        self.families: dict[int, tuple] = {}
        self.port_specs: dict[int, tuple] = {}
        self.fixed: dict[tuple, _Fixed] = {}
        self.port_pieces: dict[frozenset, list[tuple]] = {}  # `_Table`'s, for every stage

    def _scan_grants(self, policy: Policy, proxy_zone: str | None) -> None:
        """Fill `needs` (the sets each class needs at some stage) and `instants` (the
        closing instants)."""
        index = policy_index(policy)
        instants: set[int] = set()
        for grant in policy.grants.values():
            closes = closing(grant)
            x = closes is not None
            if closes is not None:
                instants.add(closes)
            for flow in index.flows(grant):
                if flow.direction == "ingress":
                    kinds, zone = ("in", "inx"), flow.target
                elif flow.via == "proxy":
                    kinds, zone = ("svc", "svc"), flow.source
                    for cls in self.of_zone.get(proxy_zone or "", ()):
                        self.needs[cls].update(("out", "outx")[: 1 + x])
                else:
                    kinds, zone = ("svc", "svc"), flow.source
                    if flow.hosts:
                        for cls in self.of_zone[zone]:
                            self.needs[cls].add("hosts")
                for cls in self.of_zone[zone]:
                    self.needs[cls].update(kinds[: 1 + x])
        self.instants = sorted(instants)

    def specs(self, ports: tuple) -> dict[int, list[tuple[int, int, int]]]:
        """`port_specs` of a flow's ports (shared tuples, keyed by id like `split`)."""
        found = self.port_specs.get(id(ports))
        if found is None:
            found = self.port_specs[id(ports)] = (ports, port_specs(ports))
        return found[1]

    def split(self, ranges) -> dict[int, tuple[tuple[int, int], ...]]:
        """{version: ((first, last), ...)} of `Ranges` (shared objects: keyed by id)."""
        found = self.families.get(id(ranges))
        if found is None:
            split = {v: tuple((a, b) for version, a, b in ranges if version == v) for v in VERSIONS}
            found = self.families[id(ranges)] = (ranges, split)
        return found[1]


def _policy_work(policy: Policy) -> _Policy:
    memo = policy_index(policy).memo
    if __name__ not in memo:
        memo[__name__] = _Policy(policy)
    return memo[__name__]  # type: ignore[return-value]


# ----------------------------------------------------------------------- compile


class _Table:
    """The elements that one set (and its `x` map of expiring elements) will hold:
    blocks of (far ranges, {((proto, first port, last port), (grant, instant))})."""

    def __init__(self, cache: dict | None = None):
        self.blocks: dict[object, tuple[tuple, set]] = {}
        self._elements: tuple[list, list] | None = None
        self._cache = {} if cache is None else cache

    def add(self, key, ranges: tuple, specs: list, gid: str, instant: int | None) -> None:
        if not ranges or not specs:
            return
        block = self.blocks.get(key)
        if block is None:
            block = self.blocks[key] = (ranges, set())
        block[1].update(zip(specs, repeat((gid, instant))))

    def elements(self) -> tuple[list, list]:
        """(permanent, expiring): disjoint (first, last, proto, pfirst, plast, grants)
        elements, sorted; an expiring one ends with its closing instant (the latest of
        its grants'). An element that a grant without expiry opens is permanent."""
        if self._elements is None:
            self._elements = self._split()
        return self._elements

    def _split(self) -> tuple[list, list]:
        items = [(a, b, key) for key, (ranges, _) in self.blocks.items() for a, b in ranges]
        ports: dict[frozenset, list] = {}
        permanent, expiring = [], []
        cache = self._cache
        for first, last, keys in sweep(items, frozenset):
            found = ports.get(keys)
            if found is None:
                # the port pieces depend only on the labels of the blocks: the same at
                # most stages of a policy, so `cache` (the policy's) keeps them
                labels = frozenset().union(*[self.blocks[key][1] for key in keys])
                found = cache.get(labels)
                if found is None:
                    found = cache[labels] = _port_pieces(labels)
                ports[keys] = found
            for proto, a, b, grants, instant in found:
                if instant is None:
                    permanent.append((first, last, proto, a, b, grants))
                else:
                    expiring.append((first, last, proto, a, b, grants, instant))
        return permanent, expiring


def _port_pieces(labels: frozenset) -> list[tuple]:
    """The (proto, first port, last port, grants, closing instant or None) pieces of
    the labels ((proto, first, last), (grant, instant)) of some blocks: None when a
    grant without expiry opens the piece, else the latest closing instant of its
    grants."""
    found = []
    for proto in sorted({spec[0] for spec, _ in labels}):
        for a, b, value in _port_sweep([(spec[1], spec[2], value) for spec, value in labels if spec[0] == proto]):
            instants = {instant for _, instant in value}
            closes = None if None in instants else max(instants)
            found.append((proto, a, b, frozenset(gid for gid, _ in value), closes))
    return found


def _port_sweep(items: list[tuple[int, int, tuple]]) -> list[tuple[int, int, frozenset]]:
    """`sweep(items, frozenset)` of one protocol's port ranges. Fast path: the ranges
    nearly always are equal or disjoint (a service's ports, granted by one or several
    grants), so they are grouped by range, and only overlapping ones go through
    `sweep` (which would give the same pieces, more slowly)."""
    if len(items) == 1:
        first, last, label = items[0]
        return [(first, last, frozenset((label,)))]
    spans: dict[tuple[int, int], set] = defaultdict(set)
    for first, last, label in items:
        spans[(first, last)].add(label)
    order = sorted(spans)
    if any(order[i][1] >= order[i + 1][0] for i in range(len(order) - 1)):
        return sweep(items, frozenset)
    pieces: list[tuple[int, int, frozenset]] = []
    for first, last in order:
        value = frozenset(spans[(first, last)])
        if pieces and pieces[-1][1] == first - 1 and pieces[-1][2] == value:
            pieces[-1] = (pieces[-1][0], last, value)
        else:
            pieces.append((first, last, value))
    return pieces


def _compile(flows: StageFlows, work: _Policy) -> dict[tuple, _Table]:
    """{(kind, class, version): table} of a stage (kinds out, svc, in)."""
    tables: dict[tuple, _Table] = defaultdict(lambda: _Table(work.port_pieces))
    for flow in flows.flows:
        gid, instant = flow.grant.id, closing(flow.grant)
        specs = work.specs(flow.ports)
        if flow.direction == "ingress":
            far = work.split(flow.src_ranges)
            for cls in work.of_zone[flow.target]:
                for v in VERSIONS:
                    tables[("in", cls, v)].add(id(flow.src_ranges), far[v], specs[v], gid, instant)
        elif flow.via == "direct":
            for cls in work.of_zone[flow.source]:
                for v in VERSIONS:
                    tables[("svc", cls, v)].add(flow.target, work.tag_ranges.get(flow.target, ()), specs[v], gid, instant)
    # the proxy's plumbing (egress.flows): zones -> the proxy zone's tag, the proxy zone
    # -> the internet's addresses
    for flow in flows.proxy_flows:
        gid, instant = flow.grant.id, closing(flow.grant)
        specs = work.specs(flow.ports)
        if flow.target == INTERNET:
            far = work.split(flow.dst_ranges)
            for cls in work.of_zone[flow.source]:
                for v in VERSIONS:
                    tables[("out", cls, v)].add(id(flow.dst_ranges), far[v], specs[v], gid, instant)
        else:
            for cls in work.of_zone[flow.source]:
                for v in VERSIONS:
                    tables[("svc", cls, v)].add(PROXY, work.tag_ranges.get(PROXY, ()), specs[v], gid, instant)
    return tables


# ------------------------------------------------------------------------ render


def _map_flags(direction: str) -> str | None:
    """The `dst` maps hold single addresses: a hash, not an interval map."""
    return None if direction == "dst" else "interval"


def _declare(kind: str, name: str, key_type: str, flags: str | None = "interval", counter: bool = False,
             elements: str = "") -> list[str]:
    lines = [f"\t{kind} {name} {{", f"\t\ttype {key_type}"] + ([f"\t\tflags {flags}"] if flags else [])
    if counter:
        lines.append("\t\tcounter")
    if elements:
        lines += ["\t\telements = {", f"\t\t\t{elements}", "\t\t}"]
    return lines + ["\t}"]


def _set_type(kind: str, version: int) -> tuple[str, str, bool]:
    """(set or map, type, counter) of a class set of one kind."""
    far = f"{ADDR_TYPE[version]} . inet_proto . inet_service"
    tag = "mark . inet_proto . inet_service"
    return {
        "out": ("set", far, True),
        "outx": ("map", f"{far} : verdict", True),
        "hosts": ("map", "inet_proto . inet_service : verdict", False),
        "svc": ("map", f"{tag} : verdict", True),
        "in": ("set", far, True),
        "inx": ("map", f"{far} : verdict", True),
    }[kind]


def _base_chain_spec(hook: str, policy: str) -> str:
    return f"type filter hook {hook} priority filter; policy {policy};"


class _Objects:
    """Every object that a ruleset of this policy declares (the same at every stage)."""

    def __init__(self, policy: Policy, work: _Policy, plan: dynamic.Plan):
        self.dyn_sets = list(plan.sets)
        self.class_sets = [
            (kind, cls, v)
            for cls in work.classes
            for v in VERSIONS
            for kind in KINDS
            if kind in work.needs.get(cls, ())
        ]
        self.maps = [(direction, v) for direction in ("out", "in", "dst", "nets") for v in VERSIONS]
        self.chains = [NFPROTO[v] for v in VERSIONS]
        self.chains += [namer(cls, v) for cls in work.classes for v in VERSIONS for namer in (out_chain, in_chain)]
        self.chains += [tag_chain(k) for k in range(1, len(work.tags) + 1)]
        self.chains += [ALLOW] + [until_chain(i) for i in work.instants]
        self.chains += [dynamic.chain_name(p, v) for p, v in plan.profiles]


def render(flows: StageFlows) -> str:
    """The nftables ruleset (`egress.nft`) of one stage: a header, then the three parts
    of the one transaction (declare, empty, fill) that replace the table's content."""
    with collector_paused():
        return _render(flows)


def _render(flows: StageFlows) -> str:
    policy = flows.policy
    hook = policy.firewall.hook
    if hook not in HOOKS:
        raise ValueError(f"unknown firewall hook {hook!r}")
    work = _policy_work(policy)
    plan = dynamic.policy_plan(policy, flows.at)
    fixed = work.fixed.get((flows.at, hook))
    if fixed is None:  # the same at every stage: computed for the first one only
        objects = _Objects(policy, work, plan)
        fixed = work.fixed[(flows.at, hook)] = _Fixed(objects, _declare_part(objects, hook),
                                                      _scratch_chains(work, plan, _keep(work)))
    dyn_pieces, dyn_members = dynamic.stage_plan(flows)
    lines = _header(flows)
    lines += fixed.declare
    lines += _empty_part(fixed.objects, plan, dyn_members, hook)
    lines += _fill_part(flows, fixed, work, dyn_pieces, hook)
    return "\n".join(lines) + "\n"


class _Fixed:
    """What a ruleset of the policy holds whatever the stage (for one `at` and hook):
    its objects, the lines of part 1, and the scratch chains of part 3."""

    def __init__(self, objects: _Objects, declare: list[str], scratch: list[str]):
        self.objects = objects
        self.declare = declare
        self.scratch = scratch


def _keep(work: _Policy) -> str:
    """The mask of the mark bits that are not egress's scratch, as nft reads it."""
    return f"0x{~work.mask & 0xFFFFFFFF:08x}"


def _other_hook(hook: str) -> str:
    return next(h for h in HOOKS if h != hook)


def _declare_part(objects: _Objects, hook: str) -> list[str]:
    """Part 1: every object of the policy, empty; a reload changes nothing here."""
    other_hook = _other_hook(hook)
    lines = [
        "",
        "# 1. Declare every object of this policy: a first load creates them, a reload",
        "#    changes nothing here, so the dynamic sets keep what dnsmasq put in them.",
        f"table {FAMILY} {TABLE} {{",
    ]
    for name in objects.dyn_sets:
        lines += [
            f"\tset {name} {{",
            f"\t\ttype {ADDR_TYPE[int(name[-1])]}",
            "\t\tflags timeout",
            f"\t\ttimeout {DYNAMIC_TIMEOUT}",
            "\t}",
        ]
    for direction, v in objects.maps:
        lines += _declare("map", dispatch_map(direction, v), f"{ADDR_TYPE[v]} : verdict", flags=_map_flags(direction))
    for kind, cls, v in objects.class_sets:
        what, key_type, counter = _set_type(kind, v)
        lines += _declare(what, class_set(kind, cls, v), key_type, counter=counter)
    for chain in objects.chains:
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
    return lines


def _empty_part(objects: _Objects, plan: dynamic.Plan, dyn_members: dict, hook: str) -> list[str]:
    """Part 2: empty the chains, delete the static sets and maps, and the other hook's
    base chain; empty the dynamic sets this stage holds narrower than their widest."""
    ref, other_hook = f"{FAMILY} {TABLE}", _other_hook(hook)
    lines = [
        "",
        "# 2. Empty the chains, delete the static sets and maps (part 3 makes them again:",
        "#    deleting is much faster than flushing a large concatenated interval set),",
        "#    delete the base chain of the other hook.",
        f"flush chain {ref} {hook}",
    ]
    lines += [f"flush chain {ref} {chain}" for chain in objects.chains]
    lines += [f"flush chain {ref} {other_hook}", f"delete chain {ref} {other_hook}"]
    lines += [f"delete map {ref} {dispatch_map(direction, v)}" for direction, v in objects.maps]
    for kind, cls, v in objects.class_sets:
        lines.append(f"delete {_set_type(kind, v)[0]} {ref} {class_set(kind, cls, v)}")
    unused = [name for name in objects.dyn_sets if dyn_members.get(name) != plan.widest[name]]
    if unused:
        lines.append("# dynamic sets not used at this stage, or holding fewer services than at their widest")
        lines += [f"flush set {ref} {name}" for name in unused]
    return lines


def _fill_part(flows: StageFlows, fixed: _Fixed, work: _Policy, dyn_pieces: dict, hook: str) -> list[str]:
    """Part 3: the maps, sets and chains of this stage."""
    objects = fixed.objects
    lines = ["", "# 3. The ruleset of this stage.", f"table {FAMILY} {TABLE} {{"]
    for direction, v in objects.maps:
        lines += _declare("map", dispatch_map(direction, v), f"{ADDR_TYPE[v]} : verdict",
                          flags=_map_flags(direction), elements=work.map_text[(direction, v)])
    lines += _class_part(flows, objects, work, dyn_pieces)
    keep = _keep(work)
    lines += fixed.scratch
    for v in VERSIONS:
        lines += [f"\tchain {NFPROTO[v]} {{", *[f"\t\t{r}" for r in _family_rules(v, hook, keep, work)], "\t}"]
    lines += [f"\tchain {hook} {{", f"\t\t{_base_chain_spec(hook, 'drop')}"]
    lines += [f"\t\t{r}" for r in _base_rules(flows.policy, hook)]
    lines += ["\t}", "}"]
    return lines


def _class_part(flows: StageFlows, objects: _Objects, work: _Policy, dyn_pieces: dict) -> list[str]:
    """The sets of each zone class with their elements, then the class chains that
    look them up."""
    tables = _compile(flows, work)
    lines: list[str] = []
    rules: dict[str, list[str]] = defaultdict(list)
    for kind, cls, v in objects.class_sets:
        what, key_type, counter = _set_type(kind, v)
        name = class_set(kind, cls, v)
        text, grants = _class_elements(kind, cls, v, tables, dyn_pieces, work)
        lines += _declare(what, name, key_type, counter=counter, elements=text)
        if text:
            rules[name] = [_class_rule(kind, name, v, grants, work)]
    for cls in work.classes:
        for v in VERSIONS:
            for chain, kinds in ((out_chain(cls, v), KINDS[:4]), (in_chain(cls, v), KINDS[4:])):
                body = [rule for kind in kinds for rule in rules.get(class_set(kind, cls, v), [])]
                if body:
                    lines += [f"\tchain {chain} {{", *[f"\t\t{r}" for r in body], "\t}"]
    return lines


def _scratch_chains(work: _Policy, plan: dynamic.Plan, keep: str) -> list[str]:
    """The chains that write a destination's tag into the mark, accept (clearing the
    scratch bits), accept until a closing instant, and check the dnsmasq-fed sets."""
    lines: list[str] = []
    for k, label in enumerate(work.tags, 1):
        what = ", ".join("the proxy" if name == PROXY else name for name in label)
        lines += [
            f"\tchain {tag_chain(k)} {{",
            f"\t\tmeta mark set meta mark and {keep} or 0x{k << work.shift:08x} comment \"{_short(what)}\"",
            "\t}",
        ]
    lines += [f"\tchain {ALLOW} {{", f"\t\tmeta mark set meta mark and {keep} accept", "\t}"]
    for instant in work.instants:
        lines += [f"\tchain {until_chain(instant)} {{", f"\t\tmeta time < {instant} meta mark set meta mark and {keep} accept", "\t}"]
    for profile, v in plan.profiles:
        body = [
            ("" if instant is None else f"meta time < {instant} ")
            + f"{ADDR[v]} daddr @{name} counter meta mark set meta mark and {keep} accept"
            for instant, name in profile
        ]
        lines += [f"\tchain {dynamic.chain_name(profile, v)} {{", *[f"\t\t{r}" for r in body], "\t}"]
    return lines


def _short(text: str) -> str:
    return text if len(text) <= COMMENT_MAX else text[: COMMENT_MAX - 4] + " ..."


def _class_elements(kind, cls, v, tables, dyn_pieces, work) -> tuple[str, set]:
    """(elements text, grants) of one class set or map at this stage."""
    if kind == "hosts":
        pieces = dyn_pieces.get((cls, v), [])
        text = SEPARATOR.join(
            f"{PROTO_BY_NUMBER[p.proto]} . {_ports(p.first, p.last)} : jump {dynamic.chain_name(p.profile, v)}"
            for p in pieces
        )
        return text, {g for p in pieces for g in p.grants}
    table = tables.get((kind.rstrip("x"), cls, v))
    if table is None:
        return "", set()
    permanent, expiring = table.elements()
    fmt = (lambda a, b: _mark(a, b, work.shift)) if kind.startswith("svc") else (lambda a, b: _address(a, b, v))
    if kind == "svc":  # one map: permanent elements jump to `allow`, the others to their instant
        both = sorted([(*e, None) for e in permanent] + expiring, key=lambda e: (e[0], e[2], e[3]))
        text = SEPARATOR.join(
            f"{fmt(a, b)} . {PROTO_BY_NUMBER[p]} . {_ports(pf, pl)} : jump "
            + (ALLOW if instant is None else until_chain(instant))
            for a, b, p, pf, pl, _, instant in both
        )
        return text, {g for e in both for g in e[5]}
    if kind.endswith("x"):
        text = SEPARATOR.join(
            f"{fmt(a, b)} . {PROTO_BY_NUMBER[p]} . {_ports(pf, pl)} : jump {until_chain(instant)}"
            for a, b, p, pf, pl, _, instant in expiring
        )
        return text, {g for e in expiring for g in e[5]}
    text = SEPARATOR.join(f"{fmt(a, b)} . {PROTO_BY_NUMBER[p]} . {_ports(pf, pl)}" for a, b, p, pf, pl, _ in permanent)
    return text, {g for e in permanent for g in e[5]}


def _class_rule(kind: str, name: str, v: int, grants: set, work: _Policy) -> str:
    far = "daddr" if kind.startswith("out") else "saddr"
    key = {
        "far": f"{ADDR[v]} {far} . meta l4proto . th dport",
        "tag": f"meta mark and 0x{work.mask:08x} . meta l4proto . th dport",
    }["tag" if kind.startswith("svc") else "far"]
    note = f'comment "{comment(grants)}"'
    if kind == "hosts":
        return f"meta l4proto . th dport vmap @{name} {note}"
    if kind.endswith("x") or kind == "svc":
        return f"{key} vmap @{name} {note}"
    keep = _keep(work)
    return f"{key} @{name} counter meta mark set meta mark and {keep} accept {note}"


# ---------------------------------------------------------------------- counters

COUNTED = ("out", "outx", "svc", "in", "inx")
"""The kinds of sets and maps whose elements stand for grants and carry counters."""

ElementKey = tuple[int, int, int, int, int]
"""(first, last, protocol number, first port, last port) of an element: first and last
are addresses as integers, or packet-mark values (tag << shift) for `svc` sets."""


def element_grants(flows: StageFlows) -> dict[str, dict[ElementKey, tuple[str, ...]]]:
    """set or map name -> {element: the grants it stands for (sorted)}, for the counted
    sets of the ruleset of this stage (the interface of `egress usage`)."""
    work = _policy_work(flows.policy)
    tables = _compile(flows, work)
    result: dict[str, dict] = {}
    for (kind, cls, v), table in sorted(tables.items()):
        permanent, expiring = table.elements()
        scale = work.shift if kind == "svc" else 0
        if kind == "svc":
            named = [(class_set(kind, cls, v), permanent + expiring)]
        else:
            named = [(class_set(kind, cls, v), permanent), (class_set(kind + "x", cls, v), expiring)]
        for name, elements in named:
            result[name] = {
                (e[0] << scale, e[1] << scale, e[2], e[3], e[4]): tuple(sorted(e[5])) for e in elements
            }
    return result


def grant_counters(flows: StageFlows, listing: dict) -> dict[str, dict[str, int]]:
    """grant id -> {"packets", "bytes"}: the per-element counters of `listing` (the
    parsed JSON of `nft -j list table inet egress`) summed over the elements that stand
    for each grant; every grant in force is present (0 when nothing matched). An
    element that several grants open counts for each of them."""
    grants = element_grants(flows)
    totals = {g.id: {"packets": 0, "bytes": 0} for g in flows.grants}
    for item in listing.get("nftables", []):
        body = item.get("set") or item.get("map")
        if not body or body.get("name") not in grants:
            continue
        owners = grants[body["name"]]
        for entry in body.get("elem", []):
            element = (entry[0] if isinstance(entry, list) else entry).get("elem", {})
            counter = element.get("counter")
            key = _json_key(element.get("val"))
            if not counter or key not in owners:
                continue
            for gid in owners[key]:
                totals.setdefault(gid, {"packets": 0, "bytes": 0})
                totals[gid]["packets"] += counter.get("packets", 0)
                totals[gid]["bytes"] += counter.get("bytes", 0)
    return totals


def _json_key(value) -> ElementKey | None:
    """The `ElementKey` of a concatenated element as `nft -j` lists it."""
    if not isinstance(value, dict) or len(value.get("concat", ())) != 3:
        return None
    first_value, proto, port = value["concat"]
    first, last = _json_range(first_value)
    pfirst, plast = _json_range(port)
    number = proto if isinstance(proto, int) else PROTO_NUMBER.get(proto)
    if first is None or pfirst is None or number is None:
        return None
    return (first, last, number, pfirst, plast)


def _json_range(value) -> tuple:
    if isinstance(value, int):
        return value, value
    if isinstance(value, str):
        number = int(IPAddress(value))
        return number, number
    if isinstance(value, dict) and "range" in value:
        a, b = (_json_range(x)[0] for x in value["range"])
        return a, b
    if isinstance(value, dict) and "prefix" in value:
        address = IPAddress(value["prefix"]["addr"])
        size = 1 << ((32 if address.version == 4 else 128) - value["prefix"]["len"])
        return int(address), int(address) + size - 1
    return None, None


def _family_rules(v: int, hook: str, keep: str, work: _Policy) -> list[str]:
    if v == 4:
        rules = [f"icmp type {{ {', '.join(ICMP_V4)} }} accept"]
    else:
        icmp6 = ICMP_V6 + (ICMP_V6_LOCAL if hook == "output" else ())
        rules = [f"icmpv6 type {{ {', '.join(icmp6)} }} accept"]
    # the destination's tag, looked up here once: each rule that references a verdict
    # map makes the kernel walk its elements when it validates the table, so the
    # 100,000-element maps are referenced by one rule each, not by every class chain
    tags = [f"{ADDR[v]} daddr vmap @{dispatch_map(m, v)}" for m in ("dst", "nets") if work.map_text[(m, v)]]
    rules.append(f"meta mark set meta mark and {keep}" + (f" {tags[0]}" if tags else ""))
    rules += tags[1:]
    rules.append(f"{ADDR[v]} saddr vmap @{dispatch_map('out', v)}")
    rules.append(f"{ADDR[v]} daddr vmap @{dispatch_map('in', v)}")
    return rules


def _base_rules(policy: Policy, hook: str) -> list[str]:
    rules = ['oifname "lo" accept'] if hook == "output" else []
    # one lookup: established and related accepted, invalid dropped, the others go to
    # the chain of their family
    verdicts = [("established", "accept"), ("related", "accept"), ("invalid", "drop"),
                ("new", "jump {}"), ("untracked", "jump {}")]
    rules.append("ct state . meta nfproto vmap { " + ", ".join(
        f"{state} . {NFPROTO[v]} : {verdict.format(NFPROTO[v])}" for state, verdict in verdicts for v in VERSIONS
    ) + " }")
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
        f"# at: {show(flows.at)} (grants closed at or before this instant are left out)",
        f"# hook: {policy.firewall.hook}",
    ]
    lines += _wrap("# grants in force: ", sorted(g.id for g in flows.grants) or ["none"])
    if flows.revoked:
        lines += _wrap("# revoked: ", [f"{g} (at {s})" for g, s in sorted(flows.revoked.items())])
    if flows.expired:
        lines += _wrap("# expired: ", [f"{g} ({show(d, end=True)})" for g, d in sorted(flows.expired.items())])
    closes: dict[int, list[str]] = defaultdict(list)
    ends: dict[int, dt.datetime] = {}
    for grant in flows.grants:
        instant = closing(grant)
        if instant is not None and grant.expires is not None:
            closes[instant].append(grant.id)
            ends[instant] = grant.expires
    for instant, ids in sorted(closes.items()):
        lines += _wrap(f"# closes at {show(ends[instant], end=True)} (meta time {instant}): ", sorted(ids))
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

"""The dnsmasq-fed sets, which the nftables and dnsmasq targets must agree on.

A direct grant to a service with `host` destinations opens, beside the lock-file
addresses of its hosts (static, in the ruleset), the addresses that the firewall's
dnsmasq resolves for them today (CDNs): dnsmasq adds each answer to nftables sets named
in its `nftset=` lines. This module decides which sets exist and which host goes where;
`egress.targets.nftables` declares the sets and the rules that read them,
`egress.targets.dnsmasq` writes the `nftset=` lines. Neither target imports the other.

Keyed by what a packet needs, so that a packet meets a bounded number of rules:

- for each zone class C (see `zone_classes`) and family, the (protocol, port) axis is cut
  into pieces by the ports of the direct host grants from C (of every stage);
- a *context* is such a piece with one closing instant; contexts whose services are the
  same at every stage share a set, `dyn_<services joined by _>_v4` (and `_v6`), named
  after its services at its widest stage (see `Plan`); dnsmasq adds a host to every set
  in use at this stage that holds one of its services (one `nftset=` line may list
  several sets). So the number of sets grows with the policy's (class, port) contexts,
  not with its stages or hosts (each named set costs the kernel a scan of the table's
  sets when it is made: thousands of them dominated the load);
- a set is emptied (`flush set`) by the ruleset of a stage where it holds fewer
  services than at its widest, or none: it may hold addresses that another stage's
  dnsmasq added (after a revocation, an expiry, or a rollback to an earlier stage).
  Reloading such a stage therefore drops the addresses learned for it (clients get
  them back when dnsmasq forwards their next query); at the stages where a set is at
  its widest (the last stage, usually) reloads keep them;
- for each piece at a stage, its *profile*: the (instant, set) pairs in force, checked
  by a chain `to_<services>_v4` (`to__<digest>_v4` when instants or several sets are
  involved) with one rule each: `[meta time < T] ip daddr @dyn_... accept`;
- the class chain looks the packet's (protocol, port) up in an interval verdict map that
  jumps to the chain of the piece's profile: two rules met, whatever the number of
  services or hosts.

Every stage of a policy declares the sets and chains of all its stages (computed here
once per policy and `at`), so that a reload never leaves an object behind.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import TypeVar

from egress import instants
from egress.flows import StageFlows, policy_index, resolve
from egress.model import Grant, Policy, PortRange
from egress.targets.names import dynamic_set

VERSIONS = (4, 6)
PROTOCOLS = {
    "tcp": (6, (4, 6)),
    "udp": (17, (4, 6)),
    "icmp": (1, (4,)),
    "icmpv6": (58, (6,)),
}

def closing(grant: Grant) -> int | None:
    """The instant (epoch seconds) a grant closes, None if it does not expire."""
    return None if grant.expires is None else instants.epoch(grant.expires)


L = TypeVar("L")
V = TypeVar("V")


def sweep(items: Iterable[tuple[int, int, L]], key: Callable[[frozenset[L]], V]) -> list[tuple[int, int, V]]:
    """Cut the axis at every boundary of `items` ((first, last, label) intervals).

    Returns disjoint (first, last, value) pieces, sorted, where value is `key(labels)`
    of the labels covering the piece; pieces whose value is empty are left out and
    adjacent pieces with equal values are merged.
    """
    items = sorted(items, key=_first)
    if len(items) == 1:  # the usual case in the nftables target's port sweeps
        first, last, label = items[0]
        value = key(frozenset((label,)))
        return [(first, last, value)] if value else []
    # fast path: the ranges of different labels rarely overlap (the services of a
    # zone's grants hold their own tags), so only the clusters of overlapping ranges
    # are cut point by point, and a range alone is its own piece
    pieces: list[tuple[int, int, V]] = []
    i, count = 0, len(items)
    while i < count:
        j, end = i + 1, items[i][1]
        while j < count and items[j][0] <= end:
            end = max(end, items[j][1])
            j += 1
        if j == i + 1:
            first, last, label = items[i]
            value = key(frozenset((label,)))
            found = [(first, last, value)] if value else []
        else:
            found = _sweep(items[i:j], key)
        for piece in found:
            if pieces and pieces[-1][1] == piece[0] - 1 and pieces[-1][2] == piece[2]:
                pieces[-1] = (pieces[-1][0], piece[1], piece[2])
            else:
                pieces.append(piece)
        i = j
    return pieces


_first = itemgetter(0)


def _sweep(items: list[tuple[int, int, L]], key: Callable[[frozenset[L]], V]) -> list[tuple[int, int, V]]:
    """`sweep` of a cluster of ranges, point by point."""
    starts: dict[int, list] = defaultdict(list)
    ends: dict[int, list] = defaultdict(list)
    for first, last, label in items:
        starts[first].append(label)
        ends[last + 1].append(label)
    points = sorted(set(starts) | set(ends))
    active: dict = {}  # label -> how many of its intervals cover the point (a plain dict:
    # Counter's Python-level __delitem__ cost 0.8 s of a 100,000-destination compile)
    cache: dict[frozenset[L], V] = {}
    pieces: list[list] = []
    for i, point in enumerate(points):
        for label in ends.get(point, ()):
            count = active[label] - 1
            if count:
                active[label] = count
            else:
                del active[label]
        for label in starts.get(point, ()):
            active[label] = active.get(label, 0) + 1
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
    return [(first, last, value) for first, last, value in pieces]


def zone_classes(policy: Policy) -> tuple[list[tuple[str, ...]], dict[int, list]]:
    """(classes sorted, {version: [(first, last, class)]}) of the policy's zones.

    A class is a disjoint piece of the zones' addresses labelled with the zones that
    contain it: a zone when zones are disjoint, `A_B` where zones A and B overlap."""
    memo = policy_index(policy).memo
    if "zone_classes" not in memo:
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
            pieces[version] = sweep(items, lambda labels: tuple(sorted(labels)))
            classes.update(value for _, _, value in pieces[version])
        memo["zone_classes"] = (sorted(classes), pieces)
    return memo["zone_classes"]  # type: ignore[return-value]


def classes_of_zone(policy: Policy) -> dict[str, list[tuple[str, ...]]]:
    """zone -> the classes it is made of."""
    of_zone: dict[str, list] = defaultdict(list)
    for cls in zone_classes(policy)[0]:
        for zone in cls:
            of_zone[zone].append(cls)
    return of_zone


def port_specs(ports: Iterable[PortRange]) -> dict[int, list[tuple[int, int, int]]]:
    """{version: (proto number, first, last)} of the ports that apply to that family
    (icmp: v4 only, icmpv6: v6 only, both as every value of the 16 bits `th dport`
    reads)."""
    specs: dict[int, list] = {v: [] for v in VERSIONS}
    for port in ports:
        number, versions = PROTOCOLS[port.proto]
        for version in versions:
            specs[version].append((number, port.first, port.last) if port.has_ports else (number, 0, 65535))
    return specs


@dataclass(frozen=True)
class Piece:
    """A (protocol, port range) piece of one class and family at one stage: the dynamic
    sets its packets are checked against, as ((closing instant or None, set name), ...)
    (the `profile`, which names its chain), and the grants behind them."""

    proto: int
    first: int
    last: int
    profile: tuple[tuple[int | None, str], ...]
    grants: frozenset[str]


@dataclass(frozen=True)
class Plan:
    """The dynamic objects of a policy at one `at`, the same for all its stages.

    A *context* is one piece of the (protocol, port) axis of one class and family, cut
    at every boundary of the ports of the direct host grants from that class in any
    stage, with one closing instant (None: no expiry). Its services at stage N are
    those whose grants in force open it with that instant. Contexts whose services are
    the same at every stage share one set, named after the services they reach at
    their widest (`dyn_a_b_v4`; a later context with the same name gets `_2`...), so
    the number of sets grows with the policy's contexts, not with its stages."""

    sets: tuple[str, ...]
    """Every dynamic set name (v4 and v6), sorted."""
    widest: dict[str, frozenset[str]]
    """set -> the services it holds at its widest stage."""
    stages: dict[str, tuple[dict, dict]]
    """stage id -> ({(class, version): [Piece]}, {set: services at that stage})."""
    profiles: tuple[tuple[tuple[tuple[int | None, str], ...], int], ...]
    """(profile, version) of every chain, sorted."""


def _entries(flows: StageFlows) -> dict[tuple, list]:
    """{(class, version): [(proto, first, last, service, instant, grant)]} of the direct
    host grants in force."""
    of_zone = classes_of_zone(flows.policy)
    entries: dict[tuple, list] = defaultdict(list)
    for flow in flows.flows:
        if flow.direction != "egress" or flow.via != "direct" or not flow.hosts:
            continue
        instant = closing(flow.grant)
        specs = port_specs(flow.ports)
        for cls in of_zone[flow.source]:
            for v in VERSIONS:
                for proto, first, last in specs[v]:
                    entries[(cls, v)].append((proto, first, last, flow.target, instant, flow.grant.id))
    return entries


def policy_plan(policy: Policy, at) -> Plan:
    """The dynamic objects of `policy` at `at` (computed once, for all its stages)."""
    memo = policy_index(policy).memo
    key = ("dynamic_plan", at)
    if key not in memo:
        per_stage = [(stage.id, _entries(resolve(policy, stage.id, at))) for stage in policy.stages]
        contexts = _contexts(per_stage)
        history, grants = _histories(contexts, per_stage)
        set_of, widest = _set_names(contexts, history)
        stages: dict[str, tuple[dict, dict]] = {}
        profiles: set = set()
        for index, (stage_id, _) in enumerate(per_stage):
            stages[stage_id] = _stage(contexts, index, history, grants, set_of, profiles)
        memo[key] = Plan(tuple(sorted(widest)), widest, stages, tuple(sorted(profiles, key=repr)))
    return memo[key]  # type: ignore[return-value]


Context = tuple  # (class, version, proto, first port, last port, instant or None)


def _contexts(per_stage: list) -> dict[tuple, list[Context]]:
    """{(class, version, proto): contexts}: the port pieces cut by every stage's ports,
    one per closing instant found on them."""
    cuts: dict[tuple, list] = defaultdict(list)
    for _, entries in per_stage:
        for (cls, v), items in entries.items():
            for proto, first, last, _, instant, _ in items:
                cuts[(cls, v, proto)].append((first, last, instant))
    contexts: dict[tuple, list[Context]] = {}
    for (cls, v, proto), items in sorted(cuts.items()):
        contexts[(cls, v, proto)] = [
            (cls, v, proto, first, last, instant)
            for first, last, found in sweep(items, frozenset)
            for instant in sorted(found, key=_instant_order)
        ]
    return contexts


def _histories(contexts: dict, per_stage: list) -> tuple[dict, dict]:
    """({context: [services at each stage]}, {context: [grants at each stage]})."""
    history: dict[Context, list] = {c: [] for cs in contexts.values() for c in cs}
    grants: dict[Context, list] = {c: [] for c in history}
    # the contexts of a group are disjoint port pieces in port order: those inside an
    # entry's ports are a run, found by bisection rather than by a scan of the group
    starts = {group: [c[3] for c in cs] for group, cs in contexts.items()}
    for _, entries in per_stage:
        services: dict[Context, set] = defaultdict(set)
        behind: dict[Context, set] = defaultdict(set)
        for (cls, v), items in entries.items():
            for proto, first, last, service, instant, gid in items:
                group = contexts.get((cls, v, proto), ())
                if not group:
                    continue
                for i in range(bisect_left(starts[(cls, v, proto)], first), len(group)):
                    c = group[i]
                    if c[3] > last:
                        break
                    if c[5] == instant and c[4] <= last:
                        services[c].add(service)
                        behind[c].add(gid)
        for c in history:
            history[c].append(frozenset(services[c]))
            grants[c].append(frozenset(behind[c]))
    return history, grants


def _set_names(contexts: dict, history: dict) -> tuple[dict, dict]:
    """({context: its set}, {set: services at its widest}): one set per distinct
    (version, instant, services at every stage), named after its widest services."""
    def key(c: Context) -> tuple:
        return (c[1], _instant_order(c[5]), tuple(tuple(sorted(f)) for f in history[c]))

    names: dict[tuple, str] = {}
    widest: dict[str, frozenset[str]] = {}
    for k in sorted({key(c) for c in history}):
        v, (expires, instant), stages = k
        services = frozenset(s for f in stages for s in f)
        base = "_".join(sorted(services)) + (f"_until_{instant}" if expires else "")
        name, n = set_name_of(base, v), 1
        while name in widest:
            n += 1
            name = set_name_of(f"{base}_{n}", v)
        names[k] = name
        widest[name] = services
    return {c: names[key(c)] for c in history}, widest


def _stage(contexts: dict, index: int, history: dict, grants: dict, set_of: dict, profiles: set) -> tuple[dict, dict]:
    """({(class, version): [Piece]}, {set in use: its services}) of stage `index`; adds
    the profiles it uses to `profiles`."""
    pieces: dict[tuple, list[Piece]] = {}
    members: dict[str, frozenset] = {}
    for (cls, v, proto), group in contexts.items():
        spans: dict[tuple, list] = defaultdict(list)
        for c in group:
            if history[c][index]:
                spans[(c[3], c[4])].append(c)
                members[set_of[c]] = history[c][index]
        for (first, last), cs in sorted(spans.items()):
            profile = tuple(sorted({(c[5], set_of[c]) for c in cs}, key=lambda e: (_instant_order(e[0]), e[1])))
            profiles.add((profile, v))
            behind = frozenset(g for c in cs for g in grants[c][index])
            row = pieces.setdefault((cls, v), [])
            if row and row[-1].proto == proto and row[-1].last == first - 1 and row[-1].profile == profile:
                row[-1] = Piece(proto, row[-1].first, last, profile, row[-1].grants | behind)
            else:
                row.append(Piece(proto, first, last, profile, behind))
    return pieces, members


def _instant_order(instant: int | None) -> tuple[bool, int]:
    """None (no expiry) first, then the instants in order."""
    return (instant is not None, instant or 0)


def set_name_of(base: str, version: int) -> str:
    """`dyn_<base>_vN` (`egress.targets.names.dynamic_set`, shortened past 63 characters)."""
    return dynamic_set(base, version)


@lru_cache(maxsize=1 << 16)
def chain_name(profile: tuple[tuple[int | None, str], ...], version: int) -> str:
    """The chain that checks a profile: `to_<services>_vN` when it is one set without
    expiry, else named after a digest of the profile. Cached: the nftables target names
    the chain of each host piece of each class at every stage."""
    if len(profile) == 1 and profile[0][0] is None:
        return "to_" + profile[0][1][len("dyn_"):]
    digest = hashlib.sha256(repr(profile).encode()).hexdigest()[:12]
    return f"to__{digest}_v{version}"  # no service name starts with _: no clash with to_<services>


def stage_plan(flows: StageFlows) -> tuple[dict, dict]:
    """({(class, version): [Piece]}, {set in use: its services}) of a stage."""
    return policy_plan(flows.policy, flows.at).stages[flows.stage.id]


def host_sets(flows: StageFlows) -> dict[str, tuple[str, ...]]:
    """host -> the dynamic sets (sorted) that receive its addresses at this stage."""
    _, members = stage_plan(flows)
    hosts_of = {flow.target: flow.hosts for flow in flows.flows  # a service's flows share its hosts
                if flow.hosts and flow.direction == "egress" and flow.via == "direct"}
    services_of: dict[str, set[str]] = defaultdict(set)
    for service, hosts in hosts_of.items():
        for host in hosts:
            services_of[host].add(service)
    sets_of: dict[str, set[str]] = defaultdict(set)  # service -> the sets that hold it
    for name, held in members.items():
        for service in held:
            sets_of[service].add(name)
    result = {}
    known: dict[frozenset, tuple[str, ...]] = {}  # the hosts of one service share their sets
    for host, services in sorted(services_of.items()):
        # each host asks its services' sets, not every set of the stage: that scan was
        # hosts x sets (7 s of dnsmasq render at 100,000 destinations)
        key = frozenset(services)
        names = known.get(key)
        if names is None:
            names = known[key] = tuple(sorted(set().union(*(sets_of.get(service, ()) for service in services))))
        if names:
            result[host] = names
    return result

"""The dnsmasq-fed sets, which the nftables and dnsmasq targets must agree on.

A direct grant to a service with `host` destinations opens, beside the lock-file
addresses of its hosts (static, in the ruleset), the addresses that the firewall's
dnsmasq resolves for them today (CDNs): dnsmasq adds each answer to nftables sets named
in its `nftset=` lines. This module decides which sets exist and which host goes where;
`egress.targets.nftables` declares the sets and the rules that read them,
`egress.targets.dnsmasq` writes the `nftset=` lines. Neither target imports the other.

Keyed by what a packet needs, so that a packet meets a bounded number of rules:

- for each zone class C (see `zone_classes`) and family, the (protocol, port) axis is cut
  into pieces by the ports of the direct host grants from C; each piece gets its
  *profile*: the services whose hosts it opens, each with the instant its opening
  closes (None: no expiry; a service opened by several grants keeps the latest);
- a set `dyn_<services joined by _>_v4` (and `_v6`) holds the addresses of the hosts of
  exactly those services: the set's content depends on its name only, so a set in use
  at two stages holds the right addresses at both, and a host is added by dnsmasq to
  every set in use that names one of its services (one `nftset=` line may list several
  sets);
- for each profile, a chain `to_<services>_v4` (hashed `to_x<digest>_v4` when instants are
  involved) with one rule per instant: `[meta time < T] ip daddr @dyn_... accept`;
- the class chain looks the packet's (protocol, port) up in an interval verdict map that
  jumps to the chain of the piece's profile: two rules met, whatever the number of
  services or hosts.

Every stage of a policy declares the sets and chains of all its stages (computed here for
the same `at`), so that a reload never leaves an object behind; the sets that a stage
does not use are flushed by its ruleset (a revoked opening loses its learned addresses).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from egress import instants
from egress.flows import StageFlows, policy_index, resolve
from egress.model import Grant, Policy, PortRange
from egress.targets.names import nft_name

VERSIONS = (4, 6)
PROTOCOLS = {
    "tcp": (6, (4, 6)),
    "udp": (17, (4, 6)),
    "icmp": (1, (4,)),
    "icmpv6": (58, (6,)),
}

Profile = tuple[tuple[int | None, tuple[str, ...]], ...]
"""((closing instant or None, services), ...): sorted, None first."""


def closing(grant: Grant) -> int | None:
    """The instant (epoch seconds) a grant closes, None if it does not expire.

    `Grant.expires` is the closing instant already (`egress.instants`: a plain date ends
    at midnight in the policy's timezone); epoch seconds do not depend on the loader's."""
    return None if grant.expires is None else instants.epoch(grant.expires)


def sweep(items: Iterable[tuple[int, int, object]], key) -> list[tuple[int, int, object]]:
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


def set_name(services: tuple[str, ...], version: int) -> str:
    """The set that dnsmasq fills with the addresses of the hosts of `services`."""
    return nft_name("dyn_", "_".join(services), f"_v{version}")


def chain_name(profile: Profile, version: int) -> str:
    """The chain that checks a profile: named after its services when nothing in it
    expires, else after a digest of the profile."""
    if len(profile) == 1 and profile[0][0] is None:
        return nft_name("to_", "_".join(profile[0][1]), f"_v{version}")
    digest = hashlib.sha256(repr(profile).encode()).hexdigest()[:12]
    return f"to_x{digest}_v{version}"


@dataclass(frozen=True)
class Piece:
    """A (protocol, port range) piece of one class and family, and its profile."""

    proto: int
    first: int
    last: int
    profile: Profile
    grants: frozenset[str]


def _profile(labels: frozenset) -> tuple[Profile, frozenset[str]]:
    instants: dict[str, int | None] = {}
    for service, instant, _ in labels:
        if service not in instants:
            instants[service] = instant
        elif instants[service] is not None:
            instants[service] = None if instant is None else max(instant, instants[service])  # type: ignore[type-var]
    groups: dict[int | None, list[str]] = defaultdict(list)
    for service, instant in instants.items():
        groups[instant].append(service)
    order = sorted(groups, key=lambda i: (i is not None, i or 0))
    profile = tuple((instant, tuple(sorted(groups[instant]))) for instant in order)
    return profile, frozenset(gid for _, _, gid in labels)


def stage_pieces(flows: StageFlows) -> dict[tuple[tuple[str, ...], int], list[Piece]]:
    """{(class, version): pieces, sorted} of the direct host grants in force."""
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
                    entries[(cls, v)].append((proto, first, last, (flow.target, instant, flow.grant.id)))
    result: dict[tuple, list[Piece]] = {}
    for key, items in sorted(entries.items()):
        pieces = []
        for proto in sorted({e[0] for e in items}):
            for first, last, (profile, grants) in sweep(
                ((a, b, label) for p, a, b, label in items if p == proto), _profile
            ):
                pieces.append(Piece(proto, first, last, profile, grants))
        result[key] = pieces
    return result


@dataclass(frozen=True)
class Plan:
    """The dynamic objects of every stage of a policy (at one `at`): set groups and
    chain profiles, sorted."""

    groups: tuple[tuple[str, ...], ...]
    profiles: tuple[Profile, ...]


def policy_plan(policy: Policy, at) -> Plan:
    """The union of the dynamic objects used by the stages of `policy` at `at`."""
    memo = policy_index(policy).memo
    key = ("dynamic_plan", at)
    if key not in memo:
        groups: set = set()
        profiles: set = set()
        for stage in policy.stages:
            for pieces in stage_pieces(resolve(policy, stage.id, at)).values():
                for piece in pieces:
                    profiles.add(piece.profile)
                    groups.update(services for _, services in piece.profile)
        memo[key] = Plan(tuple(sorted(groups)), tuple(sorted(profiles, key=repr)))
    return memo[key]  # type: ignore[return-value]


def used_groups(pieces: dict) -> set[tuple[str, ...]]:
    return {services for ps in pieces.values() for piece in ps for _, services in piece.profile}


def host_sets(flows: StageFlows) -> dict[str, tuple[str, ...]]:
    """host -> the dynamic sets (v4 and v6 names, sorted) that receive its addresses."""
    groups = used_groups(stage_pieces(flows))
    services_of: dict[str, set[str]] = defaultdict(set)
    for flow in flows.flows:
        if flow.direction == "egress" and flow.via == "direct":
            for host in flow.hosts:
                services_of[host].add(flow.target)
    result = {}
    for host, services in sorted(services_of.items()):
        names = sorted(
            (group, v) for group in groups if services.intersection(group) for v in VERSIONS
        )
        if names:
            result[host] = tuple(set_name(group, v) for group, v in names)
    return result

"""Stages -> the flows in force: the intermediate form of the compiler.

Every target, the diff and the query read `StageFlows`; nothing downstream reads YAML
or walks stages itself. A `Flow` is one (source, target) pair of one grant, with its
addresses already normalised into netaddr `IPSet`s (collapsed, v4 and v6 together;
`v4()`/`v6()` split them for targets that need the families apart), and the same
addresses as sorted integer ranges for targets that work on integers.

Stage resolution follows docs/policy-language.md ("Stages are cumulative"): the grants
in force at stage N are those of stages 0..N minus those revoked at or before N, minus
those whose expiry instant is at or before `at` (`egress.instants.expired`). `at` is an
instant; a plain date means 00:00 of that day in the policy's timezone.

A policy's flows do not depend on the stage: the flows of a grant are made from the
grant, its zones and its services alone, and the stages are cumulative. So the address
sets of every zone and service, and the flows of every grant, are built once per policy
(`PolicyIndex`) and shared by the `StageFlows` of all its stages: resolving every stage
of a large policy costs little more than resolving its last one. Flows and their sets
are shared, so nothing may change them in place.

The integer ranges are what the targets, `query` and `diff` read; the netaddr `IPSet`
of a zone or service is built from them on first use only (`Addresses`): building them
for every service was most of resolving a 100,000-destination stage (0.6 s), for sets
that only `reach` and the Squid zones read.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal, overload

from egress import instants
from egress.model import INTERNET, Grant, Policy, PortRange, Stage
from egress.special import INTERNET_SPACE, NOT_INTERNET

if TYPE_CHECKING:  # netaddr is imported where sets are built: `validate` needs none (issue 15)
    from netaddr import IPNetwork, IPSet

Ranges = tuple[tuple[int, int, int], ...]
"""(version, first, last) integer ranges, sorted, disjoint and not touching (adjacent
ranges are merged): the addresses of an `IPSet`, without its netaddr objects."""


@dataclass(frozen=True, eq=False)
class Flow:
    """What one grant lets through from one source to one target.

    `direction` is `egress` (zone -> service) or `ingress` (internet or a partner
    service -> zone). `dst` holds the destination addresses the firewall can match:
    address destinations plus the lock-file addresses of hosts (direct grants only).
    `hosts` and `domains` are the names: for a direct grant the hosts are also fed to
    the resolver (dnsmasq nftset); for a proxied grant the names are what Squid checks.
    `src_ranges` and `dst_ranges` are `src` and `dst` as integer `Ranges`; all four
    come from the shared `Addresses` of the zone or service (`sources`, `destinations`).
    `serves` is None for the flows of grants; for the proxy's plumbing
    (`StageFlows.proxy_flows`) it is the proxied flow that the opening serves.
    """

    grant: Grant
    direction: str
    via: str
    source: str
    target: str
    sources: Addresses
    destinations: Addresses
    hosts: tuple[str, ...]
    domains: tuple[str, ...]
    ports: tuple[PortRange, ...]
    serves: Flow | None = None

    @property
    def src(self) -> IPSet:
        return self.sources.ipset

    @property
    def dst(self) -> IPSet:
        return self.destinations.ipset

    @property
    def src_ranges(self) -> Ranges:
        return self.sources.ranges

    @property
    def dst_ranges(self) -> Ranges:
        return self.destinations.ranges


@dataclass(frozen=True, eq=False)
class StageFlows:
    """The flows in force at one stage, and why the other grants are not.

    `flows` are the flows of the grants in force (what Squid, dnsmasq, the diff read);
    `proxy_flows` the firewall openings that the proxied ones need (what the nftables
    ruleset, `query` and `reach` add to the direct flows).
    """

    policy: Policy
    stage: Stage
    at: dt.datetime  # the instant expiries are judged at (aware, in the policy's timezone)
    flows: tuple[Flow, ...]
    grants: tuple[Grant, ...]
    revoked: dict[str, str]  # grant id -> id of the stage that revoked it
    expired: dict[str, dt.datetime]  # grant id -> the instant it closed, for grants left out

    @cached_property
    def proxy_flows(self) -> tuple[Flow, ...]:
        """The proxy's plumbing: for each proxied flow (zone Z -> service S, via proxy),
        two direct egress flows that the firewall must open, with `serves` = that flow:

        - Z -> the proxy zone, on `tcp/<proxy.port>` (`target` is the proxy zone's name);
        - the proxy zone -> `internet` (the public addresses outside the zones, see
          `egress.special`), on the tcp ports of the proxied flow (left out when it has
          none): Squid, not the firewall, then checks the names.

        In the order of `flows`, one pair per proxied flow (not merged: each names its
        grant). Empty when the policy has no proxy or its zone is unknown (such a policy
        does not validate: E137, E130).
        """
        proxy = self.policy.proxy
        if proxy is None or proxy.zone not in self.policy.zones:
            return ()
        index = policy_index(self.policy)
        proxy_zone = index.zone(proxy.zone)
        outside = index.internet()
        to_proxy = (PortRange("tcp", proxy.port, proxy.port),)
        out = []
        for flow in self.flows:
            if flow.via != "proxy" or flow.direction != "egress":
                continue
            out.append(Flow(flow.grant, "egress", "direct", flow.source, proxy.zone, flow.sources, proxy_zone, (), (),
                            to_proxy, serves=flow))
            web = tuple(p for p in flow.ports if p.proto == "tcp")
            if web:
                out.append(Flow(flow.grant, "egress", "direct", proxy.zone, INTERNET, proxy_zone, outside, (), (),
                                web, serves=flow))
        return tuple(out)


def v4(addresses: IPSet) -> list:
    """The IPv4 CIDRs of a set, collapsed and sorted."""
    return [c for c in addresses.iter_cidrs() if c.version == 4]


def v6(addresses: IPSet) -> list:
    """The IPv6 CIDRs of a set, collapsed and sorted."""
    return [c for c in addresses.iter_cidrs() if c.version == 6]


def zone_addresses(policy: Policy) -> IPSet:
    """Every address of every zone: what `internet` is not."""
    from netaddr import IPSet

    return IPSet(a.to_netaddr() for zone in policy.zones.values() for a in zone.addresses)


def grants_in_force(policy: Policy, stage_id: str, at: dt.date | dt.datetime):
    """(grants in force, revoked id -> stage, expired id -> instant) at a stage, judged
    at the instant `at` (a plain date: 00:00 of that day in the policy's timezone)."""
    at = instants.moment(at, policy.timezone)
    index = policy.stage(stage_id).index
    revoked: dict[str, str] = {}
    for stage in policy.stages[: index + 1]:
        for grant_id in stage.revoke:
            revoked.setdefault(grant_id, stage.id)
    expired: dict[str, dt.datetime] = {}
    grants: list[Grant] = []
    for stage in policy.stages[: index + 1]:
        for grant in stage.grants:
            if grant.id in revoked:
                continue
            if grant.expires is not None and instants.expired(grant.expires, at):
                expired[grant.id] = grant.expires
                continue
            grants.append(grant)
    return grants, revoked, expired


def resolve(policy: Policy, stage_id: str, at: dt.date | dt.datetime) -> StageFlows:
    """The flows in force at `stage_id` at the instant `at` (a plain date: 00:00 of
    that day in the policy's timezone)."""
    at = instants.moment(at, policy.timezone)
    grants, revoked, expired = grants_in_force(policy, stage_id, at)
    index = policy_index(policy)
    return StageFlows(
        policy=policy,
        stage=policy.stage(stage_id),
        at=at,
        flows=tuple(flow for grant in grants for flow in index.flows(grant)),
        grants=tuple(grants),
        revoked=revoked,
        expired=expired,
    )


# ------------------------------------------------------------------ policy index


class Addresses:
    """The addresses of a zone, a service or `internet`, shared by every flow that names
    it: `ranges` (integer `Ranges`), and `ipset`, the same addresses as a netaddr
    `IPSet`, built from the ranges on first use (a shared set: copy before changing).

    It is also the pair `(ipset, ranges)` that `PolicyIndex.zone` and `.service` return
    (`[0]`, `[1]`, unpacking): reading `[1]` alone never builds the set."""

    __slots__ = ("_ipset", "ranges")

    def __init__(self, ranges: Ranges, ipset: IPSet | None = None):
        self.ranges = ranges
        self._ipset = ipset

    @property
    def ipset(self) -> IPSet:
        if self._ipset is None:
            from netaddr import IPSet

            self._ipset = IPSet(net for version, first, last in self.ranges for net in _cidrs(version, first, last))
        return self._ipset

    @overload
    def __getitem__(self, item: Literal[0]) -> IPSet: ...

    @overload
    def __getitem__(self, item: Literal[1]) -> Ranges: ...

    def __getitem__(self, item: int) -> IPSet | Ranges:
        if item == 0:
            return self.ipset
        if item == 1:
            return self.ranges
        raise IndexError(item)

    def __iter__(self) -> Iterator:
        yield self.ipset
        yield self.ranges

    def __len__(self) -> int:
        return 2


def _cidrs(version: int, first: int, last: int) -> list[IPNetwork]:
    """The CIDRs that make up a range, largest aligned block first (a range is most
    often one CIDR: a loop turn). netaddr's own IPRange path is 2.5x slower."""
    from netaddr import IPNetwork

    bits = 32 if version == 4 else 128
    out = []
    while first <= last:
        size = (first & -first).bit_length() - 1 if first else bits  # the alignment of `first`
        while first + (1 << size) - 1 > last:
            size -= 1
        out.append(IPNetwork((first, bits - size), version))
        first += 1 << size
    return out


def merge_ranges(ranges: Iterable[tuple[int, int, int]]) -> Ranges:
    """(version, first, last) ranges -> `Ranges`: sorted, overlapping or adjacent merged
    within a version (what `egress.intervals.merge` does, for each version at once)."""
    out: list[tuple[int, int, int]] = []
    top = (0, 0, -2)  # the last range kept; no version 0: never merged with
    for version, first, last in sorted(ranges):  # one pass (100,000 ranges in a large policy)
        if version == top[0] and first <= top[2] + 1:
            if last > top[2]:
                top = out[-1] = (version, top[1], last)
        else:
            top = (version, first, last)
            out.append(top)
    return tuple(out)


class PolicyIndex:
    """What a policy's flows are made of, built on first use and shared by its stages.

    `zone(name)`, `service(name)` and `internet()` are `Addresses`, (IPSet, Ranges)
    pairs whose IPSet is built only if it is read; `flows`
    gives the flows of a grant, `every_flow` those of every grant of every stage
    (revoked and expired ones included: what a denial's reasons are looked up in), and
    `order` the position of each grant in the policy. `memo` is free for targets to keep
    their own per-policy work (keyed by a name of their own). It is `Policy.index`
    (a cached property): it lives and goes with its policy.
    """

    def __init__(self, policy: Policy):
        self._policy = policy
        self._zones = policy.zones
        self._services = policy.services
        self._locked = policy.lock.hosts if policy.lock else {}
        self._sets: dict[tuple[str, str], Addresses] = {}
        self._flows: dict[str, tuple[Grant, tuple[Flow, ...]]] = {}
        self._service_names: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self.memo: dict[object, object] = {}

    @cached_property
    def order(self) -> dict[str, int]:
        """Grant id -> its position in the policy (stages in order, grants as written)."""
        return {g.id: i for i, g in enumerate(g for s in self._policy.stages for g in s.grants)}

    @cached_property
    def every_flow(self) -> tuple[Flow, ...]:
        """The flows of every grant of every stage, in the policy's order, whatever
        revokes or expires them."""
        return tuple(f for s in self._policy.stages for g in s.grants for f in self.flows(g))

    def zone(self, name: str) -> Addresses:
        """The addresses of a zone."""
        key = ("zone", name)
        if key not in self._sets:
            networks = self._zones[name].addresses
            self._sets[key] = Addresses(merge_ranges((n.version, n.first, n.last) for n in networks))
        return self._sets[key]

    def service(self, name: str, locked: bool) -> Addresses:
        """The address destinations of a service, plus the lock-file addresses of its
        hosts if `locked` (what a direct grant opens, and what a partner service is as a
        source)."""
        key = ("locked" if locked else "service", name)
        if key not in self._sets:
            service = self._services[name]
            ranges = [(v, first, first | ((1 << ((32 if v == 4 else 128) - prefixlen)) - 1))  # Network.last, inline
                      for v, first, prefixlen in service.addresses]
            if locked:
                ranges += [(n.version, n.first, n.last) for d in service.of_kind("host")
                           for n in self._locked.get(d.value, ())]
            self._sets[key] = Addresses(merge_ranges(ranges))
        return self._sets[key]

    def internet(self) -> Addresses:
        """The public address space outside the zones: what `internet` means.

        Not "every address outside the zones": private-use, shared, loopback,
        link-local, multicast, unspecified and reserved space are left out
        (`egress.special`, with the RFC of each range), so that the proxy zone cannot
        reach 10.99.0.5 or 169.254.169.254 for a name that resolves there, and an
        ingress grant from `internet` admits no such source. The documentation ranges
        stay in. This is the one place where `internet` is computed: the nftables
        sets and `query` both read it.
        """
        key = ("internet", "")
        if key not in self._sets:
            from netaddr import IPSet

            zones = IPSet(a.to_netaddr() for zone in self._zones.values() for a in zone.addresses)
            addresses = _public_space() - zones
            ranges = tuple((r.version, r.first, r.last) for r in addresses.iter_ipranges())
            self._sets[key] = Addresses(ranges, addresses)
        return self._sets[key]

    def flows(self, grant: Grant) -> tuple[Flow, ...]:
        """The flows of a grant (the same objects at every stage where it is in force)."""
        found = self._flows.get(grant.id)
        if found is None or found[0] is not grant:
            found = self._flows[grant.id] = (grant, tuple(self._grant_flows(grant)))
        return found[1]

    def _grant_flows(self, grant: Grant):
        if self._policy.direction(grant) == "ingress":
            yield from self._ingress_flows(grant)
        else:
            yield from self._egress_flows(grant)

    def _egress_flows(self, grant: Grant):
        for zone_name in grant.sources:
            src = self.zone(zone_name)
            for service_name in grant.targets:
                service = self._services[service_name]
                dst = self.service(service_name, locked=grant.via == "direct")
                hosts, domains = self._names(service_name)
                yield Flow(
                    grant=grant,
                    direction="egress",
                    via=grant.via,
                    source=zone_name,
                    target=service_name,
                    sources=src,
                    destinations=dst,
                    hosts=hosts,
                    domains=domains,
                    ports=grant.ports or service.ports,
                )

    def _names(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(hosts, domains) of a service, sorted: once per service, not once per flow."""
        found = self._service_names.get(name)
        if found is None:
            service = self._services[name]
            found = self._service_names[name] = (tuple(sorted({d.value for d in service.of_kind("host")})),
                                                 tuple(sorted({d.value for d in service.of_kind("domain")})))
        return found

    def _ingress_flows(self, grant: Grant):
        for source_name in grant.sources:
            if source_name == INTERNET:
                src, ports = self.internet(), grant.ports
            else:
                src = self.service(source_name, locked=True)
                ports = grant.ports or self._services[source_name].ports
            for zone_name in grant.targets:
                dst = self.zone(zone_name)
                yield Flow(
                    grant=grant,
                    direction="ingress",
                    via="direct",
                    source=source_name,
                    target=zone_name,
                    sources=src,
                    destinations=dst,
                    hosts=(),
                    domains=(),
                    ports=tuple(ports or ()),
                )


@functools.cache
def _public_space() -> IPSet:
    """`special.INTERNET_SPACE` minus `special.NOT_INTERNET` (a shared constant: copy before changing)."""
    from netaddr import IPSet

    return IPSet(INTERNET_SPACE) - IPSet(r.network for r in NOT_INTERNET)


def policy_index(policy: Policy) -> PolicyIndex:
    """The `PolicyIndex` of a policy (`Policy.index`: built on first use, kept with it)."""
    return policy.index

"""Usage: which grants of a stage carried traffic, and which carried none.

Two sources, each attributed to grants by what already knows them:
- the proxy's allowed requests (Squid access.log lines other than `TCP_DENIED`): each
  distinct (client, name, port) is asked of `egress.query` at the stage; every grant that
  allows it is credited with its hits (so a grant is never called unused while it carried
  traffic that another grant also allows). A request that no grant of the stage allows
  (the log of an earlier stage, or a request Squid let through some other way) is
  counted apart, never credited;
- the firewall's counters (`FirewallCounts`, from the nftables ruleset's per-element
  counters: `egress.observe.counters`): packets and bytes per grant since the ruleset was
  loaded.

A grant in force with no hit from either source is *unused*: a candidate to revoke at
the next stage. Which sources were read is part of the answer: with only the proxy's log,
a direct grant is "not observed", not "unused".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from egress import instants
from egress.flows import StageFlows
from egress.observe.blocked import Judge
from egress.observe.observations import Observations, Seen
from egress.query import QueryInputError, query


@dataclass
class GrantUsage:
    grant: str
    stage: str  # the stage that opened it
    via: str
    direction: str
    sources: list[str]
    targets: list[str]
    proxy_hits: int | None = None  # None: the proxy log was not read, or the grant is not proxied
    proxy_first: float | None = None
    proxy_last: float | None = None
    packets: int | None = None  # None: no firewall counters read for it
    bytes: int | None = None

    @property
    def observed(self) -> bool:
        return self.proxy_hits is not None or self.packets is not None

    @property
    def used(self) -> bool:
        return bool(self.proxy_hits) or bool(self.packets)


@dataclass
class Usage:
    policy: str
    stage: str
    at: str
    grants: list[GrantUsage]
    files: list
    counters: str | None = None  # where the firewall counters came from
    unattributed: dict[tuple, Seen] = field(default_factory=dict)  # (zone or client, host, port) -> hits

    @property
    def unused(self) -> list[GrantUsage]:
        return [g for g in self.grants if g.observed and not g.used]


def usage(observations: Observations, flows: StageFlows, counters=None, proxy_read: bool = True) -> Usage:
    """Hits per grant in force at the stage of `flows`.

    `counters` is a `FirewallCounts` (or None when none were read); `proxy_read` says
    whether access logs were given (so that proxied grants without hits are unused rather
    than unobserved)."""
    direction_of: dict[str, str] = {}  # grant id -> the direction of its first flow
    for flow in flows.flows:
        direction_of.setdefault(flow.grant.id, flow.direction)
    grants = {}
    for grant in flows.grants:
        direction = direction_of.get(grant.id, "egress")
        grants[grant.id] = GrantUsage(grant.id, grant.stage, grant.via, direction, list(grant.sources),
                                      list(grant.targets))
        if proxy_read and grant.via == "proxy":
            grants[grant.id].proxy_hits = 0
    unattributed = _credit_proxy(observations, flows, grants)
    source = None
    if counters is not None:
        source = counters.source
        for gid, (packets, octets) in counters.per_grant.items():
            if gid in grants:
                grants[gid].packets, grants[gid].bytes = packets, octets
        for gid in counters.covered:
            g = grants.get(gid)
            if g is not None and g.packets is None:
                g.packets, g.bytes = 0, 0
    ordered = sorted(grants.values(), key=lambda g: (not g.used, -(g.proxy_hits or 0), -(g.packets or 0), g.grant))
    return Usage(flows.policy.name, flows.stage.id, instants.show(flows.at), ordered, observations.files, source, unattributed)


def _credit_proxy(observations: Observations, flows: StageFlows, grants: dict[str, GrantUsage]) -> dict[tuple, Seen]:
    """Credit each allowed proxy request to the proxied grants that allow it; return the
    requests that none allows, by (client, host, port)."""
    unattributed: dict[tuple, Seen] = {}
    verdicts: dict[tuple, list[str]] = {}
    zones = Judge(flows, {})
    for (client, host, port, allowed), seen in observations.requests.items():
        if not allowed:
            continue
        key = (client, host, port)
        verdict = (zones.zone_of(client) or client, host, port)  # a name is judged by the client's zone
        if verdict not in verdicts:
            try:
                answer = query(flows, client, host, f"tcp/{port}")
                verdicts[verdict] = [g for g in answer.grants if g in grants] if answer.allowed else []
            except QueryInputError:
                verdicts[verdict] = []
        credited = [g for g in verdicts[verdict] if grants[g].via == "proxy"]
        if not credited:
            entry = unattributed.get(key)
            if entry is None:
                unattributed[key] = Seen(seen.hits, seen.first, seen.last)
            else:
                entry.add(seen.hits, seen.first, seen.last)
            continue
        for gid in credited:
            g = grants[gid]
            g.proxy_hits = (g.proxy_hits or 0) + seen.hits
            if seen.first is not None and (g.proxy_first is None or seen.first < g.proxy_first):
                g.proxy_first = seen.first
            if seen.last is not None and (g.proxy_last is None or seen.last > g.proxy_last):
                g.proxy_last = seen.last
    return unattributed

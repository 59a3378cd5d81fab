"""Blocked flows: the denials of the logs, aggregated and judged against a stage.

A *blocked flow* is what a crisis cell decides about: a source zone (or, for an address in
no zone, that address), a destination (an address named by the resolver's answers where it
can, or the name the proxy was asked), and a protocol/port, with its hits, the number of
distinct sources behind them, and when it was first and last seen. Firewall and proxy
refusals are separate flows (`origin`): they are opened differently.

Each is judged at the stage given, twice over the same intermediate form:
- `egress.query.query` with one of its sources says whether the stage allows it now (a log
  of yesterday's stage judged at today's) and, when it does not, the nearest reasons
  (revoked, expired, later stage, other ports, other zones);
- the stage's flows (`StageFlows.flows`) and the policy's services say what would open it,
  the most specific first:
  * `allowed`: the stage already allows it (the denial predates this stage's ruleset);
  * `use-proxy`: a firewall denial of an address that the resolver gave for a name that
    the proxy lets through for this zone: the client should use the proxy (and the name);
  * `add-zone`: a grant in force opens this destination and port to other zones: add this
    zone (in a new grant: a stage never edits an earlier one);
  * `add-port`: a grant in force reaches the destination from this zone on other ports;
  * `service`: a service holds the address (or names the name) but no grant reaches it
    from this zone on this port;
  * `new-service`: nothing in the policy holds or names it;
  * `no-zone`, `ingress`, `unsupported`, `use-name`: the source is in no zone; the
    destination is one of the hospital's zones (an ingress grant opens it); a protocol
    the policy language does not open; the proxy was asked for an address.
Each suggestion carries, where a new grant would open the flow, the grant that a draft
stage holds for it (`Opening`, for `egress.observe.draft`).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from dataclasses import dataclass, field

from egress import instants
from egress.flows import StageFlows, policy_index
from egress.model import PortRange
from egress.names import nearest_domain
from egress.observe.observations import Observations, Seen
from egress.query import Answer, QueryInputError, in_ranges, name_matches, query

FIREWALL, PROXY = "firewall", "proxy"


@dataclass(frozen=True)
class Opening:
    """A grant that would open a blocked flow: from `zone` to `service` (None: a new
    service of `destination`), on `port`, `via` direct or proxy."""

    zone: str
    service: str | None
    port: str
    via: str
    destination: tuple[str, str] | None = None  # ("host", name) or ("address", addr) of a new service
    name: str | None = None  # a name the resolver gave for a new address service

    def as_json(self) -> dict:
        new = {self.destination[0]: self.destination[1]} if self.destination and not self.service else None
        return {"from": self.zone, "to": self.service, "ports": [self.port], "via": self.via, "new_service": new}


@dataclass
class Suggestion:
    kind: str
    text: str
    grants: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    opening: Opening | None = None

    def as_json(self) -> dict:
        return {"kind": self.kind, "text": self.text, "grants": self.grants, "services": self.services,
                "draft": self.opening.as_json() if self.opening else None}


@dataclass
class BlockedFlow:
    origin: str  # firewall | proxy
    zone: str | None
    source: str  # the zone, or the address when in no zone
    destination: str  # the address, or the name the proxy was asked
    address: str | None
    name: str | None  # the name asked (proxy), or the resolver's name for the address (firewall)
    port: str
    hits: int
    sources: int
    first: float | None
    last: float | None
    sample: str  # one source address (the lowest), for queries
    names: list[str] = field(default_factory=list)  # every name the resolver gave for the address
    decision: str = "deny"
    reasons: list[str] = field(default_factory=list)
    suggestion: Suggestion | None = None

    @property
    def key(self) -> tuple:
        """Sort key: most distinct sources, then most hits, then a stable order."""
        return (-self.sources, -self.hits, self.origin, self.source, self.destination, self.port)


@dataclass
class Blocked:
    """The answer of `egress blocked`: the flows, the stage and the inputs."""

    policy: str
    stage: str
    at: str
    flows: list[BlockedFlow]
    files: list


def blocked(observations: Observations, flows: StageFlows) -> Blocked:
    """The blocked flows of `observations`, judged at the stage of `flows`, sorted."""
    judge = Judge(flows, observations.names)
    groups: dict[tuple, list] = {}

    def group(key, source, seen: Seen):
        entry = groups.get(key)
        if entry is None:
            groups[key] = [Seen(seen.hits, seen.first, seen.last), {source}]
        else:
            entry[0].add(seen.hits, seen.first, seen.last)
            entry[1].add(source)

    for (src, dst, proto, port), seen in observations.denials.items():
        zone = judge.zone_of(src)
        group((FIREWALL, zone, zone or src, dst, _port_text(proto, port)), src, seen)
    for (client, host, port, allowed), seen in observations.requests.items():
        if allowed:
            continue
        zone = judge.zone_of(client)
        group((PROXY, zone, zone or client, host, f"tcp/{port}"), client, seen)
    result = []
    for (origin, zone, source, destination, port), (seen, sources) in groups.items():
        sample = min(sources, key=_address_key)
        if origin == FIREWALL:
            names = judge.names_of(destination)
            address, name = destination, (names[0] if names else None)
        else:
            names = []
            address, name = (destination, None) if _is_address(destination) else (None, destination)
        flow = BlockedFlow(origin, zone, source, destination, address, name, port, seen.hits, len(sources),
                           seen.first, seen.last, sample, names)
        judge.judge(flow)
        result.append(flow)
    result.sort(key=lambda f: f.key)
    return Blocked(flows.policy.name, flows.stage.id, instants.show(flows.at), result, observations.files)


def _port_text(proto: str, port: int | None) -> str:
    return f"{proto}/{port}" if port is not None else proto


def _address_key(text: str):
    address = ipaddress.ip_address(text)
    return (address.version, int(address))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class Judge:
    """Zones of sources, names of destinations and the suggestions, for one stage."""

    def __init__(self, flows: StageFlows, names: dict[str, dict[str, int]]):
        self.flows = flows
        self.policy = flows.policy
        self.index = policy_index(self.policy)
        self.dns = names
        zones = []
        for order, name in enumerate(self.policy.zones):
            for version, first, last in self.index.zone(name)[1]:
                zones.append((version, first, last, order, name))
        zones.sort()
        self._zones = zones
        self._starts = [(v, first) for v, first, _, _, _ in zones]
        self._zone_cache: dict[str, str | None] = {}
        self._verdicts: dict[tuple, Answer | None] = {}

    # -- who and what

    def zone_of(self, address: str) -> str | None:
        """The first zone (in the policy's order, as `query` says) holding an address."""
        found = self._zone_cache.get(address, "")
        if found == "":
            ip = ipaddress.ip_address(address)
            version, number = ip.version, int(ip)
            hits = []
            i = bisect_right(self._starts, (version, number))
            while i > 0:
                i -= 1
                v, first, last, order, name = self._zones[i]
                if v != version:
                    break
                if first <= number <= last:
                    hits.append((order, name))
            found = min(hits)[1] if hits else None
            self._zone_cache[address] = found
        return found

    def names_of(self, address: str) -> list[str]:
        """The names the resolver gave for an address, most answered first."""
        answers = self.dns.get(address)
        if not answers:
            return []
        return [n for n, _ in sorted(answers.items(), key=lambda item: (-item[1], item[0]))]

    def in_zone(self, address: str | None) -> str | None:
        return self.zone_of(address) if address and _is_address(address) else None

    def holders(self, address: str | None, name: str | None) -> list[str]:
        """Services that hold the address (addresses, lock-file addresses of hosts) or
        name the name (host, or a domain above it), in the policy's order."""
        out = []
        ip = ipaddress.ip_address(address) if address else None
        for service_name, service in self.policy.services.items():
            if (ip is not None and in_ranges(ip, self.index.service(service_name, locked=True)[1])) or (
                    name and _names(service, name)):
                out.append(service_name)
        return out

    # -- the verdict

    def _query(self, src: str, dst: str, port: str) -> Answer | None:
        key = (self.zone_of(src), src if self.zone_of(src) is None else "", dst, port)
        if key not in self._verdicts:
            try:
                self._verdicts[key] = query(self.flows, src, dst, port)
            except QueryInputError:
                self._verdicts[key] = None
        return self._verdicts[key]

    def judge(self, flow: BlockedFlow) -> None:
        flow.suggestion = self._suggest(flow)

    def _suggest(self, flow: BlockedFlow) -> Suggestion:
        port = _parse_port(flow.port)
        if port is None:
            return Suggestion("unsupported", f"the policy opens tcp, udp, icmp and icmpv6 only, not {flow.port}")
        if flow.origin == PROXY and flow.address:
            answer = self._query(flow.sample, flow.address, flow.port)
            self._record(flow, answer)
            services = self.holders(flow.address, None)
            held = f" ({', '.join(services)} holds it)" if services else ""
            return Suggestion("use-name", f"the proxy was asked for the address {flow.address}: proxied grants name "
                                          f"hosts and domains; ask for the name{held}", services=services)
        target = flow.address if flow.origin == FIREWALL else flow.name
        assert target is not None  # a firewall flow has its address, a proxy flow its name or address
        answer = self._query(flow.sample, target, flow.port)
        self._record(flow, answer)
        if answer is not None and answer.allowed:
            return Suggestion("allowed", f"allowed at stage {self.flows.stage.id} by grant {answer.grant} ({answer.via}): "
                                         "the denial predates this stage's ruleset", grants=list(answer.grants))
        zone_dst = self.in_zone(flow.address) if flow.origin == FIREWALL else None
        if flow.zone is None:
            if zone_dst:
                return Suggestion("ingress", f"from outside to zone {zone_dst}: only an ingress grant (from internet or "
                                             "a partner service) opens it")
            return Suggestion("no-zone", f"source {flow.source} is in no zone of the policy: put its network in a zone first")
        if zone_dst:
            return Suggestion("ingress", f"both ends are in zones ({flow.zone} -> {zone_dst}): the policy opens no flow "
                                         "between zones")
        if flow.origin == FIREWALL:
            for name in flow.names:
                via_proxy = self._query(flow.sample, name, flow.port)
                if via_proxy is not None and via_proxy.allowed and via_proxy.via == "proxy":
                    return Suggestion("use-proxy", f"reachable through the proxy as {name} (grant {via_proxy.grant}): "
                                                   "the client must use the proxy and the name", grants=list(via_proxy.grants))
        return self._opening(flow, flow.zone, port)

    def _record(self, flow: BlockedFlow, answer) -> None:
        if answer is not None:
            flow.decision = answer.decision
            flow.reasons = list(answer.reasons)

    def _matches(self, f, flow: BlockedFlow) -> bool:
        """Does flow `f` (of the stage) go to the blocked flow's destination, as it is
        enforced (the firewall by address, the proxy by name)?"""
        if f.direction != "egress":
            return False
        if flow.origin == FIREWALL:
            return f.via == "direct" and flow.address is not None and in_ranges(ipaddress.ip_address(flow.address), f.dst_ranges)
        return f.via == "proxy" and flow.name is not None and name_matches(flow.name, f) is not None

    def _opening(self, flow: BlockedFlow, zone: str, port: PortRange) -> Suggestion:
        via = "direct" if flow.origin == FIREWALL else "proxy"
        reaching = [f for f in self.flows.flows if self._matches(f, flow)]
        other_zones: dict[str, list] = {}
        for f in reaching:
            if f.source != zone and any(p.covers(port) for p in f.ports):
                other_zones.setdefault(f.grant.id, []).append(f)
        if other_zones:
            grant_id, fs = sorted(other_zones.items())[0]
            zones = sorted({f.source for f in self.flows.flows if f.grant.id == grant_id})
            return Suggestion(
                "add-zone",
                f"grant {grant_id} already opens this to zone{'s' * (len(zones) > 1)} {', '.join(zones)}: add zone {zone}",
                grants=sorted(other_zones), services=[fs[0].target],
                opening=Opening(zone, fs[0].target, flow.port, via))
        same_zone = [f for f in reaching if f.source == zone]
        if same_zone:
            f = same_zone[0]
            ports = ", ".join(str(p) for p in f.ports)
            service = self.policy.services[f.target]
            offered = _offers(service, port)
            opening = Opening(zone, f.target, flow.port, via) if offered else self._new(flow, zone, via)
            return Suggestion(
                "add-port",
                f"grant {f.grant.id} reaches {f.target} from {zone} on {ports}, not {flow.port}"
                + ("" if offered else f"; {f.target} does not offer {flow.port}: a new service, or the port added to it"),
                grants=sorted({f.grant.id for f in same_zone}), services=[f.target], opening=opening)
        services = self.holders(flow.address, flow.name)
        if flow.origin == PROXY:
            services = [s for s in services if _proxyable(self.policy.services[s])]
        if services:
            offering = [s for s in services if _offers(self.policy.services[s], port)]
            what = "holds this address" if flow.origin == FIREWALL else f"names {flow.name}"
            if offering:
                return Suggestion(
                    "service", f"service {offering[0]} {what} but no grant reaches it from {zone} on {flow.port}",
                    services=services, opening=Opening(zone, offering[0], flow.port, via))
            first = services[0]
            ports = ", ".join(str(p) for p in self.policy.services[first].ports)
            return Suggestion(
                "service", f"service {first} {what} but offers {ports}, not {flow.port}: a new service, "
                           f"or {flow.port} added to {first}",
                services=services, opening=self._new(flow, zone, via))
        return Suggestion("new-service", "nothing in the policy holds or names this: a new service",
                          opening=self._new(flow, zone, via))

    def _new(self, flow: BlockedFlow, zone: str, via: str) -> Opening:
        """A grant to a new service of the flow's destination: its name for the proxy,
        its address for the firewall."""
        if flow.origin == PROXY:
            assert flow.name is not None
            return Opening(zone, None, flow.port, via, ("host", flow.name))
        assert flow.address is not None
        return Opening(zone, None, flow.port, via, ("address", flow.address), flow.name)


def _parse_port(text: str) -> PortRange | None:
    proto, _, number = text.partition("/")
    if proto in ("icmp", "icmpv6") and not number:
        return PortRange(proto)
    if proto in ("tcp", "udp") and number.isdigit() and 0 < int(number) < 65536:
        return PortRange(proto, int(number), int(number))
    return None


def _names(service, name: str) -> bool:
    """Does the service name `name`: as a host, or as a domain it is or is below?"""
    if any(d.kind == "host" and d.value == name for d in service.destinations):
        return True
    return nearest_domain(name, {d.value for d in service.destinations if d.kind == "domain"}) is not None


def _offers(service, port: PortRange) -> bool:
    return any(p.covers(port) for p in service.ports)


def _proxyable(service) -> bool:
    """Can a `via: proxy` grant reach this service (E138: names only, tcp only)?"""
    return not service.of_kind("address") and all(p.proto == "tcp" for p in service.ports)

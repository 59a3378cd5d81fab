"""Query: is one flow (source address, destination, protocol/port) allowed at a stage?

`query(flows, src, dst, port)` reads the `StageFlows` of the stage and answers with an
`Answer`: allow or deny, the grant that allows it, how (`direct` or `proxy`), and for a
denial the nearest reasons. It judges what the generated files enforce, so its answer
for a direct flow must be the kernel's (tests/test_model_vs_kernel.py checks it):

Addresses (`--dst` is an IP address): the firewall's view.
- egress, direct: the source is in a zone of a direct flow, the destination in its
  addresses (service addresses, lock-file addresses of its hosts), the port in its ports;
- ingress: the destination is in the zone of an ingress flow, the source in its
  sources (`internet`: the public address space outside the zones, see `egress.special`;
  a partner service: its addresses);
- the proxy's own flows, which the firewall opens for `via: proxy` grants: a source zone
  of a proxied grant may reach the proxy zone's addresses on `tcp/<proxy.port>`; the
  proxy zone may reach any internet address (`flows.PolicyIndex.internet`: public, outside
  the zones) on the tcp ports of the proxied
  grants in force (Squid, not the firewall, then checks the names). Both are answered
  `via: direct` (they are plain firewall openings) with the proxied grant that needs them.
- a zone with proxied grants does NOT reach web addresses directly: an address that no
  direct flow holds is denied, with a hint to query the name instead.

Names (`--dst` is a host name): the proxy's view, egress only.
- a proxied flow allows a name that is one of its hosts, or one of its domains or a name
  below it, from its source zones, on its ports: `via: proxy`;
- a direct flow allows the hosts it lists (their lock-file addresses, and the addresses
  dnsmasq learns for them): `via: direct`. When both allow a name, direct is reported
  first (it works without proxy settings on the client) and `grants` lists both.

Denials explain themselves with the nearest reasons, most specific first: a grant
that would match but is revoked, expired or not yet granted at this stage; a grant
that matches but not on this port, from this zone, or only through the proxy; no
service holding the destination; a source in no zone.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from dataclasses import dataclass, field

from netaddr import INET_PTON, AddrFormatError, IPAddress, IPSet

from egress import instants
from egress.flows import Flow, StageFlows, policy_index
from egress.model import INTERNET, Grant, PortRange
from egress.names import nearest_domain
from egress.special import not_internet

NAME_RE = re.compile(r"(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
"""A host name: LDH labels, at least two, the last (the top-level domain) starting with a
letter, so that a mistyped address (`198.51.100.2x`) is not taken for a name."""
PORT_RE = re.compile(r"(tcp|udp)/([0-9]{1,5})\Z|(icmp|icmpv6)\Z")


class QueryInputError(ValueError):
    """The query itself is malformed (an unparsable address, name or port): exit 2."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


# -- parsing ----------------------------------------------------------------------


def parse_address(text: str, param: str = "--src") -> IPAddress:
    value = text.strip()
    if "/" in value:
        raise QueryInputError(param, f"'{text}' is a network; give one address (e.g. 10.100.0.5)")
    try:
        # INET_PTON: the usual forms only ("10" or "10.1" are not addresses here)
        return IPAddress(value, flags=INET_PTON)
    except (AddrFormatError, ValueError, TypeError):
        raise QueryInputError(param, f"'{text}' is not an IP address (e.g. 10.100.0.5 or fd12::5)") from None


def parse_destination(text: str) -> IPAddress | str:
    """An IP address, or a host name (lowercased, without a trailing dot)."""
    value = text.strip()
    if not value:
        raise QueryInputError("--dst", "the destination is empty")
    if ":" in value or re.fullmatch(r"[0-9./]+", value):
        return parse_address(value, "--dst")
    name = value.lower().rstrip(".")
    if not NAME_RE.match(name):
        raise QueryInputError(
            "--dst", f"'{text}' is neither an IP address nor a host name (letters, digits, hyphens, dots; IDN as punycode)"
        )
    return name


def parse_port(text: str) -> PortRange:
    value = text.strip().lower()
    match = PORT_RE.match(value)
    if not match:
        raise QueryInputError("--port", f"'{text}' is not a port: write tcp/443, udp/53, icmp or icmpv6 (one port, not a range)")
    if match.group(3):
        return PortRange(match.group(3))
    number = int(match.group(2))
    if not 1 <= number <= 65535:
        raise QueryInputError("--port", f"'{text}': port numbers go from 1 to 65535")
    return PortRange(match.group(1), number, number)


# -- the answer -------------------------------------------------------------------


@dataclass
class Answer:
    decision: str  # "allow" | "deny"
    grant: str | None
    via: str | None  # "direct" | "proxy" | None
    src: str
    dst: str
    port: str
    stage: str
    at: str
    direction: str | None = None  # "egress" | "ingress" | None
    source_zone: str | None = None
    destination_zone: str | None = None
    source: str | None = None  # the name the source counts as: a zone, internet, a partner service
    target: str | None = None  # the service or zone the allowing flow goes to
    grants: list[str] = field(default_factory=list)  # every grant that allows it
    reasons: list[str] = field(default_factory=list)
    hint: str | None = None
    # the allowing grant's record: since when (its stage), until when, on whose approval
    grant_stage: str | None = None
    expires: str | None = None  # the instant the grant closes (instants.show); None: open until revoked
    reason: str | None = None
    requested_by: str | None = None
    approved_by: str | None = None
    ticket: str | None = None
    src_zone: str | None = None  # --src given as a zone: the zone (src is then its address judged)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def as_json(self) -> dict:
        """The contract object `{"decision", "grant", "via"}` with added keys."""
        return dataclasses.asdict(self)

    def record(self) -> str:
        """Since when, until when, on whose approval, which ticket: one line."""
        bits = [f"granted at stage {self.grant_stage}",
                f"open until {self.expires}" if self.expires else "no expiry (open until revoked)"]
        bits += [f"{label}: {value}" for label, value in (("approved by", self.approved_by),
                                                          ("requested by", self.requested_by),
                                                          ("ticket", self.ticket)) if value]
        return "; ".join(bits)

    def text(self) -> str:
        src = f"{self.src_zone} ({self.src})" if self.src_zone else self.src
        flow = f"{src} -> {self.dst} {self.port}"
        if self.allowed:
            how = "through the proxy" if self.via == "proxy" else "direct"
            head = f"allow: {flow} at stage {self.stage}, by grant {self.grant} ({self.source} -> {self.target}, {how})"
            lines = [head, f"  grant {self.grant}: {self.record()}"]
            others = [g for g in self.grants if g != self.grant]
            if others:
                lines.append(f"  also allowed by: {', '.join(others)}")
        else:
            lines = [f"deny: {flow} at stage {self.stage}"]
        if self.src_zone:
            lines.insert(1, f"  (zone {self.src_zone}, judged at its address {self.src})")
        lines += [f"  - {reason}" for reason in self.reasons]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines) + "\n"


# -- the query --------------------------------------------------------------------


def query(flows: StageFlows, src: str, dst: str, port: str) -> Answer:
    """Judge one flow at the stage of `flows`. `QueryInputError` for malformed input.

    `src` is an address, or the name of a zone: the zone is then judged at one of its
    addresses that is in no other zone (so that overlapping zones do not lend it their
    grants), of the destination's family."""
    target = parse_destination(dst)
    port_range = parse_port(port)
    zone = src.strip() if src.strip() in flows.policy.zones else None
    if zone is not None:
        src_ip = zone_address(flows, zone, target.version if isinstance(target, IPAddress) else None)
    else:
        src_ip = _parse_source(flows, src)
    if isinstance(target, IPAddress):
        if target.version != src_ip.version:
            raise QueryInputError("--dst", f"{src_ip} is IPv{src_ip.version} but {target} is IPv{target.version}; give one family")
        _check_icmp_family(port_range, target.version)
    else:
        _check_icmp_family(port_range, src_ip.version)
    answer = _Judge(flows, src_ip, target, port_range).answer()
    return dataclasses.replace(answer, src_zone=zone) if zone else answer


def _parse_source(flows: StageFlows, text: str) -> IPAddress:
    try:
        return parse_address(text, "--src")
    except QueryInputError:
        if re.fullmatch(r"[a-z0-9-]*[a-z][a-z0-9-]*", text.strip()):  # a name, not a mistyped address
            zones = ", ".join(sorted(flows.policy.zones))
            raise QueryInputError("--src", f"'{text}' is not an IP address nor a zone of the policy (zones: {zones})") from None
        raise


def zone_address(flows: StageFlows, zone: str, version: int | None) -> IPAddress:
    """The first address of `zone` that is in no other zone (else its first address), of
    IP `version` (None: IPv4 if the zone has any, else IPv6)."""
    index = policy_index(flows.policy)
    own = index.zone(zone)[0]
    others = IPSet()
    for name in flows.policy.zones:
        if name != zone:
            others |= index.zone(name)[0]
    for candidates in (own - others, own):
        for version_wanted in ((version,) if version else (4, 6)):
            for cidr in candidates.iter_cidrs():
                if cidr.version == version_wanted:  # a host address, not a network's first
                    return IPAddress(cidr.first + (cidr.size > 2), cidr.version)
    raise QueryInputError("--src", f"zone {zone} has no IPv{version} address")


def _check_icmp_family(port: PortRange, version: int) -> None:
    if port.proto == "icmp" and version == 6:
        raise QueryInputError("--port", "icmp is ICMP for IPv4; for IPv6 addresses write icmpv6")
    if port.proto == "icmpv6" and version == 4:
        raise QueryInputError("--port", "icmpv6 is for IPv6 addresses; for IPv4 write icmp")


def name_matches(name: str, flow: Flow) -> tuple[str, str] | None:
    """The entry of a flow that names `name`: `("host", name)`, `("domain", d)` where
    `name` is `d` or below it, or None."""
    if name in flow.hosts:
        return ("host", name)
    domain = nearest_domain(name, flow.domains)
    return ("domain", domain) if domain is not None else None


def _ports_text(ports) -> str:
    return ", ".join(str(p) for p in ports)


@dataclass(frozen=True)
class _Match:
    """One way a flow is allowed: the flow, how, why; `source`/`target` when they are
    not the flow's own (the proxy's plumbing: zone -> proxy, proxy -> internet)."""

    flow: Flow
    via: str
    reason: str
    source: str | None = None
    target: str | None = None


class _Judge:
    def __init__(self, flows: StageFlows, src: IPAddress, dst: IPAddress | str, port: PortRange):
        self.flows = flows
        self.policy = flows.policy
        self.src = src
        self.dst = dst
        self.port = port
        index = policy_index(self.policy)
        self.index = index
        ranges = {name: index.zone(name)[1] for name in self.policy.zones}
        self.src_zones = [name for name, zone in ranges.items() if in_ranges(src, zone)]
        self.dst_zones = [name for name, zone in ranges.items() if isinstance(dst, IPAddress) and in_ranges(dst, zone)]
        self.order = index.order
        self.reasons: list[str] = []
        self.hint: str | None = None

    # -- results

    def _answer(self, decision: str, grant=None, via=None, direction=None, source=None, target=None, grants=()) -> Answer:
        if direction == "ingress" and self.policy.firewall.hook == "output":
            note = ("this policy's ruleset hooks `output` (a host): new inbound connections do not pass that hook, "
                    "so ingress grants say what the policy intends, not what this ruleset filters")
            self.hint = f"{self.hint}; {note}" if self.hint else note
        return Answer(
            decision=decision,
            grant=grant,
            via=via,
            src=str(self.src),
            dst=str(self.dst),
            port=str(self.port),
            stage=self.flows.stage.id,
            at=instants.show(self.flows.at),
            direction=direction,
            source_zone=self.src_zones[0] if self.src_zones else None,
            destination_zone=self.dst_zones[0] if self.dst_zones else None,
            source=source,
            target=target,
            grants=list(dict.fromkeys(grants)),
            reasons=list(dict.fromkeys(self.reasons)),
            hint=self.hint,
        )

    def _allow(self, matches: list[_Match]) -> Answer:
        """matches sorted best first."""
        best = matches[0]
        self.reasons = [best.reason]
        answer = self._answer(
            "allow",
            grant=best.flow.grant.id,
            via=best.via,
            direction=best.flow.direction,
            source=best.source or best.flow.source,
            target=best.target or best.flow.target,
            grants=[m.flow.grant.id for m in matches],
        )
        grant = best.flow.grant
        return dataclasses.replace(
            answer,
            grant_stage=grant.stage,
            expires=instants.show(grant.expires, end=True) if grant.expires else None,
            reason=grant.reason,
            requested_by=grant.requested_by,
            approved_by=grant.approved_by,
            ticket=grant.ticket,
        )

    def _sorted(self, matches: list[_Match]) -> list[_Match]:
        return sorted(matches, key=lambda m: (m.via != "direct", m.target is not None, self.order.get(m.flow.grant.id, 0)))

    def answer(self) -> Answer:
        if isinstance(self.dst, str):
            return self._name()
        return self._address()

    # -- every grant of the policy, for the reasons of a denial

    def all_flows(self) -> tuple[Flow, ...]:
        """The flows of every grant of every stage, revoked and expired ones included."""
        return self.index.every_flow

    def _status(self, grant: Grant) -> str | None:
        """Why a grant is not in force here, or None if it is."""
        flows, grant_id = self.flows, grant.id
        if grant_id in flows.revoked:
            return f"was revoked at stage {flows.revoked[grant_id]}"
        if grant_id in flows.expired:
            return f"expired at {instants.show(flows.expired[grant_id], end=True)} (judged at {instants.show(flows.at)})"
        if any(g.id == grant_id for g in flows.grants):
            return None
        return f"is not granted yet: it comes with stage {grant.stage}, after {flows.stage.id}"

    # -- addresses

    def _address(self) -> Answer:
        src, dst, port = self.src, self.dst, self.port
        matches = []
        for flow in self.flows.flows:
            if flow.via != "direct" or not in_ranges(src, flow.src_ranges) or not in_ranges(dst, flow.dst_ranges) or not _covers(flow.ports, port):
                continue
            if flow.direction == "egress":
                reason = f"{src} is in zone {flow.source}; service {flow.target} holds {dst}; {port} is granted"
            else:
                reason = f"{src} counts as {flow.source}; {dst} is in zone {flow.target}; {port} is granted (ingress)"
            matches.append(_Match(flow, "direct", reason))
        matches += self._proxy_plumbing()
        if matches:
            return self._allow(self._sorted(matches))
        self._deny_address()
        direction = "egress" if self.src_zones and not self.dst_zones else "ingress" if self.dst_zones and not self.src_zones else None
        return self._answer("deny", direction=direction, source=self._source_name())

    def _source_name(self) -> str | None:
        """The zone of the source, else `internet` if it is there (None: special space
        in no zone, which counts as nothing)."""
        if self.src_zones:
            return self.src_zones[0]
        return INTERNET if not_internet(str(self.src)) is None else None

    def _proxy_plumbing(self) -> list[_Match]:
        """The firewall openings that proxied grants need (`StageFlows.proxy_flows`):
        zone -> proxy, proxy -> web."""
        out = []
        src, dst, port = self.src, self.dst, self.port
        for flow in self.flows.proxy_flows:
            if not in_ranges(src, flow.src_ranges) or not in_ranges(dst, flow.dst_ranges) or not _covers(flow.ports, port):
                continue
            grant = flow.grant.id
            if flow.target == INTERNET:
                reason = (f"{src} is in the proxy zone {flow.source}, which reaches any internet address "
                          f"(public, outside the zones) on {port} for grant {grant}; Squid checks the names")
            else:
                reason = (f"{src} is in zone {flow.source}, which reaches the proxy (zone {flow.target}, {port}) "
                          f"for grant {grant} (via: proxy)")
            out.append(_Match(flow, "direct", reason, flow.source, flow.target))
        return out

    def _deny_address(self) -> None:
        src, dst = self.src, self.dst
        if not self.src_zones and not self.dst_zones:
            self.reasons.append(f"source {src} is in no zone and destination {dst} is in no zone: "
                                "the policy opens flows from its zones (egress) or to them (ingress) only")
            return
        if self.src_zones and self.dst_zones:
            self.reasons.append(
                f"both ends are in zones ({src} in {', '.join(self.src_zones)}, {dst} in {', '.join(self.dst_zones)}): "
                "the policy grants no flow between zones"
                + (" (except to the proxy port for proxied grants)" if self.policy.proxy else "")
            )
            self._proxy_access_reasons()
            return
        if self.src_zones:
            self._deny_egress_address()
        else:
            self._deny_ingress()

    def _proxy_access_reasons(self) -> None:
        proxy = self.policy.proxy
        if proxy is None or proxy.zone not in self.dst_zones:
            return
        zone = self.src_zones[0]
        proxied = [f for f in self.flows.flows if f.via == "proxy" and f.source in self.src_zones]
        if not proxied:
            self.reasons.append(f"zone {zone} has no proxied grant in force, so it does not reach the proxy")
        elif self.port != PortRange("tcp", proxy.port, proxy.port):
            self.reasons.append(f"zone {zone} reaches the proxy on tcp/{proxy.port} only, not {self.port}")

    def _deny_egress_address(self) -> None:
        src, dst, port = self.src, self.dst, self.port
        zone = self.src_zones[0]
        specific = []
        holders = set()
        for flow in self.all_flows():
            if flow.direction != "egress" or not in_ranges(dst, flow.dst_ranges):
                continue
            holders.add(flow.target)
            if not in_ranges(src, flow.src_ranges):
                continue
            status = self._status(flow.grant)
            if status:
                specific.append(f"grant {flow.grant.id} ({flow.source} -> {flow.target}) {status}")
            elif flow.via == "proxy":
                specific.append(f"grant {flow.grant.id} reaches {flow.target} only through the proxy")
            elif not _covers(flow.ports, port):
                specific.append(f"grant {flow.grant.id} allows {_ports_text(flow.ports)}, not {port}")
        self.reasons += specific
        if not holders:
            self.reasons.append(f"no grant from zone {zone} to any service holding {dst} (no service of the policy holds it)")
        elif not specific:
            sources = sorted({f.source for f in self.all_flows() if f.target in holders and f.direction == "egress"})
            self.reasons.append(
                f"no grant from zone {zone} to any service holding {dst} "
                f"(held by {', '.join(sorted(holders))}, granted to {', '.join(sources) or 'no zone'})"
            )
        proxy = self.policy.proxy
        if proxy is not None and proxy.zone in self.src_zones:
            web = sorted({p for f in self.flows.flows if f.via == "proxy" for p in f.ports if p.proto == "tcp"})
            special = not_internet(str(dst))
            if special is not None:
                self.reasons.append(
                    f"{dst} is not internet: {special.network} is {special.what} ({special.rfc}); the proxy zone "
                    f"{proxy.zone} reaches the internet only (a private destination must be named in a service)")
            elif web:
                self.reasons.append(f"the proxy zone {proxy.zone} reaches internet addresses on "
                                    f"{_ports_text(web)} only (the ports of the proxied grants in force)")
            else:
                self.reasons.append(f"the proxy zone {proxy.zone} reaches nothing outside: no proxied grant is in force")
        holding = sorted(self._services_holding(dst) - holders)
        if holding:
            self.reasons.append(f"{dst} belongs to {', '.join(holding)}, which no grant opens")
        # the hint to ask for the name only where the proxy could carry this flow: a tcp
        # port of the zone's proxied grants (a mail or DNS port is no web flow)
        web_flows = [f for f in self.flows.flows if f.via == "proxy" and in_ranges(src, f.src_ranges) and _covers(f.ports, port)]
        proxied = sorted({f.grant.id for f in web_flows})
        if proxied and not specific:
            self.hint = (
                f"zone {zone} reaches the web only through the proxy (grants {', '.join(proxied)}); "
                "a direct connection to a web address is refused: query the name (--dst NAME)"
            )

    def _services_holding(self, dst: IPAddress) -> set[str]:
        """The services whose addresses (their own, and the pinned ones of their hosts) hold `dst`."""
        return {name for name in self.policy.services if in_ranges(dst, self.index.service(name, locked=True)[1])}

    def _deny_ingress(self) -> None:
        src, dst, port = self.src, self.dst, self.port
        zone = self.dst_zones[0]
        specific = []
        admitted = []
        for flow in self.all_flows():
            if flow.direction != "ingress" or not in_ranges(dst, flow.dst_ranges):
                continue
            if not in_ranges(src, flow.src_ranges):
                admitted.append(f"grant {flow.grant.id} admits {flow.source} only")
                continue
            status = self._status(flow.grant)
            if status:
                specific.append(f"grant {flow.grant.id} ({flow.source} -> {flow.target}) {status}")
            elif not _covers(flow.ports, port):
                specific.append(f"grant {flow.grant.id} allows {_ports_text(flow.ports)}, not {port}")
        self.reasons += specific
        if not specific:
            partners = sorted(self._services_holding(src))
            special = not_internet(str(src))
            counts = "internet" if special is None else f"not internet: {special.network} is {special.what} ({special.rfc})"
            who = f"{src} ({counts}" + (f"; partner {', '.join(partners)})" if partners else ")")
            self.reasons.append(f"no grant admits {who} to zone {zone} on {port}")
            self.reasons += admitted
            if not any(f.direction == "ingress" and in_ranges(dst, f.dst_ranges) for f in self.all_flows()):
                self.reasons[-1:] = [f"no grant admits any flow from outside to zone {zone}"]

    # -- names

    def _name(self) -> Answer:
        name, src, port = self.dst, self.src, self.port
        if not self.src_zones:
            self.reasons.append(f"source {src} is in no zone: names are judged for egress from the zones only")
            return self._answer("deny", source=INTERNET)
        matches = []
        for flow in self.flows.flows:
            if flow.direction != "egress" or not in_ranges(src, flow.src_ranges) or not _covers(flow.ports, port):
                continue
            how = name_matches(name, flow)
            if how is None or (flow.via == "direct" and how[0] != "host"):
                continue
            if how[0] == "host":
                what = f"host {name}"
            elif how[1] == name:
                what = f"domain {name}"
            else:
                what = f"{name} (below domain {how[1]})"
            if flow.via == "proxy":
                reason = f"{src} is in zone {flow.source}; service {flow.target} names {what}; {port} is granted; through the proxy"
            else:
                reason = f"{src} is in zone {flow.source}; service {flow.target} lists host {name}; {port} is granted"
            matches.append(_Match(flow, flow.via, reason))
        if matches:
            return self._allow(self._sorted(matches))
        self._deny_name()
        return self._answer("deny", direction="egress", source=self.src_zones[0])

    def _deny_name(self) -> None:
        name, src, port = self.dst, self.src, self.port
        zone = self.src_zones[0]
        specific, other_zones = [], []
        named = False
        for flow in self.all_flows():
            if flow.direction != "egress" or name_matches(name, flow) is None:
                continue
            named = True
            if not in_ranges(src, flow.src_ranges):
                other_zones.append(flow)
                continue
            status = self._status(flow.grant)
            if status:
                specific.append(f"grant {flow.grant.id} ({flow.source} -> {flow.target}) {status}")
            elif not _covers(flow.ports, port):
                specific.append(f"grant {flow.grant.id} allows {_ports_text(flow.ports)}, not {port}")
        self.reasons += specific
        if not named:
            self.reasons.append(f"no service names {name} (as a host, or under one of its domains)")
        elif not specific:
            grants: dict[str, list[str]] = {}
            for flow in other_zones:
                grants.setdefault(flow.grant.id, []).append(flow.source)
            for gid, sources in grants.items():
                self.reasons.append(f"grant {gid} allows {name} from zone{'s' * (len(sources) > 1)} {', '.join(sources)}, not from {zone}")
            if not grants:
                self.reasons.append(f"no grant from zone {zone} to a service naming {name}")


def in_ranges(address, ranges) -> bool:
    """Is `address` (netaddr's or `ipaddress`'s) in `ranges` (`Ranges`: a flow's
    `src_ranges`/`dst_ranges`, a zone's or a service's)? A bisection: netaddr's `IPSet.__contains__` hashes one supernet per prefix
    length, which made a query cost milliseconds, and `egress blocked` asks one per
    blocked flow."""
    number = int(address)
    i = bisect_right(ranges, (address.version, number, 1 << 129)) - 1
    return i >= 0 and ranges[i][0] == address.version and ranges[i][1] <= number <= ranges[i][2]


def _covers(ports, port: PortRange) -> bool:
    return any(p.covers(port) for p in ports)

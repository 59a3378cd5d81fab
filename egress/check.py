"""Semantic checks: the rules of the language (docs/policy-language.md) that a schema cannot express.

`check(policy, at)` returns every diagnostic at once. Each rule is one small function
over the model, registered in `RULES`; a rule never raises on a partial model (a value
the schema refused is simply absent), so schema errors and semantic errors of one file
come out together.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
from bisect import bisect_right
from functools import lru_cache

from egress import instants
from egress.diagnostics import Diagnostic, at as diag
from egress.flows import grants_in_force
from egress.intervals import covers, merge
from egress.model import INTERNET, Grant, Policy, PortRange, Pos
from egress.special import NOT_INTERNET
from egress.suffixes import public_suffix_problem

SOON = dt.timedelta(days=14)
"""Warn about an expiry this long before it happens."""

BEFORE_ANY_EXPIRY = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
"""An instant before every expiry: to judge grants whatever their expiry."""


def check(policy: Policy, at: dt.date | dt.datetime | None) -> list[Diagnostic]:
    """Every semantic diagnostic of a policy, in rule order, with expiries judged at the
    instant `at` (a plain date: 00:00 of that day in the policy's timezone; None: now)."""
    at = instants.moment(at, policy.timezone)
    out: list[Diagnostic] = []
    for rule in RULES:
        out.extend(rule(policy, at))
    return out


def _ports_cover(offered: tuple[PortRange, ...], wanted: PortRange) -> bool:
    """True if the union of `offered` covers `wanted`."""
    if not wanted.has_ports:
        return any(o.proto == wanted.proto for o in offered)
    ranges = merge((o.first, o.last) for o in offered if o.proto == wanted.proto)
    return covers(ranges, wanted.first, wanted.last)


def rule_unique_ids(policy: Policy, at: dt.date):
    for name in sorted(set(policy.zones) & set(policy.services)):
        yield diag(policy.services[name].pos, "E132", f"'{name}' is both a zone and a service; rename one")
    for name in (INTERNET,):
        for kind, table in (("zone", policy.zones), ("service", policy.services)):
            if name in table:
                yield diag(table[name].pos, "E132", f"'{name}' is reserved (any address outside the zones); rename the {kind}")
    seen_stage: dict[str, Pos] = {}
    seen_grant: dict[str, Pos] = {}
    for stage in policy.stages:
        if stage.id in seen_stage:
            yield diag(stage.pos, "E132", f"stage id '{stage.id}' is used twice (also at line {seen_stage[stage.id].line})")
        seen_stage.setdefault(stage.id, stage.pos)
        for grant in stage.grants:
            if grant.id in seen_grant:
                yield diag(grant.pos, "E132", f"grant id '{grant.id}' is used twice (also at line {seen_grant[grant.id].line})")
            seen_grant.setdefault(grant.id, grant.pos)


def _did_you_mean(name: str, known) -> str:
    """`; did you mean 'lab'?` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def rule_references(policy: Policy, at: dt.date):
    known = set(policy.zones) | set(policy.services) | {INTERNET}
    for stage in policy.stages:
        for grant in stage.grants:
            ingress_like = all(t in policy.zones for t in grant.targets if t in known)
            for name in grant.sources:
                if name not in known:
                    code, kind = ("E131", "service") if ingress_like and grant.targets else ("E130", "zone")
                    yield diag(grant.where("from", name), code,
                               f"grant '{grant.id}': from '{name}' is not a defined {kind}{_did_you_mean(name, known)}")
            for name in grant.targets:
                if name not in known:
                    from_outside = any(s == INTERNET or s in policy.services for s in grant.sources)
                    code, kind = ("E130", "zone") if from_outside else ("E131", "service")
                    yield diag(grant.where("to", name), code,
                               f"grant '{grant.id}': to '{name}' is not a defined {kind}{_did_you_mean(name, known)}")
    if policy.proxy and policy.proxy.zone not in policy.zones:
        yield diag(policy.proxy.pos, "E130", f"proxy zone '{policy.proxy.zone}' is not a defined zone")


def rule_directions(policy: Policy, at: dt.date):
    known = set(policy.zones) | set(policy.services) | {INTERNET}
    for grant in policy_grants(policy):
        if not all(n in known for n in grant.sources + grant.targets):
            continue  # rule_references said so
        kind = policy.direction(grant)
        if kind is None:
            yield diag(
                grant.pos,
                "E134",
                f"grant '{grant.id}' mixes directions: write zones -> services (egress) or internet/services -> zones (ingress)",
            )
        elif kind == "ingress" and grant.via == "proxy":
            yield diag(grant.pos, "E134", f"grant '{grant.id}' is ingress; `via: proxy` is for egress to web services")


def rule_ports(policy: Policy, at: dt.date):
    for grant in policy_grants(policy):
        kind = policy.direction(grant)
        if kind == "ingress" and INTERNET in grant.sources and not grant.ports:
            yield diag(grant.pos, "E136", f"grant '{grant.id}' opens ingress from internet: give its `ports:`")
        if not grant.ports or kind is None:
            continue
        services = grant.targets if kind == "egress" else [s for s in grant.sources if s != INTERNET]
        for name in services:
            offered = policy.services[name].ports
            if not offered:
                continue  # the service's own ports are wrong, and said so: no cascade
            for port in grant.ports:
                if not _ports_cover(offered, port):
                    yield diag(
                        grant.pos,
                        "E135",
                        f"grant '{grant.id}' asks {port}, which service '{name}' does not offer ({', '.join(map(str, offered))})",
                    )


def rule_proxy(policy: Policy, at: dt.date):
    for grant in policy_grants(policy):
        if grant.via != "proxy" or policy.direction(grant) != "egress":
            continue
        if policy.proxy is None:
            yield diag(grant.pos, "E137", f"grant '{grant.id}' goes via proxy but the policy has no `proxy:` block")
        for name in grant.targets:
            service = policy.services[name]
            addresses = service.of_kind("address")
            if addresses:
                yield diag(
                    addresses[0].pos,
                    "E138",
                    f"service '{name}' is proxied by grant '{grant.id}' but holds addresses; the proxy matches names: move the addresses to another service",
                )
            ports = grant.ports or service.ports
            for port in ports:
                if port.proto != "tcp":
                    yield diag(grant.pos, "E138", f"grant '{grant.id}' sends {port} of '{name}' via proxy; the proxy carries tcp only")


def rule_direct_names(policy: Policy, at: dt.date):
    locked = policy.lock.hosts if policy.lock else {}
    reported_domains: set[tuple[str, str]] = set()  # (grant, domain): each grant says it
    reported_hosts: set[str] = set()  # a host is missing once, whatever grants use it
    kinds: dict[str, tuple] = {}  # service -> (its domains, its hosts): sorted out once, not per grant
    for grant in policy_grants(policy):
        kind = policy.direction(grant)
        if kind is None or grant.via != "direct":
            continue
        services = grant.targets if kind == "egress" else [s for s in grant.sources if s != INTERNET]
        for name in services:
            service = policy.services[name]
            if name not in kinds:
                kinds[name] = (service.of_kind("domain"), service.of_kind("host"))
            domains, hosts = kinds[name]
            for domain in domains:
                if kind == "egress" and (grant.id, domain.value) not in reported_domains:
                    reported_domains.add((grant.id, domain.value))
                    yield diag(
                        grant.pos,
                        "E139",
                        f"grant '{grant.id}' reaches domain '{domain.value}' directly; an address list cannot hold all its subdomains: use `via: proxy` or list hosts",
                    )
            for host in hosts:
                if host.value not in locked and host.value not in reported_hosts:
                    reported_hosts.add(host.value)
                    web = kind == "egress" and policy.proxy is not None and all(p.proto == "tcp" for p in grant.ports or service.ports)
                    proxy_hint = (f"; or, for a web site, send grant '{grant.id}' `via: proxy` (the proxy checks the name: "
                                  "no addresses needed)") if web else ""
                    yield diag(
                        host.pos,
                        "E140",
                        f"host '{host.value}' has no addresses in the lock file; run `egress resolve {policy.path}` "
                        f"and commit the lock file{proxy_hint}",
                    )


def rule_reasons(policy: Policy, at: dt.date):
    for stage in policy.stages[1:]:
        for grant in stage.grants:
            if not grant.reason or not grant.reason.strip():
                yield diag(grant.pos, "E141", f"grant '{grant.id}' has no `reason:`; the crisis cell must see why it opens")


DRAFT_PLACEHOLDER = "<fill in"
"""What `egress blocked --as-stage` writes where a person must decide (egress.observe.draft)."""


def rule_placeholders(policy: Policy, at: dt.date):
    for grant in policy_grants(policy):
        for key in ("reason", "approved_by", "requested_by", "ticket"):
            value = getattr(grant, key)
            if isinstance(value, str) and DRAFT_PLACEHOLDER in value.lower():
                yield diag(grant.pos, "E150", f"grant '{grant.id}' still has the draft placeholder in `{key}:`; "
                                              "a person must fill it in (egress blocked approves nothing)")


def rule_revokes(policy: Policy, at: dt.date):
    stage_of: dict[str, int] = {}
    for stage in policy.stages:
        for grant in stage.grants:
            stage_of.setdefault(grant.id, stage.index)
    revoked: dict[str, str] = {}
    for stage in policy.stages:
        positions = stage.revoke_pos or (stage.pos,) * len(stage.revoke)
        for grant_id, pos in zip(stage.revoke, positions, strict=True):
            if grant_id not in stage_of:
                yield diag(pos, "E133", f"stage '{stage.id}' revokes '{grant_id}', which is no grant{_did_you_mean(grant_id, stage_of)}")
            elif stage_of[grant_id] >= stage.index:
                yield diag(pos, "E133", f"stage '{stage.id}' revokes '{grant_id}', which is not of an earlier stage")
            elif grant_id in revoked:
                yield diag(pos, "E133", f"'{grant_id}' is already revoked at stage '{revoked[grant_id]}'")
            revoked.setdefault(grant_id, stage.id)


def rule_expiry(policy: Policy, at: dt.datetime):
    """W105 for a grant that closed by itself in the last `SOON`, W106 for one that
    closes within the next `SOON`.

    An expired grant stays in the policy: it is the record of a decision, and it is out
    of the rules already (compile leaves it out). So W105 is news, not a standing
    reproach: it tells the cell for two weeks that the grant closed, then falls silent,
    and it never advises to delete the grant or to move its date (that would erase a
    past decision). A grant that a later stage revokes has its history told in full:
    nothing to say.
    """
    if not policy.stages:
        return
    revoked = {g for s in policy.stages for g in s.revoke}
    for grant in policy_grants(policy):
        if grant.expires is None or grant.id in revoked:
            continue
        closes = instants.show(grant.expires, end=True)
        if instants.expired(grant.expires, at):
            if at - grant.expires < SOON:
                yield diag(
                    grant.pos,
                    "W105",
                    f"grant '{grant.id}' expired at {closes} ({_ago(at - grant.expires)}) and is out of the rules; "
                    "keep it as the record, and revoke it at a later stage to say it stays closed",
                )
        elif grant.expires - at < SOON:
            left = grant.expires - at
            when = f"in {left.days} day{'s' * (left.days != 1)}" if left.days else "in less than a day"
            yield diag(grant.pos, "W106", f"grant '{grant.id}' closes at {closes} ({when})")


def _ago(delta: dt.timedelta) -> str:
    return f"{delta.days} day{'s' * (delta.days != 1)} ago" if delta.days else "less than a day ago"


def rule_lock_addresses(policy: Policy, at: dt.datetime):
    """E145 for a pinned address inside a zone: a direct grant to that host would open
    zone-to-zone traffic under the name of an outside service. (The load refuses
    networks and special space already.)"""
    if policy.lock is None:
        return
    zones = _zone_spans(policy)
    for host, addresses in sorted(policy.lock.hosts.items()):
        places = policy.lock.where.get(host, ())
        for address, place in zip(addresses, places, strict=False):
            inside = _zones_holding(zones, address)
            if inside:
                yield diag(place, "E145", f"{host}: {address.ip} is inside zone '{inside[0]}'; a lock entry is an address outside the zones")


REFUSED_SPECIAL = frozenset((
    "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::ffff:0:0/96", "fe80::/10", "ff00::/8",
))
"""Special-purpose ranges that are never a destination outside the hospital (E146):
"this network", loopback, link-local (where cloud metadata services answer),
multicast, reserved and broadcast, IPv4-mapped IPv6 (never on the wire), and IPv6
outside global unicast 2000::/3. The other ranges of `egress.special` (private-use,
shared, unique local, benchmarking, IETF assignments, and the IPv6 forms that embed
IPv4 addresses: 6to4, NAT64, Teredo) are W109: a partner over a private link or a
NAT64 gateway may need them, and the policy says so knowingly."""


class _Spans:
    """(first, last, label) integer intervals, possibly overlapping, that a query
    interval is matched against by bisection: the cost of a query is the spans it
    meets, not the number of spans (a policy may hold 100,000 destinations)."""

    def __init__(self, spans):
        self.spans = sorted(spans, key=lambda s: (s[0], s[1]))
        self.firsts = [s[0] for s in self.spans]
        self.reach: list[int] = []
        top = -1
        for _, last, _ in self.spans:
            top = max(top, last)
            self.reach.append(top)

    def meets(self, first: int, last: int) -> bool:
        """Whether `meeting` would find a span, in one bisection: the running maximum of
        the lasts (`reach`) says whether any span up to the bisection point gets there."""
        k = bisect_right(self.firsts, last) - 1
        return k >= 0 and self.reach[k] >= first

    def meeting(self, first: int, last: int) -> list:
        """The spans that share at least one integer with [first, last]."""
        out = []
        k = bisect_right(self.firsts, last) - 1
        while k >= 0 and self.reach[k] >= first:
            if self.spans[k][1] >= first:
                out.append(self.spans[k])
            k -= 1
        return out[::-1]


def _zone_spans(policy: Policy) -> _Spans:
    """The zones' networks as spans labelled (IP version, zone name)."""
    return _Spans((net.first, net.last, (net.version, zone.name)) for zone in policy.zones.values() for net in zone.addresses)


def _zones_holding(zones: _Spans, net) -> list[str]:
    """The names of the zones (`_zone_spans`) that share an address with `net`, sorted."""
    first, last = net.first, net.last
    if not zones.meets(first, last):
        return []  # the common case: a destination outside every zone
    return sorted({name for _, _, (version, name) in zones.meeting(first, last) if version == net.version})


@lru_cache(maxsize=1)
def _special_spans() -> dict[int, _Spans]:
    by_version: dict[int, list] = {4: [], 6: []}
    for special in NOT_INTERNET:
        net = ipaddress.ip_network(special.network)
        by_version[net.version].append((int(net.network_address), int(net.broadcast_address), special))
    return {version: _Spans(spans) for version, spans in by_version.items()}


_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_GLOBAL_UNICAST_FIRST, _GLOBAL_UNICAST_LAST = int(_GLOBAL_UNICAST.network_address), int(_GLOBAL_UNICAST.broadcast_address)


def special_destination(version: int, first: int, last: int) -> tuple[str, str] | None:
    """(code, why) for an address destination in or over special-purpose space, or None.

    Inside one special range: E146 or W109 by the range (`REFUSED_SPECIAL`). Wholly
    outside IPv6 global unicast: E146. Over special ranges without being inside one
    (a wide network): W109 naming the first. The documentation ranges are not special."""
    spans = _special_spans()[version]
    if not spans.meets(first, last) and (version == 4 or _GLOBAL_UNICAST_FIRST <= first <= last <= _GLOBAL_UNICAST_LAST):
        return None  # the common case, in one bisection
    met = spans.meeting(first, last)
    for lo, hi, special in met:
        if lo <= first and last <= hi:
            code = "E146" if special.network in REFUSED_SPECIAL else "W109"
            return code, f"is in the {special.what} range {special.network} ({special.rfc})"
    if version == 6 and (last < _GLOBAL_UNICAST_FIRST or first > _GLOBAL_UNICAST_LAST):
        return "E146", "is outside IPv6 global unicast 2000::/3 (reserved by the IETF, RFC 4291)"
    if met:
        special = met[0][2]
        return "W109", f"covers the {special.what} range {special.network} ({special.rfc})"
    return None


def _watched_spans(zones: _Spans) -> dict[int, _Spans]:
    """Per IP version, the zones' and the special ranges' spans together: an address
    destination that meets none of them (and is not wide, nor outside IPv6 global
    unicast) gets no diagnostic from `rule_broad_destinations`."""
    spans: dict[int, list] = {4: [], 6: []}
    for first, last, (version, _) in zones.spans:
        spans[version].append((first, last, None))
    for version, special in _special_spans().items():
        spans[version] += special.spans
    return {version: _Spans(found) for version, found in spans.items()}


def rule_broad_destinations(policy: Policy, at: dt.datetime):
    """W101 (wide), E146/W109 (special-purpose space, see `special_destination`), W110
    (inside a zone: a grant to it opens traffic between zones) for address
    destinations; W102 for domains under which anyone can register names."""
    zones = _zone_spans(policy)
    watched = _watched_spans(zones)
    for service in policy.services.values():
        for dest in service.destinations:
            if dest.address is not None:
                net = dest.address
                version, first, prefixlen = net
                last = first | ((1 << ((32 if version == 4 else 128) - prefixlen)) - 1)
                if (prefixlen >= (8 if version == 4 else 16) and not watched[version].meets(first, last)
                        and (version == 4 or _GLOBAL_UNICAST_FIRST <= first <= last <= _GLOBAL_UNICAST_LAST)):
                    continue  # the common case, in one bisection: nothing below can apply
                if net.prefixlen < (8 if net.version == 4 else 16):
                    yield diag(dest.pos, "W101", f"service '{service.name}' reaches {dest.value}, a large part of the internet")
                found = special_destination(net.version, net.first, net.last)
                if found:
                    code, why = found
                    advice = ("it is never a destination outside the hospital: remove it" if code == "E146"
                              else "not the internet: keep it only for a partner reached over a private link or a translation gateway")
                    yield diag(dest.pos, code, f"service '{service.name}' reaches {dest.value}, which {why}; {advice}")
                inside = _zones_holding(zones, net)
                if inside:
                    yield diag(dest.pos, "W110", f"service '{service.name}' reaches {dest.value}, inside zone '{inside[0]}': "
                                                 "a grant to it opens traffic between zones; name that network as a zone")
            elif dest.kind == "domain":
                problem = public_suffix_problem(dest.value)
                if problem:
                    yield diag(dest.pos, "W102", problem)


def rule_zone_overlap(policy: Policy, at: dt.datetime):
    """W103 for every pair of overlapping zones, naming the first range they share; E147
    when one of them is the proxy's zone (its traffic to the web would count as the
    other zone's, and the other zone's as the proxy's: a workstation could go direct).

    An interval sweep per address family with an active set: each network is compared
    with every earlier network that still reaches it, so nested zones (a /8 holding a
    /16 holding a /24) give all their pairs, not only neighbours."""
    proxy = policy.proxy.zone if policy.proxy else None
    spans = sorted(
        (net.version, net.first, net.last, zone.name)
        for zone in policy.zones.values()
        for net in zone.addresses
    )
    shared: dict[tuple[str, str], tuple[int, int, int, str]] = {}  # pair -> (version, first, last, later zone)
    active: list[tuple[int, int, str]] = []  # (version, last, zone) of the spans still open
    for version, first, last, name in spans:
        active = [a for a in active if a[0] == version and a[1] >= first]
        for _, other_last, other in active:
            if other != name:
                pair = (min(other, name), max(other, name))
                shared.setdefault(pair, (version, first, min(last, other_last), name))
        active.append((version, last, name))
    for (low, high), (version, first, last, later) in sorted(shared.items(), key=lambda item: (item[1][1], item[0])):
        where = _range_text(version, first, last)
        if proxy in (low, high):
            other = high if low == proxy else low
            yield diag(policy.zones[other].pos, "E147",
                       f"zone '{other}' overlaps the proxy zone '{proxy}' on {where}: the proxy's traffic would count as "
                       f"'{other}''s and '{other}''s as the proxy's; make them disjoint")
        else:
            yield diag(policy.zones[later].pos, "W103",
                       f"zones '{low}' and '{high}' overlap on {where}; an address in both gets the grants of both")


def _range_text(version: int, first: int, last: int) -> str:
    """`10.1.2.0/24` when the range is one network, else `first-last`."""
    from netaddr import IPAddress, IPRange  # only for this message: `validate` does not import netaddr otherwise

    cidrs = IPRange(IPAddress(first, version), IPAddress(last, version)).cidrs()
    return str(cidrs[0]) if len(cidrs) == 1 else f"{IPAddress(first, version)}-{IPAddress(last, version)}"


def rule_redundant_grants(policy: Policy, at: dt.date):
    """A grant adds nothing when, for each of its (source, target) pairs, another grant
    in force at its stage already grants that pair, the same way, on all its ports."""
    entries: dict[int, list[tuple[tuple[str, str, str], tuple[PortRange, ...]]]] = {}

    def entries_of(grant: Grant) -> list[tuple[tuple[str, str, str], tuple[PortRange, ...]]]:
        """((source, target, via), ports) of each pair of a grant: worked out once, not at
        each of the stages it stays in force (all of them, in a long reopening)."""
        found = entries.get(id(grant))
        if found is None:
            found = entries[id(grant)] = [((s, t, grant.via), _effective_ports(policy, grant, t, s))
                                          for s in grant.sources for t in grant.targets]
        return found

    for stage in policy.stages:
        grants, _, _ = grants_in_force(policy, stage.id, BEFORE_ANY_EXPIRY)
        pairs: dict[tuple[str, str, str], list[tuple[str, tuple[PortRange, ...]]]] = {}
        for grant in grants:
            for pair, ports in entries_of(grant):
                pairs.setdefault(pair, []).append((grant.id, ports))
        for grant in stage.grants:
            if policy.direction(grant) is None:
                continue
            covered = True
            for pair, mine in entries_of(grant):
                others = [p for gid, ports in pairs.get(pair, []) if gid != grant.id for p in ports]
                if not all(_ports_cover(tuple(others), port) for port in mine):
                    covered = False
            if covered:
                yield diag(grant.pos, "W104", f"grant '{grant.id}' adds nothing: other grants already allow all it opens")


def _effective_ports(policy: Policy, grant: Grant, target: str, source: str) -> tuple[PortRange, ...]:
    if grant.ports:
        return grant.ports
    if target in policy.services:
        return policy.services[target].ports
    if source in policy.services:
        return policy.services[source].ports
    return ()


def rule_unused_services(policy: Policy, at: dt.date):
    used = {n for g in policy_grants(policy) for n in g.sources + g.targets}
    for service in policy.services.values():
        if service.name not in used:
            yield diag(service.pos, "W107", f"service '{service.name}' is used by no grant")


def rule_stage_dates(policy: Policy, at: dt.date):
    last = None
    for stage in policy.stages:
        if stage.date is None:
            continue
        if last is not None and stage.date < last[0]:
            yield diag(stage.pos, "W108", f"stage '{stage.id}' ({stage.date}) comes after '{last[1]}' ({last[0]})")
        last = (stage.date, stage.id)


def rule_mark_mask(policy: Policy, at: dt.date):
    mask = policy.firewall.mark_mask
    shift = (mask & -mask).bit_length() - 1
    if (mask >> shift) & ((mask >> shift) + 1):
        yield diag(policy.firewall.mark_mask_pos or policy.pos, "E148",
                   f"firewall.mark_mask 0x{mask:08x} must be contiguous bits (e.g. 0xffff0000)")


def rule_mark_mask_room(policy: Policy, at: dt.date):
    """E149 when the policy needs more destination tags than `firewall.mark_mask`
    numbers: what `egress compile` would refuse. The count is the nftables target's own
    (`egress.targets.nftables_tags`), so the two never disagree."""
    from egress.targets.nftables_tags import shortage

    problem = shortage(policy)
    if problem:
        yield diag(policy.firewall.mark_mask_pos or policy.pos, "E149", problem)


def policy_grants(policy: Policy):
    return (g for s in policy.stages for g in s.grants)


RULES = (
    rule_unique_ids,
    rule_references,
    rule_directions,
    rule_ports,
    rule_proxy,
    rule_direct_names,
    rule_reasons,
    rule_placeholders,
    rule_revokes,
    rule_expiry,
    rule_lock_addresses,
    rule_broad_destinations,
    rule_zone_overlap,
    rule_redundant_grants,
    rule_unused_services,
    rule_stage_dates,
    rule_mark_mask,
    rule_mark_mask_room,
)


def validate(path: str, at: dt.date):
    """Load and check one policy file: `(policy or None, diagnostics sorted by place)`.

    `egress.load.Unreadable` if the file cannot be opened.
    """
    from egress.load import load_policy

    policy, diagnostics = load_policy(path)
    if policy is not None:
        diagnostics += check(policy, at)
    return policy, sorted(diagnostics, key=lambda d: (d.path != path, d.path, d.line, d.column, d.code))

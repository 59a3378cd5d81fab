"""Squid target: `squid-egress.conf`, a file for `include` in squid.conf.

It holds, for the `via: proxy` flows of one stage:

- one `src` ACL per source zone (`egress_z_<zone>`), the zone's networks collapsed;
- one `dstdomain -n` ACL per service (`egress_s_<service>`), its names normalised;
- one `port` ACL per port set of a grant (`egress_p_<ports>`), plus the union of all
  proxied ports (`egress_safe_ports`) and the ports that may be CONNECTed to
  (`egress_tls_ports`: every proxied port but tcp/80, the plain-HTTP port whose
  clients send `GET http://...` through a proxy, never CONNECT);
- `http_access deny !egress_safe_ports`, `http_access deny CONNECT !egress_tls_ports`,
  one `http_access allow <zone> <service> <ports>` per (grant, zone, service), and
  `http_access deny all` last;
- with `proxy.tls: peek`, the TLS server-name check: one `ssl::server_name` ACL per
  service (`egress_n_<service>`), `ssl_bump peek` at step 1, `ssl_bump splice` per
  (grant, zone, service) when both the CONNECT name and the TLS SNI belong to the
  service, `ssl_bump terminate all`.

What Squid 5.7 does with the lists, found by experiment with `squid -k parse`
(tests/test_squid.py holds the experiments as tests):

- two entries of one dstdomain (or ssl::server_name) ACL that overlap are never both
  kept: `.example.com` then `www.example.com` is a WARNING and the second is ignored;
  `www.example.com` then `.example.com` (the narrower first) is FATAL ("Bungled");
  `example.com` with `.example.com` is FATAL in either order. No order makes an
  overlap safe, so overlaps are removed here: a `domain` becomes `.name` (the apex and
  every subdomain), and a name under (or equal to) another domain of the same list is
  dropped. Entries are sorted by their labels read from the right (`com`, `example`,
  `www`), parents before children, which also groups a site's names together;
- the same holds for `src`: `10.0.0.0/8` with `10.1.0.0/16` in one ACL drops one of
  them (which one depends on the order). Zones are written as collapsed CIDRs;
- a line is read in pieces of 8191 bytes: the rest of a longer line is read as a new
  directive. Long ACLs are therefore split over several `acl` lines of the same name
  (Squid adds them up), and comments are cut short, so that no policy text, however
  long, can start a directive;
- an ACL name is at most 62 characters (Squid refuses 64 and more, and accepts 63 in
  `acl` but then cannot find it in `http_access`): longer derived names are shortened
  and given a hash of the full name, so they stay unique.

Nothing here reads files or the network: the same flows give the same bytes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from netaddr import IPSet

from egress import instants
from egress.flows import Flow, StageFlows, policy_index
from egress.intervals import merge, subtract
from egress.model import Policy, PortRange, Stage
from egress.names import nearest_domain

FILENAME = "squid-egress.conf"

# Squid 5.7 says "ACL name ... too long, max 63 characters supported", yet a 63-character
# name, once defined, is "not found" by http_access (FATAL): 62 is the real limit.
ACL_NAME_MAX = 62
LINE_BUDGET = 1000  # characters of values per acl line, far below Squid's 8191-byte reads
COMMENT_MAX = 300  # characters of policy text per comment line
HTTP_PORT = 80  # plain HTTP through a proxy is `GET http://...`, never CONNECT

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")  # policy names, or port lists joined by _
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME_RE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+\Z")


# -- names ----------------------------------------------------------------------------


def acl_name(kind: str, name: str) -> str:
    """`egress_<kind>_<name>`, at most 62 characters, unique per (kind, name).

    `kind` is one letter: z (zone), s (service, dstdomain), n (service, TLS server
    name), p (port set). The prefix keeps them apart from the ACLs of the squid.conf
    that includes the file (`localnet`, `SSL_ports`, ...).
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"{name!r} cannot be part of a Squid ACL name")
    full = f"egress_{kind}_{name}"
    if len(full) <= ACL_NAME_MAX:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{full[: ACL_NAME_MAX - len(digest) - 1]}_{digest}"


SAFE_PORTS = "egress_safe_ports"
TLS_PORTS = "egress_tls_ports"
TLS_STEP1 = "egress_tls_step1"


# -- values ---------------------------------------------------------------------------


def _sort_key(entry: str) -> tuple[str, bool]:
    """Labels from the right, joined by NUL (below every name character), so that a
    parent sorts before its children and `example` before `example-x`, as tuples of
    labels would, only faster."""
    return "\0".join(reversed(entry.lstrip(".").split("."))), not entry.startswith(".")


def domain_entries(hosts, domains) -> list[str]:
    """The dstdomain entries of a service: no two overlap, sorted parents first.

    `domain: x` becomes `.x` (x and every name below it); `host: x` stays `x` (exactly
    that name). A host equal to or under a domain of the list is dropped, and so is a
    domain under another domain. Names are lowercased (the loader already refuses
    uppercase). Raises ValueError on anything that is not a DNS name of two labels or
    more, so that a value the validation let through by mistake never reaches Squid.
    """
    names = {_checked_name(d) for d in domains}
    exact = {_checked_name(h) for h in hosts}

    kept = [f".{d}" for d in names if nearest_domain(d, names, strict=True) is None]
    kept += [h for h in exact if nearest_domain(h, names) is None]
    return sorted(kept, key=_sort_key)


def _checked_name(value: str) -> str:
    name = value.lower()
    if not _DNS_NAME_RE.match(name):
        raise ValueError(f"{value!r} is not a host or domain name Squid can match")
    return name


def merged_ports(ports) -> list[tuple[int, int]]:
    """tcp port ranges, sorted and merged (adjacent or overlapping ranges joined)."""
    return list(merge((p.first, p.last) for p in ports if _tcp(p)))


def _tcp(port: PortRange) -> bool:
    if port.proto != "tcp":
        # check.py refuses it (E138); never let a udp port pass for a tcp one
        raise ValueError(f"{port} cannot go through the proxy: it carries tcp only")
    return True


def _port_text(ranges) -> list[str]:
    return [str(a) if a == b else f"{a}-{b}" for a, b in ranges]


def _comment(text) -> str:
    """Policy text made safe for one comment line: printable, one line, bounded."""
    text = str(text)
    if not text.isprintable():  # the usual text is: skip the walk character by character
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    if len(text) > COMMENT_MAX:
        text = text[: COMMENT_MAX - 3] + "..."
    return text


# -- the file -------------------------------------------------------------------------


def _acl_lines(name: str, kind: str, values: list[str], options: str = "") -> list[str]:
    """`acl NAME KIND [OPTIONS] VALUES...`, split so that no line grows long."""
    head = f"acl {name} {kind}" + (f" {options}" if options else "")
    lines: list[str] = []
    chunk: list[str] = []
    size = 0
    for value in values:
        if chunk and size + len(value) + 1 > LINE_BUDGET:
            lines.append(f"{head} {' '.join(chunk)}")
            chunk, size = [], 0
        chunk.append(value)
        size += len(value) + 1
    if chunk:
        lines.append(f"{head} {' '.join(chunk)}")
    return lines


def _header(parts: _Parts, stage: Stage, at: dt.datetime, left_out: Iterable[str]) -> list[str]:
    """The comment lines that open the file: what it is, for which stage and instant,
    how to include it, and the proxied grants left out because they expired
    (`_left_out`)."""
    policy, proxy = parts.policy, parts.policy.proxy
    title = f": {_comment(stage.title)}" if stage.title else ""
    date = f" (stage date {stage.date.isoformat()})" if stage.date else ""
    lines = [
        f"# {FILENAME}: the web-proxy rules of one stage of an egress policy.",
        "# Generated by `egress compile --target squid`: do not edit; change the policy and compile again.",
        f"# policy: {_comment(policy.name)} (egress language {policy.version})",
        f"# stage: {_comment(stage.id)}{title}{date}",
        f"# grants in force at: {instants.show(at)} (--at)",
    ]
    if proxy is not None:
        lines.append(f"# proxy: zone {_comment(proxy.zone)}, port {proxy.port}, tls: {_comment(proxy.tls)}")
    lines += [
        "#",
        "# Include it in squid.conf where the http_access rules go, after the rules of your own",
        "# that must come first (cache manager), and with no http_access line after it: it ends",
        "# with `http_access deny all`. Its ACL names all start with `egress_`.",
    ]
    if proxy is not None and proxy.tls == "peek":
        lines += [
            "#",
            "# tls: peek -- the main squid.conf must provide (see docs/squid.md):",
            "#   http_port <address>:<port> ssl-bump tls-cert=<cert.pem> tls-key=<key.pem> \\",
            "#             generate-host-certificates=off",
            "#   (Squid built with OpenSSL: the squid-openssl package). Traffic is never",
            "#   decrypted: Squid reads the TLS ClientHello (peek), then splices the tunnel when",
            "#   its server name (SNI; without SNI, the CONNECT name) belongs to the service",
            "#   granted, and closes it otherwise. Every CONNECT must then carry TLS.",
            "#   A CONNECT that http_access denies is answered `200 Connection established`, then",
            "#   Squid 5.7 serves its 403 page inside TLS with the port's certificate (it forces",
            "#   this whenever ssl_bump rules exist): the destination is never contacted.",
        ]
    lines += left_out
    return lines


def _left_out(parts: _Parts, expired: Mapping[str, dt.datetime]) -> list[tuple[str, str]]:
    """(grant id, its `# left out` line) of the proxied grants among `expired`, by id."""
    grants = parts.grants_by_id
    return sorted(
        (grant_id, f"# left out: grant {_comment(grant_id)} expired at {instants.show(day, end=True)}")
        for grant_id, day in expired.items() if grant_id in grants and grants[grant_id].via == "proxy"
    )


def _grant_comment(flow: Flow) -> list[str]:
    grant = flow.grant
    reason = _comment(grant.reason or "no reason given")
    lines = [f"# grant {_comment(grant.id)} (stage {_comment(grant.stage)}): {reason}"]
    details = []
    if grant.requested_by:
        details.append(f"requested by {_comment(grant.requested_by)}")
    if grant.approved_by:
        details.append(f"approved by {_comment(grant.approved_by)}")
    if grant.ticket:
        details.append(f"ticket {_comment(grant.ticket)}")
    if grant.expires:
        details.append(f"closes at {instants.show(grant.expires, end=True)}")
    if details:
        lines.append("#   " + "; ".join(details))
    return lines


class _Parts:
    """The pieces of the file that depend on one zone, one service, one port set or one
    grant alone, each rendered once per policy (`PolicyIndex.memo`) and shared by every
    render of it: the file of a stage, and the file of each later period of the stage
    (`egress.bundle.squid_schedule`: 210 renders at 100,000 destinations), differ only by
    which grants are in force, so a render is a header, the parts of what is in force
    joined, and the port lists of the union. Keys hold the objects they stand for (the
    flows of a grant, by identity), never their `id()`: a key cannot outlive its object.
    """

    def __init__(self, policy: Policy):
        self.policy = policy
        self.grants_by_id = policy.grants  # a dict built on each call of the property: once here
        self.zones: dict[str, str] = {}
        self.services: dict[str, tuple[list[str], str, str]] = {}
        self.zone_src: dict[str, IPSet] = {}  # the addresses of each zone, from its flows
        self.service_flow: dict[str, Flow] = {}  # a flow to each service: its names
        self.ports: dict[tuple, tuple[tuple[int, int], ...]] = {}
        self.port_lines: dict[tuple, str] = {}
        self.grants: dict[tuple[Flow, ...], _GrantPart] = {}

    def zone(self, name: str) -> str:
        """The `src` acl lines of a client zone, its networks collapsed."""
        text = self.zones.get(name)
        if text is None:
            zone = self.policy.zones.get(name)
            out = [f"# zone {name}: {_comment(zone.description)}"] if zone is not None and zone.description else []
            cidrs = [str(c) for c in self.zone_src[name].iter_cidrs()]
            if not cidrs:
                raise ValueError(f"zone '{name}' has no address")
            text = self.zones[name] = "\n".join(out + _acl_lines(acl_name("z", name), "src", cidrs))
        return text

    def service(self, name: str) -> tuple[list[str], str, str]:
        """(the dstdomain entries of a proxied service, its `dstdomain` acl lines with
        their comment, its `ssl::server_name` acl lines for tls: peek)."""
        found = self.services.get(name)
        if found is None:
            flow = self.service_flow[name]
            entries = domain_entries(flow.hosts, flow.domains)
            if not entries:
                raise ValueError(f"service '{name}' is proxied but has no host or domain")
            service = self.policy.services.get(name)
            about = []
            if service is not None and service.description:
                about.append(_comment(service.description))
            if service is not None and service.owner:
                about.append(f"owner: {_comment(service.owner)}")
            lines = [f"# service {name}" + (f": {'; '.join(about)}" if about else "")]
            lines += _acl_lines(acl_name("s", name), "dstdomain", entries, "-n")
            server_names = _acl_lines(acl_name("n", name), "ssl::server_name", entries, "--client-requested")
            found = self.services[name] = (entries, "\n".join(lines), "\n".join(server_names))
        return found

    def ranges(self, ports: tuple[PortRange, ...]) -> tuple[tuple[int, int], ...]:
        """A flow's tcp ports as sorted, merged ranges."""
        found = self.ports.get(ports)
        if found is None:
            found = self.ports[ports] = tuple(merged_ports(ports))
        return found

    def port_acl(self, ranges: tuple[tuple[int, int], ...]) -> str:
        """The `port` acl lines of one port set (its name: `acl_name("p", ...)`)."""
        text = self.port_lines.get(ranges)
        if text is None:
            words = _port_text(ranges)
            text = self.port_lines[ranges] = "\n".join(_acl_lines(acl_name("p", "_".join(words)), "port", words))
        return text

    def grant(self, flows: tuple[Flow, ...]) -> _GrantPart:
        """The part of one grant: its proxied flows of the stage, in the stage's order."""
        part = self.grants.get(flows)
        if part is None:
            part = self.grants[flows] = _GrantPart(self, flows)
        return part


class _GrantPart:
    """One grant's share of the file: its `http_access allow` rules (with the grant's
    comment), its `ssl_bump splice` rules, and the zones, services and port sets that
    they name."""

    def __init__(self, parts: _Parts, flows: tuple[Flow, ...]):
        ordered = sorted(flows, key=lambda f: (f.source, f.target))  # the grant id is the same
        self.grant_id = ordered[0].grant.id
        ranges = [parts.ranges(f.ports) for f in ordered]
        for f in ordered:
            parts.zone_src.setdefault(f.source, f.src)  # a zone's flows all have its addresses
            parts.service_flow.setdefault(f.target, f)  # and a service's flows its names
        self.zones = frozenset(f.source for f in ordered)
        self.services = frozenset(f.target for f in ordered)
        self.port_sets = frozenset(ranges)
        rules = [(f, acl_name("z", f.source), acl_name("s", f.target), acl_name("p", "_".join(_port_text(r))))
                 for f, r in zip(ordered, ranges, strict=True)]
        self.http = "\n".join(_grant_comment(ordered[0]) + [f"http_access allow {z} {s} {p}" for _, z, s, p in rules])
        # a port set meets the CONNECT ports (every proxied port but 80) when it holds a
        # port other than 80: every port of the flow is proxied, by definition
        tls = [(f, z, s, p) for (f, z, s, p), r in zip(rules, ranges, strict=True)
               if subtract(r, ((HTTP_PORT, HTTP_PORT),))]
        self.splice = "\n".join(
            [f"# grant {_comment(ordered[0].grant.id)}"]
            + [f"ssl_bump splice {z} {s} {acl_name('n', f.target)} {p}" for f, z, s, p in tls]) if tls else ""


def _parts(policy: Policy) -> _Parts:
    memo = policy_index(policy).memo
    parts = memo.get(__name__)
    if parts is None:
        parts = memo[__name__] = _Parts(policy)
    assert isinstance(parts, _Parts)
    return parts


def _grant_parts(flows: StageFlows, parts: _Parts) -> list[_GrantPart]:
    """The parts of the grants whose flows go through the proxy, by grant id."""
    by_grant: dict[str, list[Flow]] = {}
    for flow in flows.flows:
        if flow.via == "proxy" and flow.direction == "egress":
            group = by_grant.get(flow.grant.id)
            if group is None:
                by_grant[flow.grant.id] = [flow]
            else:
                group.append(flow)
    return [parts.grant(tuple(by_grant[grant_id])) for grant_id in sorted(by_grant)]


class _InForce:
    """The parts of the grants in force (by grant id), the zones, services and port sets
    they name, and the text of those sections, kept up to date as grants leave: a
    section is rewritten only when one of its entries is named by no grant any more."""

    def __init__(self, parts: _Parts, granted: list[_GrantPart]):
        self.parts = parts
        self.granted = {part.grant_id: part for part in granted}
        self.uses: dict[str, Counter] = {"zones": Counter(), "services": Counter(), "port_sets": Counter()}
        for part in granted:
            for kind, used in self.uses.items():
                used.update(getattr(part, kind))
        self._sections()

    def drop(self, grant_ids: Iterable[str]) -> None:
        """The grants `grant_ids` leave (ids not in force are ignored)."""
        changed = False
        for grant_id in grant_ids:
            part = self.granted.pop(grant_id, None)
            if part is None:
                continue
            for kind, used in self.uses.items():
                for key in getattr(part, kind):
                    used[key] -= 1
                    if not used[key]:
                        del used[key]
                        changed = True
        if changed:
            self._sections()

    def _sections(self) -> None:
        parts = self.parts
        self.zones = "\n".join([parts.zone(name) for name in sorted(self.uses["zones"])])
        named = [parts.service(name) for name in sorted(self.uses["services"])]
        self.services = "\n".join(lines for _, lines, _ in named)
        port_sets = sorted(self.uses["port_sets"])
        self.all_ports = merge(r for ranges in port_sets for r in ranges)
        self.tls_ports = subtract(self.all_ports, ((HTTP_PORT, HTTP_PORT),))
        self.server_names = "\n".join(server_names for _, _, server_names in named)
        ports = _acl_lines(SAFE_PORTS, "port", _port_text(self.all_ports))
        if self.tls_ports:
            ports += _acl_lines(TLS_PORTS, "port", _port_text(self.tls_ports))
        self.ports = "\n".join(ports + [parts.port_acl(ranges) for ranges in port_sets])


def render(flows: StageFlows) -> str:
    """The text of `squid-egress.conf` for the proxied flows of one stage."""
    parts = _parts(flows.policy)
    left_out = [line for _, line in _left_out(parts, flows.expired)]
    return _render(parts, flows.stage, flows.at, left_out, _InForce(parts, _grant_parts(flows, parts)))


def render_later(flows: StageFlows, later: Iterable[dt.datetime]) -> Iterator[str]:
    """The file of the same stage at each instant of `later` (ascending, after
    `flows.at`): for each, the text of `render(resolve(policy, stage, instant))`, byte
    for byte, without resolving the stage again.

    The grants in force at a later instant of a stage are those in force at `flows.at`
    minus those whose expiry has come by then (`egress.flows.grants_in_force`: nothing
    else depends on the instant), so each period's grants are the previous period's
    minus the ones expiring at its instant, and each period's file is the header of its
    instant and the shared parts of the grants still in force (`egress.bundle.
    squid_schedule` writes one per closing instant of a proxied grant: 210 at 100,000
    destinations). tests/test_squid.py checks them against full renders.
    """
    parts = _parts(flows.policy)
    in_force = _InForce(parts, _grant_parts(flows, parts))
    left_out = _left_out(parts, flows.expired)
    closing = sorted((g.expires, i, g.id) for i, g in enumerate(flows.grants) if g.expires is not None)
    gone = 0  # closing[:gone] have expired
    previous = flows.at
    for when in later:
        at = instants.moment(when, flows.policy.timezone)
        if at <= previous:
            raise ValueError(f"instants must be ascending and after {instants.iso(previous)}: got {instants.iso(at)}")
        previous = at
        leaving = {}
        while gone < len(closing) and instants.expired(closing[gone][0], at):
            expires, _, grant_id = closing[gone]
            leaving[grant_id] = expires
            gone += 1
        for entry in _left_out(parts, leaving):
            bisect.insort(left_out, entry)
        in_force.drop(leaving)
        yield _render(parts, flows.stage, at, [line for _, line in left_out], in_force)


def _render(parts: _Parts, stage: Stage, at: dt.datetime, left_out: list[str], in_force: _InForce) -> str:
    """The file: the header, then the sections of the grants in force."""
    peek = parts.policy.proxy is not None and parts.policy.proxy.tls == "peek"
    out = _header(parts, stage, at, left_out)
    granted = in_force.granted.values()

    if not granted:
        out += [
            "",
            "# No grant goes through the proxy at this stage: every request is denied.",
        ]
        if peek:
            out += [
                "# (tls: peek) no ssl_bump rule either: with none, Squid answers 403 to the CONNECT",
                "# itself instead of bumping the client to serve its error page inside TLS.",
            ]
        out += ["http_access deny all", ""]
        return "\n".join(out)

    out += ["", "# -- zones: the clients, by source address (networks collapsed, none inside another)", in_force.zones]
    out += [
        "",
        "# -- services: the destinations, by name. `.name` is the name and every name below it;",
        "# -n: no reverse DNS, so a URL written with an IP address never matches a name.",
        in_force.services,
    ]
    out += ["", "# -- ports: every proxied port, those that may be CONNECTed to (not 80), each grant's", in_force.ports]

    out += ["", "# -- access rules"]
    out.append(f"http_access deny !{SAFE_PORTS}")
    out.append(f"http_access deny CONNECT !{TLS_PORTS}" if in_force.tls_ports else "http_access deny CONNECT")
    out += [part.http for part in granted]

    if peek:
        out += [
            "",
            "# -- TLS server name (proxy.tls: peek): read the ClientHello without decrypting,",
            "# splice when the SNI (or, without SNI, the CONNECT name) belongs to the service that",
            "# the CONNECT name belongs to, for a zone granted it; close the connection otherwise.",
            in_force.server_names,
        ]
        out.append(f"acl {TLS_STEP1} at_step SslBump1")
        out.append(f"ssl_bump peek {TLS_STEP1}")
        out += [part.splice for part in granted if part.splice]  # not tcp/80: never CONNECTed to
        out.append("ssl_bump terminate all")

    out += ["", "# -- everything else", "http_access deny all", ""]
    return "\n".join(out)

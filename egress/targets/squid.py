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

import hashlib
import re

from egress import instants
from egress.flows import Flow, StageFlows, policy_index
from egress.intervals import intersect, merge, subtract
from egress.model import PortRange
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


def _proxied(flows: StageFlows) -> list[Flow]:
    chosen = [f for f in flows.flows if f.via == "proxy" and f.direction == "egress"]
    return sorted(chosen, key=lambda f: (f.grant.id, f.source, f.target))


def _header(flows: StageFlows) -> list[str]:
    policy, stage, proxy = flows.policy, flows.stage, flows.policy.proxy
    title = f": {_comment(stage.title)}" if stage.title else ""
    date = f" (stage date {stage.date.isoformat()})" if stage.date else ""
    lines = [
        f"# {FILENAME}: the web-proxy rules of one stage of an egress policy.",
        "# Generated by `egress compile --target squid`: do not edit; change the policy and compile again.",
        f"# policy: {_comment(policy.name)} (egress language {policy.version})",
        f"# stage: {_comment(stage.id)}{title}{date}",
        f"# grants in force at: {instants.show(flows.at)} (--at)",
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
    grants = flows.policy.grants  # a dict built on each call: once here, not once per expired grant
    expired = sorted(
        (grant_id, day) for grant_id, day in flows.expired.items()
        if grant_id in grants and grants[grant_id].via == "proxy"
    )
    for grant_id, day in expired:
        lines.append(f"# left out: grant {_comment(grant_id)} expired at {instants.show(day, end=True)}")
    return lines


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


def _zone_acls(flows: StageFlows, zones: dict) -> list[str]:
    """One `src` acl per client zone, its networks collapsed."""
    out = ["", "# -- zones: the clients, by source address (networks collapsed, none inside another)"]
    for zone_name in sorted(zones):
        zone = flows.policy.zones.get(zone_name)
        if zone is not None and zone.description:
            out.append(f"# zone {zone_name}: {_comment(zone.description)}")
        cidrs = [str(c) for c in zones[zone_name].iter_cidrs()]
        if not cidrs:
            raise ValueError(f"zone '{zone_name}' has no address")
        out += _acl_lines(acl_name("z", zone_name), "src", cidrs)
    return out


def _service_acls(flows: StageFlows, services: dict) -> tuple[dict[str, list[str]], list[str]]:
    """(the dstdomain entries of each proxied service, the acl lines that declare them)."""
    out = [
        "",
        "# -- services: the destinations, by name. `.name` is the name and every name below it;",
        "# -n: no reverse DNS, so a URL written with an IP address never matches a name.",
    ]
    entries = {}
    # the entries of a service depend on its names only: computed once per policy, not
    # once per stage and per Squid period (`egress.bundle.squid_schedule` renders many)
    known = policy_index(flows.policy).memo.setdefault(__name__, {})
    assert isinstance(known, dict)
    for service_name in sorted(services):
        flow = services[service_name]
        names = (flow.hosts, flow.domains)
        if names not in known:
            known[names] = domain_entries(flow.hosts, flow.domains)
        entries[service_name] = list(known[names])
        if not entries[service_name]:
            raise ValueError(f"service '{service_name}' is proxied but has no host or domain")
        service = flows.policy.services.get(service_name)
        about = []
        if service is not None and service.description:
            about.append(_comment(service.description))
        if service is not None and service.owner:
            about.append(f"owner: {_comment(service.owner)}")
        out.append(f"# service {service_name}" + (f": {'; '.join(about)}" if about else ""))
        out += _acl_lines(acl_name("s", service_name), "dstdomain", entries[service_name], "-n")
    return entries, out


def render(flows: StageFlows) -> str:
    """The text of `squid-egress.conf` for the proxied flows of one stage."""
    proxied = _proxied(flows)
    peek = flows.policy.proxy is not None and flows.policy.proxy.tls == "peek"
    out = _header(flows)

    if not proxied:
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

    zones = {f.source: f.src for f in proxied}
    services = {f.target: f for f in proxied}
    port_sets = {f: merged_ports(f.ports) for f in proxied}
    all_ports = merged_ports(p for f in proxied for p in f.ports)
    tls_ports = subtract(tuple(all_ports), ((HTTP_PORT, HTTP_PORT),))

    out += _zone_acls(flows, zones)
    entries, service_lines = _service_acls(flows, services)
    out += service_lines

    out += ["", "# -- ports: every proxied port, those that may be CONNECTed to (not 80), each grant's"]
    out += _acl_lines(SAFE_PORTS, "port", _port_text(all_ports))
    if tls_ports:
        out += _acl_lines(TLS_PORTS, "port", _port_text(tls_ports))
    port_acl = {}
    for ranges in sorted(set(map(tuple, port_sets.values()))):
        text = _port_text(ranges)
        port_acl[ranges] = acl_name("p", "_".join(text))
        out += _acl_lines(port_acl[ranges], "port", text)

    out += ["", "# -- access rules"]
    out.append(f"http_access deny !{SAFE_PORTS}")
    out.append(f"http_access deny CONNECT !{TLS_PORTS}" if tls_ports else "http_access deny CONNECT")
    rules = []
    last_grant = None
    for flow in proxied:
        if flow.grant.id != last_grant:
            out += _grant_comment(flow)
            last_grant = flow.grant.id
        rule = (acl_name("z", flow.source), acl_name("s", flow.target), port_acl[tuple(port_sets[flow])])
        rules.append((flow, rule))
        out.append("http_access allow " + " ".join(rule))

    if peek:
        out += [
            "",
            "# -- TLS server name (proxy.tls: peek): read the ClientHello without decrypting,",
            "# splice when the SNI (or, without SNI, the CONNECT name) belongs to the service that",
            "# the CONNECT name belongs to, for a zone granted it; close the connection otherwise.",
        ]
        for service_name in sorted(services):
            name = acl_name("n", service_name)
            out += _acl_lines(name, "ssl::server_name", entries[service_name], "--client-requested")
        out.append(f"acl {TLS_STEP1} at_step SslBump1")
        out.append(f"ssl_bump peek {TLS_STEP1}")
        granted = [(flow, rule) for flow, rule in rules if intersect(tuple(port_sets[flow]), tls_ports)]
        last_grant = None
        for flow, (zone_acl, service_acl, ports_acl) in granted:  # not tcp/80: never CONNECTed to
            if flow.grant.id != last_grant:
                out.append(f"# grant {_comment(flow.grant.id)}")
                last_grant = flow.grant.id
            out.append(f"ssl_bump splice {zone_acl} {service_acl} {acl_name('n', flow.target)} {ports_acl}")
        out.append("ssl_bump terminate all")

    out += ["", "# -- everything else", "http_access deny all", ""]
    return "\n".join(out)

"""`egress resolve`: the addresses of the hosts of direct grants, pinned in the lock file.

The firewall matches addresses, so a direct grant to a `host:` needs that host's
addresses; compile never asks DNS (same inputs, same bytes), so they are looked up
here, once, by a person who reviews and commits the result. The lock file sits beside
the policy (`policy.yaml` -> `policy.lock.yaml`):

    egress-lock: 1
    policy: chu-rennes-2023
    resolved: "2023-07-02T17:45:00Z"
    resolver: 127.0.0.1:53
    hosts:
      mx1.example-op.fr: [203.0.113.10, "2001:db8:113::10"]

Hosts are sorted, each host's addresses sorted (IPv4 first), so a new lookup shows in
review as exactly the addresses that changed. A lock file whose hosts and addresses
are unchanged is left as it is (its `resolved` time too).

Only a real answer may change a host's entry: addresses, NODATA (the name has none of
that family) or NXDOMAIN (no such name). A failure to get an answer (SERVFAIL, REFUSED,
a timeout, no server reachable) for either family is not "no address": taking it as one
would silently drop, say, every pinned IPv6 address when the resolver has a bad day. So
any failure, like a host with no address at all, leaves the lock file untouched and is
reported with the host and the family.

An answer is not taken on trust either: an address that a lock file may not hold
(special space such as loopback, private-use or link-local, see `egress.special`, or an
address inside one of the policy's zones: what a poisoned or rebinding resolver would
return) is a failure too, so the lock file is never replaced by one that `validate`
refuses (E145).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.resolver
from netaddr import IPNetwork

from egress.atomic import write_atomically
from egress.load import lock_path
from egress.model import INTERNET, Policy
from egress.special import not_internet

FAMILIES = (("A", "IPv4"), ("AAAA", "IPv6"))
"""The record types asked for each host, with the family each one answers for."""


@dataclass(frozen=True)
class Failure:
    """Why a host cannot be pinned: one family got no real answer (`family` is
    `IPv4 (A)` or `IPv6 (AAAA)`), or the answers (`family` None) hold no address or
    one that no lock entry may be."""

    host: str
    family: str | None
    reason: str

    def __str__(self) -> str:
        if self.family is None:
            return f"{self.host}: {self.reason}"
        return f"{self.host}: {self.family} lookup failed ({self.reason})"


@dataclass(frozen=True)
class Resolution:
    addresses: dict[str, list[str]]  # host -> sorted addresses, for hosts that resolved fully
    failures: list[Failure]  # in host order; non-empty means the lock file must not change


def hosts_to_pin(policy: Policy) -> list[str]:
    """The hosts whose addresses the firewall needs: those of direct grants."""
    hosts: set[str] = set()
    for stage in policy.stages:
        for grant in stage.grants:
            kind = policy.direction(grant)
            if kind is None or grant.via != "direct":
                continue
            names = grant.targets if kind == "egress" else [s for s in grant.sources if s != INTERNET]
            for name in names:
                hosts.update(d.value for d in policy.services[name].of_kind("host"))
    return sorted(hosts)


def make_resolver(nameserver: str | None, timeout: float = 3.0) -> dns.resolver.Resolver:
    """The system resolver, or the one at `ADDR[:PORT]` (`[v6]:PORT` for IPv6 with a port)."""
    if nameserver is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        address, port = parse_nameserver(nameserver)
        resolver.nameservers = [address]
        resolver.port = port
    resolver.lifetime = timeout
    return resolver


def parse_nameserver(value: str) -> tuple[str, int]:
    """`192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`."""
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # ValueError if not an address
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


class _NoRealAnswer(Exception):
    """The question got no answer that says anything about the name."""


def _ask(resolver: dns.resolver.Resolver, host: str, rdtype: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of one family: `[]` for NODATA or NXDOMAIN (real answers), else
    `_NoRealAnswer` saying what went wrong."""
    try:
        answer = resolver.resolve(host, rdtype, search=False)
    except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
        return []
    except dns.resolver.NoNameservers as err:
        raise _NoRealAnswer(_servers_said(err)) from None
    except dns.exception.Timeout:
        raise _NoRealAnswer(f"no answer within {resolver.lifetime:g} s") from None
    except dns.exception.DNSException as err:
        raise _NoRealAnswer(str(err) or type(err).__name__) from None
    return [ipaddress.ip_address(record.address) for record in answer]


def _servers_said(err: dns.resolver.NoNameservers) -> str:
    """`SERVFAIL from 127.0.0.1:53`, from what dnspython records of each server."""
    said = []
    for server, _tcp, _port, error, _response in err.kwargs.get("errors") or ():
        where = server.split(":", 1)[-1].replace("@", ":")  # "Do53:127.0.0.1@53" -> "127.0.0.1:53"
        said.append(f"{error} from {where}" if isinstance(error, str) else f"{where}: {error}")
    return "; ".join(dict.fromkeys(said)) or "every server failed"


def lookup(hosts: list[str], resolver: dns.resolver.Resolver, zones: tuple[tuple[str, IPNetwork], ...] = ()) -> Resolution:
    """Ask A and AAAA for each host; a host is pinned only if both got a real answer
    and every address is one a lock file may hold (outside special space and `zones`,
    pairs of zone name and network)."""
    addresses: dict[str, list[str]] = {}
    failures: list[Failure] = []
    for host in hosts:
        found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        failed = False
        for rdtype, family in FAMILIES:
            try:
                found.update(_ask(resolver, host, rdtype))
            except _NoRealAnswer as err:
                failures.append(Failure(host, f"{family} ({rdtype})", str(err)))
                failed = True
        ordered = sorted(found, key=lambda a: (a.version, a))
        refused = [why for why in (_not_pinnable(a, zones) for a in ordered) if why]
        if refused:
            failures.append(Failure(host, None, "; ".join(refused) + "; a lock entry is a public unicast address"))
            continue
        if failed:
            continue
        if ordered:
            addresses[host] = [str(a) for a in ordered]
        else:
            failures.append(Failure(host, None, "no address (neither A nor AAAA records)"))
    return Resolution(addresses, failures)


def _not_pinnable(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                  zones: tuple[tuple[str, IPNetwork], ...]) -> str | None:
    """Why the answer `address` may not be pinned, or None."""
    special = not_internet(address)
    if special is not None:
        return f"answered {address}, in the {special.what} range {special.network} ({special.rfc})"
    inside = sorted(name for name, network in zones if str(address) in network)
    if inside:
        return f"answered {address}, inside zone '{inside[0]}'"
    return None


def zone_networks(policy: Policy) -> tuple[tuple[str, IPNetwork], ...]:
    """The policy's zones as (name, network) pairs, for `lookup`."""
    return tuple((zone.name, network.to_netaddr()) for zone in policy.zones.values() for network in zone.addresses)


def render_lock(policy_name: str, addresses: dict[str, list[str]], resolver_name: str, when: dt.datetime) -> str:
    lines = [
        "# egress lock file: pinned addresses of the hosts of direct grants.",
        "# Written by `egress resolve`; review and commit it with the policy.",
        "egress-lock: 1",
        f"policy: {policy_name}",
        f'resolved: "{when.strftime("%Y-%m-%dT%H:%M:%SZ")}"',
        f'resolver: "{resolver_name}"',
        "hosts:" if addresses else "hosts: {}",
    ]
    for host in sorted(addresses):
        lines.append(f"  {host}:")
        lines.extend(f'    - "{a}"' for a in addresses[host])
    return "\n".join(lines) + "\n"


def update_lock(policy: Policy, resolution: Resolution, resolver_name: str, now: dt.datetime) -> tuple[str, bool]:
    """Write the lock file unless nothing changed: `(path, written)`."""
    path = lock_path(policy.path)
    current = {h: {str(a.ip) for a in nets} for h, nets in (policy.lock.hosts.items() if policy.lock else ())}
    if policy.lock and current == {h: set(a) for h, a in resolution.addresses.items()}:
        return path, False
    write_atomically(path, render_lock(policy.name, resolution.addresses, resolver_name, now))
    return path, True

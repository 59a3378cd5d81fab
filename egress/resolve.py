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
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass

import dns.exception
import dns.resolver

from egress.check import direction
from egress.load import lock_path
from egress.model import INTERNET, Policy


@dataclass(frozen=True)
class Resolution:
    addresses: dict[str, list[str]]  # host -> sorted addresses
    failures: dict[str, str]  # host -> why it did not resolve


def hosts_to_pin(policy: Policy) -> list[str]:
    """The hosts whose addresses the firewall needs: those of direct grants."""
    hosts: set[str] = set()
    for stage in policy.stages:
        for grant in stage.grants:
            kind = direction(policy, grant)
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


def lookup(hosts: list[str], resolver: dns.resolver.Resolver) -> Resolution:
    addresses: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    for host in hosts:
        found: set[ipaddress._BaseAddress] = set()
        errors = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = resolver.resolve(host, rdtype, search=False)
                found.update(ipaddress.ip_address(r.address) for r in answer)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN) as err:
                errors.append(type(err).__name__)
            except dns.exception.DNSException as err:
                errors.append(str(err) or type(err).__name__)
        if found:
            addresses[host] = [str(a) for a in sorted(found, key=lambda a: (a.version, a))]
        else:
            failures[host] = "; ".join(dict.fromkeys(errors)) or "no address"
    return Resolution(addresses, failures)


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


def write_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".egress-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def update_lock(policy: Policy, resolution: Resolution, resolver_name: str, now: dt.datetime) -> tuple[str, bool]:
    """Write the lock file unless nothing changed: `(path, written)`."""
    path = lock_path(policy.path)
    current = {h: {str(a.ip) for a in nets} for h, nets in (policy.lock.hosts.items() if policy.lock else ())}
    if policy.lock and current == {h: set(a) for h, a in resolution.addresses.items()}:
        return path, False
    write_atomically(path, render_lock(policy.name, resolution.addresses, resolver_name, now))
    return path, True

"""Squid's access.log in its native format (`access_log ... squid`, the default):

    1796131140.123     12 10.100.0.10 TCP_DENIED/403 3900 CONNECT www.example.org:443 - HIER_NONE/- text/html
    1796131141.456    230 10.100.0.10 TCP_TUNNEL/200 5120 CONNECT www.ameli.fr:443 - HIER_DIRECT/192.0.2.7 -
    1796131142.789     15 10.100.0.10 TCP_MISS/200 812 GET http://crl.example.org/ca.crl - HIER_DIRECT/192.0.2.9 -

time, elapsed ms, client, action/status, bytes, method, URL, user, hierarchy/peer, type.
A `TCP_DENIED` line is a refusal of the proxy (for `egress blocked`); any other line is
a request the rules let through (for `egress usage`), whatever the origin answered. The
destination is the name asked: `host:port` of a CONNECT, the host and port (80 for
http, 443 for https, 21 for ftp, unless given) of a URL. Names are lowercased.
"""

from __future__ import annotations

import re

from egress.observe.clock import epoch
from egress.observe.observations import FileReport, Parsed

_LINE = re.compile(r"\s*\d{9,11}\.\d{3}\s+-?\d+ \S+ [A-Z_]+/\d{3} -?\d+ [A-Z_-]+ \S")
CACHE = 65536
"""At most this many (method, URL) -> (host, port) kept per file: URLs with paths rarely
repeat, and memory must not grow with lines."""
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}


def sniff(line: str) -> bool:
    return bool(_LINE.match(line))


def clock(reference: float):
    return epoch


def target(method: str, url: str) -> tuple[str, int] | None:
    """(host, port) that a request asked for, or None if the URL has no host."""
    if method == "CONNECT":
        authority, port = url, None
    else:
        s = url.find("://")
        if s < 0:
            return None
        port = DEFAULT_PORTS.get(url[:s].lower())
        authority = url[s + 3:]
        end = authority.find("/")
        if end >= 0:
            authority = authority[:end]
        at = authority.rfind("@")
        if at >= 0:
            authority = authority[at + 1:]
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return None
        host, rest = authority[1:close], authority[close + 1:]
    else:
        host, _, rest = authority.partition(":")
        rest = ":" + rest if _ else ""
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit():
            return None
        port = int(rest[1:])
    if not host or port is None or not 0 < port < 65536:
        return None
    return host.lower().rstrip("."), port


def read(lines, policy_prefix: str, report: FileReport, parsed: Parsed, proxy_allowed: bool = False) -> None:
    """Add the refused requests (`TCP_DENIED`) to `parsed`; the allowed ones too when
    `proxy_allowed`."""
    requests = parsed.requests
    targets: dict[tuple[str, str], tuple[str, int] | None] = {}  # (method, url) -> target: they repeat
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            parts = line.split(None, 9)
            if len(parts) < 10:  # a native line has 10 fields: fewer is a line cut short
                if line.strip():
                    report.bad_line(number)
                continue
            action = parts[3]
            if "/" not in action or not parts[0][:1].isdigit():
                report.bad_line(number)
                continue
            allowed = "DENIED" not in action
            if allowed and not proxy_allowed:
                report.other += 1
                continue
            asked = (parts[5], parts[6])
            if asked in targets:
                found = targets[asked]
            else:
                found = target(*asked)
                if len(targets) < CACHE:
                    targets[asked] = found
            if found is None:
                report.bad_line(number)
                continue
            if allowed:
                report.allowed += 1
            else:
                report.refusals += 1
            key = (parts[2], found[0], found[1], allowed)
            seen = requests.get(key)
            if seen is None:
                requests[key] = [1, parts[0], parts[0]]
            else:
                seen[0] += 1
                seen[2] = parts[0]
    finally:
        report.lines = number

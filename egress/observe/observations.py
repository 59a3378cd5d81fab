"""Observations: what the logs say, aggregated while they stream.

Every parser turns the lines of one file into three tables keyed by what makes a flow
distinct, never by line: firewall denials `(source, destination, protocol, port)`, proxy
requests `(client, host, port, allowed)`, and resolver answers `address -> {name: count}`.
A table entry holds the hits and the raw first and last timestamps; the times are parsed
when the file is merged (`Observations.merge`), two per entry, not one per line. So memory
grows with the number of distinct flows, and the cost of a line is a few string searches.

Addresses are made canonical at the merge (the kernel writes IPv6 addresses with every
zero, `fd12:0000:...`), once per distinct address; an entry whose address does not parse
(a line cut in the middle of it) counts as bad lines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

Table = dict
"""key -> [hits, first raw time, last raw time]. Ports of denials are kept as the text of
the line (`"443"`) and made integers at the merge, once per distinct flow."""


@dataclass
class FileReport:
    """What one file held: how many lines of each kind, the first bad line, the prefixes
    of other policies (their lines are ignored), and whether it ended early."""

    name: str
    format: str
    lines: int = 0
    denials: int = 0
    refusals: int = 0  # proxy requests refused (TCP_DENIED)
    allowed: int = 0  # proxy requests let through (read for usage only)
    answers: int = 0
    other: int = 0
    bad: int = 0
    first_bad: int | None = None
    foreign: dict[str, int] = field(default_factory=dict)
    truncated: str | None = None

    def bad_line(self, number: int, count: int = 1) -> None:
        self.bad += count
        if self.first_bad is None or number < self.first_bad:
            self.first_bad = number

    def as_json(self) -> dict:
        return {
            "file": self.name,
            "format": self.format,
            "lines": self.lines,
            "denials": self.denials,
            "proxy_refusals": self.refusals,
            "proxy_allowed": self.allowed,
            "dns_answers": self.answers,
            "other": self.other,
            "bad": self.bad,
            "first_bad_line": self.first_bad,
            "other_policies": dict(sorted(self.foreign.items())),
            "truncated": self.truncated,
        }


@dataclass
class Seen:
    """Hits of one distinct flow, and when it was first and last seen (epoch seconds)."""

    hits: int
    first: float | None
    last: float | None

    def add(self, hits: int, first: float | None, last: float | None) -> None:
        self.hits += hits
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last


@dataclass
class Parsed:
    """The tables of one file, with raw times, as a parser returns them."""

    denials: Table = field(default_factory=dict)
    requests: Table = field(default_factory=dict)
    names: dict[str, dict[str, int]] = field(default_factory=dict)


def tally(denials: Table, src: str, dst: str, name: str, port: str | None, when) -> bool:
    """Count one denial of `name` (tcp, udp, icmp, ip/N) in `denials` (hits, first and
    last raw time), keyed by its port for tcp and udp only; False (nothing counted: a bad
    line) for a tcp or udp denial without a port in digits. One place for the syslog and
    the ulogd2 parsers, so that both logs count a flow alike."""
    if name == "tcp" or name == "udp":
        if not port or not port.isdigit():
            return False
    else:
        port = None
    key = (src, dst, name, port)
    seen = denials.get(key)
    if seen is None:
        denials[key] = [1, when, when]
    else:
        seen[0] += 1
        seen[2] = when
    return True


class Observations:
    """Everything read, from every file: the merged tables and the per-file reports."""

    def __init__(self):
        self.denials: dict[tuple, Seen] = {}
        self.requests: dict[tuple, Seen] = {}
        self.names: dict[str, dict[str, int]] = {}
        self.files: list[FileReport] = []
        self._canonical: dict[str, str | None] = {}

    def canonical(self, address: str) -> str | None:
        """`address` in its canonical text, or None if it is not an address."""
        found = self._canonical.get(address, "")
        if found == "":
            try:
                found = str(ipaddress.ip_address(address.strip("[]")))
            except ValueError:
                found = None
            self._canonical[address] = found
        return found

    def merge(self, report: FileReport, parsed: Parsed, clock: Callable[[str], float | None]) -> None:
        """Add one file's tables; `clock` turns its raw times into epoch seconds.

        Once per distinct entry of the file (the hot loop of a file with many distinct
        flows, so written out: no call per entry but the clock's)."""
        self.files.append(report)
        canonical = self._canonical
        parse = self.canonical
        denials = self.denials
        for (src, dst, proto, port), (hits, first, last) in parsed.denials.items():
            a = canonical.get(src, "") or parse(src)
            b = canonical.get(dst, "") or parse(dst)
            if a is None or b is None:
                report.denials -= hits
                report.bad += hits
                continue
            key = (a, b, proto, None if port is None else int(port))
            t0, t1 = clock(first), clock(last)
            seen = denials.get(key)
            if seen is None:
                denials[key] = Seen(hits, t0, t1)
            else:
                seen.add(hits, t0, t1)
        for (client, host, port, allowed), (hits, first, last) in parsed.requests.items():
            a = canonical.get(client, "") or parse(client)
            if a is None:
                if allowed:
                    report.allowed -= hits
                else:
                    report.refusals -= hits
                report.bad += hits
                continue
            _add(self.requests, (a, host, port, allowed), hits, clock(first), clock(last))
        for address, names in parsed.names.items():
            a = canonical.get(address, "") or parse(address)
            if a is None:
                continue
            mine = self.names.setdefault(a, {})
            for name, count in names.items():
                mine[name] = mine.get(name, 0) + count


def _add(table: dict, key: tuple, hits: int, first, last) -> None:
    seen = table.get(key)
    if seen is None:
        table[key] = Seen(hits, first, last)
    else:
        seen.add(hits, first, last)

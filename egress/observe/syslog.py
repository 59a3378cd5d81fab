"""Syslog-style lines: the kernel's log of the firewall's denials, and dnsmasq's log of
its answers, wherever they land (`/var/log/kern.log`, `/var/log/syslog`, `journalctl -k`,
`dmesg`, ulogd2's LOGEMU file, dnsmasq's `log-facility` file). One parser reads both,
since `/var/log/syslog` holds both.

Kernel denials, when the policy has no `firewall.log_group`: the ruleset logs with the
prefix `egress <policy> drop: ` (`egress.targets.nftables.log_prefix`), which the kernel
writes just before `IN=` (ulogd2's LOGEMU file, the same format, adds a space):

    Dec  1 13:19:00 fw1 kernel: [ 812.3] egress chu drop: IN=lan OUT=wan MAC=... SRC=10.100.0.7
        DST=203.0.113.9 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=TCP SPT=40000 DPT=443 ...

Lines with another policy's prefix are counted and ignored. dnsmasq answers, with
`log-queries`: `reply NAME is ADDR` (also `cached`, `config` and hosts-file answers);
they only name the addresses of denials. A name reached through a CNAME chain is
recorded under the name the client asked. Every other line of the file (other programs,
other kernel messages) is `other`, not bad; a line with the prefix but without its
fields, or with binary garbage, is bad.
"""

from __future__ import annotations

import re

from egress.observe.clock import syslog_time
from egress.observe.observations import FileReport, Parsed, tally

PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "ICMP": "icmp", "ICMPv6": "icmpv6"}
ANSWERS = ("reply", "cached", "config")

_LINE = re.compile(
    r"\s*(?:[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d (?:\S+ )?\S+?:"  # Dec  1 13:19:00 [host] prog[pid]:
    r"|[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d \S+ egress \S+ drop: "  # ulogd2's LOGEMU: no program name
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ \S+?:"  # 2026-12-01T13:19:00.1+00:00 host prog:
    r"|\[\s*\d+\.\d+\] |\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d \d{4}\] "  # dmesg, dmesg -T
    r"|dnsmasq(?:\[\d+\])?: )"  # dnsmasq --log-facility=- (no time)
)


def sniff(line: str) -> bool:
    return bool(_LINE.match(line))


def clock(reference: float):
    """Raw stamp -> epoch seconds, each distinct stamp parsed once."""
    cache: dict[str, float | None] = {}

    def parse(raw: str | None) -> float | None:
        if raw is None:
            return None
        found = cache.get(raw, "")
        if found == "":
            found = cache[raw] = syslog_time(raw, reference)
        return found  # type: ignore[return-value]

    return parse


def _stamp(line: str, end: int) -> str:
    """The time at the start of a line (before `end`), alone, so that equal times are
    equal strings (parsed once each: `clock`)."""
    if line[:1].isdigit():
        return line[:line.find(" ", 0, end)]
    if line[:1] == "[":
        return line[:line.find("]", 0, end) + 1]
    return line[:15]


def _answer(line: str, k: int, names: dict, head: str | None, report: FileReport) -> str | None:
    """Record a dnsmasq answer (`reply NAME is ADDR`) of a line where `dnsmasq` is at
    `k`; return the name that an open CNAME chain started from."""
    m = line.find(": ", k)
    parts = line[m + 2:].split() if m >= 0 else []
    if len(parts) == 4 and parts[2] == "is" and (parts[0] in ANSWERS or parts[0].startswith("/")):
        asked, address = parts[1].lower().rstrip("."), parts[3]
        if address == "<CNAME>":
            report.other += 1
            return head or asked
        if address[0].isalnum() and ("." in address or ":" in address) and not address.startswith("NODATA"):
            table = names.setdefault(address, {})
            name = head or asked
            table[name] = table.get(name, 0) + 1
            report.answers += 1
            return head
    elif parts and parts[0].startswith("query["):
        head = None
    report.other += 1
    return head


def read(lines, policy_prefix: str, report: FileReport, parsed: Parsed, proxy_allowed: bool = False) -> None:
    """Add the denials of the policy whose log prefix is `policy_prefix`, and dnsmasq's
    answers, to `parsed`."""
    denials, names = parsed.denials, parsed.names
    foreign = report.foreign
    head = None  # the name a CNAME chain started from
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            i = line.find(" drop: ")
            if i >= 0 and (line.startswith("IN=", i + 7) or line.startswith(" IN=", i + 7)):
                j = line.rfind("egress ", 0, i)
                if j < 0:
                    report.other += 1
                    continue
                if i + 7 - j != len(policy_prefix) or not line.startswith(policy_prefix, j):
                    policy = line[j + 7:i]
                    foreign[policy] = foreign.get(policy, 0) + 1
                    continue
                a = line.find(" SRC=", i)
                b = line.find(" DST=", a)
                c = line.find(" PROTO=", b)
                if a < 0 or b < 0 or c < 0:
                    report.bad_line(number)
                    continue
                src = line[a + 5:line.find(" ", a + 5)]
                dst = line[b + 5:line.find(" ", b + 5)]
                end = line.find(" ", c + 7)
                proto = line[c + 7:end] if end >= 0 else line[c + 7:].rstrip()
                name = PROTOCOLS.get(proto) or f"ip/{proto.lower()}"
                port = None
                if name == "tcp" or name == "udp":
                    d = line.find(" DPT=", c)
                    if d >= 0:
                        end = line.find(" ", d + 5)
                        port = line[d + 5:end] if end >= 0 else line[d + 5:].rstrip()
                when = line[:15] if "A" <= line[0] <= "Z" else _stamp(line, j)  # Dec  1 13:19:00: most lines
                if not tally(denials, src, dst, name, port, when):
                    report.bad_line(number)
                continue
            k = line.find("dnsmasq")
            if k >= 0:
                head = _answer(line, k, names, head, report)
                continue
            if "\ufffd" in line or "\x00" in line or (line.strip() and not _LINE.match(line)):
                report.bad_line(number)
            else:
                report.other += 1
    finally:
        report.lines = number
        report.denials = sum(v[0] for v in denials.values())

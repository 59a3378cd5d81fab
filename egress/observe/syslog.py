"""Syslog-style lines: the kernel's log of the firewall's denials, and dnsmasq's log of
its answers, wherever they land (`/var/log/kern.log`, `/var/log/syslog`, `journalctl -k`,
`dmesg`, ulogd2's LOGEMU file, dnsmasq's `log-facility` file). One parser reads both,
since `/var/log/syslog` holds both.

Kernel denials, when the policy has no `firewall.log_group`: the ruleset logs with the
prefix `egress <policy> drop: ` (`egress.targets.nftables.log_prefix`), which the kernel
writes just before `IN=`:

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
from egress.observe.observations import FileReport, Parsed

PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "ICMP": "icmp", "ICMPv6": "icmpv6"}
ANSWERS = ("reply", "cached", "config")

_LINE = re.compile(
    r"\s*(?:[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d (?:\S+ )?\S+?:"  # Dec  1 13:19:00 [host] prog[pid]:
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ \S+?:"  # 2026-12-01T13:19:00.1+00:00 host prog:
    r"|\[\s*\d+\.\d+\] |\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d \d{4}\] "  # dmesg, dmesg -T
    r"|dnsmasq(?:\[\d+\])?: )"  # dnsmasq --log-facility=- (no time)
)


def sniff(line: str) -> bool:
    return bool(_LINE.match(line))


def clock(reference: float):
    return lambda raw: None if raw is None else syslog_time(raw, reference)


def _value(line: str, key: str, start: int) -> tuple[str | None, int]:
    i = line.find(key, start)
    if i < 0:
        return None, start
    i += len(key)
    j = line.find(" ", i)
    if j < 0:
        return line[i:].rstrip(), len(line)
    return line[i:j], j


def read(lines, policy_prefix: str, report: FileReport, proxy_allowed: bool = False) -> Parsed:
    """Denials of the policy whose log prefix is `policy_prefix`, and dnsmasq answers."""
    parsed = Parsed()
    denials, names = parsed.denials, parsed.names
    foreign = report.foreign
    head = None  # the name a CNAME chain started from
    number = 0
    for number, line in enumerate(lines, 1):
        i = line.find("drop: IN=")
        if i >= 0:
            j = line.rfind("egress ", 0, i)
            if j < 0:
                report.other += 1
                continue
            if line[j:i + 6] != policy_prefix:
                policy = line[j + 7:i - 1]
                foreign[policy] = foreign.get(policy, 0) + 1
                continue
            src, at = _value(line, " SRC=", i)
            dst, at = _value(line, " DST=", at)
            proto, at = _value(line, " PROTO=", at)
            if not src or not dst or not proto:
                report.bad_line(number)
                continue
            name = PROTOCOLS.get(proto) or f"ip/{proto.lower()}"
            if name in ("tcp", "udp"):
                port, _ = _value(line, " DPT=", at)
                if not port or not port.isdigit():
                    report.bad_line(number)
                    continue
                key: tuple[str, str, str, int | None] = (src, dst, name, int(port))
            else:
                key = (src, dst, name, None)
            report.denials += 1
            when = line[:j]
            seen = denials.get(key)
            if seen is None:
                denials[key] = [1, when, when]
            else:
                seen[0] += 1
                seen[2] = when
            continue
        k = line.find("dnsmasq")
        if k >= 0:
            m = line.find(": ", k)
            parts = line[m + 2:].split() if m >= 0 else []
            if len(parts) == 4 and parts[2] == "is" and (parts[0] in ANSWERS or parts[0].startswith("/")):
                asked, address = parts[1].lower().rstrip("."), parts[3]
                if address == "<CNAME>":
                    head = head or asked
                elif address[0].isalnum() and ("." in address or ":" in address) and not address.startswith("NODATA"):
                    name = head or asked
                    table = names.setdefault(address, {})
                    table[name] = table.get(name, 0) + 1
                    report.answers += 1
                    continue
                report.other += 1
                continue
            if parts and parts[0].startswith("query["):
                head = None
            report.other += 1
            continue
        if "\ufffd" in line or "\x00" in line or (line.strip() and not _LINE.match(line)):
            report.bad_line(number)
        else:
            report.other += 1
    report.lines = number
    return parsed

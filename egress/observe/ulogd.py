"""ulogd2 JSON lines: the firewall's denials, as the nftables ruleset sends them to the
policy's `firewall.log_group` and ulogd2's JSON output plugin writes them (one object per
line; `examples/ulogd/ulogd.conf`).

The fields used: `oob.prefix` (`egress <policy> drop: `: the policy's own denials; other
policies' are counted and ignored), `src_ip`, `dest_ip`, `ip.protocol`, `dest_port`, and
`oob.time.sec` for the time. The JSON plugin writes them as `"key": value` separated by
`, `: they are found by string search, which is several times faster than decoding the
whole object; a line that does not have that shape is decoded with `json` instead, and a
line that is not a JSON object with those fields (cut short, garbage) is a bad line.
"""

from __future__ import annotations

import json

from egress.observe.clock import epoch
from egress.observe.observations import FileReport, Parsed, tally

PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_PREFIX = '"oob.prefix": "'
_SRC = '"src_ip": "'
_DST = '"dest_ip": "'
_PROTO = '"ip.protocol": '
_DPORT = '"dest_port": '
_TIME = '"oob.time.sec": '
_NEXT_DST = '", "dest_ip": "'


def sniff(line: str) -> bool:
    text = line.lstrip()
    return text.startswith("{") and ('"oob.prefix"' in text or '"src_ip"' in text or '"dest_ip"' in text)


def clock(reference: float):
    return epoch


def read(lines, policy_prefix: str, report: FileReport, parsed: Parsed, proxy_allowed: bool = False) -> None:
    """Add the denials of the policy whose log prefix is `policy_prefix` to `parsed`.

    The fields are found by position, as the JSON plugin writes them: `oob.prefix` then
    `oob.time.sec` near the start (a line of this policy holds them as one fixed text),
    `ip.protocol` then `dest_port` after them, `src_ip` then `dest_ip` towards the end
    (found from the end). Lines of another shape take `_fields` (string search in any
    order), then `json`."""
    denials = parsed.denials
    head = f'{_PREFIX}{policy_prefix}", {_TIME}'
    skip = len(head)
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            i = line.find(head)
            a = line.rfind(_SRC)
            if i >= 0 and a >= 0 and line.endswith("}\n"):
                e = i + skip
                when = line[e:line.find(",", e)]
                a += 11
                j = line.find('"', a)
                src = line[a:j]
                if line.startswith(_NEXT_DST, j):
                    j += 15
                    dst = line[j:line.find('"', j)]
                else:
                    dst = _text(line, _DST)
                c = line.find(_PROTO, e)
                if c < 0:
                    report.bad_line(number)
                    continue
                c += 15
                proto = line[c:line.find(",", c)]
                d = line.find(_DPORT, c)
                port = line[d + 13:line.find(",", d + 13)] if d >= 0 else None
            else:
                fields = _fields(line)
                if fields is None:
                    if line.strip():
                        report.bad_line(number)
                    continue
                prefix, src, dst, proto, port, when = fields
                if prefix != policy_prefix:
                    _other(prefix, report.foreign, report)
                    continue
            if not src or not dst or not proto:
                report.bad_line(number)
                continue
            if not tally(denials, src, dst, PROTOCOLS.get(proto) or f"ip/{proto}", port, when):
                report.bad_line(number)
    finally:
        report.lines = number
        report.denials = sum(v[0] for v in denials.values())


def _text(line: str, key: str) -> str | None:
    i = line.find(key)
    if i < 0:
        return None
    i += len(key)
    j = line.find('"', i)
    return line[i:j] if j >= 0 else None


def _number(line: str, key: str) -> str | None:
    i = line.find(key)
    if i < 0:
        return None
    i += len(key)
    j = line.find(",", i)
    if j < 0:
        j = line.find("}", i)
    return line[i:j].strip() if j >= 0 else None


def _fields(line: str):
    """(prefix, src, dst, proto, port, time) of a line of any key order, or None: the
    keys found in any order when the line ends like an object, else decoded by `json`."""
    if line.rstrip().endswith("}") and _PREFIX in line and _SRC in line:
        return (_text(line, _PREFIX), _text(line, _SRC), _text(line, _DST), _number(line, _PROTO),
                _number(line, _DPORT), _number(line, _TIME))
    return _decoded(line)


def _other(prefix: str | None, foreign: dict, report: FileReport) -> None:
    if prefix and prefix.startswith("egress ") and prefix.endswith(" drop: "):
        policy = prefix[7:-7]
        foreign[policy] = foreign.get(policy, 0) + 1
    else:
        report.other += 1


def _decoded(line: str):
    """(prefix, src, dst, proto, port, time) from a JSON object line, or None."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not ("src_ip" in obj or "oob.prefix" in obj):
        return None

    def text(key):
        value = obj.get(key)
        return None if value is None else str(value)

    return text("oob.prefix"), text("src_ip"), text("dest_ip"), text("ip.protocol"), text("dest_port"), text("oob.time.sec")

"""Diagnostics: values, not exceptions, so that one run reports every problem of a file.

Every diagnostic has a stable code. E1xx are errors (the policy is invalid: exit 1),
W1xx warnings (reported; fatal only with `--strict`). The catalogue below is the single
source of the reference table in `docs/diagnostics.md` (a test keeps them in step).
Codes are contract: never renumber or reuse one; retire a code by leaving it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"

CATALOGUE: dict[str, tuple[str, str]] = {
    # code: (summary, what to do)
    "E100": ("file cannot be read as a policy", "fix the encoding (UTF-8) or shrink the file"),
    "E101": ("YAML syntax error", "fix the YAML at the position given"),
    "E102": ("document is not a mapping", "start the file with `egress: 1` and `policy: NAME`"),
    "E103": ("document too costly to load", "remove the aliases or split the file"),
    "E104": ("duplicate key in a mapping", "keep one of the two keys"),
    "E105": ("bad include", "include files of the policy's own folder, each once"),
    "E110": ("unknown key", "fix the spelling; unknown keys are never ignored"),
    "E111": ("missing required key", "add the key"),
    "E112": ("wrong type or value", "write the value in the form the message gives"),
    "E113": ("unsupported language version", "write `egress: 1`"),
    "E120": ("bad address", "write an IPv4/IPv6 address or CIDR"),
    "E121": ("CIDR with host bits set", "write the network address the message gives"),
    "E122": ("bad host name", "write lowercase LDH labels (IDN as punycode), no dot at the end"),
    "E123": ("bad domain", "write the domain without `*` or a leading dot"),
    "E124": ("bad port", "write tcp/N, udp/N, tcp/N-M, icmp or icmpv6"),
    "E130": ("undefined zone", "define the zone under `zones:` or fix the name"),
    "E131": ("undefined service", "define the service under `services:` or fix the name"),
    "E132": ("duplicate id", "give each zone, service, stage and grant its own id"),
    "E133": ("bad revoke", "revoke grants of earlier stages, each once"),
    "E134": ("grant direction", "write zones -> services (egress) or internet/services -> zones (ingress)"),
    "E135": ("ports not offered by the service", "use ports the service lists, or add them to it"),
    "E136": ("ingress from internet without ports", "give the grant `ports:`"),
    "E137": ("`via: proxy` without a proxy", "add a `proxy:` block"),
    "E138": ("service cannot go through the proxy", "proxy only host/domain destinations on tcp ports"),
    "E139": ("direct grant to a domain", "use `via: proxy` or list the hosts"),
    "E140": ("host missing from the lock file", "run `egress resolve POLICY` and commit the lock file"),
    "E141": ("grant without a reason", "say why in `reason:` (required from stage 1 on)"),
    "E142": ("bad lock file", "regenerate it with `egress resolve POLICY`"),
    "E143": ("unknown timezone", "write an IANA timezone name such as `Europe/Paris` (or leave `timezone:` out for UTC)"),
    "E144": ("invisible or bidirectional character in a text", "delete the character the message names (retype the text)"),
    "E145": ("lock file address not a public unicast address", "pin the host's public addresses; regenerate with `egress resolve POLICY`"),
    "E146": ("destination in special-purpose space", "remove it: loopback, link-local, multicast, reserved or IPv4-mapped space is never outside the hospital"),
    "E147": ("a zone overlaps the proxy zone", "make the proxy's zone disjoint from every other zone"),
    "E148": ("packet-mark mask not contiguous", "give `firewall.mark_mask` one run of bits, e.g. 0xffff0000"),
    "E149": ("more destination tags than the packet-mark mask numbers", "widen `firewall.mark_mask` to the bits the message gives (bits no other rule uses)"),
    "E150": ("grant left as a draft placeholder", "a person fills in `reason`, `approved_by` and `ticket`"),
    "W101": ("over-broad destination", "list the partner's own networks instead"),
    "W102": ("domain is a public suffix", "name the organisation's domain, not a suffix"),
    "W103": ("zones overlap", "make the zones disjoint, or accept that both zones' grants apply"),
    "W104": ("grant adds nothing", "remove it, or narrow the grant it repeats"),
    "W105": ("grant expired in the last 14 days", "keep it (it is the record of a decision, already out of the rules); revoke it at a later stage to say it stays closed"),
    "W106": ("grant expires soon", "let it lapse, or renew it by a new grant at a new stage with its own approval"),
    "W107": ("service not used", "grant it, or remove it"),
    "W108": ("stages out of date order", "order the stages by date"),
    "W109": ("destination in or over special-purpose space", "keep it only for a partner over a private link or a translation gateway"),
    "W110": ("service address inside a zone", "name that network as a zone; an egress grant to it opens zone-to-zone traffic"),
}


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127]}

ECHO = 80
"""The most characters of a value a message echoes: enough to find it in the file."""
_QUOTED = re.compile(r"(?<!\w)(['\"])((?:\\.|(?!\1)[^\\])*+)\1(?!\w)")
"""A quoted value as `repr` writes it (its own quotes escaped): an opening quote not
after a letter (so not the apostrophe of "policy's"), a closing one not before one."""


def _cut(match: re.Match) -> str:
    quote, value = match.groups()
    return match.group() if len(value) <= ECHO else f"{quote}{value[:ECHO]}…{quote} ({len(value)} characters)"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding. The message is always one line: control characters coming from the
    policy (a key holding a newline, say) are escaped, so output stays one per line; and
    short: a quoted value longer than `ECHO` characters is cut (the one place for it)."""

    path: str
    line: int
    column: int
    code: str
    message: str

    def __post_init__(self):
        object.__setattr__(self, "message", _QUOTED.sub(_cut, self.message.translate(_CONTROL)))

    @property
    def severity(self) -> str:
        return ERROR if self.code.startswith("E") else WARNING

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity} {self.code} {self.message}"


def at(pos, code: str, message: str) -> Diagnostic:
    """A diagnostic at a `Pos` (or any object with path, line and col)."""
    assert code in CATALOGUE, code
    return Diagnostic(pos.path, pos.line, pos.col, code, message)


def has_errors(diagnostics) -> bool:
    return any(d.severity == ERROR for d in diagnostics)

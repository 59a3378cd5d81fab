"""What an `egress.nft` may say: the statements that egress's own generator writes, and
nothing else (an allow-list, read by scope.py after it has split the file into
top-level statements).

Why an allow-list: staying inside `table inet egress` is not enough. A rule in that
table can copy every packet to another host (`dup to`), send it out of another interface
(`fwd to`), hand it to a user-space program (`queue`), take it out of connection
tracking (`notrack`), rewrite its addresses (`snat`, `dnat`, `redirect`, `masquerade`,
`tproxy`), or set the conntrack mark or the packet mark that the host's policy routing
reads (`ct mark set`, `meta mark set 0x...`). A deny-list of such statements misses the
next one nft adds; this module lists what egress writes (egress/targets/nftables.py,
and the deny-all table of nft.py) and refuses everything else, with the line and the
statement.

Top level (after the table checks of scope.py, so `NAME` is in `inet egress`):
`table inet egress [{ BLOCK }]`, `add|create table inet egress [{ BLOCK }]`,
`delete|destroy table inet egress`, `flush|delete|destroy chain|set|map inet egress
NAME`, `add chain inet egress NAME [{ CHAIN }]`, `add set|map inet egress NAME { SET }`,
`add|delete|destroy element inet egress NAME { ELEMENTS }`, `add|insert rule inet
egress NAME RULE`.

- BLOCK: `chain NAME { CHAIN }`, `set NAME { SET }`, `map NAME { SET }`, nothing else
  (no table flags, no flowtable, no objects);
- CHAIN: `type filter hook forward|output priority filter`, `policy drop|accept`
  (scope.fails_closed then requires drop where it counts), then RULEs;
- SET: `type T [. T]... [: verdict]` (T: ipv4_addr, ipv6_addr, inet_proto,
  inet_service, mark), `flags interval|timeout`, `timeout 1d`, `counter`, `elements = {
  ELEMENTS }`;
- ELEMENTS: `VALUE [. VALUE]... [: VERDICT]`, comma-separated; a VALUE is an address,
  prefix or range, a number, a hex mark, a protocol, a conntrack state, an ICMP type or
  a quoted interface name; a VERDICT is `accept`, `drop`, `jump NAME` or `goto NAME`;
- RULE: matches, then statements, in any order, then at most one verdict, then at most
  a `comment "..."`. A match is `SELECTOR [. SELECTOR]...` followed by `vmap @NAME`,
  `vmap { ELEMENTS }`, `@NAME`, `{ VALUES }`, a comparison (`<`, `>`, ...) and a VALUE,
  or a VALUE; a SELECTOR is `ip|ip6 saddr|daddr`, `meta l4proto|nfproto|mark|time`, `th
  dport|sport`, `tcp|udp dport|sport`, `ct state`, `icmp type`, `icmpv6 type`,
  `oifname`, or `meta mark and MASK` (a few more than the generator writes: matches
  only narrow what a rule accepts). The statements are `counter`, `limit
  rate N/second burst N packets`, `log [prefix "..."] [group N]`, and `meta mark set
  meta mark and KEEP [or TAG]`: the one packet-mark write egress makes, which keeps the
  bits outside its scratch mask and writes a tag inside it. KEEP must be the complement
  of one run of bits (the mask, `firewall.mark_mask`), the same in the whole file and
  the same as the mask that the matches read (`meta mark and MASK`), and TAG must lie
  inside the mask: the file can then change no bit of the mark but its scratch bits.

When the generator learns a new statement, add its shape here (and its test in
tests/test_firewall_scope.py); the test that checks every compiled stage against this
list fails until then.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from egress.targets.names import FAMILY, TABLE
from egress.targets.nftables import HOOKS, ICMP_V4, ICMP_V6, ICMP_V6_LOCAL

EXCERPT = 60


class Token(NamedTuple):  # a tuple: 700,000 of them for a large ruleset, made fast
    kind: str  # "word", "string", "{", "}", "end" (newline or ;)
    text: str
    line: int


class ScopeError(ValueError):
    """The file says something egress does not write (message: `line N: why`)."""

    def __init__(self, line: int, why: str):
        super().__init__(f"line {line}: {why}")
        self.line = line
        self.why = why


def excerpt(stmt: list[Token], limit: int = EXCERPT) -> str:
    """A short, printable rendering of `stmt` (a nested block shown as `{ ... }`)."""
    words = []
    for tok in stmt:
        if tok.kind == "{":
            words.append("{ ... }")
            break
        if tok.kind == "end":
            break
        words.append(f'"{tok.text}"' if tok.kind == "string" else tok.text)
    shown = " ".join(words)
    shown = shown if len(shown) <= limit else shown[:limit - 3] + "..."
    return "".join(ch if ch.isprintable() else "?" for ch in shown)


# --------------------------------------------------------------------------- vocabulary

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,255}")
SELECTORS = {
    "ip": ("saddr", "daddr"),
    "ip6": ("saddr", "daddr"),
    "meta": ("l4proto", "nfproto", "mark", "time"),
    "th": ("dport", "sport"),
    "tcp": ("dport", "sport"),
    "udp": ("dport", "sport"),
    "ct": ("state",),
    "icmp": ("type",),
    "icmpv6": ("type",),
}
INTERFACE_SELECTORS = ("oifname",)
COMPARISONS = ("<", ">", "<=", ">=", "==", "!=")
SYMBOLS = ("tcp", "udp", "icmp", "icmpv6", "ipv4", "ipv6", "established", "related", "invalid", "new",
           "untracked", *ICMP_V4, *ICMP_V6, *ICMP_V6_LOCAL)
SET_TYPES = ("ipv4_addr", "ipv6_addr", "inet_proto", "inet_service", "mark")
SET_FLAGS = ("interval", "timeout")
VERDICTS = ("accept", "drop")
_V4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_V6 = r"(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F.]*"
_ATOM = rf"(?:{_V4}|{_V6}|0x[0-9a-fA-F]{{1,8}}|\d{{1,10}}|{'|'.join(sorted(set(SYMBOLS), key=len, reverse=True))})"
_VALUE = rf"(?:{_ATOM}(?:/\d{{1,3}}|-{_ATOM})?|\"[^\"]*\")"
VALUE = re.compile(_VALUE)
_VERDICT = r"(?:accept|drop|(?:jump|goto) [A-Za-z_][A-Za-z0-9_-]{0,255})"
ELEMENT = re.compile(rf"{_VALUE}(?: \. {_VALUE})*(?: : {_VERDICT})?")
HEX = re.compile(r"0x[0-9a-fA-F]{1,8}")
RATE = re.compile(r"\d{1,9}/(?:second|minute)")
TIMEOUT = re.compile(r"\d{1,6}[dhms]")
MASK32 = 0xFFFFFFFF
_REMOVALS = {("delete", "table"), ("destroy", "table"), *((verb, obj) for verb in ("flush", "delete", "destroy")
                                                          for obj in ("chain", "set", "map"))}


def _refuse(tok: Token, what: list[Token], where: str) -> ScopeError:
    return ScopeError(tok.line, f"`{excerpt(what)}`{where}: not something egress writes; refused")


def lines(toks: list[Token]) -> list[list[Token]]:
    """The statements of a block's contents: split at newlines and `;` outside braces.
    A `}` that closes the block before its end (`{ a } b { c }`) is refused here, which
    is what lets `_block` look at the two ends only."""
    result: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for tok in toks:
        kind = tok.kind
        if kind == "end" and depth == 0:
            if current:
                result.append(current)
            current = []
            continue
        if kind == "{":
            depth += 1
        elif kind == "}":
            depth -= 1
            if depth < 0:
                raise ScopeError(tok.line, "a `}` that closes a block before the end of its statement; refused")
        current.append(tok)
    if current:
        result.append(current)
    return result


def _block(stmt: list[Token], at: int) -> list[Token] | None:
    """The contents of the `{ ... }` that starts at stmt[at] and ends the statement, or
    None. The statement is balanced (scope.statements) and the words before `at` hold no
    brace, so the `}` at the end closes the `{` at `at` unless the contents close it
    earlier, which `lines` and `_elements` refuse."""
    if at >= len(stmt) - 1 or stmt[at].kind != "{" or stmt[-1].kind != "}":
        return None
    return stmt[at + 1:-1]


def _words(stmt: list[Token]) -> list[str]:
    return [tok.text if tok.kind == "word" else tok.kind for tok in stmt]


def _is_name(tok: Token | None) -> bool:
    return tok is not None and tok.kind == "word" and NAME.fullmatch(tok.text) is not None


# --------------------------------------------------------------------------- the checker

class Checker:
    """Checks the top-level statements of one file; remembers the packet-mark mask its
    rules use, which must be the same everywhere in the file."""

    def __init__(self) -> None:
        self.mask: int | None = None
        self.mask_line = 0

    # ---- top level

    def statement(self, stmt: list[Token]) -> None:
        words = _words(stmt[:5])
        verb, obj = words[0], words[1] if len(words) > 1 else ""
        name = stmt[4] if len(stmt) > 4 and _is_name(stmt[4]) else None
        body = _block(stmt, 5)
        if verb == "table":
            self._table_tail(stmt, 3)
        elif obj == "table" and verb in ("add", "create"):
            self._table_tail(stmt, 4)
        elif (verb, obj) in _REMOVALS and len(stmt) == (4 if obj == "table" else 5) and (obj == "table" or name):
            return
        elif name and verb == "add" and obj == "chain" and (len(stmt) == 5 or body is not None):
            self.chain(body or [], f" in chain {name.text}")
        elif name and verb == "add" and obj in ("set", "map") and body is not None:
            self.set_body(body, f" in {obj} {name.text}")
        elif name and verb in ("add", "delete", "destroy") and obj == "element" and body is not None:
            self.elements(body, stmt[5])
        elif name and verb in ("add", "insert") and obj == "rule" and len(stmt) > 5:
            self.rule(stmt[5:], f" in chain {name.text}")
        else:
            raise _refuse(stmt[0], stmt, "")

    def _table_tail(self, stmt: list[Token], at: int) -> None:
        if len(stmt) == at:
            return
        body = _block(stmt, at)
        if body is None:
            raise ScopeError(stmt[0].line, f"`{excerpt(stmt)}`: unexpected words after the table's name or block")
        for line in lines(body):
            self.table_item(line)

    def table_item(self, line: list[Token]) -> None:
        """One item of a table block: a chain, a set or a map, with its block."""
        kind = line[0].text if line[0].kind == "word" else ""
        body = _block(line, 2)
        if kind not in ("chain", "set", "map") or not _is_name(line[1] if len(line) > 1 else None) or body is None:
            raise _refuse(line[0], line, f" in table {FAMILY} {TABLE}")
        where = f" in {kind} {line[1].text}"
        if kind == "chain":
            self.chain(body, where)
        else:
            self.set_body(body, where)

    # ---- chains and rules

    def chain(self, body: list[Token], where: str) -> None:
        for line in lines(body):
            words = _words(line)
            if words[0] == "type":
                self._base_chain(line, where)
            elif words[0] == "policy":
                if len(words) != 2 or words[1] not in VERDICTS:
                    raise _refuse(line[0], line, where)
            else:
                self.rule(line, where)

    def _base_chain(self, line: list[Token], where: str) -> None:
        """`type filter hook forward|output priority filter`."""
        words = _words(line)
        if len(words) != 6 or words[1] != "filter" or words[2] != "hook" or words[3] not in HOOKS \
                or words[4] != "priority" or words[5] != "filter":
            raise _refuse(line[0], line, where)

    def rule(self, rule: list[Token], where: str) -> None:
        """Matches and statements, then at most one verdict, then at most a comment."""
        i, n = 0, len(rule)
        verdict = False
        while i < n:
            tok = rule[i]
            word = tok.text if tok.kind == "word" else None
            if word == "comment":
                if i + 2 != n or rule[i + 1].kind != "string":
                    raise _refuse(tok, rule[i:], where)
                return
            if verdict:
                raise ScopeError(tok.line, f"`{excerpt(rule[i:])}`{where}: words after the rule's verdict; refused")
            if word in VERDICTS:
                verdict, i = True, i + 1
            elif word in ("jump", "goto"):
                if not _is_name(rule[i + 1] if i + 1 < n else None):
                    raise _refuse(tok, rule[i:], where)
                verdict, i = True, i + 2
            elif word == "counter":
                i += 1
            elif word == "limit":
                i = self._limit(rule, i, where)
            elif word == "log":
                i = self._log(rule, i)
            elif word == "meta" and i + 2 < n and rule[i + 1].text == "mark" and rule[i + 2].text == "set":
                i = self._mark_set(rule, i, where)
            elif word in SELECTORS or word in INTERFACE_SELECTORS:
                i = self._match(rule, i, where)
            else:
                raise _refuse(tok, rule[i:], where)

    def _limit(self, rule: list[Token], i: int, where: str) -> int:
        """`limit rate N/second burst N packets` (the rate of the drop log)."""
        words = _words(rule[i:i + 6])
        if len(words) == 6 and words[1] == "rate" and RATE.fullmatch(words[2]) and words[3] == "burst" \
                and words[4].isdigit() and words[5] == "packets":
            return i + 6
        raise _refuse(rule[i], rule[i:], where)

    @staticmethod
    def _log(rule: list[Token], i: int) -> int:
        """`log [prefix "..."] [group N]`."""
        i += 1
        if i + 1 < len(rule) and rule[i].text == "prefix" and rule[i + 1].kind == "string":
            i += 2
        if i + 1 < len(rule) and rule[i].text == "group" and rule[i + 1].text.isdigit():
            i += 2
        return i

    def _mark_set(self, rule: list[Token], i: int, where: str) -> int:
        """`meta mark set meta mark and KEEP [or TAG]` (module docstring)."""
        words = _words(rule[i:i + 9])
        if len(words) < 7 or words[3:6] != ["meta", "mark", "and"] or not HEX.fullmatch(words[6]):
            raise _refuse(rule[i], rule[i:], where)
        keep = int(words[6], 16)
        self._use_mask(~keep & MASK32, rule[i], rule[i:], where)
        end = i + 7
        if len(words) >= 9 and words[7] == "or":
            if not HEX.fullmatch(words[8]) or int(words[8], 16) & keep:
                raise ScopeError(rule[i].line, f"`{excerpt(rule[i:])}`{where}: writes mark bits outside "
                                               f"the scratch mask 0x{~keep & MASK32:08x}; refused")
            end = i + 9
        return end

    def _use_mask(self, mask: int, tok: Token, what: list[Token], where: str) -> None:
        low = mask & -mask
        if not mask or (mask + low) & mask & MASK32:  # not one run of bits
            raise ScopeError(tok.line, f"`{excerpt(what)}`{where}: the packet-mark mask 0x{mask:08x} is not one run "
                                       "of bits (firewall.mark_mask); refused")
        if self.mask is None:
            self.mask, self.mask_line = mask, tok.line
        elif mask != self.mask:
            raise ScopeError(tok.line, f"`{excerpt(what)}`{where}: uses the packet-mark mask 0x{mask:08x}, but "
                                       f"line {self.mask_line} uses 0x{self.mask:08x}; refused")

    def _selector(self, rule: list[Token], i: int, where: str) -> int:
        """One selector at rule[i] (`ip daddr`, `meta mark and MASK`, `oifname`...)."""
        word = rule[i].text
        if word in INTERFACE_SELECTORS:
            return i + 1
        field = rule[i + 1].text if i + 1 < len(rule) and rule[i + 1].kind == "word" else None
        if field not in SELECTORS[word]:
            raise _refuse(rule[i], rule[i:], where)
        i += 2
        if word == "meta" and field == "mark" and i < len(rule) and rule[i].text == "and":
            if i + 1 >= len(rule) or not HEX.fullmatch(rule[i + 1].text):
                raise _refuse(rule[i], rule[i:], where)
            self._use_mask(int(rule[i + 1].text, 16), rule[i], rule[i - 2:], where)
            i += 2
        return i

    def _match(self, rule: list[Token], i: int, where: str) -> int:
        """SELECTOR [. SELECTOR]... then what it is compared with."""
        start = i
        i = self._selector(rule, i, where)
        while i + 1 < len(rule) and rule[i].text == "." and rule[i].kind == "word":
            if rule[i + 1].text not in SELECTORS and rule[i + 1].text not in INTERFACE_SELECTORS:
                raise _refuse(rule[i + 1], rule[i + 1:], where)
            i = self._selector(rule, i + 1, where)
        if i >= len(rule):
            raise _refuse(rule[start], rule[start:], where)
        tok = rule[i]
        if tok.kind == "word" and tok.text == "vmap":
            after = rule[i + 1] if i + 1 < len(rule) else tok
            if after.kind == "{":
                return self._anonymous(rule, i + 1)
            if after.kind == "word" and after.text.startswith("@") and NAME.fullmatch(after.text[1:]):
                return i + 2
            raise _refuse(after, rule[i:], where)
        if tok.kind == "word" and tok.text.startswith("@") and NAME.fullmatch(tok.text[1:]):
            return i + 1
        if tok.kind == "{":
            return self._anonymous(rule, i)
        if tok.kind == "word" and tok.text in COMPARISONS:
            i += 1
            tok = rule[i] if i < len(rule) else tok
        if tok.kind == "string" or (tok.kind == "word" and all(VALUE.fullmatch(v) for v in tok.text.split(","))):
            return i + 1
        raise _refuse(tok, rule[start:], where)

    def _anonymous(self, rule: list[Token], i: int) -> int:
        """An anonymous set or verdict map `{ ELEMENTS }` at rule[i]; the index after it."""
        depth = 0
        for j in range(i, len(rule)):
            depth += (rule[j].kind == "{") - (rule[j].kind == "}")
            if depth == 0:
                self.elements(rule[i + 1:j], rule[i])
                return j + 1
        raise ScopeError(rule[i].line, "a `{` that is never closed")  # scope.statements saw to it

    # ---- sets, maps and their elements

    def set_body(self, body: list[Token], where: str) -> None:
        for line in lines(body):
            words = _words(line)
            head = words[0]
            if head == "type" and _set_type(words[1:]):
                continue
            if head == "flags" and len(words) == 2 and all(f in SET_FLAGS for f in words[1].split(",")):
                continue
            if head == "timeout" and len(words) == 2 and TIMEOUT.fullmatch(words[1]):
                continue
            if head == "counter" and len(words) == 1:
                continue
            contents = _block(line, 2) if head == "elements" and len(words) > 2 and words[1] == "=" else None
            if contents is not None:
                self.elements(contents, line[2])
                continue
            raise _refuse(line[0], line, where)

    def elements(self, body: list[Token], opening: Token) -> None:
        """Comma-separated elements (the module docstring's ELEMENTS)."""
        for line, text in _elements(body, opening):
            if not ELEMENT.fullmatch(text):
                shown = text if len(text) <= EXCERPT else text[:EXCERPT - 3] + "..."
                raise ScopeError(line, f"element `{''.join(c if c.isprintable() else '?' for c in shown)}`: "
                                       "not something egress writes (an address, port, protocol or mark, "
                                       "and a jump, goto, accept or drop); refused")


def _set_type(words: list[str]) -> bool:
    """`T [. T]... [: verdict]`."""
    if len(words) >= 2 and words[-2:] == [":", "verdict"]:
        words = words[:-2]
    return bool(words) and len(words) % 2 == 1 and all(w in SET_TYPES for w in words[::2]) \
        and all(w == "." for w in words[1::2])


def _elements(body: list[Token], opening: Token) -> Iterator[tuple[int, str]]:
    """(line, text) of each element of a `{ ... }`: its words joined by one space, split
    at the commas (which nft's scanner leaves stuck to the words)."""
    parts: list[str] = []
    line = opening.line
    for tok in body:
        if tok.kind == "end":
            continue
        if tok.kind == "string":
            parts.append(f'"{tok.text}"')
            continue
        if tok.kind != "word":  # a nested brace: nothing egress writes
            yield tok.line, " ".join([*parts, tok.text])
            return
        text = tok.text
        if "," not in text:
            if not parts:
                line = tok.line
            parts.append(text)
            continue
        pieces = text.split(",")
        for k, piece in enumerate(pieces):
            if piece:
                if not parts:
                    line = tok.line
                parts.append(piece)
            if k < len(pieces) - 1:
                yield line, " ".join(parts)
                parts = []
    if parts:
        yield line, " ".join(parts)
